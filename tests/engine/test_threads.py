"""The engine under concurrent use: atomic fires, ordered exactly-once listeners, no deadlock."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import pytest

from fsm_auth.engine import Change, Engine, Snapshot, Spec
from fsm_auth.errors import IllegalTransitionError

TOGGLE: dict[str, Any] = {
    "name": "toggle",
    "initial": "off",
    "states": ["off", "on"],
    "transitions": [
        {"trigger": "toggle", "source": "off", "dest": "on"},
        {"trigger": "toggle", "source": "on", "dest": "off"},
        {"trigger": "switch_on", "source": "off", "dest": "on"},
    ],
}


def _run_threads(count: int, target: Any) -> None:
    barrier = threading.Barrier(count)

    def start(index: int) -> None:
        barrier.wait()
        target(index)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive(), "a thread is stuck (deadlock?)"


@pytest.mark.parametrize("slow_listener", [False, True])
def test_concurrent_fires_form_one_chain_seen_exactly_once(slow_listener: bool) -> None:
    engine = Engine(Spec.load(TOGGLE))
    events: list[tuple[str, str, str]] = []
    fires_per_thread = 300 if slow_listener else 2000

    def listener(old: str, trigger: str, new: str) -> None:
        if slow_listener:
            time.sleep(0)  # yield to widen the window for races
        events.append((old, trigger, new))  # only ever one deliverer at a time

    engine.add_listener(listener)
    results: list[int] = []
    _run_threads(
        6, lambda _i: results.append(sum(engine.fire("toggle") for _ in range(fires_per_thread)))
    )
    total = 6 * fires_per_thread
    assert sum(results) == total
    assert len(events) == total
    state = "off"
    for old, trigger, new in events:
        assert (old, trigger) == (state, "toggle")
        assert new == ("on" if old == "off" else "off")
        state = new
    assert state == engine.state == ("off" if total % 2 == 0 else "on")
    history = engine.history
    assert len(history) == 64
    assert [(h.old_state, h.trigger, h.new_state) for h in history] == events[-64:]


def test_concurrent_guarded_fires_decide_atomically() -> None:
    # Many threads race to `switch_on` from off: exactly one wins, the others find the state
    # already `on` and get an IllegalTransitionError, never a second transition.
    engine = Engine(Spec.load(TOGGLE))
    wins: list[bool] = []
    illegal: list[bool] = []

    def race(_index: int) -> None:
        try:
            wins.append(engine.fire("switch_on"))
        except IllegalTransitionError:
            illegal.append(True)

    _run_threads(8, race)
    assert wins == [True]
    assert len(illegal) == 7
    assert engine.state == "on"


def test_listeners_run_outside_the_lock() -> None:
    engine = Engine(Spec.load(TOGGLE))
    listener_blocked = threading.Event()
    release = threading.Event()
    seen: list[str] = []

    def listener(old: str, trigger: str, new: str) -> None:
        seen.append(new)
        if len(seen) == 1:
            listener_blocked.set()
            assert release.wait(10)

    engine.add_listener(listener)
    first = threading.Thread(target=engine.fire, args=("toggle",))
    first.start()
    assert listener_blocked.wait(10)
    # While the listener blocks, other threads can still fire, read and wait.
    started = time.monotonic()
    assert engine.fire("toggle") is True
    assert engine.state == "off"
    assert engine.can_fire("switch_on")
    assert engine.wait_for("off", timeout=1) == "off"
    assert time.monotonic() - started < 5
    assert seen == ["on"]  # the second notification waits for the first listener
    release.set()
    first.join(10)
    assert seen == ["on", "off"]


def test_listener_may_fire_from_another_thread_without_deadlock() -> None:
    engine = Engine(Spec.load(TOGGLE))
    seen: list[tuple[str, str, str]] = []

    def listener(old: str, trigger: str, new: str) -> None:
        seen.append((old, trigger, new))
        if len(seen) == 1:
            helper = threading.Thread(target=engine.fire, args=("toggle",))
            helper.start()
            helper.join(10)
            assert not helper.is_alive()
            assert engine.state == "off"

    engine.add_listener(listener)
    engine.fire("toggle")
    assert seen == [("off", "toggle", "on"), ("on", "toggle", "off")]


def test_wait_for_wakes_on_state_change() -> None:
    engine = Engine(Spec.load(TOGGLE))
    results: list[str] = []
    waiting = [threading.Thread(target=lambda: results.append(engine.wait_for("on", 10)))]
    waiting.append(threading.Thread(target=lambda: results.append(engine.wait_for(("on",), 10))))
    for t in waiting:
        t.start()
    time.sleep(0.02)
    assert results == []
    engine.fire("toggle")
    for t in waiting:
        t.join(10)
    assert results == ["on", "on"]


def test_wait_for_times_out_while_state_bounces() -> None:
    engine = Engine(
        Spec.load({**TOGGLE, "states": ["off", "on", "never"], "allow_unreachable": ["never"]})
    )
    stop = threading.Event()

    def bounce() -> None:
        while not stop.is_set():
            engine.fire("toggle")

    bouncer = threading.Thread(target=bounce)
    bouncer.start()
    try:
        with pytest.raises(TimeoutError):
            engine.wait_for("never", timeout=0.05)
    finally:
        stop.set()
        bouncer.join(10)


@pytest.fixture
def fast_switching() -> Any:
    # Switch threads as often as possible: a torn commit or a lost update shows up sooner.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("fast_switching")
def test_state_and_data_commit_together() -> None:
    # The data counts the toggles, so "on" must always go with an odd count. Readers without
    # the lock must never see a torn pair; updates must never be lost; an update that raises
    # must commit nothing.
    engine = Engine(Spec.load(TOGGLE), data=0)
    stop = threading.Event()
    torn: list[Snapshot] = []
    reads = [0]

    def read() -> None:
        while not stop.is_set():
            snapshot = engine.snapshot
            reads[0] += 1
            if (snapshot.state == "on") != (snapshot.data % 2 == 1):
                torn.append(snapshot)

    def failing(count: int) -> int:
        raise ValueError("refused")

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    fired: list[int] = []

    def hammer(index: int) -> None:
        count = 0
        for n in range(1500):
            if (n + index) % 7 == 0:
                with pytest.raises(ValueError, match="refused"):
                    engine.fire("toggle", update=failing)
            else:
                count += engine.fire("toggle", update=lambda old: old + 1)
        fired.append(count)

    try:
        _run_threads(4, hammer)
    finally:
        stop.set()
        for reader in readers:
            reader.join(10)
    assert reads[0] > 0
    assert torn == []
    total = sum(fired)
    assert engine.snapshot == Snapshot("on" if total % 2 else "off", total)
    assert [h.new_state for h in engine.history][-1] == engine.state


def test_effects_run_outside_the_lock_before_fire_returns() -> None:
    started = threading.Event()
    release = threading.Event()

    class Effects:
        def blink(self, change: Change) -> None:
            if change.new_state == "on" and not started.is_set():
                started.set()
                assert release.wait(10)

    spec = {
        **TOGGLE,
        "states": [{"name": "off"}, {"name": "on", "on_enter": ["blink"]}],
    }
    engine = Engine(Spec.load(spec), effects=Effects())
    returned = threading.Event()

    def first_fire() -> None:
        engine.fire("toggle")
        returned.set()

    thread = threading.Thread(target=first_fire)
    thread.start()
    assert started.wait(10)
    # The effect is blocked: the commit is visible, the lock is free, fire has not returned.
    assert engine.state == "on"
    assert engine.fire("toggle") is True
    assert engine.can_fire("switch_on")
    assert engine.wait_for("off", timeout=1) == "off"
    assert not returned.is_set()
    release.set()
    thread.join(10)
    assert returned.is_set()


def test_listeners_of_other_threads_wait_for_running_effects() -> None:
    # A notification is delivered by the thread that claimed delivery, after its effects.
    release = threading.Event()
    order: list[str] = []

    class Effects:
        def blink(self, change: Change) -> None:
            if change.new_state == "on" and not release.is_set():
                order.append("effect")
                assert release.wait(10)

    spec = {**TOGGLE, "states": ["off", {"name": "on", "on_enter": "blink"}]}
    engine = Engine(Spec.load(spec), effects=Effects())
    engine.add_listener(lambda old, trigger, new: order.append(f"{old}->{new}"))
    thread = threading.Thread(target=engine.fire, args=("toggle",))
    thread.start()
    while not order:
        time.sleep(0.001)
    assert engine.fire("toggle") is True  # returns; its notification is handed over
    assert order == ["effect"]
    release.set()
    thread.join(10)
    assert order == ["effect", "off->on", "on->off"]


def test_wait_for_cancelled_before_waiting_returns_at_once() -> None:
    engine = Engine(Spec.load(TOGGLE))
    assert engine.wait_for("on", timeout=10, cancelled=lambda: True) == "off"


def test_wake_waiters_lets_a_cancelled_waiter_return() -> None:
    engine = Engine(Spec.load(TOGGLE))
    cancel = threading.Event()
    checks: list[bool] = []

    def cancelled() -> bool:
        checks.append(cancel.is_set())
        return cancel.is_set()

    results: list[str] = []
    waiter = threading.Thread(
        target=lambda: results.append(engine.wait_for("on", 10, cancelled=cancelled))
    )
    waiter.start()
    while not checks:
        time.sleep(0.001)
    engine.wake_waiters()  # not cancelled yet: the waiter checks and waits on
    time.sleep(0.05)
    assert results == []
    assert len(checks) >= 2
    cancel.set()
    started = time.monotonic()
    engine.wake_waiters()
    waiter.join(10)
    assert time.monotonic() - started < 5
    assert results == ["off"]  # the current state, not one waited for


def test_a_state_change_rechecks_cancelled() -> None:
    engine = Engine(
        Spec.load({**TOGGLE, "states": ["off", "on", "never"], "allow_unreachable": ["never"]})
    )
    cancel = threading.Event()
    results: list[str] = []
    waiter = threading.Thread(
        target=lambda: results.append(engine.wait_for("never", 10, cancelled=cancel.is_set))
    )
    waiter.start()
    time.sleep(0.02)
    cancel.set()  # no wake_waiters: the next state change wakes the waiter
    time.sleep(0.02)
    assert results == []
    engine.fire("toggle")
    waiter.join(10)
    assert results == ["on"]


def test_wait_for_with_cancelled_still_times_out() -> None:
    engine = Engine(Spec.load(TOGGLE))
    with pytest.raises(TimeoutError, match="still in 'off'"):
        engine.wait_for("on", timeout=0.02, cancelled=lambda: False)


def test_no_listener_sees_a_transition_before_its_effects_ran() -> None:
    # Thread A delivers (its listener is slow); thread B commits a transition whose effect is
    # slow. When A's listener returns, B's notification must wait for B's effect.
    spec = {
        "name": "relay",
        "initial": "off",
        "states": ["off", "on"],
        "transitions": [
            {"trigger": "a", "source": "off", "dest": "on"},
            {"trigger": "b", "source": "on", "dest": "off", "after": "slow"},
        ],
    }
    effect_started = threading.Event()
    release_effect = threading.Event()
    order: list[str] = []

    class Effects:
        def slow(self, change: Change) -> None:
            effect_started.set()
            assert release_effect.wait(10)
            order.append("effect b")

    engine = Engine(Spec.load(spec), effects=Effects())

    def listener(old: str, trigger: str, new: str) -> None:
        if trigger == "a":
            assert effect_started.wait(10)  # b is committed and its effect is running
        order.append(f"listener {trigger}")

    engine.add_listener(listener)
    a = threading.Thread(target=engine.fire, args=("a",))
    a.start()
    while engine.state != "on":
        time.sleep(0.001)
    b = threading.Thread(target=engine.fire, args=("b",))
    b.start()
    a.join(10)  # A delivered its own notification and stopped at b's unready one
    assert not a.is_alive()
    assert order == ["listener a"]
    release_effect.set()
    b.join(10)
    assert order == ["listener a", "effect b", "listener b"]
