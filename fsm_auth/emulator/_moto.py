"""Access to moto's in-process backend state (the emulator's only moto-importing corner)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from moto.cognitoidentity.models import cognitoidentity_backends
from moto.cognitoidp.models import (
    CognitoIdpBackend,
    CognitoIdpUser,
    CognitoIdpUserPool,
    CognitoIdpUserPoolClient,
    UserStatus,
    cognitoidp_backends,
)
from moto.core.models import DEFAULT_ACCOUNT_ID

from ._errors import CognitoError, not_authorized

ACCOUNT = DEFAULT_ACCOUNT_ID
# moto routes unsigned Cognito requests to us-east-1; the emulator keeps everything there.
REGION = "us-east-1"

__all__ = [
    "ACCOUNT",
    "REGION",
    "CognitoIdpUser",
    "CognitoIdpUserPool",
    "CognitoIdpUserPoolClient",
    "UserStatus",
    "cognitoidentity_backends",
]

# Sign-in time by origin_jti (one sign-in session), for the auth_time claim.
_AUTH_TIMES: dict[str, int] = {}
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
# Cognito's defaults when a client sets no validity: 60 min access/id, 30 days refresh.
_DEFAULT_VALIDITY = {
    "AccessToken": (1, "hours"),
    "IdToken": (1, "hours"),
    "RefreshToken": (30, "days"),
}


def idp() -> CognitoIdpBackend:
    """The emulator's cognito-idp backend."""
    return cognitoidp_backends[ACCOUNT][REGION]


def validity_seconds(client: CognitoIdpUserPoolClient, token: str) -> int:
    """Lifetime of ``token`` ("AccessToken", "IdToken", "RefreshToken") for a client."""
    config = client.extended_config
    default_value, default_unit = _DEFAULT_VALIDITY[token]
    value = config.get(f"{token}Validity")
    unit = (config.get("TokenValidityUnits") or {}).get(token)
    if value is None:
        value, unit = default_value, default_unit
    return int(value) * _UNIT_SECONDS[unit or default_unit]


def pool_by_client(client_id: str) -> tuple[CognitoIdpUserPool, CognitoIdpUserPoolClient]:
    """The pool and app client of ``client_id`` (ResourceNotFoundException otherwise)."""
    for pool in idp().user_pools.values():
        client = pool.clients.get(client_id)
        if client is not None:
            return pool, client
    raise CognitoError("ResourceNotFoundException", "User pool client does not exist.")


def pool_by_id(pool_id: str) -> CognitoIdpUserPool:
    """The pool ``pool_id`` (ResourceNotFoundException otherwise)."""
    pool = idp().user_pools.get(pool_id)
    if pool is None:
        raise CognitoError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
    return pool


def user_of(pool: CognitoIdpUserPool, username: str) -> CognitoIdpUser:
    """A user by username or alias (UserNotFoundException otherwise)."""
    user = pool._get_user(username) if username else None
    if user is None:
        raise CognitoError("UserNotFoundException", "User does not exist.")
    return user


def user_by_alias(pool: CognitoIdpUserPool, name: str) -> CognitoIdpUser | None:
    """A user by user name or, in a pool with ``AliasAttributes``, by a verified alias.

    moto knows ``UsernameAttributes`` but not aliases; an e-mail or phone alias counts only
    once verified (``preferred_username`` needs no verification), as in Cognito.
    """
    user: CognitoIdpUser | None = pool.users.get(name)
    if user is not None or not name:
        return user
    for alias in pool.extended_config.get("AliasAttributes") or ():
        for candidate in pool.users.values():
            lookup = candidate.attribute_lookup
            verified = alias == "preferred_username" or lookup.get(f"{alias}_verified") == "true"
            if verified and lookup.get(alias) == name:
                return candidate
    return None


def alias_format(pool: CognitoIdpUserPool, username: str) -> str | None:
    """The alias attribute ``username`` looks like (so may not be a user name), if any."""
    aliases = pool.extended_config.get("AliasAttributes") or ()
    if "email" in aliases and "@" in username:
        return "email"
    if "phone_number" in aliases and username.startswith("+") and username[1:].isdigit():
        return "phone"
    return None


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT without checking it (the emulator issued it itself)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def pool_of_token(token: str) -> CognitoIdpUserPool | None:
    """The pool that issued a JWT, by its ``iss``."""
    iss = str(unverified_claims(token).get("iss", ""))
    return idp().user_pools.get(iss.rsplit("/", 1)[-1]) if iss else None


