"""Remembered devices as Cognito runs them: device tracking, device SRP, the device API.

A pool tracks devices when its ``DeviceConfiguration`` says so (``provision(device_tracking=
"always" | "user_opt_in")`` sets it, as ``CreateUserPool`` would):

- a sign-in that presents no known ``DEVICE_KEY`` ends with ``NewDeviceMetadata`` (a new,
  unconfirmed device); ``ConfirmDevice`` stores the device's SRP verifier and salt and
  answers ``UserConfirmationNecessary`` (true when ``DeviceOnlyRememberedOnUserPrompt``: the
  device is remembered only once ``UpdateDeviceStatus`` says so);
- a sign-in that presents a remembered device's key, where MFA would be asked and the pool's
  ``ChallengeRequiredOnNewDevice`` is true, is asked ``DEVICE_SRP_AUTH`` then
  ``DEVICE_PASSWORD_VERIFIER`` instead of MFA (AWS's API reference: a remembered device signs
  in with device authentication instead of SMS and TOTP factors), verified with the same
  SRP-6a server side as the password (``_srp``), from the stored verifier;
- a ``DEVICE_KEY`` the pool does not know for the user (forgotten, never confirmed for
  another user) is refused as Cognito refuses it: ``ResourceNotFoundException`` "Device does
  not exist." (at ``InitiateAuth`` for a password flow, at ``PASSWORD_VERIFIER`` for SRP),
  which clients answer by signing in again as a new device.

The device key a sign-in presented travels with its challenge sessions (``presented``); it is
read from ``AuthParameters`` and from the challenge answers, as the service reads it.
"""

from __future__ import annotations

import base64
import contextvars
import itertools
import secrets
import threading
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from . import _moto, _srp
from ._errors import CognitoError, not_authorized

Params = dict[str, Any]

_NO_DEVICE = "Device does not exist."
_WRONG_PASSWORD = "Incorrect username or password."
_MAX_LIMIT = 60
# The challenges a remembered device answers instead of MFA.
DEVICE_CHALLENGES = ("DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER")

# Devices are listed in the order they were registered (the clock may stand still in tests).
_registered = itertools.count(1)
_presented: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "fsm_auth_emulator_device_key", default=None
)


def presented() -> str | None:
    """The device key the request being answered presented (for its challenge sessions)."""
    return _presented.get()


@attrs.define
class _Device:
    key: str
    group_key: str
    pool_id: str
    username: str
    created: float
    modified: float
    verifier: int | None = attrs.field(default=None, repr=False)
    salt_hex: str = attrs.field(default="", repr=False)
    name: str | None = None
    remembered: bool = False
    last_authenticated: float | None = None
    order: int = attrs.field(factory=lambda: next(_registered))

    @property
    def confirmed(self) -> bool:
        return self.verifier is not None

    def document(self) -> dict[str, Any]:
        attributes = [{"Name": "device_status", "Value": "valid"}]
        if self.name is not None:
            attributes.append({"Name": "device_name", "Value": self.name})
        attributes.append(
            {
                "Name": "dev:device_remembered_status",
                "Value": "remembered" if self.remembered else "not_remembered",
            }
        )
        answer: dict[str, Any] = {
            "DeviceKey": self.key,
            "DeviceAttributes": attributes,
            "DeviceCreateDate": self.created,
            "DeviceLastModifiedDate": self.modified,
        }
        if self.last_authenticated is not None:
            answer["DeviceLastAuthenticatedDate"] = self.last_authenticated
        return answer


@attrs.frozen
class DeviceSettings:
    """A pool's ``DeviceConfiguration`` as the sign-in reads it."""

    tracking: bool
    challenge_required_on_new_device: bool
    remembered_on_prompt: bool

    @classmethod
    def of(cls, pool: _moto.CognitoIdpUserPool) -> DeviceSettings:
        config = pool.extended_config.get("DeviceConfiguration")
        if not isinstance(config, dict):
            return cls(False, False, False)
        return cls(
            True,
            bool(config.get("ChallengeRequiredOnNewDevice")),
            bool(config.get("DeviceOnlyRememberedOnUserPrompt")),
        )


