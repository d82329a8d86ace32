"""``AsyncAuthClient``: the asyncio driver of the same machine as :class:`AuthClient`.

One implementation of every rule: an ``AsyncAuthClient`` holds an ``AuthClient`` (the same
specs, engine rules, protocol steps, providers and stores) and drives it so that nothing
blocks the event loop:

- every request goes out on the loop, through aiohttp (:mod:`fsm_auth._async_transport`): the
  providers' transports hand their calls to the loop;
- the machine's work between requests (the engine, SRP arithmetic, token verification, the
  store's file, keyring or Redis I/O, waits for a sign-in) runs in a worker thread of a
  process-wide pool, never on the loop's thread;
- cached tokens are answered on the loop at once (no thread, no I/O); a refresh, or fetching
  AWS credentials, is one flight however many tasks ask (and the machine's own single flight
  and the store's lock make it one across threads and processes, as for ``AuthClient``).

Cancelling a call never changes the state: the call's work goes on but commits nothing (a late
sign-in answer is discarded, its refresh token revoked; a federated sign-in is not made), and
a cancelled wait for a refresh or for credentials leaves the flight running for the other
tasks. A request already on the wire
may still take effect at the service (a sign-up, an attribute update).

User-state listeners are called on the loop, in order; a listener may be a coroutine function
(its coroutine is scheduled as a task).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from fsm_auth._setup import configure
from fsm_auth.client import AuthClient
from fsm_auth.errors import ClientClosedError
from fsm_auth.session._validity import DEFAULT_MIN_VALIDITY
from fsm_auth.values import AWSCredentials, Tokens, UserState

if TYPE_CHECKING:
    from fsm_auth.plugins import PluginRegistry
    from fsm_auth.session._store import UnscopedSessionStore
    from fsm_auth.transport import RetryPolicy, ServiceTransport

    from ._async_transport import LoopHTTP

__all__ = ["AsyncAuthClient", "AsyncUserStateListener"]

_log = logging.getLogger("fsm_auth.asyncio")

P = ParamSpec("P")
T = TypeVar("T")

AsyncUserStateListener = Callable[[UserState, Mapping[str, str]], "Awaitable[None] | None"]
"""``callback(state, info)``, a plain function or a coroutine function, called on the loop."""

# Worker threads mostly wait (for the loop's requests, the store's lock, a sign-in): many
# are cheap, and enough of them keep a thousand clients' refreshes on the wire together.
_WORKERS = 64


class _Workers:
    """The process's worker threads for every asyncio client (rebuilt in a forked child)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def pool(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    _WORKERS, thread_name_prefix="fsm-auth-async"
                )
            return self._pool

    def forget(self) -> None:
        self._lock = threading.Lock()
        self._pool = None


_workers = _Workers()
if hasattr(os, "register_at_fork"):  # POSIX: a child starts with no threads
    os.register_at_fork(after_in_child=_workers.forget)


