"""Read CSV, TSV and JSON Lines files, plain or gzip-compressed, one record at a time.

A source yields ``(row, values)`` pairs, where ``values`` maps column names to raw
values, or a `RowProblem` for a row that cannot be read. Problems are yielded, not
raised, so that a caller who skips bad rows can go on reading. Row numbers are 1-based
and count the header, so the first CSV record is row 2. JSON Lines files have no header,
so there the row is the line number.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import itertools
import json
import logging
import os
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any, Final, Literal, TypeAlias

import attrs

from leadscore.errors import DataError

__all__ = ["FORMATS", "Format", "RowProblem", "Source", "open_source", "sniff_delimiter"]

logger = logging.getLogger("leadscore.loaders")

Format = Literal["csv", "tsv", "jsonl"]
FORMATS: Final[tuple[Format, ...]] = ("csv", "tsv", "jsonl")

_SUFFIX_FORMATS: Final[dict[str, Format]] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_SNIFFED_DELIMITERS: Final = (",", ";", "\t")
_DELIMITER_NAMES: Final = {",": "','", ";": "';'", "\t": "tab"}
_LINE_ENDINGS: Final = ("\n", "\r")

# Errors raised while decompressing or decoding, which end the file for good.
_UNREADABLE: Final = (UnicodeDecodeError, EOFError, gzip.BadGzipFile, zlib.error)


class RowProblem(Exception):
    """A row that cannot be loaded: the DataError to raise and a reason without cell values."""

    def __init__(self, error: DataError, reason: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.reason = reason


Record: TypeAlias = tuple[int, "dict[str, Any] | RowProblem"]


@attrs.frozen
class Source:
    """Records from one file or DataFrame, with the column names when the source has them.

    ``text_cells`` is True when every value is text read from a CSV cell. ``header_row``
    is the row that names the columns, and None for a DataFrame, which has no such row.
    """

    name: str
    columns: tuple[str, ...] | None
    records: Iterator[Record]
    text_cells: bool
    header_row: int | None = 1


def bad_row(
    message: str,
    *,
    reason: str,
    file: str,
    row: int,
    field: str | None = None,
    hint: str | None = None,
) -> RowProblem:
    """Build the RowProblem for one bad row."""
    error = DataError(message, file=file, row=row, field=field, hint=hint)
    return RowProblem(error, reason)


@contextlib.contextmanager
def open_source(
    path: str | os.PathLike[str] | IO[str],
    *,
    format: Format | None,
    delimiter: str | None,
    encoding: str,
) -> Iterator[Source]:
    """Open a file, or use an open text stream, and read its header.

    The format comes from the suffix unless ``format`` is given, and a ``.gz`` suffix
    means gzip. A stream is not closed here, and its caller decompresses it.
    """
    if isinstance(path, str | os.PathLike):
        name = os.fspath(path)
        compressed = name.lower().endswith(".gz")
        chosen = format or _format_from_suffix(name[:-3] if compressed else name)
        text_encoding = _encoding_without_bom(encoding)
        with _open_text(name, compressed, text_encoding) as file:
            yield _source(file, name, chosen, delimiter, encoding)
    else:
        name = str(getattr(path, "name", "<stream>"))
        chosen = format or _format_from_suffix(name)
        yield _source(path, name, chosen, delimiter, encoding)


def _open_text(name: str, compressed: bool, encoding: str) -> IO[str]:
    # newline="" leaves line endings to the csv module, which handles CRLF inside quoted cells.
    if compressed:
        return gzip.open(name, "rt", encoding=encoding, newline="")
    return open(name, encoding=encoding, newline="")


def _format_from_suffix(name: str) -> Format:
    suffix = os.path.splitext(name)[1].lower()
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    raise DataError(
        f"cannot tell the file format from the suffix {suffix or '(none)'!r}",
        file=name,
        hint="use a .csv, .tsv, .jsonl or .ndjson suffix (optionally with .gz), "
        "or pass format='csv', 'tsv' or 'jsonl'",
    )


def _encoding_without_bom(encoding: str) -> str:
    # utf-8-sig drops a byte order mark at the start and reads files without one the same.
    if codecs.lookup(encoding).name == "utf-8":
        return "utf-8-sig"
    return encoding


def _source(
    file: IO[str], name: str, format: Format, delimiter: str | None, encoding: str
) -> Source:
    lines = _Lines(file, name, encoding)
    if format == "jsonl":
        return Source(name, None, _jsonl_records(lines, name), text_cells=False)
    if format == "tsv" and delimiter is None:
        delimiter = "\t"
    return _csv_source(lines, name, delimiter)


class _Lines(Iterator[str]):
    """Lines of a text file, remembering the last one, with decoding errors as DataError."""

    def __init__(self, file: Iterable[str], name: str, encoding: str) -> None:
        self._lines = iter(file)
        self._name = name
        self._encoding = encoding
        self.count = 0
        self.last = ""

    def __next__(self) -> str:
        try:
            line = next(self._lines)
        except UnicodeDecodeError as error:
            raise DataError(
                f"invalid {self._encoding} text after line {self.count:,}: {error.reason}",
                file=self._name,
                hint="pass the file's encoding, for example encoding='cp1252' for a Windows export",
            ) from None
        except _UNREADABLE as error:
            raise DataError(
                f"the compressed file is cut off or damaged after line {self.count:,}: {error}",
                file=self._name,
                hint="compress or download the file again",
            ) from None
        self.count += 1
        self.last = line
        return line

    @property
    def ended_without_newline(self) -> bool:
        """True when the last line read has no line break, so it is the end of the file."""
        return not self.last.endswith(_LINE_ENDINGS)


def sniff_delimiter(header: str, *, file: str = "<stream>") -> str:
    """Return ``,``, ``;`` or tab, whichever occurs most often outside quotes in the header line.

    A header with none of them is one column, read as comma-separated. A tie raises
    DataError, because the delimiter is ambiguous. Example::

        sniff_delimiter('"age";"job";"y"')  # ";"
    """
    counts = dict.fromkeys(_SNIFFED_DELIMITERS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1

    highest = max(counts.values())
    if highest == 0:
        return ","
    candidates = [delimiter for delimiter, count in counts.items() if count == highest]
    if len(candidates) > 1:
        found = " and ".join(f"{highest} {_DELIMITER_NAMES[d]}" for d in candidates)
        raise DataError(
            f"cannot detect the delimiter: the header has {found}",
            file=file,
            row=1,
            hint="pass delimiter=',' or the delimiter the file uses",
        )
    return candidates[0]


def _csv_source(lines: _Lines, name: str, delimiter: str | None) -> Source:
    first_line = next(lines, "")
    if not first_line.strip():
        raise DataError(
            "the header row is missing or empty",
            file=name,
            row=1,
            hint="the first line must name the columns",
        )
    if delimiter is None:
        delimiter = sniff_delimiter(first_line, file=name)
        logger.debug("detected delimiter %r in %s", delimiter, name)

    reader = csv.reader(itertools.chain([first_line], lines), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as error:
        raise DataError(f"invalid header row: {error}", file=name, row=1) from None

    columns, positions = _check_header(header, name)
    return Source(
        name,
        columns,
        _csv_records(reader, lines, name, len(header), columns, positions),
        text_cells=True,
    )


def _check_header(header: list[str], name: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Return the column names and their positions, leaving out unnamed columns."""
    seen: dict[str, int] = {}
    unnamed: list[int] = []
    for position, raw_name in enumerate(header, start=1):
        column = raw_name.strip()
        if not column:
            unnamed.append(position)
            continue
        if column in seen:
            raise DataError(
                f"duplicate column name {column!r} in the header "
                f"(columns {seen[column]} and {position})",
                file=name,
                row=1,
                field=column,
                hint="rename one of the columns in the file, since a row could only keep one value",
            )
        seen[column] = position

    if unnamed:
        # A pandas export writes its index as a first column with an empty name.
        logger.warning(
            "ignoring %d column(s) with no name in the header of %s (positions %s)",
            len(unnamed),
            name,
            ", ".join(map(str, unnamed)),
        )
    return tuple(seen), tuple(position - 1 for position in seen.values())


