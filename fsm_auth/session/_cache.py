"""A thread-safe cache of one expiring value that refreshes itself, one fetch at a time.

A cached value goes through three windows, chosen from its lifetime (``expires_at`` minus
the time it was stored)::

    stored ........ refresh_at ........ must_at ........ expires_at
    |--- fresh ---|--- refresh ahead ---|--- must refresh ----------|
                                        ^ expires_at - min_validity

- fresh: ``get()`` returns the value after one clock read and one comparison, no lock.
- refresh ahead: one refresh starts in the background; callers get the current value at once.
- must refresh: callers block on the one refresh in flight (started if none) and all share
  its result or its exception. A value is never handed out with less than ``min_validity``
  left, except to the callers of the very fetch that produced it (see below).

The refresh-ahead window is the last 25% of the lifetime, at least 5 s and at most 15 min,
but never more than half of the useful life (``must_at`` minus the time it was stored): a
value is served from the cache for at least half of its useful life, so a short-lived value
does not refresh on every call (botocore issue #2189), and a 1-hour value refreshes about
15 minutes before ``must_at``.

A value whose lifetime is at most ``min_validity`` has no useful life: it is returned to the
callers of the fetch that produced it, and every later ``get()`` fetches again (still one
fetch in flight at a time).

``keep_warm()`` also refreshes with no caller asking: one thread sleeps until the refresh is
due and refreshes (for values that must stay ready, such as a guest's AWS credentials), until
``close()``.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

import attrs

from ._validity import DEFAULT_MIN_VALIDITY

__all__ = ["Expiring", "RefreshingCache"]

T = TypeVar("T")

_log = logging.getLogger(__name__)

# Refresh-ahead window: this fraction of the lifetime, clamped to [_MIN_AHEAD, _MAX_AHEAD]
# and to half of the useful life.
_AHEAD_FRACTION = 0.25
_MIN_AHEAD = 5.0
_MAX_AHEAD = 15 * 60.0
# Back-off after a failed refresh ahead: 1 s doubling to 60 s, each delay jittered to
# [delay / 2, delay] so that many clients that failed together do not retry together.
_BACKOFF_BASE = 1.0
_BACKOFF_CAP = 60.0


@attrs.frozen
class Expiring(Generic[T]):
    """A value and the time it expires, in epoch seconds (``math.inf``: never)."""

    value: T = attrs.field(repr=False)  # may be a token: never in a repr
    expires_at: float


@attrs.frozen
class _Slot(Generic[T]):
    """What the hot path reads: replaced whole, never mutated, so a reader sees one pair."""

    refresh_at: float
    value: T
    must_at: float
    item: Expiring[T] | None


# Nothing cached: no time is before -inf, so every get() takes the slow path.
_EMPTY: _Slot[Any] = _Slot(-math.inf, None, -math.inf, None)


def _slot_for(item: Expiring[T], stored_at: float, min_validity: float) -> _Slot[T]:
    must_at = item.expires_at - min_validity
    useful = must_at - stored_at
    if not useful > 0:
        return _Slot(must_at, item.value, must_at, item)
    lifetime = item.expires_at - stored_at
    ahead = min(max(_AHEAD_FRACTION * lifetime, _MIN_AHEAD), _MAX_AHEAD, useful / 2)
    return _Slot(must_at - ahead, item.value, must_at, item)


def _value_of(item: Expiring[T] | None) -> T | None:
    return None if item is None else item.value


class _Flight(Generic[T]):
    """One fetch in progress and, once ``done`` is set, its outcome."""

    __slots__ = ("done", "error", "generation", "result", "started")

    def __init__(self, generation: int) -> None:
        self.done = threading.Event()
        self.generation = generation
        # Real time it started: a forced refresh asked before then may take its result.
        self.started = time.monotonic()
        self.result: Expiring[T] | None = None
        self.error: BaseException | None = None


class RefreshingCache(Generic[T]):
    """A self-refreshing cached value with at most one refresh in flight.

    ``fetch(previous)`` obtains a new value; ``previous`` is the value cached before (``None``
    when nothing is cached), e.g. to use its refresh token. ``clock`` gives epoch seconds.
    ``on_error`` is called once for every failed fetch, in the thread that ran it, before any
    caller waiting on that fetch sees the exception. With ``background=False`` no thread is
    ever started: the caller that enters the refresh-ahead window runs the fetch itself while
    the others keep getting the current value.
    """

    __slots__ = (
        "_background",
        "_clock",
        "_closed",
        "_failures",
        "_fetch",
        "_flight",
        "_generation",
        "_last_flight",
        "_lock",
        "_min_validity",
        "_name",
        "_on_error",
        "_refresh_count",
        "_retry_at",
        "_slot",
        "_stop",
        "_threads",
        "_warm_interval",
    )

    def __init__(
        self,
        fetch: Callable[[T | None], Expiring[T]],
        *,
        clock: Callable[[], float],
        min_validity: float = DEFAULT_MIN_VALIDITY,
        name: str = "value",
        background: bool = True,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._slot: _Slot[T] = _EMPTY
        self._clock = clock
        self._fetch = fetch
        self._min_validity = min_validity
        self._name = name
        self._background = background
        self._on_error = on_error
        self._lock = threading.Lock()
        self._flight: _Flight[T] | None = None
        # The last fetch that succeeded (forced refreshes asked before it started share it).
        self._last_flight: _Flight[T] | None = None
        # Bumped by set(): a fetch started under an older generation must not overwrite it.
        self._generation = 0
        self._failures = 0
        self._retry_at = -math.inf
        self._refresh_count = 0
        self._closed = False
        self._threads: set[threading.Thread] = set()
        self._stop = threading.Event()
        self._warm_interval = 1.0

    def __repr__(self) -> str:
        item = self._slot.item
        expires = "empty" if item is None else f"expires_at={item.expires_at}"
        return f"<RefreshingCache {self._name} {expires}>"

    @property
    def refresh_count(self) -> int:
        """How many fetches were started (successful or not)."""
        return self._refresh_count

    def get(self, timeout: float | None = None) -> T:
        """The value, refreshed first if it has less than ``min_validity`` left.

        Raises what ``fetch`` raised when a refresh was needed and failed. With ``timeout``
        (real seconds), a caller that must wait for a refresh waits at most that long, then
        raises :class:`TimeoutError`; the refresh goes on in its own thread and its outcome
        is cached as usual.
        """
        slot = self._slot
        if self._clock() < slot.refresh_at:
            return slot.value
        return self._get_slow(timeout)

    def refresh(
        self, timeout: float | None = None, fetch: Callable[[T | None], Expiring[T]] | None = None
    ) -> T:
        """A new value even if the cached one is fresh, with one fetch however many callers
        ask at once: a caller joins the fetch in flight, or takes the value of a fetch that
        started after it asked, and only otherwise starts one.

        ``fetch`` replaces the cache's own fetch for a fetch this call starts (a caller that
        joins another's fetch shares that one). ``timeout`` as for :meth:`get`.
        """
        asked = time.monotonic()
        with self._lock:
            flight = self._flight
            leader = flight is None
            if flight is None:
                done = self._last_flight
                if done is not None and done.started >= asked and done.result is not None:
                    return done.result.value
                flight = self._start_flight_locked()
            previous = _value_of(self._slot.item)
        return self._await(flight, leader, previous, timeout, fetch)

    def fresh(self) -> T | None:
        """The value when it needs no refresh yet, else ``None``: no fetch, no wait (what an
        event loop may call)."""
        slot = self._slot
        return slot.value if self._clock() < slot.refresh_at else None

    def peek(self) -> Expiring[T] | None:
        """The cached value as it is, however old, without fetching; ``None`` if empty."""
        return self._slot.item

    def set(self, item: Expiring[T] | None) -> None:
        """Replace the cached value (``None`` empties the cache); wins over a fetch in flight."""
        with self._lock:
            self._generation += 1
            # Later callers must not join a fetch whose result will be thrown away.
            self._flight = None
            self._last_flight = None
            self._reset_backoff()
            self._slot = _EMPTY if item is None else self._slot_for(item)

    def invalidate(self) -> None:
        """Make the next ``get()`` refresh, passing the current value to ``fetch``."""
        with self._lock:
            item = self._slot.item
            self._reset_backoff()
            if item is not None:
                self._slot = _Slot(-math.inf, item.value, -math.inf, item)

    def next_refresh_at(self) -> float | None:
        """When a refresh is next due (after any back-off); a past time means now.

        ``None`` when nothing is cached or the value never expires.
        """
        with self._lock:
            if self._slot.item is None:
                return None
            at = max(self._slot.refresh_at, self._retry_at)
        if at == math.inf:
            return None
        return at if at > -math.inf else self._clock()

    def refresh_ahead_now(self) -> None:
        """Refresh now in the calling thread, or wait for the refresh already in flight.

        For a timer thread that sleeps until ``next_refresh_at()``. Never raises: a failure
        goes to ``on_error`` and backs off, and the current value keeps being served.
        """
        self._refresh_now(only_if_due=False)

    def _refresh_now(self, *, only_if_due: bool) -> None:
        with self._lock:
            flight = self._flight
            slot = self._slot
            # Another caller's refresh may have landed since the timer read the schedule.
            if (
                only_if_due
                and flight is None
                and slot.item is not None
                and self._clock() < max(slot.refresh_at, self._retry_at)
            ):
                return
            leader = flight is None
            if flight is None:
                flight = self._start_flight_locked()
            previous = _value_of(slot.item)
        if leader:
            self._run(flight, previous)
        else:
            flight.done.wait()

    def keep_warm(self, *, interval: float = 1.0) -> None:
        """Refresh in the background when due, with no caller asking, until :meth:`close`.

        One thread sleeps until ``next_refresh_at()`` and refreshes (failures back off as
        usual); it wakes at least every ``interval`` real seconds to read the clock again, so a
        clock that jumps (a suspended laptop, a test clock) does not leave it asleep. Calling
        it again, or after ``close()``, does nothing.
        """
        with self._lock:
            if self._closed or any(t.name.endswith("-warm") for t in self._threads):
                return
            self._warm_interval = interval
            thread = threading.Thread(
                target=self._run_warm, name=f"fsm-auth-{self._name}-warm", daemon=True
            )
            self._threads.add(thread)
            # Started under the lock: a close() now sees a started thread it can join.
            thread.start()

    def _run_warm(self) -> None:
        try:
            while not self._stop.is_set():
                due = self.next_refresh_at()
                now = self._clock()
                if due is None or due > now:
                    pause = self._warm_interval if due is None else due - now
                    self._stop.wait(min(pause, self._warm_interval))
                    continue
                self._refresh_now(only_if_due=True)  # never raises: a failure backs off
                due = self.next_refresh_at()
                if due is not None and due <= self._clock():
                    self._stop.wait(self._warm_interval)  # too short-lived to wait for
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def close(self, timeout: float = 1.0) -> None:
        """Start no more background refreshes and wait up to ``timeout`` s for running ones.

        ``get()`` keeps working afterwards, refreshing only when it must, in the caller.
        """
        with self._lock:
            self._closed = True
            self._stop.set()
            threads = list(self._threads)
        # Real time, whatever clock the cache was given.
        deadline = time.monotonic() + timeout
        for thread in threads:
            if thread is not threading.current_thread():  # closed from its own refresh
                thread.join(max(0.0, deadline - time.monotonic()))

    # -- slow path ---------------------------------------------------------------------------

    def _get_slow(self, timeout: float | None = None) -> T:
        with self._lock:
            now = self._clock()
            slot = self._slot
            if now < slot.refresh_at:  # refreshed while we waited for the lock
                return slot.value
            if now < slot.must_at:
                inline = self._refresh_ahead_locked(slot, now)
                if inline is None:
                    return slot.value
                leader = True
                flight = inline
            else:
                inline = None
                joined = self._flight
                leader = joined is None
                flight = self._start_flight_locked() if joined is None else joined
        if inline is not None:  # refresh ahead in this caller (background=False)
            self._run(inline, _value_of(slot.item))
            return slot.value if inline.result is None else inline.result.value
        return self._await(flight, leader, _value_of(slot.item), timeout)

    def _await(
        self,
        flight: _Flight[T],
        leader: bool,
        previous: T | None,
        timeout: float | None,
        fetch: Callable[[T | None], Expiring[T]] | None = None,
    ) -> T:
        """Run ``flight`` (as its leader) or wait for it; its value, or raise its error."""
        if leader and timeout is not None:
            # A caller with a deadline does not run the fetch itself: it could not leave it.
            thread = threading.Thread(
                target=self._run_in_thread,
                args=(flight, previous, fetch),
                name=f"fsm-auth-refresh-{self._name}",
                daemon=True,
            )
            with self._lock:
                self._threads.add(thread)
            try:
                thread.start()
            except RuntimeError:  # e.g. interpreter shutting down: fetch in this caller
                with self._lock:
                    self._threads.discard(thread)
                self._run(flight, previous, fetch)
        elif leader:
            self._run(flight, previous, fetch)
        if not flight.done.wait(timeout):
            raise TimeoutError(f"the refresh of {self._name} did not finish in {timeout:g} s")
        if flight.error is not None:
            raise flight.error
        return cast(Expiring[T], flight.result).value

    def _refresh_ahead_locked(self, slot: _Slot[T], now: float) -> _Flight[T] | None:
        """In the refresh-ahead window: start the one refresh if due.

        Returns the flight when the caller must run it itself (``background=False``).
        """
        # Whatever happens, the other callers take the hot path until must_at (or until the
        # refresh started here publishes a new value or backs off).
        self._slot = _Slot(slot.must_at, slot.value, slot.must_at, slot.item)
        if self._flight is not None or self._closed or now < self._retry_at:
            return None
        flight = self._start_flight_locked()
        if not self._background:
            return flight
        thread = threading.Thread(
            target=self._run_in_thread,
            args=(flight, _value_of(slot.item)),
            name=f"fsm-auth-refresh-{self._name}",
            daemon=True,
        )
        self._threads.add(thread)
        try:
            thread.start()
        except RuntimeError:  # e.g. interpreter shutting down: serve what we have
            self._threads.discard(thread)
            self._flight = None
            flight.done.set()
        return None

    def _start_flight_locked(self) -> _Flight[T]:
        flight: _Flight[T] = _Flight(self._generation)
        self._flight = flight
        self._refresh_count += 1
        return flight

    def _run_in_thread(
        self,
        flight: _Flight[T],
        previous: T | None,
        fetch: Callable[[T | None], Expiring[T]] | None = None,
    ) -> None:
        try:
            self._run(flight, previous, fetch)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _run(
        self,
        flight: _Flight[T],
        previous: T | None,
        fetch: Callable[[T | None], Expiring[T]] | None = None,
    ) -> None:
        """Fetch, publish the outcome to the cache and to the flight's waiters."""
        try:
            item = (fetch or self._fetch)(previous)
            if not isinstance(item, Expiring):
                raise TypeError(f"fetch for {self._name} returned {type(item).__name__}")
        except BaseException as exc:
            self._fetch_failed(flight, exc)
            return
        with self._lock:
            if self._flight is flight:
                self._flight = None
            if flight.generation == self._generation:
                self._reset_backoff()
                self._slot = self._slot_for(item)
            flight.result = item
            self._last_flight = flight
        flight.done.set()

    def _fetch_failed(self, flight: _Flight[T], exc: BaseException) -> None:
        with self._lock:
            if self._flight is flight:
                self._flight = None
            if flight.generation == self._generation:
                self._back_off_locked()
        flight.error = exc
        try:
            if self._on_error is not None:
                self._on_error(exc)
            else:
                _log.warning("refresh of %s failed: %s", self._name, type(exc).__name__)
        except Exception as callback_exc:  # a broken callback must not strand the waiters
            # The type only: exception text may echo what the service was sent.
            _log.error("on_error of %s raised %s", self._name, type(callback_exc).__name__)
        finally:
            flight.done.set()

    # -- windows and back-off ------------------------------------------------------------------

    def _slot_for(self, item: Expiring[T]) -> _Slot[T]:
        return _slot_for(item, self._clock(), self._min_validity)

    def _back_off_locked(self) -> None:
        self._failures += 1
        delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0 ** (self._failures - 1))
        self._retry_at = self._clock() + delay * (0.5 + random.random() / 2)
        slot = self._slot
        if slot.item is not None:
            # Calls during the back-off take the hot path, never beyond must_at.
            refresh_at = min(self._retry_at, slot.must_at)
            self._slot = _Slot(refresh_at, slot.value, slot.must_at, slot.item)

    def _reset_backoff(self) -> None:
        self._failures = 0
        self._retry_at = -math.inf
