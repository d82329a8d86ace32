"""The emulator's MFA management at the boto3 level, as Cognito answers it: what a pool offers
(``provision(mfa_types=...)``, ``SetUserPoolMfaConfig`` with ``EmailMfaConfiguration``),
``AssociateSoftwareToken`` / ``VerifySoftwareToken`` with an access token,
``SetUserMFAPreference`` (``EmailMfaSettings`` too), ``GetUser``'s MFA fields, and the second
factor at sign-in: ``EMAIL_OTP`` with codes of kind ``email_mfa``, ``SELECT_MFA_TYPE`` offering
it, ``MFA_SETUP`` offering TOTP and e-mail."""

from __future__ import annotations

import json
from typing import Any

import pyotp
import pytest

from fsm_auth.emulator import Emulator, FakeClock, Provisioned

from .conftest import _password_sign_in, _sign_up_confirmed


def _pool(emulator: Emulator, mfa: str = "OPTIONAL", **kwargs: Any) -> Provisioned:
    return emulator.provision(mfa=mfa, with_identity_pool=False, bucket=None, **kwargs)


def _respond(idp: Any, pool: Provisioned, answer: dict[str, Any], user: str, **more: str) -> Any:
    return idp.respond_to_auth_challenge(
        ClientId=pool.client_id,
        ChallengeName=answer["ChallengeName"],
        Session=answer["Session"],
        ChallengeResponses={"USERNAME": user, **more},
    )


def _access(idp: Any, pool: Provisioned, user: str) -> str:
    return str(_password_sign_in(idp, pool, user)["AuthenticationResult"]["AccessToken"])


def test_provision_checks_mfa_types(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="FAX"):
        _pool(emulator, mfa_types=("SMS", "FAX"))
    with pytest.raises(ValueError, match="mfa_types"):
        _pool(emulator, mfa_types="EMAIL")
    with pytest.raises(ValueError, match="mfa_types"):
        _pool(emulator, mfa_types=())


