"""Sign-up, confirmation and the sign-in refusals around them, through AuthClient."""

from __future__ import annotations

import pytest

from fsm_auth import (
    AuthClient,
    CodeMismatchError,
    InvalidParameterError,
    InvalidPasswordError,
    NotAuthorizedError,
    SignInState,
    UsernameExistsError,
    UserNotConfirmedError,
    UserNotFoundError,
    UserState,
)
from fsm_auth.emulator import Emulator

from .conftest import PASSWORD, sign_up_confirmed, wrong_code


def test_sign_up_then_confirm_then_sign_in(client: AuthClient, emulator: Emulator) -> None:
    result = client.sign_up("carol", PASSWORD, attributes={"email": "carol@example.com"})
    assert result.confirmed is False
    assert result.user_sub
    assert result.code_delivery is not None
    assert result.code_delivery.delivery_medium == "EMAIL"
    assert result.code_delivery.destination == "c***@e***"  # masked, never the address
    confirmed = client.confirm_sign_up("carol", emulator.last_code("carol", "sign_up"))
    assert confirmed.confirmed is True
    assert client.current_user_state is UserState.SIGNED_OUT  # confirming does not sign in
    assert client.sign_in("carol", PASSWORD).state is SignInState.DONE
    assert client.is_signed_in
    assert client.username == "carol"


def test_wrong_confirmation_code_changes_nothing(client: AuthClient, emulator: Emulator) -> None:
    client.sign_up("carol", PASSWORD, attributes={"email": "carol@example.com"})
    code = emulator.last_code("carol", "sign_up")
    before = client.current_user_state
    with pytest.raises(CodeMismatchError) as caught:
        client.confirm_sign_up("carol", wrong_code(code))
    assert caught.value.code == "CodeMismatchException"
    assert client.current_user_state is before
    with pytest.raises(UserNotConfirmedError):
        client.sign_in("carol", PASSWORD)
    # The right code still works after a wrong one.
    client.confirm_sign_up("carol", code)
    assert client.sign_in("carol", PASSWORD).state is SignInState.DONE


def test_resend_code_replaces_the_old_one(client: AuthClient, emulator: Emulator) -> None:
    client.sign_up("carol", PASSWORD, attributes={"email": "carol@example.com"})
    old = emulator.last_code("carol", "sign_up")
    sent_before = len(emulator.codes)
    delivery = client.resend_sign_up_code("carol")
    assert delivery.delivery_medium == "EMAIL"
    assert len(emulator.codes) == sent_before + 1
    new = emulator.last_code("carol", "sign_up")
    if new != old:  # one chance in a million that the new random code equals the old
        with pytest.raises(CodeMismatchError):
            client.confirm_sign_up("carol", old)
    client.confirm_sign_up("carol", new)
    assert client.sign_in("carol", PASSWORD).state is SignInState.DONE


def test_duplicate_user_is_refused(client: AuthClient, emulator: Emulator) -> None:
    sign_up_confirmed(client, emulator, "dave")
    with pytest.raises(UsernameExistsError) as caught:
        client.sign_up("dave", PASSWORD, attributes={"email": "other@example.com"})
    assert caught.value.code == "UsernameExistsException"


def test_weak_password_is_refused(client: AuthClient, emulator: Emulator) -> None:
    with pytest.raises(InvalidPasswordError) as caught:
        client.sign_up("erin", "short", attributes={"email": "erin@example.com"})
    assert caught.value.code == "InvalidPasswordException"
    assert "short" not in str(caught.value)
    with pytest.raises(KeyError):
        emulator.last_code("erin", "sign_up")  # nobody was registered


def test_unconfirmed_user_cannot_sign_in(client: AuthClient) -> None:
    client.sign_up("frank", PASSWORD, attributes={"email": "frank@example.com"})
    with pytest.raises(UserNotConfirmedError):
        client.sign_in("frank", PASSWORD)
    assert client.current_user_state is UserState.SIGNED_OUT


def test_wrong_password_is_refused_by_srp(client: AuthClient, emulator: Emulator) -> None:
    sign_up_confirmed(client, emulator, "gina")
    emulator.reset_requests()
    with pytest.raises(NotAuthorizedError) as caught:
        client.sign_in("gina", PASSWORD + "x")
    # SRP: the password verifier was computed and checked by the server.
    assert emulator.count("InitiateAuth") == 1
    assert emulator.count("RespondToAuthChallenge") == 1
    assert caught.value.code == "NotAuthorizedException"
    assert client.current_user_state is UserState.SIGNED_OUT
    # The right password right after works: the failed attempt left nothing pending.
    assert client.sign_in("gina", PASSWORD).state is SignInState.DONE


def test_unknown_user(client: AuthClient) -> None:
    with pytest.raises((UserNotFoundError, NotAuthorizedError)):
        client.sign_in("nobody", PASSWORD)
    assert client.current_user_state is UserState.SIGNED_OUT


def test_metadata_and_validation_data_are_accepted(client: AuthClient, emulator: Emulator) -> None:
    client.sign_up(
        "hugo",
        PASSWORD,
        attributes={"email": "hugo@example.com", "name": "Hugo"},
        validation_data={"invite": "abc"},
        client_metadata={"source": "test"},
    )
    client.confirm_sign_up(
        "hugo", emulator.last_code("hugo", "sign_up"), client_metadata={"source": "test"}
    )
    result = client.sign_in(
        "hugo", PASSWORD, validation_data={"device": "x"}, client_metadata={"source": "test"}
    )
    assert result.state is SignInState.DONE
    assert client.get_user_attributes()["name"] == "Hugo"


def test_resend_for_a_confirmed_user_and_reset_for_an_unknown_one(
    client: AuthClient, emulator: Emulator
) -> None:
    sign_up_confirmed(client, emulator, "ivy")
    with pytest.raises(InvalidParameterError):
        client.resend_sign_up_code("ivy")
    with pytest.raises(UserNotFoundError):
        client.forgot_password("nobody")
