"""FileSink: append hand-overs to a JSON Lines or CSV file for a CRM import."""

from __future__ import annotations

import csv
import io
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Literal

from leadscore.errors import DeliveryError
from leadscore.handover.fields import MISSING, FieldSource, check_source, format_value, resolve
from leadscore.handover.record import HandOver

__all__ = ["DEFAULT_CSV_COLUMNS", "FileSink", "escape_csv_cell", "read_jsonl"]

FileFormat = Literal["jsonl", "csv"]

DEFAULT_CSV_COLUMNS: Final[Mapping[str, FieldSource]] = {
    "key": "key",
    "contact_id": "contact_id",
    "scoring": "scoring",
    "threshold": "threshold",
    "score": "score",
    "level": "level",
    "at": "at",
    "breakdown": "breakdown",
}

# Characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")

_SUFFIX_FORMATS: Final[Mapping[str, FileFormat]] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
}


class FileSink:
    """Append each hand-over to a file: one JSON object per line, or one CSV row.

    Each delivery opens the file, appends one record, then flushes and fsyncs before
    it returns, so an accepted hand-over survives a crash. A write that fails is cut
    off again, so the file never keeps half a record. JSON Lines records are
    `HandOver.to_json`, and `read_jsonl` reads them back. CSV has one column per
    entry of ``columns`` (a header name mapped to a field path or a function, see
    `leadscore.handover.fields`). The header row is written once, when the file is
    empty.

    CSV cells are protected against formula injection as OWASP advises: every cell is
    quoted, and a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
    return gets a leading ``'``, so a spreadsheet shows it as text. Numbers are
    written as they are, so a negative score stays a number. Example::

        FileSink("leads.csv", columns={"Email": "profile.email", "Score": "score"})

    A crash between the write and the outbox update can append a record twice on
    retry. The ``key`` field lets an import drop the repeat. Use one sink per file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        format: FileFormat | None = None,
        columns: Mapping[str, FieldSource] | None = None,
        encoding: str = "utf-8",
    ) -> None:
        self._path = Path(path)
        if format is None:
            format = _SUFFIX_FORMATS.get(self._path.suffix.lower())
            if format is None:
                raise ValueError(
                    f"cannot tell the format from the suffix of {self._path.name!r}; "
                    "pass format='jsonl' or format='csv'"
                )
        if format not in ("jsonl", "csv"):
            raise ValueError(f"format must be 'jsonl' or 'csv', got {format!r}")
        if columns is not None and format != "csv":
            raise ValueError("columns only apply to CSV files")

        self._format: FileFormat = format
        self._columns = dict(columns if columns is not None else DEFAULT_CSV_COLUMNS)
        if format == "csv":
            if not self._columns:
                raise ValueError("columns must name at least one column")
            for name, source in self._columns.items():
                if not isinstance(name, str) or not name:
                    raise ValueError(f"column names must be non-empty text, got {name!r}")
                check_source(source, f"the source of column {name!r}")
        self._encoding = encoding
        self._lock = threading.Lock()

        if format == "csv":
            self._check_existing_header()

    def __repr__(self) -> str:
        return f"FileSink({str(self._path)!r}, format={self._format!r})"

    def deliver(self, handover: HandOver) -> None:
        """Append the hand-over and fsync; raises a retryable DeliveryError if the write fails."""
        with self._lock:
            try:
                size = self._path.stat().st_size
            except FileNotFoundError:
                size = 0

            if self._format == "jsonl":
                text = handover.to_json() + "\n"
            else:
                text = self._csv_rows(handover, with_header=size == 0)
            data = text.encode(self._encoding)

            self._append(data, size, handover)

    def _append(self, data: bytes, size: int, handover: HandOver) -> None:
        try:
            with open(self._path, "ab") as file:
                try:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
                except OSError:
                    # Cut off the partial record, so the next one starts on a fresh line.
                    file.truncate(size)
                    raise
        except OSError as error:
            raise DeliveryError(
                f"could not append hand-over {handover.key} to {self._path}: "
                f"{error.strerror or type(error).__name__}",
                retryable=True,
            ) from error

    def _csv_rows(self, handover: HandOver, *, with_header: bool) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        if with_header:
            writer.writerow([escape_csv_cell(name) for name in self._columns])
        writer.writerow(
            [escape_csv_cell(resolve(handover, source)) for source in self._columns.values()]
        )
        return buffer.getvalue()

    def _check_existing_header(self) -> None:
        # Appending rows under another file's header would shift every column.
        try:
            with open(self._path, encoding=self._encoding, newline="") as file:
                header = next(csv.reader(file), None)
        except FileNotFoundError:
            return
        expected = [escape_csv_cell(name) for name in self._columns]
        if header is not None and header != expected:
            raise ValueError(
                f"{self._path} already has the CSV header {header}, not {expected}; "
                "use another file or the same columns"
            )


def escape_csv_cell(value: Any) -> str:
    """Return a CSV cell's text, with a leading ``'`` if it starts like a formula.

    Example: ``escape_csv_cell("=HYPERLINK(...)")`` returns ``"'=HYPERLINK(...)"``.
    """
    if value is None or value is MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)  # a number cannot be a formula
    text = format_value(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def read_jsonl(path: str | os.PathLike[str], encoding: str = "utf-8") -> Iterator[HandOver]:
    """Yield the hand-overs of a JSON Lines file that `FileSink` wrote, skipping blank lines."""
    with open(path, encoding=encoding) as file:
        for line in file:
            if line.strip():
                yield HandOver.from_json(line)
