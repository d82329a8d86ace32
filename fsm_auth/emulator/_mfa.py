"""MFA as Cognito runs it beyond moto: what the pool offers (SMS, TOTP, e-mail), the user's
preferences (``SetUserMFAPreference`` with ``EmailMfaSettings`` too, ``GetUser``'s MFA fields),
and the second factor at sign-in: which challenge, ``SELECT_MFA_TYPE`` among several,
``MFA_SETUP`` offering TOTP and e-mail, and ``EMAIL_OTP`` (a code by e-mail, kind
``email_mfa``).

moto keeps SMS and TOTP on its user objects (``sms_mfa_enabled``, ``software_token_mfa_enabled``,
``preferred_mfa_setting``); e-mail MFA, which moto lacks, is kept beside them
(``email_mfa_enabled`` on the user, the offered types on the pool).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from . import _moto
from ._codes import mask
from ._errors import CognitoError

if TYPE_CHECKING:
    from ._auth import AuthFlows, _Session

__all__ = ["MFA_TYPES", "MFABook", "check_mfa_types", "configure_pool"]

MFA_TYPES = ("SMS", "TOTP", "EMAIL")
"""What ``provision(mfa_types=...)`` may name."""

# Cognito's name of each type in challenges, GetUser and SetUserMFAPreference's members.
_CHALLENGE = {"SMS": "SMS_MFA", "TOTP": "SOFTWARE_TOKEN_MFA", "EMAIL": "EMAIL_OTP"}
_SETTINGS = {
    "SMS": "SMSMfaSettings",
    "TOTP": "SoftwareTokenMfaSettings",
    "EMAIL": "EmailMfaSettings",
}
_POOL_ATTRIBUTE = "fsm_auth_mfa_types"
_POOL_EMAIL_CONFIG = "fsm_auth_email_mfa_configuration"
_USER_EMAIL_MFA = "email_mfa_enabled"
# What Cognito accepts as an e-mail address for MFA set-up (a plain shape check).
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Params = dict[str, Any]


def check_mfa_types(mfa_types: Iterable[str]) -> tuple[str, ...]:
    """``mfa_types`` as a tuple; ValueError naming what is not an MFA type."""
    if isinstance(mfa_types, str):
        raise ValueError(f"mfa_types must be a tuple of {', '.join(MFA_TYPES)}, not a string")
    types = tuple(mfa_types)
    unknown = [t for t in types if t not in MFA_TYPES]
    if unknown or not types:
        raise ValueError(
            f"mfa_types must name one or more of {', '.join(MFA_TYPES)}"
            + (f"; unknown: {', '.join(map(repr, unknown))}" if unknown else "")
        )
    return types


def configure_pool(pool: Any, mfa_types: Iterable[str], mode: str) -> None:
    """Offer ``mfa_types`` on ``pool`` (moto's SMS/TOTP configuration, and e-mail beside it)."""
    types = check_mfa_types(mfa_types)
    if mode != "OFF":
        sms: Any = None
        if "SMS" in types:
            sms = {"SmsAuthenticationMessage": "Your code is {####}", "SmsConfiguration": {}}
        _moto.idp().set_user_pool_mfa_config(pool.id, sms, {"Enabled": "TOTP" in types}, mode)
    setattr(pool, _POOL_ATTRIBUTE, frozenset(types))


def offered(pool: Any) -> frozenset[str]:
    """The MFA types ``pool`` offers (as provisioned, else as its MFA configuration says)."""
    types = getattr(pool, _POOL_ATTRIBUTE, None)
    if types is not None:
        return frozenset(types)
    derived = set()
    if pool.sms_mfa_config:
        derived.add("SMS")
    if (pool.token_mfa_config or {}).get("Enabled", True):
        derived.add("TOTP")
    return frozenset(derived)


def _email_enabled(user: Any) -> bool:
    return bool(getattr(user, _USER_EMAIL_MFA, False))


class MFABook:
    """The MFA side of the user-pool layer, next to :class:`~._auth.AuthFlows`."""

    def __init__(self, auth: AuthFlows) -> None:
        self.auth = auth
        # E-mail addresses given at MFA_SETUP, confirmed by the EMAIL_OTP code: (pool, user).
        self._pending_email: dict[tuple[str, str], str] = {}

    def handlers(self) -> dict[str, Callable[[Params], Params]]:
        """The operations this layer answers itself."""
        return {
            "SetUserMFAPreference": self.set_user_mfa_preference,
            "AdminSetUserMFAPreference": self.admin_set_user_mfa_preference,
        }

    # ---- what the user has on ----
    def enabled(self, pool: Any, user: Any) -> list[str]:
        """The user's MFA types that can be asked now, in Cognito's order (SMS, TOTP, EMAIL)."""
        types = offered(pool)
        on = []
        if "SMS" in types and user.sms_mfa_enabled and user.attribute_lookup.get("phone_number"):
            on.append("SMS")
        if (
            "TOTP" in types
            and user.software_token_mfa_enabled
            and (pool.id, user.username) in self.auth.totp
        ):
            on.append("TOTP")
        if "EMAIL" in types and _email_enabled(user) and user.attribute_lookup.get("email"):
            on.append("EMAIL")
        return on

    # ---- sign-in ----
    def second_factor(self, pool: Any, client: Any, user: Any) -> Params | None:
        """The MFA challenge after the password, or None when the user signs in without."""
        mode = pool.mfa_config or "OFF"
        if mode not in ("ON", "OPTIONAL"):
            return None
        on = self.enabled(pool, user)
        if not on:
            if mode == "OPTIONAL":
                return None
            types = offered(pool)
            if "SMS" in types and user.attribute_lookup.get("phone_number"):
                return self.auth._sms_challenge(pool, client, user)
            return self._setup(pool, client, user, types)
        if len(on) > 1:
            preferred = {v: k for k, v in _CHALLENGE.items()}.get(user.preferred_mfa_setting or "")
            if preferred in on:
                on = [preferred]
        if len(on) == 1:
            return self._challenge(on[0], pool, client, user)
        session = self.auth._new_session(pool.id, client.id, user.username, "SELECT_MFA_TYPE")
        return {
            "ChallengeName": "SELECT_MFA_TYPE",
            "Session": session.id,
            "ChallengeParameters": {
                "MFAS_CAN_CHOOSE": json.dumps([_CHALLENGE[t] for t in on], separators=(",", ":")),
                "USER_ID_FOR_SRP": user.username,
            },
        }

    def _setup(self, pool: Any, client: Any, user: Any, types: frozenset[str]) -> Params:
        can = [_CHALLENGE[t] for t in ("TOTP", "EMAIL") if t in types] or ["SMS_MFA"]
        session = self.auth._new_session(pool.id, client.id, user.username, "MFA_SETUP")
        return {
            "ChallengeName": "MFA_SETUP",
            "Session": session.id,
            "ChallengeParameters": {
                "MFAS_CAN_SETUP": json.dumps(can, separators=(",", ":")),
                "USER_ID_FOR_SRP": user.username,
            },
        }

    def _challenge(self, kind: str, pool: Any, client: Any, user: Any) -> Params:
        if kind == "SMS":
            answer: Params = self.auth._sms_challenge(pool, client, user)
        elif kind == "TOTP":
            answer = self.auth._totp_challenge(pool, client, user)
        else:
            answer = self.email_challenge(pool, client, user, user.attribute_lookup["email"])
        return answer

    def email_challenge(self, pool: Any, client: Any, user: Any, address: str) -> Params:
        """EMAIL_OTP: a code sent to ``address`` (kind ``email_mfa``)."""
        self.auth.codes.issue(pool.id, user.username, "email_mfa", address)
        session = self.auth._new_session(pool.id, client.id, user.username, "EMAIL_OTP")
        return {
            "ChallengeName": "EMAIL_OTP",
            "Session": session.id,
            "ChallengeParameters": {
                "CODE_DELIVERY_DELIVERY_MEDIUM": "EMAIL",
                "CODE_DELIVERY_DESTINATION": mask(address),
                "USER_ID_FOR_SRP": user.username,
            },
        }

    def respond(
        self,
        pool: Any,
        client: Any,
        user: Any,
        session: _Session,
        name: str,
        answers: dict[str, str],
    ) -> Params | None:
        """The answer to an MFA challenge this module owns; None for the others."""
        if name == "EMAIL_OTP":
            return self._email_code(pool, client, user, session, answers)
        if name == "SELECT_MFA_TYPE" and answers.get("ANSWER") == "EMAIL_OTP":
            if "EMAIL" not in self.enabled(pool, user):
                raise CognitoError("InvalidParameterException", "Invalid MFA type selected.")
            return self.email_challenge(pool, client, user, user.attribute_lookup["email"])
        if name == "MFA_SETUP" and "EMAIL" in answers:
            return self._email_setup(pool, client, user, session, answers["EMAIL"])
        return None

    def _email_setup(
        self, pool: Any, client: Any, user: Any, session: _Session, address: str
    ) -> Params:
        if "EMAIL" not in offered(pool):
            raise CognitoError(
                "InvalidParameterException", "Email MFA is not enabled for this user pool."
            )
        if not _EMAIL.match(address):
            # The same session may be answered again with a valid address.
            self.auth._restore(session)
            raise CognitoError("InvalidParameterException", "Invalid email address format.")
        self._pending_email[(pool.id, user.username)] = address
        return self.email_challenge(pool, client, user, address)

    def _email_code(
        self, pool: Any, client: Any, user: Any, session: _Session, answers: dict[str, str]
    ) -> Params:
        code = answers.get("EMAIL_OTP_CODE", "")
        self.auth._check_code(
            lambda: self.auth.codes.check(pool.id, user.username, "email_mfa", code), session
        )
        address = self._pending_email.pop((pool.id, user.username), None)
        if address is not None:
            # MFA_SETUP by e-mail: the address is the user's, verified by this code, and
            # e-mail MFA is on from now.
            user.update_attributes(
                [{"Name": "email", "Value": address}, {"Name": "email_verified", "Value": "true"}]
            )
            setattr(user, _USER_EMAIL_MFA, True)
        result: Params = self.auth._mfa_done(pool, client, user)
        return result

    # ---- SetUserMFAPreference / GetUser ----
    def set_user_mfa_preference(self, params: Params) -> Params:
        """SetUserMFAPreference for the access token's user (e-mail MFA included)."""
        pool, _client_id, user = self.auth.tokens.access_user(params.get("AccessToken"))
        self._apply(pool, user, params)
        return {}

    def admin_set_user_mfa_preference(self, params: Params) -> Params:
        """AdminSetUserMFAPreference: the same, for a user named by the administrator."""
        pool = _moto.pool_by_id(str(params.get("UserPoolId", "")))
        user = _moto.user_of(pool, str(params.get("Username", "")))
        self._apply(pool, user, params)
        return {}

    def _apply(self, pool: Any, user: Any, params: Params) -> None:
        asked: dict[str, tuple[bool | None, bool | None]] = {}
        for kind, member in _SETTINGS.items():
            settings = params.get(member)
            if settings is None:
                continue
            if not isinstance(settings, dict):
                raise CognitoError("InvalidParameterException", f"{member} must be an object.")
            flags = []
            for key in ("Enabled", "PreferredMfa"):
                value = settings.get(key)
                if value is not None and not isinstance(value, bool):
                    raise CognitoError(
                        "InvalidParameterException", f"{member}.{key} must be a boolean."
                    )
                flags.append(value)
            asked[kind] = (flags[0], flags[1])
        if sum(1 for _e, preferred in asked.values() if preferred) > 1:
            raise CognitoError(
                "InvalidParameterException", "Only one MFA method can be set as preferred."
            )
        # Check everything before changing anything: a refused request changes nothing.
        for kind, (enabled, preferred) in asked.items():
            if not (enabled or preferred):
                continue
            if kind == "TOTP" and (pool.id, user.username) not in self.auth.totp:
                raise CognitoError(
                    "InvalidParameterException", "User has not verified software token mfa"
                )
            if kind == "SMS" and not user.attribute_lookup.get("phone_number"):
                raise CognitoError(
                    "InvalidParameterException",
                    "User does not have delivery config set to turn on SMS_MFA",
                )
            if kind == "EMAIL":
                if "EMAIL" not in offered(pool):
                    raise CognitoError(
                        "InvalidParameterException",
                        "Email MFA is not enabled for this user pool.",
                    )
                if not user.attribute_lookup.get("email"):
                    raise CognitoError(
                        "InvalidParameterException",
                        "User does not have delivery config set to turn on EMAIL_OTP",
                    )
        for kind, (enabled, preferred) in asked.items():
            on = bool(enabled or preferred)
            if kind == "SMS":
                user.sms_mfa_enabled = on
            elif kind == "TOTP":
                user.software_token_mfa_enabled = on
            else:
                setattr(user, _USER_EMAIL_MFA, on)
            name = _CHALLENGE[kind]
            if preferred and on:
                user.preferred_mfa_setting = name
            elif user.preferred_mfa_setting == name and (preferred is False or not on):
                user.preferred_mfa_setting = ""

    AMENDS = frozenset({"GetUser", "SetUserPoolMfaConfig", "GetUserPoolMfaConfig"})
    """moto's answers this module amends (:meth:`amend`)."""

    def amend(self, operation: str, params: Params, answer: Params) -> Params:
        """moto's successful answer to one of :attr:`AMENDS`, as Cognito gives it."""
        if operation == "GetUser":
            return self.amend_get_user(params, answer)
        pool = _moto.pool_by_id(str(params.get("UserPoolId", "")))
        if operation == "SetUserPoolMfaConfig":
            # moto keeps SMS and TOTP; e-mail MFA (EmailMfaConfiguration) is kept here.
            types = set()
            if params.get("SmsMfaConfiguration"):
                types.add("SMS")
            if (params.get("SoftwareTokenMfaConfiguration") or {}).get("Enabled"):
                types.add("TOTP")
            email = params.get("EmailMfaConfiguration")
            if email:
                types.add("EMAIL")
                setattr(pool, _POOL_EMAIL_CONFIG, dict(email))
            setattr(pool, _POOL_ATTRIBUTE, frozenset(types))
        amended = dict(answer)
        if "EMAIL" in offered(pool):
            amended["EmailMfaConfiguration"] = getattr(pool, _POOL_EMAIL_CONFIG, {})
        return amended

    def amend_get_user(self, params: Params, answer: Params) -> Params:
        """GetUser's MFA fields as Cognito gives them: every type on (e-mail too), the
        preferred one, and neither member when there is nothing to say."""
        _pool, _client_id, user = self.auth.tokens.access_user(params.get("AccessToken"))
        listed = [
            _CHALLENGE[kind]
            for kind, on in (
                ("SMS", user.sms_mfa_enabled),
                ("TOTP", user.software_token_mfa_enabled),
                ("EMAIL", _email_enabled(user)),
            )
            if on
        ]
        amended = {
            k: v
            for k, v in answer.items()
            if k not in ("UserMFASettingList", "PreferredMfaSetting")
        }
        if listed:
            amended["UserMFASettingList"] = listed
        if user.preferred_mfa_setting:
            amended["PreferredMfaSetting"] = user.preferred_mfa_setting
        return amended
