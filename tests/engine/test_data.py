"""The engine's data (the record): committed with the state, by ``data=`` or ``update=``; and
guards that see the fire being decided (the Event)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import attrs
import pytest

from fsm_auth.engine import Engine, Event, Snapshot
from fsm_auth.errors import IllegalTransitionError, SpecError

VAULT: dict[str, Any] = {
    "name": "vault",
    "initial": "closed",
    "states": [
        {"name": "closed", "ignore": ["deposit"]},
        "open",
    ],
    "transitions": [
        {"trigger": "open", "source": "closed", "dest": "open", "conditions": "authorised"},
        {"trigger": "deposit", "source": "open", "internal": True, "unless": "full"},
        {"trigger": "close", "source": "open", "dest": "closed"},
    ],
}


class Guards:
    """``authorised`` takes the Event; ``full`` is a plain attribute."""

    def __init__(self) -> None:
        self.full = False
        self.events: list[Event] = []
        self.allow = True

    def authorised(self, event: Event) -> bool:
        self.events.append(event)
        return self.allow and event.proposed.get("key") == "k3y"


@pytest.fixture
def guards() -> Guards:
    return Guards()


@pytest.fixture
def vault(guards: Guards) -> Engine:
    return Engine(VAULT, guards, data={"coins": 0})


def test_initial_data_and_snapshot(vault: Engine) -> None:
    assert vault.data == {"coins": 0}
    assert vault.snapshot == Snapshot("closed", {"coins": 0})
    assert vault.snapshot.data is vault.data
    assert Engine(VAULT, Guards()).data is None  # no data given


def test_snapshot_is_frozen_with_slots_and_hides_data() -> None:
    snapshot = Snapshot("open", {"token": "s3cr3t"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snapshot.state = "closed"  # type: ignore[misc]
    assert not hasattr(snapshot, "__dict__")
    assert "s3cr3t" not in repr(snapshot)
    assert repr(snapshot) == "Snapshot(state='open', data=<dict>)"


def test_data_is_committed_with_the_transition(vault: Engine) -> None:
    before = vault.snapshot
    assert vault.fire("open", data={"coins": 0, "key": "k3y"}) is True
    assert vault.snapshot == Snapshot("open", {"coins": 0, "key": "k3y"})
    assert before == Snapshot("closed", {"coins": 0})  # replaced whole, never mutated
    assert vault.fire("deposit", update=lambda old: {**old, "coins": old["coins"] + 5}) is True
    assert vault.snapshot == Snapshot("open", {"coins": 5, "key": "k3y"})
    assert vault.fire("close") is True  # data kept
    assert vault.snapshot == Snapshot("closed", {"coins": 5, "key": "k3y"})


def test_no_data_change_keeps_the_snapshot_object(vault: Engine, guards: Guards) -> None:
    vault.fire("open", data={"key": "k3y"})
    snapshot = vault.snapshot
    assert vault.fire("deposit") is True  # internal, no data: nothing new to commit
    assert vault.snapshot is snapshot
    same = dict(snapshot.data)
    vault.fire("deposit", data=same)  # an equal but new value is committed
    assert vault.snapshot.data is same


def test_refused_fire_commits_nothing(vault: Engine, guards: Guards) -> None:
    before = vault.snapshot
    assert vault.fire("open", data={"key": "wrong"}) is False
    assert vault.fire("open", update=lambda old: {**old, "key": "wrong"}) is False
    guards.allow = False
    assert vault.fire("open", data={"key": "k3y"}) is False
    assert vault.snapshot is before
    assert vault.history == ()


def test_update_runs_once_before_the_guards(vault: Engine, guards: Guards) -> None:
    calls: list[Any] = []

    def update(old: Mapping[str, Any]) -> dict[str, Any]:
        calls.append((dict(old), len(guards.events)))
        return {**old, "key": "k3y"}

    assert vault.fire("open", update=update) is True
    assert calls == [({"coins": 0}, 0)]  # once, and before the guard ran
    assert guards.events[0].proposed == {"coins": 0, "key": "k3y"}


def test_raising_update_propagates_and_changes_nothing(vault: Engine) -> None:
    seen: list[Any] = []
    vault.add_listener(lambda *change: seen.append(change))
    before = vault.snapshot

    def update(old: Any) -> Any:
        raise KeyError("no such field")

    with pytest.raises(KeyError, match="no such field"):
        vault.fire("open", update=update)
    assert vault.snapshot is before
    assert (seen, vault.history) == ([], ())
    assert vault.fire("open", data={"key": "k3y"}) is True  # the lock was released


def test_update_not_called_for_ignored_or_illegal_triggers(vault: Engine) -> None:
    calls: list[Any] = []
    assert vault.fire("deposit", update=calls.append) is False  # ignored in closed
    with pytest.raises(IllegalTransitionError):
        vault.fire("close", update=calls.append)
    assert calls == []


def test_data_and_update_together_is_a_type_error(vault: Engine) -> None:
    before = vault.snapshot
    with pytest.raises(TypeError, match="data= or update=, not both"):
        vault.fire("open", data={"key": "k3y"}, update=lambda old: old)
    assert vault.snapshot is before


def test_data_and_update_are_not_event_data(vault: Engine) -> None:
    seen: list[Mapping[str, Any]] = []
    vault.add_listener(lambda o, t, n, event_data: seen.append(event_data), event_data=True)
    vault.fire("open", data={"key": "k3y"}, by="alice")
    vault.fire("deposit", update=lambda old: old)
    assert [dict(d) for d in seen] == [{"by": "alice"}, {}]
    assert [h.event_data_keys for h in vault.history] == [("by",), ()]


def test_guard_sees_the_event(vault: Engine, guards: Guards) -> None:
    vault.fire("open", data={"key": "k3y"}, by="alice", reason="audit")
    (event,) = guards.events
    assert (event.state, event.trigger) == ("closed", "open")
    assert event.data == {"coins": 0}
    assert event.proposed == {"key": "k3y"}
    assert dict(event.event_data) == {"by": "alice", "reason": "audit"}
    with pytest.raises(TypeError):
        event.event_data["by"] = "mallory"  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.state = "open"  # type: ignore[misc]
    assert "k3y" not in repr(event)
    assert "alice" not in repr(event)
    assert repr(event) == (
        "Event(state='closed', trigger='open', event_data_keys=('by', 'reason'))"
    )


def test_without_data_the_proposed_value_is_the_current_one(vault: Engine, guards: Guards) -> None:
    assert vault.fire("open") is False
    (event,) = guards.events
    assert event.proposed is event.data is vault.data
    assert dict(event.event_data) == {}


def test_can_fire_gives_event_guards_the_current_data(guards: Guards) -> None:
    engine = Engine(VAULT, guards, data={"key": "k3y"})
    assert engine.can_fire("open") is True
    assert guards.events[-1].proposed == {"key": "k3y"}
    assert engine.state == "closed"
    assert Engine(VAULT, Guards(), data={}).can_fire("open") is False


def test_guard_arity_is_decided_at_construction(
    guards: Guards, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine(VAULT, guards, data={"key": "k3y"})

    def no_signature(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("signature looked up while firing")

    monkeypatch.setattr(inspect, "signature", no_signature)
    assert engine.fire("open") is True
    assert engine.fire("deposit") is True
    assert engine.can_fire("close")


def test_guard_forms() -> None:
    class Context:
        def plain(self) -> bool:
            return True

        def with_event(self, event: Event) -> bool:
            return event.trigger == "go"

        def optional(self, event: Event | None = None) -> bool:
            return event is not None

        @staticmethod
        def static(event: Event) -> bool:
            return event.state == "a"

        @property
        def prop(self) -> bool:
            return True

        def __getattr__(self, name: str) -> Any:
            if name == "dynamic":
                return lambda event: isinstance(event, Event)
            raise AttributeError(name)

    spec = {
        "name": "forms",
        "initial": "a",
        "states": ["a", "b"],
        "transitions": [
            {
                "trigger": "go",
                "source": "a",
                "dest": "b",
                "conditions": ["plain", "with_event", "optional", "static", "prop", "dynamic"],
            }
        ],
    }
    engine = Engine(spec, Context())
    assert engine.can_fire("go")
    assert engine.fire("go") is True


@pytest.mark.parametrize(
    "guard",
    [
        lambda self, a, b: True,
        lambda self, *, strict: True,
    ],
    ids=["two arguments", "required keyword"],
)
def test_guard_taking_more_is_a_spec_error(guard: Any) -> None:
    context_type = type("Context", (), {"check": guard})
    spec = {
        "name": "bad",
        "initial": "a",
        "states": ["a", "b"],
        "transitions": [{"trigger": "go", "source": "a", "dest": "b", "conditions": "check"}],
    }
    with pytest.raises(
        SpecError,
        match=r"^spec 'bad': guard 'check' of the engine's context \(Context\) must take no "
        r"argument or one \(the Event\)",
    ):
        Engine(spec, context_type())


def test_property_guard_is_not_read_at_construction() -> None:
    class Context:
        ready = False

        @property
        def authorised(self) -> bool:
            if not self.ready:
                raise RuntimeError("read too early")
            return True

        full = False

    context = Context()
    engine = Engine(VAULT, context)
    context.ready = True
    assert engine.fire("open") is True


def test_internal_transition_may_change_only_the_data(vault: Engine, guards: Guards) -> None:
    vault.fire("open", data={"key": "k3y", "coins": 0})
    guards.full = True
    assert vault.fire("deposit", data={"coins": 1}) is False
    guards.full = False
    assert vault.fire("deposit", data={"coins": 1}) is True
    assert vault.snapshot == Snapshot("open", {"coins": 1})