def _csv_records(
    reader: Iterator[list[str]],
    lines: _Lines,
    name: str,
    width: int,
    columns: tuple[str, ...],
    positions: tuple[int, ...],
) -> Iterator[Record]:
    row = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            row += 1
            yield row, _malformed_row(error, lines, name, row)
            continue

        row += 1
        if not fields or (len(fields) == 1 and width > 1 and not fields[0].strip()):
            continue  # a blank line
        if len(fields) != width:
            yield row, _wrong_width(fields, width, lines, name, row)
            continue
        yield (
            row,
            {column: fields[position] for column, position in zip(columns, positions, strict=True)},
        )


def _malformed_row(error: csv.Error, lines: _Lines, name: str, row: int) -> RowProblem:
    if lines.ended_without_newline and "end of data" in str(error):
        return bad_row(
            "the row is cut off: the file ends inside a quoted field",
            reason="row cut off at the end of the file",
            file=name,
            row=row,
            hint="the export was probably interrupted; export the file again, "
            "or pass skip_bad_rows=True to skip this row",
        )
    return bad_row(
        f"invalid CSV quoting: {error}",
        reason="invalid CSV quoting",
        file=name,
        row=row,
        hint='a quote inside a quoted field must be doubled (""); '
        "fix the row or pass skip_bad_rows=True to skip it",
    )


