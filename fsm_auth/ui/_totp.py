"""Setting up an authenticator app: the TOTP key, its ``otpauth://`` URI, and the URI as a QR
code drawn in the terminal.

The QR code is drawn with segno (pure Python, no dependencies), imported only when a key is
shown on a terminal. It is always a full QR code (authenticator apps do not read Micro QR),
drawn in half-block characters where the output's encoding has them, else in the ANSI colours
segno falls back to.
"""

from __future__ import annotations

from typing import TextIO
from urllib.parse import quote, urlencode

from ._console import Console
from ._text import printable

__all__ = ["DEFAULT_ISSUER", "otpauth_uri", "show_totp_setup"]

DEFAULT_ISSUER = "AWSCognito"
"""The issuer an authenticator app lists the account under (Amplify's Authenticator default)."""

_HALF_BLOCKS = "\u2588\u2580\u2584"  # what segno's compact drawing is made of


def otpauth_uri(secret: str, account: str, issuer: str = DEFAULT_ISSUER) -> str:
    """The Key URI an authenticator app reads: ``otpauth://totp/<issuer>:<account>?secret=
    <secret>&issuer=<issuer>`` (each part percent-encoded)."""
    label = f"{quote(issuer, safe='')}:{quote(account, safe='@')}"
    query = urlencode({"secret": secret, "issuer": issuer}, quote_via=quote)
    return f"otpauth://totp/{label}?{query}"


def show_totp_setup(console: Console, secret: str, *, account: str, issuer: str) -> None:
    """Show the key to enter in an authenticator app, its URI, and (on a terminal) the QR
    code of the URI. The key is the one secret the UI prints: the user must copy it."""
    uri = otpauth_uri(secret, account, issuer)
    console.say("Scan this QR code with an authenticator app, or enter the key in it by hand.")
    if console.output_is_terminal:
        _draw_qr(uri, console.output)
    console.say(f"Key: {printable(secret)}")
    console.say(f"URI: {printable(uri)}")


def _draw_qr(uri: str, out: TextIO) -> None:
    import segno

    code = segno.make(uri, micro=False)
    code.terminal(out=out, compact=_can_encode(out, _HALF_BLOCKS))
    out.flush()


def _can_encode(out: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(out, "encoding", None) or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True
