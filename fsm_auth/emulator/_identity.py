"""The identity-pool side of the fidelity layer: identities, logins, merges, credentials.

moto hands out the same fixed keys for 90 seconds, a new identity per GetId, and accepts any
login. Here: credentials unique per call living one hour by the emulator clock, one identity
per login (provider + subject), guest identities linked or merged on sign-in, Cognito id
tokens verified (signature, issuer, expiry), and guest access refused when the pool says so.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import threading
import uuid
from typing import Any

import attrs
import jwt

from . import _moto
from ._errors import CognitoError, not_authorized
from ._keys import keys_of
from ._tokens import TokenState

_DEVELOPER = "cognito-identity.amazonaws.com"
_CREDENTIAL_SECONDS = 3600.0
_OPEN_ID_TOKEN_SECONDS = 900.0
_NO_GUESTS = "Unauthenticated access is not supported for this identity pool."
_UPPER = string.ascii_uppercase + string.digits

Login = tuple[str, str]  # (provider, subject)


@attrs.define
class _Identity:
    id: str
    pool_id: str
    logins: set[Login] = attrs.Factory(set)


@attrs.frozen
class _OpenIdToken:
    identity_id: str
    expires_at: float


class IdentityLayer:
    """Answers cognito-identity operations that moto gets wrong; the rest goes to moto."""

    def __init__(self, tokens: TokenState) -> None:
        self.tokens = tokens
        self._lock = threading.Lock()
        self._identities: dict[str, _Identity] = {}
        self._by_login: dict[tuple[str, str, str], str] = {}
        self._open_id_tokens: dict[str, _OpenIdToken] = {}

    def before(self, operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """Our answer for the identity operations, else ``None`` (moto answers)."""
        handler = {
            "GetId": self.get_id,
            "GetCredentialsForIdentity": self.get_credentials_for_identity,
            "GetOpenIdToken": self.get_open_id_token,
            "GetOpenIdTokenForDeveloperIdentity": self.get_open_id_token_for_developer_identity,
        }.get(operation)
        return handler(params) if handler is not None else None

    def after(
        self, operation: str, params: dict[str, Any], answer: dict[str, Any]
    ) -> dict[str, Any]:
        """moto's answer, unchanged."""
        return answer

    # ---- helpers ----
    def _pool(self, pool_id: str) -> Any:
        pool = _moto.cognitoidentity_backends[_moto.ACCOUNT][_moto.REGION].identity_pools.get(
            pool_id
        )
        if pool is None:
            raise CognitoError("ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.")
        return pool

    def _identity(self, identity_id: str) -> _Identity:
        identity = self._identities.get(identity_id)
        if identity is None:
            raise CognitoError("ResourceNotFoundException", f"Identity '{identity_id}' not found.")
        return identity

    def _new_identity(self, pool_id: str) -> _Identity:
        identity = _Identity(f"{_moto.REGION}:{uuid.uuid4()}", pool_id)
        self._identities[identity.id] = identity
        listing = _moto.cognitoidentity_backends[_moto.ACCOUNT][_moto.REGION].pools_identities
        listing.setdefault(pool_id, {"IdentityPoolId": pool_id, "Identities": []})
        listing[pool_id]["Identities"].append({"IdentityId": identity.id})
        return identity

    def _subject(self, pool: Any, provider: str, token: str, identity_id: str | None) -> str:
        if provider == _DEVELOPER:
            issued = self._open_id_tokens.get(token)
            if issued is None or (identity_id and issued.identity_id != identity_id):
                raise not_authorized("Invalid login token.")
            if self.tokens.clock() >= issued.expires_at:
                raise not_authorized("Invalid login token. Token expired.")
            return issued.identity_id
        if provider.startswith("cognito-idp."):
            return self._cognito_subject(pool, provider, token)
        # Other providers cannot be verified locally (tests refuse them with faults).
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            if isinstance(claims, dict) and claims.get("sub"):
                return str(claims["sub"])
        except jwt.PyJWTError:
            pass
        return hashlib.sha256(token.encode()).hexdigest()

    def _cognito_subject(self, pool: Any, provider: str, token: str) -> str:
        configured = [str(p.get("ProviderName")) for p in pool.cognito_identity_providers or []]
        if configured and provider not in configured:
            raise not_authorized("Token is not from a supported provider of this identity pool.")
        # The token must be signed by the user pool the login names, with that pool's own key.
        user_pool = _moto.idp().user_pools.get(provider.rsplit("/", 1)[-1])
        if user_pool is None:
            raise not_authorized("Invalid login token.")
        try:
            key = keys_of(user_pool).by_kid()[str(jwt.get_unverified_header(token).get("kid"))]
            claims = jwt.decode(
                token,
                key=key.private_key.public_key(),
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iat": False},
            )
        except (KeyError, jwt.PyJWTError):
            raise not_authorized("Invalid login token.") from None
        if claims.get("iss") != f"https://{provider}" or claims.get("token_use") != "id":
            raise not_authorized("Invalid login token. Issuer doesn't match providerName")
        if float(claims.get("exp", 0)) <= self.tokens.clock():
            raise not_authorized("Invalid login token. Token expired.")
        return str(claims["sub"])

    def _logins(self, pool: Any, params: dict[str, Any], identity_id: str | None) -> list[Login]:
        logins = params.get("Logins") or {}
        return [
            (str(provider), self._subject(pool, str(provider), str(token), identity_id))
            for provider, token in logins.items()
        ]

    def _link(self, identity: _Identity, logins: list[Login]) -> None:
        for provider, subject in logins:
            self._by_login[(identity.pool_id, provider, subject)] = identity.id
            identity.logins.add((provider, subject))

    def _known(self, pool_id: str, logins: list[Login]) -> _Identity | None:
        for provider, subject in logins:
            if provider == _DEVELOPER:
                return self._identities.get(subject)
            found = self._by_login.get((pool_id, provider, subject))
            if found is not None:
                return self._identities[found]
        return None

    def _credentials(self) -> dict[str, Any]:
        return {
            "AccessKeyId": "ASIA" + "".join(secrets.choice(_UPPER) for _ in range(16)),
            "SecretKey": secrets.token_urlsafe(30)[:40],
            "SessionToken": secrets.token_urlsafe(256),
            "Expiration": self.tokens.clock() + _CREDENTIAL_SECONDS,
        }

    # ---- operations ----
    def get_id(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetId: the login's identity (one per provider+subject), or a new guest identity."""
        pool_id = str(params.get("IdentityPoolId", ""))
        pool = self._pool(pool_id)
        with self._lock:
            logins = self._logins(pool, params, None)
            if not logins:
                if not pool.allow_unauthenticated_identities:
                    raise not_authorized(_NO_GUESTS)
                return {"IdentityId": self._new_identity(pool_id).id}
            identity = self._known(pool_id, logins) or self._new_identity(pool_id)
            self._link(identity, logins)
            return {"IdentityId": identity.id}

    def _resolve(self, params: dict[str, Any]) -> _Identity:
        identity = self._identity(str(params.get("IdentityId", "")))
        pool = self._pool(identity.pool_id)
        logins = self._logins(pool, params, identity.id)
        if not logins:
            if identity.logins:
                raise not_authorized(
                    "Logins don't match. Please include at least one valid login for this "
                    "identity or identity pool."
                )
            if not pool.allow_unauthenticated_identities:
                raise not_authorized(_NO_GUESTS)
            return identity
        known = self._known(identity.pool_id, logins)
        if known is not None and known.id != identity.id:
            # The login already has an identity: the offered (guest) one merges into it.
            self._link(known, logins)
            return known
        self._link(identity, logins)
        return identity

    def get_credentials_for_identity(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetCredentialsForIdentity: unique keys that live one hour by the emulator clock."""
        with self._lock:
            identity = self._resolve(params)
        return {"IdentityId": identity.id, "Credentials": self._credentials()}

    def _open_id_token(self, identity_id: str, seconds: float) -> str:
        token = secrets.token_urlsafe(96)
        self._open_id_tokens[token] = _OpenIdToken(identity_id, self.tokens.clock() + seconds)
        return token

    def get_open_id_token(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetOpenIdToken: a token usable as the ``cognito-identity.amazonaws.com`` login."""
        with self._lock:
            identity = self._resolve(params)
            token = self._open_id_token(identity.id, _OPEN_ID_TOKEN_SECONDS)
        return {"IdentityId": identity.id, "Token": token}

    def get_open_id_token_for_developer_identity(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetOpenIdTokenForDeveloperIdentity: developer logins map to one identity each."""
        pool_id = str(params.get("IdentityPoolId", ""))
        pool = self._pool(pool_id)
        logins = dict(params.get("Logins") or {})
        if not logins:
            raise CognitoError("InvalidParameterException", "Logins must not be empty.")
        expected = pool.developer_provider_name
        with self._lock:
            keys: list[Login] = []
            for provider, user_id in logins.items():
                if expected and provider != expected:
                    raise not_authorized(f"Developer provider {provider} is not configured.")
                keys.append((f"developer:{provider}", str(user_id)))
            offered = params.get("IdentityId")
            identity = self._known(pool_id, keys)
            if identity is None:
                identity = self._identity(str(offered)) if offered else self._new_identity(pool_id)
            self._link(identity, keys)
            seconds = float(params.get("TokenDuration") or _OPEN_ID_TOKEN_SECONDS)
            token = self._open_id_token(identity.id, seconds)
        return {"IdentityId": identity.id, "Token": token}
