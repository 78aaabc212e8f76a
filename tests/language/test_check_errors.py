"""Static checks: rule text that parses but can never work is rejected with line, column and hint.

Each case in the table breaks exactly one check, so it must produce exactly one problem.
Rules wrapped by ``in_rule`` sit on line 1 with the body from column 26; with the
declarations of ``DECLARED`` in front they sit on line 3.
"""

from __future__ import annotations

import pytest
from language_helpers import config_error, config_rule, in_rule, rule_error

import leadscore
from leadscore import Engine, RuleCheckError, RuleSyntaxError

DECLARED = (
    "declare contact { age: number, name: text, vip: boolean, born: date, meta: any }\n"
    "declare activity page_visit { url: text, seconds: number }\n"
)
WHEN_ONLY = "a 'when' rule adds its points once, for as long as its condition holds"
LINEAR = "because matching must run in linear time"
SPLIT = "split the test into two conditions joined by 'and' or 'and not'"
SAME_TYPE = "compare values of the same type"
BOOLEAN_HINT = "compare it with something, for example: contact.employees > 50"
DURATION_HINT = "for example: contact.signed_up_at > now() - 30 days"
INSTANT_HINT = (
    "limit how long activity points count with 'expire after', or use an aggregate with 'within'"
)
WHERE_HINT = (
    "an activity matches on its own attributes; put the aggregate in a separate 'when' rule"
)
NEVER_MORE = "so the rule never gives more than"
OUT_OF_REACH = "cannot be reached: the rules and caps allow at most"
ORDER_HINT = "list thresholds from the lowest to the highest, each above the one before"
RATE_HINT = (
    "the rate is the share of points lost each period; "
    "write decay none for points that keep their value"
)
THRESHOLD_HINT = "membership compares the score with the threshold as a ratio"
BAND_ORDER_HINT = "list bands from the highest to the lowest, each below the one before"
SCORING_A = 'scoring "A" { rule "R" { on x award 1 } }'
NOTIFY_IN_PERSONA = "persona 'P' has 'notify once', but personas hand nothing over"
NOTIFY_IN_PERSONA_HINT = "move 'notify once' to a scoring"

