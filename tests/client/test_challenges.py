"""Every sign-in challenge the emulator can produce, answered with confirm_sign_in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyotp
import pytest

from fsm_auth import (
    AuthClient,
    CodeMismatchError,
    ExpiredCodeError,
    IllegalTransitionError,
    InvalidPasswordError,
    NetworkError,
    NotAuthorizedError,
    SignInState,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock, Provisioned

from .conftest import PASSWORD, pool_client, sign_up_confirmed, wrong_code

NEW_PASSWORD = "Battery-Staple-7?"
PHONE = "+15555550123"


def _enable_totp(admin_idp: Any, client: AuthClient, clock: FakeClock, *, preferred: bool) -> str:
    """Associate and verify an authenticator for the signed-in user; returns its secret."""
    access = client.get_tokens().access_token
    secret = str(admin_idp.associate_software_token(AccessToken=access)["SecretCode"])
    admin_idp.verify_software_token(AccessToken=access, UserCode=pyotp.TOTP(secret).at(clock.now))
    admin_idp.set_user_mfa_preference(
        AccessToken=access,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": preferred},
    )
    return secret


def _sms_mfa_user(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    pool: Provisioned,
    admin_idp: Any,
    username: str,
) -> AuthClient:
    """A client on ``pool`` whose user ``username`` (confirmed, with a phone) prefers SMS MFA."""
    client = pool_client(make_client, pool)
    client.sign_up(
        username, PASSWORD, attributes={"email": f"{username}@example.com", "phone_number": PHONE}
    )
    client.confirm_sign_up(username, emulator.last_code(username, "sign_up"))
    admin_idp.admin_set_user_mfa_preference(
        UserPoolId=pool.user_pool_id,
        Username=username,
        SMSMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    return client


def test_new_password_required_for_an_admin_created_user(
    client: AuthClient, emulator: Emulator, pool: Provisioned, admin_idp: Any
) -> None:
    admin_idp.admin_create_user(
        UserPoolId=pool.user_pool_id,
        Username="kate",
        UserAttributes=[{"Name": "email", "Value": "kate@example.com"}],
    )
    temporary = emulator.last_code("kate", "temporary_password")
    result = client.sign_in("kate", temporary)
    assert result.state is SignInState.NEW_PASSWORD_REQUIRED
    assert client.current_user_state is UserState.SIGNED_OUT
    done = client.confirm_sign_in(NEW_PASSWORD, user_attributes={"name": "Kate Bush"})
    assert done.state is SignInState.DONE
    assert client.is_signed_in
    assert client.get_user_attributes()["name"] == "Kate Bush"
    client.sign_out()
    assert client.sign_in("kate", NEW_PASSWORD).state is SignInState.DONE


def test_software_token_mfa(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    mfa_pool: Provisioned,
    admin_idp: Any,
    clock: FakeClock,
) -> None:
    client = pool_client(make_client, mfa_pool)
    sign_up_confirmed(client, emulator, "liam")
    client.sign_in("liam", PASSWORD)
    secret = _enable_totp(admin_idp, client, clock, preferred=True)
    client.sign_out()

    result = client.sign_in("liam", PASSWORD)
    assert result.state is SignInState.SOFTWARE_TOKEN_MFA
    assert client.current_user_state is UserState.SIGNED_OUT
    totp = pyotp.TOTP(secret)
    with pytest.raises(CodeMismatchError):
        client.confirm_sign_in(wrong_code(totp.at(clock.now)))
    assert client.current_user_state is UserState.SIGNED_OUT
    # The same challenge can be answered again after a wrong code.
    assert client.confirm_sign_in(totp.at(clock.now)).state is SignInState.DONE
    assert client.is_signed_in


def test_sms_mfa(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    mfa_pool: Provisioned,
    admin_idp: Any,
) -> None:
    client = _sms_mfa_user(make_client, emulator, mfa_pool, admin_idp, "mona")
    result = client.sign_in("mona", PASSWORD)
    assert result.state is SignInState.SMS_MFA
    assert result.code_delivery is not None
    assert result.code_delivery.destination == "+*******0123"
    assert result.code_delivery.delivery_medium == "SMS"
    code = emulator.last_code("mona", "sms_mfa")
    with pytest.raises(CodeMismatchError):
        client.confirm_sign_in(wrong_code(code))
    assert client.confirm_sign_in(code).state is SignInState.DONE
    assert client.is_signed_in


def test_select_mfa_type(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    mfa_pool: Provisioned,
    admin_idp: Any,
    clock: FakeClock,
) -> None:
    client = pool_client(make_client, mfa_pool)
    client.sign_up(
        "nico", PASSWORD, attributes={"email": "nico@example.com", "phone_number": PHONE}
    )
    client.confirm_sign_up("nico", emulator.last_code("nico", "sign_up"))
    client.sign_in("nico", PASSWORD)
    secret = _enable_totp(admin_idp, client, clock, preferred=False)
    admin_idp.set_user_mfa_preference(
        AccessToken=client.get_tokens().access_token,
        SMSMfaSettings={"Enabled": True, "PreferredMfa": False},
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": False},
    )
    client.sign_out()

    result = client.sign_in("nico", PASSWORD)
    assert result.state is SignInState.SELECT_MFA_TYPE
    assert "SOFTWARE_TOKEN_MFA" in result.parameters["MFAS_CAN_CHOOSE"]
    chosen = client.confirm_sign_in("SOFTWARE_TOKEN_MFA")
    assert chosen.state is SignInState.SOFTWARE_TOKEN_MFA
    assert client.confirm_sign_in(pyotp.TOTP(secret).at(clock.now)).state is SignInState.DONE
    assert client.is_signed_in


def test_mfa_setup_when_mfa_is_required(
    make_client: Callable[..., AuthClient], emulator: Emulator, clock: FakeClock
) -> None:
    pool = emulator.provision(mfa="ON", with_identity_pool=False, bucket=None)
    client = pool_client(make_client, pool)
    sign_up_confirmed(client, emulator, "olga")
    result = client.sign_in("olga", PASSWORD)
    assert result.state is SignInState.MFA_SETUP
    assert "SOFTWARE_TOKEN_MFA" in result.parameters["MFAS_CAN_SETUP"]
    secret = result.parameters["SECRET_CODE"]
    totp = pyotp.TOTP(secret)
    assert client.confirm_sign_in(totp.at(clock.now)).state is SignInState.DONE
    assert client.is_signed_in
    client.sign_out()
    # From now on the authenticator is asked for.
    clock.advance(30)
    assert client.sign_in("olga", PASSWORD).state is SignInState.SOFTWARE_TOKEN_MFA
    assert client.confirm_sign_in(totp.at(clock.now)).state is SignInState.DONE


def test_a_weak_new_password_can_be_replaced(
    client: AuthClient, emulator: Emulator, pool: Provisioned, admin_idp: Any
) -> None:
    admin_idp.admin_create_user(
        UserPoolId=pool.user_pool_id,
        Username="kate",
        UserAttributes=[{"Name": "email", "Value": "kate@example.com"}],
    )
    temporary = emulator.last_code("kate", "temporary_password")
    client.sign_in("kate", temporary)
    with pytest.raises(InvalidPasswordError):
        client.confirm_sign_in("weak")
    assert client.current_user_state is UserState.SIGNED_OUT
    # The emulator ends the challenge session on a refused password (whether Cognito keeps it
    # is not established here), so start again: a new sign-in abandons the pending challenge.
    assert client.sign_in("kate", temporary).state is SignInState.NEW_PASSWORD_REQUIRED
    assert client.confirm_sign_in(NEW_PASSWORD).state is SignInState.DONE


def test_an_answer_lost_offline_can_be_sent_again(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    mfa_pool: Provisioned,
    admin_idp: Any,
) -> None:
    client = _sms_mfa_user(make_client, emulator, mfa_pool, admin_idp, "mona")
    assert client.sign_in("mona", PASSWORD).state is SignInState.SMS_MFA
    code = emulator.last_code("mona", "sms_mfa")
    emulator.stop()
    with pytest.raises(NetworkError):
        client.confirm_sign_in(code)
    emulator.start()
    assert client.confirm_sign_in(code).state is SignInState.DONE


def test_an_expired_sms_code_ends_the_sign_in(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    mfa_pool: Provisioned,
    admin_idp: Any,
    clock: FakeClock,
) -> None:
    client = _sms_mfa_user(make_client, emulator, mfa_pool, admin_idp, "mona")
    assert client.sign_in("mona", PASSWORD).state is SignInState.SMS_MFA
    clock.advance(181)  # SMS codes live 3 minutes
    with pytest.raises((NotAuthorizedError, ExpiredCodeError)):
        client.confirm_sign_in(emulator.last_code("mona", "sms_mfa"))
    assert client.current_user_state is UserState.SIGNED_OUT
    # The session is over: nothing to answer any more; a new sign-in starts again.
    with pytest.raises(IllegalTransitionError):
        client.confirm_sign_in("123456")
    assert client.sign_in("mona", PASSWORD).state is SignInState.SMS_MFA
    assert client.confirm_sign_in(emulator.last_code("mona", "sms_mfa")).state is SignInState.DONE
