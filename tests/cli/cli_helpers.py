"""Helpers for the command-line tests: run the real console script, sample files, example data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = REPOSITORY / "examples"
BANK = EXAMPLES / "bank-marketing"
REES46 = EXAMPLES / "rees46-events"
X_EDUCATION = EXAMPLES / "x-education"

# The datasets that are not in the repository sit in shared/data beside it, unless
# LEADSCORE_DATA points elsewhere.
DATA = Path(os.environ.get("LEADSCORE_DATA", REPOSITORY.parent / "shared" / "data"))


def run_cli(
    *arguments: str | os.PathLike[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m leadscore ARGUMENTS`` in a child process and return its result."""
    return subprocess.run(
        [sys.executable, "-m", "leadscore", *map(str, arguments)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
    )


def run_console_script(
    *arguments: str | os.PathLike[str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``leadscore`` console script, the command a user types."""
    script = Path(sys.executable).with_name("leadscore")
    if not script.is_file():
        pytest.fail(f"no leadscore console script beside {sys.executable}; run pip install -e .")
    return subprocess.run(
        [str(script), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def dataset(relative: str) -> Path:
    """Return a dataset file under DATA, or skip the test when it is not there."""
    path = DATA / relative
    if not path.is_file():
        pytest.skip(f"dataset {relative} not found under {DATA}; set LEADSCORE_DATA to its folder")
    return path


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` with LF line endings and return the path."""
    path.write_text(text, encoding="utf-8", newline="\n")
    return path


# A small rule file with profile rules, a capped activity rule with expiry and two
# thresholds. As of 2026-06-30T12:00Z the contacts below score: c-1 10 + 15 + 15 (four
# pricing visits, capped) = 40, Hot; c-2 two pricing visits = 10, Warm; c-3 10 + one
# pricing visit (the blog visit does not match) = 15, Warm; c-4 15, Warm. Contact c-9
# has an activity but is not in the contacts file.
RULES = """\
scoring "Fit" {
    threshold "Warm" at 10
    threshold "Hot" at 30
    rule "Target country" { when contact.country in ["CZ", "SK"] award 10 }
    rule "Big company" { when contact.employees >= 500 award 15 }
    rule "Pricing page" {
        on page_visit where activity.url glob "*/pricing*"
        award 5 each
        max 15
        expire after 30 days
    }
}
"""

CONTACTS = """\
id,country,employees
c-1,CZ,800
c-2,DE,20
c-3,SK,10
c-4,US,1000
"""

ACTIVITIES = """\
contact_id,type,occurred_at,url
c-1,page_visit,2026-06-25T09:00:00Z,https://example.com/pricing
c-1,page_visit,2026-06-26T09:00:00Z,https://example.com/pricing
c-1,page_visit,2026-06-27T09:00:00Z,https://example.com/pricing
c-1,page_visit,2026-06-28T09:00:00Z,https://example.com/pricing
c-2,page_visit,2026-06-01T09:00:00Z,https://example.com/pricing
c-2,page_visit,2026-06-10T09:00:00Z,https://example.com/pricing/enterprise
c-3,page_visit,2026-06-20T09:00:00Z,https://example.com/blog
c-3,page_visit,2026-06-21T09:00:00Z,https://example.com/pricing
c-9,page_visit,2026-06-21T09:00:00Z,https://example.com/pricing
"""

AT = "2026-06-30T12:00:00Z"