def secret_hash(secret: str, client_id: str, username: str) -> str:
    """The SECRET_HASH a client with a secret sends."""
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def check_secret_hash(client: CognitoIdpUserPoolClient, given: str | None, *usernames: str) -> None:
    """Refuse a missing or wrong SECRET_HASH when the client has a secret.

    The hash must be computed for one of ``usernames``; callers pass the one name the service
    expects for the operation (the name sent, or the internal user name), not a list of guesses.
    """
    if not client.generate_secret:
        return
    if given and any(
        hmac.compare_digest(secret_hash(client.secret, client.id, name), given)
        for name in usernames
        if name
    ):
        return
    raise not_authorized(f"Unable to verify secret hash for client {client.id}")


def patch_pool(
    pool: CognitoIdpUserPool,
    clock: Callable[[], float],
    refresh_issued: dict[str, float],
) -> None:
    """Make a pool's tokens follow its clients' validity settings and note refresh issue times.

    moto signs every token for one hour and never expires refresh tokens; the real service
    honours ``AccessTokenValidity``/``IdTokenValidity``/``TokenValidityUnits`` per client.
    Instance attributes shadow the class methods for this pool only.
    """
    if getattr(pool, "_fsm_auth_patched", False):
        return
    cls = type(pool)

    def create_jwt(
        client_id: str,
        username: str,
        token_use: str,
        expires_in: int = 3600,
        extra_data: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        client = pool.clients.get(client_id)
        if token_use == "id" and extra_data:
            # moto copies attribute strings; real id tokens carry *_verified as booleans.
            extra_data = {
                k: (v == "true") if k.endswith("_verified") and isinstance(v, str) else v
                for k, v in extra_data.items()
            }
        origin = (extra_data or {}).get("origin_jti")
        if origin:
            # Refreshed tokens keep the time of the sign-in they descend from, as Cognito's do.
            auth_time = _AUTH_TIMES.setdefault(str(origin), int(clock()))
            extra_data = {**(extra_data or {}), "auth_time": auth_time}
        if client is not None:
            expires_in = validity_seconds(
                client, "AccessToken" if token_use == "access" else "IdToken"
            )
        result: tuple[str, int] = cls.create_jwt(
            pool, client_id, username, token_use, expires_in, extra_data
        )
        return result

    def create_refresh_token(client_id: str, username: str) -> tuple[str, str]:
        result: tuple[str, str] = cls.create_refresh_token(pool, client_id, username)
        refresh_issued[result[0]] = clock()
        return result

    setattr(pool, "create_jwt", create_jwt)  # noqa: B010 (mypy forbids assigning methods)
    setattr(pool, "create_refresh_token", create_refresh_token)  # noqa: B010
    if pool.extended_config.get("AliasAttributes"):
        setattr(pool, "_get_user", lambda name: user_by_alias(pool, name))  # noqa: B010
    setattr(pool, "_fsm_auth_patched", True)  # noqa: B010


def patch_all_pools(clock: Callable[[], float], refresh_issued: dict[str, float]) -> None:
    """Patch every pool (pools may be created through the admin API at any time)."""
    for pool in list(idp().user_pools.values()):
        patch_pool(pool, clock, refresh_issued)


def ensure_bucket(name: str) -> None:
    """Create an S3 bucket unless it exists (bucket names are global)."""
    from moto.s3.models import s3_backends

    if name not in s3_backends.bucket_accounts:
        s3_backends[ACCOUNT]["aws"].create_bucket(name, REGION)


class _CachedRSAKey:
    """``jwk.RSAKey`` whose ``import_key`` imports moto's one signing key only once."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._cache: dict[str, Any] = {}

    def import_key(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        cache_key = json.dumps(data, sort_keys=True, default=str) + repr((args, kwargs))
        if cache_key not in self._cache:
            self._cache[cache_key] = self._real.import_key(data, *args, **kwargs)
        return self._cache[cache_key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _CachedJwk:
    """Stands in for ``joserfc.jwk`` inside moto's Cognito models."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.RSAKey = _CachedRSAKey(real.RSAKey)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def cache_signing_key() -> None:
    """Make new user pools reuse moto's (fixed) signing key instead of re-importing it.

    Every moto pool imports the same private RSA key, which costs ~120 ms (prime recovery);
    tests provision a pool each, so the import is done once per process.
    """
    import moto.cognitoidp.models as models

    current = getattr(models, "jwk")  # noqa: B009 (not re-exported: mypy needs getattr)
    if not isinstance(current, _CachedJwk):
        setattr(models, "jwk", _CachedJwk(current))  # noqa: B010
