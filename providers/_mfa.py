"""MFA management against Cognito: TOTP set-up outside sign-in, and the user's preferences.

``AssociateSoftwareToken`` / ``VerifySoftwareToken`` with the access token (the sign-in's own
MFA_SETUP uses the challenge session instead: ``_sign_in``), ``SetUserMFAPreference`` with one
settings member per MFA type, and ``GetUser``'s ``UserMFASettingList`` /
``PreferredMfaSetting``. The caller's names (``SMS``, ``TOTP``, ``EMAIL``) are translated
here, and only here, to Cognito's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fsm_auth._mfa import MFA_NAMES, MFAPreference, MFAPreferences
from fsm_auth.errors import CodeMismatchError, InvalidParameterError

__all__ = [
    "associate_software_token",
    "get_user_mfa_preference",
    "set_user_mfa_preference",
    "verify_software_token",
]

Call = Callable[..., Any]
"""The provider's ``_call(operation, params, *secrets)``."""

# The caller's MFA name -> (SetUserMFAPreference's member, GetUser's name for it).
_COGNITO = {
    "SMS": ("SMSMfaSettings", "SMS_MFA"),
    "TOTP": ("SoftwareTokenMfaSettings", "SOFTWARE_TOKEN_MFA"),
    "EMAIL": ("EmailMfaSettings", "EMAIL_OTP"),
}
_BY_COGNITO_NAME = {cognito: name for name, (_member, cognito) in _COGNITO.items()}

# What each preference asks of the service (Amplify's mapping: NOT_PREFERRED keeps the type on).
_SETTINGS: Mapping[MFAPreference, Mapping[str, bool]] = {
    MFAPreference.ENABLED: {"Enabled": True},
    MFAPreference.DISABLED: {"Enabled": False},
    MFAPreference.PREFERRED: {"Enabled": True, "PreferredMfa": True},
    MFAPreference.NOT_PREFERRED: {"Enabled": True, "PreferredMfa": False},
}


def associate_software_token(call: Call, access_token: str) -> str:
    """A new TOTP secret for the signed-in user (not active until verified)."""
    answer = call("associate_software_token", {"AccessToken": access_token}, access_token)
    secret = answer.get("SecretCode") if isinstance(answer, Mapping) else None
    if not isinstance(secret, str) or not secret:
        raise InvalidParameterError("The service answered AssociateSoftwareToken without a secret")
    return secret


def verify_software_token(
    call: Call, access_token: str, code: str, friendly_device_name: str | None
) -> None:
    """Confirm the secret with the first code the authenticator shows; a wrong code raises
    ``CodeMismatchError`` (Cognito: ``EnableSoftwareTokenMFAException``), and may be retried."""
    answer = call(
        "verify_software_token",
        {
            "AccessToken": access_token,
            "UserCode": code,
            "FriendlyDeviceName": friendly_device_name,
        },
        access_token,
        code,
    )
    status = answer.get("Status") if isinstance(answer, Mapping) else None
    if status not in (None, "SUCCESS"):
        raise CodeMismatchError("The code from the authenticator did not verify")


def set_user_mfa_preference(
    call: Call, access_token: str, preferences: Mapping[str, MFAPreference]
) -> None:
    """SetUserMFAPreference with a settings member for each MFA type named."""
    params: dict[str, Any] = {"AccessToken": access_token}
    for name, preference in preferences.items():
        member, _cognito = _COGNITO[name]
        params[member] = dict(_SETTINGS[preference])
    call("SetUserMFAPreference", params, access_token)  # the wire name: MFA in capitals


def get_user_mfa_preference(call: Call, access_token: str) -> MFAPreferences:
    """The MFA types on for the user and the preferred one, from GetUser."""
    answer = call("get_user", {"AccessToken": access_token}, access_token)
    if not isinstance(answer, Mapping):
        raise InvalidParameterError("The service's answer to GetUser is not an object")
    listed = answer.get("UserMFASettingList") or []
    if not isinstance(listed, list):
        raise InvalidParameterError("The service's UserMFASettingList is not a list")
    # A type the service lists that this library has no name for is left out, not guessed.
    enabled = {_BY_COGNITO_NAME[n] for n in listed if isinstance(n, str) and n in _BY_COGNITO_NAME}
    preferred_raw = answer.get("PreferredMfaSetting") or None
    preferred = _BY_COGNITO_NAME.get(preferred_raw) if isinstance(preferred_raw, str) else None
    ordered = frozenset(name for name in MFA_NAMES if name in enabled)
    return MFAPreferences(enabled=ordered, preferred=preferred)