def _wrong_width(fields: list[str], width: int, lines: _Lines, name: str, row: int) -> RowProblem:
    count = len(fields)
    if count < width and lines.ended_without_newline:
        return bad_row(
            f"the row is cut off: it has {count} of {width} fields "
            "and the file ends without a line break",
            reason="row cut off at the end of the file",
            file=name,
            row=row,
            hint="the export was probably interrupted; export the file again, "
            "or pass skip_bad_rows=True to skip this row",
        )
    relation = "fewer" if count < width else "more"
    return bad_row(
        f"the row has {count} fields but the header has {width}",
        reason=f"{relation} fields than the header",
        file=name,
        row=row,
        hint="check the delimiter and the quoting of this row, "
        "or pass skip_bad_rows=True to skip such rows",
    )


def _jsonl_records(lines: _Lines, name: str) -> Iterator[Record]:
    for line in lines:
        row = lines.count
        text = line.strip()
        if not text:
            continue

        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            yield row, _invalid_json(error, lines, name, row)
            continue

        if not isinstance(value, dict):
            yield (
                row,
                bad_row(
                    f"the line is a JSON {_json_kind(value)}, but each line must be an object",
                    reason="line is not a JSON object",
                    file=name,
                    row=row,
                    hint='write one object per line, such as {"id": "c-1", "country": "CZ"}',
                ),
            )
            continue
        yield row, value


def _invalid_json(error: json.JSONDecodeError, lines: _Lines, name: str, row: int) -> RowProblem:
    if lines.ended_without_newline:
        return bad_row(
            f"the line is cut off: invalid JSON ({error.msg} at column {error.colno}) "
            "and the file ends without a line break",
            reason="row cut off at the end of the file",
            file=name,
            row=row,
            hint="the export was probably interrupted; export the file again, "
            "or pass skip_bad_rows=True to skip this line",
        )
    return bad_row(
        f"invalid JSON: {error.msg} at column {error.colno}",
        reason="invalid JSON",
        file=name,
        row=row,
        hint="fix the line or pass skip_bad_rows=True to skip it",
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"
