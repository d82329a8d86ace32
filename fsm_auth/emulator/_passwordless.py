"""Choice-based sign-in (``AuthFlow=USER_AUTH``) as Cognito runs it, passwordless included.

A pool offers it through ``Policies.SignInPolicy.AllowedFirstAuthFactors`` (``PASSWORD``,
required, and the one-time-code factors ``EMAIL_OTP`` and ``SMS_OTP``), an app client through
``ALLOW_USER_AUTH``. A user's *available challenges* are the pool's first factors that the
user can answer, in this order: ``PASSWORD_SRP`` and ``PASSWORD`` (the user has a password),
``EMAIL_OTP`` (a verified ``email``), ``SMS_OTP`` (a verified ``phone_number``).

- ``InitiateAuth`` with ``PREFERRED_CHALLENGE`` among them starts that factor at once; without
  one (or with one the user cannot answer) the answer is ``SELECT_CHALLENGE`` listing them in
  ``AvailableChallenges``, answered with ``ANSWER`` (and ``PASSWORD`` / ``SRP_A``);
- ``PASSWORD`` and ``PASSWORD_SRP`` continue as a password sign-in does (``_auth``'s
  ``_after_password``: unconfirmed user, new password, MFA, remembered devices);
- ``EMAIL_OTP`` / ``SMS_OTP`` send an 8-digit code (kinds ``email_otp`` / ``sms_otp``) and
  sign in on ``EMAIL_OTP_CODE`` / ``SMS_OTP_CODE``, without MFA. Their sessions are marked
  ``first_factor``: e-mail MFA (``_mfa``) uses the name ``EMAIL_OTP`` too;
- ``SignUp`` answers a sign-up ``Session`` when the app client allows ``USER_AUTH``, and may
  leave out the password when the pool has an OTP factor; ``ConfirmSignUp`` checks the
  sign-up session it is given and answers a session that ``InitiateAuth`` (``USER_AUTH``,
  request member ``Session``) turns into tokens once, without another factor.

Sign-up sessions live in ``AuthFlows``' session table under kinds that are not challenges
(:data:`SESSION_KINDS`); ``RespondToAuthChallenge`` refuses them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import _devices
from ._codes import mask
from ._errors import CognitoError, not_authorized

if TYPE_CHECKING:
    from ._auth import AuthFlows, _Session

__all__ = [
    "FIRST_FACTORS",
    "SESSION_KINDS",
    "Passwordless",
    "allows_passwordless",
    "allows_user_auth",
    "check_first_factors",
    "first_factors",
    "sign_in_policy",
]

Params = dict[str, Any]

FIRST_FACTORS = ("PASSWORD", "EMAIL_OTP", "SMS_OTP")
"""What ``provision(first_factors=...)`` may name (Cognito's ``WEB_AUTHN`` is not emulated)."""

# Every challenge name PREFERRED_CHALLENGE may hold, and the order AvailableChallenges lists.
_PREFERABLE = frozenset({"PASSWORD", "PASSWORD_SRP", "EMAIL_OTP", "SMS_OTP", "WEB_AUTHN"})
_ORDER = ("PASSWORD_SRP", "PASSWORD", "EMAIL_OTP", "SMS_OTP")
# A one-time-code factor: the attribute it goes to, its code kind, medium, and answer key.
_OTP: dict[str, tuple[str, Any, str, str]] = {
    "EMAIL_OTP": ("email", "email_otp", "EMAIL", "EMAIL_OTP_CODE"),
    "SMS_OTP": ("phone_number", "sms_otp", "SMS", "SMS_OTP_CODE"),
}
_WRONG_PASSWORD = "Incorrect username or password."
_INVALID_SESSION = "Invalid session for the user."
# Session kinds that are not challenges: SignUp's session, and ConfirmSignUp's (sign-in once).
SIGN_UP = "SIGN_UP"
SIGNED_UP = "SIGN_IN_AFTER_SIGN_UP"
SESSION_KINDS = frozenset({SIGN_UP, SIGNED_UP})
"""Session kinds in the challenge-session table that no challenge answer may use."""


def check_first_factors(first_factors: Iterable[str] | None, mfa: str) -> tuple[str, ...] | None:
    """``first_factors`` as a tuple (None stays None); ValueError naming what Cognito refuses."""
    if first_factors is None:
        return None
    if isinstance(first_factors, str):
        raise ValueError(
            f"first_factors must be a tuple of {', '.join(FIRST_FACTORS)}, not a string"
        )
    factors = tuple(first_factors)
    if "WEB_AUTHN" in factors:
        raise ValueError("first_factors: WEB_AUTHN cannot be used, passkeys are not emulated")
    unknown = [f for f in factors if f not in FIRST_FACTORS]
    if unknown:
        raise ValueError(
            f"first_factors may name only {', '.join(FIRST_FACTORS)}; unknown: "
            + ", ".join(map(repr, unknown))
        )
    if len(set(factors)) != len(factors):
        raise ValueError(f"first_factors names a factor twice: {factors}")
    if "PASSWORD" not in factors:
        raise ValueError(
            "first_factors must include PASSWORD (Cognito requires password sign-in among "
            "the first factors)"
        )
    otp = [f for f in factors if f in _OTP]
    if otp and mfa == "ON":
        raise ValueError(
            f"first_factors {', '.join(otp)} need mfa OFF or OPTIONAL: Cognito refuses "
            "passwordless sign-in options when MFA is required"
        )
    return factors


def sign_in_policy(factors: tuple[str, ...]) -> dict[str, list[str]]:
    """The pool's ``Policies.SignInPolicy`` for ``factors``."""
    return {"AllowedFirstAuthFactors": list(factors)}


def first_factors(pool: Any) -> tuple[str, ...]:
    """The pool's first factors (Cognito's default when it sets none: the password only)."""
    policy = (pool.extended_config.get("Policies") or {}).get("SignInPolicy") or {}
    return tuple(policy.get("AllowedFirstAuthFactors") or ("PASSWORD",))


def allows_passwordless(pool: Any) -> bool:
    """Whether users of ``pool`` may sign in (and so sign up) without a password."""
    return any(f in _OTP for f in first_factors(pool))


def allows_user_auth(client: Any) -> bool:
    """Whether the app client allows ``USER_AUTH`` (a client naming no flows does not)."""
    return "ALLOW_USER_AUTH" in (client.extended_config.get("ExplicitAuthFlows") or ())


def _status(user: Any) -> str:
    return str(getattr(user.status, "value", user.status))


class Passwordless:
    """The ``USER_AUTH`` side of the user-pool layer, next to :class:`~._auth.AuthFlows`."""

    def __init__(self, auth: AuthFlows) -> None:
        self.auth = auth

    # ---- what a user can answer ----
    def available(self, pool: Any, user: Any) -> list[str]:
        """The user's available first-factor challenges, in Cognito's order."""
        factors = first_factors(pool)
        lookup = user.attribute_lookup
        can = set()
        if "PASSWORD" in factors and user.password:
            can |= {"PASSWORD", "PASSWORD_SRP"}
        for factor, (attribute, *_rest) in _OTP.items():
            if (
                factor in factors
                and lookup.get(attribute)
                and lookup.get(f"{attribute}_verified") == "true"
            ):
                can.add(factor)
        return [c for c in _ORDER if c in can]

    # ---- InitiateAuth ----
    def initiate(
        self,
        pool: Any,
        client: Any,
        user: Any,
        auth: Params,
        sign_in_name: str,
        session_key: str | None,
    ) -> Params:
        """InitiateAuth ``USER_AUTH`` for ``user`` (found and enabled)."""
        if session_key:
            return self._sign_in_after_sign_up(pool, client, user, session_key)
        preferred = str(auth.get("PREFERRED_CHALLENGE") or "")
        if preferred and preferred not in _PREFERABLE:
            raise CognitoError(
                "InvalidParameterException", f"Invalid PREFERRED_CHALLENGE value {preferred}."
            )
        if preferred in _OTP and preferred in first_factors(pool):
            self._refuse_unconfirmed(user)
        available = self.available(pool, user)
        if preferred in available:
            return self._start(pool, client, user, preferred, auth, sign_in_name)
        if not available:
            # Nothing to choose from: a passwordless user not confirmed yet, or without a
            # verified address.
            self._refuse_unconfirmed(user)
            raise not_authorized("User has no available sign-in challenges.")
        session = self.auth._new_session(
            pool.id,
            client.id,
            user.username,
            "SELECT_CHALLENGE",
            available=tuple(available),
            sign_in_name=sign_in_name,
        )
        return {
            "ChallengeName": "SELECT_CHALLENGE",
            "Session": session.id,
            "ChallengeParameters": {},
            "AvailableChallenges": available,
        }

    def _refuse_unconfirmed(self, user: Any) -> None:
        if _status(user) == "UNCONFIRMED":
            raise CognitoError("UserNotConfirmedException", "User is not confirmed.")

    def _start(
        self,
        pool: Any,
        client: Any,
        user: Any,
        factor: str,
        given: dict[str, Any],
        sign_in_name: str | None,
    ) -> Params:
        """Start (or, for PASSWORD, complete) the first factor ``factor``, one the user has."""
        if factor == "PASSWORD":
            password = str(given.get("PASSWORD") or "")
            if not password:
                raise CognitoError(
                    "InvalidParameterException", "Missing required parameter PASSWORD"
                )
            if self.auth.devices is not None:
                # A password sign-in reads the presented device key at once (as
                # USER_PASSWORD_AUTH does).
                self.auth.devices.check_presented(pool, user, _devices.presented())
            if not user.password or not secrets.compare_digest(
                str(user.password).encode(), password.encode()
            ):
                raise not_authorized(_WRONG_PASSWORD)
            return self.auth._after_password(pool, client, user, custom=False)
        if factor == "PASSWORD_SRP":
            srp_a = str(given.get("SRP_A") or "")
            if not srp_a:
                raise CognitoError("InvalidParameterException", "Missing required parameter SRP_A")
            return self.auth._srp_challenge(
                pool, client, user, srp_a, custom=False, with_session=True
            )
        self._refuse_unconfirmed(user)
        attribute, kind, medium, _key = _OTP[factor]
        destination = str(user.attribute_lookup.get(attribute, ""))
        self.auth.codes.issue(pool.id, user.username, kind, destination)
        session = self.auth._new_session(
            pool.id,
            client.id,
            user.username,
            factor,
            first_factor=True,
            sign_in_name=sign_in_name,
        )
        return {
            "ChallengeName": factor,
            "Session": session.id,
            "ChallengeParameters": {
                "CODE_DELIVERY_DELIVERY_MEDIUM": medium,
                "CODE_DELIVERY_DESTINATION": mask(destination),
            },
        }

    # ---- RespondToAuthChallenge ----
    def respond(
        self,
        pool: Any,
        client: Any,
        user: Any,
        session: _Session,
        name: str,
        answers: dict[str, str],
    ) -> Params | None:
        """The answer to a ``USER_AUTH`` challenge (the choice, a first-factor code); None for
        the others (e-mail MFA's ``EMAIL_OTP`` among them)."""
        if name == "SELECT_CHALLENGE":
            return self._select(pool, client, user, session, answers)
        if name in _OTP and session.first_factor:
            _attribute, kind, _medium, key = _OTP[name]
            code = answers.get(key, "")
            self.auth._check_code(
                lambda: self.auth.codes.check(pool.id, user.username, kind, code), session
            )
            # A one-time code is the whole sign-in: no MFA after it.
            result: Params = self.auth._mfa_done(pool, client, user)
            return result
        return None

    def _select(
        self, pool: Any, client: Any, user: Any, session: _Session, answers: dict[str, str]
    ) -> Params:
        choice = answers.get("ANSWER", "")
        try:
            if choice not in session.available:
                raise CognitoError(
                    "InvalidParameterException",
                    f"Invalid ANSWER {choice or '(none)'}: not one of the available challenges"
                    f" {', '.join(session.available)}.",
                )
            return self._start(pool, client, user, choice, answers, session.sign_in_name)
        except CognitoError as error:
            if error.code == "InvalidParameterException":
                # A malformed answer leaves the choice open in the same session.
                self.auth._restore(session)
            raise

    # ---- sign-up sessions ----
    def sign_up_session(self, pool: Any, client: Any, user: Any) -> str | None:
        """A sign-up session for ``user`` when the app client allows ``USER_AUTH``."""
        if not allows_user_auth(client):
            return None
        return self.auth._new_session(pool.id, client.id, user.username, SIGN_UP).id

    def check_sign_up_session(self, client: Any, user: Any, key: str) -> None:
        """Refuse a ``ConfirmSignUp`` session that is not this user's live sign-up session."""
        session = self.auth._peek_session(key)
        if (
            session.challenge != SIGN_UP
            or session.client_id != client.id
            or session.username != user.username
        ):
            raise not_authorized(_INVALID_SESSION)

    def confirmed(self, pool: Any, client: Any, user: Any, given: str | None) -> Params:
        """``ConfirmSignUp``'s answer once the user is confirmed: the sign-up session given is
        used up, and a session that signs the user in once is answered (``USER_AUTH``)."""
        if given:
            self.auth._take_session(given, client.id)
        if not allows_user_auth(client):
            return {}
        session = self.auth._new_session(pool.id, client.id, user.username, SIGNED_UP)
        return {"Session": session.id}

    def _sign_in_after_sign_up(self, pool: Any, client: Any, user: Any, key: str) -> Params:
        session = self.auth._take_session(key, client.id)
        if session.challenge != SIGNED_UP or session.username != user.username:
            # Not this user's: the session stays as it was, for its owner.
            self.auth._restore(session)
            raise not_authorized(_INVALID_SESSION)
        # The code that confirmed the sign-up was the first factor: tokens, nothing else.
        result: Params = self.auth._mfa_done(pool, client, user)
        return result
