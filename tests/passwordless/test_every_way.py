"""Every sign-in flow and first factor, end to end through ``AuthClient`` against the emulator,
with the requests each one costs (the closing note of the passwordless issue quotes them)."""

from __future__ import annotations

import pytest
from auth_testkit import SIGN_IN_WAYS, sign_in_by

from fsm_auth import AuthClient, UserState
from fsm_auth.emulator import Emulator, Provisioned

from .conftest import PASSWORD, otp_user

# Requests to the user pool per way, the sign-in alone (no device tracking, no MFA): what
# Cognito's protocol needs and no more.
REQUESTS = {
    ("USER_SRP_AUTH", None): 2,  # InitiateAuth, PASSWORD_VERIFIER
    ("USER_PASSWORD_AUTH", None): 1,
    ("CUSTOM_AUTH", None): 2,  # InitiateAuth, CUSTOM_CHALLENGE
    ("CUSTOM_WITH_SRP", None): 3,  # + PASSWORD_VERIFIER first
    ("USER_AUTH", "PASSWORD_SRP"): 2,
    ("USER_AUTH", "PASSWORD"): 1,
    ("USER_AUTH", "EMAIL_OTP"): 2,  # InitiateAuth (the code is sent), the code
    ("USER_AUTH", "SMS_OTP"): 2,
    ("USER_AUTH", "SELECT:PASSWORD_SRP"): 3,  # + SELECT_CHALLENGE
    ("USER_AUTH", "SELECT:PASSWORD"): 2,
    ("USER_AUTH", "SELECT:EMAIL_OTP"): 3,
    ("USER_AUTH", "SELECT:SMS_OTP"): 3,
}
# The states each way goes through.
STATES = {
    ("USER_SRP_AUTH", None): ["DONE"],
    ("USER_PASSWORD_AUTH", None): ["DONE"],
    ("CUSTOM_AUTH", None): ["CUSTOM_CHALLENGE", "DONE"],
    ("CUSTOM_WITH_SRP", None): ["CUSTOM_CHALLENGE", "DONE"],
    ("USER_AUTH", "PASSWORD_SRP"): ["DONE"],
    ("USER_AUTH", "PASSWORD"): ["DONE"],
    ("USER_AUTH", "EMAIL_OTP"): ["EMAIL_OTP", "DONE"],
    ("USER_AUTH", "SMS_OTP"): ["SMS_OTP", "DONE"],
    # A password factor chosen with no password given is asked next (the same challenge).
    ("USER_AUTH", "SELECT:PASSWORD_SRP"): ["SELECT_CHALLENGE", "SELECT_CHALLENGE", "DONE"],
    ("USER_AUTH", "SELECT:PASSWORD"): ["SELECT_CHALLENGE", "SELECT_CHALLENGE", "DONE"],
    ("USER_AUTH", "SELECT:EMAIL_OTP"): ["SELECT_CHALLENGE", "EMAIL_OTP", "DONE"],
    ("USER_AUTH", "SELECT:SMS_OTP"): ["SELECT_CHALLENGE", "SMS_OTP", "DONE"],
}


def test_the_tables_cover_every_way() -> None:
    assert set(REQUESTS) == set(STATES) == set(SIGN_IN_WAYS)


@pytest.mark.parametrize(("flow", "factor"), SIGN_IN_WAYS, ids=lambda v: str(v))
def test_every_way_signs_in(
    flow: str,
    factor: str | None,
    otp_client: AuthClient,
    otp_pool: Provisioned,
    emulator: Emulator,
) -> None:
    user = otp_user(emulator, otp_pool, "ann")
    otp_client.initialize()
    emulator.reset_requests()

    states = sign_in_by(otp_client, emulator, user, PASSWORD, flow, factor)

    assert states == STATES[(flow, factor)]
    assert emulator.count(service="cognito-idp") == REQUESTS[(flow, factor)]
    assert otp_client.current_user_state is UserState.SIGNED_IN
    assert otp_client.username == user
    assert otp_client.get_tokens().id_claims["email"] == "ann@example.com"
    # Into the identity pool too, as for any sign-in.
    assert otp_client.get_aws_credentials().access_key_id


@pytest.mark.parametrize("choice", ["PASSWORD", "PASSWORD_SRP"])
def test_a_password_given_to_sign_in_answers_the_password_factor_chosen(
    choice: str, otp_client: AuthClient, otp_pool: Provisioned, emulator: Emulator
) -> None:
    user = otp_user(emulator, otp_pool, "ann")
    first = otp_client.sign_in(user, PASSWORD, auth_flow="USER_AUTH")
    assert first.state.value == "SELECT_CHALLENGE"

    assert otp_client.confirm_sign_in(choice).state.value == "DONE"
    assert otp_client.is_signed_in


def test_select_challenge_lists_what_this_user_may_choose(
    otp_client: AuthClient, otp_pool: Provisioned, emulator: Emulator
) -> None:
    with_phone = otp_user(emulator, otp_pool, "ann")
    without_phone = otp_user(emulator, otp_pool, "bob", phone=False)

    listed = otp_client.sign_in(with_phone, auth_flow="USER_AUTH").parameters
    assert listed["AVAILABLE_CHALLENGES"] == (
        '["PASSWORD_SRP", "PASSWORD", "EMAIL_OTP", "SMS_OTP"]'
    )
    listed = otp_client.sign_in(without_phone, auth_flow="USER_AUTH").parameters
    assert listed["AVAILABLE_CHALLENGES"] == '["PASSWORD_SRP", "PASSWORD", "EMAIL_OTP"]'


def test_the_configured_flow_is_the_default(
    make_client: object, otp_pool: Provisioned, emulator: Emulator
) -> None:
    user = otp_user(emulator, otp_pool, "ann")
    client = make_client(otp_pool.aws_configuration("USER_AUTH"))  # type: ignore[operator]

    result = client.sign_in(user, preferred_challenge="EMAIL_OTP")

    assert result.state.value == "EMAIL_OTP"
    assert result.code_delivery.delivery_medium == "EMAIL"
    assert result.code_delivery.destination == "a***@e***"
    client.confirm_sign_in(emulator.last_code(user, "email_otp"))
    assert client.is_signed_in
