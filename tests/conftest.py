"""Shared fixtures: the local Cognito emulator (one per test process / xdist worker)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fsm_auth.emulator import Emulator, FakeClock, Provisioned


@pytest.fixture(scope="session")
def _emulator_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def emulator(_emulator_clock: FakeClock) -> Iterator[Emulator]:
    """A started emulator shared by the session, driven by a FakeClock (see ``clock``)."""
    emu = Emulator(clock=_emulator_clock)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture(autouse=True)
def _emulator_reset(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the emulator: no faults, no codes, real time, serving again."""
    yield
    if "emulator" not in request.fixturenames:
        return
    emu: Emulator = request.getfixturevalue("emulator")
    clock: FakeClock = request.getfixturevalue("_emulator_clock")
    emu.faults.clear()
    # Codes of earlier tests (same user names, other pools) must not answer this test's asks.
    emu.clear_codes()
    clock.reset()
    emu.clock = clock
    emu.start()


@pytest.fixture
def clock(emulator: Emulator, _emulator_clock: FakeClock) -> FakeClock:
    """The emulator's clock for this test: ``clock.advance(seconds)`` moves time forward."""
    emulator.clock = _emulator_clock
    return _emulator_clock


@pytest.fixture
def pool(emulator: Emulator) -> Provisioned:
    """A fresh user pool, app client, identity pool and bucket for this test."""
    return emulator.provision()


@pytest.fixture
def aws_config(pool: Provisioned) -> dict[str, Any]:
    """``awsconfiguration.json`` content for ``pool``."""
    return pool.aws_configuration()
