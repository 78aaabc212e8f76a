"""Throughput and peak memory of ``leadscore score`` on large contacts files.

The script writes bank-like contacts files of 100,000 and 1,000,000 rows to a temporary
folder, with the columns of the UCI Bank Marketing data and values drawn at random
from that data's categories and ranges. It then runs the console script on each file
in a child process, as a user would, and reports rows per second and the child's peak
resident memory. Run from the repository root:

    .venv/bin/python benchmarks/bench_cli_score.py            # 100k and 1M rows
    .venv/bin/python benchmarks/bench_cli_score.py --quick    # 10k and 100k rows

Each size is scored twice: ``--format csv --output FILE`` writes every row, and
``--top 20`` keeps the 20 hottest in a heap. Both stream the contacts, so peak memory
should be the same for every size.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "examples" / "bank-marketing" / "rules.lead"
MAPPING = ROOT / "examples" / "bank-marketing" / "mapping.toml"

HEADER = (
    '"age";"job";"marital";"education";"default";"balance";"housing";"loan";"contact";'
    '"day";"month";"duration";"campaign";"pdays";"previous";"poutcome";"y"\n'
)
JOBS = (
    "admin.", "blue-collar", "entrepreneur", "housemaid", "management", "retired",
    "self-employed", "services", "student", "technician", "unemployed", "unknown",
)  # fmt: skip
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def write_contacts(path: Path, rows: int, seed: int = 7) -> None:
    """Write a semicolon-separated, bank-like contacts file with ``rows`` data rows."""
    pick = random.Random(seed)
    with path.open("w", encoding="ascii", newline="") as file:
        file.write(HEADER)
        for _ in range(rows):
            previous = pick.choice((0, 0, 0, 0, 1, 2, 3))
            file.write(
                f"{pick.randint(18, 95)};"
                f'"{pick.choice(JOBS)}";'
                f'"{pick.choice(("married", "single", "divorced"))}";'
                f'"{pick.choice(("primary", "secondary", "tertiary", "unknown"))}";'
                f'"{pick.choice(("no", "no", "no", "yes"))}";'
                f"{pick.randint(-2000, 20000)};"
                f'"{pick.choice(("yes", "no"))}";'
                f'"{pick.choice(("yes", "no", "no"))}";'
                f'"{pick.choice(("cellular", "telephone", "unknown"))}";'
                f"{pick.randint(1, 31)};"
                f'"{pick.choice(MONTHS)}";'
                f"{pick.randint(0, 3000)};"
                f"{pick.randint(1, 20)};"
                f"{-1 if previous == 0 else pick.randint(1, 800)};"
                f"{previous};"
                f'"{"unknown" if previous == 0 else pick.choice(("failure", "other", "success"))}";'
                f'"{pick.choice(("no", "no", "no", "no", "no", "no", "no", "yes"))}"\n'
            )


@attrs.frozen
class Measurement:
    """One run of the console script: wall time, peak memory of the child and its exit code."""

    rows: int
    seconds: float
    peak_rss_mib: float
    exit_code: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def command(contacts: Path, extra: Sequence[str]) -> list[str]:
    """Return the console-script command that scores ``contacts`` with the bank rules."""
    return [
        sys.executable,
        "-m",
        "leadscore",
        "score",
        str(RULES),
        "--contacts",
        str(contacts),
        "--mapping",
        str(MAPPING),
        "--at",
        "2011-01-01",
        *extra,
    ]


def measure(contacts: Path, rows: int, extra: Sequence[str]) -> Measurement:
    """Run the command in a child process and return its time and peak resident memory.

    os.wait4 returns the resource usage of that one child, so earlier runs cannot
    raise the peak, as they would with RUSAGE_CHILDREN.
    """
    started = time.perf_counter()
    child = subprocess.Popen(
        command(contacts, extra), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert child.stderr is not None
    child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux.
    return Measurement(rows, seconds, usage.ru_maxrss / 1024, child.returncode)


def machine() -> str:
    """Describe the processor, core count and Python version."""
    processor = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    processor = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{processor}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k rows instead")
    args = parser.parse_args(argv)
    sizes = (10_000, 100_000) if args.quick else (100_000, 1_000_000)

    print(f"machine: {machine()}")
    print(f"rules: {RULES.relative_to(ROOT)} with {MAPPING.relative_to(ROOT)}")
    print(f"{'rows':>10}  {'output':<22}  {'seconds':>8}  {'rows/s':>8}  {'peak RSS MiB':>12}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="leadscore-bench-") as folder:
        for rows in sizes:
            contacts = Path(folder) / f"contacts-{rows}.csv"
            write_contacts(contacts, rows)
            output = Path(folder) / "scores.csv"
            for label, extra in (
                ("--format csv --output", ["--format", "csv", "--output", str(output)]),
                ("--top 20", ["--top", "20"]),
            ):
                result = measure(contacts, rows, extra)
                failed = failed or result.exit_code != 0
                print(
                    f"{rows:>10,}  {label:<22}  {result.seconds:>8.1f}  "
                    f"{result.rows_per_second:>8,.0f}  {result.peak_rss_mib:>12.1f}",
                    flush=True,
                )
            contacts.unlink()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
