"""The user-state machine: the ``user_state`` spec run by the engine, owning the session.

The engine holds the user state and the :class:`SessionRecord` and changes both in one step;
a transition is the only way to change either. This module supplies what the spec names:

- the guards (``_Guards``): read the record and the event (which sign-out epoch a sign-in
  started in, which session an answer is about);
- the effects (``_Effects``): save the session, fetch AWS credentials after a sign-in, keep
  the guest's credentials warm, close the caches of a session that ended;
- the policies: ``get_tokens`` / ``get_aws_credentials`` / ``get_identity_id`` look up what
  the current state's policy says and do that (one handler per policy value, no ladder on
  states); a wait is a wait on the engine for a state whose policy is not ``wait``.

Answers from the network (refreshed tokens, credentials, refusals) are committed through
guarded triggers, so an answer about a session that ended meanwhile is dropped by the spec.

Persistence is best-effort around the network: no lock of the store is held across a network
call (a refresh takes the store's separate, bounded turn to refresh, if it has one), and a store
that cannot be locked or written (a read-only or foreign directory) never stops a refresh: the
session is then kept in memory, one warning says so, and the next save that works resumes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, NoReturn, TypeVar

from fsm_auth._devices import DeviceSecret, DeviceUpdate
from fsm_auth.config import AuthConfig
from fsm_auth.engine import Change, Engine, Event, Spec
from fsm_auth.errors import (
    AuthError,
    GuestAccessNotAllowedError,
    NetworkError,
    NotAuthorizedError,
    NotSignedInError,
    SignInCancelledError,
    UnableToSignInError,
    UserNotFoundError,
)
from fsm_auth.provider import (
    HostedUIProvider,
    IdentityPoolProvider,
    RawTokens,
    UserPoolProvider,
)
from fsm_auth.signin._driver import SignInDriver
from fsm_auth.values import AWSCredentials, SignOutResult, Tokens, UserState

from . import _identity_ids as rules
from ._cache import Expiring, RefreshingCache
from ._credentials import IdentityRequests
from ._document import from_document, migrate, to_document
from ._guest_rules import guest_access_enabled
from ._live import LiveCaches
from ._record import FederatedSession, SessionRecord, User, UserPoolSession
from ._sign_out import end_browser_session, sign_out_at_server
from ._store import RefreshLockingStore, SessionStore
from ._validity import servable

__all__ = ["SessionMachine", "StateListener"]

_log = logging.getLogger("fsm_auth.session")

T = TypeVar("T")
StateListener = Callable[[UserState, Mapping[str, str]], None]

# Answers that mean "this session is over", as opposed to a passing failure.
_REFUSALS = (NotAuthorizedError, UserNotFoundError)
# How long a refresh waits for another process sharing the store to finish its own (whose
# tokens it then adopts) before refreshing on its own: longer than a healthy exchange, short
# enough that a stuck peer costs one extra refresh, not an outage. Callers' own timeouts apply.
_REFRESH_TURN_WAIT = 15.0
# The store's version before anything was read from it.
_UNSEEN = object()


class _Again(Exception):
    """The state or session changed under a policy: look up the policy again."""


class _Guards:
    """The guards ``specs/user_state.yaml`` names, read from the record and the event."""

    def __init__(self, config: AuthConfig) -> None:
        self._config = config

    @staticmethod
    def has_user(event: Event) -> bool:
        """The record to commit names a signed-in user."""
        return event.proposed.user is not None

    def guest_access_enabled(self, event: Event) -> bool:
        """Guest access is known to be on (for the record to commit)."""
        pool = self._config.identity_pool
        return guest_access_enabled(
            pool is not None,
            event.proposed.guest.access,
            pool.unauthenticated_identities_enabled if pool is not None else None,
        )

    @staticmethod
    def no_sign_out_since_start(event: Event) -> bool:
        """The sign-in started in the current sign-out epoch."""
        return bool(event.event_data.get("epoch") == event.data.epoch)

    @staticmethod
    def same_user(event: Event) -> bool:
        """The answer is about the session the record holds."""
        return bool(event.data.user_session_id == event.event_data.get("session_id"))

    @staticmethod
    def user_is_federated(event: Event) -> bool:
        """The signed-in user was federated with a provider's token."""
        return isinstance(event.data.user, FederatedSession)


