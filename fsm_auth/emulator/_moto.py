"""Access to moto's in-process backend state (the emulator's only moto-importing corner)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from moto.cognitoidentity.models import cognitoidentity_backends
from moto.cognitoidp.models import (
    CognitoIdpBackend,
    CognitoIdpUser,
    CognitoIdpUserPool,
    CognitoIdpUserPoolClient,
    UserStatus,
    cognitoidp_backends,
)
from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID

from ._errors import CognitoError, not_authorized
from ._grants import OAuthGrant
from ._keys import keys_of

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

# (auth_time, event_id) by origin_jti (one sign-in session): refreshed tokens keep both.
_SIGN_INS: dict[str, tuple[int, str]] = {}
# Claims the emulator sets itself; moto's extra data may not override them.
_OWN_CLAIMS = frozenset(
    {
        "sub", "iss", "aud", "client_id", "token_use", "iat", "exp", "auth_time", "jti",
        "origin_jti", "event_id", "scope", "username", "cognito:username", "cognito:groups",
        "identities", "nonce",
    }
)  # fmt: skip
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


def user_has(pool: CognitoIdpUserPool, attribute: str, value: str) -> bool:
    """Whether some user of ``pool`` has ``attribute`` equal to ``value``."""
    return any(user.attribute_lookup.get(attribute) == value for user in pool.users.values())


def alias_format(pool: CognitoIdpUserPool, username: str) -> str | None:
    """The alias attribute ``username`` looks like (so may not be a user name), if any."""
    aliases = pool.extended_config.get("AliasAttributes") or ()
    if "email" in aliases and "@" in username:
        return "email"
    if "phone_number" in aliases and username.startswith("+") and username[1:].isdigit():
        return "phone"
    return None


# Cognito's default password policy (a pool created without one gets it); moto's is weaker.
DEFAULT_PASSWORD_POLICY: Mapping[str, Any] = {
    "MinimumLength": 8,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 7,
}
# The characters Cognito counts as symbols (a space inside the password counts too).
_SYMBOLS = frozenset("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")


def password_policy_problem(policy: Mapping[str, Any], password: str) -> str | None:
    """The first rule of ``policy`` that ``password`` breaks, in Cognito's words, or None."""
    rules = {**DEFAULT_PASSWORD_POLICY, **policy}
    if len(password) < int(rules["MinimumLength"]):
        return "Password not long enough"
    checks = (
        ("RequireLowercase", str.islower, "Password must have lowercase characters"),
        ("RequireUppercase", str.isupper, "Password must have uppercase characters"),
        ("RequireNumbers", str.isdigit, "Password must have numeric characters"),
        ("RequireSymbols", _SYMBOLS.__contains__, "Password must have symbol characters"),
    )
    for rule, test, problem in checks:
        if rules.get(rule) and not any(test(c) for c in password):
            return problem
    return None


class _PolicyRefusal(JsonRESTError):
    """InvalidPasswordException as Cognito words it, raisable inside moto's own handlers."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            "InvalidPasswordException", f"Password did not conform with policy: {problem}"
        )


def check_password(pool: CognitoIdpUserPool, password: str) -> None:
    """Refuse a password that breaks the pool's policy, naming the rule it breaks."""
    policy = (pool.extended_config.get("Policies") or {}).get("PasswordPolicy") or {}
    problem = password_policy_problem(policy, password)
    if problem is not None:
        raise _PolicyRefusal(problem)


def patch_backend() -> None:
    """Make moto's own password checks (SignUp, AdminSetUserPassword...) speak as Cognito."""
    backend = idp()
    if getattr(backend, "_fsm_auth_patched", False):
        return

    def validate_password(user_pool_id: str, password: str) -> None:
        check_password(backend.describe_user_pool(user_pool_id), password)

    setattr(backend, "_validate_password", validate_password)  # noqa: B010
    setattr(backend, "_fsm_auth_patched", True)  # noqa: B010


