"""leadscore.load of config files with mistakes: every error names the file, the place and the fix."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml

import leadscore
from leadscore import ConfigError, RuleCheckError, RuleSyntaxError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


# ---------------------------------------------------------------- files that do not parse


def test_invalid_toml_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.toml", '[scorings."A"]\nfloor = \n')
    with pytest.raises(ConfigError) as caught:
        leadscore.load(path)
    error = caught.value
    assert (error.file, error.line, error.column) == (str(path), 2, 9)
    assert str(error) == (
        f"{path}, line 2, column 9: invalid TOML: invalid value; "
        "fix the file at that place and load it again"
    )
    assert isinstance(error.__cause__, tomllib.TOMLDecodeError)


def test_toml_error_at_end_of_document(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.toml", 'x = "unclosed')
    with pytest.raises(ConfigError) as caught:
        leadscore.load(path)
    assert (caught.value.line, caught.value.column) == (1, 14)
    assert "invalid TOML: unterminated string" in str(caught.value)


def test_json_trailing_comma_says_remove_it(tmp_path: Path) -> None:
    text = '{\n  "scorings": {\n    "A": {"rules": {"R": "on v award 1"},}\n  }\n}\n'
    path = write(tmp_path, "bad.json", text)
    with pytest.raises(ConfigError) as caught:
        leadscore.load(path)
    error = caught.value
    assert (error.file, error.line, error.column) == (str(path), 3, 42)
    assert str(error) == (
        f"{path}, line 3, column 42: invalid JSON: a comma after the last item; "
        "remove it, because JSON allows no trailing comma"
    )
    assert isinstance(error.__cause__, json.JSONDecodeError)


def test_other_json_errors_keep_the_parser_reason(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '{"scorings": {"A": nope}}')
    with pytest.raises(ConfigError) as caught:
        leadscore.load(path)
    assert str(caught.value) == (
        f"{path}, line 1, column 20: invalid JSON: expecting value; "
        "fix the file at that place and load it again"
    )


def test_invalid_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    text = 'scorings:\n  A:\n    rules: {R: "on v award 1"\n  B: 1\n'
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(ConfigError) as caught:
        leadscore.load(path)
    error = caught.value
    assert (error.file, error.line, error.column) == (str(path), 4, 3)
    assert str(error) == (
        f"{path}, line 4, column 3: invalid YAML: expected ',' or '}}', but got '<scalar>' "
        "(while parsing a flow mapping that starts at line 3, column 12); "
        "fix the file at that place and load it again"
    )
    assert isinstance(error.__cause__, yaml.YAMLError)


def test_config_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes("[scorings.A]\n# Zürich\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        leadscore.load(path)
    assert str(caught.value) == (
        f"{path}: the file is not UTF-8 text (byte 17 is invalid); save it as UTF-8"
    )


# ---------------------------------------------------------------- errors name file and key


def test_expire_typo_names_file_key_and_column(tmp_path: Path) -> None:
    text = '[scorings."Product A"]\nexpire = "after 90 dayz"\n[scorings."Product A".rules]\nR = "on v award 1"\n'
    path = write(tmp_path, "cfgbad.toml", text)
    with pytest.raises(RuleSyntaxError) as caught:
        leadscore.load(path)
    error = caught.value
    assert error.location is not None
    assert error.location.source == str(path)
    assert error.location.key == 'scorings."Product A".expire'
    assert str(error).splitlines()[:3] == [
        f"{path}, scorings.\"Product A\".expire, column 10: error: unknown time unit 'dayz'",
        "    after 90 dayz",
        "             ^^^^",
    ]


def test_rule_syntax_error_names_rule_and_column(tmp_path: Path) -> None:
    text = '[scorings.A.rules]\n"Pricing page" = "on page_visit && award 5"\n'
    path = write(tmp_path, "rules.toml", text)
    with pytest.raises(RuleSyntaxError) as caught:
        leadscore.load(path)
    error = caught.value
    assert (error.scoring, error.rule, error.column) == ("A", "Pricing page", 15)
    assert str(error).splitlines()[0] == (
        f"{path}, scorings.A.rules.\"Pricing page\", column 15: error: '&' is not an operator"
    )


def test_check_errors_name_file_and_key(tmp_path: Path) -> None:
    config = {
        "activities": {"page_visit": {"url": "text"}},
        "scorings": {
            "A": {
                "timezone": "Mars/Olympus",
                "groups": {
                    "G": {
                        "max": 5,
                        "rules": {"Visit": 'on page_visit where activity.uri == "x" award 1'},
                    }
                },
            }
        },
    }
    path = write(tmp_path, "check.json", json.dumps(config))
    with pytest.raises(RuleCheckError) as caught:
        leadscore.load(path)
    places = [str(problem).splitlines()[0].split(": error")[0] for problem in caught.value.problems]
    assert places == [
        f"{path}, scorings.A.timezone",
        f"{path}, scorings.A.groups.G.rules.Visit, column 21",
    ]


def test_mapping_errors_name_key_without_file() -> None:
    config = {
        "scorings": {"A": {"thresholds": {"SQL": 20, "MQL": 10}, "rules": {"R": "on v award 1"}}}
    }
    with pytest.raises(RuleCheckError) as caught:
        leadscore.Engine.from_config(config)
    assert str(caught.value).splitlines()[0] == (
        "config, scorings.A.thresholds.MQL: error: thresholds are out of order: "
        "'MQL' at 10 comes after 'SQL' at 20"
    )


def test_shape_error_names_file(tmp_path: Path) -> None:
    path = write(tmp_path, "shape.toml", '[scorings."Product A"]\nfloor = "low"\n')
    with pytest.raises(ConfigError) as caught:
        leadscore.load(path)
    error = caught.value
    assert (error.file, error.path) == (str(path), ("scorings", "Product A", "floor"))
    assert str(error) == (
        f"{path}, scorings.\"Product A\".floor: expected a whole number of points, got 'low'"
    )


def test_declaration_hints_use_config_tables(tmp_path: Path) -> None:
    text = """
