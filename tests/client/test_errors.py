"""Errors: the service's codes map to documented classes; no secret in any text; bad input;
the network going away."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import fsm_auth
from fsm_auth import (
    AuthClient,
    AuthError,
    InvalidParameterError,
    NetworkError,
    NotSignedInError,
    SignInState,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned

from .conftest import PASSWORD, pool_client, sign_up_confirmed

NEW_PASSWORD = "Battery-Staple-7?"

DOCUMENTED = [
    ("NotAuthorizedException", "NotAuthorizedError"),
    ("UserNotConfirmedException", "UserNotConfirmedError"),
    ("UsernameExistsException", "UsernameExistsError"),
    ("UserNotFoundException", "UserNotFoundError"),
    ("CodeMismatchException", "CodeMismatchError"),
    ("ExpiredCodeException", "ExpiredCodeError"),
    ("InvalidPasswordException", "InvalidPasswordError"),
    ("InvalidParameterException", "InvalidParameterError"),
    ("LimitExceededException", "LimitExceededError"),
    ("TooManyRequestsException", "TooManyRequestsError"),
    ("PasswordResetRequiredException", "PasswordResetRequiredError"),
]


def _texts(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), *(str(a) for a in exc.args)])


@pytest.mark.parametrize(("code", "name"), DOCUMENTED)
def test_service_errors_map_to_documented_classes(
    client: AuthClient, emulator: Emulator, code: str, name: str
) -> None:
    cls = getattr(fsm_auth, name)
    assert issubclass(cls, AuthError)
    message = f"Injected {code} for the test."
    emulator.faults.inject(Fault(operation="SignUp", error=(code, message, 400)))
    with pytest.raises(cls) as caught:
        client.sign_up("rosa", PASSWORD, attributes={"email": "rosa@example.com"})
    assert type(caught.value) is cls
    assert caught.value.code == code
    assert caught.value.message == message
    assert code in str(caught.value)


def test_unknown_service_error_keeps_code_and_message(
    client: AuthClient, emulator: Emulator
) -> None:
    emulator.faults.inject(
        Fault(operation="ForgotPassword", error=("SomethingNewException", "New.", 400))
    )
    with pytest.raises(fsm_auth.ServiceError) as caught:
        client.forgot_password("rosa")
    assert (caught.value.code, caught.value.message) == ("SomethingNewException", "New.")


# ---- no secret in any text, even when the server echoes it --------------------------------


def test_echoed_password_is_not_in_errors(
    make_client: Callable[..., AuthClient],
    client: AuthClient,
    emulator: Emulator,
    pool: Provisioned,
) -> None:
    # Each request echoes back the password it carried.
    cases: list[tuple[str, str, Callable[[], object]]] = [
        ("SignUp", PASSWORD, lambda: client.sign_up("rosa", PASSWORD)),
        (
            "InitiateAuth",
            PASSWORD,
            lambda: pool_client(make_client, pool, "USER_PASSWORD_AUTH").sign_in("rosa", PASSWORD),
        ),
        (
            "ConfirmForgotPassword",
            NEW_PASSWORD,
            lambda: client.confirm_forgot_password("rosa", NEW_PASSWORD, "123456"),
        ),
    ]
    sign_up_confirmed(client, emulator, "rosa")
    for operation, password, call in cases:
        echo = f"Bad value {password}"
        emulator.faults.inject(
            Fault(operation=operation, times=1, error=("InvalidParameterException", echo, 400))
        )
        with pytest.raises(AuthError) as caught:
            call()
        assert caught.value.code == "InvalidParameterException", operation
        assert password not in _texts(caught.value), operation


def test_echoed_passwords_of_change_password_are_not_in_errors(
    signed_in: AuthClient, emulator: Emulator
) -> None:
    emulator.faults.inject(
        Fault(
            operation="ChangePassword",
            error=("InvalidPasswordException", f"{PASSWORD} -> {NEW_PASSWORD} refused", 400),
        )
    )
    with pytest.raises(fsm_auth.InvalidPasswordError) as caught:
        signed_in.change_password(PASSWORD, NEW_PASSWORD)
    text = _texts(caught.value)
    assert PASSWORD not in text
    assert NEW_PASSWORD not in text


def test_echoed_tokens_are_not_in_errors(
    signed_in: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    tokens = signed_in.get_tokens()
    assert tokens.refresh_token
    # A request echoing the access token it carried (and a JWT it did not).
    echo = f"{tokens.access_token} / {tokens.id_token}"
    emulator.faults.inject(
        Fault(operation="GetUser", error=("InvalidParameterException", echo, 400))
    )
    with pytest.raises(InvalidParameterError) as caught:
        signed_in.get_user_attributes()
    text = _texts(caught.value)
    assert tokens.access_token not in text
    assert tokens.id_token not in text
    # The refresh request echoing the refresh token it carried.
    clock.advance(3600)
    emulator.faults.inject(
        Fault(
            operation="GetTokensFromRefreshToken",
            error=("InvalidParameterException", f"Bad token {tokens.refresh_token}", 400),
        )
    )
    with pytest.raises(AuthError) as refused:
        signed_in.get_tokens(wait=False)
    assert tokens.refresh_token not in _texts(refused.value)


def test_echoed_confirmation_codes_are_not_in_errors(
    signed_in: AuthClient, emulator: Emulator
) -> None:
    code = "482913"
    echo = f"Code {code} is not valid."
    calls: list[tuple[str, Callable[[], object]]] = [
        ("ConfirmSignUp", lambda: signed_in.confirm_sign_up("alice", code)),
        (
            "ConfirmForgotPassword",
            lambda: signed_in.confirm_forgot_password("alice", NEW_PASSWORD, code),
        ),
        ("VerifyUserAttribute", lambda: signed_in.confirm_verify_user_attribute("email", code)),
    ]
    leaked = []
    for operation, call in calls:
        emulator.faults.inject(
            Fault(operation=operation, times=1, error=("CodeMismatchException", echo, 400))
        )
        with pytest.raises(fsm_auth.CodeMismatchError) as caught:
            call()
        if code in _texts(caught.value):
            leaked.append(operation)
    assert leaked == []


def test_echoed_client_secret_is_not_in_errors(
    make_client: Callable[..., AuthClient], emulator: Emulator, secret_pool: Provisioned
) -> None:
    secret = secret_pool.client_secret
    assert secret
    client = pool_client(make_client, secret_pool)
    calls: list[tuple[str, Callable[[], object]]] = [
        ("SignUp", lambda: client.sign_up("rosa", PASSWORD)),
        ("InitiateAuth", lambda: client.sign_in("rosa", PASSWORD)),
        ("ForgotPassword", lambda: client.forgot_password("rosa")),
    ]
    for operation, call in calls:
        emulator.faults.inject(
            Fault(
                operation=operation,
                times=1,
                error=("NotAuthorizedException", f"Unable to verify secret {secret}", 400),
            )
        )
        with pytest.raises(fsm_auth.NotAuthorizedError) as caught:
            call()
        assert secret not in _texts(caught.value), operation
    assert secret not in repr(client)
    assert secret not in repr(client.config)


def test_reprs_show_no_secret(
    make_client: Callable[..., AuthClient], emulator: Emulator, secret_pool: Provisioned
) -> None:
    client = pool_client(make_client, secret_pool)
    sign_up_confirmed(client, emulator, "sam")
    client.sign_in("sam", PASSWORD)
    tokens = client.get_tokens()
    assert tokens.refresh_token
    secrets = [
        PASSWORD,
        tokens.id_token,
        tokens.access_token,
        tokens.refresh_token,
        secret_pool.client_secret or "?",
    ]
    for text in (repr(client), str(client), repr(tokens), str(tokens), repr(client.config)):
        for secret in secrets:
            assert secret not in text


# ---- bad input: refused before any request ------------------------------------------------


def test_bad_input_is_refused_before_any_request(signed_in: AuthClient, emulator: Emulator) -> None:
    calls: list[tuple[str, Callable[[], object]]] = [
        ("username", lambda: signed_in.sign_up("", PASSWORD)),
        ("username", lambda: signed_in.sign_up("   ", PASSWORD)),
        ("password", lambda: signed_in.sign_up("rosa", 12345678)),  # type: ignore[arg-type]
        ("attributes", lambda: signed_in.sign_up("rosa", PASSWORD, attributes=["email"])),  # type: ignore[arg-type]
        ("username", lambda: signed_in.sign_in("", PASSWORD)),
        ("password", lambda: signed_in.sign_in("alice", None)),  # type: ignore[arg-type]
        ("password", lambda: signed_in.sign_in("alice", b"x")),  # type: ignore[arg-type]
        ("code", lambda: signed_in.confirm_sign_up("alice", "")),
        ("username", lambda: signed_in.resend_sign_up_code("")),
        ("username", lambda: signed_in.forgot_password("")),
        ("new_password", lambda: signed_in.confirm_forgot_password("alice", "", "123456")),
        ("attributes", lambda: signed_in.update_user_attributes(["name"])),  # type: ignore[arg-type]
        ("name", lambda: signed_in.verify_user_attribute("")),
        ("proposed_password", lambda: signed_in.change_password(PASSWORD, 5)),  # type: ignore[arg-type]
        ("challenge_response", lambda: signed_in.confirm_sign_in("")),
    ]
    emulator.reset_requests()
    for argument, call in calls:
        with pytest.raises(InvalidParameterError) as caught:
            call()
        assert argument in str(caught.value), (argument, str(caught.value))
    assert emulator.count() == 0
    assert signed_in.is_signed_in


# ---- the network goes away -----------------------------------------------------------------


def test_offline_keeps_the_state_and_the_session(
    signed_in: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    tokens = signed_in.get_tokens()
    states: list[UserState] = []
    signed_in.add_user_state_listener(lambda state, info: states.append(state))
    emulator.stop()
    # Valid cached tokens are still served.
    assert signed_in.get_tokens() == tokens
    # Anything that needs the network raises NetworkError and changes nothing.
    with pytest.raises(NetworkError):
        signed_in.get_user_attributes()
    clock.advance(3600)
    with pytest.raises(NetworkError):
        signed_in.get_tokens()
    with pytest.raises(NetworkError):
        signed_in.get_tokens(wait=False)
    assert signed_in.current_user_state is UserState.SIGNED_IN
    assert signed_in.username == "alice"
    assert states == []
    # Back online: the next call refreshes normally.
    emulator.start()
    fresh = signed_in.get_tokens()
    assert fresh.access_token != tokens.access_token
    assert fresh.refresh_token == tokens.refresh_token
    assert states == []


def test_offline_sign_up_and_sign_in(client: AuthClient, emulator: Emulator) -> None:
    sign_up_confirmed(client, emulator, "tom")
    emulator.stop()
    with pytest.raises(NetworkError):
        client.sign_up("ursula", PASSWORD)
    with pytest.raises(NetworkError):
        client.sign_in("tom", PASSWORD)
    assert client.current_user_state is UserState.SIGNED_OUT
    emulator.start()
    assert client.sign_in("tom", PASSWORD).state is SignInState.DONE


def test_not_signed_in(client: AuthClient) -> None:
    with pytest.raises(NotSignedInError):
        client.get_tokens()
    with pytest.raises(NotSignedInError):
        client.get_tokens(wait=False)
    assert client.current_user_state is UserState.SIGNED_OUT


def test_sign_in_result_repr_masks_the_totp_secret() -> None:
    from fsm_auth import SignInResult, SignInState

    result = SignInResult(
        state=SignInState.MFA_SETUP,
        parameters={"SECRET_CODE": "JBSWY3DPEHPK3PXP", "USER_ID_FOR_SRP": "alice"},
    )
    assert "JBSWY3DPEHPK3PXP" not in repr(result)
    assert "JBSWY3DPEHPK3PXP" not in str(result)
    assert "alice" in repr(result)
    assert result.parameters["SECRET_CODE"] == "JBSWY3DPEHPK3PXP"
