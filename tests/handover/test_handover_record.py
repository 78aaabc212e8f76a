"""HandOver: the idempotency key, the snapshot and the exact JSON round trip."""

from __future__ import annotations

import ast
import datetime as dt
import decimal
import json
import subprocess
import sys
import zoneinfo
from pathlib import Path

import pytest
from handover_helpers import CROSSED_AT, make_handover
from hypothesis import given, settings
from hypothesis import strategies as st

import leadscore.handover
from leadscore.errors import DataError
from leadscore.handover import HandOver
from leadscore.model import Contact
from leadscore.scorecard import ScoreCard, Threshold


def test_key_is_sha256_hex_of_crossing() -> None:
    key = HandOver.make_key("c-1", "fit", "MQL", CROSSED_AT)

    assert len(key) == 64
    assert int(key, 16) >= 0
    assert key == HandOver.make_key("c-1", "fit", "MQL", CROSSED_AT)


def test_key_changes_with_each_fact() -> None:
    base = HandOver.make_key("c-1", "fit", "MQL", CROSSED_AT)

    assert HandOver.make_key("c-2", "fit", "MQL", CROSSED_AT) != base
    assert HandOver.make_key("c-1", "engagement", "MQL", CROSSED_AT) != base
    assert HandOver.make_key("c-1", "fit", "SQL", CROSSED_AT) != base
    assert HandOver.make_key("c-1", "fit", "MQL", CROSSED_AT + dt.timedelta(seconds=1)) != base


def test_key_keeps_parts_apart() -> None:
    assert HandOver.make_key("a|b", "c", "MQL", CROSSED_AT) != HandOver.make_key(
        "a", "b|c", "MQL", CROSSED_AT
    )


def test_key_ignores_time_zone_of_instant() -> None:
    prague = CROSSED_AT.astimezone(zoneinfo.ZoneInfo("Europe/Prague"))

    assert HandOver.make_key("c-1", "fit", "MQL", prague) == HandOver.make_key(
        "c-1", "fit", "MQL", CROSSED_AT
    )


def test_for_crossing_fills_fields() -> None:
    handover = make_handover()

    assert handover.contact_id == "c-1"
    assert handover.scoring == "fit"
    assert handover.threshold == Threshold("MQL", 100)
    assert handover.score == 105
    assert handover.level == "MQL"
    assert handover.at == CROSSED_AT
    assert handover.key == HandOver.make_key("c-1", "fit", "MQL", CROSSED_AT)
    assert handover.profile["name"] == "Ann Example"
    assert handover.details == {}
    assert [result.rule for result in handover.breakdown] == ["Job title", "Pricing page"]


def test_at_is_stored_in_utc() -> None:
    prague = CROSSED_AT.astimezone(zoneinfo.ZoneInfo("Europe/Prague"))

    handover = make_handover(at=prague)

    assert handover.at.utcoffset() == dt.timedelta(0)
    assert handover.at == CROSSED_AT


def test_naive_at_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_handover(at=dt.datetime(2026, 6, 1, 9, 30))


def test_profile_is_a_snapshot() -> None:
    tags = ["a"]
    source = {"tags": tags}

    handover = make_handover(contact=Contact("c-1", source))
    tags.append("b")

    assert handover.profile["tags"] == ["a"]
    with pytest.raises(TypeError):
        handover.profile["tags"] = []  # type: ignore[index]


def test_unsupported_profile_value_names_field_not_value() -> None:
    with pytest.raises(TypeError, match=r"profile\.secret_set") as caught:
        make_handover(contact=Contact("c-1", {"secret_set": {"hidden-value"}}))

    assert "hidden-value" not in str(caught.value)


def test_non_finite_float_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"profile\.ratio"):
        make_handover(contact=Contact("c-1", {"ratio": float("nan")}))


def test_json_round_trip_is_exact() -> None:
    profile = {
        "name": "Ann\r\nBcc: x@example.com",
        "signed_up": dt.date(2026, 1, 15),
        "last_seen": dt.datetime(2026, 5, 30, 8, 0, tzinfo=dt.UTC),
        "local_meeting": dt.datetime(2026, 5, 30, 10, 0),
        "call_at": dt.time(9, 15),
        "revenue": decimal.Decimal("1234.50"),
        "pair": ("x", 1),
        "tags": ["a", {"nested": dt.date(2025, 12, 31)}],
        "weird": {"$date": "not a date"},
        "ratio": 0.25,
        "active": True,
        "missing": None,
    }
    handover = make_handover(contact=Contact("c-1", profile)).with_details(
        {"owner": "Bob", "due": dt.date(2026, 6, 2)}
    )

    restored = HandOver.from_json(handover.to_json())

    assert restored == handover
    assert restored.profile["signed_up"] == dt.date(2026, 1, 15)
    assert type(restored.profile["pair"]) is tuple
    assert restored.profile["weird"] == {"$date": "not a date"}
    assert restored.breakdown[1].awards[0].activity.attributes["seconds"] == 42
    assert restored.details["due"] == dt.date(2026, 6, 2)


