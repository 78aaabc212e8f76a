"""Output files of the command line: written to a temporary name and renamed when complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from leadscore.cli.inputs import InputError

__all__ = ["open_output"]


@contextlib.contextmanager
def open_output(path: str | None, stdout: TextIO, newline: str | None = None) -> Iterator[TextIO]:
    """Yield ``stdout`` when ``path`` is None or '-', else a file that replaces ``path`` on success.

    The file is written under a temporary name in the same folder and renamed when the
    block ends without an exception, so a failed run never leaves a file that looks
    complete. On an exception the temporary file is removed.
    """
    if path is None or path == "-":
        yield stdout
        return

    target = Path(path)
    if not target.parent.is_dir():
        raise InputError(f"--output: the folder {str(target.parent)!r} does not exist")
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        # mkstemp creates the file readable by its owner only; give it the usual mode.
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(descriptor, "w", encoding="utf-8", newline=newline) as stream:
            yield stream
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