def device_configuration(
    device_tracking: str | None, challenge_required_on_new_device: bool
) -> dict[str, bool] | None:
    """The pool's ``DeviceConfiguration`` for ``provision``'s options (None: no tracking)."""
    if device_tracking is None:
        return None
    if device_tracking not in ("always", "user_opt_in"):
        raise ValueError(
            f"device_tracking must be None, 'always' or 'user_opt_in', not {device_tracking!r}"
        )
    return {
        "ChallengeRequiredOnNewDevice": bool(challenge_required_on_new_device),
        "DeviceOnlyRememberedOnUserPrompt": device_tracking == "user_opt_in",
    }


class DeviceBook:
    """The devices of every pool, and the device side of sign-in.

    ``auth`` is the emulator's ``AuthFlows`` (its sessions carry the presented device key);
    ``access_user`` resolves an access token to (pool, client id, user); ``clock`` is the
    emulator's.
    """

    def __init__(
        self,
        auth: Any,
        access_user: Callable[[Any], tuple[Any, str, Any]],
        clock: Callable[[], float],
    ) -> None:
        self._auth = auth
        self._access_user = access_user
        self._clock = clock
        self._lock = threading.Lock()
        self._devices: dict[str, _Device] = {}

    # ---- lookups ----
    def _find(self, pool_id: str, username: str, key: str | None) -> _Device | None:
        with self._lock:
            device = self._devices.get(key or "")
        if device is None or device.pool_id != pool_id or device.username != username:
            return None
        return device

    def _require(self, pool_id: str, username: str, key: Any) -> _Device:
        device = self._find(pool_id, username, str(key or ""))
        if device is None:
            raise CognitoError("ResourceNotFoundException", _NO_DEVICE)
        return device

    def check_presented(self, pool: Any, user: Any, key: str | None) -> None:
        """Refuse a presented key the pool does not know for the user (Cognito's answer)."""
        if key and DeviceSettings.of(pool).tracking:
            self._require(pool.id, user.username, key)

    # ---- sign-in ----
    def initiate_auth(self, handler: Callable[[Params], Params], params: Params) -> Params:
        """InitiateAuth with the device side: the key presented, the new device's metadata."""
        flow = str(params.get("AuthFlow", ""))
        if flow.startswith("REFRESH_TOKEN"):
            return handler(params)
        auth = params.get("AuthParameters") or {}
        key = str(auth.get("DEVICE_KEY") or "") or None
        token = _presented.set(key)
        try:
            if key and flow in ("USER_PASSWORD_AUTH", "USER_AUTH"):
                # A password flow, and a choice-based one (whose first factor the user may
                # pick later), read the key at once; SRP reads it with PASSWORD_VERIFIER.
                pool, _client = _moto.pool_by_client(str(params.get("ClientId", "")))
                user = _moto.user_of(pool, str(auth.get("USERNAME") or ""))
                self.check_presented(pool, user, key)
            return self._signed_in(handler(params), key)
        finally:
            _presented.reset(token)

    def respond(self, handler: Callable[[Params], Params], params: Params) -> Params:
        """RespondToAuthChallenge with the device side (and the device challenges)."""
        name = str(params.get("ChallengeName", ""))
        answers = {str(k): str(v) for k, v in (params.get("ChallengeResponses") or {}).items()}
        session_key = params.get("Session")
        if name == "PASSWORD_VERIFIER":
            session_key = answers.get("PASSWORD_CLAIM_SECRET_BLOCK") or session_key
        carried = self._auth.session_device_key(session_key)
        key = answers.get("DEVICE_KEY") or carried
        token = _presented.set(key)
        try:
            if name == "PASSWORD_VERIFIER" and answers.get("DEVICE_KEY"):
                session = self._auth.peek_session(session_key)
                pool = _moto.pool_by_id(session.pool_id)
                self.check_presented(pool, _moto.user_of(pool, session.username), key)
            if name == "DEVICE_SRP_AUTH":
                return self._device_srp_auth(params, answers)
            if name == "DEVICE_PASSWORD_VERIFIER":
                return self._device_password_verifier(params, answers)
            return self._signed_in(handler(params), key)
        finally:
            _presented.reset(token)

    def replaces_mfa(self, pool: Any, client: Any, user: Any) -> Params | None:
        """``DEVICE_SRP_AUTH`` instead of MFA when a remembered device presented its key, MFA
        would be asked and ``ChallengeRequiredOnNewDevice`` lets the device authenticate
        instead; None when the pool's MFA decision stands."""
        key = presented()
        settings = DeviceSettings.of(pool)
        device = self._find(pool.id, user.username, key) if settings.tracking else None
        if (
            device is None
            or not device.remembered
            or not device.confirmed
            or not settings.challenge_required_on_new_device
            or not _mfa_would_be_asked(pool, user, self._auth)
        ):
            return None
        session = self._auth.new_device_session(pool.id, client.id, user.username, key)
        return {
            "ChallengeName": "DEVICE_SRP_AUTH",
            "Session": session.id,
            "ChallengeParameters": {"USERNAME": user.username},
        }

    def _device_srp_auth(self, params: Params, answers: dict[str, str]) -> Params:
        client_id = str(params.get("ClientId", ""))
        pool, client = _moto.pool_by_client(client_id)
        session = self._auth.take_session(params.get("Session"), client_id, "DEVICE_SRP_AUTH")
        user = _moto.user_of(pool, session.username)
        _moto.check_secret_hash(client, answers.get("SECRET_HASH"), user.username)
        device = self._require(pool.id, user.username, answers.get("DEVICE_KEY"))
        if device.key != session.device_key or device.verifier is None:
            raise CognitoError("ResourceNotFoundException", _NO_DEVICE)
        try:
            challenge = _srp.start_with_verifier(
                device.group_key,
                device.key,
                device.verifier,
                device.salt_hex,
                answers.get("SRP_A", ""),
            )
        except ValueError:
            raise CognitoError("InvalidParameterException", "Invalid SRP_A value.") from None
        next_session = self._auth.new_device_session(
            pool.id, client.id, user.username, device.key, srp=challenge
        )
        return {
            "ChallengeName": "DEVICE_PASSWORD_VERIFIER",
            "Session": next_session.id,
            "ChallengeParameters": {
                "SRP_B": challenge.parameters["SRP_B"],
                "SALT": challenge.salt_hex,
                "SECRET_BLOCK": challenge.secret_block,
                "USERNAME": user.username,
                "DEVICE_KEY": device.key,
            },
        }

    def _device_password_verifier(self, params: Params, answers: dict[str, str]) -> Params:
        client_id = str(params.get("ClientId", ""))
        pool, client = _moto.pool_by_client(client_id)
        session_key = params.get("Session") or answers.get("PASSWORD_CLAIM_SECRET_BLOCK")
        session = self._auth.take_session(session_key, client_id, "DEVICE_PASSWORD_VERIFIER")
        user = _moto.user_of(pool, session.username)
        _moto.check_secret_hash(client, answers.get("SECRET_HASH"), user.username)
        device = self._require(pool.id, user.username, answers.get("DEVICE_KEY"))
        if (
            session.srp is None
            or device.key != session.device_key
            or not _srp.signature_valid(
                session.srp,
                answers.get("TIMESTAMP", ""),
                answers.get("PASSWORD_CLAIM_SIGNATURE", ""),
            )
        ):
            raise not_authorized(_WRONG_PASSWORD)
        with self._lock:
            device.last_authenticated = self._clock()
        result: Params = _moto.idp()._log_user_in(pool, client, user.username)
        return result

    def _signed_in(self, answer: Params, key: str | None) -> Params:
        """A sign-in that ended with tokens: the presented device authenticated, or a new
        device's metadata when the pool tracks devices and none known was presented."""
        result = answer.get("AuthenticationResult") if isinstance(answer, dict) else None
        if not isinstance(result, dict) or "AccessToken" not in result:
            return answer
        claims = _moto.unverified_claims(str(result["AccessToken"]))
        pool = _moto.pool_of_token(str(result["AccessToken"]))
        username = str(claims.get("username") or "")
        if pool is None or not username or not DeviceSettings.of(pool).tracking:
            return answer
        now = self._clock()
        device = self._find(pool.id, username, key)
        if device is not None and device.confirmed:
            with self._lock:
                device.last_authenticated = now
            return answer
        region = pool.id.split("_", 1)[0]
        device = _Device(
            key=f"{region}_{uuid.uuid4()}",
            group_key="-" + secrets.token_urlsafe(7)[:9],
            pool_id=pool.id,
            username=username,
            created=now,
            modified=now,
        )
        with self._lock:
            self._devices[device.key] = device
        result["NewDeviceMetadata"] = {
            "DeviceKey": device.key,
            "DeviceGroupKey": device.group_key,
        }
        return answer

    # ---- the device API (by access token) ----
    def confirm_device(self, params: Params) -> Params:
        """ConfirmDevice: store the device's SRP verifier and salt, and its name."""
        pool, _client_id, user = self._access_user(params.get("AccessToken"))
        device = self._require(pool.id, user.username, params.get("DeviceKey"))
        config = params.get("DeviceSecretVerifierConfig") or {}
        try:
            verifier = int.from_bytes(base64.standard_b64decode(config["PasswordVerifier"]), "big")
            salt_hex = base64.standard_b64decode(config["Salt"]).hex()
        except (KeyError, TypeError, ValueError):
            raise CognitoError(
                "InvalidParameterException", "Invalid DeviceSecretVerifierConfig."
            ) from None
        if verifier == 0 or not salt_hex:
            raise CognitoError("InvalidParameterException", "Invalid DeviceSecretVerifierConfig.")
        on_prompt = DeviceSettings.of(pool).remembered_on_prompt
        with self._lock:
            device.verifier, device.salt_hex = verifier, salt_hex
            name = params.get("DeviceName")
            device.name = str(name) if name else None
            device.remembered = not on_prompt
            device.modified = device.last_authenticated = self._clock()
        return {"UserConfirmationNecessary": on_prompt}

    def update_device_status(self, params: Params) -> Params:
        """UpdateDeviceStatus: remembered or not_remembered."""
        pool, _client_id, user = self._access_user(params.get("AccessToken"))
        return self._update_status(pool.id, user.username, params)

    def _update_status(self, pool_id: str, username: str, params: Params) -> Params:
        device = self._require(pool_id, username, params.get("DeviceKey"))
        status = params.get("DeviceRememberedStatus")
        if status not in ("remembered", "not_remembered"):
            raise CognitoError(
                "InvalidParameterException",
                "DeviceRememberedStatus must be remembered or not_remembered.",
            )
        with self._lock:
            device.remembered = status == "remembered"
            device.modified = self._clock()
        return {}

    def list_devices(self, params: Params) -> Params:
        """ListDevices: the user's confirmed devices, ``Limit`` (at most 60) at a time."""
        pool, _client_id, user = self._access_user(params.get("AccessToken"))
        return self._list(pool.id, user.username, params)

    def _list(self, pool_id: str, username: str, params: Params) -> Params:
        limit = params.get("Limit", _MAX_LIMIT)
        if not isinstance(limit, int) or not 0 <= limit <= _MAX_LIMIT:
            raise CognitoError("InvalidParameterException", "Limit must be between 0 and 60.")
        with self._lock:
            mine = sorted(
                (
                    d
                    for d in self._devices.values()
                    if d.pool_id == pool_id and d.username == username and d.confirmed
                ),
                key=lambda d: d.order,
            )
        start = 0
        token = params.get("PaginationToken")
        if token:
            keys = [d.key for d in mine]
            if token not in keys:
                raise CognitoError("InvalidParameterException", "Invalid pagination token.")
            start = keys.index(token)
        page = mine[start : start + (limit or _MAX_LIMIT)]
        answer: Params = {"Devices": [d.document() for d in page]}
        rest = mine[start + len(page) :]
        if rest:
            answer["PaginationToken"] = rest[0].key
        return answer

    def get_device(self, params: Params) -> Params:
        """GetDevice: one of the user's devices."""
        pool, _client_id, user = self._access_user(params.get("AccessToken"))
        device = self._require(pool.id, user.username, params.get("DeviceKey"))
        return {"Device": device.document()}

    def forget_device(self, params: Params) -> Params:
        """ForgetDevice: the device is gone; a sign-in presenting its key is refused."""
        pool, _client_id, user = self._access_user(params.get("AccessToken"))
        return self._forget(pool.id, user.username, params.get("DeviceKey"))

    def _forget(self, pool_id: str, username: str, key: Any) -> Params:
        device = self._require(pool_id, username, key)
        with self._lock:
            self._devices.pop(device.key, None)
        return {}

    # ---- the administrator's device API ----
    def _admin_user(self, params: Params) -> tuple[str, str]:
        pool = _moto.pool_by_id(str(params.get("UserPoolId", "")))
        user = _moto.user_of(pool, str(params.get("Username", "")))
        return pool.id, user.username

    def admin_forget_device(self, params: Params) -> Params:
        """AdminForgetDevice."""
        return self._forget(*self._admin_user(params), params.get("DeviceKey"))

    def admin_get_device(self, params: Params) -> Params:
        """AdminGetDevice."""
        device = self._require(*self._admin_user(params), params.get("DeviceKey"))
        return {"Device": device.document()}

    def admin_list_devices(self, params: Params) -> Params:
        """AdminListDevices."""
        return self._list(*self._admin_user(params), params)

    def admin_update_device_status(self, params: Params) -> Params:
        """AdminUpdateDeviceStatus."""
        return self._update_status(*self._admin_user(params), params)

    def forget_user(self, pool_id: str, username: str) -> None:
        """A deleted user's devices go with them."""
        with self._lock:
            for key in [
                k
                for k, d in self._devices.items()
                if d.pool_id == pool_id and d.username == username
            ]:
                del self._devices[key]

    def handlers(self) -> dict[str, Callable[[Params], Params]]:
        """The device operations, for the user-pool layer's table."""
        return {
            "ConfirmDevice": self.confirm_device,
            "UpdateDeviceStatus": self.update_device_status,
            "ListDevices": self.list_devices,
            "GetDevice": self.get_device,
            "ForgetDevice": self.forget_device,
            "AdminForgetDevice": self.admin_forget_device,
            "AdminGetDevice": self.admin_get_device,
            "AdminListDevices": self.admin_list_devices,
            "AdminUpdateDeviceStatus": self.admin_update_device_status,
        }


def _mfa_would_be_asked(pool: Any, user: Any, auth: Any) -> bool:
    """Whether the pool would ask this user a second factor (MFA on, or optional and set up)."""
    mode = pool.mfa_config or "OFF"
    if mode == "ON":
        return True
    if mode != "OPTIONAL":
        return False
    sms = bool(user.sms_mfa_enabled and user.attribute_lookup.get("phone_number"))
    totp = bool(user.software_token_mfa_enabled and (pool.id, user.username) in auth.totp)
    email = bool(getattr(user, "email_mfa_enabled", False))
    return sms or totp or email
