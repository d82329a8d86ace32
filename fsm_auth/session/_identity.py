"""The identity-pool session: which identity is in use, its id, and its AWS credentials.

One *binding* is active at a time: the guest (unauthenticated) identity, or an authenticated
one whose logins come from a callable that is asked at every credentials fetch, so the
user pool's refreshed id tokens are used ("the logins follow the user"). Switching identity
replaces the binding: the old one's credentials are dropped and a fetch still in flight for
it is thrown away.

Identity ids, as AWSMobileClient keeps them:

- The guest identity id is kept across guest sessions and offered to the pool when a user
  signs in, so the guest's data follows the user. The pool links the guest identity to the
  login (same id) or merges it into the login's existing identity (another id); either way
  the id the service answers wins, and the guest id has been used up: it is no longer an
  unauthenticated identity, so the next guest session gets a new one.
- A kept id the pool no longer knows (ResourceNotFound, or a guest id since linked to a
  user) is forgotten and a new one asked for, once.
- A developer-authenticated login (``cognito-identity.amazonaws.com``) brings its own id.

Credentials are a :class:`RefreshingCache`: no request while valid, one fetch in flight,
refresh ahead without blocking. Guest credentials also refresh in the background, with no
caller asking: a timer thread sleeps until ``next_refresh_at()`` and refreshes; ``close()``
stops it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar

import attrs

from fsm_auth.config import IdentityPoolConfig
from fsm_auth.errors import (
    GuestAccessNotAllowedError,
    NotSignedInError,
    ResourceNotFoundError,
)
from fsm_auth.provider import IdentityPoolProvider
from fsm_auth.values import AWSCredentials, IdentityProvider

from ._cache import Expiring, RefreshingCache

__all__ = ["IdentityMode", "IdentitySession"]

IdentityMode = Literal["guest", "authenticated"]
Logins = Callable[[], Mapping[str, str]]
_T = TypeVar("_T")

_log = logging.getLogger(__name__)

_EXPORT_VERSION = 1
_DEVELOPER = IdentityProvider.DEVELOPER.value
# The guest refresh timer wakes at least this often (real seconds) to re-read the clock: a
# wall clock that jumps (a suspended laptop, a test clock) must not leave it asleep for hours.
_TIMER_INTERVAL = 1.0


@attrs.define(eq=False)
class _Binding:
    """The identity in use; its fields change under the session's lock only."""

    mode: IdentityMode
    logins: Logins | None = None
    # Known id: answered by the service, given by a developer, or the guest id offered.
    identity_id: str | None = None
    confirmed: bool = False  # identity_id is known to be this identity's (not just offered)
    explicit: bool = False  # identity_id was given (developer-authenticated)
    offered_guest: str | None = None  # the guest id offered and not yet answered for
    custom_role_arn: str | None = None
    latest: AWSCredentials | None = attrs.field(default=None, repr=False)
    resolving: threading.Lock = attrs.Factory(threading.Lock)  # one GetId at a time
    stop: threading.Event = attrs.Factory(threading.Event)
    cache: RefreshingCache[AWSCredentials] | None = None


