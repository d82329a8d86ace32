"""MFA: real TOTP for SOFTWARE_TOKEN_MFA, recorded codes for SMS_MFA, setup and selection."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest

from fsm_auth.emulator import Emulator, FakeClock, Provisioned


def _sign_in(idp: Any, pool: Provisioned, username: str) -> dict[str, Any]:
    answer: dict[str, Any] = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": "Passw0rd!"},
    )
    return answer


def _answer(idp: Any, pool: Provisioned, challenge: dict[str, Any], **responses: str) -> Any:
    return idp.respond_to_auth_challenge(
        ClientId=pool.client_id,
        ChallengeName=challenge["ChallengeName"],
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": challenge.get("_user", "mia"), **responses},
    )


def _enable_totp(idp: Any, access_token: str, clock: FakeClock) -> pyotp.TOTP:
    secret = idp.associate_software_token(AccessToken=access_token)["SecretCode"]
    totp = pyotp.TOTP(secret)
    with pytest.raises(idp.exceptions.EnableSoftwareTokenMFAException):
        idp.verify_software_token(
            AccessToken=access_token,
            UserCode="000000" if totp.at(clock.now) != "000000" else "111111",
        )
    idp.verify_software_token(AccessToken=access_token, UserCode=totp.at(clock.now))
    idp.set_user_mfa_preference(
        AccessToken=access_token,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    return totp


@pytest.fixture
def mfa_pool(emulator: Emulator) -> Provisioned:
    return emulator.provision(mfa="OPTIONAL", with_identity_pool=False, bucket=None)


def test_totp_sign_in_checks_the_code(
    idp: Any, mfa_pool: Provisioned, sign_up_confirmed: Any, clock: FakeClock
) -> None:
    sign_up_confirmed(mfa_pool, "mia")
    access = _sign_in(idp, mfa_pool, "mia")["AuthenticationResult"]["AccessToken"]
    totp = _enable_totp(idp, access, clock)
    challenge = _sign_in(idp, mfa_pool, "mia")
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    wrong = "000000" if totp.at(clock.now) != "000000" else "111111"
    with pytest.raises(idp.exceptions.CodeMismatchException):
        _answer(idp, mfa_pool, challenge, SOFTWARE_TOKEN_MFA_CODE=wrong)
    clock.advance(60)  # the code follows the emulator's clock, not the wall clock
    done = _answer(idp, mfa_pool, challenge, SOFTWARE_TOKEN_MFA_CODE=totp.at(clock.now))
    assert "AccessToken" in done["AuthenticationResult"]


def test_sms_mfa_uses_the_recorded_code_and_expires(
    emulator: Emulator, idp: Any, mfa_pool: Provisioned, sign_up_confirmed: Any, clock: FakeClock
) -> None:
    sign_up_confirmed(mfa_pool, "mia", {"phone_number": "+15555550123"})
    emulator.admin_client().admin_set_user_mfa_preference(
        UserPoolId=mfa_pool.user_pool_id,
        Username="mia",
        SMSMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    challenge = _sign_in(idp, mfa_pool, "mia")
    assert challenge["ChallengeName"] == "SMS_MFA"
    assert challenge["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "+*******0123"
    sent = emulator.codes[-1]
    assert (sent.kind, sent.destination) == ("sms_mfa", "+15555550123")
    clock.advance(181)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="expired"):
        _answer(idp, mfa_pool, challenge, SMS_MFA_CODE=sent.code)
    clock.advance(-181)
    challenge = _sign_in(idp, mfa_pool, "mia")
    code = emulator.last_code("mia", "sms_mfa")
    with pytest.raises(idp.exceptions.CodeMismatchException):
        _answer(idp, mfa_pool, challenge, SMS_MFA_CODE="000000" if code != "000000" else "111111")
    done = _answer(idp, mfa_pool, challenge, SMS_MFA_CODE=code)
    assert "AccessToken" in done["AuthenticationResult"]


def test_select_mfa_type_when_both_enabled_without_preference(
    emulator: Emulator, idp: Any, mfa_pool: Provisioned, sign_up_confirmed: Any, clock: FakeClock
) -> None:
    sign_up_confirmed(mfa_pool, "mia", {"phone_number": "+15555550123"})
    access = _sign_in(idp, mfa_pool, "mia")["AuthenticationResult"]["AccessToken"]
    totp = _enable_totp(idp, access, clock)
    idp.set_user_mfa_preference(
        AccessToken=access,
        SMSMfaSettings={"Enabled": True, "PreferredMfa": False},
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": False},
    )
    challenge = _sign_in(idp, mfa_pool, "mia")
    assert challenge["ChallengeName"] == "SELECT_MFA_TYPE"
    assert "SOFTWARE_TOKEN_MFA" in challenge["ChallengeParameters"]["MFAS_CAN_CHOOSE"]
    chosen = _answer(idp, mfa_pool, challenge, ANSWER="SOFTWARE_TOKEN_MFA")
    assert chosen["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    done = _answer(idp, mfa_pool, chosen, SOFTWARE_TOKEN_MFA_CODE=totp.at(clock.now))
    assert "AccessToken" in done["AuthenticationResult"]


def test_mfa_on_without_factor_asks_for_setup(
    emulator: Emulator, idp: Any, sign_up_confirmed: Any, clock: FakeClock
) -> None:
    pool = emulator.provision(mfa="ON", with_identity_pool=False, bucket=None)
    sign_up_confirmed(pool, "mia")
    challenge = _sign_in(idp, pool, "mia")
    assert challenge["ChallengeName"] == "MFA_SETUP"
    assert "SOFTWARE_TOKEN_MFA" in challenge["ChallengeParameters"]["MFAS_CAN_SETUP"]
    associated = idp.associate_software_token(Session=challenge["Session"])
    totp = pyotp.TOTP(associated["SecretCode"])
    verified = idp.verify_software_token(Session=associated["Session"], UserCode=totp.at(clock.now))
    assert verified["Status"] == "SUCCESS"
    done = _answer(idp, pool, {"ChallengeName": "MFA_SETUP", "Session": verified["Session"]})
    assert "AccessToken" in done["AuthenticationResult"]
    # From now on the software token is asked for.
    assert _sign_in(idp, pool, "mia")["ChallengeName"] == "SOFTWARE_TOKEN_MFA"


def test_custom_auth_answers_with_recorded_code(
    emulator: Emulator, idp: Any, pool: Provisioned, user: str
) -> None:
    challenge = idp.initiate_auth(
        ClientId=pool.client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": user}
    )
    assert challenge["ChallengeName"] == "CUSTOM_CHALLENGE"
    code = emulator.last_code(user, "custom_challenge")
    done = idp.respond_to_auth_challenge(
        ClientId=pool.client_id,
        ChallengeName="CUSTOM_CHALLENGE",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": user, "ANSWER": code},
    )
    assert "AccessToken" in done["AuthenticationResult"]
