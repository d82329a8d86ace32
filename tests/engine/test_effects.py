"""Effects, ignored triggers, change listeners and policies on the engine (one thread)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import attrs
import pytest

from fsm_auth.engine import Change, Engine, Spec
from fsm_auth.errors import IllegalTransitionError, SpecError

PLAYER = Path(__file__).parent / "specs" / "player.yaml"


class Effects:
    """Every effect of the player spec; each records its name and the Change it got."""

    def __init__(self, spec: Spec) -> None:
        self.calls: list[tuple[str, Change]] = []
        for name in spec.effects:
            setattr(self, name, self._recorder(name))

    def _recorder(self, name: str) -> Any:
        return lambda change: self.calls.append((name, change))

    def names(self) -> list[str]:
        names = [name for name, _ in self.calls]
        self.calls.clear()
        return names


class Disc:
    """Guards of the player: has_disc reads the record the transition would commit."""

    seekable = True
    muted = False

    def has_disc(self, event: Any) -> bool:
        return bool(event.proposed and event.proposed.get("disc"))


@pytest.fixture
def player() -> Spec:
    return Spec.load(PLAYER)


@pytest.fixture
def effects(player: Spec) -> Effects:
    return Effects(player)


@pytest.fixture
def engine(player: Spec, effects: Effects) -> Engine:
    return Engine(player, Disc(), effects=effects, data={"disc": "Kind of Blue"})


def test_effects_run_exit_then_enter_then_after(engine: Engine, effects: Effects) -> None:
    assert engine.fire("play") is True
    assert effects.names() == ["spin_up", "show_progress", "start_clock"]
    assert engine.fire("pause") is True
    assert effects.names() == ["spin_down", "show_paused", "stop_clock"]
    assert engine.fire("stop") is True
    assert effects.names() == ["hide_paused", "park_head", "stop_clock", "rewind"]


def test_effects_get_the_change(engine: Engine, effects: Effects) -> None:
    engine.fire("play", by="remote", data={"disc": "Blue Train"})
    changes = {id(change): change for _, change in effects.calls}
    assert len(changes) == 1  # one Change, shared by the effects of the transition
    (change,) = changes.values()
    assert change == Change(
        old_state="stopped",
        trigger="play",
        new_state="playing",
        event_data={"by": "remote"},
        old_data={"disc": "Kind of Blue"},
        new_data={"disc": "Blue Train"},
        internal=False,
    )
    with pytest.raises(TypeError):
        change.event_data["by"] = "me"  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        change.trigger = "stop"  # type: ignore[misc]


def test_internal_transition_runs_only_its_after_effects(engine: Engine, effects: Effects) -> None:
    engine.fire("play")
    effects.names()
    seen: list[tuple[str, str, str]] = []
    engine.add_listener(lambda *change: seen.append(change))
    assert engine.fire("volume", data={"disc": "Kind of Blue", "volume": 7}) is True
    assert engine.state == "playing"
    assert engine.data == {"disc": "Kind of Blue", "volume": 7}
    ((name, change),) = effects.calls
    assert name == "set_volume"  # no on_exit / on_enter of playing
    assert change.internal is True
    assert (change.old_state, change.new_state) == ("playing", "playing")
    assert seen == [("playing", "volume", "playing")]
    assert [(h.old_state, h.new_state) for h in engine.history][-1] == ("playing", "playing")


def test_reflexive_transition_runs_exit_and_enter(engine: Engine, effects: Effects) -> None:
    engine.fire("play")
    effects.names()
    assert engine.fire("restart") is True
    assert engine.state == "playing"
    assert effects.names() == ["spin_down", "spin_up", "show_progress", "rewind"]


def test_guarded_internal_then_fallback_transition(effects: Effects) -> None:
    # Two candidates for seek from playing with different effects: the taken one decides.
    context = Disc()
    engine = Engine(Spec.load(PLAYER), context, effects=effects)
    engine.fire("play")
    effects.names()
    assert engine.fire("seek") is True
    assert (engine.state, effects.names()) == ("playing", ["jump"])
    context.seekable = False
    assert engine.fire("seek") is True
    assert (engine.state, effects.names()) == ("stopped", ["spin_down", "park_head", "rewind"])


def test_ignored_trigger_changes_nothing_and_notifies_nobody(
    engine: Engine, effects: Effects
) -> None:
    calls: list[Any] = []
    engine.add_listener(lambda *change: calls.append(change))
    engine.add_listener(calls.append, change=True)
    updates: list[Any] = []
    before = engine.snapshot
    assert engine.fire("pause", update=lambda old: updates.append(old) or {}) is False
    assert engine.fire("pause", data={"disc": None}) is False
    assert engine.snapshot is before
    assert engine.can_fire("pause") is False
    assert (calls, updates, effects.calls, engine.history) == ([], [], [], ())
    engine.fire("eject")
    assert engine.fire("volume") is False  # ignored in `empty` too
    with pytest.raises(IllegalTransitionError):
        engine.fire("play")  # not ignored there: illegal
    assert engine.state == "empty"


def test_refused_transition_runs_no_effect(engine: Engine, effects: Effects) -> None:
    engine.fire("eject")
    effects.names()
    assert engine.fire("load", data={"disc": None}) is False
    assert effects.calls == []
    assert engine.fire("load", data={"disc": "Giant Steps"}) is True
    assert effects.names() == ["close_tray", "park_head"]


def test_effects_not_run_without_an_effects_object(player: Spec) -> None:
    engine = Engine(player, Disc())  # decides only: e.g. for diagrams and oracles
    assert engine.fire("play") is True
    assert engine.fire("stop") is True
    assert Engine(player).fire("eject") is True  # guards from the spec's defaults


def test_missing_effects_are_a_spec_error(player: Spec) -> None:
    class Partial:
        def spin_up(self, change: Change) -> None: ...

        rewind = "not callable"

        def park_head(self, change: Change, extra: int) -> None: ...

    with pytest.raises(SpecError) as info:
        Engine(player, Disc(), effects=Partial())
    message = str(info.value)
    assert message.startswith(f"{PLAYER}: effect(s) ")
    assert "of spec 'player' not provided by the effects object (Partial)" in message
    for name in ("'close_tray'", "'park_head'", "'rewind'", "'start_clock'"):
        assert name in message
    assert "'spin_up'" not in message


def test_missing_effect_of_a_mapping_spec_names_the_spec() -> None:
    spec = {
        "name": "bell",
        "initial": "quiet",
        "states": ["quiet"],
        "transitions": [{"trigger": "ring", "source": "quiet", "internal": True, "after": "ding"}],
    }
    with pytest.raises(SpecError, match=r"^spec 'bell': effect\(s\) 'ding' of spec 'bell' not"):
        Engine(spec, effects=object())

    class Bell:
        @staticmethod
        def ding(*args: Any) -> None: ...

    Engine(spec, effects=Bell()).fire("ring")


def test_raising_effect_is_logged_and_isolated(
    player: Spec, caplog: pytest.LogCaptureFixture
) -> None:
    effects = Effects(player)

    def broken(change: Change) -> None:
        raise RuntimeError("effect bug")

    effects.spin_up = broken  # type: ignore[attr-defined]
    engine = Engine(player, Disc(), effects=effects, data={"disc": "s3cr3t-record"})
    seen: list[str] = []
    engine.add_listener(lambda old, trigger, new: seen.append(new))
    with caplog.at_level(logging.ERROR, logger="fsm_auth.engine"):
        assert engine.fire("play", password="hunter2") is True
    assert engine.state == "playing"  # the commit stands
    assert effects.names() == ["show_progress", "start_clock"]  # the others still ran
    assert seen == ["playing"]
    (record,) = [r for r in caplog.records if r.name == "fsm_auth.engine"]
    message = record.getMessage()
    assert message == "player: effect 'spin_up' failed on stopped -(play)-> playing"
    assert record.exc_info is not None
    assert "hunter2" not in caplog.text
    assert "s3cr3t-record" not in caplog.text


def test_effects_run_before_fire_returns_and_before_listeners(player: Spec) -> None:
    order: list[str] = []
    effects = Effects(player)
    effects.start_clock = lambda change: order.append("effect")  # type: ignore[attr-defined]
    engine = Engine(player, Disc(), effects=effects)
    engine.add_listener(lambda *change: order.append("listener"))
    engine.fire("play")
    order.append("returned")
    assert order == ["effect", "listener", "returned"]


def test_effect_may_fire_into_the_engine(player: Spec) -> None:
    effects = Effects(player)
    order: list[str] = []

    def start_clock(change: Change) -> None:
        # Outside the lock: reading and firing work; the nested fire runs its own effects
        # before returning.
        order.append(f"start_clock sees {engine.state}")
        assert engine.can_fire("pause")
        assert engine.fire("pause") is True
        order.append(f"after nested fire: {effects.names()}")
        engine.wake_waiters()

    effects.start_clock = start_clock  # type: ignore[attr-defined]
    engine = Engine(player, Disc(), effects=effects)  # effects are looked up here, once
    listened: list[tuple[str, str, str]] = []
    engine.add_listener(lambda *change: listened.append(change))
    assert engine.fire("play") is True
    assert engine.state == "paused"
    assert order == [
        "start_clock sees playing",
        "after nested fire: ['spin_up', 'show_progress', 'spin_down', 'show_paused', 'stop_clock']",
    ]
    # Listeners still see the transitions in commit order, once each.
    assert listened == [("stopped", "play", "playing"), ("playing", "pause", "paused")]


def test_change_listener(engine: Engine) -> None:
    changes: list[Change] = []
    plain: list[tuple[str, str, str]] = []
    engine.add_listener(changes.append, change=True)
    unsubscribe = engine.add_listener(lambda *c: plain.append(c))
    engine.fire("play", by="remote", update=lambda old: {**old, "track": 2})
    engine.fire("volume", level=3)
    unsubscribe()
    assert [(c.old_state, c.trigger, c.new_state, c.internal) for c in changes] == [
        ("stopped", "play", "playing", False),
        ("playing", "volume", "playing", True),
    ]
    assert changes[0].old_data == {"disc": "Kind of Blue"}
    assert changes[0].new_data == changes[1].old_data == {"disc": "Kind of Blue", "track": 2}
    assert changes[1].new_data is changes[1].old_data  # no data change: the same record
    assert dict(changes[0].event_data) == {"by": "remote"}
    assert dict(changes[1].event_data) == {"level": 3}
    assert plain == [("stopped", "play", "playing"), ("playing", "volume", "playing")]
    engine.remove_listener(changes.append)
    engine.fire("pause")
    assert len(changes) == 2


def test_change_listener_without_effects(player: Spec) -> None:
    engine = Engine(player, Disc(), data=1)
    changes: list[Change] = []
    engine.add_listener(changes.append, change=True)
    engine.fire("play", data=2)
    assert [(c.trigger, c.old_data, c.new_data) for c in changes] == [("play", 1, 2)]


def test_listener_kinds_are_exclusive(engine: Engine) -> None:
    with pytest.raises(TypeError, match="not both"):
        engine.add_listener(lambda *a: None, event_data=True, change=True)  # type: ignore[call-overload]


def test_change_repr_hides_values() -> None:
    change = Change(
        "signedOut", "signed_in", "signedIn", {"password": "hunter2"}, None, "tok3n", False
    )
    text = repr(change)
    assert "hunter2" not in text
    assert "tok3n" not in text
    assert text == (
        "Change(old_state='signedOut', trigger='signed_in', new_state='signedIn', "
        "event_data_keys=('password',), internal=False)"
    )


def test_engine_policy_follows_the_state(engine: Engine) -> None:
    assert (engine.policy("display"), engine.policy("buttons")) == ("title", "active")
    engine.fire("play")
    assert (engine.policy("display"), engine.policy("buttons")) == ("progress", "locked")
    engine.fire("pause")
    assert engine.policy("buttons") == "active"  # the default
    with pytest.raises(ValueError, match="player: no policy 'colour'"):
        engine.policy("colour")


def test_effects_are_looked_up_once_at_construction(player: Spec) -> None:
    effects = Effects(player)
    engine = Engine(player, Disc(), effects=effects)
    effects.start_clock = lambda change: None  # type: ignore[attr-defined]
    engine.fire("play")
    assert effects.names() == ["spin_up", "show_progress", "start_clock"]


def test_change_listener_added_during_delivery_gets_the_change(player: Spec) -> None:
    engine = Engine(player, Disc(), data="record")
    changes: list[Change] = []

    def first(old: str, trigger: str, new: str) -> None:
        if trigger == "play":
            engine.fire("pause", data="paused record")  # delivered after this listener
            engine.add_listener(changes.append, change=True)

    engine.add_listener(first)
    engine.fire("play")
    assert [(c.trigger, c.old_data, c.new_data, c.internal) for c in changes] == [
        ("pause", "record", "paused record", False)
    ]
