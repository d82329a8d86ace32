"""PIN hashes: PBKDF2-HMAC-SHA256 with a random salt, compared in constant time.

Stored as ``pbkdf2_sha256$<iterations>$<salt, base64>$<hash, base64>``, in a user attribute
(see :data:`fsm_auth_pin.PIN_ATTRIBUTE`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

__all__ = ["ITERATIONS", "PinFormatError", "hash_pin", "is_pin_hash", "pin_matches"]

ITERATIONS = 200_000
"""PBKDF2 iterations for new hashes."""

_SCHEME = "pbkdf2_sha256"
# A stored hash names its own iteration count; a crafted attribute must not make a check take
# minutes (or be trivially cheap).
_MIN_ITERATIONS, _MAX_ITERATIONS = 10_000, 2_000_000
_SALT_BYTES = 16
_MIN_DIGITS, _MAX_DIGITS = 4, 12


class PinFormatError(ValueError):
    """A PIN or a stored PIN hash that is not in the expected form."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(pin: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations)


def hash_pin(pin: str, *, iterations: int = ITERATIONS) -> str:
    """The value to store for ``pin`` (4 to 12 digits) in the PIN attribute."""
    if not (pin.isascii() and pin.isdigit() and _MIN_DIGITS <= len(pin) <= _MAX_DIGITS):
        raise PinFormatError(f"A PIN is {_MIN_DIGITS} to {_MAX_DIGITS} digits")
    if not _MIN_ITERATIONS <= iterations <= _MAX_ITERATIONS:
        raise PinFormatError("iterations out of range")
    salt = os.urandom(_SALT_BYTES)
    return f"{_SCHEME}${iterations}${_b64(salt)}${_b64(_derive(pin, salt, iterations))}"


def is_pin_hash(stored: str) -> bool:
    """Whether ``stored`` is a value :func:`hash_pin` makes (not, say, a PIN in clear)."""
    try:
        _parse(stored)
    except PinFormatError:
        return False
    return True


def pin_matches(pin: str, stored: str) -> bool:
    """Whether ``pin`` is the PIN ``stored`` was made from; ``PinFormatError`` when ``stored``
    is not a PIN hash."""
    iterations, salt, expected = _parse(stored)
    # Hash whatever was typed (even a malformed answer): the check takes the same time.
    return hmac.compare_digest(_derive(pin, salt, iterations), expected)


def _parse(stored: str) -> tuple[int, bytes, bytes]:
    try:
        scheme, rounds, salt_text, digest_text = stored.split("$")
        iterations = int(rounds)
        salt = base64.b64decode(salt_text, validate=True)
        expected = base64.b64decode(digest_text, validate=True)
    except (ValueError, TypeError):
        raise PinFormatError("The stored PIN is not a PIN hash") from None
    if scheme != _SCHEME or not _MIN_ITERATIONS <= iterations <= _MAX_ITERATIONS:
        raise PinFormatError("The stored PIN is not a PIN hash")
    if not salt or len(expected) != hashlib.sha256().digest_size:
        raise PinFormatError("The stored PIN is not a PIN hash")
    return iterations, salt, expected
