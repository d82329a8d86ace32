"""A device whose clock is off (issue 9, item 2): the emulator issues tokens and credentials by
its own clock; the client is given a clock offset from it by minutes or hours, and must judge
every expiry and refresh in the service's time, learnt from the ``iat`` of fresh tokens."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fsm_auth import AuthClient, NotAuthorizedError, UserState
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.session import MemorySessionStore

from .conftest import PASSWORD, sign_up_confirmed

HOUR = 3600.0


class DeviceClock:
    """The device's clock: the emulator's clock plus a fixed error (positive: ahead)."""

    def __init__(self, service: FakeClock, error: float) -> None:
        self.service = service
        self.error = error

    def __call__(self) -> float:
        return self.service() + self.error


def device_client(
    config: dict[str, Any], clock: FakeClock, error: float | DeviceClock
) -> AuthClient:
    device = error if isinstance(error, DeviceClock) else DeviceClock(clock, error)
    return AuthClient.from_config(copy.deepcopy(config), clock=device, store=MemorySessionStore())


def refreshes(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if r.operation == "GetTokensFromRefreshToken")


@pytest.fixture
def user_pool_config(aws_config: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(aws_config)
    config.pop("CredentialsProvider", None)
    return config


@pytest.fixture
def skewed(
    user_pool_config: dict[str, Any],
    clock: FakeClock,
    emulator: Emulator,
) -> Any:
    """``skewed(error)``: a client whose clock is ``error`` seconds off (or is the given
    ``DeviceClock``), with alice signed up."""
    made: list[AuthClient] = []

    def make(error: float | DeviceClock) -> AuthClient:
        client = device_client(user_pool_config, clock, error)
        made.append(client)
        if len(made) == 1:
            sign_up_confirmed(client, emulator, "alice")
        return client

    yield make
    for client in made:
        client.close()


def test_a_device_two_hours_ahead_signs_in(skewed: Any, emulator: Emulator) -> None:
    client = skewed(2 * HOUR)
    client.sign_in("alice", PASSWORD)  # today: "exp (expired at ...)", the tokens look old
    assert client.current_user_state is UserState.SIGNED_IN
    emulator.reset_requests()
    for _ in range(20):
        client.get_tokens()
    assert emulator.count() == 0


@pytest.mark.parametrize("error", [HOUR, -HOUR], ids=["1h-ahead", "1h-behind"])
def test_twenty_calls_make_at_most_one_refresh(
    skewed: Any, emulator: Emulator, clock: FakeClock, error: float
) -> None:
    client = skewed(error)
    client.sign_in("alice", PASSWORD)
    emulator.reset_requests()
    for _ in range(20):
        client.get_tokens()
        clock.advance(30)  # 10 minutes of calls, well inside the tokens' hour
    count = refreshes(emulator)
    print(f"clock {error / HOUR:+.0f} h: {count} refresh request(s) over 20 get_tokens() calls")
    assert count <= 1  # today, 1 h ahead: 20 (each call sees tokens at their end)


@pytest.mark.parametrize(
    "error",
    [-5 * HOUR, -2 * HOUR, -HOUR, -300.0, 300.0, HOUR, 2 * HOUR, 5 * HOUR],
    ids=["5h-behind", "2h-behind", "1h-behind", "5m-behind", "5m-ahead", "1h-ahead",
         "2h-ahead", "5h-ahead"],
)  # fmt: skip
def test_expiry_is_judged_in_the_service_time(
    skewed: Any, emulator: Emulator, clock: FakeClock, error: float
) -> None:
    client = skewed(error)
    client.sign_in("alice", PASSWORD)
    first = client.get_tokens()
    emulator.reset_requests()
    # The service's hour is up: the tokens are dead there, whatever the device's clock says.
    clock.advance(HOUR + 10)
    tokens = client.get_tokens()
    assert refreshes(emulator) == 1  # today, behind: the dead tokens are served, no refresh
    assert tokens.access_token != first.access_token
    assert tokens.expiration.timestamp() > clock()  # valid in the service's time
    # ...and the service takes them (an expired access token would be refused).
    assert client.get_user_attributes()["email"] == "alice@example.com"
    for _ in range(20):
        client.get_tokens()
    assert refreshes(emulator) == 1


def test_a_token_issued_beyond_the_tolerance_is_refused(skewed: Any) -> None:
    # The device is 8 hours behind: the service's tokens were issued 8 h in our future,
    # beyond any clock error we correct (6 h).
    client = skewed(-8 * HOUR)
    with pytest.raises(NotAuthorizedError, match=r"iat \(issued 8\.0 h ahead of the local clock"):
        client.sign_in("alice", PASSWORD)
    assert client.current_user_state is UserState.SIGNED_OUT


def test_a_device_ahead_beyond_the_tolerance_is_told_to_check_its_clock(skewed: Any) -> None:
    client = skewed(8 * HOUR)
    with pytest.raises(NotAuthorizedError, match="expired on arrival: check the device's clock"):
        client.sign_in("alice", PASSWORD)
    assert client.current_user_state is UserState.SIGNED_OUT


def test_aws_credentials_are_judged_in_the_service_time(
    aws_config: dict[str, Any], clock: FakeClock, emulator: Emulator, pool: Provisioned
) -> None:
    # Credentials' Expiration is the identity service's time, like the tokens' exp.
    client = device_client(aws_config, clock, HOUR)
    try:
        sign_up_confirmed(client, emulator, "alice")
        client.sign_in("alice", PASSWORD)
        client.get_aws_credentials()
        emulator.reset_requests()
        for _ in range(20):
            client.get_aws_credentials()
            clock.advance(30)
        # Today: one GetCredentialsForIdentity per call (they look expired on arrival).
        assert emulator.count("GetCredentialsForIdentity") <= 1
    finally:
        client.close()


def test_the_offset_follows_a_clock_that_is_set_right(
    skewed: Any, emulator: Emulator, clock: FakeClock
) -> None:
    device = DeviceClock(clock, 2 * HOUR)
    client = skewed(device)
    client.sign_in("alice", PASSWORD)
    device.error = 0.0  # NTP sets the device's clock right...
    client.sign_out()
    client.sign_in("alice", PASSWORD)  # ...and the next fresh tokens say so
    emulator.reset_requests()
    for _ in range(20):
        client.get_tokens()
        clock.advance(30)
    assert refreshes(emulator) == 0
    clock.advance(HOUR)  # dead in the service's time: a stale -2 h offset would serve them
    client.get_tokens()
    assert refreshes(emulator) == 1
