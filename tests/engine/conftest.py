"""Fixtures for the engine tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["compiled", "reference"])
def evaluator(request: pytest.FixtureRequest) -> str:
    """Run a test once with the compiled engine and once with the reference evaluator."""
    return str(request.param)
