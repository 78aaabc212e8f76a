"""``leadscore score`` run as a child process: formats, ranking, hand-overs, bad input, real data.

Expected totals of the sample files are worked out by hand in cli_helpers.RULES.
"""

from __future__ import annotations

import collections
import csv
import io
import json
import subprocess
from pathlib import Path

import pytest
from cli_helpers import ACTIVITIES, AT, BANK, CONTACTS, REES46, RULES, run_cli, write_text

import leadscore
from leadscore.handover import read_jsonl
from leadscore.loaders import read_activities, read_contacts


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def totals(text: str, scoring: str = "Fit") -> dict[str, tuple[str, str]]:
    return {
        row["contact_id"]: (row[f"{scoring} total"], row[f"{scoring} level"])
        for row in csv_rows(text)
    }


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """Score the sample contacts and activities as CSV once, for the tests that read it."""
    folder = tmp_path_factory.mktemp("sample")
    rules = write_text(folder / "rules.lead", RULES)
    contacts = write_text(folder / "contacts.csv", CONTACTS)
    activities = write_text(folder / "activities.csv", ACTIVITIES)
    return run_cli(
        "score", rules, "--contacts", contacts, "--activities", activities,
        "--at", AT, "--format", "csv",
    )  # fmt: skip


# ---------------------------------------------------------------- formats


def test_score_csv_totals(sample_run: subprocess.CompletedProcess[str]) -> None:
    result = sample_run
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "contact_id,Fit total,Fit level"
    assert totals(result.stdout) == {
        "c-1": ("40", "Hot"),
        "c-2": ("10", "Warm"),
        "c-3": ("15", "Warm"),
        "c-4": ("15", "Warm"),
    }


def test_score_keeps_file_order(sample_run: subprocess.CompletedProcess[str]) -> None:
    result = sample_run
    assert [row["contact_id"] for row in csv_rows(result.stdout)] == ["c-1", "c-2", "c-3", "c-4"]


def test_score_contacts_only(rules_file: Path, contacts_file: Path) -> None:
    result = run_cli("score", rules_file, "--contacts", contacts_file, "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert totals(result.stdout) == {
        "c-1": ("25", "Warm"),
        "c-2": ("0", ""),
        "c-3": ("10", "Warm"),
        "c-4": ("15", "Warm"),
    }


def test_score_activities_only(rules_file: Path, activities_file: Path) -> None:
    result = run_cli(
        "score", rules_file, "--activities", activities_file, "--at", AT, "--format", "csv"
    )
    assert result.returncode == 0, result.stderr
    # Without profiles only the pricing visits count: c-1 capped at 15.
    assert totals(result.stdout) == {
        "c-1": ("15", "Warm"),
        "c-2": ("10", "Warm"),
        "c-3": ("5", ""),
        "c-9": ("5", ""),
    }


