"""``leadscore score --handover`` through the console script: notify once and the library's hand-overs.

Contact c-1 requests a demo on 1 June, which lifts it to MQL. The award expires after
7 days, so c-1 drops below MQL on 8 June, and a second demo request on 20 June lifts
it again. Contact c-2 has no activities and never reaches MQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from cli_helpers import run_console_script, write_text

import leadscore
from leadscore.handover import CallbackSink, HandOver, HandOverPipeline, read_jsonl
from leadscore.model import Activity

RULES_NOTIFY_ONCE = """\
scoring "Sales" {
    threshold "MQL" at 20
    notify once
    rule "Demo request" { on demo_request award 20 expire after 7 days }
    rule "Partner" { when contact.partner == "yes" award 20 }
}
"""

RULES_EACH_CROSSING = RULES_NOTIFY_ONCE.replace("    notify once\n", "")

CONTACTS = """\
id,partner
c-1,no
c-2,no
"""

ACTIVITIES = """\
contact_id,type,occurred_at
c-1,demo_request,2026-06-01T09:00:00Z
c-1,demo_request,2026-06-20T09:00:00Z
"""

AT = "2026-06-22T00:00:00Z"
FIRST_CROSSING = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
SECOND_CROSSING = dt.datetime(2026, 6, 20, 9, tzinfo=dt.UTC)


def score_with_handover(
    folder: Path, rules: str, handover: Path, *, contacts: bool = True, at: str = AT
) -> tuple[int, str]:
    """Run ``leadscore score`` on the sample files and return the exit code and stderr."""
    rules_path = write_text(folder / "rules.lead", rules)
    activities_path = write_text(folder / "activities.csv", ACTIVITIES)
    inputs = ["--activities", activities_path]
    if contacts:
        inputs += ["--contacts", write_text(folder / "contacts.csv", CONTACTS)]
    result = run_console_script(
        "score", rules_path, *inputs, "--at", at, "--format", "csv", "--handover", handover
    )
    return result.returncode, result.stderr


@pytest.mark.parametrize("contacts", [True, False], ids=["contacts", "activities-only"])
def test_handover_notify_once_first_crossing(tmp_path: Path, contacts: bool) -> None:
    path = tmp_path / "handovers.jsonl"
    code, stderr = score_with_handover(tmp_path, RULES_NOTIFY_ONCE, path, contacts=contacts)

    assert code == 0, stderr
    lines = path.read_text("utf-8").splitlines()
    assert len(lines) == 1
    handover = HandOver.from_json(lines[0])
    assert handover.contact_id == "c-1"
    assert handover.at == FIRST_CROSSING
    assert handover.key == HandOver.make_key("c-1", "Sales", "MQL", FIRST_CROSSING)
    assert "wrote 1 hand-over to" in stderr
    assert "skipped 1 repeat crossing (notify once)" in stderr


@pytest.mark.parametrize("contacts", [True, False], ids=["contacts", "activities-only"])
def test_handover_each_crossing(tmp_path: Path, contacts: bool) -> None:
    path = tmp_path / "handovers.jsonl"
    code, stderr = score_with_handover(tmp_path, RULES_EACH_CROSSING, path, contacts=contacts)

    assert code == 0, stderr
    lines = path.read_text("utf-8").splitlines()
    assert len(lines) == 2
    handovers = [HandOver.from_json(line) for line in lines]
    assert [h.contact_id for h in handovers] == ["c-1", "c-1"]
    assert [h.at for h in handovers] == [FIRST_CROSSING, SECOND_CROSSING]
    assert [h.key for h in handovers] == [
        HandOver.make_key("c-1", "Sales", "MQL", FIRST_CROSSING),
        HandOver.make_key("c-1", "Sales", "MQL", SECOND_CROSSING),
    ]
    assert "wrote 2 hand-overs to" in stderr
    assert "notify once" not in stderr


def test_handover_drops_between_crossings(tmp_path: Path) -> None:
    # As of 10 June the first award has expired and the second request has not come.
    rules = write_text(tmp_path / "rules.lead", RULES_EACH_CROSSING)
    activities = write_text(tmp_path / "activities.csv", ACTIVITIES)
    result = run_console_script(
        "score", rules, "--activities", activities, "--at", "2026-06-10T00:00:00Z",
        "--format", "csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "c-1,0,"


def test_handover_notify_once_csv(tmp_path: Path) -> None:
    path = tmp_path / "handovers.csv"
    code, stderr = score_with_handover(tmp_path, RULES_NOTIFY_ONCE, path)

    assert code == 0, stderr
    rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
    assert len(rows) == 1
    assert rows[0]["contact_id"] == "c-1"
    assert rows[0]["at"] == FIRST_CROSSING.isoformat()


@pytest.mark.parametrize(
    "rules", [RULES_NOTIFY_ONCE, RULES_EACH_CROSSING], ids=["notify-once", "each-crossing"]
)
def test_handover_matches_library_pipeline(tmp_path: Path, rules: str) -> None:
    # c-2 is a partner without activities, so its profile alone lifts it to MQL at --at.
    contacts = CONTACTS.replace("c-2,no", "c-2,yes")
    write_text(tmp_path / "contacts.csv", contacts)
    path = tmp_path / "handovers.jsonl"
    rules_path = write_text(tmp_path / "rules.lead", rules)
    activities_path = write_text(tmp_path / "activities.csv", ACTIVITIES)
    result = run_console_script(
        "score", rules_path, "--contacts", tmp_path / "contacts.csv",
        "--activities", activities_path, "--at", AT, "--handover", path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    # The same data through HandOverPipeline: the command registers each contact with
    # its profile at its first activity, or at --at when it has none.
    expected: list[HandOver] = []
    pipeline = HandOverPipeline(
        leadscore.compile(rules),
        routes={"*": {"*": ["list"]}},
        sinks={"list": CallbackSink(expected.append)},
    )
    at = dt.datetime(2026, 6, 22, tzinfo=dt.UTC)
    tracker = pipeline.tracker
    tracker.update_profile("c-1", {"partner": "no"}, at=FIRST_CROSSING)
    tracker.record_many(
        [
            Activity("c-1", "demo_request", FIRST_CROSSING),
            Activity("c-1", "demo_request", SECOND_CROSSING),
        ]
    )
    tracker.update_profile("c-2", {"partner": "yes"}, at=at)
    tracker.advance(at)
    pipeline.run_pending()
    pipeline.close()

    written = list(read_jsonl(path))
    assert [h.to_dict() for h in written] == [h.to_dict() for h in expected]
    assert len(written) == (2 if rules is RULES_NOTIFY_ONCE else 3)


def test_handover_failed_write_stops(tmp_path: Path) -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("needs /dev/full, where every write fails with 'No space left on device'")
    path = tmp_path / "handovers.jsonl"
    path.symlink_to(full)
    code, stderr = score_with_handover(tmp_path, RULES_NOTIFY_ONCE, path)

    assert code == 2
    assert "could not append hand-over" in stderr
    assert "No space left on device" in stderr
    assert "dead letter" not in stderr
    assert "Traceback" not in stderr


def test_handover_folder_rejected(tmp_path: Path) -> None:
    path = tmp_path / "handovers.jsonl"
    path.mkdir()
    code, stderr = score_with_handover(tmp_path, RULES_NOTIFY_ONCE, path)

    assert code == 2
    assert "is a folder; give the path of a file" in stderr


def test_handover_decay_without_activities(tmp_path: Path) -> None:
    # Contacts scored without activities by rules with decay are handed over too.
    rules = write_text(
        tmp_path / "rules.lead",
        'scoring "Sales" {\n'
        '    threshold "MQL" at 20\n'
        "    decay 50% every 30 days\n"
        '    rule "Demo request" { on demo_request award 20 }\n'
        '    rule "Partner" { when contact.partner == "yes" award 20 }\n'
        "}\n",
    )
    contacts = write_text(tmp_path / "contacts.csv", CONTACTS.replace("c-2,no", "c-2,yes"))
    path = tmp_path / "handovers.jsonl"
    result = run_console_script(
        "score", rules, "--contacts", contacts, "--at", AT, "--format", "csv", "--handover", path
    )

    assert result.returncode == 0, result.stderr
    assert [h.contact_id for h in read_jsonl(path)] == ["c-2"]


def test_handover_decay_with_activities(tmp_path: Path) -> None:
    # A demo request worth 40 halves every 10 days: below MQL (30) on 11 June, so the
    # second request on 20 June (20 + 40 points) is a new crossing.
    rules = (
        'scoring "Sales" {\n'
        '    threshold "MQL" at 30\n'
        '    rule "Demo request" { on demo_request award 40 decay 50% every 10 days }\n'
        "}\n"
    )
    path = tmp_path / "handovers.jsonl"
    code, stderr = score_with_handover(tmp_path, rules, path)

    assert code == 0, stderr
    assert [(h.contact_id, h.at, h.score) for h in read_jsonl(path)] == [
        ("c-1", FIRST_CROSSING, 40),
        ("c-1", SECOND_CROSSING, 60),
    ]