def test_json_is_one_line_with_iso_instants() -> None:
    handover = make_handover()

    text = handover.to_json()
    data = json.loads(text)

    assert "\n" not in text
    assert data["at"] == "2026-06-01T09:30:00+00:00"
    assert data["profile"]["signed_up"] == {"$date": "2026-01-15"}
    award = data["breakdown"][1]["awards"][0]
    assert award["activity_id"] == "evt-17"
    assert award["activity_type"] == "page_visit"
    assert award["occurred_at"] == "2026-05-30T08:00:00+00:00"
    assert award["attributes"] == {"url": "https://example.com/pricing", "seconds": 42}
    assert award["points"] == 30
    assert award["expires_at"] == "2026-06-29T08:00:00+00:00"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("key"), "hand-over.key"),
        (lambda d: d.update(score="105"), "hand-over.score"),
        (lambda d: d.update(score=True), "hand-over.score"),
        (lambda d: d.update(at="yesterday"), "hand-over.at"),
        (lambda d: d.update(at="2026-06-01T09:30:00"), "hand-over.at"),
        (lambda d: d["threshold"].pop("points"), "threshold.points"),
        (lambda d: d["breakdown"][0].update(kind="other"), "breakdown[0].kind"),
    ],
)
def test_from_dict_names_bad_field(change, field) -> None:  # type: ignore[no-untyped-def]
    data = make_handover().to_dict()
    change(data)

    with pytest.raises(DataError) as caught:
        HandOver.from_dict(data)

    assert caught.value.field == field


def test_from_dict_rejects_unknown_version() -> None:
    data = make_handover().to_dict()
    data["version"] = 2

    with pytest.raises(DataError, match="version 2"):
        HandOver.from_dict(data)


def test_from_dict_rejects_unknown_tag() -> None:
    data = make_handover().to_dict()
    data["profile"]["x"] = {"$future": "1"}

    with pytest.raises(DataError, match="unknown tag"):
        HandOver.from_dict(data)


def test_from_json_rejects_invalid_text() -> None:
    with pytest.raises(DataError, match="does not parse"):
        HandOver.from_json("{not json")
    with pytest.raises(DataError, match="must be an object"):
        HandOver.from_json("[1, 2]")


def test_from_score_card_uses_card_facts() -> None:
    source = make_handover()
    card = ScoreCard(
        scoring="fit",
        contact_id="c-1",
        at=CROSSED_AT,
        total=105,
        level="MQL",
        thresholds_reached=(Threshold("MQL", 100),),
        breakdown=source.breakdown,
        diagnostics=(),
    )

    contact = Contact("c-1", {"name": "Ann"})

    handover = HandOver.from_score_card(contact, card, Threshold("MQL", 100))

    assert handover.key == source.key
    assert handover.score == 105
    assert handover.breakdown == source.breakdown
    with pytest.raises(ValueError, match="not 'c-2'"):
        HandOver.from_score_card(Contact("c-2"), card, Threshold("MQL", 100))


def test_with_details_merges_and_keeps_key() -> None:
    handover = make_handover().with_details({"owner": "Bob"})

    enriched = handover.with_details({"region": "EU"})

    assert enriched.details == {"owner": "Bob", "region": "EU"}
    assert enriched.key == handover.key


_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.dates()
    | st.datetimes(timezones=st.none() | st.just(dt.UTC))
    | st.decimals(allow_nan=False, allow_infinity=False)
)
_profile_value = st.recursive(
    _json_leaf,
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(profile=st.dictionaries(st.text(max_size=8), _profile_value, max_size=5))
def test_any_profile_round_trips(profile) -> None:  # type: ignore[no-untyped-def]
    handover = make_handover(contact=Contact("c-1", profile))

    restored = HandOver.from_json(handover.to_json())

    assert restored == handover


def test_import_loads_no_optional_library() -> None:
    # A fresh interpreter, because this test process has already imported everything.
    # `import leadscore` runs first, so only what the hand-over package adds is judged.
    code = (
        "import sys, leadscore\n"
        "before = set(sys.modules)\n"
        "import leadscore.handover\n"
        "added = set(sys.modules) - before\n"
        "optional = ('simple_salesforce', 'apprise', 'requests', 'aiosmtpd')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in optional))\n"
        "print(sorted(m for m in added if m.startswith('leadscore.')"
        " and not m.startswith('leadscore.handover')))\n"
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    optional_loaded, other_leadscore_modules = result.stdout.splitlines()
    assert optional_loaded == "[]"
    assert other_leadscore_modules == "[]"


def test_package_imports_only_allowed_modules() -> None:
    allowed = {"leadscore.model", "leadscore.scorecard", "leadscore.errors"}
    # The pipeline wires a Tracker to the outbox, so it alone may import the tracker and
    # the engine. The package loads it only when HandOverPipeline is first used.
    allowed_in_pipeline = allowed | {"leadscore.engine", "leadscore.tracking"}
    package = Path(leadscore.handover.__file__).parent
    imported: dict[str, set[str]] = {}

    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # Only module-level statements run at import time; sinks import extras inside methods.
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.setdefault(path.name, set()).add(node.module)
            elif isinstance(node, ast.Import):
                imported.setdefault(path.name, set()).update(alias.name for alias in node.names)

    for name, modules in imported.items():
        for module in modules:
            top = module.split(".")[0]
            if module.startswith("leadscore.handover"):
                continue
            if top == "leadscore":
                permitted = allowed_in_pipeline if name == "pipeline.py" else allowed
                assert module in permitted, f"{name} imports {module}"
            else:
                assert top in sys.stdlib_module_names or top in {"attrs", "__future__"}, (
                    f"{name} imports {module} at import time"
                )
