"""Sign-out: local, with token revocation, global, and when the server fails."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from fsm_auth import (
    AuthClient,
    NotSignedInError,
    UnableToSignInError,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned

from .conftest import PASSWORD


def _refresh_at_server(admin_idp: Any, pool: Provisioned, refresh_token: str) -> Any:
    return admin_idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": refresh_token},
    )


def _assert_signed_out(client: AuthClient) -> None:
    assert client.current_user_state is UserState.SIGNED_OUT
    assert not client.is_signed_in
    assert client.username is None
    with pytest.raises(NotSignedInError):
        client.get_tokens(wait=False)


def test_local_sign_out_sends_nothing(
    signed_in: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned
) -> None:
    refresh_token = signed_in.get_tokens().refresh_token
    assert refresh_token
    emulator.reset_requests()
    signed_in.sign_out(invalidate_tokens=False)
    assert emulator.count() == 0
    _assert_signed_out(signed_in)
    # Nothing was revoked: the refresh token still works at the server.
    assert (
        "AccessToken" in _refresh_at_server(admin_idp, pool, refresh_token)["AuthenticationResult"]
    )


def test_sign_out_revokes_the_refresh_token(
    signed_in: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned
) -> None:
    refresh_token = signed_in.get_tokens().refresh_token
    assert refresh_token
    emulator.reset_requests()
    signed_in.sign_out()  # invalidate_tokens=True is the default
    assert emulator.count("RevokeToken") == 1
    assert emulator.count("GlobalSignOut") == 0
    _assert_signed_out(signed_in)
    with pytest.raises(admin_idp.exceptions.NotAuthorizedException, match="revoked"):
        _refresh_at_server(admin_idp, pool, refresh_token)


def test_global_sign_out_ends_the_other_sessions(
    make_client: Callable[..., AuthClient],
    signed_in: AuthClient,
    emulator: Emulator,
    clock: FakeClock,
) -> None:
    other = make_client(identity_pool=False)
    other.sign_in("alice", PASSWORD)
    other_states: list[UserState] = []
    other.add_user_state_listener(lambda state, info: other_states.append(state))
    emulator.reset_requests()
    signed_in.sign_out(global_sign_out=True)
    assert emulator.count("GlobalSignOut") == 1
    _assert_signed_out(signed_in)
    # The other device keeps its valid tokens until they expire; then the refresh is refused.
    clock.advance(3600)
    with pytest.raises(UnableToSignInError):
        other.get_tokens(wait=False)
    assert other.current_user_state is UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID
    assert other_states == [UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID]


@pytest.mark.parametrize(
    ("operation", "fault"),
    [
        ("RevokeToken", Fault(error=("InternalErrorException", "boom", 500))),
        ("RevokeToken", Fault(drop=True)),
        (
            "GlobalSignOut",
            Fault(error=("NotAuthorizedException", "Access Token has been revoked", 400)),
        ),
        ("GlobalSignOut", Fault(status=503)),
    ],
)
def test_a_failed_server_sign_out_still_signs_out_locally(
    signed_in: AuthClient,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    operation: str,
    fault: Fault,
) -> None:
    fault.operation = operation
    emulator.faults.inject(fault)
    states: list[UserState] = []
    signed_in.add_user_state_listener(lambda state, info: states.append(state))
    with caplog.at_level(logging.WARNING):
        signed_in.sign_out(global_sign_out=operation == "GlobalSignOut")
    assert fault.hits >= 1
    _assert_signed_out(signed_in)
    assert states == [UserState.SIGNED_OUT]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("sign" in message.lower() for message in warnings)


def test_sign_out_offline_still_signs_out_locally(
    signed_in: AuthClient, emulator: Emulator
) -> None:
    emulator.stop()
    signed_in.sign_out(global_sign_out=True)
    _assert_signed_out(signed_in)


def test_sign_out_when_signed_out_is_quiet(client: AuthClient, emulator: Emulator) -> None:
    client.initialize()
    calls: list[tuple[UserState, Mapping[str, str]]] = []
    client.add_user_state_listener(lambda state, info: calls.append((state, info)))
    emulator.reset_requests()
    client.sign_out()
    assert client.current_user_state is UserState.SIGNED_OUT
    assert calls == []
    assert emulator.count() == 0


def test_sign_in_again_after_sign_out(signed_in: AuthClient, emulator: Emulator) -> None:
    old = signed_in.get_tokens()
    signed_in.sign_out()
    signed_in.sign_in("alice", PASSWORD)
    assert signed_in.is_signed_in
    assert signed_in.get_tokens().refresh_token != old.refresh_token


def test_global_sign_out_with_an_expired_access_token_refreshes_first(
    signed_in: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    clock.advance(3600)
    emulator.reset_requests()
    signed_in.sign_out(global_sign_out=True)
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert emulator.count("GlobalSignOut") == 1
    assert [r.status for r in emulator.requests if r.operation == "GlobalSignOut"] == [200]
    _assert_signed_out(signed_in)


@pytest.mark.parametrize("global_sign_out", [False, True])
def test_sign_out_from_token_invalid_never_raises(
    signed_in: AuthClient,
    admin_idp: Any,
    pool: Provisioned,
    clock: FakeClock,
    global_sign_out: bool,
) -> None:
    admin_idp.admin_user_global_sign_out(UserPoolId=pool.user_pool_id, Username="alice")
    clock.advance(3600)
    with pytest.raises(UnableToSignInError):
        signed_in.get_tokens(wait=False)
    signed_in.sign_out(global_sign_out=global_sign_out)
    _assert_signed_out(signed_in)
