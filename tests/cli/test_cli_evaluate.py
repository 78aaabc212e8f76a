"""``leadscore evaluate`` run as a child process: metrics, threshold policies, plots, errors.

The sample has ten contacts scoring 30, 30, 30, 20, 20, 20, 10, 10, 10 and 0, of which
two 30s, one 20 and one 10 converted. By hand: AUC = 17/24 = 0.708 (tests/test_metrics.py
counts the pairs); precision at the thresholds 30, 20, 10 and 0 is 2/3, 1/2, 4/9 and 4/10,
recall 1/2, 3/4, 1 and 1, so F1 is 0.571, 0.600, 0.615 and 0.571.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest
from cli_helpers import BANK, X_EDUCATION, dataset, run_cli, write_text

import leadscore
from leadscore.loaders import ColumnMapping, read_contacts

RULES = """\
scoring "Fit" {
    threshold "Warm" at 15
    rule "Tier A" { when contact.tier == "A" award 30 }
    rule "Tier B" { when contact.tier == "B" award 20 }
    rule "Tier C" { when contact.tier == "C" award 10 }
}
"""

CONTACTS = """\
id,tier,won
c-1,A,yes
c-2,A,yes
c-3,A,no
c-4,B,yes
c-5,B,no
c-6,B,no
c-7,C,no
c-8,C,yes
c-9,C,no
c-10,D,no
"""


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiers")
    write_text(folder / "tiers.lead", RULES)
    write_text(folder / "tiers.csv", CONTACTS)
    return folder


@pytest.fixture
def rules(sample: Path) -> Path:
    return sample / "tiers.lead"


@pytest.fixture
def contacts(sample: Path) -> Path:
    return sample / "tiers.csv"


@pytest.fixture(scope="module")
def evaluated(sample: Path) -> subprocess.CompletedProcess[str]:
    """The evaluation of the sample with the default options, shared by the tests that read it."""
    return run_cli(
        "evaluate", sample / "tiers.lead", "--contacts", sample / "tiers.csv", "--outcome", "won"
    )


def line_starting(text: str, start: str) -> list[str]:
    return next(line for line in text.splitlines() if line.startswith(start)).split()


def test_evaluate_auc(evaluated: subprocess.CompletedProcess[str]) -> None:
    result = evaluated
    assert result.returncode == 0, result.stderr
    assert "10 contacts, 4 converted (40.0%), 0 without an outcome left out" in result.stdout
    assert line_starting(result.stdout, "AUC")[1] == "0.708:"


def test_evaluate_threshold_table(evaluated: subprocess.CompletedProcess[str]) -> None:
    result = evaluated
    assert line_starting(result.stdout, "30 ") == [
        "30",
        "3",
        "30.0%",
        "2",
        "66.7%",
        "50.0%",
        "0.571",
    ]
    assert line_starting(result.stdout, "20 ") == [
        "20", "6", "60.0%", "3", "50.0%", "75.0%", "0.600", "Warm"
    ]  # fmt: skip
    assert line_starting(result.stdout, "10 ")[-2:] == ["0.615", "suggested"]


def test_evaluate_rule_threshold(evaluated: subprocess.CompletedProcess[str]) -> None:
    # "Warm at 15" selects the totals 30 and 20, the same contacts as the threshold 20.
    result = evaluated
    assert line_starting(result.stdout, "Warm ") == [
        "Warm",
        "15",
        "6",
        "60.0%",
        "50.0%",
        "75.0%",
        "0.600",
    ]


def test_evaluate_deciles(evaluated: subprocess.CompletedProcess[str]) -> None:
    # One contact per decile: the first is one of three tied 30s, two of which
    # converted, so it gets 2/3 of a conversion.
    result = evaluated
    first = line_starting(result.stdout, "     1 ")
    assert first[:4] == ["1", "30", "1", "0.7"]
    assert first[-2:] == ["1.67", "16.7%"]


def test_evaluate_best_f1(evaluated: subprocess.CompletedProcess[str]) -> None:
    result = evaluated
    assert "Suggested threshold: 10 (the best F1): selects 9 contacts (90.0%)" in result.stdout


def test_evaluate_precision_policy(rules: Path, contacts: Path) -> None:
    result = run_cli(
        "evaluate", rules, "--contacts", contacts, "--outcome", "won", "--precision", "0.5"
    )
    assert result.returncode == 0, result.stderr
    assert (
        "Suggested threshold: 20 (the lowest threshold with precision of at least 50%)"
        in result.stdout
    )


def test_evaluate_capacity_policy(rules: Path, contacts: Path) -> None:
    result = run_cli(
        "evaluate", rules, "--contacts", contacts, "--outcome", "won", "--capacity", "5"
    )
    assert result.returncode == 0, result.stderr
    assert "Suggested threshold: 30 (the lowest threshold that selects at most 5 contacts)" in (
        result.stdout
    )


def test_evaluate_unreachable_precision(rules: Path, contacts: Path) -> None:
    result = run_cli(
        "evaluate", rules, "--contacts", contacts, "--outcome", "won", "--precision", "0.9"
    )
    assert result.returncode == 1
    assert "No threshold meets the policy" in result.stdout


def test_evaluate_min_auc_missed(rules: Path, contacts: Path) -> None:
    result = run_cli(
        "evaluate", rules, "--contacts", contacts, "--outcome", "won", "--min-auc", "0.8"
    )
    assert result.returncode == 1
    assert "The AUC 0.708 is below --min-auc 0.8." in result.stdout


def test_evaluate_min_auc_met(rules: Path, contacts: Path) -> None:
    result = run_cli(
        "evaluate", rules, "--contacts", contacts, "--outcome", "won", "--min-auc", "0.7"
    )
    assert result.returncode == 0, result.stderr


def test_evaluate_policies_exclusive(rules: Path, contacts: Path) -> None:
    result = run_cli(
        "evaluate", rules, "--contacts", contacts, "--outcome", "won",
        "--precision", "0.5", "--capacity", "3",
    )  # fmt: skip
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


def test_evaluate_outcome_hidden_from_rules(contacts: Path, tmp_path: Path) -> None:
    # A rule that reads the outcome never fires, so every total is 0 and the ranking
    # is no better than chance.
    rules = write_text(
        tmp_path / "cheat.lead",
        'scoring "Fit" { rule "Cheat" { when contact.won == "yes" award 100 } }\n',
    )
    result = run_cli("evaluate", rules, "--contacts", contacts, "--outcome", "won")
    assert result.returncode == 0, result.stderr
    assert line_starting(result.stdout, "AUC")[1] == "0.500:"


def test_evaluate_positive_value(rules: Path, tmp_path: Path) -> None:
    contacts = write_text(
        tmp_path / "c.csv", "id,tier,stage\nc-1,A,Won\nc-2,B,lost\nc-3,C,WON\nc-4,D,open\n"
    )
    result = run_cli(
        "evaluate", rules, "--contacts", contacts, "--outcome", "stage", "--positive", "won"
    )
    assert result.returncode == 0, result.stderr
    # Converted: 30 and 10; not: 20 and 0. Pairs won: 30 > 20, 30 > 0, 10 > 0 = 3 of 4.
    assert "4 contacts, 2 converted (50.0%)" in result.stdout
    assert line_starting(result.stdout, "AUC")[1] == "0.750:"


def test_evaluate_empty_outcome_left_out(rules: Path, tmp_path: Path) -> None:
    contacts = write_text(tmp_path / "c.csv", "id,tier,won\nc-1,A,1\nc-2,B,\nc-3,C,0\n")
    result = run_cli("evaluate", rules, "--contacts", contacts, "--outcome", "won")
    assert result.returncode == 0, result.stderr
    assert "2 contacts, 1 converted (50.0%), 1 without an outcome left out" in result.stdout


def test_evaluate_missing_outcome_column(rules: Path, contacts: Path) -> None:
    result = run_cli("evaluate", rules, "--contacts", contacts, "--outcome", "Won")
    assert result.returncode == 2
    assert "--outcome: the column 'Won' is not in the header of" in result.stderr
    assert "the columns are 'id', 'tier', 'won'" in result.stderr


def test_evaluate_no_positive_outcome(rules: Path, tmp_path: Path) -> None:
    contacts = write_text(tmp_path / "c.csv", "id,tier,won\nc-1,A,Won\nc-2,B,Lost\n")
    result = run_cli("evaluate", rules, "--contacts", contacts, "--outcome", "won")
    assert result.returncode == 2
    assert "no contact is converted" in result.stderr
    assert "the values of 'won' are 'Won' (1), 'Lost' (1); pass --positive" in result.stderr


def test_evaluate_bad_row(rules: Path, tmp_path: Path) -> None:
    contacts = write_text(
        tmp_path / "c.csv", 'id,tier,won\nc-1,A,yes\nc-2,"B,no\nc-3,C,no\nc-4,D,yes\n'
    )
    stopped = run_cli("evaluate", rules, "--contacts", contacts, "--outcome", "won")
    assert stopped.returncode == 2
    assert f"{contacts}, row 3" in stopped.stderr


def test_evaluate_bad_row_skipped(rules: Path, tmp_path: Path) -> None:
    contacts = write_text(
        tmp_path / "c.csv", "id,tier,won\nc-1,A,yes\nc-2,B,no,extra\nc-3,C,no\nc-4,D,yes\n"
    )
    result = run_cli(
        "evaluate", rules, "--contacts", contacts, "--outcome", "won", "--skip-bad-rows"
    )
    assert result.returncode == 0, result.stderr
    assert "3 contacts, 2 converted" in result.stdout
    assert "read 4 rows, skipped 1: more fields than the header (1)" in result.stderr


def test_evaluate_needs_outcome(rules: Path, contacts: Path) -> None:
    result = run_cli("evaluate", rules, "--contacts", contacts)
    assert result.returncode == 2
    assert "the following arguments are required: --outcome" in result.stderr


def test_evaluate_bad_rule_file(contacts: Path, tmp_path: Path) -> None:
    rules = write_text(tmp_path / "bad.lead", 'scoring "Fit" { threshold "W" at }\n')
    result = run_cli("evaluate", rules, "--contacts", contacts, "--outcome", "won")
    assert result.returncode == 2
    assert f"{rules}:1:" in result.stderr


def test_evaluate_missing_file(rules: Path, tmp_path: Path) -> None:
    result = run_cli("evaluate", rules, "--contacts", tmp_path / "absent.csv", "--outcome", "y")
    assert result.returncode == 2
    assert "absent.csv: No such file or directory" in result.stderr


def test_evaluate_plot(rules: Path, contacts: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "gains.png"
    result = run_cli("evaluate", rules, "--contacts", contacts, "--outcome", "won", "--plot", plot)
    assert result.returncode == 0, result.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_plot_without_matplotlib(rules: Path, contacts: Path, tmp_path: Path) -> None:
    # A package named matplotlib that fails to import behaves like a missing install.
    blocker = tmp_path / "blocker" / "matplotlib"
    blocker.mkdir(parents=True)
    write_text(blocker / "__init__.py", "raise ImportError('matplotlib is not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker.parent)}
    result = run_cli(
        "evaluate", rules, "--contacts", contacts, "--outcome", "won",
        "--plot", tmp_path / "gains.png", env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--plot needs matplotlib, which is not installed" in result.stderr
    assert "pip install 'leadscore[plot]'" in result.stderr
    assert not (tmp_path / "gains.png").exists()


# ---------------------------------------------------------------- real data


def pairwise_auc(scored: list[tuple[int, bool]]) -> float:
    """Count every (converted, not converted) pair; a tie counts half."""
    positives = [score for score, converted in scored if converted]
    negatives = [score for score, converted in scored if not converted]
    won = 0.0
    for positive in positives:
        for negative in negatives:
            if positive > negative:
                won += 1.0
            elif positive == negative:
                won += 0.5
    return won / (len(positives) * len(negatives))


def test_evaluate_bank_auc_matches_pairs() -> None:
    result = run_cli(
        "evaluate", BANK / "rules.lead", "--contacts", BANK / "bank.csv",
        "--mapping", BANK / "mapping.toml", "--outcome", "y", "--positive", "yes",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    engine = leadscore.load(BANK / "rules.lead")
    scored = [
        (engine.score(contact)["Term deposit"].total, contact.profile["y"] == "yes")
        for contact in read_contacts(BANK / "bank.csv", id_column=None)
    ]
    assert line_starting(result.stdout, "AUC")[1] == f"{pairwise_auc(scored):.3f}:"


def test_evaluate_x_education_auc_at_least_080() -> None:
    leads = dataset("x-education-leads/Leads.csv")
    result = run_cli(
        "evaluate", X_EDUCATION / "rules.lead", "--contacts", leads,
        "--mapping", X_EDUCATION / "mapping.toml", "--outcome", "Converted", "--min-auc", "0.8",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9,240 contacts, 3,561 converted (38.5%)" in result.stdout
    assert float(line_starting(result.stdout, "AUC")[1].rstrip(":")) >= 0.80


def test_evaluate_x_education_mapping_leaves_out_sales_columns() -> None:
    leads = dataset("x-education-leads/Leads.csv")
    mapping = ColumnMapping.from_dict(
        tomllib.loads((X_EDUCATION / "mapping.toml").read_text("utf-8"))
    )
    selected = set(mapping.contacts.columns or ())
    assert selected
    for column in ("Tags", "Lead Quality", "Lead Profile", "Last Activity", "Converted"):
        assert column not in selected
    first = next(read_contacts(leads, mapping=mapping))
    assert "seconds_on_site" in first.profile


def test_evaluate_help_mentions_exit_codes() -> None:
    result = run_cli("evaluate", "--help")
    assert result.returncode == 0
    assert "1 the AUC is below --min-auc" in " ".join(result.stdout.split())