[contact]
country = "text"

[activities."page visit"]
url = "text"

[scorings.A.rules]
Doc = 'on doc_a award 1'
Field = 'when contact.industry == "x" award 1'
Views = 'when sum("page visit".views) > 3 award 1'
"""
    path = write(tmp_path, "hints.toml", text)
    with pytest.raises(RuleCheckError) as caught:
        leadscore.load(path)
    assert [problem.hint for problem in caught.value.problems] == [
        "declare it in the config with the table [activities.doc_a]",
        "add it with its type to the [contact] table of the config",
        'add it with its type to the [activities."page visit"] table of the config',
    ]


# ---------------------------------------------------------------- field types


def test_bad_field_type_is_the_only_error(tmp_path: Path) -> None:
    text = """
[contact]
country = "txt"

[scorings.A.rules]
Target = 'when contact.country == "CZ" award 10'
"""
    path = write(tmp_path, "types.toml", text)
    with pytest.raises(RuleCheckError) as caught:
        leadscore.load(path)
    (problem,) = caught.value.problems
    assert problem.message == "unknown field type 'txt'"
    assert problem.hint == "did you mean 'text'?"
    assert (
        str(problem).splitlines()[0] == f"{path}, contact.country: error: unknown field type 'txt'"
    )


def test_misspelt_field_after_bad_type(tmp_path: Path) -> None:
    text = """
[contact]
country = "txt"

[scorings.A.rules]
Typo = 'when contact.countr == "CZ" award 10'
"""
    path = write(tmp_path, "typo.toml", text)
    with pytest.raises(RuleCheckError) as caught:
        leadscore.load(path)
    assert [(p.message, p.hint) for p in caught.value.problems] == [
        ("unknown field type 'txt'", "did you mean 'text'?"),
        ("unknown contact field 'countr'", "did you mean 'country'?"),
    ]


def test_unknown_activity_attribute_type(tmp_path: Path) -> None:
    text = """
[activities.download]
file = "blob"

[scorings.A.rules]
R = 'on download where activity.file == "a.pdf" award 1'
"""
    path = write(tmp_path, "attr.toml", text)
    with pytest.raises(RuleCheckError) as caught:
        leadscore.load(path)
    (problem,) = caught.value.problems
    assert problem.message == "unknown field type 'blob'"
    assert problem.hint == "the types are text, number, boolean, date, datetime, list, any"
    assert problem.location is not None
    assert problem.location.key == "activities.download.file"