def _in_worker(
    method: Callable[Concatenate[AuthClient, P], T],
) -> Callable[Concatenate[AsyncAuthClient, P], Coroutine[Any, Any, T]]:
    """``AuthClient.method`` as a coroutine of :class:`AsyncAuthClient` (same name, arguments
    and docstring), run in a worker thread."""

    async def run(self: AsyncAuthClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(functools.partial(method, self._sync, *args, **kwargs))

    run.__name__ = method.__name__
    run.__qualname__ = f"AsyncAuthClient.{method.__name__}"
    run.__doc__ = method.__doc__
    return run


class AsyncAuthClient:
    """:class:`AuthClient` for asyncio: every operation a coroutine under the same name, with
    the same arguments and semantics; properties and listener registration stay plain.

    Build it with :meth:`from_config`; use it with ``async with`` (or ``await close()``). It
    binds to the event loop it is first used on.
    """

    def __init__(
        self,
        config: Any,
        *,
        store: UnscopedSessionStore,
        clock: Callable[[], float] | None = None,
        retry: RetryPolicy | None = None,
        min_validity: float = DEFAULT_MIN_VALIDITY,
        plugins: PluginRegistry | None = None,
    ) -> None:
        from fsm_auth.transport import RetryPolicy

        self._retry = retry or RetryPolicy()
        self._store = store
        self._http: LoopHTTP | None = None
        self._closed = False
        self._flights: dict[Hashable, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sync = AuthClient(
            config,
            store=store,
            clock=clock,
            retry=self._retry,
            min_validity=min_validity,
            plugins=plugins,
            transports=self._transport,
        )

    @classmethod
    def from_config(
        cls,
        source: str | os.PathLike[str] | Mapping[str, Any],
        *,
        storage_dir: str | os.PathLike[str] | None = None,
        store: UnscopedSessionStore | None = None,
        endpoint_url: str | None = None,
        clock: Callable[[], float] | None = None,
        min_validity: float = DEFAULT_MIN_VALIDITY,
        retry: RetryPolicy | None = None,
        plugins: PluginRegistry | None = None,
        allow_insecure_endpoint: bool = False,
    ) -> AsyncAuthClient:
        """Build a client as :meth:`AuthClient.from_config` does (the same arguments); no I/O
        beyond reading ``source`` when it is a path."""
        config, store = configure(
            source,
            storage_dir=storage_dir,
            store=store,
            endpoint_url=endpoint_url,
            min_validity=min_validity,
            allow_insecure_endpoint=allow_insecure_endpoint,
        )
        return cls(
            config, store=store, clock=clock, retry=retry, min_validity=min_validity,
            plugins=plugins,
        )  # fmt: skip

    async def __aenter__(self) -> AsyncAuthClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncAuthClient state={self.current_user_state.value} user={self.username!r}>"

    @property
    def config(self) -> Any:
        """The configuration (:class:`~fsm_auth.config.AuthConfig`)."""
        return self._sync.config

    async def close(self) -> None:
        """Stop background work and end waits for sign-in; the session stays saved. Every
        later call raises :class:`ClientClosedError`."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(_workers.pool(), self._sync.close)
        http, self._http = self._http, None
        if http is not None:
            await http.release()
            close_store = getattr(self._store, "aclose_on", None)
            if close_store is not None:
                await close_store(http.loop)

    # -- state (plain, as AuthClient's) --------------------------------------------------------

    @property
    def current_user_state(self) -> UserState:
        """The user's state now (``UNKNOWN`` before :meth:`initialize`)."""
        return self._sync.current_user_state

    @property
    def is_signed_in(self) -> bool:
        """True only in ``UserState.SIGNED_IN``."""
        return self._sync.is_signed_in

    @property
    def username(self) -> str | None:
        """The signed-in user's name (kept while the user must sign in again)."""
        return self._sync.username

    def add_user_state_listener(self, callback: AsyncUserStateListener) -> Callable[[], None]:
        """Call ``callback(state, info)`` on the event loop on every change of the user state,
        in order; a coroutine function's coroutine runs as a task. Returns the function that
        unsubscribes this registration. Register it from the loop the client runs on; as for
        :class:`AuthClient`, a callback added twice is called twice."""
        return self._sync.add_user_state_listener(_OnLoop(callback, self._bind(), self))

    def remove_user_state_listener(self, callback: AsyncUserStateListener) -> None:
        """Stop calling ``callback`` (every registration of it); unknown callbacks are
        ignored."""
        # Equal to every _OnLoop of this callback: the machine drops each registration.
        self._sync.remove_user_state_listener(_OnLoop(callback, None, self))

    def _deliver(
        self, callback: AsyncUserStateListener, state: UserState, info: Mapping[str, str]
    ) -> None:
        try:
            result = callback(state, info)
        except Exception:
            _log.exception("A user-state listener raised")
            return
        if asyncio.iscoroutine(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._listener_done)

    def _listener_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("A user-state listener raised", exc_info=task.exception())

    # -- the operations: AuthClient's, run in a worker thread ----------------------------------

    initialize = _in_worker(AuthClient.initialize)
    sign_up = _in_worker(AuthClient.sign_up)
    confirm_sign_up = _in_worker(AuthClient.confirm_sign_up)
    resend_sign_up_code = _in_worker(AuthClient.resend_sign_up_code)
    forgot_password = _in_worker(AuthClient.forgot_password)
    confirm_forgot_password = _in_worker(AuthClient.confirm_forgot_password)
    change_password = _in_worker(AuthClient.change_password)
    get_user_attributes = _in_worker(AuthClient.get_user_attributes)
    update_user_attributes = _in_worker(AuthClient.update_user_attributes)
    verify_user_attribute = _in_worker(AuthClient.verify_user_attribute)
    confirm_verify_user_attribute = _in_worker(AuthClient.confirm_verify_user_attribute)
    delete_user = _in_worker(AuthClient.delete_user)
    set_up_totp = _in_worker(AuthClient.set_up_totp)
    verify_totp_setup = _in_worker(AuthClient.verify_totp_setup)
    update_mfa_preference = _in_worker(AuthClient.update_mfa_preference)
    fetch_mfa_preference = _in_worker(AuthClient.fetch_mfa_preference)
    remember_device = _in_worker(AuthClient.remember_device)
    forget_device = _in_worker(AuthClient.forget_device)
    list_devices = _in_worker(AuthClient.list_devices)
    sign_in = _in_worker(AuthClient.sign_in)
    confirm_sign_in = _in_worker(AuthClient.confirm_sign_in)
    show_sign_in = _in_worker(AuthClient.show_sign_in)
    sign_out = _in_worker(AuthClient.sign_out)
    federated_sign_in = _in_worker(AuthClient.federated_sign_in)
    get_identity_id = _in_worker(AuthClient.get_identity_id)
    boto3_session = _in_worker(AuthClient.boto3_session)

    async def release_sign_in_wait(self) -> None:
        """End every wait for sign-in: the waiting calls raise
        :class:`~fsm_auth.errors.UnableToSignInError`."""
        self._sync.release_sign_in_wait()

    async def get_tokens(
        self, *, wait: bool = True, timeout: float | None = None, force_refresh: bool = False
    ) -> Tokens:
        """Valid user-pool tokens, as :meth:`AuthClient.get_tokens`: cached ones at once on
        the loop; otherwise one refresh for every task asking at once (a cancelled waiter
        leaves it running for the others)."""
        self._bind()
        if not force_refresh:
            fresh = self._sync._fresh_tokens()
            if fresh is not None:
                return fresh
        call = functools.partial(
            self._sync.get_tokens, wait=wait, timeout=timeout, force_refresh=force_refresh
        )
        result: Tokens = await self._flight(("tokens", wait, timeout, force_refresh), call)
        return result

    async def get_aws_credentials(
        self, *, wait: bool = True, timeout: float | None = None
    ) -> AWSCredentials:
        """AWS credentials, as :meth:`AuthClient.get_aws_credentials`, with one fetch for
        every task asking at once."""
        call = functools.partial(self._sync.get_aws_credentials, wait=wait, timeout=timeout)
        result: AWSCredentials = await self._flight(("credentials", wait, timeout), call)
        return result

    # -- internals -------------------------------------------------------------------------

    def _bind(self) -> asyncio.AbstractEventLoop:
        """The running loop, which this client's requests go out on (the first it is used on)."""
        if self._closed:
            raise ClientClosedError("This client was closed; build a new one to go on")
        loop = asyncio.get_running_loop()
        if self._http is None:
            from ._async_transport import LoopHTTP

            self._http = LoopHTTP.acquire(loop, self._retry)
        elif self._http.loop is not loop:
            raise RuntimeError(
                "This AsyncAuthClient runs on another event loop; build one per loop"
            )
        return loop

    def _transport(
        self, service: str, region: str, endpoint_url: str | None, retry: RetryPolicy
    ) -> ServiceTransport:
        from ._async_transport import LoopTransport

        http = self._http
        if http is None:
            raise ClientClosedError("The asyncio client is not running on an event loop")
        return LoopTransport(service, region, endpoint_url=endpoint_url, retry=retry, http=http)

    def _in_context(
        self, call: Callable[[], T], cancelled: threading.Event | None = None
    ) -> Callable[[], T]:
        """``call`` as the worker runs it: a JWKS it needs is fetched on the loop too, the
        store's Redis commands too, SRP's arithmetic in a helper process
        (:mod:`fsm_auth._arithmetic`), and ``cancelled`` tells it its caller gave up."""
        from fsm_auth._arithmetic import offloaded
        from fsm_auth._event_loop import call_cancelled, event_loop
        from fsm_auth.session._jwt import jwks_downloader

        http = self._http
        context = contextvars.copy_context()
        context.run(jwks_downloader.set, None if http is None else http.download)
        # The store's I/O with an asyncio form (Redis) goes out on the loop as well.
        context.run(event_loop.set, None if http is None else http.loop)
        context.run(call_cancelled.set, cancelled)
        # SRP's modular powers in a helper process: they would hold the loop's interpreter lock.
        context.run(offloaded.set, True)
        return functools.partial(context.run, call)

    async def _run(self, call: Callable[[], T]) -> T:
        loop = self._bind()
        cancelled = threading.Event()
        future = loop.run_in_executor(_workers.pool(), self._in_context(call, cancelled))
        try:
            # Shielded: a cancelled caller does not cancel the work (a thread cannot be).
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The work goes on but commits nothing: a late sign-in answer is discarded (its
            # refresh token revoked), a federated sign-in is not committed.
            cancelled.set()
            future.add_done_callback(_consume)
            raise

    async def _flight(self, key: Hashable, call: Callable[[], T]) -> T:
        loop = self._bind()
        flight = self._flights.get(key)
        if flight is None:
            flight = loop.run_in_executor(_workers.pool(), self._in_context(call))
            self._flights[key] = flight
            flight.add_done_callback(functools.partial(self._landed, key))
        result: T = await asyncio.shield(flight)
        return result

    def _landed(self, key: Hashable, flight: asyncio.Future[Any]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        _consume(flight)


class _OnLoop:
    """A user-state listener of the machine that posts each change to ``callback`` on the
    client's loop. Equal to any other for the same callback and client, so that removing the
    callback ends every registration of it."""

    __slots__ = ("callback", "client", "loop")

    def __init__(
        self,
        callback: AsyncUserStateListener,
        loop: asyncio.AbstractEventLoop | None,
        client: AsyncAuthClient,
    ) -> None:
        self.callback, self.loop, self.client = callback, loop, client

    def __call__(self, state: UserState, info: Mapping[str, str]) -> None:
        if self.loop is None or self.client._closed:
            return  # a closed client tells nobody more
        # A closed loop: nobody is listening any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.client._deliver, self.callback, state, dict(info))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _OnLoop):
            return bool(self.callback == other.callback and self.client is other.client)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.callback)


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve a finished future's exception nobody awaits (no "never retrieved" warning)."""
    if not future.cancelled():
        future.exception()
