"""The built-in ``userpool`` provider: Amazon Cognito user pools.

Every Cognito rule of the user pool lives here: the sign-in flow (``_sign_in``: USER_SRP_AUTH
by default, the password never leaves the process), ``SECRET_HASH`` in every call that takes
one, token verification (signature against the pool's JWKS, ``iss``, ``aud``/``client_id``,
``token_use``, ``iat``, ``exp``, judged by the service's clock as learnt from the ``iat`` of
tokens just received), the refresh, and the identity pool's ``Logins`` key for the pool.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fsm_auth.errors import InvalidParameterError, UserPoolNotConfiguredError
from fsm_auth.provider import ProviderContext, RawTokens
from fsm_auth.session import JWKSCache, TokenVerifier, jwks_url, shared_jwks
from fsm_auth.signin import ServiceCall, SignInFlow, SignInRequest
from fsm_auth.values import CodeDeliveryDetails, ForgotPasswordResult, SignUpResult, Tokens

from ._sign_in import STEPS, cognito_sign_in, raw_tokens, secret_hash

if TYPE_CHECKING:
    from fsm_auth.config import UserPoolConfig

__all__ = ["UserPoolProvider", "secret_hash"]


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


def _clean(mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (mapping or {}).items() if v is not None}


def _attribute_list(attributes: Mapping[str, str] | None) -> list[dict[str, str]]:
    if attributes is None:
        return []
    if not isinstance(attributes, Mapping):
        raise InvalidParameterError("attributes must be a mapping of attribute name to value")
    return [{"Name": str(name), "Value": str(value)} for name, value in attributes.items()]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class UserPoolProvider:
    """Cognito user pool operations for one app client."""

    name = "userpool"
    sign_in_spec = "sign_in"
    flow_steps = frozenset(STEPS)

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
        password: str,
        *,
        attributes: Mapping[str, str] | None,
        validation_data: Mapping[str, str] | None,
        client_metadata: Mapping[str, str] | None,
    ) -> SignUpResult:
        """Register a user; the answer says whether a confirmation code was sent."""
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
        return SignUpResult(
            confirmed=bool(answer.get("UserConfirmed")),
            user_sub=answer.get("UserSub"),
            code_delivery=CodeDeliveryDetails.from_service(answer.get("CodeDeliveryDetails")),
        )

    def confirm_sign_up(
        self, username: str, code: str, *, client_metadata: Mapping[str, str] | None
    ) -> SignUpResult:
        """Confirm a registration with the code the user received."""
        params: dict[str, Any] = {
            "ClientId": self._client_id,
            "Username": username,
            "ConfirmationCode": code,
            "ClientMetadata": dict(client_metadata) if client_metadata else None,
        }
        self._with_secret(params, username)
        self._call("confirm_sign_up", params, code)
        return SignUpResult(confirmed=True)

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
        """The Cognito challenge loop for ``request`` as a flow without I/O."""
        return cognito_sign_in(self._pool, request)

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

    def refresh(self, tokens: Tokens) -> RawTokens:
        """New id and access tokens from the refresh token (the refresh token is kept)."""
        if not tokens.refresh_token:
            raise InvalidParameterError("The session has no refresh token")
        auth: dict[str, Any] = {"REFRESH_TOKEN": tokens.refresh_token}
        # The internal user name (the access token's `username`), not an alias.
        self._with_secret(auth, tokens.username or "", "SECRET_HASH")
        answer = self._call(
            "initiate_auth",
            {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": self._client_id, "AuthParameters": auth},
            tokens.refresh_token,
        )
        result = answer.get("AuthenticationResult")
        if not result:
            raise InvalidParameterError("The refresh answered without tokens")
        self._note_received(answer)
        return raw_tokens(result, tokens.refresh_token)

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

    def revoke_token(self, refresh_token: str) -> None:
        """Revoke this session's refresh token (and the tokens issued from it)."""
        params: dict[str, Any] = {"Token": refresh_token, "ClientId": self._client_id}
        if self._pool.app_client_secret:
            params["ClientSecret"] = self._pool.app_client_secret
        self._call("revoke_token", params, refresh_token)
