"""The terminal UI with e-mail MFA, rendered from the sign-in spec's declarations alone:
MFA_SETUP offering an authenticator app or e-mail (a menu, then the chosen type), and EMAIL_OTP
at the next sign-in (a real pseudo-terminal against the emulator)."""

from __future__ import annotations

from collections.abc import Callable

from fsm_auth import AuthClient
from fsm_auth.emulator import Emulator, Provisioned

from .conftest import PASSWORD, StartUI
from .test_terminal_sign_in import assert_signed_in, signed_up, wrong

SetupClient = Callable[[Provisioned], AuthClient]


def test_mfa_setup_by_email_then_email_codes_at_sign_in(
    start_ui: StartUI, setup_client: SetupClient, emulator: Emulator
) -> None:
    pool = emulator.provision(
        mfa="ON", mfa_types=("TOTP", "EMAIL"), with_identity_pool=False, bucket=None
    )
    signed_up(setup_client(pool), emulator, "emma")
    ui = start_ui(pool.aws_configuration())
    ui.sign_in("emma")
    ui.expect("choose one to set up")
    ui.expect("Authenticator app (TOTP)")
    ui.expect("Email")
    ui.answer("MFA to set up [1]: ", "2")
    ui.expect("sign-in codes by e-mail")
    ui.answer("E-mail address for sign-in codes: ", "emma.codes@example.com")
    ui.expect("Code: ")  # the code is sent by now
    code = emulator.last_code("emma", "email_mfa")
    ui.child.sendline(wrong(code))
    ui.answer("Code: ", code)
    assert_signed_in(ui, "emma", PASSWORD)

    again = start_ui(pool.aws_configuration())
    again.sign_in("emma")
    again.expect("Code: ")
    again.child.sendline(emulator.last_code("emma", "email_mfa"))
    assert_signed_in(again, "emma", PASSWORD)
    assert "MFA to set up" not in again.text
