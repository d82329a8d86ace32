"""RefreshingCache: windows, single flight, back-off, set/invalidate/close, hot-path isolation."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from fsm_auth.session._cache import Expiring, RefreshingCache

pytestmark = pytest.mark.timeout(30)

T0 = 1_800_000_000.0
WAIT = 5.0  # upper bound for anything a test waits on; a passing test never waits this long


class FakeClock:
    """Epoch seconds that only move when the test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Source:
    """A fetch that hands out "v1", "v2", ... each living ``lifetime`` seconds.

    It records what it was called with and, when ``gate`` is given, waits for it first.
    """

    def __init__(self, clock: FakeClock, lifetime: float = 3600.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls: list[str | None] = []
        self.threads: list[threading.Thread] = []
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def __call__(self, previous: str | None) -> Expiring[str]:
        with self._lock:
            self.calls.append(previous)
            self.threads.append(threading.current_thread())
            n = len(self.calls)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT), "test never opened the gate"
        if self.error is not None:
            raise self.error
        return Expiring(f"v{n}", self.clock() + self.lifetime)


def wait_until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def source(clock: FakeClock) -> Source:
    return Source(clock)


@pytest.fixture
def errors() -> list[BaseException]:
    return []


@pytest.fixture
def cache(
    clock: FakeClock, source: Source, errors: list[BaseException]
) -> Iterator[RefreshingCache[str]]:
    c = RefreshingCache(source, clock=clock, name="test", on_error=errors.append)
    yield c
    if source.gate is not None:
        source.gate.set()
    c.close()


def hour(clock: FakeClock, value: str = "v0") -> Expiring[str]:
    return Expiring(value, clock() + 3600.0)


# -- windows ----------------------------------------------------------------------------------


def test_fresh_value_is_served_without_fetch(cache: RefreshingCache[str], clock: FakeClock) -> None:
    cache.set(hour(clock))
    for _ in range(1000):
        assert cache.get() == "v0"
        clock.advance(2.0)  # 2000 s in, still before the refresh-ahead point (2670 s)
    assert cache.refresh_count == 0


def test_one_hour_value_refreshes_ahead_15_minutes_before_must(
    cache: RefreshingCache[str], clock: FakeClock
) -> None:
    item = hour(clock)
    cache.set(item)
    assert cache.next_refresh_at() == pytest.approx(item.expires_at - 30.0 - 900.0)


def test_refresh_ahead_starts_one_background_fetch_and_serves_current_value(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    source.gate = threading.Event()
    clock.advance(3000.0)  # ahead window: 2670 s .. 3570 s
    assert cache.get() == "v0"  # not blocked although the fetch is gated
    assert source.entered.wait(WAIT)
    for _ in range(100):
        assert cache.get() == "v0"
    assert cache.refresh_count == 1
    assert source.threads[0] is not threading.current_thread()
    assert source.threads[0].daemon
    assert source.calls == ["v0"]
    source.gate.set()
    wait_until(lambda: cache.get() == "v1")
    assert cache.refresh_count == 1


def test_must_refresh_blocks_and_returns_new_value(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    clock.advance(3600.0 - 29.0)  # 29 s left < min_validity
    assert cache.get() == "v1"
    assert source.threads == [threading.current_thread()]
    assert source.calls == ["v0"]
    assert cache.get() == "v1"
    assert cache.refresh_count == 1


def test_value_never_handed_out_with_less_than_min_validity(
    clock: FakeClock, source: Source
) -> None:
    cache = RefreshingCache(source, clock=clock, min_validity=60.0, background=False)
    cache.set(Expiring("v0", clock() + 600.0))
    clock.advance(540.0)  # exactly 60 s left
    assert cache.get() == "v1"


def test_five_minute_value_does_not_refresh_on_every_call(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    source.lifetime = 300.0
    assert cache.get() == "v1"  # empty: blocking fetch with None
    assert source.calls == [None]
    # Refresh ahead at 300 - 30 - 75 = 195 s; before that, no fetch however many calls.
    for _ in range(190):
        assert cache.get() == "v1"
        clock.advance(1.0)
    assert cache.refresh_count == 1
    clock.advance(10.0)
    assert cache.get() == "v1"
    wait_until(lambda: cache.get() == "v2")
    assert cache.refresh_count == 2
    # And the new value again stays put for its own fresh window.
    for _ in range(100):
        assert cache.get() == "v2"
        clock.advance(1.0)
    assert cache.refresh_count == 2


def test_short_lifetime_serves_for_at_least_half_its_useful_life(
    cache: RefreshingCache[str], clock: FakeClock
) -> None:
    item = Expiring("v0", clock() + 40.0)  # useful life 10 s with min_validity 30 s
    cache.set(item)
    assert cache.next_refresh_at() == pytest.approx(clock() + 5.0)
    clock.advance(4.9)
    assert cache.get() == "v0"
    assert cache.refresh_count == 0


def test_lifetime_at_most_min_validity_fetches_each_time_single_flight(
    clock: FakeClock, source: Source
) -> None:
    source.lifetime = 20.0  # shorter than min_validity: never fresh
    cache = RefreshingCache(source, clock=clock)
    assert cache.get() == "v1"
    assert cache.get() == "v2"
    assert cache.refresh_count == 2
    source.gate = threading.Event()
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get())) for _ in range(8)]
    for t in threads:
        t.start()
    assert source.entered.wait(WAIT)
    time.sleep(0.02)  # let the others join the flight
    source.gate.set()
    for t in threads:
        t.join(WAIT)
    assert len(results) == 8
    assert cache.refresh_count <= 4  # joiners share; a late thread may start one more flight
    cache.close()


