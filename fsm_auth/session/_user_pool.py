"""The user-pool half of a session: verified tokens that refresh themselves.

Tokens are verified against the pool's JWKS before they are trusted, from the network or from
storage. A refresh runs under the session store's cross-process lock and first looks at what
the store holds: when another process sharing the store already refreshed the same session,
its tokens are used and no request is made, so two processes refresh once between them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from fsm_auth.config import UserPoolConfig
from fsm_auth.errors import AuthError, NotSignedInError
from fsm_auth.provider import RawTokens, UserPoolProvider
from fsm_auth.session._cache import Expiring, RefreshingCache
from fsm_auth.session._jwt import JWKSCache, TokenVerifier, jwks_url
from fsm_auth.session._store import SessionStore
from fsm_auth.values import Tokens

__all__ = ["UserPoolTokens", "clear_jwks_caches"]

logger = logging.getLogger("fsm_auth.session")

# JWKS documents are public and the same for every client of a pool: one cache per URL per
# process, so a second client (or a restart of one) does not fetch them again.
_jwks_caches: dict[str, JWKSCache] = {}
_jwks_lock = threading.Lock()


def _jwks_cache(url: str) -> JWKSCache:
    with _jwks_lock:
        cache = _jwks_caches.get(url)
        if cache is None:
            cache = _jwks_caches[url] = JWKSCache(url)
        return cache


def clear_jwks_caches() -> None:
    """Forget every pool's keys in this process (the next verification fetches or restores
    them): what a fresh process starts with."""
    with _jwks_lock:
        _jwks_caches.clear()


class UserPoolTokens:
    """Verified user-pool tokens in a :class:`RefreshingCache`.

    ``provider`` gives the user-pool provider (built on first use); ``on_refreshed(tokens)`` is
    called, under the store's lock, after a refresh so that the session is saved at once.
    """

    def __init__(
        self,
        pool: UserPoolConfig,
        *,
        provider: Callable[[], UserPoolProvider],
        store: SessionStore,
        clock: Callable[[], float],
        min_validity: float,
        on_refreshed: Callable[[Tokens], None],
    ) -> None:
        self._pool = pool
        self._provider = provider
        self._store = store
        self._clock = clock
        self._min_validity = min_validity
        self._on_refreshed = on_refreshed
        self.verifier = TokenVerifier(pool, jwks=_jwks_cache(jwks_url(pool)), clock=clock)
        self.cache: RefreshingCache[Tokens] = RefreshingCache(
            self._refresh, clock=clock, min_validity=min_validity, name="tokens"
        )

    def __repr__(self) -> str:
        return f"<UserPoolTokens pool={self._pool.pool_id!r} {self.cache!r}>"

    def verify(self, raw: RawTokens, *, check_expiry: bool = True) -> Tokens:
        """Verify tokens the service (or the store) handed over."""
        return self.verifier.verify_tokens(
            raw.id_token, raw.access_token, raw.refresh_token, check_expiry=check_expiry
        )

    def keep(self, tokens: Tokens | None) -> None:
        """Cache ``tokens`` (``None`` forgets them)."""
        self.cache.set(None if tokens is None else Expiring(tokens, tokens.expiration.timestamp()))

    def current(self) -> Tokens | None:
        """The cached tokens as they are, however old, without a refresh."""
        item = self.cache.peek()
        return item.value if item is not None else None

    def close(self) -> None:
        """Stop any background refresh."""
        self.cache.close()

    # -- persistence -----------------------------------------------------------------------

    def export(self, tokens: Tokens) -> dict[str, Any]:
        """The session document's part for ``tokens``: the tokens and the JWKS that signs them."""
        return {
            "tokens": {
                "id_token": tokens.id_token,
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
            },
            "jwks": self.verifier.jwks.export(),
        }

    def restore(self, doc: Mapping[str, Any]) -> Tokens | None:
        """Verify and cache the tokens of a saved session, with no network call (the JWKS
        comes from the document). ``None``, with a warning, when they do not verify."""
        try:
            if doc.get("jwks"):
                self.verifier.jwks.load(doc["jwks"])
            saved = doc["tokens"]
            # Expired but refreshable tokens are still the session: check_expiry=False.
            tokens = self.verify(
                RawTokens(saved["id_token"], saved["access_token"], saved.get("refresh_token")),
                check_expiry=False,
            )
        except (AuthError, KeyError, TypeError, ValueError) as exc:
            logger.warning("The saved session did not verify; starting signed out (%s)", exc)
            return None
        self.keep(tokens)
        return tokens

    # -- refresh ---------------------------------------------------------------------------

    def _refresh(self, previous: Tokens | None) -> Expiring[Tokens]:
        if previous is None or not previous.refresh_token:
            raise NotSignedInError("No refresh token: the user must sign in")
        with self._store.lock():
            tokens = self._saved_by_another_process(previous)
            if tokens is None:
                raw = self._provider().refresh(previous.refresh_token, previous.username or "")
                tokens = self.verify(raw)
                self._on_refreshed(tokens)
        return Expiring(tokens, tokens.expiration.timestamp())

    def _saved_by_another_process(self, previous: Tokens) -> Tokens | None:
        """Tokens another process refreshed from the same session, if still fresh enough."""
        saved = (self._store.load() or {}).get("tokens")
        if not isinstance(saved, Mapping) or saved.get("refresh_token") != previous.refresh_token:
            return None
        if saved.get("access_token") == previous.access_token:
            return None
        try:
            tokens = self.verify(
                RawTokens(saved["id_token"], saved["access_token"], saved.get("refresh_token"))
            )
        except (AuthError, KeyError, TypeError):
            return None
        if tokens.expiration.timestamp() - self._clock() <= self._min_validity:
            return None
        return tokens
