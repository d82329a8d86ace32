"""The engine on one thread: fire, can_fire, guards, listeners, history, wait_for."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from fsm_auth.engine import Engine, HistoryEntry, Spec
from fsm_auth.errors import IllegalTransitionError


class DoorContext:
    """Guards of the door spec in each accepted form: attribute, property, method."""

    def __init__(self) -> None:
        self.has_key = False
        self.broken = False
        self._reinforced = False

    @property
    def reinforced(self) -> bool:
        return self._reinforced

    def jammed(self) -> bool:
        return self.broken


@pytest.fixture
def context() -> DoorContext:
    return DoorContext()


@pytest.fixture
def engine(door: Spec, context: DoorContext) -> Engine:
    return Engine(door, context)


def test_starts_in_initial_state(engine: Engine, door: Spec) -> None:
    assert engine.state == door.initial == "closed"
    assert engine.spec is door
    assert repr(engine) == "<Engine 'door' state='closed'>"


def test_engine_accepts_a_path_or_mapping(door: Spec, context: DoorContext) -> None:
    assert door.source is not None
    assert Engine(str(door.source), context).state == "closed"
    assert Engine(door.to_mapping(), context).spec.transitions == door.transitions


def test_fire_moves_along_declared_transitions(engine: Engine) -> None:
    assert engine.fire("open") is True
    assert engine.state == "open"
    assert engine.fire("close") is True
    assert engine.state == "closed"


def test_illegal_trigger_raises_and_keeps_state(engine: Engine) -> None:
    with pytest.raises(IllegalTransitionError) as info:
        engine.fire("close")
    assert (info.value.state, info.value.trigger) == ("closed", "close")
    assert "no transition for trigger 'close' from state 'closed'" in str(info.value)
    assert engine.state == "closed"
    with pytest.raises(IllegalTransitionError):
        engine.fire("fly")
    assert engine.state == "closed"
    assert engine.history == ()


def test_guard_as_attribute(engine: Engine, context: DoorContext) -> None:
    assert engine.fire("lock") is False
    assert engine.state == "closed"
    context.has_key = True
    assert engine.fire("lock") is True
    assert engine.state == "locked"


def test_unless_guard_as_method(engine: Engine, context: DoorContext) -> None:
    context.has_key = True
    engine.fire("lock")
    context.broken = True  # jammed() is an `unless` guard on unlock
    assert engine.fire("unlock") is False
    assert engine.state == "locked"
    context.broken = False
    assert engine.fire("unlock") is True


def test_unless_guard_as_property(engine: Engine, context: DoorContext) -> None:
    context._reinforced = True
    assert engine.fire("kick") is False
    context._reinforced = False
    assert engine.fire("kick") is True
    assert engine.state == "open"


def test_reflexive_transition_fires_and_notifies(engine: Engine) -> None:
    seen: list[tuple[str, str, str]] = []
    engine.add_listener(lambda *change: seen.append(change))
    assert engine.fire("reset") is True
    assert engine.state == "closed"
    assert seen == [("closed", "reset", "closed")]


def test_can_fire_matches_fire(engine: Engine, context: DoorContext) -> None:
    assert engine.can_fire("open")
    assert not engine.can_fire("close")  # no transition
    assert not engine.can_fire("lock")  # guard refuses
    assert not engine.can_fire("fly")  # unknown trigger
    context.has_key = True
    assert engine.can_fire("lock")
    assert engine.state == "closed"  # can_fire never moves


def test_first_passing_transition_in_declaration_order_wins(traffic_light: Spec) -> None:
    class Context:
        pedestrian_waiting = False
        long_green = False
        night_mode = False

    context = Context()
    engine = Engine(traffic_light, context)
    engine.fire("tick")
    engine.fire("tick")
    assert engine.state == "green"
    assert engine.fire("tick") is False  # neither guard holds
    context.long_green = True  # the second of two guarded transitions
    assert engine.fire("tick") is True
    assert engine.state == "amber"


def test_guard_exception_propagates_and_keeps_state(door: Spec) -> None:
    class Context:
        reinforced = False

        @property
        def has_key(self) -> bool:
            raise RuntimeError("no key ring")

        def jammed(self) -> bool:
            return False

    engine = Engine(door, Context())
    with pytest.raises(RuntimeError, match="no key ring"):
        engine.fire("lock")
    assert engine.state == "closed"
    assert engine.fire("open") is True


def test_listeners_in_order_with_unsubscribe_and_remove(engine: Engine) -> None:
    calls: list[str] = []

    def first(old: str, trigger: str, new: str) -> None:
        calls.append(f"first {old}-{trigger}-{new}")

    def second(old: str, trigger: str, new: str) -> None:
        calls.append(f"second {trigger}")

    unsubscribe = engine.add_listener(first)
    engine.add_listener(second)
    engine.fire("open")
    unsubscribe()
    unsubscribe()  # idempotent
    engine.fire("close")
    engine.remove_listener(second)
    engine.remove_listener(second)  # unknown: ignored
    engine.fire("open")
    assert calls == ["first closed-open-open", "second open", "second close"]


def test_refused_and_illegal_fires_do_not_notify(engine: Engine) -> None:
    calls: list[Any] = []
    engine.add_listener(lambda *change: calls.append(change))
    assert engine.fire("lock") is False
    with pytest.raises(IllegalTransitionError):
        engine.fire("close")
    assert calls == []


def test_event_data_listener_gets_read_only_data(engine: Engine) -> None:
    seen: list[tuple[str, str, str, Mapping[str, Any]]] = []
    plain: list[tuple[str, str, str]] = []
    engine.add_listener(lambda o, t, n, data: seen.append((o, t, n, data)), event_data=True)
    engine.add_listener(lambda o, t, n: plain.append((o, t, n)))
    engine.fire("open", username="alice", attempt=2)
    engine.fire("close")
    assert seen[0] == ("closed", "open", "open", {"username": "alice", "attempt": 2})
    assert seen[1][3] == {}
    with pytest.raises(TypeError):
        seen[0][3]["username"] = "mallory"
    assert plain == [("closed", "open", "open"), ("open", "close", "closed")]


def test_raising_listener_is_logged_and_isolated(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def broken(old: str, trigger: str, new: str) -> None:
        raise ValueError("listener bug")

    engine.add_listener(lambda *_: calls.append("before"))
    engine.add_listener(broken)
    engine.add_listener(lambda *_: calls.append("after"))
    with caplog.at_level(logging.ERROR, logger="fsm_auth.engine"):
        assert engine.fire("open", password="hunter2") is True
        engine.fire("close")
    assert calls == ["before", "after", "before", "after"]
    failures = [r for r in caplog.records if r.name == "fsm_auth.engine"]
    assert len(failures) == 2
    assert "door: listener" in failures[0].getMessage()
    assert "closed -(open)-> open" in failures[0].getMessage()
    assert failures[0].exc_info is not None
    assert "hunter2" not in caplog.text  # event data values never reach a log line


def test_listener_may_fire_reentrantly_and_order_holds(engine: Engine) -> None:
    order: list[tuple[str, str, str]] = []

    def reopen_when_closed(old: str, trigger: str, new: str) -> None:
        order.append((old, trigger, new))
        if trigger == "close":
            # Reentrant: runs after this listener returns, still before `fire` returns.
            assert engine.fire("open") is True
            assert engine.state == "open"
            assert order[-1] == ("open", "close", "closed")

    engine.add_listener(reopen_when_closed)
    engine.fire("open")
    engine.fire("close")
    assert engine.state == "open"
    assert order == [
        ("closed", "open", "open"),
        ("open", "close", "closed"),
        ("closed", "open", "open"),
    ]


def test_listener_may_read_state_and_wait(engine: Engine) -> None:
    seen: list[str] = []

    def listener(old: str, trigger: str, new: str) -> None:
        seen.append(engine.wait_for(new, timeout=1))
        seen.append(str(engine.can_fire("close")))
        seen.append(str(len(engine.history)))

    engine.add_listener(listener)
    engine.fire("open")
    assert seen == ["open", "True", "1"]


def test_history_is_bounded_and_keeps_keys_only(door: Spec, context: DoorContext) -> None:
    engine = Engine(door, context, history_size=3)
    engine.fire("open", secret="s3cr3t-value")
    for _ in range(3):
        engine.fire("close")
        engine.fire("open")
    history = engine.history
    assert len(history) == 3
    assert [(h.old_state, h.trigger, h.new_state) for h in history] == [
        ("closed", "open", "open"),
        ("open", "close", "closed"),
        ("closed", "open", "open"),
    ]
    assert all(isinstance(h, HistoryEntry) for h in history)
    assert [h.timestamp for h in history] == sorted(h.timestamp for h in history)


def test_history_records_event_data_keys_not_values(engine: Engine) -> None:
    engine.fire("open", username="alice", password="hunter2")
    (entry,) = engine.history
    assert entry.event_data_keys == ("username", "password")
    assert "hunter2" not in repr(entry)
    assert "alice" not in repr(entry)


def test_wait_for_returns_at_once_or_times_out(engine: Engine) -> None:
    assert engine.wait_for("closed") == "closed"
    assert engine.wait_for(["open", "closed"], timeout=0) == "closed"
    with pytest.raises(TimeoutError, match="still in 'closed'"):
        engine.wait_for("open", timeout=0.01)
    with pytest.raises(ValueError, match="undeclared"):
        engine.wait_for("ajar")