def test_score_table_reasons(rules_file: Path, contacts_file: Path, activities_file: Path) -> None:
    result = run_cli(
        "score", rules_file, "--contacts", contacts_file, "--activities", activities_file,
        "--at", AT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Scores as of 2026-06-30T12:00:00+00:00"
    assert lines[1].split() == ["contact", "Fit", "level", "top", "reasons"]
    first = next(line for line in lines if line.startswith("c-1 "))
    assert first.split(None, 3)[1:3] == ["40", "Hot"]
    assert first.endswith("Big company +15, Pricing page +15, Target country +10")


def test_score_jsonl_reasons(rules_file: Path, contacts_file: Path, activities_file: Path) -> None:
    result = run_cli(
        "score", rules_file, "--contacts", contacts_file, "--activities", activities_file,
        "--at", AT, "--format", "jsonl",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["contact_id"] for record in records] == ["c-1", "c-2", "c-3", "c-4"]
    first = records[0]
    assert first["at"] == "2026-06-30T12:00:00+00:00"
    assert first["scores"]["Fit"]["total"] == 40
    assert first["scores"]["Fit"]["level"] == "Hot"
    assert first["scores"]["Fit"]["reasons"] == [
        {"rule": "Big company", "points": 15},
        {"rule": "Pricing page", "points": 15},
        {"rule": "Target country", "points": 10},
    ]


def test_score_summary_on_stderr(sample_run: subprocess.CompletedProcess[str]) -> None:
    result = sample_run
    assert "scored 4 contacts as of 2026-06-30T12:00:00+00:00" in result.stderr
    assert "Fit: Hot 1, Warm 3, no level 0" in result.stderr
    assert "recorded 8 activities" in result.stderr
    assert "ignored 1 activities of contacts that are not in" in result.stderr


def test_score_csv_escapes_formulas(rules_file: Path, tmp_path: Path) -> None:
    contacts = write_text(tmp_path / "contacts.csv", "id,country\n=HYPERLINK(1),CZ\n")
    result = run_cli("score", rules_file, "--contacts", contacts, "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert csv_rows(result.stdout)[0]["contact_id"] == "'=HYPERLINK(1)"


# ---------------------------------------------------------------- instant and ranking


def test_score_at_expires_awards(
    rules_file: Path, contacts_file: Path, activities_file: Path
) -> None:
    # On 5 July the visit of 1 June has expired (30 days), so c-2 keeps 5 points.
    result = run_cli(
        "score", rules_file, "--contacts", contacts_file, "--activities", activities_file,
        "--at", "2026-07-05", "--format", "csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert totals(result.stdout)["c-2"] == ("5", "")


def test_score_at_ignores_later_activities(
    rules_file: Path, contacts_file: Path, activities_file: Path
) -> None:
    # On 15 June c-1's visits lie ahead, and c-2 has both of its visits.
    result = run_cli(
        "score", rules_file, "--contacts", contacts_file, "--activities", activities_file,
        "--at", "2026-06-15T00:00:00+02:00", "--format", "csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert totals(result.stdout)["c-1"] == ("25", "Warm")
    assert totals(result.stdout)["c-2"] == ("10", "Warm")
    assert "ignored 7 activities after 2026-06-14T22:00:00+00:00 (--at)" in result.stderr


def test_score_at_latest(rules_file: Path, contacts_file: Path, activities_file: Path) -> None:
    result = run_cli(
        "score", rules_file, "--contacts", contacts_file, "--activities", activities_file,
        "--at", "latest", "--format", "jsonl",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout.splitlines()[0])
    assert first["at"] == "2026-06-28T09:00:00+00:00"


def test_score_top_ranks_and_keeps_file_order(
    rules_file: Path, contacts_file: Path, activities_file: Path
) -> None:
    # c-3 and c-4 tie at 15; c-3 comes first in the file.
    result = run_cli(
        "score", rules_file, "--contacts", contacts_file, "--activities", activities_file,
        "--at", AT, "--format", "csv", "--top", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [row["contact_id"] for row in csv_rows(result.stdout)] == ["c-1", "c-3"]


def test_score_top_larger_than_file(rules_file: Path, contacts_file: Path) -> None:
    result = run_cli(
        "score", rules_file, "--contacts", contacts_file, "--format", "csv", "--top", "50"
    )
    assert [row["contact_id"] for row in csv_rows(result.stdout)] == ["c-1", "c-4", "c-3", "c-2"]


# ---------------------------------------------------------------- output and hand-overs


def test_score_output_file(rules_file: Path, contacts_file: Path, tmp_path: Path) -> None:
    output = tmp_path / "scores.csv"
    result = run_cli(
        "score", rules_file, "--contacts", contacts_file, "--format", "csv", "--output", output
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert totals(output.read_text("utf-8"))["c-1"] == ("25", "Warm")


def test_score_failed_run_keeps_old_output(rules_file: Path, tmp_path: Path) -> None:
    output = write_text(tmp_path / "scores.csv", "previous run\n")
    contacts = write_text(tmp_path / "contacts.csv", "id,country\nc-1,CZ\nc-2,CZ,extra\n")
    result = run_cli(
        "score", rules_file, "--contacts", contacts, "--format", "csv", "--output", output
    )
    assert result.returncode == 2
    assert output.read_text("utf-8") == "previous run\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "contacts.csv",
        "rules.lead",
        "scores.csv",
    ]


def test_score_handover_jsonl(
    rules_file: Path, contacts_file: Path, activities_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "handovers.jsonl"
    result = run_cli(
        "score", rules_file, "--contacts", contacts_file, "--activities", activities_file,
        "--at", AT, "--format", "csv", "--handover", path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    handovers = list(read_jsonl(path))
    crossings = sorted(
        (h.contact_id, h.threshold.name, h.at.isoformat(), h.score) for h in handovers
    )
    # c-1 reaches Warm with its profile (25) when the tracker registers it, at its first
    # visit, and Hot with that visit (30). c-2 reaches Warm at its second visit, c-3 with
    # its profile (10) at its first activity, and c-4, which has no activities, at --at.
    assert crossings == [
        ("c-1", "Hot", "2026-06-25T09:00:00+00:00", 30),
        ("c-1", "Warm", "2026-06-25T09:00:00+00:00", 25),
        ("c-2", "Warm", "2026-06-10T09:00:00+00:00", 10),
        ("c-3", "Warm", "2026-06-20T09:00:00+00:00", 10),
        ("c-4", "Warm", "2026-06-30T12:00:00+00:00", 15),
    ]
    assert "wrote 5 hand-overs to" in result.stderr


def test_score_handover_keeps_profile(
    rules_file: Path, contacts_file: Path, activities_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "handovers.jsonl"
    run_cli(
        "score", rules_file, "--contacts", contacts_file, "--activities", activities_file,
        "--at", AT, "--handover", path,
    )  # fmt: skip
    first = next(h for h in read_jsonl(path) if h.contact_id == "c-1")
    assert dict(first.profile) == {"country": "CZ", "employees": 800}


def test_score_handover_csv(rules_file: Path, contacts_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "handovers.csv"
    result = run_cli("score", rules_file, "--contacts", contacts_file, "--handover", path)
    assert result.returncode == 0, result.stderr
    rows = csv_rows(path.read_text("utf-8"))
    assert sorted((row["contact_id"], row["threshold"]) for row in rows) == [
        ("c-1", "Warm"),
        ("c-3", "Warm"),
        ("c-4", "Warm"),
    ]


def test_score_handover_bad_suffix(rules_file: Path, contacts_file: Path, tmp_path: Path) -> None:
    result = run_cli(
        "score", rules_file, "--contacts", contacts_file, "--handover", tmp_path / "h.txt"
    )
    assert result.returncode == 2
    assert "needs a .jsonl or .csv suffix" in result.stderr


# ---------------------------------------------------------------- bad input


def test_score_bad_row_stops(rules_file: Path, tmp_path: Path) -> None:
    contacts = write_text(
        tmp_path / "contacts.csv", "id,country,employees\nc-1,CZ,800\n,SK,10\nc-3,DE,5\n"
    )
    result = run_cli("score", rules_file, "--contacts", contacts, "--format", "csv")
    assert result.returncode == 2
    assert f"{contacts}, row 3, field 'id': missing contact id" in result.stderr
    assert "pass --skip-bad-rows to skip such rows" in result.stderr


def test_score_bad_row_skipped(rules_file: Path, tmp_path: Path) -> None:
    contacts = write_text(
        tmp_path / "contacts.csv", "id,country,employees\nc-1,CZ,800\n,SK,10\nc-3,DE,5\n"
    )
    result = run_cli(
        "score", rules_file, "--contacts", contacts, "--format", "csv", "--skip-bad-rows"
    )
    assert result.returncode == 0, result.stderr
    assert [row["contact_id"] for row in csv_rows(result.stdout)] == ["c-1", "c-3"]
    assert "read 3 rows, skipped 1: missing contact id in field 'id' (1)" in result.stderr


def test_score_bad_activity_row_skipped(
    rules_file: Path, contacts_file: Path, tmp_path: Path
) -> None:
    activities = write_text(
        tmp_path / "activities.csv",
        "contact_id,type,occurred_at,url\n"
        "c-1,page_visit,2026-06-25T09:00:00Z,https://example.com/pricing\n"
        "c-1,page_visit,yesterday,https://example.com/pricing\n",
    )
    common = ["score", rules_file, "--contacts", contacts_file, "--activities", activities]
    stopped = run_cli(*common, "--at", AT, "--format", "csv")
    skipped = run_cli(*common, "--at", AT, "--format", "csv", "--skip-bad-rows")
    assert stopped.returncode == 2
    assert "row 3, field 'occurred_at'" in stopped.stderr
    assert skipped.returncode == 0, skipped.stderr
    assert totals(skipped.stdout)["c-1"] == ("30", "Hot")
    assert "skipped 1: invalid timestamp in field 'occurred_at' (1)" in skipped.stderr


def test_score_skipped_rows_reported_once(rules_file: Path, tmp_path: Path) -> None:
    # Both files are read twice, and each skipped row must still be reported once.
    contacts = write_text(tmp_path / "contacts.csv", "id,country,employees\nc-1,CZ,800\n,SK,10\n")
    activities = write_text(
        tmp_path / "activities.csv",
        "contact_id,type,occurred_at,url\n"
        "c-1,page_visit,2026-06-25T09:00:00Z,https://example.com/pricing\n"
        "c-1,page_visit,yesterday,https://example.com/pricing\n",
    )
    result = run_cli(
        "score", rules_file, "--contacts", contacts, "--activities", activities,
        "--at", AT, "--format", "csv", "--skip-bad-rows",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("missing contact id") == 1
    assert result.stderr.count("invalid timestamp") == 1
    assert "WARNING" not in result.stderr
    assert "recorded 1 activity\n" in result.stderr


def test_score_missing_file(rules_file: Path, tmp_path: Path) -> None:
    result = run_cli("score", rules_file, "--contacts", tmp_path / "absent.csv")
    assert result.returncode == 2
    assert "absent.csv: No such file or directory" in result.stderr


def test_score_missing_rule_file(contacts_file: Path, tmp_path: Path) -> None:
    result = run_cli("score", tmp_path / "absent.lead", "--contacts", contacts_file)
    assert result.returncode == 2
    assert "absent.lead: No such file or directory" in result.stderr


def test_score_bad_rule_file(contacts_file: Path, tmp_path: Path) -> None:
    rules = write_text(tmp_path / "bad.lead", 'scoring "Fit" {\n    rule "R" { award 5 }\n}\n')
    result = run_cli("score", rules, "--contacts", contacts_file)
    assert result.returncode == 2
    assert f"{rules}:2:" in result.stderr
    assert "rule 'R' has no 'when' or 'on' clause" in result.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--top", "0"], "argument --top: expected 1 or more, got 0"),
        (["--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["--at", "next week"], "--at: invalid instant 'next week'"),
        (["--timezone", "Mars/Base"], "--timezone: unknown time zone 'Mars/Base'"),
        (["--scoring", "Other"], "--scoring: no scoring named 'Other'; the scorings are 'Fit'"),
        (["--row-ids", "--id-column", "id"], "pass --id-column or --row-ids, not both"),
    ],
)
def test_score_bad_option(
    rules_file: Path, contacts_file: Path, option: list[str], message: str
) -> None:
    result = run_cli("score", rules_file, "--contacts", contacts_file, *option)
    assert result.returncode == 2
    assert message in result.stderr


def test_score_needs_an_input(rules_file: Path) -> None:
    result = run_cli("score", rules_file)
    assert result.returncode == 2
    assert "pass --contacts FILE, --activities FILE or both" in result.stderr


def test_score_missing_id_column_hint(rules_file: Path, tmp_path: Path) -> None:
    contacts = write_text(tmp_path / "contacts.csv", "country;employees\nCZ;800\n")
    result = run_cli("score", rules_file, "--contacts", contacts)
    assert result.returncode == 2
    assert "the id column 'id' is not in the header" in result.stderr
    assert "pass one of them as --id-column, or --row-ids" in result.stderr


def test_score_row_ids(rules_file: Path, tmp_path: Path) -> None:
    contacts = write_text(tmp_path / "contacts.csv", "country;employees\nCZ;800\nDE;5\n")
    result = run_cli("score", rules_file, "--contacts", contacts, "--row-ids", "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert totals(result.stdout) == {"2": ("25", "Warm"), "3": ("0", "")}


def test_score_mapping_file(rules_file: Path, tmp_path: Path) -> None:
    contacts = write_text(tmp_path / "contacts.csv", "Lead,Land,Staff\nc-1,CZ,800\n")
    mapping = write_text(
        tmp_path / "mapping.toml",
        '[contacts]\nid = "Lead"\n[contacts.columns]\n"Land" = "country"\n"Staff" = "employees"\n',
    )
    result = run_cli(
        "score", rules_file, "--contacts", contacts, "--mapping", mapping, "--format", "csv"
    )
    assert result.returncode == 0, result.stderr
    assert totals(result.stdout) == {"c-1": ("25", "Warm")}


def test_score_mapping_under_columns(rules_file: Path, tmp_path: Path) -> None:
    contacts = write_text(tmp_path / "contacts.csv", "Lead,country\nc-1,SK\n")
    mapping = write_text(
        tmp_path / "leadscore.toml", '[other]\nkey = 1\n[columns.contacts]\nid = "Lead"\n'
    )
    result = run_cli(
        "score", rules_file, "--contacts", contacts, "--mapping", mapping, "--format", "csv"
    )
    assert result.returncode == 0, result.stderr
    assert totals(result.stdout) == {"c-1": ("10", "Warm")}


def test_score_option_overrides_mapping(rules_file: Path, tmp_path: Path) -> None:
    contacts = write_text(tmp_path / "contacts.csv", "Lead,country\nc-1,CZ\n")
    mapping = write_text(tmp_path / "mapping.toml", '[contacts]\nid = "Wrong"\n')
    result = run_cli(
        "score", rules_file, "--contacts", contacts, "--mapping", mapping,
        "--id-column", "Lead", "--format", "csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert totals(result.stdout) == {"c-1": ("10", "Warm")}


def test_score_bad_mapping_key(rules_file: Path, contacts_file: Path, tmp_path: Path) -> None:
    mapping = write_text(tmp_path / "mapping.toml", '[contacts]\nidd = "id"\n')
    result = run_cli("score", rules_file, "--contacts", contacts_file, "--mapping", mapping)
    assert result.returncode == 2
    assert f"{mapping}: contacts.idd: unknown key 'idd'" in result.stderr


def test_score_invalid_mapping_toml(rules_file: Path, contacts_file: Path, tmp_path: Path) -> None:
    mapping = write_text(tmp_path / "mapping.toml", "[contacts\n")
    result = run_cli("score", rules_file, "--contacts", contacts_file, "--mapping", mapping)
    assert result.returncode == 2
    assert f"{mapping}: invalid mapping file" in result.stderr


def test_score_diagnostics_summary(tmp_path: Path) -> None:
    rules = write_text(
        tmp_path / "rules.lead",
        'scoring "Fit" { rule "Big" { when contact.employees >= 500 award 10 } }\n',
    )
    contacts = write_text(tmp_path / "contacts.csv", "id,employees\nc-1,many\nc-2,900\nc-3,lots\n")
    result = run_cli("score", rules, "--contacts", contacts, "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert "2 values could not be used by a rule" in result.stderr
    assert "scoring 'Fit', rule 'Big': contact.employees" in result.stderr
    # The summary names no values, only how many contacts had one.
    assert "many" not in result.stderr


# ---------------------------------------------------------------- real data


def test_score_bank_matches_library() -> None:
    result = run_cli(
        "score", BANK / "rules.lead", "--contacts", BANK / "bank.csv",
        "--mapping", BANK / "mapping.toml", "--format", "csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = csv_rows(result.stdout)
    engine = leadscore.load(BANK / "rules.lead")
    expected = {
        contact.id: engine.score(contact)["Term deposit"].total
        for contact in read_contacts(BANK / "bank.csv", id_column=None)
    }
    assert len(rows) == 4_521
    assert {row["contact_id"]: int(row["Term deposit total"]) for row in rows} == expected


def test_score_rees46_cut_off_row_stops() -> None:
    result = run_cli(
        "score", REES46 / "rules.lead", "--activities", REES46 / "2019-Oct.csv",
        "--mapping", REES46 / "mapping.toml", "--at", "latest", "--format", "csv",
    )  # fmt: skip
    assert result.returncode == 2
    assert "2019-Oct.csv, row 17436: the row is cut off" in result.stderr
    assert "--skip-bad-rows" in result.stderr


def test_score_rees46_matches_engine() -> None:
    # The command line scores activities through the tracker. Here every shopper's
    # activities are grouped in memory and scored by Engine.score instead.
    result = run_cli(
        "score", REES46 / "rules.lead", "--activities", REES46 / "2019-Oct.csv",
        "--mapping", REES46 / "mapping.toml", "--skip-bad-rows", "--at", "latest",
        "--format", "csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "read 17,435 rows, skipped 1: row cut off at the end of the file (1)" in result.stderr

    activities = collections.defaultdict(list)
    for activity in read_activities(
        REES46 / "2019-Oct.csv",
        contact_column="user_id",
        type_column="event_type",
        time_column="event_time",
        skip_bad_rows=True,
    ):
        activities[activity.contact_id].append(activity)
    latest = max(a.occurred_at for group in activities.values() for a in group)
    engine = leadscore.load(REES46 / "rules.lead")
    expected = {
        contact_id: engine.score(leadscore.Contact(contact_id), group, at=latest)[
            "Purchase intent"
        ].total
        for contact_id, group in activities.items()
    }
    scored = {
        row["contact_id"]: int(row["Purchase intent total"]) for row in csv_rows(result.stdout)
    }
    assert len(scored) == 4_504
    assert scored == expected
