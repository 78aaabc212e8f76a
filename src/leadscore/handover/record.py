"""The hand-over record: what a sink receives when a contact crosses a threshold upward.

A `HandOver` is a snapshot. It carries the contact's profile as it was at the
crossing, so it can still be delivered after the contact has been deleted. Its JSON
form (`HandOver.to_json`) is what the outbox stores and what the webhook sends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

import attrs

from leadscore.errors import DataError
from leadscore.handover._codec import decode_mapping, encode_mapping
from leadscore.model import Activity, Contact
from leadscore.scorecard import Award, RuleResult, ScoreCard, Threshold

__all__ = ["HandOver"]

# Written into every serialized hand-over, so a reader can reject a format it does not know.
FORMAT_VERSION: Final = 1

_KEY_PREFIX: Final = "leadscore.handover.v1"


def _snapshot(mapping: Mapping[str, Any] | None, name: str) -> Mapping[str, Any]:
    """Return a read-only deep copy that is known to survive the JSON round trip."""
    if mapping is None:
        return MappingProxyType({})
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{name} must be a mapping, got {type(mapping).__name__}")
    # Encoding checks every value, and decoding builds fresh lists and mappings, so a
    # caller who later changes a nested list does not change the hand-over.
    return MappingProxyType(decode_mapping(encode_mapping(mapping, name), name))


def _profile_snapshot(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return _snapshot(mapping, "profile")


def _details_snapshot(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return _snapshot(mapping, "details")


def _utc_instant(value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"at must be a datetime.datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"at must be timezone-aware, got the naive datetime {value.isoformat()}")
    return value.astimezone(dt.UTC)


def _non_empty_text(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{attribute.name} must be non-empty text, got {value!r}")


def _check_threshold(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Threshold):
        raise TypeError(f"threshold must be a Threshold, got {type(value).__name__}")


def _check_score(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"score must be an int, got {type(value).__name__}")


def _check_level(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"level must be text or None, got {type(value).__name__}")


def _breakdown_tuple(results: Iterable[RuleResult]) -> tuple[RuleResult, ...]:
    results = tuple(results)
    for result in results:
        if not isinstance(result, RuleResult):
            raise TypeError(
                f"breakdown must contain RuleResult values, got {type(result).__name__}"
            )
    return results


@attrs.frozen
class HandOver:
    """A contact handed over to sales: who, which threshold in which scoring, when, and why.

    ``key`` is the idempotency key: sinks pass it on (as ``Idempotency-Key``, Message-ID
    or file column) so that a receiver can drop a repeated delivery. Build one with
    `for_crossing` or `from_score_card` rather than by hand. Example::

        handover = HandOver.for_crossing(
            Contact("c-1", {"name": "Ann"}), scoring="fit", threshold=Threshold("MQL", 100),
            score=105, level="MQL", at=datetime(2026, 6, 1, 9, 30, tzinfo=UTC),
        )
    """

    key: str = attrs.field(validator=_non_empty_text)
    contact_id: str = attrs.field(validator=_non_empty_text)
    profile: Mapping[str, Any] = attrs.field(converter=_profile_snapshot)
    scoring: str = attrs.field(validator=_non_empty_text)
    threshold: Threshold = attrs.field(validator=_check_threshold)
    score: int = attrs.field(validator=_check_score)
    level: str | None = attrs.field(validator=_check_level)
    at: dt.datetime = attrs.field(converter=_utc_instant)
    breakdown: tuple[RuleResult, ...] = attrs.field(default=(), converter=_breakdown_tuple)
    details: Mapping[str, Any] = attrs.field(factory=dict, converter=_details_snapshot)

    @staticmethod
    def make_key(contact_id: str, scoring: str, threshold_name: str, at: dt.datetime) -> str:
        """Return the sha256 hex key of a crossing; the time zone of ``at`` does not change it."""
        instant = _utc_instant(at)
        # A JSON array keeps the parts apart, so ("a|b", "c") and ("a", "b|c") differ.
        parts = [_KEY_PREFIX, contact_id, scoring, threshold_name, instant.isoformat()]
        canonical = json.dumps(parts, ensure_ascii=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()

    @classmethod
    def for_crossing(
        cls,
        contact: Contact,
        *,
        scoring: str,
        threshold: Threshold,
        score: int,
        level: str | None,
        at: dt.datetime,
        breakdown: Iterable[RuleResult] = (),
        details: Mapping[str, Any] | None = None,
    ) -> HandOver:
        """Build the hand-over for ``contact`` crossing ``threshold`` upward at ``at``."""
        if not isinstance(contact, Contact):
            raise TypeError(f"contact must be a Contact, got {type(contact).__name__}")
        return cls(
            key=cls.make_key(contact.id, scoring, threshold.name, at),
            contact_id=contact.id,
            profile=contact.profile,
            scoring=scoring,
            threshold=threshold,
            score=score,
            level=level,
            at=at,
            breakdown=tuple(breakdown),
            details=details or {},
        )

    @classmethod
    def from_score_card(cls, contact: Contact, card: ScoreCard, threshold: Threshold) -> HandOver:
        """Build the hand-over from the score card computed at the crossing instant."""
        if card.contact_id != contact.id:
            raise ValueError(
                f"the score card is for contact {card.contact_id!r}, not {contact.id!r}"
            )
        return cls.for_crossing(
            contact,
            scoring=card.scoring,
            threshold=threshold,
            score=card.total,
            level=card.level,
            at=card.at,
            breakdown=card.breakdown,
        )

    def with_details(self, details: Mapping[str, Any]) -> HandOver:
        """Return a copy whose ``details`` are the current ones updated with ``details``."""
        return attrs.evolve(self, details={**self.details, **details})

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data that `from_dict` turns back into an equal hand-over.

        Instants are ISO 8601 text. Dates and other non-JSON values in ``profile``,
        ``details`` and activity attributes are tagged objects such as
        ``{"$date": "2026-06-01"}``.
        """
        return {
            "version": FORMAT_VERSION,
            "key": self.key,
            "contact_id": self.contact_id,
            "scoring": self.scoring,
            "threshold": {"name": self.threshold.name, "points": self.threshold.points},
            "score": self.score,
            "level": self.level,
            "at": self.at.isoformat(),
            "profile": encode_mapping(self.profile, "profile"),
            "details": encode_mapping(self.details, "details"),
            "breakdown": [_rule_result_to_dict(result) for result in self.breakdown],
        }

    def to_json(self) -> str:
        """Return the hand-over as one line of JSON (UTF-8 text, no line breaks)."""
        return json.dumps(
            self.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HandOver:
        """Rebuild a hand-over from `to_dict` output; raises DataError naming the bad field."""
        reader = _Reader(data, "hand-over")
        version = reader.get("version", int)
        if version != FORMAT_VERSION:
            raise DataError(
                f"unsupported hand-over format version {version}; this leadscore reads "
                f"version {FORMAT_VERSION}",
                field="version",
            )

        threshold = _Reader(reader.get("threshold", dict), "threshold")
        try:
            return cls(
                key=reader.get("key", str),
                contact_id=reader.get("contact_id", str),
                profile=decode_mapping(reader.get("profile", dict), "profile"),
                scoring=reader.get("scoring", str),
                threshold=Threshold(threshold.get("name", str), threshold.get("points", int)),
                score=reader.get("score", int),
                level=reader.get_optional("level", str),
                at=reader.get_instant("at"),
                breakdown=tuple(
                    _rule_result_from_dict(item, f"breakdown[{i}]")
                    for i, item in enumerate(reader.get("breakdown", list))
                ),
                details=decode_mapping(reader.get("details", dict), "details"),
            )
        except (TypeError, ValueError) as error:
            if isinstance(error, DataError):
                raise
            raise DataError(f"invalid hand-over: {error}") from error

    @classmethod
    def from_json(cls, text: str | bytes) -> HandOver:
        """Rebuild a hand-over from `to_json` output; raises DataError if it is not one."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise DataError(f"hand-over JSON does not parse: {error}") from error
        if not isinstance(data, dict):
            raise DataError(f"hand-over JSON must be an object, got {type(data).__name__}")
        return cls.from_dict(data)


def _rule_result_to_dict(result: RuleResult) -> dict[str, Any]:
    return {
        "rule": result.rule,
        "kind": result.kind,
        "points": result.points,
        "met": result.met,
        "capped": result.capped,
        "awards": [_award_to_dict(award) for award in result.awards],
    }


def _award_to_dict(award: Award) -> dict[str, Any]:
    activity = award.activity
    return {
        "activity_id": activity.id,
        "activity_type": activity.type,
        "contact_id": activity.contact_id,
        "occurred_at": activity.occurred_at.isoformat(),
        "attributes": encode_mapping(activity.attributes, "attributes"),
        "points": award.points,
        "expires_at": award.expires_at.isoformat() if award.expires_at is not None else None,
    }


def _rule_result_from_dict(data: Any, path: str) -> RuleResult:
    reader = _Reader(data, path)
    kind = reader.get("kind", str)
    if kind not in ("profile", "activity"):
        raise DataError(f"kind must be 'profile' or 'activity', got {kind!r}", field=f"{path}.kind")
    return RuleResult(
        rule=reader.get("rule", str),
        kind=kind,
        points=reader.get("points", int),
        met=reader.get("met", bool),
        capped=reader.get("capped", bool),
        awards=tuple(
            _award_from_dict(item, f"{path}.awards[{i}]")
            for i, item in enumerate(reader.get("awards", list))
        ),
    )


def _award_from_dict(data: Any, path: str) -> Award:
    reader = _Reader(data, path)
    activity = Activity(
        contact_id=reader.get("contact_id", str),
        type=reader.get("activity_type", str),
        occurred_at=reader.get_instant("occurred_at"),
        attributes=decode_mapping(reader.get("attributes", dict), f"{path}.attributes"),
        id=reader.get_optional("activity_id", str),
    )
    expires_at = None
    if reader.get_optional("expires_at", str) is not None:
        expires_at = reader.get_instant("expires_at")
    return Award(activity=activity, points=reader.get("points", int), expires_at=expires_at)


class _Reader:
    """Typed access to one JSON object, raising DataError with the field's path."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise DataError(f"expected a JSON object, got {type(data).__name__}", field=path)
        self._data = data
        self._path = path

    def get(self, name: str, kind: type[Any]) -> Any:
        if name not in self._data:
            raise DataError("missing field", field=f"{self._path}.{name}")
        value = self._data[name]
        # JSON true/false are Python bools, and bool is a subclass of int.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise DataError(
                f"expected {kind.__name__}, got {type(value).__name__}",
                field=f"{self._path}.{name}",
            )
        return value

    def get_optional(self, name: str, kind: type[Any]) -> Any:
        if self._data.get(name) is None:
            return None
        return self.get(name, kind)

    def get_instant(self, name: str) -> dt.datetime:
        text = self.get(name, str)
        try:
            instant = dt.datetime.fromisoformat(text)
        except ValueError as error:
            raise DataError("invalid ISO 8601 instant", field=f"{self._path}.{name}") from error
        if instant.tzinfo is None:
            raise DataError("instant has no UTC offset", field=f"{self._path}.{name}")
        return instant
