"""Sign-in as Cognito runs it: SRP, passwords, MFA, new-password and custom challenges;
choice-based and passwordless sign-in (``USER_AUTH``) in ``_passwordless``, the custom flow's
rounds in ``_custom_auth``."""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

import attrs
import pyotp

from . import _custom_auth, _devices, _mfa, _moto, _passwordless, _srp
from ._codes import CodeBook, mask
from ._errors import CognitoError, not_authorized
from ._tokens import TokenState

_WRONG_PASSWORD = "Incorrect username or password."
# Cognito's AuthSessionValidity default: a challenge session lives 3 minutes.
_SESSION_SECONDS = 180.0
_TEMP_PASSWORD_SECONDS = 7 * 86400.0
# Flows a client may use when it names none (the real service's default).
_DEFAULT_FLOWS = ("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_CUSTOM_AUTH")


@attrs.define
class _Session:
    id: str
    pool_id: str
    client_id: str
    username: str
    challenge: str
    expires_at: float
    srp: _srp.SrpChallenge | None = None
    custom: bool = False
    # The device key the sign-in presented (DEVICE_KEY), carried through its challenges.
    device_key: str | None = None
    # SELECT_CHALLENGE: the first factors the user may choose (AvailableChallenges).
    available: tuple[str, ...] = ()
    # EMAIL_OTP / SMS_OTP as USER_AUTH's first factor (e-mail MFA's EMAIL_OTP is not).
    first_factor: bool = False
    # CUSTOM_CHALLENGE: which of the pool's custom rounds this is.
    round: int = 0
    # The name the sign-in started with, when no challenge told the client another
    # (USER_AUTH's choice and codes): their SECRET_HASH is computed for it.
    sign_in_name: str | None = None


