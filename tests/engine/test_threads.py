"""The engine under concurrent use: atomic fires, ordered exactly-once listeners, no deadlock."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from fsm_auth.engine import Engine, Spec
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