CASES = [
    # ---- functions
    pytest.param(
        in_rule('when lowr(contact.a) == "x" award 1'),
        (1, 31),
        "unknown function 'lowr'",
        "did you mean 'lower'?",
        id="unknown-function-did-you-mean",
    ),
    pytest.param(
        in_rule('when trim(contact.a) == "x" award 1'),
        (1, 31),
        "unknown function 'trim'",
        "the functions are days_since, domain, filled, len, lower, now, upper",
        id="unknown-function-lists-the-functions",
    ),
    pytest.param(
        in_rule('when lower(contact.a, contact.b) == "x" award 1'),
        (1, 31),
        "lower() takes 1 argument, but 2 are given",
        None,
        id="too-many-arguments",
    ),
    pytest.param(
        in_rule("when len() > 1 award 1"),
        (1, 31),
        "len() takes 1 argument, but 0 are given",
        None,
        id="too-few-arguments",
    ),
    pytest.param(
        in_rule("when now(1) > 2026-01-01T00:00Z award 1"),
        (1, 31),
        "now() takes 0 arguments, but 1 is given",
        None,
        id="now-takes-no-arguments",
    ),
    pytest.param(
        in_rule("when filled() > 0 award 1"),
        (1, 31),
        "filled() takes at least 1 argument, but 0 are given",
        None,
        id="filled-takes-at-least-one",
    ),
    pytest.param(
        in_rule('when lower(5) == "x" award 1'),
        (1, 37),
        "lower() needs text, but this is a number",
        None,
        id="argument-of-the-wrong-type",
    ),
    pytest.param(
        in_rule('when days_since("2026-01-01") > 1 award 1'),
        (1, 42),
        "days_since() needs a date and time or a date, but this is text",
        None,
        id="days-since-of-text",
    ),
    # ---- names
    pytest.param(
        'scoring "A" { rule "R" { when true award 1 } }\n'
        'scoring "A" { rule "R" { when true award 1 } }',
        (2, 9),
        "duplicate scoring name 'A'; the first is on line 1",
        None,
        id="duplicate-scoring",
    ),
    pytest.param(
        'scoring "A" {\n  rule "R" { when true award 1 }\n  rule "R" { when true award 2 }\n}',
        (3, 8),
        "duplicate rule name 'R' in scoring 'A'; the first is on line 2",
        None,
        id="duplicate-rule",
    ),
    pytest.param(
        'scoring "A" {\n  threshold "MQL" at 10\n  threshold "MQL" at 20\n'
        '  rule "R" { when true award 30 }\n}',
        (3, 13),
        "duplicate threshold name 'MQL'",
        None,
        id="duplicate-threshold",
    ),
    # ---- scoring settings
    pytest.param(
        'scoring "A" {\n  threshold "SQL" at 20\n  threshold "MQL" at 10\n'
        '  rule "R" { when true award 30 }\n}',
        (3, 3),
        "thresholds are out of order: 'MQL' at 10 comes after 'SQL' at 20",
        ORDER_HINT,
        id="thresholds-out-of-order",
    ),
    pytest.param(
        'scoring "A" {\n  threshold "SQL" at 20\n  threshold "MQL" at 20\n'
        '  rule "R" { when true award 30 }\n}',
        (3, 3),
        "thresholds are out of order: 'MQL' at 20 comes after 'SQL' at 20",
        ORDER_HINT,
        id="thresholds-at-the-same-points",
    ),
    pytest.param(
        'scoring "A" { expire after 0 days rule "R" { on x award 1 } }',
        (1, 28),
        "an expiry must be a positive duration",
        "write expire never",
        id="scoring-expire-after-0-days",
    ),
    pytest.param(
        in_rule("on x award 1 expire after 0 days"),
        (1, 52),
        "an expiry must be a positive duration",
        "write expire never",
        id="rule-expire-after-0-days",
    ),
    pytest.param(
        in_rule("when count(x within 0 days) > 1 award 1"),
        (1, 46),
        "'within' needs a positive duration",
        None,
        id="within-0-days",
    ),
    pytest.param(
        'scoring "A" { floor 10 ceiling 10 rule "R" { when true award 1 } }',
        (1, 21),
        "the floor (10) must be below the ceiling (10)",
        None,
        id="floor-equal-to-ceiling",
    ),
    pytest.param(
        'scoring "A" { ceiling 10 floor 20 rule "R" { when true award 1 } }',
        (1, 32),
        "the floor (20) must be below the ceiling (10)",
        None,
        id="floor-above-ceiling",
    ),
    pytest.param(
        'scoring "A" { floor 1 floor 2 rule "R" { when true award 1 } }',
        (1, 23),
        "'floor' is set twice in scoring 'A'",
        None,
        id="setting-given-twice",
    ),
    pytest.param(
        'scoring "A" { expire never expire after 3 days rule "R" { on x award 1 } }',
        (1, 28),
        "the expiry of scoring 'A' is set twice",
        None,
        id="expiry-given-twice",
    ),
    pytest.param(
        'scoring "A" { timezone "Europe/Brno" rule "R" { when true award 1 } }',
        (1, 24),
        "unknown time zone 'Europe/Brno'",
        'use an IANA zone name such as "Europe/Prague" or "UTC"',
        id="unknown-time-zone",
    ),
    # ---- clauses
    pytest.param(
        in_rule("when true award 1 once"),
        (1, 36),
        "'once' has no effect on a 'when' rule",
        f"{WHEN_ONLY}; remove it",
        id="once-on-a-when-rule",
    ),
    pytest.param(
        in_rule("when true award 1 each"),
        (1, 36),
        "'each' has no effect on a 'when' rule",
        f"{WHEN_ONLY}; remove it",
        id="each-on-a-when-rule",
    ),
    pytest.param(
        in_rule("when true award 1 max 5"),
        (1, 44),
        "'max' has no effect on a 'when' rule",
        f"{WHEN_ONLY}; remove it",
        id="max-on-a-when-rule",
    ),
    pytest.param(
        in_rule("when true award 1 expire after 3 days"),
        (1, 44),
        "'expire' has no effect on a 'when' rule",
        f"{WHEN_ONLY}; to count recent activity use an aggregate such as "
        "count(page_visit within 30 days)",
        id="expire-on-a-when-rule",
    ),
    pytest.param(
        in_rule("on x award 5 once max 10"),
        (1, 44),
        "'once' and 'max' both cap the rule",
        "'once' is 'max' equal to the rule's points; keep one of them",
        id="once-with-max",
    ),
    pytest.param(
        in_rule("on x award 5 max 0"),
        (1, 43),
        "'max' must be a positive number of points",
        None,
        id="max-zero",
    ),
    pytest.param(
        in_rule("when true on x award 1"),
        (1, 36),
        "rule 'R' has both 'when' and 'on'",
        "a rule is either a profile rule (when) or an activity rule (on … where …)",
        id="both-when-and-on",
    ),
    pytest.param(
        in_rule("award 1"),
        (1, 20),
        "rule 'R' has no 'when' or 'on' clause",
        'add a condition such as: when contact.country == "CZ"  or  on page_visit',
        id="neither-when-nor-on",
    ),
    pytest.param(
        in_rule("when true"),
        (1, 20),
        "rule 'R' has no 'award' clause",
        "add: award 10",
        id="without-award",
    ),
    pytest.param(
        in_rule("when true award 1 award 2"),
        (1, 44),
        "rule 'R' has more than one 'award' clause",
        None,
        id="two-award-clauses",
    ),
    pytest.param(
        in_rule("on x on y award 2"),
        (1, 31),
        "rule 'R' has more than one 'on' clause",
        None,
        id="two-on-clauses",
    ),
    pytest.param(
        in_rule("on x or y or x award 2"),
        (1, 26),
        "the same activity type is listed twice",
        None,
        id="activity-type-listed-twice",
    ),
    # ---- where an expression may stand
    pytest.param(
        in_rule('when activity.url == "x" award 1'),
        (1, 31),
        "activity.url is only available where there is an activity",
        "use it inside 'on TYPE where …' or inside an aggregate's where, such as "
        'count(page_visit where activity.url glob "*/pricing*")',
        id="activity-field-in-when",
    ),
    pytest.param(
        in_rule("on x where count(y) > 1 award 1"),
        (1, 37),
        "count() cannot be used inside 'where'",
        WHERE_HINT,
        id="aggregate-inside-where",
    ),
    pytest.param(
        in_rule("when count(x where exists(y)) > 1 award 1"),
        (1, 45),
        "exists() cannot be used inside 'where'",
        WHERE_HINT,
        id="aggregate-inside-an-aggregate-where",
    ),
    pytest.param(
        in_rule("on x where activity.seen < now() award 1"),
        (1, 53),
        "now() depends on the scoring instant, so it cannot decide whether an activity matches",
        INSTANT_HINT,
        id="now-inside-where",
    ),
    pytest.param(
        in_rule("when count(x where days_since(activity.occurred_at) < 3) > 1 award 1"),
        (1, 45),
        "days_since() depends on the scoring instant, so it cannot decide whether an activity "
        "matches",
        INSTANT_HINT,
        id="days-since-inside-an-aggregate-where",
    ),
    # ---- aggregates
    pytest.param(
        in_rule("when count(x.price) > 1 award 1"),
        (1, 39),
        "count() works on activities and takes no attribute",
        "write count(x)",
        id="count-with-an-attribute",
    ),
    pytest.param(
        in_rule("when last(x.time) > 2026-01-01T00:00Z award 1"),
        (1, 38),
        "last() works on instants and takes no attribute",
        "write last(x)",
        id="last-with-an-attribute",
    ),
    pytest.param(
        in_rule("when sum(x) > 1 award 1"),
        (1, 35),
        "sum() needs an activity attribute",
        "for example: sum(x.price)",
        id="sum-without-an-attribute",
    ),
    # ---- comparisons
    pytest.param(
        in_rule("when contact.a != null award 1"),
        (1, 31),
        "a comparison with null is always false",
        "write 'is empty' or 'is not empty' to test for a missing value",
        id="comparison-with-null",
    ),
    pytest.param(
        in_rule('when contact.a == "x" or "10" == 10 award 1'),
        (1, 51),
        "'==' compares text with a number, which never match",
        SAME_TYPE,
        id="text-equals-number",
    ),
    pytest.param(
        in_rule('when 10 > "9" award 1'),
        (1, 31),
        "'>' compares a number with text, which never match",
        SAME_TYPE,
        id="number-above-text",
    ),
    pytest.param(
        in_rule("when contact.vip > false award 1"),
        (1, 45),
        "'>' cannot order true or false",
        None,
        id="ordering-booleans",
    ),
    pytest.param(
        in_rule("when [1] < contact.a award 1"),
        (1, 31),
        "'<' cannot order a list",
        None,
        id="ordering-lists",
    ),
    pytest.param(
        in_rule('when 5 in ["5", "6"] award 1'),
        (1, 31),
        "the list holds text, so a number is never in it",
        None,
        id="in-a-list-of-the-wrong-type",
    ),
    pytest.param(
        in_rule("when contact.a not in [1, 2.5] and true in [1] award 1"),
        (1, 61),
        "the list holds a number, so true or false is never in it",
        None,
        id="in-a-list-of-numbers",
    ),
    pytest.param(
        in_rule("when contact.a in 5 award 1"),
        (1, 44),
        "'in' needs a list or text on its right, but this is a number",
        'write a list in square brackets: ["CZ", "SK"]',
        id="in-a-number",
    ),
    pytest.param(
        in_rule('when 5 in "55" award 1'),
        (1, 31),
        "'in' compares a number with text, which never match",
        SAME_TYPE,
        id="number-in-text",
    ),
    pytest.param(
        in_rule("when 5 contains 1 award 1"),
        (1, 31),
        "'contains' needs a list or text on its left, but this is a number",
        None,
        id="contains-on-a-number",
    ),
    pytest.param(
        in_rule('when "abc" contains 1 award 1'),
        (1, 31),
        "'contains' compares text with a number, which never match",
        SAME_TYPE,
        id="text-contains-a-number",
    ),
    pytest.param(
        in_rule("when contact.a starts with 5 award 1"),
        (1, 53),
        "'starts with' needs text, but this is a number",
        None,
        id="starts-with-a-number",
    ),
    pytest.param(
        in_rule("when 5 matches /5/ award 1"),
        (1, 31),
        "'matches' needs text, but this is a number",
        None,
        id="matches-on-a-number",
    ),
    pytest.param(
        in_rule('when true glob "t*" award 1'),
        (1, 31),
        "'glob' needs text, but this is true or false",
        None,
        id="glob-on-a-boolean",
    ),
    # ---- arithmetic and durations
    pytest.param(
        in_rule('when "a" + 1 == "a1" award 1'),
        (1, 35),
        "cannot apply '+' to text and a number",
        None,
        id="text-plus-number",
    ),
    pytest.param(
        in_rule("when 2026-01-02 - 2026-01-01 > 1 award 1"),
        (1, 42),
        "cannot apply '-' to a date and a date",
        "use days_since(x) to measure time since a date",
        id="date-minus-date",
    ),
    pytest.param(
        in_rule('when -"a" == 1 award 1'),
        (1, 31),
        "cannot negate text",
        None,
        id="negated-text",
    ),
    pytest.param(
        in_rule("when contact.a > 30 days award 1"),
        (1, 43),
        "a duration can only be added to or subtracted from a date or time",
        DURATION_HINT,
        id="duration-used-alone",
    ),
    pytest.param(
        in_rule("when contact.a in [30 days] award 1"),
        (1, 45),
        "a duration can only be added to or subtracted from a date or time",
        DURATION_HINT,
        id="duration-in-a-list",
    ),
    pytest.param(
        in_rule("when contact.d > 1 days + 2 days award 1"),
        (1, 50),
        "cannot add two durations; write one duration",
        None,
        id="two-durations-added",
    ),
    pytest.param(
        in_rule("when contact.d > 3 days - now() award 1"),
        (1, 50),
        "cannot subtract a date from a duration",
        "write: date - 30 days",
        id="date-subtracted-from-a-duration",
    ),
    pytest.param(
        in_rule("when 1 + 3 days > 1 award 1"),
        (1, 33),
        "cannot add a duration to a number",
        None,
        id="duration-added-to-a-number",
    ),
    pytest.param(
        in_rule("when contact.d > 2026-01-01 + 3 hours award 1"),
        (1, 56),
        "a date has no time of day, so hours and minutes cannot be added to it",
        "add days, weeks, months or years",
        id="hours-added-to-a-date",
    ),
    pytest.param(
        in_rule("when contact.d > 2026-01-01T09:00 award 1"),
        (1, 43),
        "this date and time has no time zone",
        "add Z for UTC or an offset such as +01:00",
        id="datetime-without-a-zone",
    ),
    # ---- conditions that are not true or false
    pytest.param(
        in_rule("when 1 + 1 award 1"),
        (1, 31),
        "a 'when' condition must be true or false, but this is a number",
        BOOLEAN_HINT,
        id="when-condition-not-boolean",
    ),
    pytest.param(
        in_rule('on x where "yes" award 1'),
        (1, 37),
        "a 'where' condition must be true or false, but this is text",
        BOOLEAN_HINT,
        id="where-condition-not-boolean",
    ),
    pytest.param(
        in_rule("when count(x where 1) > 0 award 1"),
        (1, 45),
        "a 'where' condition must be true or false, but this is a number",
        BOOLEAN_HINT,
        id="aggregate-where-not-boolean",
    ),
    pytest.param(
        in_rule("when contact.vip and 5 award 1"),
        (1, 47),
        "each operand of 'and' must be true or false, but this is a number",
        BOOLEAN_HINT,
        id="and-operand-not-boolean",
    ),
    pytest.param(
        in_rule('when not "x" award 1'),
        (1, 35),
        "the operand of 'not' must be true or false, but this is text",
        BOOLEAN_HINT,
        id="not-operand-not-boolean",
    ),
    # ---- declared fields and activity types
    pytest.param(
        DECLARED + in_rule("when contact.agee > 18 award 1"),
        (3, 31),
        "unknown contact field 'agee'",
        "did you mean 'age'?",
        id="unknown-field-did-you-mean",
    ),
    pytest.param(
        DECLARED + in_rule("when contact.zzz > 18 award 1"),
        (3, 31),
        "unknown contact field 'zzz'",
        "add it to 'declare contact { … }'",
        id="unknown-field",
    ),
    pytest.param(
        DECLARED + in_rule("on page_visti award 1"),
        (3, 29),
        "unknown activity type 'page_visti'",
        "did you mean 'page_visit'?",
        id="unknown-activity-type-did-you-mean",
    ),
    pytest.param(
        DECLARED + in_rule("on download award 1"),
        (3, 29),
        "unknown activity type 'download'",
        "declare it with: declare activity download { … }",
        id="unknown-activity-type",
    ),
    pytest.param(
        DECLARED + in_rule("when count(download) > 1 award 1"),
        (3, 37),
        "unknown activity type 'download'",
        "declare it with: declare activity download { … }",
        id="unknown-activity-type-in-an-aggregate",
    ),
    pytest.param(
        DECLARED + in_rule('on page_visit where activity.ulr == "x" award 1'),
        (3, 46),
        "activity type 'page_visit' has no attribute 'ulr'",
        "did you mean 'url'?",
        id="unknown-attribute-did-you-mean",
    ),
    pytest.param(
        DECLARED + in_rule('on page_visit where activity.zzz == "x" award 1'),
        (3, 46),
        "activity type 'page_visit' has no attribute 'zzz'",
        "declare it in: declare activity page_visit { … }",
        id="unknown-attribute",
    ),
    pytest.param(
        DECLARED + in_rule("when sum(page_visit.second) > 1 award 1"),
        (3, 46),
        "activity type 'page_visit' has no attribute 'second'",
        "did you mean 'seconds'?",
        id="unknown-aggregated-attribute",
    ),
    pytest.param(
        DECLARED + in_rule("when avg(page_visit.zzz) > 1 award 1"),
        (3, 46),
        "activity type 'page_visit' has no attribute 'zzz'",
        "declare it in: declare activity page_visit { … }",
        id="unknown-aggregated-attribute-without-suggestion",
    ),
    pytest.param(
        DECLARED + in_rule("when sum(page_visit.url) > 1 award 1"),
        (3, 46),
        "sum() needs a number, but 'url' is declared as text",
        None,
        id="aggregated-attribute-not-a-number",
    ),
    pytest.param(
        DECLARED + in_rule('when contact.age == "18" award 1'),
        (3, 31),
        "'==' compares a number with text, which never match",
        SAME_TYPE,
        id="declared-type-compared-with-the-wrong-literal",
    ),
    pytest.param(
        DECLARED + in_rule('when contact.name.given == "x" award 1'),
        (3, 31),
        "'name' is declared as text, so it has no field 'given'",
        "declare it as any to reach nested fields",
        id="nested-path-on-a-text-field",
    ),
    pytest.param(
        "declare contact { age: number, age: text }",
        (1, 32),
        "field 'age' is declared twice",
        None,
        id="field-declared-twice",
    ),
    pytest.param(
        "declare contact { age: number }\ndeclare contact { name: text }",
        (2, 1),
        "contact fields are declared twice; merge the two declarations",
        None,
        id="contact-declared-twice",
    ),
    pytest.param(
        "declare activity x { a: text }\ndeclare activity x { b: text }",
        (2, 18),
        "activity type 'x' is declared twice",
        None,
        id="activity-type-declared-twice",
    ),
    pytest.param(
        "declare contact { age: integer }",
        (1, 24),
        "unknown field type 'integer'",
        "the types are text, number, boolean, date, datetime, list, any",
        id="unknown-declared-type",
    ),
    # ---- regular expressions and globs
    pytest.param(
        in_rule("when contact.a matches /foo(?=bar)/ award 1"),
        (1, 49),
        f"lookahead (?= …) and (?! …) are not supported, {LINEAR}",
        SPLIT,
        id="regex-lookahead",
    ),
    pytest.param(
        in_rule("when contact.a matches /foo(?!bar)/ award 1"),
        (1, 49),
        f"lookahead (?= …) and (?! …) are not supported, {LINEAR}",
        SPLIT,
        id="regex-negative-lookahead",
    ),
    pytest.param(
        in_rule("when contact.a matches /(?<=foo)bar/ award 1"),
        (1, 49),
        f"lookbehind (?<= …) and (?<! …) are not supported, {LINEAR}",
        SPLIT,
        id="regex-lookbehind",
    ),
    pytest.param(
        in_rule("when contact.a matches /(?<!foo)bar/ award 1"),
        (1, 49),
        f"lookbehind (?<= …) and (?<! …) are not supported, {LINEAR}",
        SPLIT,
        id="regex-negative-lookbehind",
    ),
    pytest.param(
        in_rule(r"when contact.a matches /(a)\1/ award 1"),
        (1, 49),
        f"backreferences such as \\1 are not supported, {LINEAR}",
        "list the alternatives explicitly, or compare two fields with ==",
        id="regex-backreference",
    ),
    pytest.param(
        in_rule(r"when contact.a matches /(?P<x>a)\k<x>/ award 1"),
        (1, 49),
        f"backreferences such as \\1 are not supported, {LINEAR}",
        "list the alternatives explicitly, or compare two fields with ==",
        id="regex-named-backreference",
    ),
    pytest.param(
        in_rule(r"when contact.a matches /(?P<x>a)(?P=x)/ award 1"),
        (1, 49),
        f"backreferences such as \\1 are not supported, {LINEAR}",
        "list the alternatives explicitly, or compare two fields with ==",
        id="regex-python-named-backreference",
    ),
    pytest.param(
        in_rule(r'when contact.a matches "(?P<x>a)(?P=x)" award 1'),
        (1, 49),
        f"backreferences such as \\1 are not supported, {LINEAR}",
        "list the alternatives explicitly, or compare two fields with ==",
        id="regex-named-backreference-in-quotes",
    ),
    pytest.param(
        in_rule(r"when contact.a matches /(?P<x>a)(?P>x)/ award 1"),
        (1, 49),
        "invalid regular expression: invalid perl operator: (?P",
        None,
        id="regex-recursion-is-no-backreference",
    ),
    pytest.param(
        in_rule("when contact.a matches /a/ix award 1"),
        (1, 49),
        "unknown regular expression flag 'x'",
        "the flags are i (ignore case), m (^ and $ match at line breaks) and s (. matches a line "
        "break)",
        id="unknown-regex-flag",
    ),
    pytest.param(
        in_rule("when contact.a matches /a(/ award 1"),
        (1, 49),
        "invalid regular expression: missing ): a(",
        None,
        id="invalid-regex",
    ),
    pytest.param(
        in_rule('when contact.a glob "[a-z" award 1'),
        (1, 46),
        "the glob '[a-z' has a '[' that is never closed",
        "write [[] to match a literal '['",
        id="unclosed-glob-class",
    ),
    pytest.param(
        in_rule('when contact.a glob "[z-a]" award 1'),
        (1, 46),
        "invalid glob '[z-a]': invalid regular expression: invalid character class range: z-a",
        None,
        id="glob-class-range-backwards",
    ),
    pytest.param(
        in_rule('when contact.a glob "x\ud800?" award 1'),
        (1, 46),
        "the pattern holds half of a surrogate pair, which is not a character",
        "write the character itself",
        id="glob-holding-half-a-surrogate-pair",
    ),
    # ---- decay
    pytest.param(
        in_rule("when contact.a > 1 award 1 decay 50% every 30 days"),
        (1, 53),
        "'decay' has no effect on a 'when' rule, because its points have no age",
        "a 'when' rule adds its points while its condition holds; remove it",
        id="decay-on-when-rule",
    ),
    pytest.param(
        in_rule("on x award 1 decay 0% every 30 days"),
        (1, 45),
        "a decay rate must be more than 0% and at most 100%, not 0%",
        RATE_HINT,
        id="decay-rate-zero",
    ),
    pytest.param(
        in_rule("on x award 1 decay 101% every 30 days"),
        (1, 45),
        "a decay rate must be more than 0% and at most 100%, not 101%",
        "at 100% an award is worth nothing after one period",
        id="decay-rate-over-100",
    ),
    pytest.param(
        in_rule("on x award 1 decay -5% every 30 days"),
        (1, 45),
        "a decay rate must be more than 0% and at most 100%, not -5%",
        RATE_HINT,
        id="decay-rate-negative",
    ),
    pytest.param(
        in_rule("on x award 1 decay 12.5% every 30 days"),
        (1, 45),
        "a decay rate must be a whole number of percent",
        "write 12% or 13%",
        id="decay-rate-not-whole",
    ),
    pytest.param(
        in_rule("on x award 1 decay 50% every 0 days"),
        (1, 55),
        "a decay period must be a positive duration",
        None,
        id="decay-period-zero",
    ),
    pytest.param(
        in_rule("on x award 1 decay none decay none"),
        (1, 50),
        "rule 'R' has more than one 'decay' clause",
        None,
        id="decay-twice-in-a-rule",
    ),
    pytest.param(
        'scoring "A" { decay none decay none rule "R" { on x award 1 } }',
        (1, 26),
        "'decay' is set twice in scoring 'A'",
        None,
        id="decay-twice-in-a-scoring",
    ),
    pytest.param(
        'scoring "A" { decay 0% every 1 day rule "R" { on x award 1 } }',
        (1, 21),
        "a decay rate must be more than 0% and at most 100%, not 0%",
        RATE_HINT,
        id="scoring-decay-rate-zero",
    ),
    pytest.param(
        'persona "P" threshold 3 { decay none decay none rule "R" { on x award 1 } }',
        (1, 38),
        "'decay' is set twice in persona 'P'",
        None,
        id="decay-twice-in-a-persona",
    ),
    # ---- groups
    pytest.param(
        'scoring "A" { group "G" max 0 { rule "R" { on x award 1 } } }',
        (1, 29),
        "the 'max' of group 'G' must be a positive number of points",
        None,
        id="group-max-zero",
    ),
    pytest.param(
        'scoring "A" {\n  group "G" max 5 {\n    group "H" max 3 { rule "R" { on x award 1 } }\n  }\n}',
        (3, 11),
        "group 'H' is inside group 'G', but groups do not nest",
        "move it out of group 'G'; each rule belongs to at most one group",
        id="nested-group",
    ),
    pytest.param(
        'scoring "A" {\n  group "G" max 5 { rule "R" { on x award 1 } }\n'
        '  group "G" max 5 { rule "S" { on x award 1 } }\n}',
        (3, 9),
        "duplicate group name 'G' in scoring 'A'; the first is on line 2",
        None,
        id="duplicate-group-name",
    ),
    pytest.param(
        'scoring "A" {\n  group "G" max 5 { rule "R" { on x award 1 } }\n  rule "R" { on x award 1 }\n}',
        (3, 8),
        "duplicate rule name 'R' in scoring 'A'; the first is on line 2",
        None,
        id="duplicate-rule-name-across-a-group",
    ),
    # ---- personas
    pytest.param(
        'persona "P" threshold 0 { rule "R" { on x award 1 } }',
        (1, 23),
        "the threshold of persona 'P' must be a positive number of points",
        THRESHOLD_HINT,
        id="persona-threshold-zero",
    ),
    pytest.param(
        'persona "P" threshold -3 { rule "R" { on x award 1 } }',
        (1, 23),
        "the threshold of persona 'P' must be a positive number of points",
        THRESHOLD_HINT,
        id="persona-threshold-negative",
    ),
    pytest.param(
        'persona "P" threshold 3 { rule "R" { on x award 1 } }\n'
        'persona "P" threshold 3 { rule "R" { on x award 1 } }',
        (2, 9),
        "duplicate persona name 'P'; the first is on line 1",
        None,
        id="duplicate-persona-name",
    ),
    pytest.param(
        'scoring "P" { rule "R" { on x award 1 } }\n'
        'persona "P" threshold 3 { rule "R" { on x award 1 } }',
        (2, 9),
        "persona 'P' has the name of the scoring on line 1",
        "scores are looked up by name, so give the persona another name",
        id="persona-named-like-a-scoring",
    ),
    pytest.param(
        'persona "P" threshold 3 {\n  notify once\n  rule "R" { on x award 1 }\n}',
        (2, 3),
        NOTIFY_IN_PERSONA,
        NOTIFY_IN_PERSONA_HINT,
        id="notify-once-in-a-persona",
    ),
    pytest.param(
        'persona "P" threshold 3 {\n  threshold "X" at 5\n  rule "R" { on x award 1 }\n}',
        (2, 3),
        "persona 'P' has its threshold after its name, so it takes no 'threshold' inside",
        "remove it, because the threshold of persona 'P' is the 3 after its name",
        id="threshold-inside-a-persona",
    ),
    # ---- grades
    pytest.param(
        f'{SCORING_A}\ngrade "G" {{\n  fit "B" {{ "A" at 1 }}\n  engagement "A" {{ "1" at 1 }}\n}}',
        (3, 7),
        "unknown scoring 'B' in grade 'G'",
        "the scorings are 'A'",
        id="grade-names-an-unknown-scoring",
    ),
    pytest.param(
        f"{SCORING_A}\n"
        'persona "P" threshold 5 { rule "R" { on x award 5 } }\n'
        'grade "G" {\n  fit "P" { "A" at 1 }\n  engagement "A" { "1" at 1 }\n}',
        (4, 7),
        "'P' is a persona, but a grade combines two scorings",
        "a persona's only output is membership; name a scoring",
        id="grade-names-a-persona",
    ),
    pytest.param(
        f'{SCORING_A}\ngrade "G" {{\n  fit "A" {{ "B" at 30, "A" at 60 }}\n'
        '  engagement "A" { "1" at 0 }\n}',
        (3, 24),
        "bands are out of order: 'A' at 60 comes after 'B' at 30",
        BAND_ORDER_HINT,
        id="bands-out-of-order",
    ),
    pytest.param(
        f'{SCORING_A}\ngrade "G" {{\n  fit "A" {{ "A" at 30, "B" at 30 }}\n'
        '  engagement "A" { "1" at 0 }\n}',
        (3, 24),
        "bands are out of order: 'B' at 30 comes after 'A' at 30",
        BAND_ORDER_HINT,
        id="bands-with-equal-points",
    ),
    pytest.param(
        f'{SCORING_A}\ngrade "G" {{\n  fit "A" {{ "A" at 30, "A" at 0 }}\n'
        '  engagement "A" { "1" at 0 }\n}',
        (3, 24),
        "duplicate band name 'A' in the 'fit' of grade 'G'",
        None,
        id="duplicate-band-name",
    ),
    pytest.param(
        f'{SCORING_A}\ngrade "G" {{\n  fit "A" {{ "A" at 1 }}\n}}',
        (2, 7),
        "grade 'G' has no 'engagement' scoring",
        'add: engagement "SCORING" { "1" at 50, "2" at 20 }',
        id="grade-without-engagement",
    ),
    pytest.param(
        f'{SCORING_A}\ngrade "G" {{\n  fit "A" {{ "A" at 1 }}\n  fit "A" {{ "A" at 1 }}\n'
        '  engagement "A" { "1" at 1 }\n}',
        (4, 3),
        "grade 'G' has more than one 'fit'",
        None,
        id="grade-with-two-fits",
    ),
    pytest.param(
        f'{SCORING_A}\ngrade "G" {{\n  fit "A" {{ }}\n  engagement "A" {{ "1" at 1 }}\n}}',
        (3, 3),
        "the 'fit' of grade 'G' has no bands",
        'add bands such as { "A" at 60, "B" at 30, "C" at 0 }',
        id="grade-axis-without-bands",
    ),
    pytest.param(
        f'{SCORING_A}\ngrade "G" {{ fit "A" {{ "A" at 0 }} engagement "A" {{ "1" at 0 }} }}\n'
        'grade "G" { fit "A" { "A" at 0 } engagement "A" { "1" at 0 } }',
        (3, 7),
        "duplicate grade name 'G'; the first is on line 2",
        None,
        id="duplicate-grade-name",
    ),
]