class AuthFlows:
    """InitiateAuth, RespondToAuthChallenge and the software-token MFA operations."""

    def __init__(self, tokens: TokenState, codes: CodeBook) -> None:
        self.tokens = tokens
        self.codes = codes
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        # Verified TOTP secrets and the ones awaiting VerifySoftwareToken, by (pool, user).
        self.totp: dict[tuple[str, str], str] = {}
        self._pending_totp: dict[tuple[str, str], str] = {}
        # When AdminCreateUser issued a temporary password, by (pool, user).
        self.temp_password_issued: dict[tuple[str, str], float] = {}
        # Remembered devices (set by the user-pool layer): may replace MFA after the password.
        self.devices: _devices.DeviceBook | None = None
        # MFA beyond moto: the pool's types, preferences, e-mail MFA, the second factor.
        self.mfa = _mfa.MFABook(self)
        # Choice-based and passwordless sign-in (USER_AUTH), and the custom flow's rounds.
        self.passwordless = _passwordless.Passwordless(self)
        self.custom = _custom_auth.CustomAuth(self)

    # ---- sessions ----
    def _new_session(
        self, pool_id: str, client_id: str, username: str, challenge: str, **extra: Any
    ) -> _Session:
        session = _Session(
            id=secrets.token_urlsafe(96),
            pool_id=pool_id,
            client_id=client_id,
            username=username,
            challenge=challenge,
            expires_at=self.tokens.clock() + _SESSION_SECONDS,
            **{"device_key": _devices.presented(), **extra},
        )
        with self._lock:
            self._sessions[session.id] = session
            if session.srp is not None:
                self._sessions[session.srp.secret_block] = session
        return session

    def _take_session(self, key: str | None, client_id: str) -> _Session:
        with self._lock:
            session = self._sessions.pop(key or "", None)
            if session is not None:
                for other in [k for k, v in self._sessions.items() if v is session]:
                    del self._sessions[other]
        if session is None or session.client_id != client_id:
            raise not_authorized("Invalid session for the user.")
        if self.tokens.clock() > session.expires_at:
            raise not_authorized("Invalid session for the user, session is expired.")
        return session

    # ---- sessions, for the device side (_devices) ----
    def session_device_key(self, key: str | None) -> str | None:
        """The device key carried by the session ``key`` (None if none, or no such session)."""
        with self._lock:
            session = self._sessions.get(key or "")
        return None if session is None else session.device_key

    def peek_session(self, key: str | None) -> _Session:
        """The live session ``key`` (NotAuthorizedException otherwise), left in place."""
        return self._peek_session(key)

    def take_session(self, key: str | None, client_id: str, challenge: str) -> _Session:
        """Take the session ``key`` of ``client_id``, which must be waiting for ``challenge``."""
        session = self._take_session(key, client_id)
        if session.challenge != challenge:
            raise CognitoError(
                "InvalidParameterException",
                f"Invalid challenge name {challenge}; expected {session.challenge}",
            )
        return session

    def new_device_session(
        self,
        pool_id: str,
        client_id: str,
        username: str,
        device_key: str | None,
        srp: _srp.SrpChallenge | None = None,
    ) -> _Session:
        """A session waiting for a device challenge (DEVICE_SRP_AUTH, then the verifier)."""
        challenge = "DEVICE_SRP_AUTH" if srp is None else "DEVICE_PASSWORD_VERIFIER"
        return self._new_session(
            pool_id, client_id, username, challenge, srp=srp, device_key=device_key
        )

    def _peek_session(self, key: str | None) -> _Session:
        with self._lock:
            session = self._sessions.get(key or "")
        if session is None or self.tokens.clock() > session.expires_at:
            raise not_authorized("Invalid session for the user, session is expired.")
        return session

    # ---- InitiateAuth ----
    def initiate_auth(self, params: dict[str, Any]) -> dict[str, Any]:
        """InitiateAuth for USER_SRP_AUTH, USER_PASSWORD_AUTH, REFRESH_TOKEN(_AUTH), CUSTOM_AUTH
        and USER_AUTH."""
        self.tokens.patch_pools()
        pool, client = _moto.pool_by_client(str(params.get("ClientId", "")))
        flow = str(params.get("AuthFlow", ""))
        auth = dict(params.get("AuthParameters") or {})
        allowed = client.extended_config.get("ExplicitAuthFlows") or _DEFAULT_FLOWS
        wanted = "ALLOW_REFRESH_TOKEN_AUTH" if flow == "REFRESH_TOKEN" else f"ALLOW_{flow}"
        known = {"USER_SRP_AUTH", "USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"}
        if flow not in known | {"CUSTOM_AUTH", "USER_AUTH"}:
            raise CognitoError("InvalidParameterException", f"Unsupported auth flow {flow}")
        if wanted not in allowed and flow not in allowed:
            raise CognitoError(
                "InvalidParameterException", f"{flow} flow not enabled for this client"
            )
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            return self.tokens.refresh(pool, client, auth)
        username = str(auth.get("USERNAME") or "")
        if not username:
            raise CognitoError("InvalidParameterException", "Missing required parameter USERNAME")
        # Hashed for the name sent: an e-mail/alias or the internal user name, both sign in.
        _moto.check_secret_hash(client, auth.get("SECRET_HASH"), username)
        user = _moto.user_of(pool, username)
        if not user.enabled:
            raise not_authorized("User is disabled.")
        if flow == "USER_AUTH":
            session = params.get("Session")
            return self.passwordless.initiate(
                pool, client, user, auth, username, str(session) if session else None
            )
        if flow == "CUSTOM_AUTH":
            return self.custom.initiate(pool, client, user, auth)
        if flow == "USER_SRP_AUTH":
            return self._srp_challenge(pool, client, user, str(auth.get("SRP_A") or ""), False)
        if not user.password or not secrets.compare_digest(
            str(user.password).encode(), str(auth.get("PASSWORD") or "").encode()
        ):
            raise not_authorized(_WRONG_PASSWORD)
        return self._after_password(pool, client, user, custom=False)

    def admin_initiate_auth(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """AdminInitiateAuth: refresh flows here (expiry, revocation); moto does the rest."""
        flow = str(params.get("AuthFlow", ""))
        if flow not in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            return None
        self.tokens.patch_pools()
        pool, client = _moto.pool_by_client(str(params.get("ClientId", "")))
        return self.tokens.refresh(pool, client, dict(params.get("AuthParameters") or {}))

    def _srp_challenge(
        self,
        pool: _moto.CognitoIdpUserPool,
        client: _moto.CognitoIdpUserPoolClient,
        user: _moto.CognitoIdpUser,
        srp_a: str,
        custom: bool,
        with_session: bool = False,
    ) -> dict[str, Any]:
        """PASSWORD_VERIFIER for ``srp_a`` (``with_session``: the answer names its Session too,
        as USER_AUTH's does; the secret block finds it either way)."""
        # A user without a password (passwordless sign-up) has no verifier: no proof matches.
        password = str(user.password or secrets.token_urlsafe(32))
        try:
            challenge = _srp.start(pool.id, user.username, password, srp_a)
        except ValueError:
            raise CognitoError("InvalidParameterException", "Invalid SRP_A value.") from None
        started = self._new_session(
            pool.id, client.id, user.username, "PASSWORD_VERIFIER", srp=challenge, custom=custom
        )
        answer: dict[str, Any] = {
            "ChallengeName": "PASSWORD_VERIFIER",
            "ChallengeParameters": {**challenge.parameters, "USERNAME": user.username},
        }
        if with_session:
            answer["Session"] = started.id
        return answer

    # ---- after the password ----
    def _after_password(
        self,
        pool: _moto.CognitoIdpUserPool,
        client: _moto.CognitoIdpUserPoolClient,
        user: _moto.CognitoIdpUser,
        custom: bool,
    ) -> dict[str, Any]:
        status = str(getattr(user.status, "value", user.status))
        if status == "UNCONFIRMED":
            raise CognitoError("UserNotConfirmedException", "User is not confirmed.")
        if status == "RESET_REQUIRED":
            raise CognitoError(
                "PasswordResetRequiredException", "Password reset required for the user"
            )
        if status == "FORCE_CHANGE_PASSWORD":
            issued = self.temp_password_issued.get((pool.id, user.username))
            if issued is not None and self.tokens.clock() > issued + _TEMP_PASSWORD_SECONDS:
                raise not_authorized(
                    "Temporary password has expired and must be reset by an administrator."
                )
            session = self._new_session(pool.id, client.id, user.username, "NEW_PASSWORD_REQUIRED")
            attributes = {k: v for k, v in user.attribute_lookup.items() if k not in ("sub",)}
            return {
                "ChallengeName": "NEW_PASSWORD_REQUIRED",
                "Session": session.id,
                "ChallengeParameters": {
                    "USER_ID_FOR_SRP": user.username,
                    "requiredAttributes": "[]",
                    "userAttributes": json.dumps(attributes),
                },
            }
        if custom:
            return self.custom.challenge(pool, client, user)
        return self._mfa_or_tokens(pool, client, user)

    def _mfa_or_tokens(
        self,
        pool: _moto.CognitoIdpUserPool,
        client: _moto.CognitoIdpUserPoolClient,
        user: _moto.CognitoIdpUser,
    ) -> dict[str, Any]:
        if self.devices is not None:
            device = self.devices.replaces_mfa(pool, client, user)
            if device is not None:
                return device
        # Which second factor, if any (SMS, TOTP, e-mail; a choice; a set-up): _mfa.
        challenge = self.mfa.second_factor(pool, client, user)
        if challenge is not None:
            return challenge
        result: dict[str, Any] = _moto.idp()._log_user_in(pool, client, user.username)
        return result

    def _sms_challenge(
        self,
        pool: _moto.CognitoIdpUserPool,
        client: _moto.CognitoIdpUserPoolClient,
        user: _moto.CognitoIdpUser,
    ) -> dict[str, Any]:
        phone = user.attribute_lookup.get("phone_number", "")
        self.codes.issue(pool.id, user.username, "sms_mfa", phone)
        session = self._new_session(pool.id, client.id, user.username, "SMS_MFA")
        return {
            "ChallengeName": "SMS_MFA",
            "Session": session.id,
            "ChallengeParameters": {
                "CODE_DELIVERY_DELIVERY_MEDIUM": "SMS",
                "CODE_DELIVERY_DESTINATION": mask(phone),
                "USER_ID_FOR_SRP": user.username,
            },
        }

    def _totp_challenge(
        self,
        pool: _moto.CognitoIdpUserPool,
        client: _moto.CognitoIdpUserPoolClient,
        user: _moto.CognitoIdpUser,
    ) -> dict[str, Any]:
        session = self._new_session(pool.id, client.id, user.username, "SOFTWARE_TOKEN_MFA")
        return {
            "ChallengeName": "SOFTWARE_TOKEN_MFA",
            "Session": session.id,
            "ChallengeParameters": {"USER_ID_FOR_SRP": user.username},
        }

    # ---- RespondToAuthChallenge ----
    def respond(self, params: dict[str, Any]) -> dict[str, Any]:
        """RespondToAuthChallenge for every challenge the emulator issues."""
        self.tokens.patch_pools()
        client_id = str(params.get("ClientId", ""))
        pool, client = _moto.pool_by_client(client_id)
        name = str(params.get("ChallengeName", ""))
        answers = {str(k): str(v) for k, v in (params.get("ChallengeResponses") or {}).items()}
        key = params.get("Session")
        if name == "PASSWORD_VERIFIER":
            key = answers.get("PASSWORD_CLAIM_SECRET_BLOCK") or key
        session = self._take_session(key, client_id)
        if session.challenge in _passwordless.SESSION_KINDS:
            # A sign-up session is no challenge's: left for InitiateAuth / ConfirmSignUp.
            self._restore(session)
            raise not_authorized("Invalid session for the user.")
        if session.challenge != name and not (
            session.challenge == "SELECT_MFA_TYPE" and name == "SELECT_MFA_TYPE"
        ):
            raise CognitoError(
                "InvalidParameterException",
                f"Invalid challenge name {name}; expected {session.challenge}",
            )
        user = _moto.user_of(pool, session.username)
        # Challenge answers carry the internal user name (USER_ID_FOR_SRP), not an alias; the
        # USER_AUTH challenges that tell no name take the one the sign-in started with.
        _moto.check_secret_hash(
            client, answers.get("SECRET_HASH"), session.sign_in_name or user.username
        )
        if name == "PASSWORD_VERIFIER":
            assert session.srp is not None
            if not _srp.signature_valid(
                session.srp,
                answers.get("TIMESTAMP", ""),
                answers.get("PASSWORD_CLAIM_SIGNATURE", ""),
            ):
                raise not_authorized(_WRONG_PASSWORD)
            return self._after_password(pool, client, user, custom=session.custom)
        if name == "NEW_PASSWORD_REQUIRED":
            return self._new_password(pool, client, user, answers)
        handled = self.passwordless.respond(pool, client, user, session, name, answers)
        if handled is None:
            handled = self.mfa.respond(pool, client, user, session, name, answers)
        if handled is not None:
            return handled
        if name == "SMS_MFA":
            self._check_code(
                lambda: self.codes.check(
                    pool.id, user.username, "sms_mfa", answers.get("SMS_MFA_CODE", "")
                ),
                session,
            )
            return self._mfa_done(pool, client, user)
        if name == "SOFTWARE_TOKEN_MFA":
            secret = self.totp.get((pool.id, user.username), "")
            if not self._totp_ok(secret, answers.get("SOFTWARE_TOKEN_MFA_CODE", "")):
                self._restore(session)
                raise CognitoError("CodeMismatchException", "Invalid code received for user")
            return self._mfa_done(pool, client, user)
        if name == "SELECT_MFA_TYPE":
            choice = answers.get("ANSWER", "")
            if choice == "SMS_MFA":
                return self._sms_challenge(pool, client, user)
            if choice == "SOFTWARE_TOKEN_MFA":
                return self._totp_challenge(pool, client, user)
            raise CognitoError("InvalidParameterException", "Invalid MFA type selected.")
        if name == "MFA_SETUP":
            if not user.software_token_mfa_enabled:
                raise CognitoError("InvalidParameterException", "MFA setup was not completed.")
            return self._mfa_done(pool, client, user)
        if name == "CUSTOM_CHALLENGE":
            return self.custom.respond(pool, client, user, session, answers)
        raise CognitoError("InvalidParameterException", f"Unsupported challenge {name}")

    def _restore(self, session: _Session) -> None:
        # A wrong MFA code leaves the session usable for another try, as the service does.
        with self._lock:
            self._sessions[session.id] = session

    def _check_code(self, check: Any, session: _Session) -> None:
        try:
            check()
        except CognitoError as error:
            if error.code == "CodeMismatchException":
                self._restore(session)
            raise

    def _mfa_done(
        self,
        pool: _moto.CognitoIdpUserPool,
        client: _moto.CognitoIdpUserPoolClient,
        user: _moto.CognitoIdpUser,
    ) -> dict[str, Any]:
        result: dict[str, Any] = _moto.idp()._log_user_in(pool, client, user.username)
        return result

    def _new_password(
        self,
        pool: _moto.CognitoIdpUserPool,
        client: _moto.CognitoIdpUserPoolClient,
        user: _moto.CognitoIdpUser,
        answers: dict[str, str],
    ) -> dict[str, Any]:
        new_password = answers.get("NEW_PASSWORD", "")
        if not new_password:
            raise CognitoError(
                "InvalidParameterException", "Missing required parameter NEW_PASSWORD"
            )
        _moto.idp()._validate_password(pool.id, new_password)
        extra = [
            {"Name": k.removeprefix("userAttributes."), "Value": v}
            for k, v in answers.items()
            if k.startswith("userAttributes.")
        ]
        if extra:
            user.update_attributes(extra)
        user.password = new_password
        user.status = _moto.UserStatus.CONFIRMED
        self.temp_password_issued.pop((pool.id, user.username), None)
        return self._mfa_or_tokens(pool, client, user)

    # ---- software tokens ----
    def _totp_ok(self, secret: str, code: str) -> bool:
        if not secret or not code:
            return False
        return bool(pyotp.TOTP(secret).verify(code, for_time=self.tokens.clock(), valid_window=1))

    def _token_or_session_user(
        self, params: dict[str, Any]
    ) -> tuple[_moto.CognitoIdpUserPool, _moto.CognitoIdpUser, _Session | None]:
        if params.get("Session"):
            session = self._peek_session(str(params["Session"]))
            if session.challenge in _passwordless.SESSION_KINDS:
                raise not_authorized("Invalid session for the user.")
            pool = _moto.pool_by_id(session.pool_id)
            return pool, _moto.user_of(pool, session.username), session
        pool, _client_id, user = self.tokens.access_user(params.get("AccessToken"))
        return pool, user, None

    def associate_software_token(self, params: dict[str, Any]) -> dict[str, Any]:
        """AssociateSoftwareToken: a fresh TOTP secret per user."""
        pool, user, session = self._token_or_session_user(params)
        secret = pyotp.random_base32(32)
        self._pending_totp[(pool.id, user.username)] = secret
        answer: dict[str, Any] = {"SecretCode": secret}
        if session is not None:
            answer["Session"] = session.id
        return answer

    def verify_software_token(self, params: dict[str, Any]) -> dict[str, Any]:
        """VerifySoftwareToken: checks a real TOTP code against the associated secret."""
        pool, user, session = self._token_or_session_user(params)
        key = (pool.id, user.username)
        secret = self._pending_totp.get(key, "")
        if not secret:
            raise CognitoError(
                "InvalidParameterException",
                "Call AssociateSoftwareToken before VerifySoftwareToken.",
            )
        if not self._totp_ok(secret, str(params.get("UserCode", ""))):
            raise CognitoError(
                "EnableSoftwareTokenMFAException",
                "Code mismatch and fail enable Software Token MFA",
            )
        del self._pending_totp[key]
        self.totp[key] = secret
        user.token_verified = True
        answer: dict[str, Any] = {"Status": "SUCCESS"}
        if session is not None:
            # Completing MFA_SETUP turns the software token on, as the service does.
            user.software_token_mfa_enabled = True
            answer["Session"] = session.id
        return answer