def sign_up_without_password(
    client_id: str, username: str, attributes: list[dict[str, str]]
) -> CognitoIdpUser:
    """moto's SignUp for a user without a password (passwordless sign-in), which moto's own
    password check would refuse: the check is set aside for this one call."""
    backend = idp()
    check = backend.__dict__.get("_validate_password")
    setattr(backend, "_validate_password", lambda pool_id, password: None)  # noqa: B010
    try:
        no_password: Any = None
        user, _details = backend.sign_up(client_id, username, no_password, attributes)
    finally:
        if check is None:
            delattr(backend, "_validate_password")
        else:
            setattr(backend, "_validate_password", check)  # noqa: B010
    return user


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


def note_sign_in(origin_jti: str, auth_time: float) -> None:
    """Stamp a new sign-in session with the time the user authenticated.

    A hosted-UI sign-in authenticates at the login page (or earlier, when the browser's
    session answered), then exchanges its code: ``auth_time`` is the former, as in Cognito.
    """
    _SIGN_INS[origin_jti] = (int(auth_time), str(uuid.uuid4()))


def _sign_in_event(origin_jti: str, now: int) -> tuple[int, str]:
    """(auth_time, event_id) of the sign-in that ``origin_jti`` descends from."""
    event = _SIGN_INS.get(origin_jti)
    if event is None:
        event = _SIGN_INS.setdefault(origin_jti, (now, str(uuid.uuid4())))
    return event


def token_claims(
    pool: CognitoIdpUserPool,
    client_id: str,
    username: str,
    token_use: str,
    now: int,
    expires_in: int,
    extra_data: Mapping[str, Any] | None,
    grant: OAuthGrant | None = None,
) -> dict[str, Any]:
    """The payload of an id or access token, with every claim Cognito documents.

    Both tokens: ``sub``, ``iss``, ``token_use``, ``auth_time`` (the sign-in's, kept by
    refreshes), ``iat``, ``exp``, ``jti`` (new per token), ``origin_jti`` (the refresh token's
    session) and ``event_id`` (the sign-in event, kept by refreshes). Id tokens add ``aud``,
    ``cognito:username`` and the readable attributes (``*_verified`` as booleans); access
    tokens add ``client_id``, ``username`` and ``scope``. ``cognito:groups`` when the user
    has groups. A federated user's id token carries ``identities`` (the attribute, as JSON).
    ``grant``: what a hosted-UI sign-in granted (the access token's scopes; the nonce of its
    first id token).
    """
    extra = dict(extra_data or {})
    user = pool._get_user(username)
    origin = str(extra.get("origin_jti") or uuid.uuid4())
    auth_time, event_id = _sign_in_event(origin, now)
    # The internal user name: a UUID in pools whose users sign in with e-mail or phone.
    internal_name = user.username
    claims: dict[str, Any] = {
        "sub": user.id,
        "iss": f"https://cognito-idp.{pool.region}.amazonaws.com/{pool.id}",
        "origin_jti": origin,
        "event_id": event_id,
        "token_use": token_use,
        "auth_time": auth_time,
        "iat": now,
        "exp": now + expires_in,
        "jti": str(uuid.uuid4()),
    }
    if token_use == "access":
        claims["client_id"] = client_id
        if grant is not None:
            claims["scope"] = grant.scope_claim
        else:
            claims["scope"] = str(extra.get("scope") or "aws.cognito.signin.user.admin")
        claims["username"] = internal_name
    else:
        claims["aud"] = client_id
        claims["cognito:username"] = internal_name
        for name, value in extra.items():
            if name in _OWN_CLAIMS or name in claims:
                continue
            # moto copies attribute strings; real id tokens carry *_verified as booleans.
            if name.endswith("_verified") and isinstance(value, str):
                value = value == "true"
            claims[name] = value
        identities = _identities(user)
        if identities is not None:
            claims["identities"] = identities
        if grant is not None and grant.nonce:
            claims["nonce"] = grant.nonce
    if extra.get("cognito:groups"):
        claims["cognito:groups"] = list(extra["cognito:groups"])
    return claims