@pytest.mark.parametrize(("text", "where", "message", "hint"), CASES)
def test_check_error(text: str, where: tuple[int, int], message: str, hint: str | None) -> None:
    error = rule_error(text)
    assert isinstance(error, RuleCheckError)
    assert [problem.message for problem in error.problems] == [message]
    assert (error.line, error.column) == where
    assert error.problems[0].hint == hint
    assert error.problems[0].severity == "error"


def test_check_error_names_the_scoring_and_rule() -> None:
    error = rule_error(in_rule("when lowr(contact.a) award 1"), source="rules.lead")
    assert (error.scoring, error.rule) == ("A", "R")
    assert str(error) == (
        "rules.lead:1:31: error: unknown function 'lowr' (in rule \"R\")\n"
        '    scoring "A" { rule "R" { when lowr(contact.a) award 1 } }\n'
        "                                  ^^^^\n"
        "    hint: did you mean 'lower'?"
    )


def test_check_error_underlines_the_whole_span() -> None:
    error = rule_error(in_rule('when contact.a == "x" or "10" == 10 award 1'))
    assert str(error).splitlines()[1:3] == [
        '    scoring "A" { rule "R" { when contact.a == "x" or "10" == 10 award 1 } }',
        "                                                      ^^^^^^^^^^",
    ]


