"""Column mappings: the columns of an export that contain ids, types and times, and cell conversion.

A `ColumnMapping` can come from keyword arguments or from a plain mapping kept in a
TOML, YAML or JSON config file. Its plain form uses short keys::

    {"contacts": {"id": "Prospect ID", "types": {"TotalVisits": "number"}},
     "activities": {"contact": "user_id", "type": "event_type", "time": "event_time"}}
"""

from __future__ import annotations

import codecs
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar, Final, TypeVar, cast

import attrs

from leadscore.errors import ConfigError
from leadscore.loaders.values import FIELD_TYPES, TIME_FORMATS, FieldType

__all__ = [
    "ActivityColumns",
    "ColumnMapping",
    "ColumnSelection",
    "ContactColumns",
    "choose_options",
]

# A list of column names keeps them as they are. A mapping renames each column to a
# field name, for example {"Total Time Spent on Website": "time_on_site"}.
ColumnSelection = Sequence[str] | Mapping[str, str]

# Keys of the plain form, mapped to attribute names where the two differ.
_CONTACT_KEYS: Final[Mapping[str, str]] = {
    "id": "id_column",
    "columns": "columns",
    "types": "types",
    "placeholders": "placeholders",
    "list_separator": "list_separator",
    "infer_types": "infer_types",
    "delimiter": "delimiter",
    "encoding": "encoding",
}
_ACTIVITY_KEYS: Final[Mapping[str, str]] = {
    "contact": "contact_column",
    "type": "type_column",
    "time": "time_column",
    "id": "id_column",
    "timezone": "timezone",
    "timezone_column": "timezone_column",
    "time_format": "time_format",
    "attributes": "attributes",
    "types": "types",
    "placeholders": "placeholders",
    "list_separator": "list_separator",
    "infer_types": "infer_types",
    "delimiter": "delimiter",
    "encoding": "encoding",
}
# Keys whose value may be switched off. TOML has no null, so false stands for None there.
_OPTIONAL_KEYS: Final = frozenset(
    {"id", "columns", "attributes", "delimiter", "timezone", "timezone_column", "time_format"}
)


def _key_for(section: str, attribute: str) -> str:
    keys = _CONTACT_KEYS if section == "contacts" else _ACTIVITY_KEYS
    for key, name in keys.items():
        if name == attribute:
            return key
    return attribute


def _to_selection(value: Any, section: str, key: str) -> Mapping[str, str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise ConfigError(
            f"expected a list of column names or a mapping of column to field name, "
            f"got the text {value!r}; write [{value!r}]",
            (section, key),
        )

    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, Iterable):
        pairs = [(name, name) for name in value]
    else:
        raise ConfigError(
            f"expected a list of column names or a mapping, got {type(value).__name__}",
            (section, key),
        )

    selection: dict[str, str] = {}
    for column, field in pairs:
        if not isinstance(column, str) or not column:
            raise ConfigError(f"expected column names as text, got {column!r}", (section, key))
        if not isinstance(field, str) or not field:
            raise ConfigError(
                f"expected a field name as text, got {field!r}", (section, key, column)
            )
        if column in selection:
            raise ConfigError(f"column {column!r} is listed twice", (section, key))
        selection[column] = field

    columns_by_field: dict[str, str] = {}
    for column, field in selection.items():
        if field in columns_by_field:
            raise ConfigError(
                f"columns {columns_by_field[field]!r} and {column!r} are both mapped to "
                f"field {field!r}",
                (section, key),
            )
        columns_by_field[field] = column
    return MappingProxyType(selection)


def _to_types(value: Any, section: str) -> Mapping[str, FieldType]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"expected a mapping of column name to type, got {type(value).__name__}",
            (section, "types"),
        )

    types: dict[str, FieldType] = {}
    for column, field_type in value.items():
        if not isinstance(column, str) or not column:
            raise ConfigError(f"expected column names as text, got {column!r}", (section, "types"))
        if field_type not in FIELD_TYPES:
            raise ConfigError(
                f"unknown type {field_type!r}; the types are {', '.join(FIELD_TYPES)}",
                (section, "types", column),
            )
        types[column] = cast(FieldType, field_type)
    return MappingProxyType(types)


