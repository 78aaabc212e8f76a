"""Fixtures for the command-line tests: the sample rule, contacts and activities files."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import ACTIVITIES, CONTACTS, RULES, write_text


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    return write_text(tmp_path / "rules.lead", RULES)


@pytest.fixture
def contacts_file(tmp_path: Path) -> Path:
    return write_text(tmp_path / "contacts.csv", CONTACTS)


@pytest.fixture
def activities_file(tmp_path: Path) -> Path:
    return write_text(tmp_path / "activities.csv", ACTIVITIES)