# ---------------------------------------------------------------- many errors at once


MANY_ERRORS = """\
declare contact { age: number, age: text, score: integr }
scoring "A" {
    threshold "SQL" at 20
    threshold "MQL" at 10
    rule "R1" { when lowr(contact.age) == "x" award 1 }
    rule "R2" { when contact.agee > 1 award 1 once }
    rule "R3" { on page_visit award 0 max 0 }
}
scoring "B" {
    timezone "Mars/Olympus"
    rule "S1" { when contact.age == null award 1 }
    rule "S2" { when activity.url glob "[a" award 2 award 3 }
}
"""


def test_every_error_in_a_file_is_reported_in_source_order() -> None:
    error = rule_error(MANY_ERRORS)
    assert isinstance(error, RuleCheckError)
    found = [(p.location.line, p.location.column, p.message) for p in error.problems if p.location]
    assert found == [
        (1, 32, "field 'age' is declared twice"),
        (1, 50, "unknown field type 'integr'"),
        (4, 5, "thresholds are out of order: 'MQL' at 10 comes after 'SQL' at 20"),
        (5, 22, "unknown function 'lowr'"),
        (6, 22, "unknown contact field 'agee'"),
        (6, 39, "'once' has no effect on a 'when' rule"),
        (7, 43, "'max' must be a positive number of points"),
        (10, 14, "unknown time zone 'Mars/Olympus'"),
        (11, 22, "a comparison with null is always false"),
        (12, 22, "activity.url is only available where there is an activity"),
        (12, 40, "the glob '[a' has a '[' that is never closed"),
        (12, 53, "rule 'S2' has more than one 'award' clause"),
    ]
    assert [problem.severity for problem in error.problems] == ["error"] * 12
    rules = [(problem.location.scoring, problem.location.rule) for problem in error.problems]
    assert rules[3:5] == [("A", "R1"), ("A", "R2")]
    assert rules[-1] == ("B", "S2")
    # The rendering lists every problem, each with its own caret.
    assert str(error).count("error: ") == 12
    assert error.message == "field 'age' is declared twice"


