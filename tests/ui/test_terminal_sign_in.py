"""``client.show_sign_in()`` without hosted-UI options: the drop-in terminal UI, driven through
a real pseudo-terminal against the emulator (the child connects to the emulator this process
hosts; codes are read from the emulator, TOTP codes computed with pyotp)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest

from fsm_auth import AuthClient, SignInState
from fsm_auth.emulator import Emulator, FakeClock, Provisioned

from .conftest import (
    NEW_PASSWORD,
    PASSWORD,
    PHONE,
    StartUI,
    TerminalUI,
    hash_pin,
    run_without_terminal,
)

SetupClient = Callable[[Provisioned], AuthClient]


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def signed_up(setup: AuthClient, emulator: Emulator, username: str, **attributes: str) -> None:
    setup.sign_up(username, PASSWORD, attributes={"email": f"{username}@example.com", **attributes})
    setup.confirm_sign_up(username, emulator.last_code(username, "sign_up"))


def assert_signed_in(ui: TerminalUI, username: str, *secrets: str) -> None:
    outcome = ui.finish()
    assert outcome.status == 0, ui.text
    assert (outcome.result, outcome.state, outcome.user) == ("DONE", "signedIn", username)
    assert f"Signed in as {username}." in ui.text
    assert len(ui.sessions()) == 1
    for secret in secrets:
        assert secret not in ui.text, "a secret was echoed or printed"


def assert_cancelled(ui: TerminalUI, *secrets: str) -> None:
    outcome = ui.finish()
    assert outcome.status == 3, ui.text
    assert outcome.cancelled == "Sign-in cancelled"
    assert (outcome.state, outcome.user) == ("signedOut", "None")
    assert ui.sessions() == [], "a cancelled sign-in saved a session"
    for secret in secrets:
        assert secret not in ui.text


def test_sign_up_then_confirm_then_signed_in(
    start_ui: StartUI, emulator: Emulator, pool: Provisioned
) -> None:
    ui = start_ui(pool.aws_configuration())
    ui.answer("Choose [1]: ", "2")
    ui.answer("Username: ", "alice")
    ui.answer("Password: ", "weak")
    ui.answer("Email: ", "alice@example.com")
    ui.answer("Phone number: ", "")
    ui.expect("Password did not conform with policy")
    ui.answer("Password: ", PASSWORD)
    ui.expect("Code sent by email to a***@e***")
    code = emulator.last_code("alice", "sign_up")
    ui.answer("Code: ", wrong(code))
    ui.expect("Invalid verification code")
    ui.answer("Code: ", "")  # an empty line sends a new code
    ui.expect("Code sent by email to a***@e***")
    ui.answer("Code: ", emulator.last_code("alice", "sign_up"))
    ui.expect("Account confirmed.")
    assert_signed_in(ui, "alice", PASSWORD, "weak")


def test_sms_mfa_asks_a_wrong_code_again(
    start_ui: StartUI,
    setup_client: SetupClient,
    emulator: Emulator,
    mfa_pool: Provisioned,
    admin_idp: Any,
) -> None:
    signed_up(setup_client(mfa_pool), emulator, "mona", phone_number=PHONE)
    admin_idp.admin_set_user_mfa_preference(
        UserPoolId=mfa_pool.user_pool_id,
        Username="mona",
        SMSMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    ui = start_ui(mfa_pool.aws_configuration())
    ui.sign_in("mona")
    ui.expect("Code sent by SMS to +*******0123")
    code = emulator.last_code("mona", "sms_mfa")
    ui.answer("Code: ", wrong(code))
    ui.expect("Invalid verification code")
    ui.answer("Code: ", code)
    assert_signed_in(ui, "mona", PASSWORD)


def test_totp_set_up_then_totp_at_the_next_sign_in(
    start_ui: StartUI, setup_client: SetupClient, emulator: Emulator, clock: FakeClock
) -> None:
    pool = emulator.provision(mfa="ON", with_identity_pool=False, bucket=None)
    signed_up(setup_client(pool), emulator, "olga")
    ui = start_ui(pool.aws_configuration())
    ui.sign_in("olga")
    ui.expect("needs an authenticator app")
    key = ui.expect_re(r"Key: ([A-Z2-7]+)\r\n").group(1)
    uri = ui.expect_re(r"URI: (\S+)\r\n").group(1)
    assert uri == f"otpauth://totp/AWSCognito:olga?secret={key}&issuer=AWSCognito"
    # On a terminal, the URI is drawn as a QR code (in half blocks: the output is UTF-8).
    assert "\u2584" in ui.text or "\u2580" in ui.text
    totp = pyotp.TOTP(key)
    ui.answer("Code from your authenticator app: ", totp.at(clock.now))
    assert_signed_in(ui, "olga", PASSWORD)

    clock.advance(30)
    again = start_ui(pool.aws_configuration())
    again.sign_in("olga")
    again.expect("Enter the code your authenticator app shows")
    again.answer("Code from your authenticator app: ", wrong(totp.at(clock.now)))
    again.expect("Invalid code")
    again.answer("Code from your authenticator app: ", totp.at(clock.now))
    assert_signed_in(again, "olga", PASSWORD)
    assert "Key:" not in again.text


def test_select_mfa_type(
    start_ui: StartUI,
    setup_client: SetupClient,
    emulator: Emulator,
    mfa_pool: Provisioned,
    admin_idp: Any,
    clock: FakeClock,
) -> None:
    setup = setup_client(mfa_pool)
    signed_up(setup, emulator, "nico", phone_number=PHONE)
    setup.sign_in("nico", PASSWORD)
    access = setup.get_tokens().access_token
    secret = str(admin_idp.associate_software_token(AccessToken=access)["SecretCode"])
    admin_idp.verify_software_token(AccessToken=access, UserCode=pyotp.TOTP(secret).at(clock.now))
    admin_idp.set_user_mfa_preference(
        AccessToken=access,
        SMSMfaSettings={"Enabled": True, "PreferredMfa": False},
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": False},
    )
    setup.sign_out()

    ui = start_ui(mfa_pool.aws_configuration())
    ui.sign_in("nico")
    ui.expect("Choose how to receive your sign-in code.")
    ui.expect("1) Text message (SMS)")
    ui.expect("2) Authenticator app (TOTP)")
    ui.answer("MFA type [1]: ", "4")
    ui.expect("Type a number from 1 to 2.")
    ui.answer("MFA type [1]: ", "2")
    ui.answer("Code from your authenticator app: ", pyotp.TOTP(secret).at(clock.now))
    assert_signed_in(ui, "nico", PASSWORD)


def test_new_password_required_asks_a_weak_password_again(
    start_ui: StartUI,
    setup_client: SetupClient,
    emulator: Emulator,
    pool: Provisioned,
    admin_idp: Any,
) -> None:
    admin_idp.admin_create_user(
        UserPoolId=pool.user_pool_id,
        Username="kate",
        UserAttributes=[{"Name": "email", "Value": "kate@example.com"}],
    )
    temporary = emulator.last_code("kate", "temporary_password")
    ui = start_ui(pool.aws_configuration())
    ui.sign_in("kate", temporary)
    ui.expect("Choose a new password for your account.")
    ui.answer("New password: ", "weak")
    ui.expect("Password did not conform with policy")
    # The refused answer spent the service's challenge session: the UI signs in again with
    # the temporary password and gives the new one to the same question, without asking.
    ui.answer("New password: ", NEW_PASSWORD)
    assert_signed_in(ui, "kate", temporary, NEW_PASSWORD, "weak")
    assert ui.text.count("New password: ") == 2
    assert "Invalid session" not in ui.text
    assert setup_client(pool).sign_in("kate", NEW_PASSWORD).state is SignInState.DONE


def test_forgot_password(
    start_ui: StartUI, setup_client: SetupClient, emulator: Emulator, pool: Provisioned
) -> None:
    signed_up(setup_client(pool), emulator, "pete")
    ui = start_ui(pool.aws_configuration())
    ui.answer("Choose [1]: ", "3")
    ui.answer("Username: ", "pete")
    ui.expect("Code sent by email to p***@e***")
    code = emulator.last_code("pete", "forgot_password")
    ui.answer("Code: ", wrong(code))
    ui.answer("New password: ", NEW_PASSWORD)
    ui.expect("Invalid")
    # Only the code is asked again: the new password is kept.
    ui.answer("Code: ", code)
    ui.expect("Password changed.")
    assert_signed_in(ui, "pete", NEW_PASSWORD)
    assert ui.text.count("New password: ") == 1
    assert setup_client(pool).sign_in("pete", NEW_PASSWORD).state is SignInState.DONE


def test_a_wrong_password_is_one_line_then_the_user_name_again(
    start_ui: StartUI, setup_client: SetupClient, emulator: Emulator, pool: Provisioned
) -> None:
    signed_up(setup_client(pool), emulator, "quinn")
    ui = start_ui(pool.aws_configuration())
    ui.sign_in("quinn", "Wrong-Horse-9!")
    ui.expect("Incorrect username or password.\r\nUsername: ")
    ui.child.sendline("quinn")
    ui.answer("Password: ", PASSWORD)
    assert_signed_in(ui, "quinn", PASSWORD, "Wrong-Horse-9!")
    # USER_SRP_AUTH requires a password: no hint that it may be left empty.
    assert "Leave the password empty" not in ui.text


def test_a_user_not_confirmed_is_led_into_confirmation(
    start_ui: StartUI, setup_client: SetupClient, emulator: Emulator, pool: Provisioned
) -> None:
    setup_client(pool).sign_up("rita", PASSWORD, attributes={"email": "rita@example.com"})
    ui = start_ui(pool.aws_configuration())
    ui.sign_in("rita")
    ui.expect("User is not confirmed.")
    ui.answer("Code: ", emulator.last_code("rita", "sign_up"))
    ui.expect("Account confirmed.")
    # Signed in with the password typed before, not asked again.
    assert_signed_in(ui, "rita", PASSWORD)
    assert ui.text.count("Password: ") == 1


def test_ctrl_c_at_the_password_cancels_and_changes_nothing(
    start_ui: StartUI, pool: Provisioned
) -> None:
    ui = start_ui(pool.aws_configuration())
    ui.answer("Choose [1]: ", "")
    ui.answer("Username: ", "alice")
    ui.expect("Password: ")
    ui.child.send("secret-so-far")
    ui.child.sendintr()
    assert_cancelled(ui, "secret-so-far")


def test_ctrl_c_at_a_challenge_cancels_and_changes_nothing(
    start_ui: StartUI,
    setup_client: SetupClient,
    emulator: Emulator,
    mfa_pool: Provisioned,
    admin_idp: Any,
) -> None:
    signed_up(setup_client(mfa_pool), emulator, "mona", phone_number=PHONE)
    admin_idp.admin_set_user_mfa_preference(
        UserPoolId=mfa_pool.user_pool_id,
        Username="mona",
        SMSMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    ui = start_ui(mfa_pool.aws_configuration())
    ui.sign_in("mona")
    ui.expect("Code: ")
    ui.child.send("\x03")
    assert_cancelled(ui, PASSWORD)


def test_end_of_input_cancels(start_ui: StartUI, pool: Provisioned) -> None:
    ui = start_ui(pool.aws_configuration())
    ui.answer("Choose [1]: ", "1")
    ui.expect("Username: ")
    ui.child.sendeof()
    assert_cancelled(ui)


@pytest.mark.parametrize("stdin", ["devnull", "pipe"])
def test_without_a_terminal_it_is_refused_at_once(
    stdin: str, pool: Provisioned, tmp_path: Path
) -> None:
    done = run_without_terminal(
        pool.aws_configuration(),
        tmp_path,
        subprocess.DEVNULL,
        input_text=f"\nalice\n{PASSWORD}\n" if stdin == "pipe" else None,
    )
    assert done.returncode == 3, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("CANCELLED Sign-in cancelled: the input is not an interactive")
    assert [line.split()[0] for line in lines] == ["CANCELLED", "STATE", "USER"], "a prompt"
    assert PASSWORD not in done.stdout + done.stderr
    assert not list((tmp_path / "store").glob("session.*.bin"))


def test_a_challenge_the_ui_never_saw_is_asked_from_its_declaration(
    start_ui: StartUI,
    setup_client: SetupClient,
    emulator: Emulator,
    pool: Provisioned,
    pin_site: Path,
) -> None:
    """The third-party provider of tests/thirdparty adds a PIN challenge (secret, declared
    in the provider's own sign-in spec): the UI asks it without echo and asks a wrong PIN
    again."""
    hashed = hash_pin(pin_site, "2468")
    assert hashed
    signed_up(setup_client(pool), emulator, "sven", nickname=hashed)
    config = pool.aws_configuration()
    config["Auth"]["Default"]["Providers"] = {"user_pool": "userpool-pin"}
    ui = start_ui(config, extra_path=[str(pin_site)])
    ui.sign_in("sven")
    ui.expect("The user's PIN (set at sign-up)")
    ui.answer("PIN: ", "1357")
    ui.expect("Wrong PIN")
    ui.answer("PIN: ", "2468")
    assert_signed_in(ui, "sven", PASSWORD, "1357", "2468")
    assert re.search(r"PIN: \r\n", ui.text), "the PIN prompt is read without echo"
