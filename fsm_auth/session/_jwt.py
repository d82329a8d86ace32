"""Verifying Cognito user pool tokens against the pool's JWKS.

``JWKSCache`` holds the pool's public keys by ``kid``: fetched lazily (size-capped, with one
deadline per fetch), refetched when a token names an unknown ``kid`` (rate-limited whatever
the outcome), and exported with the session so that a restore verifies offline.
``TokenVerifier`` checks a token's signature (RS256 only), ``iss``, ``aud`` (id tokens) or
``client_id`` (access tokens), ``token_use``, ``iat`` and ``exp`` against the service's clock
(the local clock corrected by the offset learnt from fresh tokens).

PyJWT and requests are imported on first use: importing this module stays cheap.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, Protocol

from fsm_auth._per_process import PerProcess
from fsm_auth.errors import InvalidParameterError, NetworkError, NotAuthorizedError
from fsm_auth.provider import ServerClock, as_server_clock
from fsm_auth.values import Tokens

if TYPE_CHECKING:
    from fsm_auth.config import UserPoolConfig

__all__ = [
    "MAX_JWKS_BYTES",
    "JWKSCache",
    "TokenUse",
    "TokenVerifier",
    "clear_jwks_caches",
    "jwks_url",
    "shared_jwks",
]

_log = logging.getLogger(__name__)

TokenUse = Literal["id", "access"]
"""The ``token_use`` claim of a Cognito token that the verifier accepts."""

_ALGORITHM = "RS256"

MAX_JWKS_BYTES = 256 * 1024
"""The largest JWKS answer read (Cognito's is about 1 KiB; a few rotated keys stay far below)."""


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
    rate-limited whatever the outcome of the fetches before it, so that tokens with made-up
    kids cannot make us hammer the server, failing or not:

    - no fetch within ``min_fetch_interval`` seconds of the last one; after consecutive failed
      fetches the interval doubles with each failure, up to ``refetch_interval``;
    - a kid that a successful fetch has shown to be absent is not fetched again for
      ``refetch_interval`` seconds.

    A fetch that fails raises ``NetworkError``, and so does a call refused by the rate limit
    while the last fetch had failed (the kid may exist: that is not a refusal of the token).
    Each fetch has one overall deadline, ``timeout`` seconds from the request to the last byte
    (a server that drips its answer cannot hold it longer), and reads at most ``max_bytes``
    (Cognito's JWKS is about 1 KiB): a larger answer is refused without being read whole.
    """

    def __init__(
        self,
        url: str,
        *,
        refetch_interval: float = 60.0,
        min_fetch_interval: float = 5.0,
        timeout: float = 10.0,
        max_bytes: int = MAX_JWKS_BYTES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._refetch_interval = refetch_interval
        self._min_fetch_interval = min_fetch_interval
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._monotonic = monotonic
        # Replaced wholesale under the lock, read without it: the hot path takes no lock.
        self._keys: Mapping[str, Any] = {}
        self._jwks: Mapping[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()
        self._last_fetch: float | None = None
        self._failures = 0  # consecutive failed fetches
        self._last_error: str | None = None
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
        JWKS cannot be fetched (or, within the rate limit, could not be the last time).
        """
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            key = self._keys.get(kid)  # another thread may have fetched it meanwhile
            if key is None:
                if not self._may_fetch(kid):
                    if self._last_error is not None:
                        raise NetworkError(
                            f"{self._last_error} (not tried again yet: JWKS fetches are "
                            "rate-limited)"
                        )
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
        interval = self._min_fetch_interval
        if self._failures:
            interval = min(interval * 2.0 ** (self._failures - 1), self._refetch_interval)
            interval = max(interval, self._min_fetch_interval)
        if now - self._last_fetch < interval:
            return False
        if self._failures:
            return True  # the failed fetch proved nothing about this kid
        absent = self._absent_since.get(kid)
        return absent is None or now - absent >= self._refetch_interval

    def _note_absent(self, kid: str) -> None:
        self._absent_since[kid] = self._monotonic()
        self._absent_since.move_to_end(kid)
        while len(self._absent_since) > 256:  # bounded: random kids must not grow memory
            self._absent_since.popitem(last=False)

    def _fetch_locked(self) -> None:
        self.fetch_count += 1
        # Counted before the request: a fetch that fails or hangs is rate-limited too.
        self._last_fetch = self._monotonic()
        try:
            download = jwks_downloader.get() or _download
            body = download(self.url, timeout=self._timeout, max_bytes=self._max_bytes)
            try:
                jwks, keys = _parse_jwks(_json_loads(body))
            except ValueError as exc:  # includes a body that is not JSON
                raise NetworkError(f"the JWKS from {self.url} is unusable: {exc}") from None
        except NetworkError as exc:
            self._failures += 1
            self._last_error = exc.message
            raise
        self._jwks, self._keys = jwks, keys
        self._failures = 0
        self._last_error = None


# A pool's JWKS is public and the same for every client of the pool: what the network gave is
# kept once per URL per process, so a client built per user (a server) does not fetch it again
# and unknown kids are rate-limited across clients. Bounded: a process serves a few pools.
_MAX_SHARED_JWKS = 64
_shared_jwks: PerProcess[str, JWKSCache] = PerProcess(JWKSCache, most=_MAX_SHARED_JWKS)


def shared_jwks(url: str) -> JWKSCache:
    """This process's cache of the JWKS fetched from ``url``, shared by every client of the
    pool. Only what the network answered goes in it (never keys loaded from a saved session,
    which belong to that client)."""
    return _shared_jwks.get(url)


def clear_jwks_caches() -> None:
    """Forget the JWKS this process has fetched: what a fresh process starts with (the next
    verification that needs a key fetches it, or uses the keys saved with the session)."""
    _shared_jwks.clear()


def _json_loads(body: bytes) -> Any:
    import json

    try:
        return json.loads(body)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"not JSON ({type(exc).__name__})") from None


class Downloader(Protocol):
    """``download(url, *, timeout, max_bytes) -> body``, raising ``NetworkError``."""

    def __call__(self, url: str, *, timeout: float, max_bytes: int) -> bytes: ...


jwks_downloader: contextvars.ContextVar[Downloader | None] = contextvars.ContextVar(
    "fsm_auth_jwks_downloader", default=None
)
"""Who fetches a JWKS in this context: the asyncio client sets its event loop's HTTP client
(so the fetch goes out on the loop); by default :func:`_download`."""


def _download(url: str, *, timeout: float, max_bytes: int) -> bytes:
    """GET ``url`` and return its body: status 200, at most ``max_bytes``, all within
    ``timeout`` seconds from the request to the last byte. Raises ``NetworkError``.

    requests' own timeout bounds each socket operation, not the whole exchange, so the
    exchange runs in a helper thread that this one waits for until the deadline, never longer.
    The helper reads the body as it arrives (never more than the cap) and stops at its next
    read once the deadline has passed; one abandoned while the server still drips its headers
    ends when the server stops or a read times out. It holds no lock meanwhile.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()
    abandoned = threading.Event()

    def run() -> None:
        try:
            outcome["body"] = _get_capped(url, timeout, max_bytes, abandoned)
        except NetworkError as exc:
            outcome["error"] = exc
        except Exception as exc:  # anything else is a fault of the exchange, named by its type
            outcome["error"] = NetworkError(
                f"cannot fetch the JWKS from {url}: {type(exc).__name__}"
            )
        finally:
            done.set()

    thread = threading.Thread(target=run, name="fsm-auth-jwks-fetch", daemon=True)
    thread.start()
    if not done.wait(timeout):
        abandoned.set()
        raise NetworkError(
            f"cannot fetch the JWKS from {url}: no complete answer within {timeout:g} s"
        )
    error = outcome.get("error")
    if error is not None:
        raise error
    body: bytes = outcome["body"]
    return body


def _get_capped(url: str, timeout: float, max_bytes: int, abandoned: threading.Event) -> bytes:
    import requests

    def fail(problem: str) -> NetworkError:
        return NetworkError(f"cannot fetch the JWKS from {url}: {problem}")

    try:
        # identity: a compressed answer could expand past the cap before we could count it.
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        with requests.get(url, timeout=timeout, stream=True, headers=headers) as response:
            if response.status_code != 200:
                raise fail(f"HTTP {response.status_code}")
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise fail(f"the answer is {encoding}-encoded, not plain")
            length = response.headers.get("Content-Length", "").strip()
            if length.isdigit() and int(length) > max_bytes:
                raise fail(f"the answer is larger than {max_bytes} bytes")
            raw = response.raw
            # read1 returns what has arrived (one read): the deadline is checked between reads.
            read = getattr(raw, "read1", None) or raw.read
            body = bytearray()
            while not abandoned.is_set():
                chunk = read(16384, decode_content=False)
                if not chunk:
                    return bytes(body)
                body += chunk
                if len(body) > max_bytes:
                    raise fail(f"the answer is larger than {max_bytes} bytes")
            raise fail("abandoned at the deadline")
    except requests.RequestException as exc:
        raise fail(type(exc).__name__) from None


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

    ``clock`` is the service's time: a :class:`~fsm_auth.provider.ServerClock` (a plain
    callable is wrapped in one, with no offset until tokens teach it one). Expiry is judged by
    it: ``leeway`` is the slack, in seconds, tolerated on ``exp`` (and ``nbf`` if present): a
    token is accepted until ``clock() > exp + leeway``. A token issued (``iat``) further ahead
    of the local clock than the clock's tolerance is refused: no offset we accept explains it.
    PyJWT's own time checks are off. A token whose signature and claims were verified once is
    remembered by its hash; later calls only recheck the expiry.

    The issuer accepted is the pool's AWS issuer and, with an endpoint configured, also
    ``<endpoint>/<pool id>`` (what cognito-local and LocalStack issue; see
    ``UserPoolConfig.issuers``).
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
        self.issuers: tuple[str, ...] = user_pool.issuers
        self.clock: ServerClock = as_server_clock(clock)
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
        received_at: float | None = None,
    ) -> Tokens:
        """Verify an id and access token pair and build ``Tokens`` (``refresh_token`` is opaque
        and passed through). ``check_expiry=False`` reads expired tokens, for restoring a
        session that the refresh token can still renew.

        ``received_at`` (local epoch seconds) says the service has just issued these tokens,
        at that moment: their ``iat`` then sets the clock's offset before expiry is judged,
        so that a device whose clock is hours off can still sign in. Never pass it for tokens
        read back from storage."""
        id_claims = self.verify(id_token, "id", check_expiry=False)
        access_claims = self.verify(access_token, "access", check_expiry=False)
        if id_claims.get("sub") != access_claims.get("sub"):
            raise NotAuthorizedError("token check failed: the id and access tokens differ in sub")
        if received_at is not None:
            self._observe_clock(id_claims, access_claims, received_at)
        if check_expiry:
            self._check_time(id_claims, "id", fresh=received_at is not None)
            self._check_time(access_claims, "access", fresh=received_at is not None)
        expiry = min(id_claims["exp"], access_claims["exp"])
        return Tokens(
            id_token=id_token,
            access_token=access_token,
            refresh_token=refresh_token,
            expiration=datetime.fromtimestamp(expiry, tz=timezone.utc),
            id_claims=id_claims,
            access_claims=access_claims,
        )

    def _observe_clock(
        self, id_claims: Mapping[str, Any], access_claims: Mapping[str, Any], received_at: float
    ) -> None:
        issued = [c["iat"] for c in (id_claims, access_claims) if _is_number(c.get("iat"))]
        if not issued:
            return
        # The earlier of the two, as Amplify does: never correct further than both warrant.
        if not self.clock.observe(min(issued), received_at):
            _log.warning(
                "The local clock is %.0f s ahead of the user pool's, beyond the %.0f s that "
                "are corrected: token expiry is judged by the local clock",
                received_at - min(issued),
                self.clock.tolerance,
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
        if claims.get("iss") not in self.issuers:
            raise NotAuthorizedError(f"{label}: iss is not {' or '.join(self.issuers)}")
        if claims.get("token_use") != token_use:
            raise NotAuthorizedError(f"{label}: token_use is not {token_use!r}")
        client_id = self.user_pool.app_client_id
        if token_use == "id":
            aud = claims.get("aud")
            if not (aud == client_id or (isinstance(aud, list) and client_id in aud)):
                raise NotAuthorizedError(f"{label}: aud is not the app client id")
        elif claims.get("client_id") != client_id:
            raise NotAuthorizedError(f"{label}: client_id is not the app client id")
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if (value is None and name == "exp") or (value is not None and not _is_number(value)):
                raise NotAuthorizedError(f"{label}: {name} is missing or not a number")
        iat = claims.get("iat")
        if iat is not None:
            # Checked once (the result is remembered): a time in the past only gets older.
            ahead = iat - self.clock.local()
            if ahead > self.clock.tolerance:
                raise NotAuthorizedError(
                    f"{label}: iat (issued {ahead / 3600:.1f} h ahead of the local clock, "
                    f"beyond the {self.clock.tolerance / 3600:g} h tolerated for clock skew)"
                )

    def _check_time(
        self, claims: Mapping[str, Any], token_use: TokenUse, *, fresh: bool = False
    ) -> None:
        now = self.clock()
        exp = claims["exp"]
        if now > exp + self._leeway:
            when = datetime.fromtimestamp(exp, tz=timezone.utc).isoformat()
            hint = "; expired on arrival: check the device's clock" if fresh else ""
            raise NotAuthorizedError(
                f"{token_use} token check failed: exp (expired at {when}{hint})"
            )
        nbf = claims.get("nbf")
        if nbf is not None and now + self._leeway < nbf:
            raise NotAuthorizedError(f"{token_use} token check failed: nbf (not valid yet)")


def _is_number(value: object) -> bool:
    # A finite epoch that datetime can represent: NaN would never expire, 1e300 would overflow.
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return math.isfinite(value) and 0 <= value < 253402300800  # up to 9999-12-31