def test_every_error_in_config_is_reported_in_the_order_checked() -> None:
    config = {
        "contact": {"age": "integer"},
        "scorings": {
            "A": {
                "timezone": "Mars/Olympus",
                "rules": {"R1": 'when lowr("x") award 1', "R2": "on x award 1 max 0"},
            },
            "B": {"rules": {"S1": "when true award 1 once"}},
        },
    }
    error = config_error(config)
    assert isinstance(error, RuleCheckError)
    assert [(p.location.scoring, p.location.rule, p.message) for p in error.problems] == [
        (None, None, "unknown field type 'integer'"),
        ("A", None, "unknown time zone 'Mars/Olympus'"),
        ("A", "R1", "unknown function 'lowr'"),
        ("A", "R2", "'max' must be a positive number of points"),
        ("B", "S1", "'once' has no effect on a 'when' rule"),
    ]
    assert str(error).splitlines()[:3] == [
        "config, contact.age: error: unknown field type 'integer'",
        "    contact.age = integer",
        "    ^^^^^^^^^^^^^^^^^^^^^",
    ]


def test_a_syntax_error_stops_before_the_checks() -> None:
    # Checks need a whole tree, so a file that does not parse reports only where it stops.
    error = rule_error(in_rule("when lowr(contact.a) = 1 award 1"))
    assert isinstance(error, RuleSyntaxError)
    assert [problem.message for problem in error.problems] == ["'=' is not an operator"]