def test_value_that_never_expires_is_never_refreshed(
    cache: RefreshingCache[str], clock: FakeClock
) -> None:
    cache.set(Expiring("identity-id", math.inf))
    clock.advance(10 * 365 * 86400.0)
    assert cache.get() == "identity-id"
    assert cache.next_refresh_at() is None
    assert cache.refresh_count == 0


# -- single flight ----------------------------------------------------------------------------


def test_32_threads_after_expiry_share_one_fetch(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    clock.advance(4000.0)  # expired
    source.gate = threading.Event()
    barrier = threading.Barrier(33)
    results: list[str] = []

    def call() -> None:
        barrier.wait()
        results.append(cache.get())

    threads = [threading.Thread(target=call) for _ in range(32)]
    for t in threads:
        t.start()
    barrier.wait()
    assert source.entered.wait(WAIT)
    time.sleep(0.02)  # the other 31 are queued on the flight by now
    source.gate.set()
    for t in threads:
        t.join(WAIT)
    assert results == ["v1"] * 32
    assert source.calls == ["v0"]
    assert cache.refresh_count == 1


def test_exception_of_blocking_fetch_reaches_every_waiter(
    cache: RefreshingCache[str],
    clock: FakeClock,
    source: Source,
    errors: list[BaseException],
) -> None:
    cache.set(hour(clock))
    clock.advance(4000.0)
    source.gate = threading.Event()
    source.error = ConnectionError("endpoint unreachable")
    barrier = threading.Barrier(17)
    caught: list[BaseException] = []

    def call() -> None:
        barrier.wait()
        try:
            cache.get()
        except ConnectionError as exc:
            caught.append(exc)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    barrier.wait()
    assert source.entered.wait(WAIT)
    time.sleep(0.02)
    source.gate.set()
    for t in threads:
        t.join(WAIT)
    assert len(caught) == 16
    assert {(type(e), str(e)) for e in caught} == {(ConnectionError, "endpoint unreachable")}
    assert cache.refresh_count == 1
    assert len(errors) == 1  # on_error once per failed fetch, not once per waiter
    # The stale value is still what peek() shows; the next get() tries again.
    peeked = cache.peek()
    assert peeked is not None
    assert peeked.value == "v0"
    source.error = None
    assert cache.get() == "v2"


def test_on_error_runs_before_waiters_see_the_exception(clock: FakeClock, source: Source) -> None:
    seen: list[str] = []
    cache = RefreshingCache(source, clock=clock, on_error=lambda e: seen.append("on_error"))
    source.error = KeyError("refused")
    with pytest.raises(KeyError):
        cache.get()
    seen.append("caller")
    assert seen == ["on_error", "caller"]


def test_broken_on_error_does_not_strand_waiters(clock: FakeClock, source: Source) -> None:
    def on_error(exc: BaseException) -> None:
        raise RuntimeError("callback bug")

    cache = RefreshingCache(source, clock=clock, on_error=on_error)
    source.error = ValueError("refused")
    with pytest.raises(ValueError, match="refused"):
        cache.get()


# -- refresh-ahead failure --------------------------------------------------------------------


def test_failed_refresh_ahead_keeps_serving_and_backs_off(
    cache: RefreshingCache[str],
    clock: FakeClock,
    source: Source,
    errors: list[BaseException],
) -> None:
    cache.set(hour(clock))
    source.error = ConnectionError("offline")
    clock.advance(2700.0)  # ahead window
    assert cache.get() == "v0"
    wait_until(lambda: len(errors) == 1)
    # 1000 calls over 0.5 s (within the first back-off, 0.5..1 s): no new fetch.
    for _ in range(1000):
        assert cache.get() == "v0"
        clock.advance(0.0005)
    assert cache.refresh_count == 1
    retry_at = cache.next_refresh_at()
    assert retry_at is not None
    assert T0 + 2700.5 <= retry_at <= T0 + 2701.0
    # Once the back-off is over, one more attempt; the next back-off is longer (1..2 s).
    clock.now = retry_at
    assert cache.get() == "v0"
    wait_until(lambda: len(errors) == 2)
    assert cache.refresh_count == 2
    second = cache.next_refresh_at()
    assert second is not None
    assert retry_at + 1.0 <= second <= retry_at + 2.0


def test_backoff_is_capped_and_jittered(
    cache: RefreshingCache[str],
    clock: FakeClock,
    source: Source,
    errors: list[BaseException],
) -> None:
    cache.set(hour(clock))
    source.error = ConnectionError("offline")
    clock.advance(2700.0)
    delays = []
    for n in range(1, 10):
        cache.refresh_ahead_now()  # the timer's entry point: runs here, never raises
        at = cache.next_refresh_at()
        assert at is not None
        delays.append(at - clock())
        assert len(errors) == n
    assert all(0.5 <= d / min(60.0, 2.0**i) <= 1.0 for i, d in enumerate(delays))
    assert max(delays) <= 60.0


def test_no_fetch_storm_over_1000_calls_while_offline(
    cache: RefreshingCache[str],
    clock: FakeClock,
    source: Source,
    errors: list[BaseException],
) -> None:
    cache.set(hour(clock))
    source.error = ConnectionError("offline")
    clock.advance(2680.0)
    for _ in range(1000):  # 1000 calls over 500 s of the ahead window
        assert cache.get() == "v0"
        # Let a refresh this call started fail before time moves on.
        wait_until(lambda: len(errors) == cache.refresh_count)
        clock.advance(0.5)
    # Exponential back-off: 1+2+4+...+60 s => about a dozen attempts in 500 s, not 1000.
    assert 5 <= cache.refresh_count <= 20


def test_blocking_get_still_tries_after_failed_refresh_ahead(
    cache: RefreshingCache[str],
    clock: FakeClock,
    source: Source,
    errors: list[BaseException],
) -> None:
    cache.set(hour(clock))
    source.error = ConnectionError("offline")
    clock.advance(3500.0)
    assert cache.get() == "v0"
    wait_until(lambda: len(errors) == 1)
    clock.advance(71.0)  # past must_at, still inside the back-off
    with pytest.raises(ConnectionError):
        cache.get()
    assert cache.refresh_count == 2
    source.error = None
    assert cache.get() == "v3"


def test_success_resets_backoff(
    cache: RefreshingCache[str],
    clock: FakeClock,
    source: Source,
    errors: list[BaseException],
) -> None:
    cache.set(hour(clock))
    source.error = ConnectionError("offline")
    clock.advance(2700.0)
    for _ in range(3):
        cache.refresh_ahead_now()
    source.error = None
    cache.refresh_ahead_now()
    assert cache.get() == "v4"
    assert cache.next_refresh_at() == pytest.approx(clock() + 3600.0 - 930.0)


# -- set, invalidate, close -------------------------------------------------------------------


def test_set_during_flight_wins(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    clock.advance(4000.0)
    source.gate = threading.Event()
    got: list[str] = []
    waiter = threading.Thread(target=lambda: got.append(cache.get()))
    waiter.start()
    assert source.entered.wait(WAIT)
    cache.set(hour(clock, "signed-in-again"))
    source.gate.set()
    waiter.join(WAIT)
    assert got == ["v1"]  # the caller that asked before set() gets its fetch's result
    peeked = cache.peek()
    assert peeked is not None
    assert peeked.value == "signed-in-again"  # ... but the flight did not overwrite set()
    assert cache.get() == "signed-in-again"
    assert cache.refresh_count == 1


def test_set_none_during_flight_then_get_fetches_with_none(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    clock.advance(4000.0)
    source.gate = threading.Event()
    waiter = threading.Thread(target=cache.get)
    waiter.start()
    assert source.entered.wait(WAIT)
    cache.set(None)
    assert cache.peek() is None
    source.gate.set()
    waiter.join(WAIT)
    assert cache.peek() is None
    assert cache.get() == "v2"
    assert source.calls == ["v0", None]


def test_set_none_then_get_fetches_with_none(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    cache.set(None)
    assert cache.next_refresh_at() is None
    assert cache.get() == "v1"
    assert source.calls == [None]


def test_invalidate_forces_refresh_with_previous_value(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    cache.invalidate()
    assert cache.next_refresh_at() == clock()
    assert cache.get() == "v1"
    assert source.calls == ["v0"]
    assert cache.get() == "v1"
    assert cache.refresh_count == 1


def test_close_stops_background_refresh(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    source.gate = threading.Event()
    clock.advance(2700.0)
    assert cache.get() == "v0"
    assert source.entered.wait(WAIT)
    worker = source.threads[0]
    threading.Timer(0.02, source.gate.set).start()
    cache.close()
    assert not worker.is_alive()  # close() waited for the running refresh
    assert cache.get() == "v1"
    clock.advance(2700.0)  # ahead window of v1: closed, so no new background refresh
    assert cache.get() == "v1"
    assert cache.refresh_count == 1
    clock.advance(900.0)  # must window: still refreshes, in the caller
    assert cache.get() == "v2"
    assert source.threads[1] is threading.current_thread()


def test_close_waits_only_briefly_for_a_stuck_fetch(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    source.gate = threading.Event()
    clock.advance(2700.0)
    cache.get()
    assert source.entered.wait(WAIT)
    started = time.monotonic()
    cache.close(timeout=0.02)
    assert time.monotonic() - started < 1.0


# -- hot path isolation -----------------------------------------------------------------------


def test_blocked_background_fetch_does_not_block_readers(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    source.gate = threading.Event()
    clock.advance(3000.0)
    cache.get()
    assert source.entered.wait(WAIT)
    out: list[str] = []

    def read() -> None:
        out.extend(cache.get() for _ in range(1000))

    readers = [threading.Thread(target=read) for _ in range(4)]
    for r in readers:
        r.start()
    for r in readers:
        r.join(WAIT)
    assert out == ["v0"] * 4000
    assert source.calls == ["v0"]


def test_inline_refresh_ahead_does_not_block_other_readers(
    clock: FakeClock, source: Source
) -> None:
    cache = RefreshingCache(source, clock=clock, background=False)
    cache.set(hour(clock))
    source.gate = threading.Event()
    clock.advance(3000.0)
    got: list[str] = []
    refresher = threading.Thread(target=lambda: got.append(cache.get()))
    refresher.start()
    assert source.entered.wait(WAIT)
    assert [cache.get() for _ in range(1000)] == ["v0"] * 1000  # not blocked by the refresher
    assert source.threads == [refresher]
    source.gate.set()
    refresher.join(WAIT)
    assert got == ["v1"]  # the caller that ran the refresh ahead gets the new value
    assert cache.get() == "v1"
    assert cache.refresh_count == 1


def test_inline_refresh_ahead_failure_serves_current_value(
    clock: FakeClock, source: Source
) -> None:
    errors: list[BaseException] = []
    cache = RefreshingCache(source, clock=clock, background=False, on_error=errors.append)
    cache.set(hour(clock))
    source.error = ConnectionError("offline")
    clock.advance(3000.0)
    assert cache.get() == "v0"
    assert len(errors) == 1
    assert cache.get() == "v0"
    assert cache.refresh_count == 1


# -- timer support and hygiene ----------------------------------------------------------------


def test_refresh_ahead_now_waits_for_flight_in_progress(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    source.gate = threading.Event()
    clock.advance(2700.0)
    cache.get()
    assert source.entered.wait(WAIT)
    threading.Timer(0.02, source.gate.set).start()
    cache.refresh_ahead_now()  # joins the running flight instead of starting a second one
    assert cache.refresh_count == 1
    assert cache.get() == "v1"
    at = cache.next_refresh_at()
    assert at is not None
    assert at > clock()


def test_repr_hides_the_value(cache: RefreshingCache[str], clock: FakeClock) -> None:
    secret = "eyJhbGciOi.secret-token"
    item = Expiring(secret, clock() + 60.0)
    cache.set(item)
    assert secret not in repr(cache)
    assert secret not in repr(item)
    assert "test" in repr(cache)


# -- keep_warm ----------------------------------------------------------------------------------


def test_keep_warm_refreshes_when_due_with_no_caller(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    cache.keep_warm(interval=0.01)
    time.sleep(0.05)
    assert source.calls == []  # fresh: nothing to do
    clock.advance(2700.0)  # into the refresh-ahead window
    wait_until(lambda: len(source.calls) == 1)
    time.sleep(0.05)
    assert source.calls == ["v0"]  # once: the new value is fresh again
    assert cache.peek() is not None
    assert cache.peek().value == "v1"  # type: ignore[union-attr]
    cache.close()
    clock.advance(3600.0)
    time.sleep(0.05)
    assert len(source.calls) == 1  # closed: no refresh in the background any more
    assert not [t for t in threading.enumerate() if t.name.endswith("test-warm")]


def test_keep_warm_does_not_refresh_what_a_caller_just_refreshed(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    clock.advance(3580.0)  # past must_at: the next get() refreshes in the caller
    assert cache.get() == "v1"
    cache.keep_warm(interval=0.01)
    time.sleep(0.05)
    assert len(source.calls) == 1
    cache.close()


def test_keep_warm_once_and_not_after_close(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.keep_warm(interval=0.01)
    cache.keep_warm(interval=0.01)
    warm = [t for t in threading.enumerate() if t.name.endswith("test-warm")]
    assert len(warm) == 1
    cache.close()
    cache.keep_warm()
    time.sleep(0.02)
    assert not [t for t in threading.enumerate() if t.name.endswith("test-warm")]


# -- forced refresh ---------------------------------------------------------------------------


def test_forced_refresh_of_a_fresh_value_fetches_once_for_every_caller_asking_at_once(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    source.gate = threading.Event()
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.refresh())) for _ in range(16)]
    threads[0].start()
    assert source.entered.wait(WAIT)
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: sum(t.is_alive() for t in threads) == 16)
    source.gate.set()
    for thread in threads:
        thread.join(WAIT)
    assert results == ["v1"] * 16
    assert source.calls == ["v0"]
    assert cache.get() == "v1"  # the forced value is the cached one


def test_forced_refresh_asked_after_one_finished_fetches_again(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    assert cache.refresh() == "v1"
    assert cache.refresh() == "v2"
    assert source.calls == ["v0", "v1"]


def test_forced_refresh_runs_the_fetch_it_is_given_and_shares_its_error(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    seen: list[str | None] = []

    def forced(previous: str | None) -> Expiring[str]:
        seen.append(previous)
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        cache.refresh(fetch=forced)
    assert seen == ["v0"]
    assert source.calls == []
    assert cache.get() == "v0"  # still fresh: served as it was


def test_forced_refresh_with_a_timeout_raises_timeout_and_the_fetch_goes_on(
    cache: RefreshingCache[str], clock: FakeClock, source: Source
) -> None:
    cache.set(hour(clock))
    source.gate = threading.Event()
    with pytest.raises(TimeoutError):
        cache.refresh(timeout=0.05)
    source.gate.set()

    def refreshed() -> bool:
        item = cache.peek()
        return item is not None and item.value == "v1"

    wait_until(refreshed)
