"""Passwords, user attributes and deleting the user, through AuthClient."""

from __future__ import annotations

from typing import Any

import pytest

from fsm_auth import (
    AuthClient,
    CodeMismatchError,
    NetworkError,
    NotAuthorizedError,
    NotSignedInError,
    SignInState,
    UserNotFoundError,
    UserState,
)
from fsm_auth.emulator import Emulator, Provisioned

from .conftest import PASSWORD, sign_up_confirmed, wrong_code

NEW_PASSWORD = "Battery-Staple-7?"


def test_forgot_password_then_sign_in_with_the_new_one(
    client: AuthClient, emulator: Emulator
) -> None:
    sign_up_confirmed(client, emulator, "quinn")
    result = client.forgot_password("quinn")
    assert result.code_delivery is not None
    assert result.code_delivery.delivery_medium == "EMAIL"
    assert result.code_delivery.destination == "q***@e***"
    code = emulator.last_code("quinn", "forgot_password")
    with pytest.raises(CodeMismatchError):
        client.confirm_forgot_password("quinn", NEW_PASSWORD, wrong_code(code))
    client.confirm_forgot_password("quinn", NEW_PASSWORD, code)
    with pytest.raises(NotAuthorizedError):
        client.sign_in("quinn", PASSWORD)
    assert client.sign_in("quinn", NEW_PASSWORD).state is SignInState.DONE


def test_change_password(signed_in: AuthClient) -> None:
    with pytest.raises(NotAuthorizedError):
        signed_in.change_password(PASSWORD + "x", NEW_PASSWORD)
    signed_in.change_password(PASSWORD, NEW_PASSWORD)
    signed_in.sign_out()
    with pytest.raises(NotAuthorizedError):
        signed_in.sign_in("alice", PASSWORD)
    assert signed_in.sign_in("alice", NEW_PASSWORD).state is SignInState.DONE


def test_operations_that_need_a_signed_in_user(client: AuthClient, emulator: Emulator) -> None:
    emulator.reset_requests()
    for call in (
        client.get_user_attributes,
        lambda: client.change_password(PASSWORD, NEW_PASSWORD),
        lambda: client.update_user_attributes({"name": "x"}),
        lambda: client.verify_user_attribute("email"),
        client.delete_user,
    ):
        with pytest.raises(NotSignedInError):
            call()
    assert emulator.count() == 0


def test_get_and_update_attributes(signed_in: AuthClient, emulator: Emulator) -> None:
    attributes = signed_in.get_user_attributes()
    assert attributes["email"] == "alice@example.com"
    assert attributes["email_verified"] == "true"
    assert attributes["sub"] == signed_in.get_tokens().id_claims["sub"]
    assert signed_in.update_user_attributes({"name": "Alice Liddell"}) == []
    assert signed_in.get_user_attributes()["name"] == "Alice Liddell"


def test_email_change_is_verified_with_a_code(signed_in: AuthClient, emulator: Emulator) -> None:
    deliveries = signed_in.update_user_attributes({"email": "alice@wonder.land"})
    assert len(deliveries) == 1
    assert deliveries[0].attribute_name == "email"
    assert deliveries[0].delivery_medium == "EMAIL"
    assert deliveries[0].destination == "a***@w***"
    attributes = signed_in.get_user_attributes()
    assert attributes["email"] == "alice@wonder.land"
    assert attributes["email_verified"] == "false"
    code = emulator.last_code("alice", "attribute")
    with pytest.raises(CodeMismatchError):
        signed_in.confirm_verify_user_attribute("email", wrong_code(code))
    signed_in.confirm_verify_user_attribute("email", code)
    assert signed_in.get_user_attributes()["email_verified"] == "true"


def test_verify_user_attribute_sends_a_new_code(
    signed_in: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned
) -> None:
    admin_idp.admin_update_user_attributes(
        UserPoolId=pool.user_pool_id,
        Username="alice",
        UserAttributes=[{"Name": "email_verified", "Value": "false"}],
    )
    assert signed_in.get_user_attributes()["email_verified"] == "false"
    delivery = signed_in.verify_user_attribute("email")
    assert delivery.attribute_name == "email"
    assert delivery.destination == "a***@e***"
    signed_in.confirm_verify_user_attribute("email", emulator.last_code("alice", "attribute"))
    assert signed_in.get_user_attributes()["email_verified"] == "true"


def test_delete_user(signed_in: AuthClient, emulator: Emulator) -> None:
    states: list[UserState] = []
    signed_in.add_user_state_listener(lambda state, info: states.append(state))
    signed_in.delete_user()
    assert emulator.count("DeleteUser") == 1
    assert signed_in.current_user_state is UserState.SIGNED_OUT
    assert states == [UserState.SIGNED_OUT]
    with pytest.raises(NotSignedInError):
        signed_in.get_tokens(wait=False)
    with pytest.raises((UserNotFoundError, NotAuthorizedError)):
        signed_in.sign_in("alice", PASSWORD)
    assert signed_in.current_user_state is UserState.SIGNED_OUT
    # The name is free again.
    sign_up_confirmed(signed_in, emulator, "alice")


def test_delete_user_offline_changes_nothing(signed_in: AuthClient, emulator: Emulator) -> None:
    emulator.stop()
    with pytest.raises(NetworkError):
        signed_in.delete_user()
    assert signed_in.is_signed_in
    assert signed_in.username == "alice"
    emulator.start()
    signed_in.delete_user()
    assert signed_in.current_user_state is UserState.SIGNED_OUT
