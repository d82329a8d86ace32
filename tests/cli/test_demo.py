"""``fsm-auth demo`` and ``python -m fsm_auth``, run as a user runs them."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(180)


def test_demo_runs_the_whole_life_of_a_user() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fsm_auth", "demo"],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    # Every step, in order, with the state changes the listener printed.
    steps = [
        "[user state] -> signedOut",
        "[user state] -> guest",
        "confirmed",
        "[user state] -> signedIn",
        "sign-in state DONE",
        "verified id token",
        "put s3://",
        "1 refresh request(s)",
        "S3 still works",
        "raises NetworkError",
        "user state unchanged: signedIn",
        "initialize() -> signedIn as demo-user",
        "tokens served offline",
        "final state guest",
        # The hosted UI: the emulator's sign-in page filled in by HostedUIBrowser, then a
        # sign-out that revokes at /oauth2/revoke and ends the browser's session at /logout.
        "10. show_sign_in(hosted_ui=...)",
        "[user state] -> signedIn {'username': 'demo-user'}",
        "signed in as demo-user through the emulator's hosted UI sign-in page, driven "
        "headlessly (no browser needed)",
        "the client opened /oauth2/authorize, received the redirect on http://127.0.0.1:",
        "exchanged the code at /oauth2/token",
        "[user state] -> guest",
        "sign_out() -> SignOutResult(complete=True)",
        "1 revocation at /oauth2/revoke; the browser's hosted-UI session ended at /logout "
        "(1 visit)",
        "final state guest",
        # Passwordless: a second user signs up with no password and auto_sign_in=True, is
        # signed in by confirm_sign_up, then signs in again with a one-time e-mail code.
        "11. Passwordless: sign_up('demo-otp-user') with no password and auto_sign_in=True",
        "confirmed=False; code sent by EMAIL to o***@e***",
        "[user state] -> signedIn {'username': 'demo-otp-user'}",
        "confirm_sign_up() -> signed_in=True, without a sign_in() call",
        "[user state] -> guest",
        "sign_out() -> SignOutResult(complete=True)",
        "sign_in(auth_flow='USER_AUTH', preferred_challenge='EMAIL_OTP') -> EMAIL_OTP",
        "one-time code sent by EMAIL to o***@e***",
        "[user state] -> signedIn {'username': 'demo-otp-user'}",
        "confirm_sign_in(the e-mailed code) -> sign-in state DONE",
        "[user state] -> guest",
        "sign_out() -> SignOutResult(complete=True)",
        "final state guest",
        "Demo finished.",
    ]
    position = 0
    for step in steps:
        found = out.find(step, position)
        assert found >= 0, f"missing or out of order: {step!r}\n{out}"
        position = found
    # The demo prints claims and masked values, never a token, a secret key, the password or
    # the hosted UI's authorization code, state or nonce (only the paths of its URLs).
    assert "eyJ" not in out
    assert "SecretAccessKey" not in out
    assert "Demo-Passw0rd!" not in out
    assert "code=" not in out
    assert "state=" not in out
    assert "nonce=" not in out


def test_demo_never_prints_a_code_the_emulator_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The codes themselves are known only in-process: the emulator's record of what it sent
    (the sign-up codes and the one-time e-mail code), none of which the output may hold."""
    from fsm_auth import emulator as emulator_module
    from fsm_auth.demo import run_demo

    started: list[emulator_module.Emulator] = []

    class RecordedEmulator(emulator_module.Emulator):
        def __enter__(self) -> RecordedEmulator:
            started.append(self)
            super().__enter__()
            return self

    monkeypatch.setattr(emulator_module, "Emulator", RecordedEmulator)
    out = io.StringIO()
    assert run_demo(out) == 0
    text = out.getvalue()
    assert "11. Passwordless" in text
    assert "Demo finished." in text
    (emulator,) = started
    sent = [(code.username, code.kind) for code in emulator.codes]
    # Not vacuous: a code for each sign-up and the e-mail code of the passwordless sign-in.
    assert sent == [
        ("demo-user", "sign_up"),
        ("demo-otp-user", "sign_up"),
        ("demo-otp-user", "email_otp"),
    ], sent
    for code in emulator.codes:
        assert len(code.code) >= 6
        assert code.code not in text, f"the {code.kind} code of {code.username} was printed"


def test_cli_reports_an_unknown_spec_cleanly() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fsm_auth", "diagram", "no_such_spec"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "no_such_spec" in done.stderr
    assert "Traceback" not in done.stderr
