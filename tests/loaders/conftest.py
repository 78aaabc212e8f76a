"""Paths to the real datasets and the small files in data/, for the loader tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The real datasets are read-only and never copied into the repository. They sit in a
# shared/data folder beside the repository; LEADSCORE_TEST_DATA points elsewhere.
_REPOSITORY = Path(__file__).resolve().parents[2]
_DATASET_ROOTS = [
    Path(os.environ["LEADSCORE_TEST_DATA"]) if "LEADSCORE_TEST_DATA" in os.environ else None,
    _REPOSITORY.parent / "shared" / "data",
    Path("/work/shared/data"),
]


def dataset(relative: str) -> Path:
    """Return the path of a real dataset file, or skip the test when no copy is present."""
    for root in _DATASET_ROOTS:
        if root is not None and (root / relative).is_file():
            return root / relative
    searched = ", ".join(str(root) for root in _DATASET_ROOTS if root is not None)
    pytest.skip(f"dataset file {relative} not found under {searched}; set LEADSCORE_TEST_DATA")


@pytest.fixture
def rees46() -> Path:
    return dataset("rees46-ecommerce-events/2019-Oct.csv")


@pytest.fixture
def bank() -> Path:
    return dataset("uci-bank-marketing/bank.csv")


@pytest.fixture
def bank_full() -> Path:
    return dataset("uci-bank-marketing/bank-full.csv")


@pytest.fixture
def leads() -> Path:
    return dataset("x-education-leads/Leads.csv")
