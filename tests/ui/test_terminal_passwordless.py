"""The terminal UI with choice-based and passwordless sign-in (USER_AUTH), rendered from the
sign-in spec alone: the first-factor menu (SELECT_CHALLENGE), the password asked next when
none was typed, one-time codes by e-mail or SMS, a passwordless sign-up, and a CUSTOM_AUTH
configuration that asks no password (a real pseudo-terminal against the emulator)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from fsm_auth import AuthClient, NotAuthorizedError
from fsm_auth.emulator import Emulator, Provisioned

from .conftest import PASSWORD, PHONE, StartUI, TerminalUI
from .test_terminal_sign_in import assert_signed_in, signed_up

SetupClient = Callable[[Provisioned], AuthClient]

FIRST_FACTORS = ("PASSWORD", "EMAIL_OTP", "SMS_OTP")
CHOOSE = "Sign in with [1]: "
WRONG_PASSWORD = "Wrong-Horse-9!"


@pytest.fixture
def otp_pool(emulator: Emulator) -> Provisioned:
    """A pool whose users may sign in with a password or a code by e-mail or SMS."""
    return emulator.provision(first_factors=FIRST_FACTORS, with_identity_pool=False, bucket=None)


@pytest.fixture
def user_auth(otp_pool: Provisioned) -> dict[str, Any]:
    """A configuration of :func:`otp_pool` whose sign-in flow is USER_AUTH."""
    return otp_pool.aws_configuration("USER_AUTH")


def other_code(code: str) -> str:
    """A code of the same length (8 digits for a first factor) that is not ``code``."""
    return "1" * len(code) if code != "1" * len(code) else "2" * len(code)


def sign_in_without_password(ui: TerminalUI, username: str) -> None:
    """Choose sign-in, type the user name, leave the password empty."""
    ui.answer("Choose [1]: ", "")
    ui.expect("Leave the password empty to choose another way to sign in.")
    ui.answer("Username: ", username)
    ui.answer("Password: ", "")


def choose(ui: TerminalUI, name: str) -> None:
    """At the first-factor menu, type the number the menu lists ``name`` under."""
    ui.expect("Choose how to sign in.")
    ui.expect(CHOOSE)
    menu = ui.text[ui.text.rindex("Choose how to sign in.") :]
    number = re.search(rf"  (\d)\) {re.escape(name)}\r\n", menu)
    assert number is not None, menu
    ui.child.sendline(number.group(1))


def assert_no_plumbing(ui: TerminalUI) -> None:
    """Nothing of the service's parameters is shown: no JSON list, no factor's code name."""
    for raw in ("AVAILABLE_CHALLENGES", "Available challenges", '["', "PASSWORD_SRP", "_OTP"):
        assert raw not in ui.text, raw


def test_choose_email_then_a_wrong_code_then_the_code(
    start_ui: StartUI, setup_client: SetupClient, emulator: Emulator, otp_pool: Provisioned,
    user_auth: dict[str, Any],
) -> None:  # fmt: skip
    signed_up(setup_client(otp_pool), emulator, "ann")
    ui = start_ui(user_auth)
    sign_in_without_password(ui, "ann")
    ui.expect(CHOOSE)
    # No verified phone: no SMS among the ways to sign in.
    assert (
        "Choose how to sign in.\r\n"
        "  1) Password\r\n"
        "  2) Password (sent to the service)\r\n"
        "  3) Email\r\n"
        "Sign in with [1]: "
    ) in ui.text
    ui.child.sendline("3")
    ui.expect("Code sent by email to a***@e***")
    code = emulator.last_code("ann", "email_otp")
    ui.answer("Code: ", other_code(code))
    # One line of error, then the code asked again in the same sign-in.
    ui.expect("Invalid verification code provided, please try again.\r\nCode: ")
    ui.child.sendline(code)
    assert_signed_in(ui, "ann", PASSWORD)
    assert ui.text.count("Code sent by email") == 1
    assert_no_plumbing(ui)


def test_choose_sms_with_a_verified_phone(
    start_ui: StartUI, setup_client: SetupClient, emulator: Emulator, otp_pool: Provisioned,
    user_auth: dict[str, Any], admin_idp: Any,
) -> None:  # fmt: skip
    signed_up(setup_client(otp_pool), emulator, "ben", phone_number=PHONE)
    admin_idp.admin_update_user_attributes(
        UserPoolId=otp_pool.user_pool_id,
        Username="ben",
        UserAttributes=[
            {"Name": "phone_number", "Value": PHONE},
            {"Name": "phone_number_verified", "Value": "true"},
        ],
    )
    ui = start_ui(user_auth)
    sign_in_without_password(ui, "ben")
    choose(ui, "Text message (SMS)")
    ui.expect("Code sent by SMS to +*******0123")
    ui.answer("Code: ", emulator.last_code("ben", "sms_otp"))
    assert_signed_in(ui, "ben", PASSWORD)
    assert "  4) Text message (SMS)\r\n" in ui.text
    assert_no_plumbing(ui)


def test_choose_password_asks_it_without_echo_and_a_wrong_one_asks_the_user_again(
    start_ui: StartUI, setup_client: SetupClient, emulator: Emulator, otp_pool: Provisioned,
    user_auth: dict[str, Any],
) -> None:  # fmt: skip
    signed_up(setup_client(otp_pool), emulator, "cleo")
    ui = start_ui(user_auth)
    sign_in_without_password(ui, "cleo")
    choose(ui, "Password")
    ui.answer("Password: ", WRONG_PASSWORD)
    # As a wrong password at sign-in: one line, then the user name and password again.
    ui.expect("Incorrect username or password.\r\nUsername: ")
    ui.child.sendline("cleo")
    ui.answer("Password: ", "")
    choose(ui, "Password")
    ui.answer("Password: ", PASSWORD)
    assert_signed_in(ui, "cleo", PASSWORD, WRONG_PASSWORD)
    # Read without echo: each password prompt is followed by the new line alone.
    assert len(re.findall(r"Password: \r\n", ui.text)) == 4
    assert "Signing in again." not in ui.text  # the wrong password was not replayed
    assert "SRP" not in ui.text  # the option's developer description is not shown
    assert_no_plumbing(ui)


def test_a_password_typed_first_is_used_when_password_is_chosen(
    start_ui: StartUI, setup_client: SetupClient, emulator: Emulator, otp_pool: Provisioned,
    user_auth: dict[str, Any],
) -> None:  # fmt: skip
    signed_up(setup_client(otp_pool), emulator, "dora")
    ui = start_ui(user_auth)
    ui.answer("Choose [1]: ", "")
    ui.answer("Username: ", "dora")
    ui.answer("Password: ", PASSWORD)
    choose(ui, "Password (sent to the service)")
    assert_signed_in(ui, "dora", PASSWORD)
    assert ui.text.count("Password: ") == 1  # not asked again


def test_a_custom_auth_client_asks_no_password(
    start_ui: StartUI, setup_client: SetupClient, emulator: Emulator, otp_pool: Provisioned
) -> None:
    signed_up(setup_client(otp_pool), emulator, "eve")
    ui = start_ui(otp_pool.aws_configuration("CUSTOM_AUTH"))
    ui.answer("Choose [1]: ", "")
    ui.answer("Username: ", "eve")
    # The emulator's custom challenge: a code it sends, asked as the spec declares it.
    ui.expect("Answer: ")
    ui.child.sendline(emulator.last_code("eve", "custom_challenge"))
    assert_signed_in(ui, "eve", PASSWORD)
    assert "Password: " not in ui.text
    assert "Leave the password empty" not in ui.text


def test_a_passwordless_sign_up_then_sign_in_by_email_code(
    start_ui: StartUI, setup_client: SetupClient, emulator: Emulator, otp_pool: Provisioned,
    user_auth: dict[str, Any],
) -> None:  # fmt: skip
    ui = start_ui(user_auth)
    ui.answer("Choose [1]: ", "2")
    ui.expect("Leave the password empty to sign in with codes sent to you instead.")
    ui.answer("Username: ", "fay")
    ui.answer("Password: ", "")
    ui.answer("Email: ", "fay@example.com")
    ui.answer("Phone number: ", "")
    ui.expect("Code sent by email to f***@e***")
    ui.answer("Code: ", emulator.last_code("fay", "sign_up"))
    ui.expect("Account confirmed.")
    # A passwordless user's one way to sign in is taken without a menu.
    ui.expect("Code sent by email to f***@e***")
    ui.answer("Code: ", emulator.last_code("fay", "email_otp"))
    assert_signed_in(ui, "fay")
    assert "Choose how to sign in." not in ui.text
    assert ui.text.count("Password: ") == 1
    # Registered without a password: no password signs the user in.
    setup = setup_client(otp_pool)
    with pytest.raises(NotAuthorizedError):
        setup.sign_in("fay", PASSWORD)
    assert not setup.is_signed_in