def _identities(user: CognitoIdpUser) -> list[Any] | None:
    """A federated user's ``identities`` attribute as the id token carries it (a list)."""
    raw = user.attribute_lookup.get("identities")
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def patch_pool(
    pool: CognitoIdpUserPool,
    clock: Callable[[], float],
    refresh_issued: dict[str, float],
    grants: Mapping[str, OAuthGrant] | None = None,
) -> None:
    """Make a pool sign its tokens as Cognito does, and note refresh issue times.

    moto signs every token for one hour with one key shared by all pools, and never expires
    refresh tokens; the real service honours ``AccessTokenValidity``/``IdTokenValidity``/
    ``TokenValidityUnits`` per client, signs with the pool's own keys (one for id tokens, one
    for access tokens) and puts the whole documented claim set in each token.
    Instance attributes shadow the class methods for this pool only. ``grants``: the hosted
    UI's grants by sign-in session (``origin_jti``), read whenever a token is signed.
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
        if client is not None:
            expires_in = validity_seconds(
                client, "AccessToken" if token_use == "access" else "IdToken"
            )
        origin = str((extra_data or {}).get("origin_jti") or "")
        grant = grants.get(origin) if grants is not None and origin else None
        claims = token_claims(
            pool, client_id, username, token_use, int(clock()), expires_in, extra_data, grant
        )
        key = keys_of(pool).for_use("id" if token_use == "id" else "access")
        # Cognito's header is {"kid", "alg"} only: no "typ".
        headers = {"kid": key.kid, "typ": None}
        token = jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)
        return token, expires_in

    def create_refresh_token(client_id: str, username: str) -> tuple[str, str]:
        result: tuple[str, str] = cls.create_refresh_token(pool, client_id, username)
        refresh_issued[result[0]] = clock()
        return result

    setattr(pool, "create_jwt", create_jwt)  # noqa: B010 (mypy forbids assigning methods)
    setattr(pool, "create_refresh_token", create_refresh_token)  # noqa: B010
    if pool.extended_config.get("AliasAttributes"):
        setattr(pool, "_get_user", lambda name: user_by_alias(pool, name))  # noqa: B010
    setattr(pool, "_fsm_auth_patched", True)  # noqa: B010


def patch_all_pools(
    clock: Callable[[], float],
    refresh_issued: dict[str, float],
    grants: Mapping[str, OAuthGrant] | None = None,
) -> None:
    """Patch every pool (pools may be created through the admin API at any time)."""
    patch_backend()
    for pool in list(idp().user_pools.values()):
        patch_pool(pool, clock, refresh_issued, grants)


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


# moto's UserStatus has no member for federated users; Cognito reports this status.
EXTERNAL_PROVIDER = "EXTERNAL_PROVIDER"


def federated_user(
    pool: CognitoIdpUserPool,
    provider_name: str,
    provider_type: str,
    subject: str,
    attributes: Mapping[str, str],
    now: float,
) -> CognitoIdpUser:
    """The user a federated sign-in maps to, created on first sign-in as Cognito does.

    User name ``<ProviderName>_<sub>``, status ``EXTERNAL_PROVIDER``, the ``identities``
    attribute naming the provider and the subject, and membership of the group Cognito makes
    for each provider (``<pool id>_<ProviderName>``, which puts ``cognito:groups`` into the
    tokens). ``attributes`` (already mapped to pool attribute names) are written on every
    sign-in, as Cognito updates mapped attributes each time.
    """
    username = f"{provider_name}_{subject}"
    user: CognitoIdpUser | None = pool.users.get(username)
    if user is None:
        identities = [
            {
                "userId": subject,
                "providerName": provider_name,
                "providerType": provider_type,
                "issuer": None,
                "primary": "true",
                "dateCreated": str(int(now * 1000)),
            }
        ]
        user = CognitoIdpUser(pool.id, username, None, EXTERNAL_PROVIDER, [])
        user.update_attributes([{"Name": "identities", "Value": json.dumps(identities)}])
        pool.users[username] = user
        group_name = f"{pool.id}_{provider_name}"
        backend = idp()
        if group_name not in pool.groups:
            # No role and no precedence, as Cognito makes it (moto stores what it is given).
            no_role: Any = None
            backend.create_group(
                pool.id,
                group_name,
                f"Autogenerated group for users who sign in using {provider_name}",
                no_role,
                no_role,
            )
        backend.admin_add_user_to_group(pool.id, group_name, username)
    if attributes:
        user.update_attributes([{"Name": k, "Value": v} for k, v in attributes.items()])
    return user
