"""Syntax errors: rule text that does not parse gets the right line, column, message and hint.

The table below is the contract for what a user sees. A rule wrapped by ``in_rule``
sits on line 1 and its body starts at column 26 (``BODY_COLUMN``); columns count
characters from the start of the line, a tab counting as one.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
from language_helpers import AT, BODY_COLUMN, config_error, config_rule, in_rule, rule_error

import leadscore
from leadscore import Engine, LeadscoreError, RuleSyntaxError
from leadscore.language.parser import MAX_NESTING

UNITS = "the units are minutes, hours, days, weeks, months and years"
DAYS = f"did you mean 'days'? ({UNITS})"
SCORING_ITEMS = "'ceiling', 'decay', 'expire', 'floor', 'group', 'notify', 'rule', 'threshold', 'timezone' or '}'"
A_VALUE = "a value such as contact.country or 10"
AFTER_OPERAND = "an operator such as == or +, 'and', 'award', 'decay', 'expire', 'max', 'on', 'or', 'when' or '}'"
AFTER_FIELD = (
    "a comparison such as 'in' or 'matches', an operator such as == or +, '.', '[', 'and', "
    "'award', 'decay', 'expire', 'max', 'on', 'or', 'when' or '}'"
)
AFTER_COMPARISON = "'+', '-', 'and', 'award', 'decay', 'expire', 'max', 'on', 'or', 'when' or '}'"
NESTING = f"the rule text nests more than {MAX_NESTING} levels deep"
NESTING_HINT = "split it into several rules or name parts of it in separate conditions"
LOWERCASE_AND = "keywords are lowercase: write 'and'"
DECAY_HINT = "write: decay 50% every 30 days, or decay none"
TEST_ITEMS = "'activity', 'at', 'contact', 'expect' or '}'"
RULE_CLAUSES = "'award', 'decay', 'expire', 'max', 'on', 'when' or '}'"
ESCAPES_HINT = (
    "write \\\\ for a backslash; the escapes are \\\" \\' \\\\ \\/ \\n \\t \\r \\0 \\uXXXX"
)

# (text, (line, column), message, hint); texts are whole rule files.
FILE_CASES = [
    # ---- text, operators from other languages
    pytest.param(
        in_rule('when contact.country == "CZ award 10'),
        (1, 50),
        'the text that starts with " is not closed on this line',
        'add a closing "',
        id="unclosed-text",
    ),
    pytest.param(
        in_rule("when contact.country == 'CZ award 10"),
        (1, 50),
        "the text that starts with ' is not closed on this line",
        "add a closing '",
        id="unclosed-single-quoted-text",
    ),
    pytest.param(
        'scoring "A" {\n  rule "R" {\n    when contact.city == "Brno\n" award 10\n  }\n}',
        (3, 26),
        'the text that starts with " is not closed on this line',
        'add a closing "',
        id="text-closed-on-the-next-line",
    ),
    pytest.param(
        in_rule('when contact.country = "CZ" award 10'),
        (1, 47),
        "'=' is not an operator",
        "write '==' to compare",
        id="single-equals",
    ),
    pytest.param(
        in_rule("when contact.a == 1 && contact.b == 2 award 10"),
        (1, 46),
        "'&' is not an operator",
        "write 'and'",
        id="double-ampersand",
    ),
    pytest.param(
        in_rule("when contact.a == 1 || contact.b == 2 award 10"),
        (1, 46),
        "'|' is not an operator",
        "write 'or'",
        id="double-bar",
    ),
    pytest.param(
        in_rule("when !contact.vip award 10"),
        (1, BODY_COLUMN + 5),
        "'!' is not an operator",
        "write 'not'",
        id="exclamation-mark",
    ),
    pytest.param(
        in_rule("when contact.a @ 1 award 1"),
        (1, 41),
        f"unexpected character '@'; expected {AFTER_FIELD}",
        None,
        id="unexpected-character",
    ),
    pytest.param(
        in_rule("when contact.vip\u00a0award 1"),
        (1, 42),
        f"unexpected character U+00A0; expected {AFTER_FIELD}",
        None,
        id="non-breaking-space",
    ),
    # ---- braces
    pytest.param(
        'scoring "A" { rule "R" { when contact.vip award 10 }',
        (1, 53),
        f"the text ended early; expected {SCORING_ITEMS}",
        "a closing '}' is missing",
        id="missing-closing-brace-at-the-end",
    ),
    pytest.param(
        'scoring "A" {\n  rule "R" { when contact.vip award 10 }\n\n',
        (2, 41),
        f"the text ended early; expected {SCORING_ITEMS}",
        "a closing '}' is missing",
        id="missing-closing-brace-points-after-the-last-token",
    ),
    pytest.param(
        'scoring "A" { rule "R" { when contact.vip award 10 } } }',
        (1, 56),
        "unexpected '}'; expected the end of the text, 'declare', 'grade', 'persona', 'scoring' or 'test'",
        "there is one '}' too many",
        id="stray-closing-brace",
    ),
    pytest.param(
        'scoring "A" { rule { when contact.vip award 1 } }',
        (1, 20),
        "unexpected '{'; expected text in quotes",
        None,
        id="missing-rule-name",
    ),
    pytest.param(
        "scoring",
        (1, 8),
        "the text ended early; expected text in quotes",
        None,
        id="text-ends-after-a-keyword",
    ),
    # ---- thresholds and clauses
    pytest.param(
        'scoring "A" { threshold "MQL" 100 }',
        (1, 31),
        "unexpected number 100; expected 'at'",
        'a threshold reads: threshold "MQL" at 100',
        id="threshold-without-at",
    ),
    pytest.param(
        in_rule("when contact.vip award 1.5"),
        (1, 50),
        "unexpected '.'; expected 'award', 'decay', 'each', 'expire', 'max', 'on', 'once', 'when' or '}'",
        "only whole numbers are allowed here",
        id="points-with-decimals",
    ),
    pytest.param(
        in_rule("on x award 1 max -2"),
        (1, 43),
        "unexpected '-'; expected a whole number",
        None,
        id="negative-max",
    ),
    # ---- keywords
    pytest.param(
        in_rule('when contact.a == "x" AND contact.b == "y" award 1'),
        (1, 48),
        f"unexpected name 'AND'; expected {AFTER_OPERAND}",
        LOWERCASE_AND,
        id="uppercase-AND-after-text",
    ),
    pytest.param(
        in_rule("when contact.a OR contact.b award 1"),
        (1, 41),
        f"unexpected name 'OR'; expected {AFTER_FIELD}",
        "keywords are lowercase: write 'or'",
        id="uppercase-OR-after-a-field",
    ),
    pytest.param(
        in_rule("when contact.a == 1 AND contact.b == 2 award 10"),
        (1, 46),
        "unexpected name 'AND' after a number",
        LOWERCASE_AND,
        id="uppercase-AND-after-a-number",
    ),
    pytest.param(
        in_rule("when contact.a == 1 AND award 10"),
        (1, 46),
        "unexpected name 'AND' after a number",
        LOWERCASE_AND,
        id="uppercase-AND-after-a-number-then-a-clause",
    ),
    pytest.param(
        in_rule("when NOT contact.vip award 1"),
        (1, 31),
        f"unexpected name 'NOT'; expected {A_VALUE}, or 'not'",
        "keywords are lowercase: write 'not'",
        id="uppercase-NOT",
    ),
    pytest.param(
        'scoring "A" { Rule "R" { when contact.vip award 1 } }',
        (1, 15),
        f"unexpected name 'Rule'; expected {SCORING_ITEMS}",
        "keywords are lowercase: write 'rule'",
        id="capitalised-rule",
    ),
    pytest.param(
        in_rule("when contact.count > 1 award 10"),
        (1, 39),
        "'count' is a keyword and cannot be a field name",
        'write the field name in brackets: contact["count"]',
        id="keyword-field-contact.count",
    ),
    pytest.param(
        in_rule("on page_visit where activity.max > 1 award 10"),
        (1, 55),
        "'max' is a keyword and cannot be a field name",
        'write the field name in brackets: activity["max"]',
        id="keyword-field-activity.max",
    ),
    pytest.param(
        in_rule('when contact.contact == "mail" award 10'),
        (1, 39),
        "'contact' is a keyword and cannot be a field name",
        'write the field name in brackets: contact["contact"]',
        id="keyword-field-contact.contact",
    ),
    pytest.param(
        in_rule("when sum(purchase.min) > 1 award 10"),
        (1, 44),
        "'min' is a keyword and cannot be a field name",
        'write the field name in brackets: purchase["min"]',
        id="keyword-as-aggregated-attribute",
    ),
    pytest.param(
        in_rule("on count award 10"),
        (1, 29),
        "'count' is a keyword and cannot be an activity type",
        'write the activity type in quotes: "count"',
        id="keyword-as-activity-type",
    ),
    pytest.param(
        in_rule("when count(where) > 1 award 10"),
        (1, 37),
        "'where' is a keyword and cannot be an activity type",
        'write the activity type in quotes: "where"',
        id="keyword-as-aggregated-activity-type",
    ),
    pytest.param(
        "declare contact { and: text }",
        (1, 19),
        "'and' is a keyword and cannot be a declared field",
        'write the field name in quotes: "and": text',
        id="keyword-as-declared-field",
    ),
    pytest.param(
        in_rule("when and(contact.a) award 1"),
        (1, 31),
        "'and' is a keyword and cannot be a function name",
        None,
        id="keyword-as-function-name",
    ),
    pytest.param(
        in_rule("when (contact.vip) orange award 1"),
        (1, 45),
        "unexpected name 'orange'; expected a comparison such as 'in' or 'matches', an operator "
        "such as == or +, 'and', 'award', 'decay', 'expire', 'max', 'on', 'or', 'when' or '}'",
        None,
        id="keyword-glued-to-letters-is-a-name",
    ),
    # ---- comparisons
    pytest.param(
        in_rule("when 1 < contact.a < 3 award 10"),
        (1, 45),
        f"unexpected '<'; expected {AFTER_COMPARISON}",
        "comparisons do not chain: write a < b and b < c",
        id="chained-comparison",
    ),
    pytest.param(
        in_rule("when contact.a == contact.b == contact.c award 10"),
        (1, 54),
        f"unexpected '=='; expected {AFTER_COMPARISON}",
        "comparisons do not chain: write a < b and b < c",
        id="chained-equality",
    ),
    pytest.param(
        in_rule('when contact.country in ("CZ", "SK") award 10'),
        (1, 55),
        "unexpected ','; expected ')'",
        'lists are written in square brackets, such as ["CZ", "SK"]',
        id="list-in-parentheses",
    ),
    # ---- regular expressions
    pytest.param(
        in_rule("when contact.title matches /ceo award 10"),
        (1, 53),
        "the regular expression is not closed on this line",
        "end it with '/' and any flags",
        id="unclosed-regular-expression",
    ),
    pytest.param(
        in_rule("when contact.title == /ceo/i award 10"),
        (1, 48),
        f"unexpected regular expression /ceo/i; expected {A_VALUE}",
        "regular expressions such as /ceo/i only follow 'matches'",
        id="regex-after-equals",
    ),
    pytest.param(
        in_rule("when contact.title contains /ceo/ award 10"),
        (1, 54),
        f"unexpected regular expression /ceo/; expected {A_VALUE}",
        "regular expressions such as /ceo/i only follow 'matches'",
        id="regex-after-contains",
    ),
    pytest.param(
        in_rule("when / award 10"),
        (1, 31),
        f"unexpected '/'; expected {A_VALUE}, or 'not'",
        None,
        id="slash-where-a-value-starts",
    ),
    # ---- misspelled keywords
    pytest.param(
        in_rule("wehn contact.x == 1 award 5"),
        (1, 26),
        f"unexpected name 'wehn'; expected {RULE_CLAUSES}",
        "did you mean 'when'?",
        id="misspelled-when",
    ),
    pytest.param(
        'scoring "A" {\n  treshold "MQL" at 100\n}',
        (2, 3),
        f"unexpected name 'treshold'; expected {SCORING_ITEMS}",
        "did you mean 'threshold'?",
        id="misspelled-threshold",
    ),
    pytest.param(
        in_rule('on page_visit wehre activity.url == "/" award 5'),
        (1, 40),
        "unexpected name 'wehre'; expected 'award', 'decay', 'expire', 'max', 'on', 'or', "
        "'when', 'where' or '}'",
        "did you mean 'where'?",
        id="misspelled-where",
    ),
    pytest.param(
        in_rule("zzzz contact.x == 1 award 5"),
        (1, 26),
        f"unexpected name 'zzzz'; expected {RULE_CLAUSES}",
        None,
        id="unknown-word-close-to-no-keyword",
    ),
    pytest.param(
        # 'country' is close to the keyword 'count', which cannot stand here, so no hint.
        in_rule('when contact.a == "x" country award 5'),
        (1, 48),
        f"unexpected name 'country'; expected {AFTER_OPERAND}",
        None,
        id="name-close-to-a-keyword-not-expected-here",
    ),
    # ---- escapes, dates, durations, numbers
    pytest.param(
        in_rule(r'when contact.path starts with "C:\data\export" award 10'),
        (1, 59),
        "unknown escape sequence '\\d' in text",
        ESCAPES_HINT,
        id="unknown-escape-in-text",
    ),
    pytest.param(
        in_rule(r'when contact.a matches "\d+" award 10'),
        (1, 50),
        "unknown escape sequence '\\d' in text",
        r"write the pattern between slashes: /\d+/",
        id="unknown-escape-in-a-quoted-pattern",
    ),
    pytest.param(
        in_rule(r'when contact.a == "\ud83d" award 10'),
        (1, 45),
        "'\\ud83d' is half of a surrogate pair, not a character",
        "write the character itself",
        id="surrogate-escape",
    ),
    pytest.param(
        in_rule("when contact.d > 2026-02-30 award 10"),
        (1, 43),
        "2026-02-30 is not a valid date",
        None,
        id="invalid-date",
    ),
    pytest.param(
        in_rule("when contact.d > 2026-01-01T25:00Z award 10"),
        (1, 43),
        "2026-01-01T25:00Z is not a valid date and time",
        None,
        id="invalid-date-and-time",
    ),
    pytest.param(
        in_rule("on x award 1 expire on 2026-13-01"),
        (1, 49),
        "2026-13-01 is not a valid date",
        None,
        id="invalid-expiry-date",
    ),
    pytest.param(
        in_rule("on x award 5 expire after 30 dayz"),
        (1, 55),
        "unknown time unit 'dayz'",
        DAYS,
        id="unknown-time-unit",
    ),
    pytest.param(
        in_rule("on x award 5 expire after 2 fortnights"),
        (1, 54),
        "unknown time unit 'fortnights'",
        UNITS,
        id="unknown-time-unit-close-to-none",
    ),
    pytest.param(
        in_rule("when contact.y == 2 awrd 5"),
        (1, 46),
        "unexpected name 'awrd' after a number",
        "did you mean 'award'?",
        id="misspelled-award-after-a-number",
    ),
    pytest.param(
        in_rule("when contact.d > now() - 30 dayz and contact.vip award 1"),
        (1, 54),
        "unknown time unit 'dayz'",
        DAYS,
        id="unknown-time-unit-inside-a-condition",
    ),
    pytest.param(
        in_rule("when contact.d > now() - 1.5 days award 1"),
        (1, 55),
        f"unexpected name 'days'; expected {AFTER_OPERAND}",
        "a duration is a whole number of units, such as 36 hours",
        id="duration-with-decimals",
    ),
    pytest.param(
        in_rule("when contact.a == 1 where award 1"),
        (1, 46),
        "unexpected keyword 'where' after a number",
        None,
        id="keyword-after-a-number",
    ),
    pytest.param(
        in_rule("when contact.a == 1" + "0" * 60 + " award 1"),
        (1, 44),
        "a number has at most 50 digits",
        None,
        id="number-too-long",
    ),
    pytest.param(
        in_rule("on x award 1 expire after 20000 years"),
        (1, 52),
        "20000 years is longer than the calendar; a duration is at most 10000 years",
        None,
        id="duration-too-long",
    ),
    # ---- missing parts
    pytest.param(
        in_rule("when contact.a == award 10"),
        (1, 44),
        f"unexpected keyword 'award'; expected {A_VALUE}",
        None,
        id="missing-operand",
    ),
    pytest.param(
        in_rule("when award 10"),
        (1, 31),
        f"unexpected keyword 'award'; expected {A_VALUE}, or 'not'",
        None,
        id="missing-condition",
    ),
    pytest.param(
        in_rule("when contact.a == 1 and award 10"),
        (1, 50),
        f"unexpected keyword 'award'; expected {A_VALUE}, or 'not'",
        None,
        id="trailing-and",
    ),
    pytest.param(
        in_rule("when contact.a + award 10"),
        (1, 43),
        f"unexpected keyword 'award'; expected {A_VALUE}",
        None,
        id="trailing-plus",
    ),
    pytest.param(
        in_rule("when contact.vip and"),
        (1, 47),
        f"unexpected '}}'; expected {A_VALUE}, or 'not'",
        None,
        id="trailing-and-before-a-brace",
    ),
    pytest.param(
        in_rule('when country == "CZ" award 1'),
        (1, 39),
        "unexpected '=='; expected '('",
        "write contact.country for a field of the contact, or country(…) to call a function",
        id="name-without-contact",
    ),
    pytest.param(
        in_rule('when contact == "CZ" award 1'),
        (1, 39),
        "unexpected '=='; expected '.' or '['",
        'write a field such as contact.country or contact["country"]',
        id="contact-without-a-field",
    ),
    pytest.param(
        in_rule('when contact."first name" == "Ann" award 1'),
        (1, 39),
        'unexpected text "first name"; expected a name',
        'a field name in quotes goes in brackets, such as contact["first name"]',
        id="quoted-name-after-a-dot",
    ),
    # ---- nesting
    pytest.param(
        in_rule("when " + "not " * 100 + "contact.vip award 1"),
        (1, 275),
        NESTING,
        NESTING_HINT,
        id="nested-nots-over-the-limit",
    ),
    pytest.param(
        in_rule("when contact.a " + "+ 1 " * 80 + "> 0 award 1"),
        (1, 31),
        NESTING,
        NESTING_HINT,
        id="long-chain-over-the-limit",
    ),
    # ---- several lines
    pytest.param(
        'scoring "A" {\n  rule "R" {\n\twhen contact.a = 1\n\taward 1\n  }\n}',
        (3, 17),
        "'=' is not an operator",
        "write '==' to compare",
        id="line-3-after-a-tab",
    ),
    pytest.param(
        '# comment\nscoring "A" {\n  threshold "MQL" at 10\n  rule "R" {\n'
        '\t\ton page_visit where activity.url glob "*/x*" && true\n  award 1 }\n}',
        (5, 48),
        "'&' is not an operator",
        "write 'and'",
        id="line-5-after-two-tabs",
    ),
    pytest.param(
        'scoring "A" {\r\n  rule "R" {\r\n    when contact.a = 1 award 1\r\n  }\r\n}\r\n',
        (3, 20),
        "'=' is not an operator",
        "write '==' to compare",
        id="windows-line-ends",
    ),
    pytest.param(
        "# a form feed \f and a line separator \u2028 do not end a line\n"
        'scoring "A" { rule "R" { when contact.a = 1 award 1 } }',
        (2, 41),
        "'=' is not an operator",
        "write '==' to compare",
        id="only-newline-ends-a-line",
    ),
    # ---- decay, groups, personas and grades
    pytest.param(
        in_rule("on x award 5 decay 50 every 30 days"),
        (1, 48),
        "unexpected name 'every'; expected '%'",
        "the rate is a percentage: decay 50% every 30 days",
        id="decay-rate-without-percent",
    ),
    pytest.param(
        in_rule("on x award 5 decay 50% each 30 days"),
        (1, 49),
        "expected 'every' after the decay rate, not 'each'",
        "write: decay 50% every 30 days",
        id="decay-rate-then-another-word",
    ),
    pytest.param(
        in_rule("on x award 5 decay never"),
        (1, 45),
        "expected a rate such as 50% or 'none' after 'decay', not 'never'",
        DECAY_HINT,
        id="decay-never",
    ),
    pytest.param(
        in_rule("on x award 5 decay"),
        (1, 45),
        "unexpected '}'; expected a name, a number, a whole number or '-'",
        DECAY_HINT,
        id="decay-without-a-value",
    ),
    pytest.param(
        in_rule("on x award 5 decay 50% every 30 dayz"),
        (1, 58),
        "unknown time unit 'dayz'",
        DAYS,
        id="decay-period-unknown-unit",
    ),
    pytest.param(
        'scoring "A" { group "G" { rule "R" { on x award 1 } } }',
        (1, 25),
        "unexpected '{'; expected 'max'",
        None,
        id="group-without-max",
    ),
    pytest.param(
        'scoring "A" { group "G" max -5 { rule "R" { on x award 1 } } }',
        (1, 29),
        "unexpected '-'; expected a whole number",
        None,
        id="group-max-negative",
    ),
    pytest.param(
        'scoring "A" { group "G" max 5 { floor 0 } }',
        (1, 33),
        "unexpected keyword 'floor'; expected 'group', 'rule' or '}'",
        None,
        id="group-holding-a-setting",
    ),
    pytest.param(
        'persona "P" { rule "R" { on x award 1 } }',
        (1, 13),
        "unexpected '{'; expected 'threshold'",
        None,
        id="persona-without-threshold",
    ),
    pytest.param(
        'persona "P" threshold at 10 { rule "R" { on x award 1 } }',
        (1, 23),
        "unexpected keyword 'at'; expected a whole number or '-'",
        None,
        id="persona-threshold-with-at",
    ),
    pytest.param(
        'grade "G" { fitt "S" { "A" at 60 } }',
        (1, 13),
        "expected 'fit' or 'engagement' inside a grade, not 'fitt'",
        'write: fit "SCORING" { "A" at 60, "B" at 30 }',
        id="grade-unknown-word",
    ),
    pytest.param(
        'grade "G" { fit "S" { "A" 60 } }',
        (1, 27),
        "unexpected number 60; expected 'at'",
        'a band of a grade reads: "A" at 60',
        id="band-without-at",
    ),
    # ---- stray numbers: the hint names the construct the number is in
    pytest.param(
        'test "T" {\n    at 2026-06-30\n    expect "A" total 35 12\n}',
        (3, 25),
        f"unexpected number 12; expected {TEST_ITEMS}",
        'an expect line checks one value, such as: expect "Product A" total 35',
        id="test-expect-with-two-values",
    ),
    pytest.param(
        'test "T" { expect "A" rule "R" 5 6 }',
        (1, 34),
        f"unexpected number 6; expected {TEST_ITEMS}",
        'an expect line checks one value, such as: expect "Product A" total 35',
        id="test-expect-rule-with-two-values",
    ),
    pytest.param(
        'test "T" {\n    42\n}',
        (2, 5),
        f"unexpected number 42; expected {TEST_ITEMS}",
        "a test block holds only at, contact, activity and expect lines",
        id="test-block-bare-number",
    ),
    pytest.param(
        'test "T" { at 2026-06-30 }\nscoring "A" { threshold "MQL" 100 }',
        (2, 31),
        "unexpected number 100; expected 'at'",
        'a threshold reads: threshold "MQL" at 100',
        id="threshold-without-at-after-test-block",
    ),
    pytest.param(
        'test "T" { at 2026-06-30 }\ngrade "G" { fit "S" { "A" 60 } }',
        (2, 27),
        "unexpected number 60; expected 'at'",
        'a band of a grade reads: "A" at 60',
        id="band-without-at-after-test-block",
    ),
    pytest.param(
        'grade "G" { fit "S" { A at 60 } }',
        (1, 23),
        "unexpected name 'A'; expected text in quotes or '}'",
        'band names are text in quotes, such as "A" at 60',
        id="band-name-without-quotes",
    ),
    pytest.param(
        'grade "G" { fit { "A" at 60 } }',
        (1, 17),
        "unexpected '{'; expected text in quotes",
        None,
        id="grade-axis-without-scoring",
    ),
    pytest.param(
        in_rule('when contact.group == "x" award 1'),
        (1, 39),
        "'group' is a keyword and cannot be a field name",
        'write the field name in brackets: contact["group"]',
        id="keyword-group-as-field",
    ),
]


@pytest.mark.parametrize(("text", "where", "message", "hint"), FILE_CASES)
def test_syntax_error_in_a_file(
    text: str, where: tuple[int, int], message: str, hint: str | None
) -> None:
    error = rule_error(text)
    assert isinstance(error, RuleSyntaxError)
    assert (error.line, error.column) == where
    line = where[0]
    assert error.message == message
    assert error.problems[0].hint == hint
    assert len(error.problems) == 1
    assert error.location is not None
    assert error.location.source_line == text.split("\n")[line - 1].rstrip("\r")


CONFIG_CASES = [
    pytest.param(
        config_rule('when contact.country = "CZ" award 10', scoring="Product A", rule="Czech"),
        (1, 22),
        "'=' is not an operator",
        "write '==' to compare",
        ("Product A", "Czech"),
        id="config-rule-single-equals",
    ),
    pytest.param(
        config_rule("when contact.vip\n  and contact.a =\t1 award 5"),
        (2, 17),
        "'=' is not an operator",
        "write '==' to compare",
        ("A", "R"),
        id="config-rule-on-two-lines",
    ),
    pytest.param(
        config_rule("{ when contact.vip award 10 }"),
        (1, 1),
        "unexpected '{'; expected the end of the text, 'award', 'decay', 'expire', 'max', 'on' or 'when'",
        "a rule from config holds only its clauses, without braces",
        ("A", "R"),
        id="config-rule-with-braces",
    ),
    pytest.param(
        config_rule('when contact.vip award 5 } rule "x" { when true award 100'),
        (1, 26),
        "unexpected '}'; expected the end of the text, 'award', 'decay', 'each', 'expire', 'max', "
        "'on', 'once' or 'when'",
        "a rule from config holds only its clauses, without braces",
        ("A", "R"),
        id="config-rule-closing-its-rule",
    ),
    pytest.param(
        config_rule("when contact.a =="),
        (1, 18),
        f"the text ended early; expected {A_VALUE}",
        None,
        ("A", "R"),
        id="config-rule-ending-after-an-operator",
    ),
    pytest.param(
        config_rule("when"),
        (1, 5),
        f"the text ended early; expected {A_VALUE}, or 'not'",
        None,
        ("A", "R"),
        id="config-rule-with-an-empty-condition",
    ),
    pytest.param(
        config_rule(r'when contact.a matches "\d+" award 10'),
        (1, 25),
        "unknown escape sequence '\\d' in text",
        r"write the pattern between slashes: /\d+/",
        ("A", "R"),
        id="config-rule-unknown-escape",
    ),
    pytest.param(
        config_rule("wehn contact.vip award 10"),
        (1, 1),
        "unexpected name 'wehn'; expected the end of the text, 'award', 'decay', 'expire', "
        "'max', 'on' or 'when'",
        "did you mean 'when'?",
        ("A", "R"),
        id="config-rule-misspelled-when",
    ),
    pytest.param(
        {"scorings": {"A": {"expire": "aftr 30 days"}}},
        (1, 1),
        "unexpected name 'aftr'; expected 'after', 'never' or 'on'",
        "did you mean 'after'?",
        ("A", None),
        id="config-expire-misspelled-after",
    ),
    pytest.param(
        {"scorings": {"A": {"expire": ""}}},
        (1, 1),
        "the text ended early; expected 'after', 'never' or 'on'",
        None,
        ("A", None),
        id="config-expire-empty-text",
    ),
    pytest.param(
        {"scorings": {"A": {"expire": "after 30 dayz"}}},
        (1, 10),
        "unknown time unit 'dayz'",
        DAYS,
        ("A", None),
        id="config-expire-unknown-unit",
    ),
    pytest.param(
        {"scorings": {"A": {"expire": "after 30 days award 5"}}},
        (1, 15),
        "unexpected keyword 'award'; expected the end of the text",
        None,
        ("A", None),
        id="config-expire-followed-by-a-clause",
    ),
]


@pytest.mark.parametrize(("config", "where", "message", "hint", "place"), CONFIG_CASES)
def test_syntax_error_in_config(
    config: dict[str, Any],
    where: tuple[int, int],
    message: str,
    hint: str | None,
    place: tuple[str, str | None],
) -> None:
    error = config_error(config)
    assert isinstance(error, RuleSyntaxError)
    assert (error.line, error.column) == where
    assert error.message == message
    assert error.problems[0].hint == hint
    assert (error.scoring, error.rule) == place
    assert error.location is not None
    assert error.location.source == "config"


# ---------------------------------------------------------------- how the error reads


def test_str_shows_file_line_and_caret_under_the_column() -> None:
    text = 'scoring "A" {\n  rule "R" {\n    when contact.a = 1\n    award 1\n  }\n}'
    error = rule_error(text, source="rules/demo.lead")
    assert str(error) == (
        "rules/demo.lead:3:20: error: '=' is not an operator\n"
        "        when contact.a = 1\n"
        "                       ^\n"
        "    hint: write '==' to compare"
    )


def test_str_keeps_tabs_so_the_caret_lines_up() -> None:
    text = 'scoring "A" {\n\trule "R" {\n\t\twhen contact.a == 1 && true\n\t\taward 1\n\t}\n}'
    error = rule_error(text, source="tabs.lead")
    assert str(error) == (
        "tabs.lead:3:23: error: '&' is not an operator\n"
        "    \t\twhen contact.a == 1 && true\n"
        "    \t\t                    ^\n"
        "    hint: write 'and'"
    )


def test_str_underlines_the_whole_token() -> None:
    error = rule_error(in_rule("when contact.a == 1 AND contact.b == 2 award 10"))
    assert str(error) == (
        "<string>:1:46: error: unexpected name 'AND' after a number\n"
        '    scoring "A" { rule "R" { when contact.a == 1 AND contact.b == 2 award 10 } }\n'
        "                                                 ^^^\n"
        "    hint: keywords are lowercase: write 'and'"
    )


def test_str_of_a_config_rule_names_scoring_and_rule() -> None:
    config = config_rule('when contact.country = "CZ" award 10', scoring="Product A", rule="Czech")
    error = config_error(config)
    assert str(error) == (
        "config, scorings.\"Product A\".rules.Czech, column 22: error: '=' is not an operator\n"
        '    when contact.country = "CZ" award 10\n'
        "                         ^\n"
        "    hint: write '==' to compare"
    )


def test_str_of_a_config_rule_on_two_lines_names_the_line() -> None:
    error = config_error(config_rule("when contact.vip\n  and contact.a =\t1 award 5"))
    assert str(error) == (
        "config, scorings.A.rules.R, line 2, column 17: error: '=' is not an operator\n"
        "      and contact.a =\t1 award 5\n"
        "                    ^\n"
        "    hint: write '==' to compare"
    )


def test_str_at_the_end_of_the_text_puts_the_caret_after_the_last_token() -> None:
    error = rule_error('scoring "A" { rule "R" { when contact.vip award 10 }')
    assert str(error) == (
        "<string>:1:53: error: the text ended early; expected 'ceiling', 'decay', 'expire', "
        "'floor', 'group', 'notify', 'rule', 'threshold', 'timezone' or '}'\n"
        '    scoring "A" { rule "R" { when contact.vip award 10 }\n'
        "                                                        ^\n"
        "    hint: a closing '}' is missing"
    )


def test_syntax_errors_are_value_errors_and_leadscore_errors() -> None:
    error = rule_error(in_rule("when contact.a = 1 award 1"))
    assert isinstance(error, RuleSyntaxError)
    assert isinstance(error, LeadscoreError)
    assert isinstance(error, ValueError)
    assert "an operator such as == or +" in error.expected


def test_expected_lists_what_would_have_been_valid() -> None:
    error = rule_error('scoring "A" { threshold "MQL" 100 }')
    assert isinstance(error, RuleSyntaxError)
    assert error.expected == ("'at'",)


# ---------------------------------------------------------------- nesting and size


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param("not " * 10_000 + "contact.vip", id="nots"),
        pytest.param("- " * 10_000 + "contact.a > 1", id="minus-signs"),
        pytest.param("[" * 10_000 + "]" * 10_000 + " contains 1", id="lists"),
        pytest.param("lower(" * 10_000 + "contact.a" + ")" * 10_000 + ' == "x"', id="calls"),
        pytest.param("contact.a" + " + 1" * 10_000 + " > 1", id="long-sum"),
        pytest.param("(contact.a + " * 5_000 + "1" + ")" * 5_000 + " > 1", id="parenthesised-sums"),
    ],
)
def test_deep_nesting_is_a_syntax_error_not_a_recursion_error(condition: str) -> None:
    error = rule_error(in_rule(f"when {condition} award 1"))
    assert isinstance(error, RuleSyntaxError)
    assert error.message == NESTING


def test_nesting_limit_counts_from_the_rule_in_config_too() -> None:
    error = config_error(config_rule("when " + "not " * 100 + "contact.vip award 1"))
    assert error.message == NESTING
    assert (error.scoring, error.rule) == ("A", "R")


def test_unbalanced_deep_parentheses_are_a_syntax_error() -> None:
    error = rule_error(in_rule("when " + "(" * 20_000 + "contact.vip award 1"))
    assert isinstance(error, RuleSyntaxError)
    assert (error.line, error.column) == (1, BODY_COLUMN + 5 + 20_000 + len("contact.vip "))
    assert error.message == "unexpected keyword 'award'; expected ')'"


def test_parentheses_add_no_level_of_nesting() -> None:
    # Parentheses add no level, so many of them around one value are fine.
    condition = "(" * 1_000 + "contact.vip" + ")" * 1_000
    engine = leadscore.compile(in_rule(f"when {condition} award 1"))
    assert engine.rules("A") == ("R",)
    # Twenty nots deep is well inside the limit and compiles to working code.
    engine = leadscore.compile(in_rule("when " + "not " * 20 + "contact.vip award 1"))
    assert engine.rules("A") == ("R",)


def test_long_flat_conditions_compile() -> None:
    # 'or' and 'and' chains are one level however long, and so are lists.
    ors = " or ".join(f'contact.a == "{number}"' for number in range(2_000))
    members = ", ".join(f'"{number}"' for number in range(5_000))
    text = in_rule(f"when {ors} award 1").replace(
        "}", f'}} rule "S" {{ when contact.a in [{members}] award 1 }}', 1
    )
    engine = leadscore.compile(text)
    assert engine.rules("A") == ("R", "S")


# ---------------------------------------------------------------- texts that are not errors


@pytest.mark.parametrize("text", ["", "   \n\t\n", "# only a comment\n# and another"])
def test_empty_file_compiles_with_a_warning(text: str) -> None:
    engine = leadscore.compile(text)
    assert engine.scorings == ()
    assert [warning.message for warning in engine.warnings] == [
        "the rules define no scoring, so nothing is scored"
    ]


def test_keywords_in_brackets_and_quotes_are_plain_names() -> None:
    text = """
        declare contact { "and": text, "count": number, month: text, day: number }
        declare activity "max" { "min": number }
        scoring "A" {
            rule "R" {
                when contact["and"] == "x" and contact["count"] > 1 and contact.month == "may"
                award 1
            }
            rule "S" { on "max" where activity["min"] > 2 award 1 }
            rule "T" { when sum("max"["min"]) > 2 and contact.day > 0 award 1 }
        }
    """
    engine = leadscore.compile(text)
    assert engine.rules("A") == ("R", "S", "T")


def test_error_inside_config_rule_string_has_no_engine() -> None:
    with pytest.raises(RuleSyntaxError):
        Engine.from_config(config_rule("when contact.a = 1 award 1"))


def test_words_inside_new_constructs_stay_field_names() -> None:
    # every, none, fit and engagement are read as words only where decay and grades need them.
    engine = leadscore.compile(
        in_rule(
            "when contact.every == 1 and contact.none == 2 and contact.fit == 3 "
            "and contact.engagement == 4 award 1"
        )
    )
    profile = {"every": 1, "none": 2, "fit": 3, "engagement": 4}
    card = engine.score(leadscore.Contact("c", profile), at=AT)["A"]
    assert card.total == 1


# Each escape of a text literal and the character it stands for, as docs/language.md lists them.
TEXT_ESCAPES = {
    '\\"': '"',
    "\\'": "'",
    "\\\\": "\\",
    "\\/": "/",
    "\\n": "\n",
    "\\t": "\t",
    "\\r": "\r",
    "\\0": "\0",
    "\\u00e9": "é",
}


def test_escape_hint_lists_every_accepted_escape() -> None:
    error = rule_error(in_rule('when contact.a == "\\q" award 1'))
    hint = error.problems[0].hint
    assert hint is not None
    listed = hint.split("the escapes are ")[1].split()
    assert listed == [escape.replace("00e9", "XXXX") for escape in TEXT_ESCAPES]


@pytest.mark.parametrize(("escape", "char"), TEXT_ESCAPES.items())
def test_listed_escape_decodes(escape: str, char: str) -> None:
    engine = leadscore.compile(in_rule(f'when contact.a == "x{escape}y" award 1'))
    card = engine.score(leadscore.Contact("c", {"a": f"x{char}y"}), at=AT)["A"]
    assert card.total == 1


def test_unlisted_escapes_are_rejected() -> None:
    listed = {escape[1] for escape in TEXT_ESCAPES}
    for code in string.ascii_letters + string.digits + string.punctuation:
        if code in listed:
            continue
        error = rule_error(in_rule(f'when contact.a == "\\{code}" award 1'))
        assert error.message == f"unknown escape sequence '\\{code}' in text", code
