"""Score the example data with the leadscore command line and evaluate the bank scoring.

Run from the repository root, after ``pip install -e '.[cli]'``:

    python examples/main_job.py [--handover-dir DIR]

Every step calls `leadscore.cli.main` with the arguments shown, so it runs the same code
as the ``leadscore`` command:

1. the ten hottest UCI Bank Marketing clients (profile rules only);
2. the ten hottest REES46 shoppers at the end of the clickstream sample, with every
   hand-over written to a JSON Lines file by the tracker;
3. how well the bank scoring predicts the real subscriptions in the ``y`` column;
4. the same for the X Education leads, when Leads.csv is found under LEADSCORE_DATA
   or ../shared/data next to the repository. That file is not part of the repository.

The exit code is the first non-zero exit code of a step, or 0.
"""

from __future__ import annotations

import argparse
import collections
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from leadscore.cli import main as leadscore_main
from leadscore.handover import read_jsonl

EXAMPLES = Path(__file__).resolve().parent
DATA = Path(os.environ.get("LEADSCORE_DATA", EXAMPLES.parent.parent / "shared" / "data"))
LEADS = DATA / "x-education-leads" / "Leads.csv"


def _path(path: Path) -> str:
    """Return ``path`` relative to the working folder when it is inside it, for shorter commands."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run_step(title: str, arguments: Sequence[str]) -> int:
    """Print the title and the command, run it and return its exit code."""
    print(f"\n== {title}", flush=True)
    print("$ leadscore " + shlex.join(arguments), flush=True)
    code = leadscore_main(list(arguments))
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def bank_steps() -> list[tuple[str, list[str]]]:
    """Return the steps that score and evaluate the UCI Bank Marketing clients."""
    folder = EXAMPLES / "bank-marketing"
    common = [
        _path(folder / "rules.lead"),
        "--contacts",
        _path(folder / "bank.csv"),
        "--mapping",
        _path(folder / "mapping.toml"),
    ]
    return [
        ("UCI Bank Marketing: the 10 hottest clients", ["score", *common, "--top", "10"]),
        (
            "UCI Bank Marketing: how well the scoring predicts a term deposit (column y)",
            ["evaluate", *common, "--outcome", "y", "--positive", "yes"],
        ),
    ]


def rees46_step(handovers: Path) -> tuple[str, list[str]]:
    """Return the step that scores the REES46 shoppers and writes their hand-overs."""
    folder = EXAMPLES / "rees46-events"
    return (
        "REES46 e-commerce events: the 10 hottest shoppers at the end of the sample",
        [
            "score",
            _path(folder / "rules.lead"),
            "--activities",
            _path(folder / "2019-Oct.csv"),
            "--mapping",
            _path(folder / "mapping.toml"),
            # The export's last row is cut off in the middle; skipping it is expected.
            "--skip-bad-rows",
            "--at",
            "latest",
            "--top",
            "10",
            "--handover",
            _path(handovers),
        ],
    )


def x_education_step() -> tuple[str, list[str]]:
    """Return the step that evaluates the X Education scoring against the Converted column."""
    folder = EXAMPLES / "x-education"
    return (
        "X Education leads: how well the scoring predicts enrolment (column Converted)",
        [
            "evaluate",
            _path(folder / "rules.lead"),
            "--contacts",
            _path(LEADS),
            "--mapping",
            _path(folder / "mapping.toml"),
            "--outcome",
            "Converted",
            "--min-auc",
            "0.8",
        ],
    )


def print_handovers(path: Path, *, kept: bool) -> None:
    """Print how many hand-overs each threshold got and the first one to the highest threshold."""
    handovers = list(read_jsonl(path)) if path.exists() else []
    counts = collections.Counter(handover.threshold.name for handover in handovers)
    listed = ", ".join(f"{name} {count:,}" for name, count in counts.most_common())
    where = _path(path) if kept else "a temporary file (keep it with --handover-dir DIR)"
    print(f"\nHand-overs in {where}: {len(handovers):,} ({listed or 'none'})")
    if handovers:
        top = max(
            handovers, key=lambda handover: (handover.threshold.points, -handover.at.timestamp())
        )
        reasons = ", ".join(f"{r.rule} {r.points:+d}" for r in top.breakdown if r.points)
        print(
            f"First to reach {top.threshold.name}: shopper {top.contact_id} at "
            f"{top.at.isoformat()} with {top.score} points ({reasons})"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run every step and return the first non-zero exit code, or 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--handover-dir",
        metavar="DIR",
        help="folder for the REES46 hand-over file (default: a temporary folder that is removed)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="leadscore-main-job-") as temporary:
        folder = Path(args.handover_dir or temporary)
        handovers = folder / "rees46-handovers.jsonl"
        handovers.unlink(missing_ok=True)  # FileSink appends, and this run starts afresh

        codes = []
        steps = bank_steps()
        codes.append(run_step(*steps[0]))
        codes.append(run_step(*rees46_step(handovers)))
        print_handovers(handovers, kept=args.handover_dir is not None)
        codes.append(run_step(*steps[1]))
        if LEADS.is_file():
            codes.append(run_step(*x_education_step()))
        else:
            print(f"\n== X Education leads: skipped, {_path(LEADS)} not found (set LEADSCORE_DATA)")

    failed = [code for code in codes if code != 0]
    return failed[0] if failed else 0


if __name__ == "__main__":
    sys.exit(main())
