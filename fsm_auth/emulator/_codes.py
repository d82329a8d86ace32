"""Confirmation codes: issued as the real service would send them, checked, expired."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable

import attrs

from ._errors import CognitoError
from ._records import CodeKind, SentCode

# How long a code stays valid, as Cognito documents it.
CODE_LIFETIME: dict[str, float] = {
    "sign_up": 24 * 3600.0,
    "attribute": 24 * 3600.0,
    "forgot_password": 3600.0,
    "sms_mfa": 180.0,
    "email_mfa": 180.0,
    "custom_challenge": 180.0,
    "temporary_password": 7 * 24 * 3600.0,
    # Passwordless sign-in's one-time codes (USER_AUTH's EMAIL_OTP / SMS_OTP first factors).
    "email_otp": 180.0,
    "sms_otp": 180.0,
}
# How many digits a code has: Cognito's passwordless codes have 8, every other code 6.
CODE_DIGITS: dict[str, int] = {"email_otp": 8, "sms_otp": 8}


def new_code(digits: int = 6) -> str:
    """A code of ``digits`` decimal digits (6 unless told)."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def mask(destination: str) -> str:
    """The masked form Cognito shows in ``CodeDeliveryDetails.Destination``."""
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:1]}***@{domain[:1]}***"
    if len(destination) > 4:
        prefix = "+" if destination.startswith("+") else ""
        return prefix + "*" * (len(destination) - 4 - len(prefix)) + destination[-4:]
    return "***"


def delivery_details(destination: str, attribute: str) -> dict[str, str]:
    """A ``CodeDeliveryDetails`` document for ``destination``."""
    medium = "SMS" if attribute == "phone_number" else "EMAIL"
    return {"Destination": mask(destination), "DeliveryMedium": medium, "AttributeName": attribute}


@attrs.frozen
class _Issued:
    code: str = attrs.field(repr=False)
    expires_at: float


class CodeBook:
    """Issued codes by (pool, user, kind, attribute); issuing again replaces the old code."""

    def __init__(self, clock: Callable[[], float], record: Callable[[SentCode], None]) -> None:
        self._clock = clock
        self._record = record
        self._lock = threading.Lock()
        self._codes: dict[tuple[str, str, str, str | None], _Issued] = {}

    def issue(
        self,
        pool_id: str,
        username: str,
        kind: CodeKind,
        destination: str,
        attribute: str | None = None,
        code: str | None = None,
    ) -> str:
        """Issue (and record as sent) a code; returns it."""
        value = code if code is not None else new_code(CODE_DIGITS.get(kind, 6))
        expires = self._clock() + CODE_LIFETIME[kind]
        with self._lock:
            self._codes[(pool_id, username, kind, attribute)] = _Issued(value, expires)
        self._record(SentCode(username, kind, value, destination, attribute, pool_id))
        return value

    def check(
        self, pool_id: str, username: str, kind: CodeKind, code: str, attribute: str | None = None
    ) -> None:
        """Accept and consume ``code``, or raise CodeMismatch/ExpiredCode as Cognito does."""
        key = (pool_id, username, kind, attribute)
        with self._lock:
            issued = self._codes.get(key)
            if issued is None or not secrets.compare_digest(issued.code, code or ""):
                raise CognitoError(
                    "CodeMismatchException", "Invalid verification code provided, please try again."
                )
            if self._clock() > issued.expires_at:
                del self._codes[key]
                raise CognitoError(
                    "ExpiredCodeException", "Invalid code provided, please request a code again."
                )
            del self._codes[key]

    def forget_user(self, pool_id: str, username: str) -> None:
        """Drop every code of a deleted user."""
        with self._lock:
            for key in [k for k in self._codes if k[0] == pool_id and k[1] == username]:
                del self._codes[key]
