"""Confirmation codes: recorded, delivered with masked details, wrong and expired refused."""

from __future__ import annotations

from typing import Any

import pytest

from fsm_auth.emulator import Emulator, FakeClock, Provisioned, SentCode


def test_sign_up_code_recorded_with_masked_delivery(
    emulator: Emulator, idp: Any, pool: Provisioned
) -> None:
    seen: list[SentCode] = []
    emulator.on_code = seen.append
    try:
        answer = idp.sign_up(
            ClientId=pool.client_id,
            Username="bob",
            Password="Passw0rd!",
            UserAttributes=[{"Name": "email", "Value": "bob@example.com"}],
        )
    finally:
        emulator.on_code = None
    assert answer["UserConfirmed"] is False
    assert answer["CodeDeliveryDetails"] == {
        "Destination": "b***@e***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    (sent,) = seen
    assert (sent.username, sent.kind, sent.destination, sent.pool_id) == (
        "bob",
        "sign_up",
        "bob@example.com",
        pool.user_pool_id,
    )
    assert len(sent.code) == 6
    assert sent.code.isdigit()
    assert sent.code not in repr(sent)
    assert emulator.last_code("bob", "sign_up") == sent.code


def test_wrong_code_then_right_code_confirms(
    emulator: Emulator, idp: Any, pool: Provisioned
) -> None:
    idp.sign_up(ClientId=pool.client_id, Username="carol", Password="Passw0rd!")
    code = emulator.last_code("carol")
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(idp.exceptions.CodeMismatchException):
        idp.confirm_sign_up(ClientId=pool.client_id, Username="carol", ConfirmationCode=wrong)
    idp.confirm_sign_up(ClientId=pool.client_id, Username="carol", ConfirmationCode=code)
    admin = emulator.admin_client()
    status = admin.admin_get_user(UserPoolId=pool.user_pool_id, Username="carol")["UserStatus"]
    assert status == "CONFIRMED"
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="CONFIRMED"):
        idp.confirm_sign_up(ClientId=pool.client_id, Username="carol", ConfirmationCode=code)


