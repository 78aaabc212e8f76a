"""The main job end to end, and the help of every subcommand."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cli_helpers import DATA, REPOSITORY, run_cli


@pytest.fixture(scope="module")
def main_job() -> subprocess.CompletedProcess[str]:
    """Run the main job once, as the README does, from the repository root."""
    return subprocess.run(
        [sys.executable, "examples/main_job.py"],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        env={**os.environ, "LEADSCORE_DATA": str(DATA)},
        timeout=300,
        check=False,
    )


def test_main_job_succeeds(main_job: subprocess.CompletedProcess[str]) -> None:
    assert main_job.returncode == 0, main_job.stdout + main_job.stderr


def test_main_job_steps(main_job: subprocess.CompletedProcess[str]) -> None:
    output = main_job.stdout
    assert "== UCI Bank Marketing: the 10 hottest clients" in output
    assert "== REES46 e-commerce events: the 10 hottest shoppers" in output
    assert "$ leadscore score examples/rees46-events/rules.lead" in output
    assert "== UCI Bank Marketing: how well the scoring predicts" in output
    assert "Suggested threshold:" in output
    assert "scored 4,521 contacts" in main_job.stderr
    assert "scored 4,504 contacts as of 2019-10-01T02:50:00+00:00" in main_job.stderr


def test_main_job_hand_overs_counted(main_job: subprocess.CompletedProcess[str]) -> None:
    line = next(line for line in main_job.stdout.splitlines() if line.startswith("Hand-overs in"))
    written = next(line for line in main_job.stderr.splitlines() if line.startswith("wrote "))
    # The count the job reads back from the file equals the count the command wrote.
    assert line.split(": ", 1)[1].split(" ")[0] == written.split()[1]


def test_main_job_x_education(main_job: subprocess.CompletedProcess[str]) -> None:
    if not (DATA / "x-education-leads" / "Leads.csv").is_file():
        assert "== X Education leads: skipped" in main_job.stdout
        return
    assert "== X Education leads: how well the scoring predicts" in main_job.stdout
    assert "9,240 contacts, 3,561 converted" in main_job.stdout


def test_module_runs_command_line() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("check", "score", "explain", "evaluate"):
        assert command in result.stdout


def test_no_command_exits_2() -> None:
    result = run_cli()
    assert result.returncode == 2


@pytest.mark.parametrize(
    ("command", "phrases"),
    [
        ("score", ["--contacts FILE", "--top N", "--handover FILE", "(default: table)"]),
        ("explain", ["--contact ID", "--format {table,json}", "expires"]),
        ("evaluate", ["--outcome COLUMN", "--precision P", "--capacity N", "--plot FILE.png"]),
    ],
)
def test_subcommand_help(command: str, phrases: list[str]) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for phrase in phrases:
        assert phrase in text


def test_unknown_subcommand() -> None:
    result = run_cli("rank", "rules.lead")
    assert result.returncode == 2
    assert "invalid choice: 'rank'" in result.stderr