class _Effects:
    """The effects ``specs/user_state.yaml`` names; each runs after a change, outside the
    engine's lock, in the thread that fired."""

    def __init__(self, machine: SessionMachine) -> None:
        self._machine = machine

    def save_session(self, change: Change) -> None:
        """Save the record as it is now (the latest, whichever change saves last)."""
        self._machine.save()

    def fetch_aws_credentials(self, change: Change) -> None:
        """After a sign-in, as AWSMobileClient does: a failure does not undo the sign-in;
        get_aws_credentials() reports it when the app asks."""
        self._machine.prefetch_credentials()

    def keep_guest_credentials_warm(self, change: Change) -> None:
        """Guest credentials refresh in the background while in guest mode."""
        self._machine.caches.keep_guest_warm(change.new_data.guest)

    def stop_keeping_guest_credentials_warm(self, change: Change) -> None:
        """Leaving guest mode: stop the guest's background refresh."""
        self._machine.caches.close_guest()

    def close_stale_caches(self, change: Change) -> None:
        """Close the caches of a session the record no longer holds."""
        self._machine.caches.close_stale(change.new_data)


class SessionMachine:
    """The session: user state and record (in the engine), derived caches, the store.

    ``user_pool``, ``federated`` and ``guest`` build the providers (on first use; they raise
    when their pool is not configured). Thread-safe.
    """

    def __init__(
        self,
        config: AuthConfig,
        *,
        store: SessionStore,
        clock: Callable[[], float],
        min_validity: float,
        user_pool: Callable[[], UserPoolProvider],
        federated: Callable[[], IdentityPoolProvider],
        guest: Callable[[], IdentityPoolProvider],
        hosted_ui: Callable[[], HostedUIProvider] | None = None,
        spec: Spec | str = "user_state",
    ) -> None:
        self._config = config
        self._store = store
        self._clock = clock
        self._min_validity = min_validity
        self._user_pool = user_pool
        self._hosted_ui = hosted_ui
        self._identity = IdentityRequests(federated=federated, guest=guest)
        self.caches = LiveCaches(
            clock=clock,
            min_validity=min_validity,
            refresh_tokens=self._refresh_tokens,
            fetch_user_credentials=self._fetch_user_credentials,
            fetch_guest_credentials=self._fetch_guest_credentials,
        )
        self.engine = Engine(
            spec, context=_Guards(config), effects=_Effects(self), data=SessionRecord()
        )
        loaded = self.engine.spec
        self._policy = {
            name: {state: loaded.policy(state, name) for state in loaded.states}
            for name in ("tokens", "credentials")
        }
        self._serving_tokens = frozenset(loaded.states_where("tokens", "serve"))
        self._not_waiting = tuple(
            s for s in loaded.states if self._policy["credentials"][s] != "wait"
        )
        self._init_lock = threading.Lock()
        # The store's version when this client last read or wrote it: a refresh reads the store
        # again only if another writer changed it since.
        self._seen_version: object = _UNSEEN
        # The error of the last save when it failed (the session lives in memory only until a
        # save works); None when the store holds the current record.
        self._save_guard = threading.Lock()
        self._save_error: AuthError | None = None
        self._release_generation = 0
        self._closed = False
        self._sign_in: SignInDriver | None = None

    # -- state --------------------------------------------------------------------------

    @property
    def state(self) -> UserState:
        """The user state now."""
        return UserState(self.engine.state)

    @property
    def record(self) -> SessionRecord:
        """The session record now."""
        record: SessionRecord = self.engine.data
        return record

    @property
    def epoch(self) -> int:
        """The sign-out epoch: a sign-in started now commits only if no sign-out comes first."""
        return self.record.epoch

    def initialize(self) -> UserState:
        """Restore the saved session (no network call); idempotent."""
        with self._init_lock:
            if self.engine.state == UserState.UNKNOWN:
                record = self._fit_to_config(from_document(self._load(), verify=self._verify))
                self.engine.fire("restore", data=record)
        return self.state

    def add_listener(self, callback: StateListener) -> Callable[[], None]:
        """Call ``callback(state, info)`` once per real change of the user state."""
        return self.engine.add_listener(_ListenerAdapter(callback), change=True)

    def remove_listener(self, callback: StateListener) -> None:
        """Stop calling ``callback``."""
        self.engine.remove_listener(_ListenerAdapter(callback))

    # -- sign-in and sign-out -----------------------------------------------------------

    def commit_sign_in(
        self,
        tokens: Tokens,
        keys: Mapping[str, Any] | None,
        epoch: int,
        *,
        route: str = "user_pool",
        device: DeviceUpdate | None = None,
    ) -> bool:
        """Commit a user-pool session reached by ``route`` (``user_pool``, ``hosted_ui``:
        the spec's ``<route>_signed_in``); False when a sign-out since ``epoch`` refuses it.
        ``device``: what the sign-in did to this device (a new one, or the saved one dropped),
        committed in the same step."""
        user = UserPoolSession(
            username=tokens.username or "",
            tokens=tokens,
            keys=keys,
            hosted_ui=route == "hosted_ui",
        )

        def update(record: SessionRecord) -> SessionRecord:
            record = record.signed_in(user)
            if device is not None and user.username:
                record = record.with_device(user.username, device.device)
            return record

        return self.engine.fire(f"{route}_signed_in", update=update, epoch=epoch)

    # -- this device ----------------------------------------------------------------------

    def device_for(self, name: str) -> DeviceSecret | None:
        """This device as user ``name`` (a user name, or the alias they signed in with)
        confirmed it: what a sign-in presents (``DEVICE_KEY``, device SRP)."""
        self.initialize()
        return self.record.device_of(name)

    @property
    def device_key(self) -> str | None:
        """The signed-in user's device key, or ``None``: what a refresh sends as
        ``DEVICE_KEY`` (Cognito ties a tracked device's refresh token to its device)."""
        record = self.record
        username = record.username
        device = record.device_of(username) if username else None
        return None if device is None else device.key

    def change_device(self, username: str, device: DeviceSecret | None) -> None:
        """Replace (``None``: drop) user ``username``'s device in the record, and save it."""
        self.engine.fire(
            "device_changed", update=lambda record: record.with_device(username, device)
        )

    def federated_sign_in(self, user: FederatedSession) -> UserState:
        """Ask the identity pool for ``user``'s identity and credentials, then commit the
        session; nothing is committed unless the pool accepted the login. The state then;
        :class:`SignInCancelledError` when a sign-out came while the pool was asked."""
        epoch = self.epoch
        answer = self._identity.for_user(self.record, user, {user.provider: user.token})
        from fsm_auth._event_loop import cancelled

        if cancelled():
            raise SignInCancelledError("The federated sign-in was cancelled; nothing changed")
        if not self.engine.fire(
            "federated_signed_in",
            update=lambda record: answer.update(record.signed_in(user)),
            epoch=epoch,
        ):
            raise SignInCancelledError("sign_out() came while the identity pool was asked")
        return self.state

    def sign_in_machine(self) -> SignInDriver:
        """The ``sign_in`` machine of this session (built on first use, for the user pool
        provider): sign_in() and confirm_sign_in() go through it."""
        with self._init_lock:
            if self._sign_in is None:
                self._sign_in = SignInDriver(self._user_pool(), self)
            return self._sign_in

    def sign_out(
        self, *, global_sign_out: bool = False, invalidate_tokens: bool = False
    ) -> SignOutResult:
        """End the session (to guest or signed out, as the spec's guard says), abandoning a
        sign-in in flight: its late answer will be discarded. The server's side first, as
        asked (see :func:`sign_out_at_server`); then the local sign-out, always. A store that
        could not save the signed-out state is reported as ``store_error``: it may still
        hold the session a restart would restore."""
        self.initialize()
        user = self.record.user
        global_error = revoke_error = hosted_error = None
        hosted = (
            self._hosted_ui()
            if isinstance(user, UserPoolSession) and user.hosted_ui and self._hosted_ui
            else None
        )
        if isinstance(user, UserPoolSession):
            global_error, revoke_error = sign_out_at_server(
                self._user_pool(),
                user.tokens,
                lambda: self._fresh_access_token(user.tokens),
                global_sign_out=global_sign_out,
                invalidate_tokens=invalidate_tokens,
                revoke_token=hosted.revoke_token if hosted is not None else None,
            )
        if self._sign_in is not None:
            self._sign_in.abandon()
        self.engine.fire("signed_out", update=SessionRecord.signed_out)
        store_error = self.save_error  # saving the signed-out record is best-effort too
        if hosted is not None:
            # After the local sign-out: the browser is never waited for.
            hosted_error = end_browser_session(hosted.end_browser_session)
        return SignOutResult(
            complete=all(
                e is None for e in (global_error, revoke_error, store_error, hosted_error)
            ),
            global_sign_out_error=global_error,
            revoke_error=revoke_error,
            hosted_ui_error=hosted_error,
            store_error=store_error,
        )

    def _fresh_access_token(self, tokens: Tokens) -> str:
        """``tokens``' access token, or a refreshed one when it is about to expire."""
        if self._servable(tokens.expiration.timestamp()):
            return tokens.access_token
        return self.tokens(wait=False).access_token

    # -- what each state serves ---------------------------------------------------------

    def tokens(
        self, *, wait: bool = True, timeout: float | None = None, force_refresh: bool = False
    ) -> Tokens:
        """The user-pool tokens, as the current state's ``tokens`` policy says. ``timeout``
        bounds the whole call: a refresh still running then raises :class:`NetworkError`.
        ``force_refresh``: refresh even valid tokens, with one request for every caller
        asking at once (see :meth:`RefreshingCache.refresh`)."""
        if force_refresh:
            return self._by_policy("tokens", self._FORCED_POLICIES, wait, _deadline(timeout))
        live = self.caches.tokens
        snapshot = self.engine.snapshot
        if live is not None and snapshot.state in self._serving_tokens:
            user = snapshot.data.user
            if user is not None and live.key == user.session_id:
                try:
                    return live.cache.get(timeout)
                except (*_REFUSALS, NotSignedInError):
                    if not self._moved(snapshot):
                        raise  # refused with the session kept (an impostor answer)
                    # The refusal moved the state, or another session replaced this one
                    # during the refresh (a sign-in): the policy decides below.
                except TimeoutError:
                    raise _timed_out("token refresh", timeout) from None
        return self._by_policy("tokens", self._TOKEN_POLICIES, wait, _deadline(timeout))

    def fresh_tokens(self) -> Tokens | None:
        """The tokens :meth:`tokens` would answer at once from its cache, or ``None`` when
        answering needs a refresh, a wait or the policy: no I/O, no wait (the asyncio client's
        fast path, on the event loop)."""
        live = self.caches.tokens
        snapshot = self.engine.snapshot
        if live is None or snapshot.state not in self._serving_tokens:
            return None
        user = snapshot.data.user
        if user is None or live.key != user.session_id:
            return None
        return live.cache.fresh()

    def credentials(self, *, wait: bool = True, timeout: float | None = None) -> AWSCredentials:
        """The AWS credentials, as the current state's ``credentials`` policy says; ``timeout``
        bounds the whole call, as for :meth:`tokens`."""
        return self._by_policy("credentials", self._CREDENTIAL_POLICIES, wait, _deadline(timeout))

    def identity_id(self) -> str:
        """The identity id of the signed-in user or the guest (from the record when known,
        else by fetching credentials as the policy says, without waiting for a sign-in)."""
        for _ in range(3):  # a fetch names the identity; a change of state asks again
            snapshot = self.engine.snapshot
            known = _known_identity_id(snapshot.data, self._policy["credentials"][snapshot.state])
            if known is not None:
                return known
            self.credentials(wait=False)
        raise NotSignedInError("No identity is in use: sign in, or use guest access")

    def prefetch_credentials(self) -> None:
        """Fetch the signed-in user's AWS credentials now, if an identity pool is configured."""
        if self._config.identity_pool is None:
            return
        try:
            self.credentials(wait=False)
        except AuthError as exc:
            _log.warning("Could not fetch AWS credentials after sign-in: %s", exc)

    def release_waits(self) -> None:
        """End every wait for sign-in: those calls raise :class:`UnableToSignInError`."""
        self._release_generation += 1
        self.engine.wake_waiters()

    def close(self) -> None:
        """Stop background refreshes and end every wait, now and later."""
        self._closed = True
        self.release_waits()
        self.caches.close()

    # -- policies -----------------------------------------------------------------------

    def _by_policy(
        self,
        name: str,
        handlers: Mapping[str, Callable[[SessionMachine, Any, bool, float | None], T]],
        wait: bool,
        deadline: float | None,
    ) -> T:
        while True:
            snapshot = self.engine.snapshot
            handler = handlers[self._policy[name][snapshot.state]]
            try:
                return handler(self, snapshot, wait, deadline)
            except _Again:
                continue

    def _initialize_first(self, snapshot: Any, wait: bool, deadline: float | None) -> NoReturn:
        self.initialize()
        raise _Again

    def _refuse_tokens(self, snapshot: Any, wait: bool, deadline: float | None) -> NoReturn:
        raise NotSignedInError(f"No user is signed in (user state {snapshot.state})")

    def _serve_tokens(self, snapshot: Any, wait: bool, deadline: float | None) -> Tokens:
        user = snapshot.data.user
        if not isinstance(user, UserPoolSession):
            raise NotSignedInError(
                "Signed in through federated_sign_in: there are no user pool tokens"
            )
        return self._or_again(
            snapshot, _within(self.caches.tokens_for(user), deadline, "token refresh")
        )

    def _serve_refreshed_tokens(self, snapshot: Any, wait: bool, deadline: float | None) -> Tokens:
        """``serve`` under ``force_refresh``: the tokens of a refresh made for this call."""
        user = snapshot.data.user
        if not isinstance(user, UserPoolSession):
            raise NotSignedInError(
                "Signed in through federated_sign_in: there are no user pool tokens"
            )
        cache = self.caches.tokens_for(user)

        def refresh() -> Tokens:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return cache.refresh(
                    timeout, lambda previous: self._refresh_tokens(user, previous, forced=True)
                )
            except TimeoutError:
                raise _timed_out("token refresh", timeout) from None

        return self._or_again(snapshot, refresh)

    def _wait(self, snapshot: Any, wait: bool, deadline: float | None) -> NoReturn:
        if not wait:
            raise UnableToSignInError(f"The user must sign in again (user state {snapshot.state})")
        generation = self._release_generation
        if self._closed:
            raise UnableToSignInError("The client was closed while waiting for a sign-in")
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise UnableToSignInError("Timed out waiting for the user to sign in again")
        try:
            self.engine.wait_for(
                self._not_waiting,
                remaining,
                cancelled=lambda: self._closed or self._release_generation != generation,
            )
        except TimeoutError:
            raise UnableToSignInError("Timed out waiting for the user to sign in again") from None
        if self._closed or self._release_generation != generation:
            raise UnableToSignInError("The wait for sign-in was released")
        raise _Again

    def _serve_user(self, snapshot: Any, wait: bool, deadline: float | None) -> AWSCredentials:
        user: User = snapshot.data.user
        credentials: AWSCredentials = self._or_again(
            snapshot,
            _within(self.caches.user_credentials_for(user), deadline, "AWS credentials request"),
        )
        return credentials

    def _serve_guest(self, snapshot: Any, wait: bool, deadline: float | None) -> AWSCredentials:
        guest = self.caches.guest_credentials_for(snapshot.data.guest)
        credentials: AWSCredentials = self._or_again(
            snapshot, _within(guest, deadline, "guest credentials request")
        )
        return credentials

    def _try_guest(self, snapshot: Any, wait: bool, deadline: float | None) -> NoReturn:
        # Success commits guest_credentials_obtained (signedOut -> guest); ask the new state.
        guest = self.caches.guest_credentials_for(snapshot.data.guest)
        self._or_again(snapshot, _within(guest, deadline, "guest credentials request"))
        raise _Again

    def _or_again(self, snapshot: Any, get: Callable[[], T]) -> T:
        """``get()``; when it fails because the state or session changed meanwhile (a refusal
        that moved the state, a sign-out during the request), ask the policy again."""
        try:
            return get()
        except (NotSignedInError, *_REFUSALS, GuestAccessNotAllowedError):
            if self._moved(snapshot):
                raise _Again from None
            raise

    def _moved(self, snapshot: Any) -> bool:
        """The state or the session changed since ``snapshot``."""
        now = self.engine.snapshot
        return bool(
            now.state != snapshot.state or now.data.user_session_id != snapshot.data.user_session_id
        )

    _TOKEN_POLICIES: Mapping[str, Callable[[SessionMachine, Any, bool, float | None], Tokens]] = {
        "initialize": _initialize_first,
        "serve": _serve_tokens,
        "wait": _wait,
        "refuse": _refuse_tokens,
    }
    _FORCED_POLICIES: Mapping[str, Callable[[SessionMachine, Any, bool, float | None], Tokens]] = {
        **_TOKEN_POLICIES,
        "serve": _serve_refreshed_tokens,
    }
    _CREDENTIAL_POLICIES: Mapping[
        str, Callable[[SessionMachine, Any, bool, float | None], AWSCredentials]
    ] = {
        "initialize": _initialize_first,
        "serve_user": _serve_user,
        "serve_guest": _serve_guest,
        "try_guest": _try_guest,
        "wait": _wait,
    }

    # -- fetches (run by the caches, one in flight per cache) ------------------------------

    def _refresh_tokens(
        self, user: UserPoolSession, previous: Tokens | None, *, forced: bool = False
    ) -> Expiring[Tokens]:
        current = previous or user.tokens
        session_id = user.session_id
        provider = self._user_pool()
        # The store's turn to refresh, not its lock: processes sharing the store refresh once
        # between them, while a sign-out or a save never waits for this network exchange.
        with self._refresh_turn():
            tokens = self._refreshed_by_another_process(current)
            if tokens is not None and (forced or not self._servable(tokens.expiration.timestamp())):
                # Refresh after all (asked to, or the saved tokens are too old to serve), but
                # with the newest refresh token: another process may have rotated ours out.
                current, tokens = tokens, None
            if tokens is None:
                try:
                    # A remembered device's key goes with the refresh (DEVICE_KEY); a
                    # provider is asked with it only when there is one.
                    device_key = self.device_key
                    raw = (
                        provider.refresh(current, device_key=device_key)
                        if device_key
                        else provider.refresh(current)
                    )
                    tokens = provider.verify(raw)
                except _REFUSALS as exc:
                    # Discovered when the tokens can no longer be served: a refused refresh
                    # ahead keeps serving the valid tokens until then.
                    if not self._servable(current.expiration.timestamp()):
                        _log.info("The user pool refused the refresh token (%s)", exc.code)
                        self.engine.fire("user_pool_token_refused", session_id=session_id)
                    raise
                _require_same_user(current, tokens)
            refreshed = tokens
            # Its save_session effect writes under the store's lock, briefly, before the turn
            # is released: whoever waited for the turn then finds these tokens saved.
            committed = self.engine.fire(
                "tokens_refreshed",
                update=lambda record: _with_tokens(record, session_id, refreshed),
                session_id=session_id,
            )
        if not committed:
            raise NotSignedInError("The session ended while its tokens were refreshed")
        return Expiring(tokens, tokens.expiration.timestamp())

    def _refresh_turn(self) -> AbstractContextManager[bool]:
        """The store's turn to refresh, if it offers one (else refresh without waiting)."""
        store = self._store
        if isinstance(store, RefreshLockingStore):
            return store.refresh_lock(_REFRESH_TURN_WAIT)
        return contextlib.nullcontext(False)

    def _fetch_user_credentials(self, session_id: int) -> Expiring[AWSCredentials]:
        record = self.record
        user = record.user
        if user is None or user.session_id != session_id:
            raise NotSignedInError("The session ended before its AWS credentials were fetched")
        try:
            answer = self._identity.for_user(record, user, self._logins(user))
        except NotAuthorizedError as exc:
            # A refused federated token ends that session (the spec's guard says which), once
            # the credentials can no longer be served (a refused refresh ahead is not yet).
            credentials = user.identity.credentials
            if credentials is None or not self._servable(credentials.expiration.timestamp()):
                _log.info("The identity pool refused the logins (%s)", exc.code)
                self.engine.fire("logins_refused", session_id=session_id)
            raise
        if not self.engine.fire(
            "user_credentials_obtained", update=answer.update, session_id=session_id
        ):
            raise NotSignedInError("The session ended while its AWS credentials were fetched")
        return _expiring(answer.credentials)

    def _fetch_guest_credentials(self) -> Expiring[AWSCredentials]:
        try:
            answer = self._identity.for_guest(self.record)
        except GuestAccessNotAllowedError:
            self.engine.fire("guest_access_refused", update=rules.guest_refused)
            raise
        if not self.engine.fire("guest_credentials_obtained", update=answer.update):
            raise NotSignedInError("A user signed in while guest credentials were fetched")
        return _expiring(answer.credentials)

    def _servable(self, expires_at: float) -> bool:
        """A value expiring then may still be handed out (``min_validity`` left)."""
        return servable(expires_at, self._clock(), self._min_validity)

    def _logins(self, user: User) -> Mapping[str, str]:
        """The identity pool's Logins for ``user``, with a fresh id token for a user pool
        session (a refresh refused here ends the session as in get_tokens)."""
        if isinstance(user, FederatedSession):
            return {user.provider: user.token}
        return self._user_pool().logins(self.caches.tokens_for(user).get())

    # -- persistence --------------------------------------------------------------------

    def save(self) -> None:
        """Save the current record (under the store's cross-process lock, held only for the
        write). A closed session writes nothing: a late answer must not overwrite what another
        client saved since.

        Best-effort: a store that cannot be locked or written leaves the session in memory,
        where it is served and refreshed as usual. The first failure is one WARNING; the ones
        after it, until a save works again, are DEBUG (a read-only directory would otherwise
        warn on every refresh).
        """
        if self._closed:
            return
        try:
            with self._store.lock():
                self._store.save(to_document(self.record, now=self._clock()))
                self._seen_version = self._store.version()
        except AuthError as exc:
            with self._save_guard:
                first, self._save_error = self._save_error is None, exc
            if first:
                _log.warning(
                    "Could not save the session; it is kept in memory only, and saved again "
                    "when the store accepts it: %s",
                    exc,
                )
            else:
                _log.debug("Could not save the session (kept in memory): %s", exc)
            return
        with self._save_guard:
            resumed, self._save_error = self._save_error is not None, None
        if resumed:
            _log.info("The session is saved again")

    @property
    def save_error(self) -> AuthError | None:
        """Why the last save failed, or None when the store holds the current record."""
        with self._save_guard:
            return self._save_error

    def _load(self) -> Mapping[str, Any] | None:
        try:
            return self._read_store()
        except NetworkError:
            # A store on the network that is down (Redis) may hold a session: starting
            # without it would sign the user out here. initialize() raises, stays `unknown`,
            # and the next call tries again.
            raise
        except AuthError as exc:
            _log.warning("Could not read the saved session; starting without it: %s", exc)
            return None

    def _read_store(self) -> Mapping[str, Any] | None:
        """``store.load()``, remembering the version read (``AuthError`` from the store)."""
        version = self._store.version()
        loaded = self._store.load()
        # Read (or found unusable, which the store logged) as of `version` at least.
        self._seen_version = version
        return loaded

    def _verify(self, raw: RawTokens, keys: Mapping[str, Any] | None) -> Tokens:
        # Expired tokens that the refresh token renews are still the session.
        return self._user_pool().verify(raw, keys=keys, check_expiry=False)

    def _fit_to_config(self, record: SessionRecord) -> SessionRecord:
        """Drop what the configuration cannot serve (a federated user without an identity
        pool; a user pool session is already dropped by ``_verify``)."""
        if isinstance(record.user, FederatedSession) and self._config.identity_pool is None:
            return SessionRecord(guest=record.guest, devices=record.devices)
        return record

    def _refreshed_by_another_process(self, current: Tokens) -> Tokens | None:
        """Tokens another process sharing the store refreshed from the same session (the
        same refresh token, or its rotated successor), however old: the caller serves them
        if still fresh enough, else refreshes with their refresh token. Reads the store only
        if another writer changed it since this client last read or wrote it."""
        try:
            if self._store.version() == self._seen_version:
                return None
            loaded = self._read_store()
        except AuthError as exc:
            # Only a chance to save a request: the refresh goes on without it.
            _log.debug("Could not read the store before refreshing: %s", exc)
            return None
        document = migrate(loaded or {}) or {}
        user = document.get("user")
        saved = user.get("tokens") if isinstance(user, Mapping) else None
        if not isinstance(saved, Mapping) or saved.get("access_token") == current.access_token:
            return None
        refresh_token = saved.get("refresh_token")
        # The same refresh token, or (an app client that rotates refresh tokens) a newer one of
        # the same sign-in, judged from the verified tokens below.
        rotated = refresh_token != current.refresh_token
        if rotated and not (isinstance(refresh_token, str) and refresh_token):
            return None
        try:
            tokens = self._user_pool().verify(
                RawTokens(str(saved["id_token"]), str(saved["access_token"]), refresh_token),
                check_expiry=False,
            )
        except (AuthError, KeyError, TypeError):
            return None
        if rotated and not _same_sign_in(current, tokens):
            return None
        try:
            _require_same_user(current, tokens)
        except NotAuthorizedError:
            return None
        return tokens


