"""The built-in ``userpool`` provider: Amazon Cognito user pools.

Every Cognito rule of the user pool lives here: the sign-in flow (``_sign_in``: USER_SRP_AUTH
by default, the password never leaves the process), ``SECRET_HASH`` in every call that takes
one, token verification (signature against the pool's JWKS, ``iss``, ``aud``/``client_id``,
``token_use``, ``iat``, ``exp``, judged by the service's clock as learnt from the ``iat`` of
tokens just received), the refresh, and the identity pool's ``Logins`` key for the pool.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fsm_auth._devices import Device, device_from_service
from fsm_auth.errors import InvalidParameterError, ServiceError, UserPoolNotConfiguredError
from fsm_auth.provider import ProviderContext, RawTokens, SignUpAnswer
from fsm_auth.session import JWKSCache, TokenVerifier, jwks_url, shared_jwks
from fsm_auth.signin import ServiceCall, SignInFlow, SignInRequest
from fsm_auth.values import CodeDeliveryDetails, ForgotPasswordResult, SignUpResult, Tokens

from . import _mfa
from ._devices import with_device
from ._sign_in import FLOWS, STEPS, cognito_sign_in, raw_tokens, secret_hash

if TYPE_CHECKING:
    from fsm_auth._mfa import MFAPreference, MFAPreferences
    from fsm_auth.config import UserPoolConfig

__all__ = ["UserPoolProvider", "secret_hash"]

_log = logging.getLogger("fsm_auth.userpool")


class _PoolKeys(JWKSCache):
    """One provider's view of its pool's keys: those loaded from its saved session first (so
    a restore verifies offline), then those this process has fetched for the pool, shared by
    every client (one fetch per process, not per client). Keys loaded from one client's store
    never reach another client: they stay in this view. ``export()`` gives both, so a saved
    session verifies in a new process without the network."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._fetched = shared_jwks(url)

    def get_key(self, kid: str) -> Any:
        if kid in self.kids:
            return super().get_key(kid)
        return self._fetched.get_key(kid)

    def export(self) -> dict[str, Any]:
        own = super().export()["keys"]
        seen = {jwk.get("kid") for jwk in own}
        fetched = [jwk for jwk in self._fetched.export()["keys"] if jwk.get("kid") not in seen]
        return {"keys": own + fetched}


# What a service answers for an operation it does not know: AWS's protocol error, and
# cognito-local's (a 500 with ``CognitoLocal#Unsupported``).
_UNKNOWN_OPERATION = frozenset({"UnknownOperationException", "Unsupported"})


def _clean(mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (mapping or {}).items() if v is not None}


def _attribute_list(attributes: Mapping[str, str] | None) -> list[dict[str, str]]:
    if attributes is None:
        return []
    if not isinstance(attributes, Mapping):
        raise InvalidParameterError("attributes must be a mapping of attribute name to value")
    return [{"Name": str(name), "Value": str(value)} for name, value in attributes.items()]


