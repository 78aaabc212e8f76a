"""Streaming: the loaders hold one row at a time, so memory does not grow with the file."""

from __future__ import annotations

import gzip
import resource
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadscore.loaders import read_activities, read_contacts


def write_events(path: Path, rows: int) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="") as file:
        file.write("event_time,event_type,product_id,category_id,price,user_id\r\n")
        for i in range(rows):
            file.write(
                f"2019-10-01 00:{i // 60 % 60:02d}:{i % 60:02d} UTC,view,{i},"
                f"2053013555631882{i % 1000:03d},{i % 500}.99,{500000000 + i % 4000}\r\n"
            )


def peak_memory(items: Iterator[object]) -> tuple[int, int]:
    """Return the number of items and the peak traced memory in bytes while counting them."""
    tracemalloc.start()
    try:
        count = sum(1 for _ in items)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return count, peak


def events(path: Path) -> Iterator[object]:
    return read_activities(
        path, contact_column="user_id", type_column="event_type", time_column="event_time"
    )


def test_memory_does_not_grow_with_rows(tmp_path: Path) -> None:
    small = tmp_path / "small.csv.gz"
    large = tmp_path / "large.csv.gz"
    write_events(small, 5_000)
    write_events(large, 50_000)

    small_count, small_peak = peak_memory(events(small))
    large_count, large_peak = peak_memory(events(large))

    assert small_count == 5_000
    assert large_count == 50_000
    # Ten times the rows may not add more than 64 KiB to the peak.
    assert large_peak < small_peak + 64 * 1024
    assert large_peak < 1024 * 1024


def test_rows_arrive_before_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    write_events(path, 1_000)
    with path.open("a", encoding="utf-8", newline="") as file:
        file.write("not,a,valid,row\r\n")

    stream = events(path)
    first = next(stream)
    assert first.contact_id == "500000000"  # type: ignore[attr-defined]


@pytest.mark.slow
def test_million_rows_constant_memory(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if not request.config.getoption("--run-slow", default=False):
        pytest.skip("slow: writes and reads a 1,000,000-row file; opt in with --run-slow")
    path = tmp_path / "million.csv.gz"
    write_events(path, 1_000_000)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    count = sum(1 for _ in events(path))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    assert count == 1_000_000
    # ru_maxrss is in KiB on Linux. Holding the rows would take well over a gigabyte.
    assert after - before < 50 * 1024


def test_contacts_memory_does_not_grow(tmp_path: Path) -> None:
    def write(path: Path, rows: int) -> None:
        with path.open("w", encoding="utf-8", newline="") as file:
            file.write('"age";"job";"y"\n')
            file.writelines(
                f'{20 + i % 50};"job{i % 12}";"{"yes" if i % 9 == 0 else "no"}"\n'
                for i in range(rows)
            )

    small = tmp_path / "small.csv"
    large = tmp_path / "large.csv"
    write(small, 5_000)
    write(large, 50_000)

    small_count, small_peak = peak_memory(read_contacts(small, id_column=None))
    large_count, large_peak = peak_memory(read_contacts(large, id_column=None))

    assert small_count == 5_000
    assert large_count == 50_000
    assert large_peak < small_peak + 64 * 1024
