"""``leadscore check`` run as a child process on the sample rule file."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import run_cli, write_text


def test_check_counts_singular(rules_file: Path) -> None:
    result = run_cli("check", rules_file)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{rules_file}: ok, 1 scoring, 3 rules, 0 warnings"


def test_check_counts_plural(tmp_path: Path) -> None:
    rules = write_text(
        tmp_path / "rules.lead",
        'scoring "A" { rule "R" { when contact.x == 1 award 5 } }\n'
        'scoring "B" { rule "R" { when contact.x == 2 award 5 } }\n',
    )
    result = run_cli("check", rules)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{rules}: ok, 2 scorings, 2 rules, 0 warnings"