def test_pool_mfa_configuration_says_what_is_offered(emulator: Emulator, idp: Any) -> None:
    admin = emulator.admin_client()
    pool = _pool(emulator, mfa="ON", mfa_types=("TOTP", "EMAIL"))
    config = admin.get_user_pool_mfa_config(UserPoolId=pool.user_pool_id)
    assert config["MfaConfiguration"] == "ON"
    assert config["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
    assert "EmailMfaConfiguration" in config
    assert "SmsMfaConfiguration" not in config or not config["SmsMfaConfiguration"]

    plain = _pool(emulator)
    assert "EmailMfaConfiguration" not in admin.get_user_pool_mfa_config(
        UserPoolId=plain.user_pool_id
    )
    admin.set_user_pool_mfa_config(
        UserPoolId=plain.user_pool_id,
        SoftwareTokenMfaConfiguration={"Enabled": True},
        EmailMfaConfiguration={"Message": "Code: {####}", "Subject": "Your code"},
        MfaConfiguration="OPTIONAL",
    )
    config = admin.get_user_pool_mfa_config(UserPoolId=plain.user_pool_id)
    assert config["EmailMfaConfiguration"] == {"Message": "Code: {####}", "Subject": "Your code"}
    # Now offered: a user may turn e-mail MFA on.
    _sign_up_confirmed(emulator, idp, plain, "eve")
    idp.set_user_mfa_preference(
        AccessToken=_access(idp, plain, "eve"), EmailMfaSettings={"Enabled": True}
    )


def test_software_token_with_an_access_token(
    emulator: Emulator, idp: Any, clock: FakeClock
) -> None:
    pool = _pool(emulator)
    _sign_up_confirmed(emulator, idp, pool, "tom")
    access = _access(idp, pool, "tom")
    user = idp.get_user(AccessToken=access)
    assert "UserMFASettingList" not in user
    assert "PreferredMfaSetting" not in user

    # Not verified yet: turning it on is refused.
    idp.associate_software_token(AccessToken=access)
    with pytest.raises(idp.exceptions.InvalidParameterException, match="software token"):
        idp.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True})
    secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
    with pytest.raises(idp.exceptions.EnableSoftwareTokenMFAException):
        idp.verify_software_token(AccessToken=access, UserCode="not-a-code")
    # The same secret takes the right code after a wrong one.
    answer = idp.verify_software_token(
        AccessToken=access, UserCode=pyotp.TOTP(secret).at(clock.now), FriendlyDeviceName="x"
    )
    assert answer["Status"] == "SUCCESS"
    assert "UserMFASettingList" not in idp.get_user(AccessToken=access)

    idp.set_user_mfa_preference(
        AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    user = idp.get_user(AccessToken=access)
    assert user["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert user["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    first = _password_sign_in(idp, pool, "tom")
    assert first["ChallengeName"] == "SOFTWARE_TOKEN_MFA"


def test_set_user_mfa_preference_with_email(emulator: Emulator, idp: Any) -> None:
    pool = _pool(emulator, mfa_types=("SMS", "TOTP", "EMAIL"))
    _sign_up_confirmed(emulator, idp, pool, "ema", {"phone_number": "+15555550100"})
    access = _access(idp, pool, "ema")
    idp.set_user_mfa_preference(
        AccessToken=access,
        EmailMfaSettings={"Enabled": True, "PreferredMfa": True},
        SMSMfaSettings={"Enabled": True, "PreferredMfa": False},
    )
    user = idp.get_user(AccessToken=access)
    assert user["UserMFASettingList"] == ["SMS_MFA", "EMAIL_OTP"]
    assert user["PreferredMfaSetting"] == "EMAIL_OTP"

    # Two preferred at once: refused, nothing changed.
    with pytest.raises(idp.exceptions.InvalidParameterException, match="preferred"):
        idp.set_user_mfa_preference(
            AccessToken=access,
            EmailMfaSettings={"Enabled": True, "PreferredMfa": True},
            SMSMfaSettings={"Enabled": True, "PreferredMfa": True},
        )
    assert idp.get_user(AccessToken=access)["PreferredMfaSetting"] == "EMAIL_OTP"

    # Turning the preferred type off leaves no preference.
    idp.set_user_mfa_preference(AccessToken=access, EmailMfaSettings={"Enabled": False})
    user = idp.get_user(AccessToken=access)
    assert user["UserMFASettingList"] == ["SMS_MFA"]
    assert "PreferredMfaSetting" not in user


def test_email_mfa_is_refused_where_the_pool_does_not_offer_it(
    emulator: Emulator, idp: Any
) -> None:
    pool = _pool(emulator)  # SMS and TOTP
    _sign_up_confirmed(emulator, idp, pool, "nomail")
    with pytest.raises(idp.exceptions.InvalidParameterException, match="Email MFA"):
        idp.set_user_mfa_preference(
            AccessToken=_access(idp, pool, "nomail"), EmailMfaSettings={"Enabled": True}
        )


def test_email_otp_at_sign_in(emulator: Emulator, idp: Any) -> None:
    pool = _pool(emulator, mfa_types=("EMAIL",))
    _sign_up_confirmed(emulator, idp, pool, "otto")
    idp.set_user_mfa_preference(
        AccessToken=_access(idp, pool, "otto"), EmailMfaSettings={"Enabled": True}
    )
    answer = _password_sign_in(idp, pool, "otto")
    assert answer["ChallengeName"] == "EMAIL_OTP"
    parameters = answer["ChallengeParameters"]
    assert parameters["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL"
    assert parameters["CODE_DELIVERY_DESTINATION"] != "otto@example.com"
    code = emulator.last_code("otto", "email_mfa")
    with pytest.raises(idp.exceptions.CodeMismatchException):
        _respond(idp, pool, answer, "otto", EMAIL_OTP_CODE="000000" if code != "000000" else "1")
    # The session survives a wrong code.
    done = _respond(idp, pool, answer, "otto", EMAIL_OTP_CODE=code)
    assert "AccessToken" in done["AuthenticationResult"]
    sent = [c for c in emulator.codes if c.username == "otto" and c.kind == "email_mfa"]
    assert sent[-1].destination == "otto@example.com"


def test_select_mfa_type_offers_email(emulator: Emulator, idp: Any) -> None:
    pool = _pool(emulator, mfa_types=("SMS", "EMAIL"))
    _sign_up_confirmed(emulator, idp, pool, "sel", {"phone_number": "+15555550101"})
    idp.set_user_mfa_preference(
        AccessToken=_access(idp, pool, "sel"),
        EmailMfaSettings={"Enabled": True},
        SMSMfaSettings={"Enabled": True},
    )
    answer = _password_sign_in(idp, pool, "sel")
    assert answer["ChallengeName"] == "SELECT_MFA_TYPE"
    assert json.loads(answer["ChallengeParameters"]["MFAS_CAN_CHOOSE"]) == [
        "SMS_MFA",
        "EMAIL_OTP",
    ]
    chosen = _respond(idp, pool, answer, "sel", ANSWER="EMAIL_OTP")
    assert chosen["ChallengeName"] == "EMAIL_OTP"
    done = _respond(idp, pool, chosen, "sel", EMAIL_OTP_CODE=emulator.last_code("sel", "email_mfa"))
    assert "AuthenticationResult" in done


def test_mfa_setup_by_email(emulator: Emulator, idp: Any) -> None:
    pool = _pool(emulator, mfa="ON", mfa_types=("TOTP", "EMAIL"))
    _sign_up_confirmed(emulator, idp, pool, "set")
    answer = _password_sign_in(idp, pool, "set")
    assert answer["ChallengeName"] == "MFA_SETUP"
    assert json.loads(answer["ChallengeParameters"]["MFAS_CAN_SETUP"]) == [
        "SOFTWARE_TOKEN_MFA",
        "EMAIL_OTP",
    ]
    with pytest.raises(idp.exceptions.InvalidParameterException, match="email"):
        _respond(idp, pool, answer, "set", EMAIL="nope")
    code_asked = _respond(idp, pool, answer, "set", EMAIL="set.mfa@example.com")
    assert code_asked["ChallengeName"] == "EMAIL_OTP"
    sent = [c for c in emulator.codes if c.username == "set" and c.kind == "email_mfa"]
    assert sent[-1].destination == "set.mfa@example.com"
    done = _respond(
        idp, pool, code_asked, "set", EMAIL_OTP_CODE=emulator.last_code("set", "email_mfa")
    )
    access = done["AuthenticationResult"]["AccessToken"]
    user = idp.get_user(AccessToken=access)
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["email"] == "set.mfa@example.com"
    assert attributes["email_verified"] == "true"
    assert user["UserMFASettingList"] == ["EMAIL_OTP"]
    assert _password_sign_in(idp, pool, "set")["ChallengeName"] == "EMAIL_OTP"


def test_mfa_setup_lists_only_totp_on_a_totp_pool(emulator: Emulator, idp: Any) -> None:
    pool = _pool(emulator, mfa="ON", mfa_types=("TOTP",))
    _sign_up_confirmed(emulator, idp, pool, "only")
    answer = _password_sign_in(idp, pool, "only")
    assert json.loads(answer["ChallengeParameters"]["MFAS_CAN_SETUP"]) == ["SOFTWARE_TOKEN_MFA"]
    with pytest.raises(idp.exceptions.InvalidParameterException, match="Email MFA"):
        _respond(idp, pool, answer, "only", EMAIL="only@example.com")