def _require_same_user(current: Tokens, refreshed: Tokens) -> None:
    """Refuse refreshed tokens about another user than the session's (OpenID Connect Core
    12.2: the ``sub`` of a refreshed id token must be the original one's): an impostor or
    misrouted answer must not switch the session to someone else. Nothing is committed and
    the session is kept."""
    for before, after in (
        (current.id_claims.get("sub"), refreshed.id_claims.get("sub")),
        (current.username, refreshed.username),
    ):
        # A claim the session's tokens lack cannot be compared; every verified Cognito token
        # has both.
        if before is None or before == after:
            continue
        raise NotAuthorizedError(
            "The refresh answered for another user than the session's (its tokens name "
            "another subject); the answer was refused and the session kept"
        )


def _same_sign_in(current: Tokens, saved: Tokens) -> bool:
    """``saved`` continues the sign-in of ``current``, newer: same subject, same sign-in
    (refreshes keep the sign-in's ``event_id`` and ``auth_time``; each that both tokens carry
    must agree, and at least one must be there), issued no earlier. A refresh token another
    process saved under these conditions is the rotated successor of ours. (``origin_jti`` is
    not compared: whether a rotated refresh token keeps it is the service's business.)"""
    before, after = current.access_claims, saved.access_claims
    if before.get("sub") is None or before.get("sub") != after.get("sub"):
        return False
    compared = [c for c in ("event_id", "auth_time") if c in before and c in after]
    if not compared or any(before[c] != after[c] for c in compared):
        return False
    return bool(float(after.get("iat", 0)) >= float(before.get("iat", 0)))


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _within(cache: RefreshingCache[T], deadline: float | None, what: str) -> Callable[[], T]:
    """``cache.get`` bounded by ``deadline`` (monotonic), a refresh past it a NetworkError."""

    def get() -> T:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return cache.get(timeout)
        except TimeoutError:
            raise _timed_out(what, timeout) from None

    return get


