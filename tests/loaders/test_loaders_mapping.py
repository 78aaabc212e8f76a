"""Column mappings built from keywords and from plain config data."""

from __future__ import annotations

import io
import tomllib

import attrs
import pytest

from leadscore.errors import ConfigError
from leadscore.loaders import (
    ActivityColumns,
    ColumnMapping,
    ContactColumns,
    read_activities,
    read_contacts,
)

TOML_CONFIG = """
[contacts]
id = "Prospect ID"
columns = { "Total Time Spent on Website" = "time_on_site", "TotalVisits" = "visits" }
types = { "TotalVisits" = "number" }
placeholders = ["Select", "N/A"]

[activities]
contact = "user_id"
type = "event_type"
time = "event_time"
timezone = "Europe/Prague"
attributes = ["price", "brand"]
"""


def test_from_dict_reads_toml_config() -> None:
    mapping = ColumnMapping.from_dict(tomllib.loads(TOML_CONFIG))

    assert mapping.contacts.id_column == "Prospect ID"
    assert dict(mapping.contacts.columns or {}) == {
        "Total Time Spent on Website": "time_on_site",
        "TotalVisits": "visits",
    }
    assert dict(mapping.contacts.types) == {"TotalVisits": "number"}
    assert mapping.contacts.placeholders == ("Select", "N/A")
    assert mapping.activities.contact_column == "user_id"
    assert mapping.activities.type_column == "event_type"
    assert mapping.activities.time_column == "event_time"
    assert mapping.activities.timezone == "Europe/Prague"
    assert dict(mapping.activities.attributes or {}) == {"price": "price", "brand": "brand"}


def test_from_dict_empty_gives_defaults() -> None:
    assert ColumnMapping.from_dict({}) == ColumnMapping()
    assert ColumnMapping().contacts.id_column == "id"
    assert ColumnMapping().activities.contact_column == "contact_id"
    assert ColumnMapping().activities.time_column == "occurred_at"


def test_empty_sections_give_defaults() -> None:
    # An empty section in YAML ("contacts:" with nothing under it) reads as None.
    assert ColumnMapping.from_dict({"contacts": None, "activities": None}) == ColumnMapping()


def test_false_switches_off_id_column() -> None:
    mapping = ColumnMapping.from_dict({"contacts": {"id": False}})
    assert mapping.contacts.id_column is None


