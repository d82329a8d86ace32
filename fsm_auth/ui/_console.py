"""Line input and output on a terminal, with secret answers read without echo.

Prompts are written to the output stream and lines read from the input stream, in the
terminal's own line mode (its editing keys work, nothing is read ahead). A secret is read from
the same input stream with the terminal's echo turned off for that one line (``termios``, as
:func:`getpass.getpass` does, but on the stream the other answers come from rather than on
``/dev/tty``, so a test or an application that hands the UI a terminal of its own is asked on
it); where ``termios`` does not exist (Windows) :func:`getpass.getpass` reads the console.

End of input raises ``EOFError`` and Ctrl-C ``KeyboardInterrupt``, as :func:`input` does: what
cancelling means is the caller's decision. The terminal's settings are restored either way.
"""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

__all__ = ["Console"]


class Console:
    """A terminal to ask questions on: ``input_stream`` and ``output_stream`` default to
    standard input and output."""

    def __init__(self, input_stream: TextIO | None = None, output_stream: TextIO | None = None):
        # Read at call time, not import time: a program may replace sys.stdin before it asks.
        self._in = input_stream if input_stream is not None else sys.stdin
        self._out = output_stream if output_stream is not None else sys.stdout

    @property
    def interactive(self) -> bool:
        """True when the input is a terminal a person types at."""
        return _is_terminal(self._in)

    @property
    def output(self) -> TextIO:
        """The stream everything is written to."""
        return self._out

    @property
    def output_is_terminal(self) -> bool:
        """True when the output is a terminal (block graphics such as a QR code show)."""
        return _is_terminal(self._out)

    def say(self, text: str = "") -> None:
        """Write one line."""
        self._write(text + "\n")

    def ask(self, label: str, *, default: str | None = None) -> str:
        """Ask for ``label`` (``"Username: "``, ``"Choose [1]: "`` with a default); the answer
        without surrounding blanks, or ``default`` (else ``""``) for an empty line."""
        self._write(f"{label} [{default}]: " if default else f"{label}: ")
        answer = self._read_line().strip()
        return answer or (default or "")

    def ask_secret(self, label: str) -> str:
        """Ask for ``label`` without echoing what is typed; the line as typed (blanks kept:
        they may be part of a password)."""
        return self._read_hidden(f"{label}: ")

    # -- the streams ------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def _read_line(self) -> str:
        line = self._in.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    def _read_hidden(self, prompt: str) -> str:
        fd = _fileno(self._in)
        try:
            import termios
        except ImportError:
            termios = None  # type: ignore[assignment]
        if fd is None or termios is None:
            return getpass.getpass(prompt, stream=self._out)
        saved = termios.tcgetattr(fd)
        quiet = list(saved)
        quiet[3] &= ~termios.ECHO  # lflag: no echo; line mode and Ctrl-C stay on
        # Echo goes off before the prompt shows: whoever answers the prompt is never echoed.
        # TCSAFLUSH drops what was typed ahead while echo was still on, as getpass does.
        termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
        try:
            self._write(prompt)
            return self._read_line()
        finally:
            termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
            self._write("\n")  # the Enter that ended the line was not echoed either


def _fileno(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _is_terminal(stream: TextIO | None) -> bool:
    if stream is None:  # sys.stdin is None under pythonw and some service managers
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):  # a closed or detached stream
        return False
