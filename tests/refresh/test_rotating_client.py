"""Refresh through AuthClient against the emulator, on app clients that rotate refresh tokens
and on ones that do not: GetTokensFromRefreshToken, the rotated token saved before it is
served, a session that keeps working past every grace period, restarts, a client secret,
sign-out revoking the rotated family, a rotated-out token refused, and the fall-back to
REFRESH_TOKEN_AUTH on a service without GetTokensFromRefreshToken."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import pytest
from auth_testkit import confirmed_user

from fsm_auth import AuthClient, NotAuthorizedError, UnableToSignInError, UserState
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned
from fsm_auth.session import MemorySessionStore

from .conftest import GRACE, HOUR, PASSWORD, refreshes, saved_refresh_token


class _WatchedStore:
    """A store of one's own (no ``scoped``: the client guards it to its configuration) that
    notes the refresh token of every save as it happens, over an in-memory store."""

    def __init__(self) -> None:
        self._inner = MemorySessionStore()
        self.saved: list[str | None] = []

    def load(self) -> dict[str, Any] | None:
        return self._inner.load()

    def save(self, data: Mapping[str, Any]) -> None:
        self.saved.append(saved_refresh_token(data))
        self._inner.save(data)

    def clear(self) -> None:
        self._inner.clear()

    def lock(self) -> AbstractContextManager[None]:
        return self._inner.lock()

    def refresh_lock(self, timeout: float) -> AbstractContextManager[bool]:
        return self._inner.refresh_lock(timeout)

    def version(self) -> object:
        return self._inner.version()


def _refused_by_service(emulator: Emulator, pool: Provisioned, token: str) -> bool:
    idp = emulator.admin_client()
    try:
        idp.get_tokens_from_refresh_token(ClientId=pool.client_id, RefreshToken=token)
    except idp.exceptions.ClientError:
        return True
    return False


def test_a_refresh_on_a_rotating_client_is_one_request_and_saves_the_new_token_first(
    emulator: Emulator, pool: Provisioned, make_client: Callable[..., AuthClient], clock: FakeClock
) -> None:
    store = _WatchedStore()
    client = make_client(store=store)
    client.initialize()
    confirmed_user(emulator, pool, "alice", PASSWORD)
    client.sign_in("alice", PASSWORD)
    first = client.get_tokens()
    clock.advance(HOUR + 60)
    emulator.reset_requests()
    saves = len(store.saved)
    refreshed = client.get_tokens()
    # One request: GetTokensFromRefreshToken, never REFRESH_TOKEN_AUTH (which this client
    # would refuse).
    assert [r.operation for r in emulator.requests] == ["GetTokensFromRefreshToken"]
    assert refreshes(emulator) == {"GetTokensFromRefreshToken": 1, "legacy": 0}
    assert refreshed.refresh_token is not None
    assert refreshed.refresh_token != first.refresh_token
    assert refreshed.access_token != first.access_token
    # Saved by the time it is served: the store's newest save holds the rotated token.
    assert store.saved[saves:] == [refreshed.refresh_token]
    assert saved_refresh_token(store.load()) == refreshed.refresh_token
    assert client.current_user_state is UserState.SIGNED_IN


def test_the_session_keeps_working_past_every_grace_period(
    emulator: Emulator, signed_in: AuthClient, pool: Provisioned, clock: FakeClock
) -> None:
    tokens = signed_in.get_tokens()
    used = [tokens.refresh_token]
    for _ in range(4):
        clock.advance(HOUR + GRACE + 60)  # the previous refresh token is past its grace
        emulator.reset_requests()
        tokens = signed_in.get_tokens(wait=False)
        assert emulator.count("GetTokensFromRefreshToken") == 1
        assert tokens.refresh_token not in used
        used.append(tokens.refresh_token)
    assert signed_in.current_user_state is UserState.SIGNED_IN
    clock.advance(GRACE)
    # Every rotated-out token is refused by the service once past its grace; the newest works.
    assert all(_refused_by_service(emulator, pool, str(t)) for t in used[:-1])
    assert not _refused_by_service(emulator, pool, str(used[-1]))


def test_a_restart_refreshes_with_the_rotated_token(
    emulator: Emulator, pool: Provisioned, make_client: Callable[..., AuthClient], clock: FakeClock
) -> None:
    store = _WatchedStore()
    client = make_client(store=store)
    client.initialize()
    confirmed_user(emulator, pool, "alice", PASSWORD)
    client.sign_in("alice", PASSWORD)
    clock.advance(HOUR + 60)
    rotated = client.get_tokens().refresh_token
    client.close()
    clock.advance(GRACE + 1)  # the sign-in's refresh token is past its grace now
    restarted = make_client(store=store)
    assert restarted.initialize() is UserState.SIGNED_IN
    assert restarted.get_tokens().refresh_token == rotated  # restored, not yet refreshed
    clock.advance(HOUR)
    emulator.reset_requests()
    again = restarted.get_tokens(wait=False)
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert again.refresh_token not in (None, rotated)
    assert restarted.current_user_state is UserState.SIGNED_IN


def test_a_non_rotating_client_keeps_its_refresh_token(
    emulator: Emulator, make_client: Callable[..., AuthClient], clock: FakeClock
) -> None:
    plain = emulator.provision(with_identity_pool=False, bucket=None)
    client = make_client(plain.aws_configuration())
    client.initialize()
    confirmed_user(emulator, plain, "alice", PASSWORD)
    client.sign_in("alice", PASSWORD)
    first = client.get_tokens()
    for _ in range(3):
        clock.advance(HOUR + 60)
        emulator.reset_requests()
        tokens = client.get_tokens(wait=False)
        assert refreshes(emulator) == {"GetTokensFromRefreshToken": 1, "legacy": 0}
        assert tokens.refresh_token == first.refresh_token
        assert tokens.access_token != first.access_token
    assert client.current_user_state is UserState.SIGNED_IN


def test_a_rotating_client_with_a_secret(
    emulator: Emulator, make_client: Callable[..., AuthClient], clock: FakeClock
) -> None:
    secret_pool = emulator.provision(
        refresh_token_rotation=True, client_secret=True, with_identity_pool=False, bucket=None
    )
    client = make_client(secret_pool.aws_configuration())
    client.initialize()
    confirmed_user(emulator, secret_pool, "alice", PASSWORD)
    client.sign_in("alice", PASSWORD)
    first = client.get_tokens()
    clock.advance(HOUR + 60)
    emulator.reset_requests()
    refreshed = client.get_tokens(wait=False)
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert refreshed.refresh_token != first.refresh_token
    (request,) = [r for r in emulator.requests if r.operation == "GetTokensFromRefreshToken"]
    assert request.status == 200
    assert client.current_user_state is UserState.SIGNED_IN


def test_sign_out_revokes_the_whole_rotated_family(
    emulator: Emulator, signed_in: AuthClient, pool: Provisioned, clock: FakeClock
) -> None:
    first = signed_in.get_tokens().refresh_token
    clock.advance(HOUR + 60)
    second = signed_in.get_tokens().refresh_token
    result = signed_in.sign_out()
    assert result.complete
    assert emulator.count("RevokeToken") == 1
    assert _refused_by_service(emulator, pool, str(first))
    assert _refused_by_service(emulator, pool, str(second))


def test_a_rotated_out_token_past_its_grace_is_a_refused_refresh(
    emulator: Emulator, pool: Provisioned, make_client: Callable[..., AuthClient], clock: FakeClock
) -> None:
    # Two clients restored from copies of one saved session (no store shared between them:
    # nothing tells the second that the first rotated the token).
    store = _WatchedStore()
    first = make_client(store=store)
    first.initialize()
    confirmed_user(emulator, pool, "alice", PASSWORD)
    first.sign_in("alice", PASSWORD)
    copy_store = _WatchedStore()
    copy_store.save(store.load() or {})
    second = make_client(store=copy_store)
    assert second.initialize() is UserState.SIGNED_IN
    clock.advance(HOUR + 60)
    emulator.reset_requests()
    first.get_tokens()
    clock.advance(GRACE)
    with pytest.raises(UnableToSignInError):
        second.get_tokens(wait=False)
    assert second.current_user_state is UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID
    (refused,) = [
        r
        for r in emulator.requests
        if r.operation == "GetTokensFromRefreshToken" and r.status != 200
    ]
    assert refused.status == 400
    assert first.current_user_state is UserState.SIGNED_IN
    assert first.get_tokens().refresh_token


def test_a_refused_refresh_maps_to_not_authorized(
    emulator: Emulator, signed_in: AuthClient, clock: FakeClock
) -> None:
    # The refusal reaches the caller of a refresh that must happen as NotAuthorizedError's
    # consequence: the state moves and the call in that state raises UnableToSignInError.
    clock.advance(HOUR + 60)
    emulator.faults.inject(
        Fault(
            operation="GetTokensFromRefreshToken",
            error=("RefreshTokenReuseException", "The refresh token has been invalidated.", 400),
            times=1,
        )
    )
    with pytest.raises((UnableToSignInError, NotAuthorizedError)):
        signed_in.get_tokens(wait=False)
    assert signed_in.current_user_state is UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID


@pytest.mark.parametrize(
    "unknown",
    [
        ("UnknownOperationException", "", 400),  # AWS's answer to an operation it lacks
        ("CognitoLocal#Unsupported", "Cognito Local unsupported feature", 500),  # cognito-local
    ],
)
def test_a_service_without_get_tokens_from_refresh_token_falls_back_once(
    emulator: Emulator,
    make_client: Callable[..., AuthClient],
    clock: FakeClock,
    unknown: tuple[str, str, int],
) -> None:
    plain = emulator.provision(with_identity_pool=False, bucket=None)
    client = make_client(plain.aws_configuration())
    client.initialize()
    confirmed_user(emulator, plain, "alice", PASSWORD)
    client.sign_in("alice", PASSWORD)
    emulator.faults.inject(Fault(operation="GetTokensFromRefreshToken", error=unknown))
    emulator.reset_requests()
    first = client.get_tokens()
    for _ in range(3):
        clock.advance(HOUR + 60)
        tokens = client.get_tokens(wait=False)
        assert tokens.access_token != first.access_token
    # Asked once (no retries of the unknown operation), then REFRESH_TOKEN_AUTH each time.
    assert refreshes(emulator) == {"GetTokensFromRefreshToken": 1, "legacy": 3}
    assert client.current_user_state is UserState.SIGNED_IN


def test_a_remembered_device_sends_its_key_with_the_refresh(
    emulator: Emulator, make_client: Callable[..., AuthClient], clock: FakeClock
) -> None:
    tracked = emulator.provision(
        refresh_token_rotation=True,
        device_tracking="always",
        with_identity_pool=False,
        bucket=None,
    )
    client = make_client(tracked.aws_configuration())
    client.initialize()
    confirmed_user(emulator, tracked, "alice", PASSWORD)
    client.sign_in("alice", PASSWORD)
    (device,) = client.list_devices()
    clock.advance(HOUR + 60)
    emulator.reset_requests()
    client.get_tokens(wait=False)
    (request,) = [r for r in emulator.requests if r.operation == "GetTokensFromRefreshToken"]
    assert request.params.get("DeviceKey") == device.key
    assert request.status == 200
    assert client.current_user_state is UserState.SIGNED_IN