@pytest.mark.parametrize(
    ("data", "path", "words"),
    [
        ({"contact": {}}, ("contact",), "unknown key 'contact'"),
        ({"contacts": {"id_column": "x"}}, ("contacts", "id_column"), "unknown key 'id_column'"),
        ({"activities": {"tyme": "t"}}, ("activities", "tyme"), "known keys are contact, type"),
        ({"contacts": {"types": {"age": "int"}}}, ("contacts", "types", "age"), "unknown type"),
        ({"contacts": {"types": ["age"]}}, ("contacts", "types"), "expected a mapping"),
        ({"contacts": {"columns": "age"}}, ("contacts", "columns"), "write ['age']"),
        ({"contacts": {"placeholders": "Select"}}, ("contacts", "placeholders"), "list"),
        ({"contacts": {"placeholders": [""]}}, ("contacts", "placeholders"), "non-blank"),
        ({"contacts": {"delimiter": ";;"}}, ("contacts", "delimiter"), "one character"),
        ({"contacts": {"encoding": "klingon"}}, ("contacts", "encoding"), "unknown text encoding"),
        ({"contacts": {"infer_types": "no"}}, ("contacts", "infer_types"), "true or false"),
        ({"contacts": {"id": 5}}, ("contacts", "id"), "expected a column name"),
        ({"contacts": {"list_separator": ""}}, ("contacts", "list_separator"), "non-empty"),
        (
            {"activities": {"timezone": "Mars/Base"}},
            ("activities", "timezone"),
            "unknown time zone",
        ),
        ({"activities": {"timezone": "Europe"}}, ("activities", "timezone"), "unknown time zone"),
        ({"activities": {"time_format": "dd.mm.yyyy"}}, ("activities", "time_format"), "strptime"),
        ({"activities": {"contact": "a", "type": "a"}}, ("activities", "type"), "both the contact"),
        ({"contacts": {"types": {"id": "text"}}}, ("contacts", "types", "id"), "id column"),
        (
            {"activities": {"types": {"occurred_at": "datetime"}}},
            ("activities", "types", "occurred_at"),
            "time column",
        ),
        (
            {"contacts": {"columns": ["a"], "types": {"b": "number"}}},
            ("contacts", "types", "b"),
            "not among the selected columns",
        ),
        (
            {"contacts": {"columns": {"a": "x", "b": "x"}}},
            ("contacts", "columns"),
            "both mapped to field 'x'",
        ),
        ({"contacts": {"columns": ["a", "a"]}}, ("contacts", "columns"), "listed twice"),
        ({"contacts": ["id"]}, ("contacts",), "expected a mapping"),
    ],
)
def test_from_dict_rejects_bad_config(
    data: dict[str, object], path: tuple[str, ...], words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        ColumnMapping.from_dict(data)
    assert caught.value.path == path
    assert words in str(caught.value)


def test_config_error_is_value_error() -> None:
    with pytest.raises(ValueError, match=r"^contacts\.tipes: unknown key"):
        ColumnMapping.from_dict({"contacts": {"tipes": {}}})


def test_keywords_validated_like_config() -> None:
    with pytest.raises(ConfigError, match="unknown type 'numbr'"):
        read_contacts("unused.csv", types={"age": "numbr"})
    with pytest.raises(ConfigError, match="unknown time zone"):
        read_activities("unused.csv", timezone="Europe/Prgue")


def test_to_dict_round_trips() -> None:
    mapping = ColumnMapping(
        contacts=ContactColumns(
            id_column=None,
            columns={"A": "a", "B": "b"},
            types={"A": "integer"},
            placeholders=("Select", "-"),
            delimiter=";",
        ),
        activities=ActivityColumns(
            contact_column="user_id",
            timezone_column="tz",
            time_format="unix_ms",
            attributes=["x"],
            infer_types=False,
        ),
    )
    plain = mapping.to_dict()

    assert plain["contacts"]["id"] is False
    assert plain["contacts"]["placeholders"] == ["Select", "-"]
    assert "time" not in plain["activities"]  # defaults are left out
    assert ColumnMapping.from_dict(plain) == mapping


def test_to_dict_of_defaults_is_empty() -> None:
    assert ColumnMapping().to_dict() == {}


def test_mapping_is_frozen() -> None:
    options = ContactColumns(types={"age": "integer"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        options.id_column = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        options.types["age"] = "text"  # type: ignore[index]


def test_mapping_or_keywords_not_both() -> None:
    mapping = ColumnMapping.from_dict({"contacts": {"id": "Prospect ID"}})
    with pytest.raises(TypeError, match="either as mapping= or as keyword arguments"):
        read_contacts("unused.csv", mapping=mapping, id_column="key")


def test_mapping_applies_to_reader() -> None:
    mapping = ColumnMapping.from_dict(
        {
            "contacts": {"id": "key", "types": {"zip": "text"}},
            "activities": {"contact": "who", "type": "what", "time": "when", "timezone": "UTC"},
        }
    )
    contacts = list(
        read_contacts(io.StringIO("key,zip\nc1,12345\n"), format="csv", mapping=mapping)
    )
    activities = list(
        read_activities(
            io.StringIO("who,what,when\nc1,visit,2024-01-01 10:00\n"),
            format="csv",
            mapping=mapping,
        )
    )

    assert contacts[0].id == "c1"
    assert contacts[0].profile == {"zip": "12345"}
    assert activities[0].contact_id == "c1"
    assert activities[0].type == "visit"
    assert activities[0].occurred_at.isoformat() == "2024-01-01T10:00:00+00:00"


def test_section_object_accepted_as_mapping() -> None:
    options = ContactColumns(id_column="key")
    contacts = list(read_contacts(io.StringIO("key,a\nc1,x\n"), format="csv", mapping=options))
    assert contacts[0].id == "c1"
    assert contacts[0].profile == {"a": "x"}
