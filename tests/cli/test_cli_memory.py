"""``leadscore score`` streams contacts: peak memory is the same for 100,000 and 1,000,000 rows."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from cli_helpers import REPOSITORY

# Holding the extra 900,000 contacts of the large file would take hundreds of MiB, so a
# growth within this margin shows that memory does not depend on the row count.
MARGIN_MIB = 16


def load_benchmark() -> ModuleType:
    """Import benchmarks/bench_cli_score.py, which writes the files and measures the runs."""
    path = REPOSITORY / "benchmarks" / "bench_cli_score.py"
    spec = importlib.util.spec_from_file_location("bench_cli_score", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("output", [["--format", "csv", "--output"], ["--top", "20"]])
def test_score_memory_flat(tmp_path: Path, output: list[str]) -> None:
    bench = load_benchmark()
    peaks = {}
    for rows in (100_000, 1_000_000):
        contacts = tmp_path / f"contacts-{rows}.csv"
        bench.write_contacts(contacts, rows)
        extra = [*output, str(tmp_path / "scores.csv")] if "--output" in output else output
        result = bench.measure(contacts, rows, extra)
        assert result.exit_code == 0
        peaks[rows] = result.peak_rss_mib
        contacts.unlink()
    assert peaks[1_000_000] < peaks[100_000] + MARGIN_MIB