def _timed_out(what: str, timeout: float | None) -> NetworkError:
    """The caller's timeout ran out while a refresh was still waiting for the service."""
    return NetworkError(
        f"The {what} did not finish within the timeout ({timeout or 0:g} s); it goes on in "
        "the background and nothing changed"
    )


def _with_tokens(record: SessionRecord, session_id: int, tokens: Tokens) -> SessionRecord:
    user = record.user
    if isinstance(user, UserPoolSession) and user.session_id == session_id:
        return record.with_user(user.with_tokens(tokens))
    return record


def _expiring(credentials: AWSCredentials) -> Expiring[AWSCredentials]:
    return Expiring(credentials, credentials.expiration.timestamp())


def _known_identity_id(record: SessionRecord, policy: str) -> str | None:
    """The identity id the record already knows for what the state serves."""
    if policy in ("serve_user", "wait") and record.user is not None:
        return record.user.identity.identity_id
    if policy == "serve_guest":
        return record.guest.identity_id
    return None


class _ListenerAdapter:
    """An engine listener for a user-state listener: real changes only, with their info.

    Equal to another adapter of the same callback, so removing a callback finds it.
    """

    __slots__ = ("callback",)

    def __init__(self, callback: StateListener) -> None:
        self.callback = callback

    def __call__(self, change: Change) -> None:
        if change.old_state != change.new_state:
            self.callback(UserState(change.new_state), change.new_data.info())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _ListenerAdapter):
            return bool(self.callback == other.callback)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.callback)
