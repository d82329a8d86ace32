"""``sign_out()`` tells the truth: a ``SignOutResult`` says which server-side step did not happen
(as Amplify Swift's partial sign-out), while the local sign-out always happens (issue 9, item
15)."""

from __future__ import annotations

import logging
from typing import Any

import attrs
import pytest

import fsm_auth
from fsm_auth import (
    AuthClient,
    InternalServiceError,
    NetworkError,
    NotAuthorizedError,
    NotSignedInError,
    ServiceError,
    SignOutResult,
    UserState,
)
from fsm_auth.emulator import Emulator, Fault, Provisioned

from .conftest import PASSWORD

# cognito-local has no GlobalSignOut: it answers an unsupported operation like this.
_UNSUPPORTED = ("UnsupportedError", "Cognito Local unsupported feature: GlobalSignOut", 400)


def _still_valid_at_the_server(admin_idp: Any, pool: Provisioned, refresh_token: str) -> bool:
    try:
        admin_idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )
    except admin_idp.exceptions.NotAuthorizedException:
        return False
    return True


def _assert_signed_out(client: AuthClient) -> None:
    assert client.current_user_state is UserState.SIGNED_OUT
    assert client.username is None
    with pytest.raises(NotSignedInError):
        client.get_tokens(wait=False)


def _refresh_token(client: AuthClient) -> str:
    token = client.get_tokens().refresh_token
    assert token
    return token


# ---- everything asked for happened ----


def test_a_complete_sign_out(
    signed_in: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned
) -> None:
    refresh_token = _refresh_token(signed_in)
    emulator.reset_requests()
    result = signed_in.sign_out()
    assert result == SignOutResult(complete=True)
    assert result.global_sign_out_error is result.revoke_error is result.hosted_ui_error is None
    assert emulator.count("RevokeToken") == 1
    _assert_signed_out(signed_in)
    assert not _still_valid_at_the_server(admin_idp, pool, refresh_token)


def test_a_complete_global_sign_out(
    signed_in: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned
) -> None:
    refresh_token = _refresh_token(signed_in)
    emulator.reset_requests()
    result = signed_in.sign_out(global_sign_out=True)
    assert result.complete
    assert result.global_sign_out_error is None
    assert result.revoke_error is None
    # GlobalSignOut revoked every refresh token, this one included: no RevokeToken needed.
    assert (emulator.count("GlobalSignOut"), emulator.count("RevokeToken")) == (1, 0)
    _assert_signed_out(signed_in)
    assert not _still_valid_at_the_server(admin_idp, pool, refresh_token)


def test_a_local_sign_out_asks_nothing_and_is_complete(
    signed_in: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned
) -> None:
    refresh_token = _refresh_token(signed_in)
    emulator.reset_requests()
    result = signed_in.sign_out(invalidate_tokens=False)
    assert result == SignOutResult(complete=True)
    assert emulator.count() == 0
    _assert_signed_out(signed_in)
    # Nothing was asked, nothing failed: the token is valid at the server, as the caller chose.
    assert _still_valid_at_the_server(admin_idp, pool, refresh_token)


def test_signing_out_when_signed_out_is_complete(client: AuthClient, emulator: Emulator) -> None:
    client.initialize()
    emulator.reset_requests()
    assert client.sign_out(global_sign_out=True) == SignOutResult(complete=True)
    assert emulator.count() == 0


# ---- a server-side step that did not happen is reported ----


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        (Fault(error=_UNSUPPORTED), ServiceError),
        (Fault(error=("NotAuthorizedException", "Access Token has been revoked", 400)), None),
        (Fault(status=503), InternalServiceError),
    ],
    ids=["unsupported", "refused", "failing"],
)
def test_a_failed_global_sign_out_is_reported(
    signed_in: AuthClient,
    emulator: Emulator,
    admin_idp: Any,
    pool: Provisioned,
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
    error_type: type[Exception] | None,
) -> None:
    refresh_token = _refresh_token(signed_in)
    emulator.faults.inject(attrs.evolve(fault, operation="GlobalSignOut"))
    emulator.reset_requests()
    with caplog.at_level(logging.WARNING, logger="fsm_auth.session"):
        result = signed_in.sign_out(global_sign_out=True)
    assert not result.complete
    assert isinstance(result.global_sign_out_error, error_type or NotAuthorizedError)
    # This session's refresh token was still revoked on its own: only the others may live on.
    assert result.revoke_error is None
    assert emulator.count("RevokeToken") == 1
    assert not _still_valid_at_the_server(admin_idp, pool, refresh_token)
    _assert_signed_out(signed_in)
    assert any("global sign-out" in r.getMessage() for r in caplog.records)


