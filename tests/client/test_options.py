"""``from_config`` options beyond the contract's: ``min_validity`` and ``retry``."""

from __future__ import annotations

from typing import Any

import pytest

from fsm_auth import AuthClient, InvalidParameterError, RetryPolicy, TooManyRequestsError
from fsm_auth.emulator import Emulator, FakeClock, Fault
from fsm_auth.session import MemorySessionStore

from .conftest import PASSWORD, sign_up_confirmed


def build(aws_config: dict[str, Any], clock: FakeClock, **options: Any) -> AuthClient:
    config = {k: v for k, v in aws_config.items() if k != "CredentialsProvider"}
    return AuthClient.from_config(config, store=MemorySessionStore(), clock=clock, **options)


def test_min_validity_is_configurable(
    aws_config: dict[str, Any], clock: FakeClock, emulator: Emulator
) -> None:
    with build(aws_config, clock, min_validity=600) as client:
        sign_up_confirmed(client, emulator, "mina")
        client.sign_in("mina", PASSWORD)
        first = client.get_tokens()
        left = first.expiration.timestamp() - clock()
        clock.advance(left - 590)  # 590 s left: less than the 600 asked for
        emulator.reset_requests()
        renewed = client.get_tokens()
        assert emulator.count("GetTokensFromRefreshToken") == 1
        assert renewed.expiration.timestamp() - clock() > 600


def test_retry_policy_bounds_the_attempts(
    aws_config: dict[str, Any], clock: FakeClock, emulator: Emulator
) -> None:
    with build(aws_config, clock, retry=RetryPolicy(max_attempts=5, base_delay=0.001)) as client:
        client.initialize()
        emulator.reset_requests()
        emulator.faults.inject(Fault(operation="SignUp", throttle=True))
        with pytest.raises(TooManyRequestsError):
            client.sign_up("rita", PASSWORD)
        assert emulator.count("SignUp") == 5


@pytest.mark.parametrize("bad", [-1, float("nan")])
def test_min_validity_must_be_seconds(
    aws_config: dict[str, Any], clock: FakeClock, bad: float
) -> None:
    with pytest.raises(InvalidParameterError, match="min_validity"):
        build(aws_config, clock, min_validity=bad)
