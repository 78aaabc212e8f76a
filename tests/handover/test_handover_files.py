"""FileSink on real files: JSON Lines round trip, CSV header and formula escaping."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from handover_helpers import make_handover

from leadscore.errors import DeliveryError
from leadscore.handover import FileSink, HandOver, escape_csv_cell, read_jsonl
from leadscore.model import Contact


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.reader(file))


def test_jsonl_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "handovers.jsonl"
    first = make_handover()
    second = make_handover(contact=Contact("c-2", {"note": "line one\nline two"}), score=130)
    sink = FileSink(path)

    sink.deliver(first)
    sink.deliver(second)

    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert json.loads(lines[1])["contact_id"] == "c-2"
    assert list(read_jsonl(path)) == [first, second]


def test_jsonl_appends_to_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "handovers.ndjson"
    FileSink(path).deliver(make_handover())

    FileSink(path).deliver(make_handover(score=200))

    assert [handover.score for handover in read_jsonl(path)] == [105, 200]


def test_csv_writes_header_once(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    columns = {"Email": "profile.email", "Score": "score", "Level": "level", "Key": "key"}
    handover = make_handover()

    FileSink(path, columns=columns).deliver(handover)
    FileSink(path, columns=columns).deliver(make_handover(score=120, level=None))

    assert read_csv(path) == [
        ["Email", "Score", "Level", "Key"],
        ["ann@example.com", "105", "MQL", handover.key],
        ["ann@example.com", "120", "", make_handover(score=120, level=None).key],
    ]


def test_csv_default_columns(tmp_path: Path, handover: HandOver) -> None:
    path = tmp_path / "leads.csv"

    FileSink(path).deliver(handover)

    header, row = read_csv(path)
    assert header == [
        "key",
        "contact_id",
        "scoring",
        "threshold",
        "score",
        "level",
        "at",
        "breakdown",
    ]
    assert row[1:] == [
        "c-1",
        "fit",
        "MQL",
        "105",
        "MQL",
        "2026-06-01T09:30:00+00:00",
        "Job title: 75; Pricing page: 30",
    ]


def test_csv_quotes_every_cell(tmp_path: Path, handover: HandOver) -> None:
    path = tmp_path / "leads.csv"

    FileSink(path, columns={"Contact": "contact_id", "Score": "score"}).deliver(handover)

    assert path.read_bytes() == b'"Contact","Score"\r\n"c-1","105"\r\n'


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://example.com","x")', '\'=HYPERLINK("http://example.com","x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Ann = Bob", "Ann = Bob"),
        ("a-b", "a-b"),
        ("", ""),
        (None, ""),
        (-5, "-5"),
        (2.5, "2.5"),
        (True, "true"),
        (["=x", "y"], "'=x, y"),
    ],
)
def test_csv_cell_escaping(value: object, cell: str) -> None:
    assert escape_csv_cell(value) == cell


def test_csv_file_escapes_profile_formula(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    handover = make_handover(contact=Contact("c-1", {"name": "=cmd|'/C calc'!A0"}))

    FileSink(path, columns={"Name": "profile.name"}).deliver(handover)

    assert read_csv(path)[1] == ["'=cmd|'/C calc'!A0"]


def test_csv_rejects_other_header(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    FileSink(path, columns={"Email": "profile.email"}).deliver(make_handover())

    with pytest.raises(ValueError, match="already has the CSV header"):
        FileSink(path, columns={"Score": "score"})


def test_unwritable_path_is_retryable(tmp_path: Path, handover: HandOver) -> None:
    sink = FileSink(tmp_path / "missing-folder" / "leads.jsonl")

    with pytest.raises(DeliveryError, match="could not append") as caught:
        sink.deliver(handover)

    assert caught.value.retryable is True


@pytest.mark.parametrize(
    ("path", "options", "message"),
    [
        ("leads.txt", {}, "cannot tell the format"),
        ("leads.jsonl", {"columns": {"a": "score"}}, "only apply to CSV"),
        ("leads.csv", {"columns": {"a": "score", "b": "profile"}}, "unknown hand-over field"),
        ("leads.csv", {"columns": {}}, "at least one"),
        ("leads.txt", {"format": "xml"}, "format must be"),
    ],
)
def test_configuration_errors(
    tmp_path: Path, path: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        FileSink(tmp_path / path, **options)  # type: ignore[arg-type]
