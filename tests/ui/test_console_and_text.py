"""The terminal UI's pieces: the console on a real pseudo-terminal (in this process), what it
says about deliveries and errors, the TOTP key's URI and QR code, and what importing costs."""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import pytest

from fsm_auth.errors import CodeMismatchError, NotAuthorizedError, SignInCancelledError
from fsm_auth.ui import TerminalSignIn
from fsm_auth.ui._console import Console
from fsm_auth.ui._text import attribute_label, delivery_line, error_line, printable
from fsm_auth.ui._totp import otpauth_uri, show_totp_setup
from fsm_auth.values import CodeDeliveryDetails

from .conftest import child_env
from .scripted import FakeClient, shipped_table

termios = pytest.importorskip("termios")

# -- the console on a pseudo-terminal -----------------------------------------------------------


class Pty:
    """A pseudo-terminal: this side types and reads the screen; the UI gets the other end."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.input: TextIO = open(os.dup(self.slave), encoding="utf-8")  # noqa: SIM115
        self.output: TextIO = open(os.dup(self.slave), "w", encoding="utf-8")  # noqa: SIM115
        self.screen = ""

    def read_until(self, text: str, timeout: float = 10.0) -> str:
        while text not in self.screen:
            ready, _, _ = select.select([self.master], [], [], timeout)
            assert ready, f"{text!r} never showed; the screen: {self.screen!r}"
            self.screen += os.read(self.master, 4096).decode("utf-8", "replace")
        return self.screen

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        self.input.close()
        self.output.close()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def pty() -> Iterator[Pty]:
    terminal = Pty()
    yield terminal
    terminal.close()


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def test_a_secret_is_read_without_echo_and_the_echo_comes_back(pty: Pty) -> None:
    console = Console(pty.input, pty.output)
    assert console.interactive
    assert console.output_is_terminal
    thread, outcome = in_thread(lambda: (console.ask("Username"), console.ask_secret("Password")))
    pty.read_until("Username: ")
    pty.type(b"ann\n")
    pty.read_until("Password: ")
    pty.type(b" hunter 22 \n")
    thread.join(10)
    assert outcome == {"value": ("ann", " hunter 22 ")}  # a secret's blanks are kept
    screen = pty.read_until("Password: \r\n")
    assert "ann" in screen  # an ordinary answer is echoed
    assert "hunter" not in screen
    assert termios.tcgetattr(pty.slave)[3] & termios.ECHO, "echo was not turned back on"


def test_end_of_input_on_a_terminal_cancels_the_sign_in(pty: Pty) -> None:
    client = FakeClient()
    ui = TerminalSignIn(client, shipped_table(), input_stream=pty.input, output_stream=pty.output)
    thread, outcome = in_thread(ui.run)
    pty.read_until("Choose [1]: ")
    pty.type(b"\x04")  # Ctrl-D at the start of a line
    thread.join(10)
    assert isinstance(outcome.get("error"), SignInCancelledError)
    assert str(outcome["error"]) == "Sign-in cancelled"
    assert client.calls == []


def test_a_console_that_is_not_a_terminal() -> None:
    assert not Console(io.StringIO(), io.StringIO()).interactive
    closed = io.StringIO()
    closed.close()
    assert not Console(closed, io.StringIO()).interactive
    assert not Console(io.StringIO(), io.StringIO()).output_is_terminal


# -- what the UI says ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("details", "line"),
    [
        (None, None),
        (CodeDeliveryDetails("+*******1234", "SMS"), "Code sent by SMS to +*******1234"),
        (CodeDeliveryDetails("a***@e***", "EMAIL", "email"), "Code sent by email to a***@e***"),
        (CodeDeliveryDetails("a***@e***", None), "Code sent to a***@e***"),
        (CodeDeliveryDetails(None, "PIGEON"), "Code sent by PIGEON"),
        (CodeDeliveryDetails("\x1b[2J+*1234\n", "SMS"), "Code sent by SMS to [2J+*1234 "),
        (CodeDeliveryDetails(), "Code sent"),
    ],
)
def test_delivery_line(details: CodeDeliveryDetails | None, line: str | None) -> None:
    assert delivery_line(details) == line


def test_an_error_line_never_holds_what_the_user_typed() -> None:
    error = NotAuthorizedError("Password Hunter-2-Secret! is wrong\nsee logs")
    assert error_line(error, "Hunter-2-Secret!") == "Password [redacted] is wrong see logs"
    # No message: the error's own description.
    assert error_line(CodeMismatchError("")) == "The confirmation or MFA code is wrong."


def test_printable_removes_what_could_drive_the_terminal() -> None:
    assert printable("a\x1b]0;title\x07b\u202ec\x9bd\te") == "a]0;titlebcd e"


@pytest.mark.parametrize(
    ("name", "label"),
    [("name", "Name"), ("given_name", "Given name"), ("custom:team_id", "Team id"), ("", "")],
)
def test_attribute_label(name: str, label: str) -> None:
    assert attribute_label(name) == label


# -- the TOTP key ------------------------------------------------------------------------------


def test_otpauth_uri_encodes_each_part() -> None:
    assert otpauth_uri("JBSWY3DP", "ann smith@example.com", "My App") == (
        "otpauth://totp/My%20App:ann%20smith@example.com?secret=JBSWY3DP&issuer=My%20App"
    )


class _ScreenConsole(Console):
    """A console whose output stands for a terminal of some encoding."""

    def __init__(self, output: TextIO, *, terminal: bool) -> None:
        super().__init__(io.StringIO(), output)
        self._terminal = terminal

    @property
    def output_is_terminal(self) -> bool:
        return self._terminal


def _shown(encoding: str, *, terminal: bool) -> str:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding=encoding, write_through=True)
    show_totp_setup(
        _ScreenConsole(out, terminal=terminal), "JBSWY3DPEHPK3PXP", account="ann", issuer="X"
    )
    out.flush()
    return raw.getvalue().decode(encoding)


def test_the_qr_code_in_half_blocks_on_a_utf8_terminal() -> None:
    shown = _shown("utf-8", terminal=True)
    assert "\u2584" in shown
    assert "Key: JBSWY3DPEHPK3PXP\n" in shown
    assert "URI: otpauth://totp/X:ann?secret=JBSWY3DPEHPK3PXP&issuer=X\n" in shown


def test_the_qr_code_in_colours_where_half_blocks_cannot_be_written() -> None:
    shown = _shown("ascii", terminal=True)
    assert "\x1b[" in shown  # segno's ANSI drawing
    assert "Key: JBSWY3DPEHPK3PXP\n" in shown


def test_no_qr_code_when_the_output_is_not_a_terminal() -> None:
    shown = _shown("utf-8", terminal=False)
    assert "\u2584" not in shown
    assert "\x1b" not in shown
    assert "Key: JBSWY3DPEHPK3PXP\n" in shown


# -- import cost --------------------------------------------------------------------------------


def test_nothing_of_the_ui_is_imported_until_it_is_used() -> None:
    code = (
        "import sys, fsm_auth, fsm_auth.client; from fsm_auth import AuthClient; "
        "print(sorted(m for m in sys.modules if m.startswith(('fsm_auth.ui', 'segno')))); "
        "import fsm_auth.ui; print('segno' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
        check=True,
    )
    assert done.stdout.split("\n")[:2] == ["[]", "False"], done.stdout + done.stderr
