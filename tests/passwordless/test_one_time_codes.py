"""One-time codes as the first factor: wrong codes, a session that expires, a new code by
starting again, bad arguments refused before any request, and codes that never leak."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from fsm_auth import (
    AuthClient,
    CodeMismatchError,
    FileSessionStore,
    IllegalTransitionError,
    InvalidParameterError,
    NotAuthorizedError,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock, Provisioned

from .conftest import PASSWORD, otp_user


def other_code(code: str) -> str:
    """A code of the same length that is certainly not ``code``."""
    return "1" * len(code) if code != "1" * len(code) else "2" * len(code)


@pytest.mark.parametrize(("factor", "kind"), [("EMAIL_OTP", "email_otp"), ("SMS_OTP", "sms_otp")])
def test_a_wrong_code_can_be_answered_again(
    factor: str,
    kind: str,
    otp_client: AuthClient,
    otp_pool: Provisioned,
    emulator: Emulator,
) -> None:
    user = otp_user(emulator, otp_pool, "ann")
    otp_client.initialize()
    result = otp_client.sign_in(user, auth_flow="USER_AUTH", preferred_challenge=factor)
    assert result.state.value == factor
    code = emulator.last_code(user, kind)

    with pytest.raises(CodeMismatchError):
        otp_client.confirm_sign_in(other_code(code))
    assert otp_client.current_user_state is UserState.SIGNED_OUT

    assert otp_client.confirm_sign_in(code).state.value == "DONE"
    assert otp_client.is_signed_in


def test_an_expired_session_is_a_clear_error_and_changes_nothing(
    otp_client: AuthClient, otp_pool: Provisioned, emulator: Emulator, clock: FakeClock
) -> None:
    user = otp_user(emulator, otp_pool, "ann")
    otp_client.initialize()
    otp_client.sign_in(user, auth_flow="USER_AUTH", preferred_challenge="EMAIL_OTP")
    code = emulator.last_code(user, "email_otp")
    clock.advance(181)  # Cognito's sign-in session lasts 3 minutes

    with pytest.raises(NotAuthorizedError, match="session"):
        otp_client.confirm_sign_in(code)

    assert otp_client.current_user_state is UserState.SIGNED_OUT
    with pytest.raises(IllegalTransitionError, match="sign_in"):
        otp_client.confirm_sign_in(code)  # the attempt is over: start again


def test_starting_again_sends_a_new_code_and_the_old_one_no_longer_works(
    otp_client: AuthClient, otp_pool: Provisioned, emulator: Emulator
) -> None:
    user = otp_user(emulator, otp_pool, "ann")
    otp_client.sign_in(user, auth_flow="USER_AUTH", preferred_challenge="EMAIL_OTP")
    first = emulator.last_code(user, "email_otp")

    otp_client.sign_in(user, auth_flow="USER_AUTH", preferred_challenge="EMAIL_OTP")
    second = emulator.last_code(user, "email_otp")

    if first != second:
        with pytest.raises(CodeMismatchError):
            otp_client.confirm_sign_in(first)
    assert otp_client.confirm_sign_in(second).state.value == "DONE"


BAD_SIGN_INS: list[tuple[dict[str, object], str]] = [
    ({"auth_flow": "USER_AUTH", "preferred_challenge": "EMAIL_OTP", "password": "x"}, "password"),
    ({"auth_flow": "CUSTOM_AUTH", "password": "x"}, "CUSTOM_AUTH takes no password"),
    ({"auth_flow": "CUSTOM_WITH_SRP"}, "A password is needed to sign in with CUSTOM_WITH_SRP"),
    ({"auth_flow": "USER_AUTH", "preferred_challenge": "PASSWORD"}, "USER_AUTH with PASSWORD"),
    ({"auth_flow": "USER_SRP_AUTH", "preferred_challenge": "EMAIL_OTP"}, "no preferred_challenge"),
    ({"auth_flow": "USER_AUTH", "preferred_challenge": "WEB_AUTHN"}, "'WEB_AUTHN'"),
    ({"auth_flow": "MAGIC_LINK", "password": "x"}, "'MAGIC_LINK'"),
]


@pytest.mark.parametrize(("arguments", "message"), BAD_SIGN_INS)
def test_bad_arguments_are_refused_before_any_request_and_keep_the_pending_challenge(
    arguments: dict[str, object],
    message: str,
    otp_client: AuthClient,
    otp_pool: Provisioned,
    emulator: Emulator,
) -> None:
    user = otp_user(emulator, otp_pool, "ann")
    otp_client.sign_in(user, auth_flow="USER_AUTH", preferred_challenge="SMS_OTP")
    emulator.reset_requests()

    arguments = dict(arguments)
    password = arguments.pop("password", None)
    with pytest.raises(InvalidParameterError, match=message):
        otp_client.sign_in(user, password, **arguments)  # type: ignore[arg-type]

    assert emulator.count() == 0
    # The pending challenge is still the one to answer.
    assert otp_client.confirm_sign_in(emulator.last_code(user, "sms_otp")).state.value == "DONE"


def test_no_code_in_logs_reprs_errors_or_saved_files(
    make_client: Callable[..., AuthClient],
    otp_pool: Provisioned,
    emulator: Emulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store_dir = tmp_path / "store"
    client = make_client(
        otp_pool.aws_configuration(), store=FileSessionStore(store_dir, use_keyring=False)
    )
    user = otp_user(emulator, otp_pool, "ann")  # the admin's own calls are not ours to judge
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    first = client.sign_in(user, auth_flow="USER_AUTH")
    seen.append(repr(first))
    seen.append(repr(client.confirm_sign_in("EMAIL_OTP")))
    code = emulator.last_code(user, "email_otp")
    wrong = other_code(code)
    with pytest.raises(CodeMismatchError) as refused:
        client.confirm_sign_in(wrong)
    seen.extend([str(refused.value), repr(refused.value)])
    done = client.confirm_sign_in(code)
    seen.extend([repr(done), repr(client), str(client.get_tokens())])

    files = b"".join(p.read_bytes() for p in store_dir.rglob("*") if p.is_file())
    assert files, "the session was saved"
    text = "\n".join([*seen, caplog.text])
    for secret in (code, wrong, PASSWORD):
        assert secret not in text
        assert secret.encode() not in files