def _to_placeholders(value: Any, section: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigError(
            f"expected a list of placeholder texts such as ['Select'], got {value!r}",
            (section, "placeholders"),
        )
    placeholders = tuple(value)
    for placeholder in placeholders:
        if not isinstance(placeholder, str) or not placeholder.strip():
            raise ConfigError(
                f"expected non-blank text, got {placeholder!r}", (section, "placeholders")
            )
    return placeholders


# attrs converters must be named functions for mypy's attrs plugin, hence one per section.
def _contact_columns(value: ColumnSelection | None) -> Mapping[str, str] | None:
    return _to_selection(value, "contacts", "columns")


def _contact_types(value: Mapping[str, str] | None) -> Mapping[str, FieldType]:
    return _to_types(value, "contacts")


def _contact_placeholders(value: Iterable[str]) -> tuple[str, ...]:
    return _to_placeholders(value, "contacts")


def _activity_attributes(value: ColumnSelection | None) -> Mapping[str, str] | None:
    return _to_selection(value, "activities", "attributes")


def _activity_types(value: Mapping[str, str] | None) -> Mapping[str, FieldType]:
    return _to_types(value, "activities")


def _activity_placeholders(value: Iterable[str]) -> tuple[str, ...]:
    return _to_placeholders(value, "activities")


def _path(instance: Any, attribute: attrs.Attribute[Any]) -> tuple[str, str]:
    section: str = instance.section
    return (section, _key_for(section, attribute.name))


def _check_column(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"expected a column name, got {value!r}", _path(instance, attribute))


def _check_optional_column(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _check_column(instance, attribute, value)


def _check_flag(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"expected true or false, got {value!r}", _path(instance, attribute))


def _check_list_separator(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"expected non-empty text, got {value!r}", _path(instance, attribute))


def _check_delimiter(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or len(value) != 1 or value in '"\r\n':
        raise ConfigError(
            f"expected one character such as ',' or ';' (or nothing, to detect it), got {value!r}",
            _path(instance, attribute),
        )


def _check_encoding(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    try:
        codecs.lookup(value)
    except (LookupError, TypeError):
        raise ConfigError(
            f"unknown text encoding {value!r}; use a Python codec name such as 'utf-8' or 'cp1252'",
            _path(instance, attribute),
        ) from None


def _check_timezone(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ConfigError(
            f"unknown time zone {value!r}; use an IANA name such as 'Europe/Prague' or 'UTC'",
            _path(instance, attribute),
        ) from None


def _check_time_format(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None or value in TIME_FORMATS:
        return
    if not isinstance(value, str) or "%" not in value:
        raise ConfigError(
            "expected 'unix', 'unix_ms' or a strptime pattern such as '%d/%m/%Y %H:%M', "
            f"got {value!r}",
            _path(instance, attribute),
        )


def _check_types_apply(
    section: str,
    types: Mapping[str, FieldType],
    selection: Mapping[str, str] | None,
    fixed: Mapping[str, str | None],
) -> None:
    """Reject types for the id, contact, type or time columns and for columns not selected."""
    for column in types:
        for role, fixed_column in fixed.items():
            if column == fixed_column:
                raise ConfigError(
                    f"column {column!r} is the {role} column, whose conversion is fixed; "
                    "remove it from types",
                    (section, "types", column),
                )
        if selection is not None and column not in selection:
            raise ConfigError(
                f"column {column!r} is not among the selected columns, so its type is never used",
                (section, "types", column),
            )


def _check_options(section: str, data: Any) -> dict[str, Any]:
    """Translate a plain mapping's keys to keyword arguments, rejecting unknown keys."""
    if data is None:
        return {}  # an empty section in YAML reads as null
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping of options, got {type(data).__name__}", (section,))

    keys = _CONTACT_KEYS if section == "contacts" else _ACTIVITY_KEYS
    options: dict[str, Any] = {}
    for key, value in data.items():
        if key not in keys:
            raise ConfigError(
                f"unknown key {key!r}; the known keys are {', '.join(keys)}", (section, str(key))
            )
        if value is False and key in _OPTIONAL_KEYS:
            value = None
        options[keys[key]] = value
    return options


def _plain_options(instance: Any, keys: Mapping[str, str]) -> dict[str, Any]:
    """Return the options that differ from the defaults, under their plain keys."""
    defaults = type(instance)()
    plain: dict[str, Any] = {}
    for key, name in keys.items():
        value = getattr(instance, name)
        if value == getattr(defaults, name):
            continue
        if value is None:
            plain[key] = False
        elif isinstance(value, Mapping):
            plain[key] = dict(value)
        elif isinstance(value, tuple):
            plain[key] = list(value)
        else:
            plain[key] = value
    return plain


@attrs.frozen(kw_only=True)
class ContactColumns:
    """Options for reading contacts: the id column, the profile columns and cell conversion.

    ``id_column=None`` gives each contact its row number as id. Example::

        ContactColumns(id_column="Prospect ID", types={"TotalVisits": "number"})
    """

    section: ClassVar[str] = "contacts"

    id_column: str | None = attrs.field(default="id", validator=_check_optional_column)
    columns: Mapping[str, str] | None = attrs.field(default=None, converter=_contact_columns)
    types: Mapping[str, FieldType] = attrs.field(factory=dict, converter=_contact_types)
    placeholders: tuple[str, ...] = attrs.field(
        default=("Select",), converter=_contact_placeholders
    )
    list_separator: str = attrs.field(default=";", validator=_check_list_separator)
    infer_types: bool = attrs.field(default=True, validator=_check_flag)
    delimiter: str | None = attrs.field(default=None, validator=_check_delimiter)
    encoding: str = attrs.field(default="utf-8", validator=_check_encoding)

    def __attrs_post_init__(self) -> None:
        _check_types_apply(self.section, self.types, self.columns, {"id": self.id_column})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ContactColumns:
        """Build contact options from a plain mapping with the keys of the config file.

        Example: ``ContactColumns.from_dict({"id": "Prospect ID"})``.
        """
        return cls(**_check_options(cls.section, data))

    def to_dict(self) -> dict[str, Any]:
        """Return the options that differ from the defaults, keyed as in a config file."""
        return _plain_options(self, _CONTACT_KEYS)


@attrs.frozen(kw_only=True)
class ActivityColumns:
    """Options for reading activities: contact, type and time columns, time zones and attributes.

    Naive timestamps get ``timezone`` or the zone named in ``timezone_column``. Example::

        ActivityColumns(contact_column="user_id", type_column="event_type",
                        time_column="event_time", timezone="Europe/Prague")
    """

    section: ClassVar[str] = "activities"

    contact_column: str = attrs.field(default="contact_id", validator=_check_column)
    type_column: str = attrs.field(default="type", validator=_check_column)
    time_column: str = attrs.field(default="occurred_at", validator=_check_column)
    id_column: str | None = attrs.field(default=None, validator=_check_optional_column)
    timezone: str | None = attrs.field(default=None, validator=_check_timezone)
    timezone_column: str | None = attrs.field(default=None, validator=_check_optional_column)
    time_format: str | None = attrs.field(default=None, validator=_check_time_format)
    attributes: Mapping[str, str] | None = attrs.field(default=None, converter=_activity_attributes)
    types: Mapping[str, FieldType] = attrs.field(factory=dict, converter=_activity_types)
    placeholders: tuple[str, ...] = attrs.field(
        default=("Select",), converter=_activity_placeholders
    )
    list_separator: str = attrs.field(default=";", validator=_check_list_separator)
    infer_types: bool = attrs.field(default=True, validator=_check_flag)
    delimiter: str | None = attrs.field(default=None, validator=_check_delimiter)
    encoding: str = attrs.field(default="utf-8", validator=_check_encoding)

    def __attrs_post_init__(self) -> None:
        fixed = {
            "contact": self.contact_column,
            "type": self.type_column,
            "time": self.time_column,
            "id": self.id_column,
            "timezone": self.timezone_column,
        }
        roles: dict[str, str] = {}
        for role, column in fixed.items():
            if column is None:
                continue
            if column in roles:
                raise ConfigError(
                    f"column {column!r} is given as both the {roles[column]} and the {role} column",
                    (self.section, role),
                )
            roles[column] = role
        _check_types_apply(self.section, self.types, self.attributes, fixed)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ActivityColumns:
        """Build activity options from a plain mapping with the keys of the config file.

        Example: ``ActivityColumns.from_dict({"contact": "user_id"})``.
        """
        return cls(**_check_options(cls.section, data))

    def to_dict(self) -> dict[str, Any]:
        """Return the options that differ from the defaults, keyed as in a config file."""
        return _plain_options(self, _ACTIVITY_KEYS)


@attrs.frozen(kw_only=True)
class ColumnMapping:
    """Contact and activity options together, as kept in a config file.

    Example::

        ColumnMapping.from_dict({"contacts": {"id": "Prospect ID"},
                                 "activities": {"contact": "user_id", "time": "event_time"}})
    """

    contacts: ContactColumns = attrs.field(factory=ContactColumns)
    activities: ActivityColumns = attrs.field(factory=ActivityColumns)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnMapping:
        """Build a mapping from plain data. Unknown keys raise ConfigError naming the key path."""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"expected a mapping with contacts and activities, got {type(data).__name__}"
            )
        for key in data:
            if key not in ("contacts", "activities"):
                raise ConfigError(
                    f"unknown key {key!r}; the known keys are contacts, activities", (str(key),)
                )
        return cls(
            contacts=ContactColumns.from_dict(data.get("contacts")),
            activities=ActivityColumns.from_dict(data.get("activities")),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the options that differ from the defaults as plain data for `from_dict`."""
        plain: dict[str, Any] = {}
        contacts = self.contacts.to_dict()
        activities = self.activities.to_dict()
        if contacts:
            plain["contacts"] = contacts
        if activities:
            plain["activities"] = activities
        return plain


Options = TypeVar("Options", ContactColumns, ActivityColumns)


def choose_options(mapping: Options | None, keywords: Options) -> Options:
    """Return ``mapping``, or the options built from keywords when it is None.

    Passing ``mapping`` together with a keyword that differs from its default raises
    TypeError, because one of the two would be silently ignored.
    """
    if mapping is None:
        return keywords
    if keywords != type(keywords)():
        # NOTE: a keyword passed with its default value cannot be distinguished from an omitted one.
        raise TypeError(
            "pass the column options either as mapping= or as keyword arguments, not both; "
            "to change one option of a mapping, use attrs.evolve(mapping.contacts, delimiter=';')"
        )
    return mapping