# ---------------------------------------------------------------- a bad file gives no engine


def test_a_bad_file_never_yields_an_engine(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "bad.lead"  # type: ignore[operator]
    path.write_text(MANY_ERRORS, encoding="utf-8")
    with pytest.raises(RuleCheckError) as caught:
        leadscore.load(path)
    assert caught.value.location is not None
    assert caught.value.location.source == str(path)
    with pytest.raises(RuleCheckError):
        leadscore.compile(MANY_ERRORS)
    with pytest.raises(RuleCheckError):
        Engine.from_text(MANY_ERRORS, evaluator="reference")


def test_one_bad_rule_among_good_ones_rejects_the_whole_file() -> None:
    good = 'rule "G{n}" {{ when contact.age > {n} award 1 }}'
    rules = " ".join(good.format(n=n) for n in range(20))
    text = f'scoring "A" {{ {rules} rule "Bad" {{ when 1 > "1" award 1 }} }}'
    error = rule_error(text)
    assert error.rule == "Bad"
    assert len(error.problems) == 1


# ---------------------------------------------------------------- warnings


def _warnings(text: str) -> list[tuple[int | None, int | None, str]]:
    engine = leadscore.compile(text)
    return [
        (
            warning.location.line if warning.location else None,
            warning.location.column if warning.location else None,
            warning.message,
        )
        for warning in engine.warnings
    ]


def test_threshold_out_of_reach_of_the_caps_is_a_warning() -> None:
    text = (
        'scoring "A" {\n'
        '  threshold "MQL" at 50\n'
        '  threshold "SQL" at 100\n'
        '  rule "R" { when contact.vip award 20 }\n'
        '  rule "S" { on x award 5 each max 25 }\n'
        '  rule "T" { on y award 10 once }\n'
        '  rule "N" { on z award -100 }\n'
        "}"
    )
    assert _warnings(text) == [
        (3, 3, f"threshold 'SQL' at 100 {OUT_OF_REACH} 55 points"),
    ]


def test_threshold_above_the_ceiling_is_a_warning() -> None:
    text = 'scoring "A" {\n  ceiling 40\n  threshold "MQL" at 50\n  rule "R" { on x award 5 }\n}'
    assert _warnings(text) == [
        (3, 3, f"threshold 'MQL' at 50 {OUT_OF_REACH} 40 points"),
    ]


def test_uncapped_activity_rule_can_reach_any_threshold() -> None:
    text = 'scoring "A" {\n  threshold "MQL" at 5000\n  rule "R" { on x award 5 }\n}'
    assert _warnings(text) == []


def test_max_below_one_award_is_a_warning() -> None:
    text = 'scoring "A" {\n  rule "R" { on x award 10 max 5 }\n}'
    assert _warnings(text) == [
        (2, 28, f"max 5 is less than one award of 10 points, {NEVER_MORE} 5"),
    ]
    warning = leadscore.compile(text).warnings[0]
    assert warning.severity == "warning"
    assert warning.location is not None
    assert warning.location.rule == "R"
    assert str(warning) == (
        "<string>:2:28: warning: max 5 is less than one award of 10 points, so the rule never "
        'gives more than 5 (in rule "R")\n'
        '      rule "R" { on x award 10 max 5 }\n'
        "                               ^^^^^"
    )


def test_award_zero_is_a_warning() -> None:
    text = 'scoring "A" {\n  rule "R" { when contact.vip award 0 }\n}'
    assert _warnings(text) == [(2, 37, "rule 'R' awards 0 points")]


def test_scoring_without_rules_is_a_warning() -> None:
    text = 'scoring "A" {\n  threshold "MQL" at 1\n}'
    assert _warnings(text) == [
        (1, 9, "scoring 'A' has no rules, so every contact scores 0"),
        (2, 3, f"threshold 'MQL' at 1 {OUT_OF_REACH} 0 points"),
    ]


def test_warnings_do_not_raise_and_the_engine_scores() -> None:
    text = 'scoring "A" { ceiling 3 threshold "MQL" at 5 rule "R" { when contact.vip award 0 } }'
    engine = leadscore.compile(text)
    assert len(engine.warnings) == 2
    assert engine.rules("A") == ("R",)


def test_warnings_from_config() -> None:
    engine = Engine.from_config(
        {"scorings": {"A": {"thresholds": {"MQL": 50}, "rules": {"R": "on x award 10 max 5"}}}}
    )
    found = [
        (w.location.scoring, w.location.rule, w.message) for w in engine.warnings if w.location
    ]
    assert found == [
        ("A", "R", f"max 5 is less than one award of 10 points, {NEVER_MORE} 5"),
        ("A", None, f"threshold 'MQL' at 50 {OUT_OF_REACH} 5 points"),
    ]


def test_errors_carry_no_warnings() -> None:
    error = rule_error(in_rule("on x award 10 max 5 award 1"))
    assert [problem.severity for problem in error.problems] == ["error"]


def test_config_rule_check_error_names_scoring_and_rule() -> None:
    config = config_rule("when lowr(contact.a) award 1", scoring="Product A", rule="Lower")
    error = config_error(config)
    assert str(error) == (
        "config, scorings.\"Product A\".rules.Lower, column 6: error: unknown function 'lowr'\n"
        "    when lowr(contact.a) award 1\n"
        "         ^^^^\n"
        "    hint: did you mean 'lower'?"
    )


def test_group_cap_makes_threshold_unreachable() -> None:
    text = (
        'scoring "A" {\n'
        '  threshold "MQL" at 50\n'
        '  group "Web" max 30 {\n'
        '    rule "R" { on x award 25 }\n'
        '    rule "S" { on y award 25 }\n'
        "  }\n"
        '  rule "T" { when contact.vip award 10 }\n'
        "}"
    )
    assert _warnings(text) == [(2, 3, f"threshold 'MQL' at 50 {OUT_OF_REACH} 40 points")]
    assert leadscore.compile(text).warnings[0].hint == (
        "the caps of groups count too: group 'Web' adds at most 30"
    )


def test_set_of_group_caps_makes_threshold_unreachable() -> None:
    # 20 + 15: both groups would allow more without their caps.
    text = (
        'scoring "A" {\n'
        '  threshold "MQL" at 40\n'
        '  group "Web" max 20 { rule "R" { on x award 25 } }\n'
        '  group "Mail" max 15 { rule "S" { on y award 5 each } }\n'
        "}"
    )
    assert _warnings(text) == [(2, 3, f"threshold 'MQL' at 40 {OUT_OF_REACH} 35 points")]
    assert leadscore.compile(text).warnings[0].hint == (
        "the caps of groups count too: group 'Web' adds at most 20, group 'Mail' adds at most 15"
    )


def test_group_above_its_rules_limits_nothing() -> None:
    # The group allows 100, but its one rule gives at most 10.
    text = (
        'scoring "A" {\n  threshold "MQL" at 20\n'
        '  group "Web" max 100 { rule "R" { on x award 10 once } }\n}'
    )
    assert _warnings(text) == [(2, 3, f"threshold 'MQL' at 20 {OUT_OF_REACH} 10 points")]
    assert leadscore.compile(text).warnings[0].hint is None


def test_decay_does_not_lower_the_reachable_total() -> None:
    # A new award is worth its full points, so 10 stays reachable.
    text = (
        'scoring "A" {\n  threshold "MQL" at 10\n'
        '  rule "R" { on x award 10 once decay 50% every 1 day }\n}'
    )
    assert _warnings(text) == []


def test_persona_threshold_out_of_reach_is_a_warning() -> None:
    text = 'persona "P" threshold 30 {\n  rule "R" { on x award 5 once }\n}'
    assert _warnings(text) == [
        (1, 23, f"the threshold of persona 'P' (30) {OUT_OF_REACH} 5 points"),
    ]


def test_empty_group_is_a_warning() -> None:
    text = 'scoring "A" {\n  group "G" max 5 { }\n  rule "R" { on x award 1 }\n}'
    assert _warnings(text) == [(2, 9, "group 'G' has no rules, so its cap limits nothing")]


def test_config_persona_notify_once_rejected() -> None:
    persona = {"threshold": 3, "notify": "once", "rules": {"R": "on x award 1"}}
    error = config_error({"scorings": {}, "personas": {"P": persona}})
    assert isinstance(error, RuleCheckError)
    assert [problem.message for problem in error.problems] == [NOTIFY_IN_PERSONA]
    assert error.problems[0].hint == NOTIFY_IN_PERSONA_HINT
    assert error.scoring == "P"
    assert error.location is not None
    assert error.location.source_line == "notify = once"


def test_config_persona_notify_each_crossing_accepted() -> None:
    # "each crossing" is the default, so it sets nothing that a persona would ignore.
    persona = {"threshold": 3, "notify": "each crossing", "rules": {"R": "on x award 1"}}
    engine = Engine.from_config({"scorings": {}, "personas": {"P": persona}})
    assert engine.personas == ("P",)


def test_scoring_notify_once_accepted() -> None:
    engine = leadscore.compile('scoring "A" { notify once rule "R" { on x award 1 } }')
    assert engine.program.scorings[0].notify_once


def test_unknown_field_type_reported_once() -> None:
    text = (
        "declare contact { country: txt }\n"
        'scoring "S" { rule "R" { when contact.country == "CZ" award 1 } }\n'
        'scoring "T" { rule "R" { when contact.countr == "CZ" award 1 } }\n'
    )
    with pytest.raises(RuleCheckError) as raised:
        leadscore.compile(text)
    problems = raised.value.problems
    assert [problem.message for problem in problems] == [
        "unknown field type 'txt'",
        "unknown contact field 'countr'",
    ]
    assert problems[0].hint == "did you mean 'text'?"
    assert problems[1].hint == "did you mean 'country'?"
