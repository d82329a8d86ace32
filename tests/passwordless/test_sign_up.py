"""Passwordless sign-up and auto sign-in after confirmation, through ``AuthClient``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from auth_testkit import Recorder

from fsm_auth import (
    AuthClient,
    AuthError,
    CodeMismatchError,
    InvalidParameterError,
    UnableToSignInError,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock, Provisioned

from .conftest import PASSWORD


def test_a_passwordless_user_signs_up_and_in_with_codes(
    otp_client: AuthClient, emulator: Emulator
) -> None:
    signed_up = otp_client.sign_up("ann", attributes={"email": "ann@example.com"})
    assert not signed_up.confirmed
    confirmed = otp_client.confirm_sign_up("ann", emulator.last_code("ann", "sign_up"))
    assert confirmed.confirmed
    assert not confirmed.signed_in

    # The user has no password and no phone: the e-mail code is the only way, so the service
    # sends it at once instead of asking to choose.
    result = otp_client.sign_in("ann", auth_flow="USER_AUTH")
    assert result.state.value == "EMAIL_OTP"
    assert result.code_delivery is not None
    otp_client.confirm_sign_in(emulator.last_code("ann", "email_otp"))
    assert otp_client.is_signed_in


def test_a_pool_without_codes_refuses_a_passwordless_sign_up(
    make_client: Callable[..., AuthClient], pool: Provisioned
) -> None:
    client = make_client(pool.aws_configuration())
    with pytest.raises(InvalidParameterError, match=r"[Pp]assword"):
        client.sign_up("ann", attributes={"email": "ann@example.com"})


@pytest.mark.parametrize("password", [PASSWORD, None])
def test_auto_sign_in_signs_in_with_the_confirmation(
    password: str | None, otp_client: AuthClient, emulator: Emulator
) -> None:
    events = Recorder()
    otp_client.add_user_state_listener(events)
    otp_client.initialize()
    otp_client.sign_up("ann", password, attributes={"email": "ann@example.com"}, auto_sign_in=True)
    code = emulator.last_code("ann", "sign_up")
    emulator.reset_requests()

    result = otp_client.confirm_sign_up("ann", code)

    assert result.confirmed
    assert result.signed_in
    assert result.sign_in is not None
    assert result.sign_in.state.value == "DONE"
    assert result.sign_in_error is None
    # ConfirmSignUp, then InitiateAuth USER_AUTH with its session: no code or password again.
    assert emulator.count(service="cognito-idp") == 2
    assert emulator.count("InitiateAuth") == 1
    assert otp_client.current_user_state is UserState.SIGNED_IN
    assert events.calls[-1][0] is UserState.SIGNED_IN
    assert otp_client.get_tokens().username
    assert otp_client.get_aws_credentials().access_key_id  # the identity pool too


def test_a_wrong_code_then_the_right_one_still_signs_in(
    otp_client: AuthClient, emulator: Emulator
) -> None:
    otp_client.sign_up("ann", attributes={"email": "ann@example.com"}, auto_sign_in=True)
    code = emulator.last_code("ann", "sign_up")

    with pytest.raises(CodeMismatchError):
        otp_client.confirm_sign_up("ann", "000000" if code != "000000" else "111111")
    assert otp_client.confirm_sign_up("ann", code).signed_in


def test_a_code_typed_after_the_sign_up_session_ended_still_confirms_and_signs_in(
    otp_client: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    otp_client.sign_up("ann", attributes={"email": "ann@example.com"}, auto_sign_in=True)
    clock.advance(600)  # the sign-up's session lasts minutes; the code a day

    result = otp_client.confirm_sign_up("ann", emulator.last_code("ann", "sign_up"))

    assert result.confirmed
    assert result.signed_in
    assert otp_client.current_user_state is UserState.SIGNED_IN


def test_without_auto_sign_in_the_confirmation_signs_nobody_in(
    otp_client: AuthClient, emulator: Emulator
) -> None:
    otp_client.sign_up("ann", attributes={"email": "ann@example.com"})
    result = otp_client.confirm_sign_up("ann", emulator.last_code("ann", "sign_up"))
    assert result.confirmed
    assert not result.signed_in
    assert result.sign_in is None
    assert otp_client.current_user_state is not UserState.SIGNED_IN


def test_auto_sign_in_is_for_the_user_who_asked(otp_client: AuthClient, emulator: Emulator) -> None:
    otp_client.sign_up("ann", attributes={"email": "ann@example.com"}, auto_sign_in=True)
    otp_client.sign_up("bob", attributes={"email": "bob@example.com"})

    bob = otp_client.confirm_sign_up("bob", emulator.last_code("bob", "sign_up"))
    assert not bob.signed_in
    ann = otp_client.confirm_sign_up("ann", emulator.last_code("ann", "sign_up"))
    assert ann.signed_in
    assert otp_client.username == "ann"


@pytest.mark.parametrize("meanwhile", ["sign_in", "sign_out"])
def test_a_sign_in_or_out_in_between_abandons_the_auto_sign_in(
    meanwhile: str, otp_client: AuthClient, emulator: Emulator
) -> None:
    otp_client.sign_up("ann", attributes={"email": "ann@example.com"}, auto_sign_in=True)
    if meanwhile == "sign_in":
        with contextlib.suppress(AuthError):  # not confirmed yet: refused, or asked to choose
            otp_client.sign_in("ann", auth_flow="USER_AUTH")
    else:
        otp_client.sign_out()

    result = otp_client.confirm_sign_up("ann", emulator.last_code("ann", "sign_up"))

    assert result.confirmed
    assert not result.signed_in
    assert result.sign_in_error is None
    assert otp_client.current_user_state is not UserState.SIGNED_IN


def test_a_pool_without_user_auth_reports_why_it_could_not_sign_in(
    make_client: Callable[..., AuthClient], pool: Provisioned, emulator: Emulator
) -> None:
    client = make_client(pool.aws_configuration())
    client.sign_up("ann", PASSWORD, attributes={"email": "ann@example.com"}, auto_sign_in=True)

    result = client.confirm_sign_up("ann", emulator.last_code("ann", "sign_up"))

    assert result.confirmed
    assert not result.signed_in
    assert isinstance(result.sign_in_error, UnableToSignInError)
    assert "USER_AUTH" in str(result.sign_in_error)
    # The user is confirmed: signing in works.
    assert client.sign_in("ann", PASSWORD).state.value == "DONE"