def test_a_global_sign_out_without_a_revocation_leaves_the_token_valid(
    signed_in: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned
) -> None:
    refresh_token = _refresh_token(signed_in)
    emulator.faults.inject(Fault(operation="GlobalSignOut", error=_UNSUPPORTED))
    result = signed_in.sign_out(global_sign_out=True, invalidate_tokens=False)
    assert not result.complete
    assert isinstance(result.global_sign_out_error, ServiceError)
    assert result.global_sign_out_error.code == "UnsupportedError"
    assert result.revoke_error is None  # not asked for
    _assert_signed_out(signed_in)
    # What the result warned about: the refresh token still works at the server.
    assert _still_valid_at_the_server(admin_idp, pool, refresh_token)


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        (Fault(error=("InternalErrorException", "boom", 500)), InternalServiceError),
        (Fault(error=("UnsupportedTokenTypeException", "no", 400)), ServiceError),
        (Fault(drop=True), NetworkError),
    ],
    ids=["failing", "refused", "dropped"],
)
def test_a_failed_revocation_is_reported(
    signed_in: AuthClient,
    emulator: Emulator,
    admin_idp: Any,
    pool: Provisioned,
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
    error_type: type[Exception],
) -> None:
    refresh_token = _refresh_token(signed_in)
    emulator.faults.inject(attrs.evolve(fault, operation="RevokeToken"))
    with caplog.at_level(logging.WARNING, logger="fsm_auth.session"):
        result = signed_in.sign_out()
    assert not result.complete
    assert isinstance(result.revoke_error, error_type)
    assert result.global_sign_out_error is None
    assert result.hosted_ui_error is None
    _assert_signed_out(signed_in)
    assert _still_valid_at_the_server(admin_idp, pool, refresh_token)
    assert any("refresh token was not revoked" in r.getMessage() for r in caplog.records)


def test_both_steps_failing_are_both_reported(
    signed_in: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned
) -> None:
    refresh_token = _refresh_token(signed_in)
    emulator.faults.inject(Fault(operation="GlobalSignOut", error=_UNSUPPORTED))
    emulator.faults.inject(
        Fault(operation="RevokeToken", error=("InternalErrorException", "x", 500))
    )
    result = signed_in.sign_out(global_sign_out=True)
    assert not result.complete
    assert isinstance(result.global_sign_out_error, ServiceError)
    assert isinstance(result.revoke_error, InternalServiceError)
    _assert_signed_out(signed_in)
    assert _still_valid_at_the_server(admin_idp, pool, refresh_token)


@pytest.mark.parametrize("global_sign_out", [False, True])
def test_offline_the_errors_are_network_errors(
    signed_in: AuthClient, emulator: Emulator, global_sign_out: bool
) -> None:
    _refresh_token(signed_in)
    emulator.stop()
    result = signed_in.sign_out(global_sign_out=global_sign_out)
    assert not result.complete
    assert isinstance(result.revoke_error, NetworkError)
    if global_sign_out:
        assert isinstance(result.global_sign_out_error, NetworkError)
    else:
        assert result.global_sign_out_error is None
    _assert_signed_out(signed_in)
    emulator.start()
    # Signed out for good: a later sign-out has nothing to ask and nothing to report.
    assert signed_in.sign_out() == SignOutResult(complete=True)


def test_the_result_never_shows_a_secret(signed_in: AuthClient, emulator: Emulator) -> None:
    refresh_token = _refresh_token(signed_in)
    access_token = signed_in.get_tokens().access_token
    # A server that echoes the token it was sent: the error, and so the result, drop it.
    echo = f"cannot revoke {refresh_token} for {access_token}"
    emulator.faults.inject(
        Fault(operation="RevokeToken", error=("NotAuthorizedException", echo, 400))
    )
    result = signed_in.sign_out()
    assert isinstance(result.revoke_error, NotAuthorizedError)
    for shown in (repr(result), str(result)):
        assert refresh_token not in shown
        assert access_token not in shown
        assert PASSWORD not in shown
        assert shown.startswith("SignOutResult(complete=False, revoke_error=NotAuthorizedError(")


# ---- the value ----


def test_sign_out_result_is_a_frozen_public_value() -> None:
    assert fsm_auth.SignOutResult is SignOutResult
    assert "SignOutResult" in fsm_auth.__all__
    done = SignOutResult(complete=True)
    assert repr(done) == "SignOutResult(complete=True)"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        done.complete = False  # type: ignore[misc]
    error = NetworkError("offline")
    partial = SignOutResult(complete=False, revoke_error=error)
    assert partial.revoke_error is error
    assert partial.hosted_ui_error is None
    assert repr(partial) == "SignOutResult(complete=False, revoke_error=NetworkError('offline'))"
    # ``complete`` cannot contradict the errors.
    with pytest.raises(ValueError, match="complete"):
        SignOutResult(complete=True, global_sign_out_error=error)
    with pytest.raises(ValueError, match="complete"):
        SignOutResult(complete=False)
