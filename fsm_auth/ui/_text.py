"""What the terminal UI says about the service's answers: where a code went, what went wrong,
what an attribute is called, all of it safe to print.

Everything the service or a user sends is text the UI did not write; before it reaches the
terminal its control characters are removed (an escape sequence in a challenge parameter or an
error message must not move the cursor, retitle the window or hide a line).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fsm_auth.errors import AuthError, redact

if TYPE_CHECKING:
    from fsm_auth.values import CodeDeliveryDetails

__all__ = ["attribute_label", "delivery_line", "error_line", "printable"]

# C0 and C1 controls (ESC and CSI among them), DEL, and the bidirectional overrides that can
# make a line read differently from what it holds.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BLANKS = re.compile(r"[\t\n\r\v\f]+")

_MEDIA = {"SMS": "by SMS", "EMAIL": "by email"}


def printable(text: str) -> str:
    """``text`` on one line, without control characters."""
    return _CONTROL.sub("", _BLANKS.sub(" ", text))


def delivery_line(details: CodeDeliveryDetails | None) -> str | None:
    """``"Code sent by SMS to +*******1234"``; ``None`` when the service said nothing about
    where a code went."""
    if details is None:
        return None
    parts = ["Code sent"]
    medium = details.delivery_medium
    if medium:
        parts.append(_MEDIA.get(medium.upper(), f"by {printable(medium)}"))
    if details.destination:
        parts.append(f"to {printable(details.destination)}")
    return " ".join(parts)


def error_line(error: AuthError, *secrets: str | None) -> str:
    """One line saying what went wrong: the service's message (already scrubbed of tokens),
    with ``secrets`` (what the user typed) scrubbed again, or the error's own description."""
    text = error.message or (type(error).__doc__ or type(error).__name__).strip().split("\n")[0]
    return printable(redact(text, *secrets)).strip()


def attribute_label(name: str) -> str:
    """A user attribute's name as a prompt: ``given_name`` -> ``Given name``,
    ``custom:team`` -> ``Team``."""
    words = name.removeprefix("custom:").replace("_", " ").strip()
    return printable(words[:1].upper() + words[1:]) if words else printable(name)
