"""Load reports: how many rows a loader read and skipped, and why it skipped them."""

from __future__ import annotations

import attrs

from leadscore.errors import DataError

__all__ = ["LoadReport", "SkippedRow"]


@attrs.frozen
class SkippedRow:
    """A row skipped with ``skip_bad_rows=True``: where it is and why.

    ``reason`` names the problem without cell values, and ``message`` is the full error
    text, which may show the value.
    """

    file: str | None
    row: int | None
    field: str | None
    reason: str
    message: str

    def __str__(self) -> str:
        return self.message


@attrs.define
class LoadReport:
    """Counts of rows read and skipped, with the first ``max_examples`` skipped rows.

    Pass one to a loader as ``report=`` and read it after the loop. The counts grow as
    rows are read, so they are complete only once the iterator is exhausted. One report
    may collect several files. Example::

        report = LoadReport()
        contacts = list(read_contacts("leads.csv", skip_bad_rows=True, report=report))
        print(report.summary())  # "read 9,240 rows, skipped 1: invalid integer in field 'age' (1)"
    """

    max_examples: int = 20
    rows_read: int = 0
    rows_skipped: int = 0
    skipped_rows: list[SkippedRow] = attrs.field(factory=list)
    skipped_by_reason: dict[str, int] = attrs.field(factory=dict)

    @property
    def rows_loaded(self) -> int:
        """Rows that became contacts or activities."""
        return self.rows_read - self.rows_skipped

    def add_skip(self, error: DataError, reason: str) -> None:
        """Count one skipped row under ``reason`` and keep the first ``max_examples`` rows."""
        self.rows_skipped += 1
        self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + 1
        if len(self.skipped_rows) < self.max_examples:
            self.skipped_rows.append(
                SkippedRow(
                    file=error.file,
                    row=error.row,
                    field=error.field,
                    reason=reason,
                    message=str(error),
                )
            )

    def summary(self) -> str:
        """Return one line with the counts and the reasons, most frequent first, without values."""
        read = f"read {self.rows_read:,} row{'s' if self.rows_read != 1 else ''}"
        if not self.rows_skipped:
            return f"{read}, skipped none"
        reasons = sorted(self.skipped_by_reason.items(), key=lambda item: (-item[1], item[0]))
        details = "; ".join(f"{reason} ({count:,})" for reason, count in reasons)
        return f"{read}, skipped {self.rows_skipped:,}: {details}"