def _session_of(answer: Any, operation: str) -> str | None:
    """The ``Session`` of a sign-up answer, if it has one."""
    session = answer.get("Session") if isinstance(answer, Mapping) else None
    if session is not None and not isinstance(session, str):
        raise InvalidParameterError(f"The service's {operation} Session is not a string")
    return session or None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class UserPoolProvider:
    """Cognito user pool operations for one app client."""

    name = "userpool"
    sign_in_spec = "sign_in"
    flow_steps = frozenset(STEPS)
    sign_in_flows = frozenset(FLOWS)

    def __init__(self, context: ProviderContext) -> None:
        pool = context.config.user_pool
        if pool is None:
            raise UserPoolNotConfiguredError("The configuration has no Cognito user pool")
        self._pool: UserPoolConfig = pool
        self._idp = context.transport("cognito-idp", pool.region, pool.endpoint)
        self._jwks = _PoolKeys(jwks_url(pool))
        self._clock = context.clock
        self._verifier = TokenVerifier(pool, jwks=self._jwks, clock=self._clock)
        # Tokens the service has just answered with, by a hash of the access token, and the
        # local time they arrived: verify() learns the clock offset from those only (never
        # from tokens read back from storage, whose iat is old). Bounded: a few in flight.
        self._received: OrderedDict[bytes, float] = OrderedDict()
        self._received_lock = threading.Lock()
        # Set once the service says it has no GetTokensFromRefreshToken (cognito-local).
        self._legacy_refresh = False

    def __repr__(self) -> str:
        return f"UserPoolProvider(pool_id={self._pool.pool_id!r})"

    # -- helpers ---------------------------------------------------------------------------

    @property
    def _client_id(self) -> str:
        return self._pool.app_client_id

    def _with_secret(self, params: dict[str, Any], username: str, key: str = "SecretHash") -> None:
        if self._pool.app_client_secret:
            params[key] = secret_hash(username, self._client_id, self._pool.app_client_secret)

    def _call(self, operation: str, params: Mapping[str, Any], *secrets: str | None) -> Any:
        return self._idp.call(operation, _clean(params), self._pool.app_client_secret, *secrets)

    def _note_received(self, answer: Any) -> None:
        """Remember when the tokens of an ``AuthenticationResult`` arrived (local time)."""
        result = answer.get("AuthenticationResult") if isinstance(answer, Mapping) else None
        token = result.get("AccessToken") if isinstance(result, Mapping) else None
        if not isinstance(token, str):
            return
        arrived = self._clock.local()
        with self._received_lock:
            self._received[_digest(token)] = arrived
            while len(self._received) > 8:
                self._received.popitem(last=False)

    def _arrival(self, access_token: str) -> float | None:
        with self._received_lock:
            return self._received.pop(_digest(access_token), None)

    # -- sign-up ---------------------------------------------------------------------------

    def sign_up(
        self,
        username: str,
        password: str | None,
        *,
        attributes: Mapping[str, str] | None,
        validation_data: Mapping[str, str] | None,
        client_metadata: Mapping[str, str] | None,
    ) -> SignUpAnswer:
        """Register a user (without a password where the pool allows passwordless sign-in);
        the answer says whether a confirmation code was sent, with the sign-up's session
        (an app client that allows USER_AUTH gives one, for auto sign-in)."""
        params: dict[str, Any] = {
            "ClientId": self._client_id,
            "Username": username,
            "Password": password,
            "UserAttributes": _attribute_list(attributes),
            "ValidationData": _attribute_list(validation_data) or None,
            "ClientMetadata": dict(client_metadata) if client_metadata else None,
        }
        self._with_secret(params, username)
        answer = self._call("sign_up", params, password)
        result = SignUpResult(
            confirmed=bool(answer.get("UserConfirmed")),
            user_sub=answer.get("UserSub"),
            code_delivery=CodeDeliveryDetails.from_service(answer.get("CodeDeliveryDetails")),
        )
        return SignUpAnswer(result, _session_of(answer, "SignUp"))

    def confirm_sign_up(
        self,
        username: str,
        code: str,
        *,
        client_metadata: Mapping[str, str] | None,
        session: str | None = None,
    ) -> SignUpAnswer:
        """Confirm a registration with the code the user received; the answer's session signs
        the user in once (USER_AUTH), where the app client allows it."""
        params: dict[str, Any] = {
            "ClientId": self._client_id,
            "Username": username,
            "ConfirmationCode": code,
            "ClientMetadata": dict(client_metadata) if client_metadata else None,
            "Session": session,
        }
        self._with_secret(params, username)
        answer = self._call("confirm_sign_up", params, code, session)
        return SignUpAnswer(SignUpResult(confirmed=True), _session_of(answer, "ConfirmSignUp"))

    def resend_sign_up_code(self, username: str) -> CodeDeliveryDetails:
        """Send the sign-up confirmation code again."""
        params: dict[str, Any] = {"ClientId": self._client_id, "Username": username}
        self._with_secret(params, username)
        answer = self._call("resend_confirmation_code", params)
        return CodeDeliveryDetails.from_service(
            answer.get("CodeDeliveryDetails")
        ) or CodeDeliveryDetails(None, None, None)

    # -- sign-in, tokens ----------------------------------------------------------------------

    def sign_in(self, request: SignInRequest) -> SignInFlow:
        """The Cognito challenge loop for ``request`` as a flow without I/O, with this device
        (``request.device``): presented, recovered if the service forgot it, confirmed when
        the service answers a new one (``providers._devices``)."""
        return with_device(self._pool, request, cognito_sign_in)

    def perform(self, call: ServiceCall) -> Mapping[str, Any]:
        """Send one request of a sign-in flow."""
        answer: Mapping[str, Any] = self._call(call.operation, call.params, *call.secrets)
        self._note_received(answer)
        return answer

    def verify(
        self,
        raw: RawTokens,
        *,
        keys: Mapping[str, Any] | None = None,
        check_expiry: bool = True,
    ) -> Tokens:
        """Verify an id and access token pair against the pool's JWKS (``keys``: a saved
        JWKS, so that a restore verifies without the network). Tokens this provider has just
        received from the service also set the service clock's offset from their ``iat``."""
        if keys is not None:
            try:
                self._jwks.load(keys)
            except ValueError as exc:
                raise InvalidParameterError(f"The saved JWKS is unusable: {exc}") from None
        return self._verifier.verify_tokens(
            raw.id_token,
            raw.access_token,
            raw.refresh_token,
            check_expiry=check_expiry,
            received_at=self._arrival(raw.access_token),
        )

    def keys(self) -> Mapping[str, Any] | None:
        """The pool's JWKS as fetched, to save with a session."""
        exported = self._jwks.export()
        return exported if exported["keys"] else None

    def refresh(self, tokens: Tokens, *, device_key: str | None = None) -> RawTokens:
        """New id and access tokens from the refresh token, through ``GetTokensFromRefreshToken``
        (with the client secret when there is one): on an app client that rotates refresh
        tokens the answer carries a new refresh token, which the returned tokens hold (else
        the refresh token is kept). ``device_key``: the remembered device's key, which Cognito
        requires at refresh when device tracking is on.

        A service without that operation (cognito-local) is asked once, then this provider
        refreshes with ``InitiateAuth`` ``REFRESH_TOKEN_AUTH`` (which a rotating client would
        refuse, so it is never the first choice)."""
        if not tokens.refresh_token:
            raise InvalidParameterError("The session has no refresh token")
        if not self._legacy_refresh:
            params: dict[str, Any] = {
                "ClientId": self._client_id,
                "RefreshToken": tokens.refresh_token,
                "ClientSecret": self._pool.app_client_secret or None,
                "DeviceKey": device_key,
            }
            try:
                answer = self._call("get_tokens_from_refresh_token", params, tokens.refresh_token)
            except ServiceError as exc:
                if exc.code not in _UNKNOWN_OPERATION:
                    raise
                # Remembered: the service will not learn the operation while this runs.
                self._legacy_refresh = True
                _log.info("The user pool lacks GetTokensFromRefreshToken; using REFRESH_TOKEN_AUTH")
            else:
                return self._refreshed(answer, tokens.refresh_token)
        auth: dict[str, Any] = {"REFRESH_TOKEN": tokens.refresh_token, "DEVICE_KEY": device_key}
        # The internal user name (the access token's `username`), not an alias.
        self._with_secret(auth, tokens.username or "", "SECRET_HASH")
        answer = self._call(
            "initiate_auth",
            {
                "AuthFlow": "REFRESH_TOKEN_AUTH",
                "ClientId": self._client_id,
                "AuthParameters": _clean(auth),
            },
            tokens.refresh_token,
        )
        return self._refreshed(answer, tokens.refresh_token)

    def _refreshed(self, answer: Any, refresh_token: str) -> RawTokens:
        """The tokens of a refresh answer: its refresh token when it rotated one, else ours."""
        result = answer.get("AuthenticationResult")
        if not result:
            raise InvalidParameterError("The refresh answered without tokens")
        self._note_received(answer)
        return raw_tokens(result, refresh_token)

    def logins(self, tokens: Tokens) -> Mapping[str, str]:
        """``{cognito-idp.<region>.amazonaws.com/<pool id>: id token}``."""
        return {self._pool.issuer.removeprefix("https://"): tokens.id_token}

    # -- passwords and attributes ------------------------------------------------------------

    def forgot_password(self, username: str) -> ForgotPasswordResult:
        """Ask the service to send a password-reset code."""
        params: dict[str, Any] = {"ClientId": self._client_id, "Username": username}
        self._with_secret(params, username)
        answer = self._call("forgot_password", params)
        return ForgotPasswordResult(
            code_delivery=CodeDeliveryDetails.from_service(answer.get("CodeDeliveryDetails"))
        )

    def confirm_forgot_password(self, username: str, new_password: str, code: str) -> None:
        """Set a new password with the reset code."""
        params: dict[str, Any] = {
            "ClientId": self._client_id,
            "Username": username,
            "ConfirmationCode": code,
            "Password": new_password,
        }
        self._with_secret(params, username)
        self._call("confirm_forgot_password", params, new_password, code)

    def change_password(self, access_token: str, current: str, proposed: str) -> None:
        """Change the signed-in user's password."""
        self._call(
            "change_password",
            {
                "AccessToken": access_token,
                "PreviousPassword": current,
                "ProposedPassword": proposed,
            },
            access_token,
            current,
            proposed,
        )

    def get_user_attributes(self, access_token: str) -> dict[str, str]:
        """The signed-in user's attributes."""
        answer = self._call("get_user", {"AccessToken": access_token}, access_token)
        return {a["Name"]: a.get("Value", "") for a in answer.get("UserAttributes", [])}

    def update_user_attributes(
        self, access_token: str, attributes: Mapping[str, str]
    ) -> list[CodeDeliveryDetails]:
        """Update attributes; a changed e-mail or phone number gets a verification code."""
        answer = self._call(
            "update_user_attributes",
            {"AccessToken": access_token, "UserAttributes": _attribute_list(attributes)},
            access_token,
        )
        details = [
            CodeDeliveryDetails.from_service(d) for d in answer.get("CodeDeliveryDetailsList", [])
        ]
        return [d for d in details if d is not None]

    def verify_user_attribute(self, access_token: str, name: str) -> CodeDeliveryDetails:
        """Send a verification code for attribute ``name``."""
        answer = self._call(
            "get_user_attribute_verification_code",
            {"AccessToken": access_token, "AttributeName": name},
            access_token,
        )
        return CodeDeliveryDetails.from_service(
            answer.get("CodeDeliveryDetails")
        ) or CodeDeliveryDetails(attribute_name=name)

    def confirm_verify_user_attribute(self, access_token: str, name: str, code: str) -> None:
        """Verify attribute ``name`` with its code."""
        self._call(
            "verify_user_attribute",
            {"AccessToken": access_token, "AttributeName": name, "Code": code},
            access_token,
            code,
        )

    def delete_user(self, access_token: str) -> None:
        """Delete the signed-in user."""
        self._call("delete_user", {"AccessToken": access_token}, access_token)

    def global_sign_out(self, access_token: str) -> None:
        """Revoke every session of the user, on every device."""
        self._call("global_sign_out", {"AccessToken": access_token}, access_token)

    # -- remembered devices ------------------------------------------------------------------

    def update_device_status(self, access_token: str, device_key: str, remembered: bool) -> None:
        """Remember the device ``device_key`` (or stop remembering it)."""
        self._call(
            "update_device_status",
            {
                "AccessToken": access_token,
                "DeviceKey": device_key,
                "DeviceRememberedStatus": "remembered" if remembered else "not_remembered",
            },
            access_token,
            device_key,
        )

    def forget_device(self, access_token: str, device_key: str) -> None:
        """Forget the device ``device_key``: a sign-in presenting it is then refused."""
        self._call(
            "forget_device",
            {"AccessToken": access_token, "DeviceKey": device_key},
            access_token,
            device_key,
        )

    def list_devices(self, access_token: str, limit: int) -> list[Device]:
        """The user's devices, at most ``limit`` (the service gives at most 60 a page)."""
        devices: list[Device] = []
        token: str | None = None
        while len(devices) < limit:
            answer = self._call(
                "list_devices",
                {
                    "AccessToken": access_token,
                    "Limit": min(60, limit - len(devices)),
                    "PaginationToken": token,
                },
                access_token,
            )
            listed = answer.get("Devices") if isinstance(answer, Mapping) else None
            if not isinstance(listed, list):
                raise InvalidParameterError("The service's ListDevices answer has no device list")
            devices.extend(device_from_service(d) for d in listed if isinstance(d, Mapping))
            token = answer.get("PaginationToken")
            if not isinstance(token, str) or not token or not listed:
                break
        return devices[:limit]

    def revoke_token(self, refresh_token: str) -> None:
        """Revoke this session's refresh token (and the tokens issued from it)."""
        params: dict[str, Any] = {"Token": refresh_token, "ClientId": self._client_id}
        if self._pool.app_client_secret:
            params["ClientSecret"] = self._pool.app_client_secret
        self._call("revoke_token", params, refresh_token)

    # -- MFA management ------------------------------------------------------------------------

    def associate_software_token(self, access_token: str) -> str:
        """A new TOTP secret for the signed-in user (``AssociateSoftwareToken``)."""
        return _mfa.associate_software_token(self._call, access_token)

    def verify_software_token(
        self, access_token: str, code: str, *, friendly_device_name: str | None
    ) -> None:
        """Confirm the TOTP secret with a first code (``VerifySoftwareToken``)."""
        _mfa.verify_software_token(self._call, access_token, code, friendly_device_name)

    def set_user_mfa_preference(
        self, access_token: str, preferences: Mapping[str, MFAPreference]
    ) -> None:
        """Turn MFA types on or off and pick the preferred one (``SetUserMFAPreference``)."""
        _mfa.set_user_mfa_preference(self._call, access_token, preferences)

    def get_user_mfa_preference(self, access_token: str) -> MFAPreferences:
        """The MFA types on for the user and the preferred one (``GetUser``)."""
        return _mfa.get_user_mfa_preference(self._call, access_token)
