"""Terminal output for the command line: rich when it is installed, plain text otherwise.

rich comes with the ``cli`` extra. Without it the commands still work and print the
same information as plain aligned text, so scripts and CI logs never depend on it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO


class Console:
    """Write tables, messages and progress to stdout and errors to stderr."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        try:
            import rich.console
        except ImportError:
            self._rich: Any = None
            self._rich_err: Any = None
        else:
            self._rich = rich.console.Console(file=self.stdout, highlight=False)
            self._rich_err = rich.console.Console(file=self.stderr, highlight=False)

    @property
    def interactive(self) -> bool:
        """True when stdout is a terminal, where progress bars and colour make sense."""
        return bool(getattr(self.stdout, "isatty", lambda: False)())

    def print(self, text: str = "") -> None:
        """Write one line of plain text to stdout."""
        self.stdout.write(text + "\n")

    def error(self, text: str) -> None:
        """Write a message to stderr, prefixed with 'error: ' unless it names its own place."""
        self.stderr.write(text if text.endswith("\n") else text + "\n")

    def table(
        self, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
    ) -> None:
        """Print rows under column headings: a rich table on a terminal, aligned text elsewhere."""
        if self._rich is not None and self.interactive:
            import rich.table

            table = rich.table.Table(title=title)
            for column in columns:
                table.add_column(
                    column, justify="right" if _numeric(rows, columns.index(column)) else "left"
                )
            for row in rows:
                table.add_row(*("" if cell is None else str(cell) for cell in row))
            self._rich.print(table)
            return
        cells = [[str(c) for c in columns]] + [
            ["" if cell is None else str(cell) for cell in row] for row in rows
        ]
        widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
        if title:
            self.print(title)
        for number, row in enumerate(cells):
            line = "  ".join(
                cell.rjust(widths[i]) if _numeric(rows, i) else cell.ljust(widths[i])
                for i, cell in enumerate(row)
            )
            self.print(line.rstrip())
            if number == 0:
                self.print("  ".join("-" * width for width in widths))

    @contextmanager
    def progress(self, description: str, total: int | None = None) -> Iterator[Any]:
        """Yield a function ``advance(n)``; shows a progress bar only on an interactive terminal."""
        if self._rich is None or not self.interactive:
            yield lambda n=1: None
            return
        import rich.progress

        with rich.progress.Progress(console=self._rich_err, transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)


def _numeric(rows: Sequence[Sequence[Any]], index: int) -> bool:
    values = [row[index] for row in rows if row[index] not in (None, "")]
    return bool(values) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    )
