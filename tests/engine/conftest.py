"""Shared fixtures for the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsm_auth.engine import Spec

TEST_SPECS = Path(__file__).parent / "specs"


@pytest.fixture
def door() -> Spec:
    """The door spec of API.md (not auth: proves the engine is generic)."""
    return Spec.load(TEST_SPECS / "door.yaml")


@pytest.fixture
def traffic_light() -> Spec:
    """A traffic light with several guarded transitions for one trigger."""
    return Spec.load(TEST_SPECS / "traffic_light.yaml")