def test_sign_up_code_expires_after_24_hours(
    emulator: Emulator, idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    idp.sign_up(ClientId=pool.client_id, Username="dave", Password="Passw0rd!")
    code = emulator.last_code("dave")
    clock.advance(24 * 3600 + 1)
    with pytest.raises(idp.exceptions.ExpiredCodeException):
        idp.confirm_sign_up(ClientId=pool.client_id, Username="dave", ConfirmationCode=code)


def test_resend_replaces_the_code(emulator: Emulator, idp: Any, pool: Provisioned) -> None:
    idp.sign_up(
        ClientId=pool.client_id,
        Username="erin",
        Password="Passw0rd!",
        UserAttributes=[{"Name": "email", "Value": "erin@example.com"}],
    )
    first = emulator.last_code("erin")
    answer = idp.resend_confirmation_code(ClientId=pool.client_id, Username="erin")
    assert answer["CodeDeliveryDetails"]["Destination"] == "e***@e***"
    second = emulator.last_code("erin")
    assert len([c for c in emulator.codes if c.username == "erin"]) >= 2
    if first != second:
        with pytest.raises(idp.exceptions.CodeMismatchException):
            idp.confirm_sign_up(ClientId=pool.client_id, Username="erin", ConfirmationCode=first)
    idp.confirm_sign_up(ClientId=pool.client_id, Username="erin", ConfirmationCode=second)
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.resend_confirmation_code(ClientId=pool.client_id, Username="erin")


def test_forgot_password_code_and_expiry(
    emulator: Emulator, idp: Any, pool: Provisioned, user: str, clock: FakeClock
) -> None:
    answer = idp.forgot_password(ClientId=pool.client_id, Username=user)
    assert answer["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    code = emulator.last_code(user, "forgot_password")
    clock.advance(3601)
    with pytest.raises(idp.exceptions.ExpiredCodeException):
        idp.confirm_forgot_password(
            ClientId=pool.client_id, Username=user, ConfirmationCode=code, Password="N3wPassw0rd!"
        )
    idp.forgot_password(ClientId=pool.client_id, Username=user)
    code = emulator.last_code(user, "forgot_password")
    with pytest.raises(idp.exceptions.CodeMismatchException):
        idp.confirm_forgot_password(
            ClientId=pool.client_id,
            Username=user,
            ConfirmationCode="12345x",
            Password="N3wPassw0rd!",
        )
    idp.confirm_forgot_password(
        ClientId=pool.client_id, Username=user, ConfirmationCode=code, Password="N3wPassw0rd!"
    )
    idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": "N3wPassw0rd!"},
    )


def test_forgot_password_needs_a_verified_address(idp: Any, pool: Provisioned) -> None:
    idp.sign_up(ClientId=pool.client_id, Username="frank", Password="Passw0rd!")
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.forgot_password(ClientId=pool.client_id, Username="frank")


def test_attribute_update_and_verification(
    emulator: Emulator, idp: Any, pool: Provisioned, tokens: dict[str, Any], user: str
) -> None:
    access = tokens["AccessToken"]
    answer = idp.update_user_attributes(
        AccessToken=access, UserAttributes=[{"Name": "email", "Value": "new@example.org"}]
    )
    assert answer["CodeDeliveryDetailsList"] == [
        {"Destination": "n***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    ]
    attrs = {a["Name"]: a["Value"] for a in idp.get_user(AccessToken=access)["UserAttributes"]}
    assert attrs["email"] == "new@example.org"
    assert attrs["email_verified"] == "false"
    first = emulator.last_code(user, "attribute")
    resent = idp.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
    assert resent["CodeDeliveryDetails"]["AttributeName"] == "email"
    code = emulator.last_code(user, "attribute")
    if first != code:
        with pytest.raises(idp.exceptions.CodeMismatchException):
            idp.verify_user_attribute(AccessToken=access, AttributeName="email", Code=first)
    idp.verify_user_attribute(AccessToken=access, AttributeName="email", Code=code)
    attrs = {a["Name"]: a["Value"] for a in idp.get_user(AccessToken=access)["UserAttributes"]}
    assert attrs["email_verified"] == "true"
    assert emulator.codes[-1].attribute == "email"


def test_last_code_without_code_raises_clear_key_error(emulator: Emulator) -> None:
    with pytest.raises(KeyError, match="no sms_mfa code was sent to user 'nobody'"):
        emulator.last_code("nobody", "sms_mfa")


def test_admin_create_user_temporary_password_and_new_password_required(
    emulator: Emulator, idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    admin = emulator.admin_client()
    admin.admin_create_user(
        UserPoolId=pool.user_pool_id,
        Username="gina",
        UserAttributes=[{"Name": "email", "Value": "gina@example.com"}],
    )
    temporary = emulator.last_code("gina", "temporary_password")
    first = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "gina", "PASSWORD": temporary},
    )
    assert first["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "email" in first["ChallengeParameters"]["userAttributes"]
    with pytest.raises(idp.exceptions.InvalidPasswordException):
        idp.respond_to_auth_challenge(
            ClientId=pool.client_id,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=first["Session"],
            ChallengeResponses={"USERNAME": "gina", "NEW_PASSWORD": "weak"},
        )
    second = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "gina", "PASSWORD": temporary},
    )
    done = idp.respond_to_auth_challenge(
        ClientId=pool.client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=second["Session"],
        ChallengeResponses={"USERNAME": "gina", "NEW_PASSWORD": "Str0ngPassw0rd!"},
    )
    assert "AccessToken" in done["AuthenticationResult"]


def test_temporary_password_expires_after_seven_days(
    emulator: Emulator, idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    emulator.admin_client().admin_create_user(UserPoolId=pool.user_pool_id, Username="hank")
    temporary = emulator.last_code("hank", "temporary_password")
    clock.advance(7 * 86400 + 1)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="expired"):
        idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "hank", "PASSWORD": temporary},
        )
