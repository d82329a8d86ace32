"""MFA management values: a TOTP secret being set up, and the user's MFA preferences.

Names for the caller are ``"SMS"``, ``"TOTP"`` and ``"EMAIL"``; Cognito's names for the same
(``SMS_MFA``, ``SOFTWARE_TOKEN_MFA``, ``EMAIL_OTP``) stay inside the provider.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from urllib.parse import quote, urlencode

import attrs

from fsm_auth.errors import InvalidParameterError

__all__ = ["MFA_NAMES", "MFAPreference", "MFAPreferences", "TOTPSetup"]

MFA_NAMES = ("SMS", "TOTP", "EMAIL")
"""The MFA types a caller names, in the order they are listed."""


class MFAPreference(str, enum.Enum):
    """What ``update_mfa_preference`` does with one MFA type.

    ``ENABLED``: turn it on (keeping whichever type is preferred); ``DISABLED``: turn it off
    (and no longer prefer it); ``PREFERRED``: turn it on and make it the one asked at sign-in;
    ``NOT_PREFERRED``: keep it on, but no longer the preferred one.
    """

    ENABLED = "ENABLED"
    DISABLED = "DISABLED"
    PREFERRED = "PREFERRED"
    NOT_PREFERRED = "NOT_PREFERRED"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, value: object, name: str) -> MFAPreference:
        """``value`` as a member (a member or its value); ``InvalidParameterError`` naming
        the argument ``name`` otherwise."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value.upper())
            except ValueError:
                pass
        allowed = ", ".join(member.value for member in cls)
        raise InvalidParameterError(
            f"{name} must be an MFAPreference ({allowed}) or None, not {_shown(value)}"
        )


def _shown(value: object) -> str:
    """A short description of a bad argument: its type, and its text when that is short."""
    if isinstance(value, str) and len(value) <= 32 and value.isprintable():
        return repr(value)
    return type(value).__name__


def _mfa_names(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


@attrs.frozen
class MFAPreferences:
    """The signed-in user's MFA settings: the types turned on (``"SMS"``, ``"TOTP"``,
    ``"EMAIL"``) and the preferred one, asked at sign-in (``None``: none is preferred, and
    Cognito lets the user choose when several are on)."""

    enabled: frozenset[str] = attrs.field(converter=_mfa_names, factory=frozenset)
    preferred: str | None = None


@attrs.frozen(repr=False)
class TOTPSetup:
    """A TOTP secret issued for the signed-in user, to be entered in an authenticator app and
    confirmed with ``verify_totp_setup(code)``. The ``repr`` never shows the secret."""

    secret_code: str
    username: str | None = None

    def uri(self, issuer: str, account: str | None = None) -> str:
        """The ``otpauth://totp/<issuer>:<account>?secret=...&issuer=<issuer>`` URI an
        authenticator app reads (as a QR code); ``account`` defaults to the user name."""
        if not isinstance(issuer, str) or not issuer.strip():
            raise InvalidParameterError("issuer must be a non-empty string")
        name = account if account is not None else self.username
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameterError("account must be a non-empty string")
        # Google Authenticator's Key URI format (the one the terminal UI shows for MFA_SETUP).
        label = f"{quote(issuer, safe='')}:{quote(name, safe='@')}"
        query = urlencode({"secret": self.secret_code, "issuer": issuer}, quote_via=quote)
        return f"otpauth://totp/{label}?{query}"

    def __repr__(self) -> str:
        return f"TOTPSetup(secret_code=***, username={self.username!r})"

    __str__ = __repr__
