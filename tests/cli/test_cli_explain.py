"""``leadscore explain`` run as a child process: one contact's breakdown, JSON form and errors.

The sample files and the totals worked out by hand are in cli_helpers.
"""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import AT, BANK, run_cli, write_text


def test_explain_breakdown(rules_file: Path, contacts_file: Path, activities_file: Path) -> None:
    result = run_cli(
        "explain", rules_file, "--contact", "c-1", "--contacts", contacts_file,
        "--activities", activities_file, "--at", AT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Contact c-1 as of 2026-06-30T12:00:00+00:00"
    assert lines[1] == "4 activities at or before that instant"
    assert "Fit: 40 points, level Hot" in lines
    assert "Thresholds: Warm at 10 (reached), Hot at 30 (reached)" in lines
    pricing = next(line for line in lines if line.startswith("Pricing page "))
    assert pricing.split() == ["Pricing", "page", "activity", "(on)", "yes", "15", "yes", "4"]


def test_explain_awards_and_expiry(
    rules_file: Path, contacts_file: Path, activities_file: Path
) -> None:
    result = run_cli(
        "explain", rules_file, "--contact", "c-1", "--contacts", contacts_file,
        "--activities", activities_file, "--at", AT,
    )  # fmt: skip
    awards = [line for line in result.stdout.splitlines() if " page_visit " in line]
    # Each visit earns 5 points and expires 30 days after it happened.
    assert len(awards) == 4
    assert awards[0].split()[3:7] == [
        "2026-06-25T09:00:00+00:00",
        "5",
        "2026-07-25T09:00:00+00:00",
        "url=https://example.com/pricing",
    ]


def test_explain_profile_rule_not_met(
    rules_file: Path, contacts_file: Path, activities_file: Path
) -> None:
    result = run_cli(
        "explain", rules_file, "--contact", "c-2", "--contacts", contacts_file,
        "--activities", activities_file, "--at", AT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    country = next(line for line in result.stdout.splitlines() if line.startswith("Target"))
    assert country.split() == ["Target", "country", "profile", "(when)", "no", "0"]


def test_explain_json(rules_file: Path, contacts_file: Path, activities_file: Path) -> None:
    result = run_cli(
        "explain", rules_file, "--contact", "c-1", "--contacts", contacts_file,
        "--activities", activities_file, "--at", AT, "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    card = record["scores"]["Fit"]
    assert record["activities"] == 4
    assert card["total"] == 40
    assert card["thresholds_reached"] == ["Warm", "Hot"]
    pricing = next(rule for rule in card["breakdown"] if rule["rule"] == "Pricing page")
    assert pricing["capped"] is True
    assert [award["expires_at"] for award in pricing["awards"]][-1] == "2026-07-28T09:00:00+00:00"


def test_explain_later_activities_ignored(
    rules_file: Path, contacts_file: Path, activities_file: Path
) -> None:
    result = run_cli(
        "explain", rules_file, "--contact", "c-1", "--contacts", contacts_file,
        "--activities", activities_file, "--at", "2026-06-26T12:00:00Z",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 activities at or before that instant, 2 later ones ignored" in result.stdout
    assert "Fit: 35 points, level Hot" in result.stdout


def test_explain_diagnostics_show_value(tmp_path: Path) -> None:
    rules = write_text(
        tmp_path / "rules.lead",
        'scoring "Fit" { rule "Big" { when contact.employees >= 500 award 10 } }\n',
    )
    contacts = write_text(tmp_path / "contacts.csv", "id,employees\nc-1,many\n")
    result = run_cli("explain", rules, "--contact", "c-1", "--contacts", contacts)
    assert result.returncode == 0, result.stderr
    assert "Values the rules could not use:" in result.stdout
    assert "rule 'Big': contact.employees = 'many'" in result.stdout


def test_explain_activities_only(rules_file: Path, activities_file: Path) -> None:
    result = run_cli(
        "explain", rules_file, "--contact", "c-9", "--activities", activities_file, "--at", AT
    )
    assert result.returncode == 0, result.stderr
    assert "Fit: 5 points, no level" in result.stdout


def test_explain_unknown_contact(rules_file: Path, contacts_file: Path) -> None:
    result = run_cli("explain", rules_file, "--contact", "c-7", "--contacts", contacts_file)
    assert result.returncode == 2
    assert "contact 'c-7' is not in" in result.stderr
    assert "(4 contacts read); ids come from the column 'id'" in result.stderr


def test_explain_contact_without_activities(rules_file: Path, activities_file: Path) -> None:
    result = run_cli("explain", rules_file, "--contact", "c-7", "--activities", activities_file)
    assert result.returncode == 2
    assert "contact 'c-7' has no activities in" in result.stderr


def test_explain_needs_contact(rules_file: Path, contacts_file: Path) -> None:
    result = run_cli("explain", rules_file, "--contacts", contacts_file)
    assert result.returncode == 2
    assert "the following arguments are required: --contact" in result.stderr


def test_explain_bad_rule_file(contacts_file: Path, tmp_path: Path) -> None:
    rules = write_text(tmp_path / "bad.lead", 'scoring "Fit" { rule "R" { when award 5 } }\n')
    result = run_cli("explain", rules, "--contact", "c-1", "--contacts", contacts_file)
    assert result.returncode == 2
    assert f"{rules}:1:" in result.stderr


def test_explain_bad_row(rules_file: Path, tmp_path: Path) -> None:
    contacts = write_text(tmp_path / "contacts.csv", "id,country\nc-1,CZ,extra\nc-2,SK\n")
    stopped = run_cli("explain", rules_file, "--contact", "c-2", "--contacts", contacts)
    skipped = run_cli(
        "explain", rules_file, "--contact", "c-2", "--contacts", contacts, "--skip-bad-rows"
    )
    assert stopped.returncode == 2
    assert f"{contacts}, row 2: the row has 3 fields but the header has 2" in stopped.stderr
    assert skipped.returncode == 0, skipped.stderr
    assert "Fit: 10 points, level Warm" in skipped.stdout


def test_explain_unknown_scoring(rules_file: Path, contacts_file: Path) -> None:
    result = run_cli(
        "explain", rules_file, "--contact", "c-1", "--contacts", contacts_file,
        "--scoring", "Other",
    )  # fmt: skip
    assert result.returncode == 2
    assert "--scoring: no scoring named 'Other'" in result.stderr


def test_explain_bank_row_matches_score() -> None:
    common = ["--contacts", BANK / "bank.csv", "--mapping", BANK / "mapping.toml"]
    scored = run_cli("score", BANK / "rules.lead", *common, "--format", "csv", "--top", "1")
    top_id, total = scored.stdout.splitlines()[1].split(",")[:2]
    explained = run_cli("explain", BANK / "rules.lead", *common, "--contact", top_id)
    assert explained.returncode == 0, explained.stderr
    assert f"Term deposit: {total} points, level Sales-ready" in explained.stdout
