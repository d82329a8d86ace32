"""5xx and throttling from the fault layer: bounded retries, then the mapped error; a failed
refresh ahead keeps serving the valid token and backs off."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from auth_testkit import wait_until

from fsm_auth import (
    AuthClient,
    InternalServiceError,
    ServiceError,
    TooManyRequestsError,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock, Fault

from .conftest import (
    PASSWORD,
    MakeClient,
    StateLog,
    file_store,
    register,
    signed_in_client,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["AuthClient", "AsyncAuthClient"])
def client_kind(request: pytest.FixtureRequest) -> str:
    """Each test with both clients: the asyncio one behaves as the synchronous one."""
    return str(request.param)


HOUR = 3600.0
ATTEMPTS = 3  # RetryPolicy.max_attempts, the default

FAULTS: dict[str, tuple[Callable[[str, int | None], Fault], type[ServiceError]]] = {
    "5xx": (lambda op, times: Fault(operation=op, status=500, times=times), InternalServiceError),
    "throttle": (
        lambda op, times: Fault(operation=op, throttle=True, times=times),
        TooManyRequestsError,
    ),
}


@pytest.fixture(params=sorted(FAULTS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_one_failure_is_retried(make_client: MakeClient, emulator: Emulator, kind: str) -> None:
    client = signed_in_client(make_client, emulator, identity_pool=False)
    make, _ = FAULTS[kind]
    emulator.reset_requests()
    fault = emulator.faults.inject(make("GetUser", 1))
    assert client.get_user_attributes()["email"] == "alice@example.com"
    assert fault.hits == 1
    assert emulator.count("GetUser") == 2


def test_persistent_failure_gives_up_after_bounded_retries(
    make_client: MakeClient, emulator: Emulator, kind: str
) -> None:
    client = signed_in_client(make_client, emulator, identity_pool=False)
    make, error = FAULTS[kind]
    log = StateLog()
    client.add_user_state_listener(log)
    emulator.reset_requests()
    emulator.faults.inject(make("GetUser", None))
    with pytest.raises(error):
        client.get_user_attributes()
    assert emulator.count("GetUser") == ATTEMPTS
    assert client.current_user_state == UserState.SIGNED_IN
    assert log.changes == []


def test_sign_in_succeeds_after_one_failure(
    make_client: MakeClient, emulator: Emulator, kind: str
) -> None:
    client = make_client(identity_pool=False)
    client.initialize()
    register(client, emulator, "lena")
    make, _ = FAULTS[kind]
    emulator.reset_requests()
    emulator.faults.inject(make("RespondToAuthChallenge", 1))
    client.sign_in("lena", PASSWORD)
    assert client.current_user_state == UserState.SIGNED_IN
    assert emulator.count("InitiateAuth") == 1
    assert emulator.count("RespondToAuthChallenge") == 2


def test_refresh_failure_keeps_the_session(
    make_client: MakeClient,
    emulator: Emulator,
    clock: FakeClock,
    kind: str,
    storage_dir: Path,
    aws_config: dict[str, Any],
) -> None:
    client = signed_in_client(make_client, emulator, identity_pool=False)
    tokens = client.get_tokens()
    make, error = FAULTS[kind]
    log = StateLog()
    client.add_user_state_listener(log)
    clock.advance(HOUR + 60)
    emulator.reset_requests()
    emulator.faults.inject(make("GetTokensFromRefreshToken", None))
    with pytest.raises(error):
        client.get_tokens()
    assert emulator.count("GetTokensFromRefreshToken") == ATTEMPTS
    assert client.current_user_state == UserState.SIGNED_IN
    assert log.changes == []
    config = {k: v for k, v in aws_config.items() if k != "CredentialsProvider"}
    saved = file_store(storage_dir, config).load()
    assert saved is not None
    assert saved["user"]["tokens"]["refresh_token"] == tokens.refresh_token

    emulator.faults.clear()
    emulator.reset_requests()
    refreshed = client.get_tokens()
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert refreshed.access_token != tokens.access_token
    assert client.current_user_state == UserState.SIGNED_IN


def test_refresh_once_after_one_failure(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock, kind: str
) -> None:
    client = signed_in_client(make_client, emulator, identity_pool=False)
    tokens = client.get_tokens()
    make, _ = FAULTS[kind]
    clock.advance(HOUR + 60)
    emulator.reset_requests()
    emulator.faults.inject(make("GetTokensFromRefreshToken", 1))
    assert client.get_tokens().access_token != tokens.access_token
    assert emulator.count("GetTokensFromRefreshToken") == 2


def _in_refresh_ahead_window(client: AuthClient, clock: FakeClock) -> None:
    """Move the clock into the last quarter-hour before the tokens must be refreshed."""
    left = client.get_tokens().expiration.timestamp() - clock.now
    clock.advance(left - 600)  # 10 minutes of validity left: valid, but refresh ahead is due


def test_failed_refresh_ahead_serves_the_valid_token_and_backs_off(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = signed_in_client(make_client, emulator, identity_pool=False)
    tokens = client.get_tokens()
    _in_refresh_ahead_window(client, clock)
    emulator.reset_requests()
    emulator.faults.inject(Fault(operation="GetTokensFromRefreshToken", status=500))

    # Many callers in the window: all get the valid token at once; one refresh runs behind.
    for _ in range(300):
        assert client.get_tokens() == tokens
        clock.advance(0.001)
    assert wait_until(lambda: emulator.count("GetTokensFromRefreshToken") >= ATTEMPTS)
    time.sleep(0.3)  # let the failed refresh settle into its back-off
    for _ in range(300):
        assert client.get_tokens() == tokens
    assert (
        emulator.count("GetTokensFromRefreshToken") == ATTEMPTS
    )  # one refresh (3 attempts), no storm
    assert client.current_user_state == UserState.SIGNED_IN

    # After the back-off (at most 1 s) one more refresh is tried, and backs off longer.
    clock.advance(1.01)
    assert client.get_tokens() == tokens
    assert wait_until(lambda: emulator.count("GetTokensFromRefreshToken") >= 2 * ATTEMPTS)
    time.sleep(0.3)
    clock.advance(0.9)  # the second back-off is at least 1 s
    for _ in range(100):
        assert client.get_tokens() == tokens
    assert emulator.count("GetTokensFromRefreshToken") == 2 * ATTEMPTS

    # The service recovers: the next due refresh succeeds and the new token is served.
    emulator.faults.clear()
    clock.advance(2.0)
    client.get_tokens()
    assert wait_until(lambda: client.get_tokens() != tokens)
    assert emulator.count("GetTokensFromRefreshToken") == 2 * ATTEMPTS + 1
    assert client.get_tokens().expiration > tokens.expiration


def test_failed_refresh_ahead_offline_keeps_serving(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = signed_in_client(make_client, emulator, identity_pool=False)
    tokens = client.get_tokens()
    _in_refresh_ahead_window(client, clock)
    emulator.stop()
    for _ in range(200):
        assert client.get_tokens() == tokens
        clock.advance(0.01)
    assert client.current_user_state == UserState.SIGNED_IN
    # The refresh ahead runs in its own thread: let it fail while offline, or it could back
    # off from a clock already moved on below (and be retried only after the test's end).
    assert wait_until(lambda: "refresh of tokens failed" in caplog.text)
    emulator.start()
    clock.advance(120)  # past any back-off, still before the token must be refreshed
    client.get_tokens()
    assert wait_until(lambda: client.get_tokens() != tokens)
    assert client.current_user_state == UserState.SIGNED_IN
