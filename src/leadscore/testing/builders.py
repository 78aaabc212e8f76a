"""Builders that let a test read like its scenario: contacts, activities and relative instants.

``activity("page_visit", days_ago(3), url="https://example.com/pricing")`` is an
activity three days before whatever instant the test scores at. `assert_scores`
resolves such relative instants against its ``at``, and gives every activity built
without a contact the id of the contact it scores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, overload

import attrs

from leadscore.model import Activity, Contact

__all__ = [
    "DEFAULT_CONTACT_ID",
    "RelativeActivity",
    "RelativeInstant",
    "activity",
    "contact",
    "days_ago",
    "hours_ago",
    "minutes_ago",
    "resolve_activities",
    "weeks_ago",
]

# The id of a contact built without one, and of the contact of an activity built
# without one. `assert_scores` replaces it with the id of the contact it scores.
DEFAULT_CONTACT_ID = "test-contact"


@attrs.frozen
class RelativeInstant:
    """An instant given as a length of time before the scoring instant, such as 3 days ago."""

    ago: dt.timedelta

    def resolve(self, at: dt.datetime) -> dt.datetime:
        """Return the instant ``ago`` before ``at``."""
        return at - self.ago

    def __str__(self) -> str:
        return f"{self.ago} before the scoring instant"


@attrs.frozen
class RelativeActivity:
    """An activity whose time is relative to a scoring instant not known yet.

    ``contact_id`` is None when the activity was built without a contact; resolving
    it then gives it the id of the contact being scored.
    """

    type: str
    ago: RelativeInstant
    contact_id: str | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict)
    id: str | None = None

    def resolve(self, at: dt.datetime, contact_id: str = DEFAULT_CONTACT_ID) -> Activity:
        """Return the activity as it occurs relative to ``at``, for ``contact_id`` unless it has its own."""
        return Activity(
            self.contact_id or contact_id,
            self.type,
            self.ago.resolve(at),
            self.attributes,
            id=self.id,
        )


def _ago(amount: float, unit: str, at: dt.datetime | None) -> dt.datetime | RelativeInstant:
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise TypeError(f"{unit}_ago needs a number, got {amount!r}")
    if amount < 0:
        raise ValueError(
            f"{unit}_ago needs zero or more {unit}, got {amount}; "
            "pass an absolute datetime for an activity after the scoring instant"
        )
    relative = RelativeInstant(dt.timedelta(**{unit: amount}))
    return relative if at is None else relative.resolve(at)


@overload
def minutes_ago(amount: float) -> RelativeInstant: ...
@overload
def minutes_ago(amount: float, *, at: dt.datetime) -> dt.datetime: ...
def minutes_ago(amount: float, *, at: dt.datetime | None = None) -> dt.datetime | RelativeInstant:
    """Return the instant ``amount`` minutes before ``at``, or before the scoring instant."""
    return _ago(amount, "minutes", at)


@overload
def hours_ago(amount: float) -> RelativeInstant: ...
@overload
def hours_ago(amount: float, *, at: dt.datetime) -> dt.datetime: ...
def hours_ago(amount: float, *, at: dt.datetime | None = None) -> dt.datetime | RelativeInstant:
    """Return the instant ``amount`` hours before ``at``, or before the scoring instant."""
    return _ago(amount, "hours", at)


@overload
def days_ago(amount: float) -> RelativeInstant: ...
@overload
def days_ago(amount: float, *, at: dt.datetime) -> dt.datetime: ...
def days_ago(amount: float, *, at: dt.datetime | None = None) -> dt.datetime | RelativeInstant:
    """Return the instant ``amount`` days before ``at``, or before the scoring instant."""
    return _ago(amount, "days", at)


@overload
def weeks_ago(amount: float) -> RelativeInstant: ...
@overload
def weeks_ago(amount: float, *, at: dt.datetime) -> dt.datetime: ...
def weeks_ago(amount: float, *, at: dt.datetime | None = None) -> dt.datetime | RelativeInstant:
    """Return the instant ``amount`` weeks before ``at``, or before the scoring instant."""
    return _ago(amount, "weeks", at)


def contact(id: str | None = None, **profile: Any) -> Contact:
    """Build a contact from keyword fields; without ``id`` it gets `DEFAULT_CONTACT_ID`.

    A profile field that cannot be a keyword argument, such as ``id`` itself or
    ``"job title"``, is set with ``Contact(id, {...})`` instead.
    """
    return Contact(DEFAULT_CONTACT_ID if id is None else id, profile)


@overload
def activity(
    type: str,
    at: dt.datetime,
    contact: Contact | str | None = None,
    id: str | None = None,
    **attributes: Any,
) -> Activity: ...
@overload
def activity(
    type: str,
    at: RelativeInstant,
    contact: Contact | str | None = None,
    id: str | None = None,
    **attributes: Any,
) -> RelativeActivity: ...
def activity(
    type: str,
    at: dt.datetime | RelativeInstant,
    contact: Contact | str | None = None,
    id: str | None = None,
    **attributes: Any,
) -> Activity | RelativeActivity:
    """Build an activity of ``type`` at an instant or at a relative instant such as ``days_ago(3)``.

    Keyword arguments become the activity's attributes. ``contact`` is a Contact or a
    contact id. Without it the activity belongs to `DEFAULT_CONTACT_ID`, which
    `assert_scores` replaces with the id of the contact it scores. With a relative
    instant the result is a `RelativeActivity`, resolved when the scoring instant is known.
    """
    contact_id = contact.id if isinstance(contact, Contact) else contact
    if isinstance(at, RelativeInstant):
        return RelativeActivity(type, at, contact_id, attributes, id)
    if not isinstance(at, dt.datetime):
        raise TypeError(
            f"at must be a datetime or a relative instant such as days_ago(3), got {at!r}"
        )
    return Activity(contact_id or DEFAULT_CONTACT_ID, type, at, attributes, id=id)


def resolve_activities(
    activities: Iterable[Activity | RelativeActivity], at: dt.datetime, contact_id: str
) -> list[Activity]:
    """Resolve relative activities against ``at`` and give default-contact activities ``contact_id``."""
    resolved: list[Activity] = []
    for item in activities:
        if isinstance(item, RelativeActivity):
            resolved.append(item.resolve(at, contact_id))
        elif isinstance(item, Activity):
            if item.contact_id == DEFAULT_CONTACT_ID and contact_id != DEFAULT_CONTACT_ID:
                item = attrs.evolve(item, contact_id=contact_id)
            resolved.append(item)
        else:
            raise TypeError(
                f"expected an Activity or an activity(...) with a relative instant, got {item!r}"
            )
    return resolved
