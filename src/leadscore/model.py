"""Contacts, activities and durations: the frozen value types every other module speaks.

These classes validate their own fields and hold no scoring logic. Instants are
timezone-aware datetimes and are stored in UTC, so that comparing two instants never
depends on a time zone's daylight-saving rules. A naive datetime is kept as given, and
the engine either attaches its ``default_timezone`` or rejects it with a `DataError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

import attrs

__all__ = ["Activity", "Contact", "Duration", "FrozenMapping", "Threshold", "TimeUnit", "to_utc"]

UTC: Final = dt.UTC

TimeUnit = Literal["minutes", "hours", "days", "weeks", "months", "years"]

# Units that are a fixed number of seconds. Months and years are calendar steps instead.
EXACT_UNITS: Final[Mapping[str, dt.timedelta]] = MappingProxyType(
    {
        "minutes": dt.timedelta(minutes=1),
        "hours": dt.timedelta(hours=1),
        "days": dt.timedelta(days=1),
        "weeks": dt.timedelta(weeks=1),
    }
)
CALENDAR_UNITS: Final = frozenset({"months", "years"})


def to_utc(instant: dt.datetime) -> dt.datetime:
    """Convert an aware datetime to UTC and leave a naive one unchanged."""
    if not isinstance(instant, dt.datetime) or instant.tzinfo is None or instant.tzinfo is UTC:
        return instant  # anything but a datetime is left for the validator to reject
    return instant.astimezone(UTC)


class FrozenMapping(dict[str, Any]):
    """A dict that rejects changes: the profile of a contact or the attributes of an activity.

    It subclasses dict rather than wrapping one because scoring reads these mappings
    in its innermost loops, and dict's own ``get`` is the fastest lookup Python has.
    """

    __slots__ = ()

    def _reject(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "contacts and activities are immutable; use attrs.evolve to make a changed copy"
        )

    __setitem__ = __delitem__ = _reject
    clear = pop = popitem = setdefault = update = _reject
    __ior__ = _reject

    def __repr__(self) -> str:
        return f"FrozenMapping({dict.__repr__(self)})"

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMapping, (dict(self),))


_EMPTY: Final = FrozenMapping()


def _read_only_copy(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if mapping is None:
        return _EMPTY
    if mapping.__class__ is FrozenMapping:
        return mapping
    if not isinstance(mapping, Mapping):
        raise TypeError(f"expected a mapping of field name to value, got {type(mapping).__name__}")
    for key in mapping:
        if not isinstance(key, str):
            raise TypeError(f"field names must be text, got {key!r}")
    return FrozenMapping(mapping)


def _check_instant(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, dt.datetime):
        raise TypeError(
            f"{attribute.name} must be a datetime.datetime, got {type(value).__name__} {value!r}"
        )


def _check_id(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{attribute.name} must be non-empty text, got {value!r}")


@attrs.frozen
class Duration:
    """A length of time in one unit, such as 30 days or 1 month."""

    amount: int
    unit: TimeUnit

    def __attrs_post_init__(self) -> None:
        if self.unit not in EXACT_UNITS and self.unit not in CALENDAR_UNITS:
            raise ValueError(f"unknown time unit {self.unit!r}")

    @property
    def is_calendar(self) -> bool:
        """True for months and years, whose length depends on the date they start from."""
        return self.unit in CALENDAR_UNITS

    def as_timedelta(self) -> dt.timedelta:
        """Return the exact length; raises ValueError for months and years."""
        if self.is_calendar:
            raise ValueError(f"{self} is a calendar step, not a fixed length of time")
        return self.amount * EXACT_UNITS[self.unit]

    def __str__(self) -> str:
        unit = self.unit if self.amount != 1 else self.unit[:-1]
        return f"{self.amount} {unit}"


@attrs.frozen
class Contact:
    """A person or company being scored: an id and a profile of field values.

    Profile values are text, numbers, booleans, dates, datetimes, lists or nested
    mappings; ``None`` means the field is not set. Example::

        Contact("c-1", {"country": "CZ", "job_title": "Head of Marketing"})
    """

    id: str = attrs.field(validator=_check_id)
    profile: Mapping[str, Any] = attrs.field(factory=dict, converter=_read_only_copy)


@attrs.frozen
class Activity:
    """Something a contact did at an instant: a page visit, a download, an e-mail opened.

    The same ``id`` recorded twice counts once. Example::

        Activity("c-1", "page_visit", datetime(2026, 6, 1, 9, 30, tzinfo=UTC),
                 {"url": "https://example.com/pricing"}, id="evt-17")
    """

    contact_id: str = attrs.field(validator=_check_id)
    type: str = attrs.field(validator=_check_id)
    occurred_at: dt.datetime = attrs.field(validator=_check_instant, converter=to_utc)
    attributes: Mapping[str, Any] = attrs.field(factory=dict, converter=_read_only_copy)
    id: str | None = attrs.field(default=None, kw_only=False)

    @id.validator
    def _check_optional_id(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            _check_id(self, attribute, value)


@attrs.frozen
class Threshold:
    """A named score at which a contact reaches a level, such as MQL at 100."""

    name: str
    points: int