class IdentitySession:
    """Identity ids and self-refreshing AWS credentials of one identity pool.

    ``federated`` and ``guest`` are the providers of the two kinds of identity. ``clock``
    gives epoch seconds for every expiry decision. ``on_change`` is called (never while a lock
    of this session is held, from whichever thread did the work) after the ids, the mode or
    the credentials changed, so that the caller can persist :meth:`export`. Thread-safe.
    """

    def __init__(
        self,
        identity_pool: IdentityPoolConfig,
        *,
        federated: IdentityPoolProvider,
        guest: IdentityPoolProvider,
        clock: Callable[[], float],
        min_validity: float = 30.0,
        on_change: Callable[[], None] = lambda: None,
        background_guest_refresh: bool = True,
        timer_interval: float = _TIMER_INTERVAL,
    ) -> None:
        self.identity_pool = identity_pool
        self._federated = federated
        self._guest = guest
        self._clock = clock
        self._min_validity = min_validity
        self._on_change = on_change
        self._background_guest_refresh = background_guest_refresh
        self._timer_interval = timer_interval
        self._lock = threading.RLock()
        self._binding: _Binding | None = None
        self._guest_identity_id: str | None = None
        self._guest_allowed: bool | None = None
        self._closed = False
        self._timers: set[threading.Thread] = set()

    def __repr__(self) -> str:
        return f"<IdentitySession pool={self.identity_pool.pool_id!r} mode={self.mode!r}>"

    # -- what is in use ------------------------------------------------------------------------

    @property
    def mode(self) -> IdentityMode | None:
        """``"guest"``, ``"authenticated"``, or ``None`` when no identity is in use."""
        binding = self._binding
        return None if binding is None else binding.mode

    @property
    def identity_id(self) -> str | None:
        """The id of the identity in use, when known (no request)."""
        binding = self._binding
        if binding is None:
            return None
        if binding.mode == "guest":
            return self._guest_identity_id
        return binding.identity_id if binding.confirmed else None

    @property
    def guest_identity_id(self) -> str | None:
        """The kept guest identity id (offered to the pool at the next sign-in)."""
        return self._guest_identity_id

    @property
    def guest_access_known(self) -> bool | None:
        """``True`` once the pool gave a guest identity or credentials, ``False`` once it
        refused guest access, ``None`` before either (kept across sign-in and sign-out)."""
        return self._guest_allowed

    # -- switching identity --------------------------------------------------------------------

    def authenticate(
        self,
        logins: Logins,
        *,
        identity_id: str | None = None,
        custom_role_arn: str | None = None,
    ) -> None:
        """Use an authenticated identity whose logins ``logins()`` gives at every fetch.

        ``identity_id``: a developer-authenticated identity's own id. Otherwise the kept guest
        identity id is offered to the pool. No network call.
        """
        binding = _Binding(
            "authenticated",
            logins=logins,
            identity_id=identity_id,
            confirmed=identity_id is not None,
            explicit=identity_id is not None,
            custom_role_arn=custom_role_arn,
        )
        self._switch(binding)

    def use_guest(self) -> None:
        """Use the unauthenticated (guest) identity. No network call."""
        self._switch(_Binding("guest"), unless_already="guest")

    def sign_out(self) -> None:
        """Forget the identity in use and its credentials; the guest identity id is kept."""
        self._switch(None)

    def _switch(
        self,
        binding: _Binding | None,
        *,
        notify: bool = True,
        unless_already: IdentityMode | None = None,
    ) -> None:
        """Make ``binding`` the one in use; with ``unless_already``, keep a binding of that
        mode instead (checked and swapped under one lock, so racing callers make one)."""
        if binding is not None:
            binding.cache = self._cache_for(binding)
        with self._lock:
            current = self._binding
            if (
                unless_already is not None
                and current is not None
                and (current.mode == unless_already)
            ):
                return
            old, self._binding = current, binding
        if old is not None:
            self._retire(old)
        if binding is not None and binding.mode == "guest":
            self._start_timer(binding)
        if notify:
            self._changed()

    def _cache_for(self, binding: _Binding) -> RefreshingCache[AWSCredentials]:
        return RefreshingCache(
            lambda _previous: self._fetch(binding),
            clock=self._clock,
            min_validity=self._min_validity,
            name=f"{binding.mode} AWS credentials",
            on_error=lambda exc: _log.info(
                "fsm-auth: fetching %s AWS credentials failed: %s (%s)",
                binding.mode,
                type(exc).__name__,
                getattr(exc, "code", None),
            ),
        )

    def _retire(self, binding: _Binding) -> None:
        binding.stop.set()
        if binding.cache is not None:
            binding.cache.close(timeout=0.0)

    def _current(self) -> _Binding:
        binding = self._binding
        if binding is None:
            raise NotSignedInError(
                "No identity-pool identity is in use: sign in, or use guest access"
            )
        return binding

    # -- ids and credentials -------------------------------------------------------------------

    def get_credentials(self) -> AWSCredentials:
        """The AWS credentials of the identity in use (no request while cached and valid).

        Raises ``NotAuthorizedError`` (logins refused), ``GuestAccessNotAllowedError``,
        ``NetworkError`` (nothing changes), ``NotSignedInError`` (no identity in use).
        """
        binding = self._current()
        assert binding.cache is not None
        return binding.cache.get()

    def get_identity_id(self) -> str:
        """The id of the identity in use: cached, else asked for (GetId)."""
        binding = self._current()
        if binding.mode == "guest":
            return self._guest_id(binding)[0]
        if binding.confirmed and binding.identity_id:
            return binding.identity_id
        if binding.offered_guest is not None or self._guest_identity_id is not None:
            # The offered guest id may be linked or merged: only a credentials fetch tells.
            self.get_credentials()
            if binding.confirmed and binding.identity_id:
                return binding.identity_id
        assert binding.logins is not None
        return self._authenticated_id(binding, dict(binding.logins()), offer_guest=False)

    def prefetch(self) -> None:
        """Fetch the identity id and credentials now (e.g. right after a sign-in)."""
        self.get_credentials()

    def _fetch(self, binding: _Binding) -> Expiring[AWSCredentials]:
        """The cache's fetch: runs in whichever thread refreshes, one at a time."""
        if binding.mode == "guest":
            credentials = self._fetch_guest(binding)
        else:
            credentials = self._fetch_authenticated(binding)
        with self._lock:
            binding.latest = credentials
            current = self._binding is binding
        if current:
            self._changed()
        return Expiring(credentials, credentials.expiration.timestamp())

    def _guest_id(self, binding: _Binding) -> tuple[str, bool]:
        """The kept guest id, or a new one; ``True`` when it was just obtained."""
        known = self._guest_identity_id
        if known is not None:
            return known, False
        with binding.resolving:
            known = self._guest_identity_id
            if known is not None:
                return known, False
            identity_id = self._guest_refusal_noted(
                lambda: self._guest.get_identity_id({}, identity_id=None)
            )
            with self._lock:
                self._guest_allowed = True
                if self._binding is binding:
                    self._guest_identity_id = identity_id
        self._changed()
        return identity_id, True

    def _guest_refusal_noted(self, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except GuestAccessNotAllowedError:
            with self._lock:
                changed, self._guest_allowed = self._guest_allowed is not False, False
            if changed:
                self._changed()
            raise

    def _fetch_guest(self, binding: _Binding) -> AWSCredentials:
        credentials = self._guest_refusal_noted(lambda: self._guest_credentials(binding))
        with self._lock:
            self._guest_allowed = True
        return credentials

    def _guest_credentials(self, binding: _Binding) -> AWSCredentials:
        identity_id, fresh = self._guest_id(binding)
        try:
            answered, credentials = self._guest.get_credentials(
                identity_id, {}, custom_role_arn=None
            )
        except (GuestAccessNotAllowedError, ResourceNotFoundError):
            if fresh:
                raise
            # The kept id may have been linked to a user or deleted since: start a new one
            # (if guest access itself is refused, GetId says so).
            self._forget_guest_id(identity_id)
            identity_id, _ = self._guest_id(binding)
            answered, credentials = self._guest.get_credentials(
                identity_id, {}, custom_role_arn=None
            )
        if answered != identity_id:
            with self._lock:
                if self._binding is binding:
                    self._guest_identity_id = answered
        return credentials

    def _forget_guest_id(self, identity_id: str) -> None:
        with self._lock:
            if self._guest_identity_id == identity_id:
                self._guest_identity_id = None

    def _authenticated_id(
        self, binding: _Binding, logins: Mapping[str, str], *, offer_guest: bool
    ) -> str:
        """The id to ask credentials for: known, the guest id offered, or GetId."""
        with binding.resolving:
            if binding.identity_id is not None:
                return binding.identity_id
            guest_id = self._guest_identity_id
            if offer_guest and guest_id is not None and _DEVELOPER not in logins:
                with self._lock:
                    binding.identity_id, binding.offered_guest = guest_id, guest_id
                return guest_id
            # A developer login without its id gets the provider's InvalidParameterError here.
            identity_id = self._federated.get_identity_id(logins, identity_id=None)
            with self._lock:
                binding.identity_id, binding.confirmed = identity_id, True
        if self._binding is binding:
            self._changed()
        return identity_id

    def _fetch_authenticated(self, binding: _Binding) -> AWSCredentials:
        assert binding.logins is not None
        logins = dict(binding.logins())
        identity_id = self._authenticated_id(binding, logins, offer_guest=True)
        try:
            answered, credentials = self._federated.get_credentials(
                identity_id, logins, custom_role_arn=binding.custom_role_arn
            )
        except ResourceNotFoundError:
            if binding.explicit:
                raise
            # The kept or offered id is gone: ask the pool for the login's own identity.
            with self._lock:
                if binding.identity_id == identity_id:
                    binding.identity_id, binding.confirmed = None, False
                binding.offered_guest = None
            self._forget_guest_id(identity_id)
            identity_id = self._authenticated_id(binding, logins, offer_guest=False)
            answered, credentials = self._federated.get_credentials(
                identity_id, logins, custom_role_arn=binding.custom_role_arn
            )
        with self._lock:
            offered, binding.offered_guest = binding.offered_guest, None
            if offered is not None and self._guest_identity_id == offered:
                # Linked (same id) or merged (another id): no longer a guest identity.
                self._guest_identity_id = None
            binding.identity_id, binding.confirmed = answered, True
        return credentials

    # -- persistence ---------------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """A JSON-able document of the ids, mode, custom role and credentials (secrets included:
        store it encrypted)."""
        with self._lock:
            binding = self._binding
            doc: dict[str, Any] = {
                "version": _EXPORT_VERSION,
                "mode": None if binding is None else binding.mode,
                "guest_identity_id": self._guest_identity_id,
                "guest_access_known": self._guest_allowed,
                "identity_id": None,
                "explicit_identity_id": False,
                "custom_role_arn": None,
                "credentials": None,
            }
            if binding is None:
                return doc
            if binding.mode == "authenticated" and binding.confirmed:
                doc["identity_id"] = binding.identity_id
                doc["explicit_identity_id"] = binding.explicit
            doc["custom_role_arn"] = binding.custom_role_arn
            credentials = binding.latest
        if credentials is not None and credentials.expiration.timestamp() > self._clock():
            doc["credentials"] = {
                "access_key_id": credentials.access_key_id,
                "secret_access_key": credentials.secret_access_key,
                "session_token": credentials.session_token,
                "expiration": credentials.expiration.isoformat(),
            }
        return doc

    def restore(self, doc: Mapping[str, Any], logins: Logins | None) -> None:
        """Restore what :meth:`export` produced. An authenticated identity needs ``logins``;
        without them only the guest identity id is restored. Malformed parts are ignored.
        ``on_change`` is not called (nothing changed from what was stored)."""
        if not doc:
            return
        if not isinstance(doc, Mapping) or doc.get("version") != _EXPORT_VERSION:
            _log.warning("fsm-auth: ignoring an identity session of an unknown format")
            return
        guest_id = _text(doc.get("guest_identity_id"))
        allowed = doc.get("guest_access_known")
        with self._lock:
            self._guest_identity_id = guest_id
            if isinstance(allowed, bool):
                self._guest_allowed = allowed
            elif guest_id is not None:
                self._guest_allowed = True
        mode = doc.get("mode")
        binding: _Binding | None = None
        if mode == "guest":
            binding = _Binding("guest")
        elif mode == "authenticated" and logins is not None:
            identity_id = _text(doc.get("identity_id"))
            binding = _Binding(
                "authenticated",
                logins=logins,
                identity_id=identity_id,
                confirmed=identity_id is not None,
                explicit=identity_id is not None and doc.get("explicit_identity_id") is True,
                custom_role_arn=_text(doc.get("custom_role_arn")),
            )
        if binding is not None:
            binding.latest = _credentials(doc.get("credentials"))
        self._switch(binding, notify=False)
        if binding is not None and binding.latest is not None:
            assert binding.cache is not None
            expires_at = binding.latest.expiration.timestamp()
            if expires_at > self._clock():
                binding.cache.set(Expiring(binding.latest, expires_at))

    # -- background work -----------------------------------------------------------------------

    def _start_timer(self, binding: _Binding) -> None:
        if not self._background_guest_refresh:
            return
        with self._lock:
            if self._closed or binding.stop.is_set():
                return
            thread = threading.Thread(
                target=self._run_timer,
                args=(binding,),
                name="fsm-auth-guest-credentials",
                daemon=True,
            )
            self._timers.add(thread)
        thread.start()

    def _run_timer(self, binding: _Binding) -> None:
        """Refresh the guest credentials when due, with no caller asking, until stopped."""
        cache = binding.cache
        assert cache is not None
        try:
            while not binding.stop.is_set():
                due = cache.next_refresh_at()
                now = self._clock()
                if due is None or due > now:
                    pause = self._timer_interval if due is None else due - now
                    binding.stop.wait(min(pause, self._timer_interval))
                    continue
                # Never raises: a failure backs off and the valid value keeps being served.
                cache.refresh_ahead_now()
                due = cache.next_refresh_at()
                if due is not None and due <= self._clock():
                    binding.stop.wait(self._timer_interval)  # a value too short-lived to wait
        finally:
            with self._lock:
                self._timers.discard(threading.current_thread())

    def close(self, timeout: float = 1.0) -> None:
        """Stop background work (the guest credentials timer); calls keep working after."""
        with self._lock:
            self._closed = True
            binding = self._binding
            timers = list(self._timers)
        if binding is not None:
            binding.stop.set()
            if binding.cache is not None:
                binding.cache.close(timeout)
        for thread in timers:
            thread.join(timeout)

    def _changed(self) -> None:
        try:
            self._on_change()
        except Exception:  # persistence failing must not fail the credentials
            _log.exception("fsm-auth: the identity session's on_change callback failed")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _credentials(raw: Any) -> AWSCredentials | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        return AWSCredentials(
            access_key_id=str(raw["access_key_id"]),
            secret_access_key=str(raw["secret_access_key"]),
            session_token=str(raw["session_token"]),
            expiration=datetime.fromisoformat(str(raw["expiration"])).astimezone(timezone.utc),
        )
    except (KeyError, TypeError, ValueError):
        return None
