"""The caches derived from the session record: a user's tokens, a user's or the guest's AWS
credentials.

A cache is built on demand from the record for the session it names (seeded with what the
record holds, so a restored or just-signed-in session makes no request) and is thrown away
(closed) when the record no longer names that session. It never outlives its session: a reader
that finds a cache for another session than the record's builds the right one instead. The
refresh functions it calls commit their answers through the machine, so a cache never decides
what the session is; it only keeps a value fresh with one fetch in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import attrs

from fsm_auth.values import AWSCredentials, Tokens

from ._cache import Expiring, RefreshingCache
from ._record import GuestIdentity, SessionRecord, User, UserPoolSession

__all__ = ["Live", "LiveCaches"]

T = TypeVar("T")
Key = object


@attrs.frozen(eq=False)
class Live(Generic[T]):
    """A cache and the session it belongs to (``key``)."""

    key: Key
    cache: RefreshingCache[T]


class LiveCaches:
    """The record's derived caches; thread-safe. The hot path reads :attr:`tokens` and
    compares its key with the record's session id, without a lock."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        min_validity: float,
        refresh_tokens: Callable[[UserPoolSession, Tokens | None], Expiring[Tokens]],
        fetch_user_credentials: Callable[[int], Expiring[AWSCredentials]],
        fetch_guest_credentials: Callable[[], Expiring[AWSCredentials]],
    ) -> None:
        self._clock = clock
        self._min_validity = min_validity
        self._refresh_tokens = refresh_tokens
        self._fetch_user_credentials = fetch_user_credentials
        self._fetch_guest_credentials = fetch_guest_credentials
        self._lock = threading.Lock()
        self.tokens: Live[Tokens] | None = None
        self._user_credentials: Live[AWSCredentials] | None = None
        self._guest_credentials: Live[AWSCredentials] | None = None

    # -- the caches of the current session ----------------------------------------------------

    def tokens_for(self, user: UserPoolSession) -> RefreshingCache[Tokens]:
        """The token cache of ``user``'s session (seeded with its tokens)."""
        live = self.tokens
        if live is not None and live.key == user.session_id:
            return live.cache
        with self._lock:
            live = self.tokens
            if live is None or live.key != user.session_id:
                cache: RefreshingCache[Tokens] = self._cache(
                    lambda previous: self._refresh_tokens(user, previous), "tokens"
                )
                _seed(cache, user.tokens, user.tokens.expiration.timestamp())
                old, live = live, Live(user.session_id, cache)
                self.tokens = live
                _close(old)
            return live.cache

    def user_credentials_for(self, user: User) -> RefreshingCache[AWSCredentials]:
        """The AWS credentials cache of ``user``'s session (seeded from the record)."""
        session_id = user.session_id
        live = self._user_credentials
        if live is not None and live.key == session_id:
            return live.cache
        with self._lock:
            live = self._user_credentials
            if live is None or live.key != session_id:
                cache: RefreshingCache[AWSCredentials] = self._cache(
                    lambda _previous: self._fetch_user_credentials(session_id),
                    "user AWS credentials",
                )
                _seed_credentials(cache, user.identity.credentials)
                old, live = live, Live(session_id, cache)
                self._user_credentials = live
                _close(old)
            return live.cache

    def guest_credentials_for(self, guest: GuestIdentity) -> RefreshingCache[AWSCredentials]:
        """The guest's AWS credentials cache for its identity (seeded from the record). A new
        guest identity (the old one used up by a sign-in) gets a new cache."""
        key = ("guest", guest.identity_id)
        live = self._guest_credentials
        if live is not None and (live.key == key or live.key == ("guest", None)):
            if live.key != key:
                # The cache's own first fetch named the identity: same cache, now keyed.
                with self._lock:
                    if self._guest_credentials is live:
                        self._guest_credentials = Live(key, live.cache)
            return live.cache
        with self._lock:
            live = self._guest_credentials
            if live is None or live.key != key:
                cache: RefreshingCache[AWSCredentials] = self._cache(
                    lambda _previous: self._fetch_guest_credentials(), "guest AWS credentials"
                )
                _seed_credentials(cache, guest.credentials)
                old, live = live, Live(key, cache)
                self._guest_credentials = live
                _close(old)
            return live.cache

    # -- ending them ----------------------------------------------------------------------

    def close_stale(self, record: SessionRecord) -> None:
        """Close the user caches of sessions ``record`` no longer holds."""
        session_id = record.user_session_id
        with self._lock:
            stale: list[Live[Tokens] | Live[AWSCredentials] | None] = []
            if self.tokens is not None and self.tokens.key != session_id:
                stale.append(self.tokens)
                self.tokens = None
            if self._user_credentials is not None and self._user_credentials.key != session_id:
                stale.append(self._user_credentials)
                self._user_credentials = None
        for live in stale:
            _close(live)

    def keep_guest_warm(self, guest: GuestIdentity) -> None:
        """Keep the guest's credentials fresh in the background (while in guest mode)."""
        self.guest_credentials_for(guest).keep_warm()

    def close_guest(self) -> None:
        """Stop the guest's background refresh; the next guest session builds a new cache."""
        with self._lock:
            old, self._guest_credentials = self._guest_credentials, None
        _close(old)

    def close(self, timeout: float = 1.0) -> None:
        """Close every cache: stop their background refreshes and wait up to ``timeout``
        seconds for one in flight (its answer is still committed: a refresh token the
        service rotated must not be lost)."""
        with self._lock:
            old = [self.tokens, self._user_credentials, self._guest_credentials]
            self.tokens = self._user_credentials = self._guest_credentials = None
        deadline = time.monotonic() + timeout
        for live in old:
            if live is not None:
                live.cache.close(timeout=max(0.0, deadline - time.monotonic()))

    def _cache(self, fetch: Callable[[T | None], Expiring[T]], name: str) -> RefreshingCache[T]:
        return RefreshingCache(fetch, clock=self._clock, min_validity=self._min_validity, name=name)


def _seed(cache: RefreshingCache[T], value: T, expires_at: float) -> None:
    cache.set(Expiring(value, expires_at))


def _seed_credentials(
    cache: RefreshingCache[AWSCredentials], credentials: AWSCredentials | None
) -> None:
    if credentials is not None:
        _seed(cache, credentials, credentials.expiration.timestamp())


def _close(live: Live[Tokens] | Live[AWSCredentials] | None) -> None:
    if live is not None:
        # No wait: the session ended, so a refresh in flight finishes in its own thread and
        # the machine refuses its commit (the answer is about a session it no longer holds).
        live.cache.close(timeout=0.0)
