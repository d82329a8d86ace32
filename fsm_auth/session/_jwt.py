"""Verifying Cognito user pool tokens against the pool's JWKS.

``JWKSCache`` holds the pool's public keys by ``kid``: fetched lazily, refetched when a token
names an unknown ``kid`` (rate-limited), and exported with the session so that a restore
verifies offline. ``TokenVerifier`` checks a token's signature (RS256 only), ``iss``,
``aud`` (id tokens) or ``client_id`` (access tokens), ``token_use`` and ``exp`` against an
injected clock.

PyJWT and requests are imported on first use: importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from fsm_auth.errors import InvalidParameterError, NetworkError, NotAuthorizedError
from fsm_auth.values import Tokens

if TYPE_CHECKING:
    from fsm_auth.config import UserPoolConfig

__all__ = ["JWKSCache", "TokenUse", "TokenVerifier", "jwks_url"]

_log = logging.getLogger(__name__)

TokenUse = Literal["id", "access"]
"""The ``token_use`` claim of a Cognito token that the verifier accepts."""

_ALGORITHM = "RS256"


def jwks_url(user_pool: UserPoolConfig) -> str:
    """The URL of the pool's JWKS: under the endpoint override if one is set, else AWS's."""
    if user_pool.endpoint:
        return f"{user_pool.endpoint.rstrip('/')}/{user_pool.pool_id}/.well-known/jwks.json"
    return (
        f"https://cognito-idp.{user_pool.region}.amazonaws.com/"
        f"{user_pool.pool_id}/.well-known/jwks.json"
    )


class JWKSCache:
    """The public keys of a user pool, by ``kid``; thread-safe.

    Keys are fetched from ``url`` on first need. A ``kid`` not in the cache triggers a refetch,
    but a kid that a fetch has already shown to be absent is not fetched again for
    ``refetch_interval`` seconds, and no refetch happens within ``min_fetch_interval`` seconds
    of the last fetch: a token with a made-up ``kid`` cannot make us hammer the server. A
    failed fetch raises ``NetworkError`` and is not rate-limited (it proved nothing).
    """

    def __init__(
        self,
        url: str,
        *,
        refetch_interval: float = 60.0,
        min_fetch_interval: float = 5.0,
        timeout: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._refetch_interval = refetch_interval
        self._min_fetch_interval = min_fetch_interval
        self._timeout = timeout
        self._monotonic = monotonic
        # Replaced wholesale under the lock, read without it: the hot path takes no lock.
        self._keys: Mapping[str, Any] = {}
        self._jwks: Mapping[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()
        self._last_fetch: float | None = None
        self._absent_since: OrderedDict[str, float] = OrderedDict()
        self.fetch_count = 0
        """How many fetches reached the server (successful or not); for tests and metrics."""

    @property
    def kids(self) -> frozenset[str]:
        """The key ids currently held."""
        return frozenset(self._keys)

    def export(self) -> dict[str, Any]:
        """The keys held, as a JWKS document (``{"keys": [...]}``) to persist with a session."""
        return {"keys": [dict(jwk) for jwk in self._jwks.values()]}

    def load(self, document: Mapping[str, Any]) -> None:
        """Replace the keys with those of a JWKS document (for example, an exported one).

        Raises ``ValueError`` if the document is not a JWKS with at least one usable RSA key.
        """
        jwks, keys = _parse_jwks(document)
        with self._lock:
            self._jwks, self._keys = jwks, keys

    def get_key(self, kid: str) -> Any:
        """The public key for ``kid``, fetching the JWKS if needed.

        Raises ``NotAuthorizedError`` if the pool has no such key and ``NetworkError`` if the
        JWKS cannot be fetched.
        """
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            key = self._keys.get(kid)  # another thread may have fetched it meanwhile
            if key is None:
                if not self._may_fetch(kid):
                    raise NotAuthorizedError(
                        "token check failed: the signing key id is not in the pool's JWKS"
                    )
                self._fetch_locked()
                key = self._keys.get(kid)
                if key is None:
                    self._note_absent(kid)
                    raise NotAuthorizedError(
                        "token check failed: the signing key id is not in the pool's JWKS"
                    )
        return key

    def _may_fetch(self, kid: str) -> bool:
        if self._last_fetch is None:
            return True
        now = self._monotonic()
        if now - self._last_fetch < self._min_fetch_interval:
            return False
        absent = self._absent_since.get(kid)
        return absent is None or now - absent >= self._refetch_interval

    def _note_absent(self, kid: str) -> None:
        self._absent_since[kid] = self._monotonic()
        self._absent_since.move_to_end(kid)
        while len(self._absent_since) > 256:  # bounded: random kids must not grow memory
            self._absent_since.popitem(last=False)

    def _fetch_locked(self) -> None:
        import requests

        self.fetch_count += 1
        try:
            response = requests.get(self.url, timeout=self._timeout)
        except requests.RequestException as exc:
            raise NetworkError(
                f"cannot fetch the JWKS from {self.url}: {type(exc).__name__}"
            ) from None
        if response.status_code != 200:
            raise NetworkError(
                f"cannot fetch the JWKS from {self.url}: HTTP {response.status_code}"
            )
        try:
            jwks, keys = _parse_jwks(response.json())
        except ValueError as exc:  # includes a body that is not JSON
            raise NetworkError(f"the JWKS from {self.url} is unusable: {exc}") from None
        self._jwks, self._keys = jwks, keys
        self._last_fetch = self._monotonic()


def _parse_jwks(document: Any) -> tuple[dict[str, Mapping[str, Any]], dict[str, Any]]:
    """Keep the RSA signing keys of a JWKS document; raise ``ValueError`` if there are none."""
    import jwt

    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    jwks: dict[str, Mapping[str, Any]] = {}
    keys: dict[str, Any] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, Mapping) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(dict(jwk), algorithm=_ALGORITHM).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            _log.warning("skipping a malformed key in the JWKS (kid %r)", jwk["kid"])
            continue
        jwks[jwk["kid"]] = dict(jwk)
        keys[jwk["kid"]] = key
    if not keys:
        raise ValueError("the JWKS holds no usable RSA signing key")
    return jwks, keys


class TokenVerifier:
    """Verifies Cognito id and access tokens of one user pool and app client.

    ``leeway`` is the clock skew, in seconds, tolerated on ``exp`` (and ``nbf`` if present):
    a token is accepted until ``clock() > exp + leeway``. ``clock`` returns epoch seconds and is
    the only time source (PyJWT's own time checks are off). A token whose signature and claims
    were verified once is remembered by its hash; later calls only recheck the expiry.
    """

    def __init__(
        self,
        user_pool: UserPoolConfig,
        *,
        jwks: JWKSCache,
        clock: Callable[[], float] = time.time,
        leeway: float = 5.0,
        cache_size: int = 64,
    ) -> None:
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self.user_pool = user_pool
        self.jwks = jwks
        self.issuer = user_pool.issuer
        self._clock = clock
        self._leeway = leeway
        self._cache_size = cache_size
        self._verified: OrderedDict[bytes, Mapping[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(
        self, token: str, token_use: TokenUse, *, check_expiry: bool = True
    ) -> dict[str, Any]:
        """Return the claims of a valid token; raise ``NotAuthorizedError`` naming the failed
        check, or ``NetworkError`` if the JWKS is needed and cannot be fetched."""
        if token_use not in ("id", "access"):
            raise InvalidParameterError(f"token_use must be 'id' or 'access', not {token_use!r}")
        if not isinstance(token, str) or not token:
            raise NotAuthorizedError(f"{token_use} token check failed: no token")
        digest = hashlib.sha256(f"{token_use}:{token}".encode()).digest()
        claims = self._verified.get(digest)
        if claims is None:
            claims = self._verify_uncached(token, token_use)
            with self._lock:
                self._verified[digest] = claims
                while len(self._verified) > self._cache_size:
                    self._verified.popitem(last=False)
        if check_expiry:
            self._check_time(claims, token_use)
        return dict(claims)

    def verify_tokens(
        self,
        id_token: str,
        access_token: str,
        refresh_token: str | None,
        *,
        check_expiry: bool = True,
    ) -> Tokens:
        """Verify an id and access token pair and build ``Tokens`` (``refresh_token`` is opaque
        and passed through). ``check_expiry=False`` reads expired tokens, for restoring a
        session that the refresh token can still renew."""
        id_claims = self.verify(id_token, "id", check_expiry=check_expiry)
        access_claims = self.verify(access_token, "access", check_expiry=check_expiry)
        if id_claims.get("sub") != access_claims.get("sub"):
            raise NotAuthorizedError("token check failed: the id and access tokens differ in sub")
        expiry = min(id_claims["exp"], access_claims["exp"])
        return Tokens(
            id_token=id_token,
            access_token=access_token,
            refresh_token=refresh_token,
            expiration=datetime.fromtimestamp(expiry, tz=timezone.utc),
            id_claims=id_claims,
            access_claims=access_claims,
        )

    def _verify_uncached(self, token: str, token_use: TokenUse) -> Mapping[str, Any]:
        import jwt

        label = f"{token_use} token check failed"
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise NotAuthorizedError(f"{label}: malformed token") from None
        if header.get("alg") != _ALGORITHM:
            raise NotAuthorizedError(f"{label}: algorithm must be {_ALGORITHM}")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise NotAuthorizedError(f"{label}: no key id (kid) in the header")
        key = self.jwks.get_key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[_ALGORITHM],
                # Signature only: each claim is checked below, against our clock, with a
                # message that says which check failed.
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise NotAuthorizedError(f"{label}: signature") from None
        except jwt.PyJWTError:
            raise NotAuthorizedError(f"{label}: malformed token") from None
        self._check_claims(claims, token_use, label)
        return claims

    def _check_claims(self, claims: Mapping[str, Any], token_use: TokenUse, label: str) -> None:
        if claims.get("iss") != self.issuer:
            raise NotAuthorizedError(f"{label}: iss is not {self.issuer}")
        if claims.get("token_use") != token_use:
            raise NotAuthorizedError(f"{label}: token_use is not {token_use!r}")
        client_id = self.user_pool.app_client_id
        if token_use == "id":
            aud = claims.get("aud")
            if not (aud == client_id or (isinstance(aud, list) and client_id in aud)):
                raise NotAuthorizedError(f"{label}: aud is not the app client id")
        elif claims.get("client_id") != client_id:
            raise NotAuthorizedError(f"{label}: client_id is not the app client id")
        for name in ("exp", "nbf"):
            value = claims.get(name)
            if (value is None and name == "exp") or (value is not None and not _is_number(value)):
                raise NotAuthorizedError(f"{label}: {name} is missing or not a number")

    def _check_time(self, claims: Mapping[str, Any], token_use: TokenUse) -> None:
        now = self._clock()
        exp = claims["exp"]
        if now > exp + self._leeway:
            when = datetime.fromtimestamp(exp, tz=timezone.utc).isoformat()
            raise NotAuthorizedError(f"{token_use} token check failed: exp (expired at {when})")
        nbf = claims.get("nbf")
        if nbf is not None and now + self._leeway < nbf:
            raise NotAuthorizedError(f"{token_use} token check failed: nbf (not valid yet)")


def _is_number(value: object) -> bool:
    # A finite epoch that datetime can represent: NaN would never expire, 1e300 would overflow.
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return math.isfinite(value) and 0 <= value < 253402300800  # up to 9999-12-31
