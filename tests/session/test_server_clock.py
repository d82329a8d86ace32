"""ServerClock: the service's time as the local clock plus an offset learnt from fresh tokens'
``iat`` (issue 9, item 2); pure, no server."""

from __future__ import annotations

import pytest

from fsm_auth.provider import ProviderContext, ServerClock, as_server_clock
from fsm_auth.transport import RetryPolicy


class Local:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_no_offset_until_observed() -> None:
    local = Local(1_800_000_000.5)
    clock = ServerClock(local)
    assert clock() == local.now
    assert clock.offset == 0
    assert clock.local is local


@pytest.mark.parametrize("error", [-7200, -3600, -300, 300, 3600, 7200])
def test_an_observation_sets_the_offset(error: float) -> None:
    local = Local(1_800_000_000.0)
    clock = ServerClock(local)
    assert clock.observe(issued_at=local.now - error, received_at=local.now)
    assert clock.offset == -error
    local.now += 100
    assert clock() == local.now - error


def test_a_difference_within_the_resolution_of_iat_is_no_offset() -> None:
    clock = ServerClock(Local(1_800_000_000.9))
    clock.observe(issued_at=1_800_000_000, received_at=1_800_000_000.9)
    assert clock.offset == 0
    clock.observe(issued_at=1_800_000_000 - 600, received_at=1_800_000_000)
    assert clock.offset == -600
    # A clock set right meanwhile: the next observation says so and replaces the offset.
    clock.observe(issued_at=1_800_000_000, received_at=1_800_000_001)
    assert clock.offset == 0


@pytest.mark.parametrize("error", [-8 * 3600, 8 * 3600, float("nan"), float("inf")])
def test_an_estimate_beyond_the_tolerance_is_not_applied(error: float) -> None:
    clock = ServerClock(Local(1_800_000_000.0))
    clock.observe(issued_at=1_800_000_000 + 60, received_at=1_800_000_000)
    assert not clock.observe(issued_at=1_800_000_000 + error, received_at=1_800_000_000)
    assert clock.offset == 60  # kept


def test_the_tolerance_is_bounded_and_checked() -> None:
    assert ServerClock().tolerance == 6 * 3600
    assert ServerClock(tolerance=60).tolerance == 60
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="tolerance"):
            ServerClock(tolerance=bad)


def test_a_provider_context_always_carries_a_server_clock() -> None:
    from fsm_auth.config import load_config

    config = load_config(
        {"CredentialsProvider": {"CognitoIdentity": {"Default": {
            "PoolId": "us-east-1:0b7a6c1e-0000-0000-0000-000000000000", "Region": "us-east-1"}}}}
    )  # fmt: skip
    local = Local(1.0)
    context = ProviderContext(config, local, RetryPolicy())
    assert isinstance(context.clock, ServerClock)
    assert context.clock.local is local
    shared = ServerClock(local)
    assert ProviderContext(config, shared, RetryPolicy()).clock is shared
    assert as_server_clock(shared) is shared
