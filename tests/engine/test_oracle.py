"""Every spec, shipped, test-only or generated, checked by a hypothesis state machine using it
as oracle; and the oracle itself checked on wrong engines and drifted specs (mutants)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_auth.engine import Change, Engine, Snapshot, Spec, Transition, shipped_spec_names
from fsm_auth.errors import IllegalTransitionError

from .oracle import (
    EffectRecorder,
    GuardContext,
    check_engine,
    expected_effects,
    expected_policies,
    spec_mappings,
)

TEST_SPECS = Path(__file__).parent / "specs"
MUTANT_SETTINGS = settings.get_profile("engine-mutants")


@pytest.mark.parametrize("name", shipped_spec_names())
def test_shipped_spec_obeys_oracle(name: str) -> None:
    check_engine(Spec.load(name))


@pytest.mark.parametrize("path", sorted(TEST_SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_test_spec_obeys_oracle(path: Path) -> None:
    check_engine(Spec.load(path))


def test_generated_specs_obey_oracle() -> None:
    check_engine(None)


@settings(max_examples=50, deadline=None)
@given(spec_mappings())
def test_generated_specs_are_valid_and_round_trip(mapping: dict[str, Any]) -> None:
    spec = Spec.load(mapping)
    assert Spec.load(spec.to_mapping()) == spec


# Mutation tests: the same oracle must catch a wrong engine or a spec that drifted.


def _mutated(spec: Spec, index: int, **changes: Any) -> Spec:
    mapping = spec.to_mapping()
    mapping["transitions"][index].update(changes)
    return Spec.load(mapping)


def _engine_for(mutant: Spec) -> Any:
    return lambda _spec, context, **options: Engine(mutant, context, **options)


def _caught(spec: Spec | None, engine_factory: Any, match: str | None = None) -> None:
    with pytest.raises(AssertionError, match=match):
        check_engine(spec, engine_factory, MUTANT_SETTINGS, concurrent=False)


@pytest.fixture
def player() -> Spec:
    return Spec.load(TEST_SPECS / "player.yaml")


def test_oracle_catches_wrong_dest(door: Spec) -> None:
    mutant = _mutated(door, 1, dest="locked")  # close: open -> locked instead of closed
    _caught(door, _engine_for(mutant))


def test_oracle_catches_inverted_guard(door: Spec) -> None:
    mutant = _mutated(door, 2, conditions=[], unless=["has_key"])  # lock without the key
    _caught(door, _engine_for(mutant))


def test_oracle_catches_missing_transition(door: Spec) -> None:
    mapping = door.to_mapping()
    mapping["transitions"][-1]["source"] = ["open", "locked"]  # reset no longer from closed
    _caught(door, _engine_for(Spec.load(mapping)))


def test_oracle_catches_ignore_not_ignoring(player: Spec) -> None:
    mapping = player.to_mapping()
    for state in mapping["states"]:
        state.pop("ignore", None)  # ignored triggers become illegal
    _caught(player, _engine_for(Spec.load(mapping)), match="expected ignored")


def test_oracle_catches_a_missing_effect(player: Spec) -> None:
    mutant = _mutated(player, 2, after=["stop_clock"])  # stop forgets to rewind
    _caught(player, _engine_for(mutant), match="effects")


def test_oracle_catches_internal_made_reflexive(player: Spec) -> None:
    mapping = player.to_mapping()
    volume = mapping["transitions"][4]
    assert volume["trigger"] == "volume"
    del volume["internal"]
    mapping["transitions"][4:5] = [{**volume, "source": [s], "dest": s} for s in volume["source"]]
    _caught(player, _engine_for(Spec.load(mapping)), match="effects")


class _SwallowsIllegal(Engine):
    """Wrong: reports an illegal trigger as a guard refusal."""

    def fire(self, trigger: str, /, **options: Any) -> bool:
        try:
            return super().fire(trigger, **options)
        except IllegalTransitionError:
            return False


class _PicksLastDest(Engine):
    """Wrong: when several transitions could fire, takes the last declared one."""

    def fire(self, trigger: str, /, **options: Any) -> bool:
        passing = [
            t
            for t in self.spec.transitions_from(self.state, trigger)
            if all(getattr(self._context, g) for g in t.conditions)
            and not any(getattr(self._context, g) for g in t.unless)
        ]
        fired = super().fire(trigger, **options)
        dest = passing[-1].dest if passing else None
        if fired and len(passing) > 1 and dest is not None and dest != self.state:
            self._machine.set_state(dest, self._model)
            self._snapshot = Snapshot(dest, self.data)
        return fired


class _NotifiesTwice(Engine):
    """Wrong: delivers every notification twice."""

    def _notify(self, *args: Any) -> None:
        super()._notify(*args)
        super()._notify(*args)


class _EffectsInWrongOrder(Engine):
    """Wrong: runs the transition's `after` effects before leaving and entering states."""

    def _effects_of(self, source: str, transition: Transition) -> tuple[str, ...]:
        names = super()._effects_of(source, transition)
        if transition.dest is None:
            return names
        return (*transition.after, *names[: len(names) - len(transition.after)])


class _InternalRunsOnEnter(Engine):
    """Wrong: an internal transition runs the state's on_enter effects."""

    def _effects_of(self, source: str, transition: Transition) -> tuple[str, ...]:
        names = super()._effects_of(source, transition)
        return (*self.spec.on_enter(source), *names) if transition.dest is None else names


class _ReflexiveSkipsExitAndEnter(Engine):
    """Wrong: a transition back to its source runs no on_exit / on_enter."""

    def _effects_of(self, source: str, transition: Transition) -> tuple[str, ...]:
        return (
            transition.after
            if transition.dest == source
            else super()._effects_of(source, transition)
        )


class _CommitsOnRefusal(Engine):
    """Wrong: commits the proposed data even when the guards refuse the transition."""

    def fire(self, trigger: str, /, **options: Any) -> bool:
        update = options.get("update")
        results: list[Any] = []
        if update is not None:
            options["update"] = lambda old: results.append(update(old)) or results[-1]
        fired = super().fire(trigger, **options)
        if not fired and trigger not in self.spec.ignored(self.state):  # refused by guards
            proposed = results[-1] if results else options.get("data", self.data)
            self._snapshot = Snapshot(self.state, proposed)
        return fired


class _IgnoreNotifies(Engine):
    """Wrong: an ignored trigger still notifies the listeners."""

    def fire(self, trigger: str, /, **options: Any) -> bool:
        fired = super().fire(trigger, **options)
        if trigger in self.spec.ignored(self.state):
            note = (self.state, trigger, self.state, {}, self.data, self.data, True, None, None)
            self._notify(self._subscriptions, note)
        return fired


@pytest.mark.parametrize("wrong_engine", [_SwallowsIllegal, _NotifiesTwice])
def test_oracle_catches_wrong_engine(door: Spec, wrong_engine: type[Engine]) -> None:
    _caught(door, wrong_engine)


@pytest.mark.parametrize(
    ("wrong_engine", "symptom"),
    [
        (_EffectsInWrongOrder, "effects"),
        (_InternalRunsOnEnter, "effects"),
        (_ReflexiveSkipsExitAndEnter, "effects"),
        (_CommitsOnRefusal, "snapshot data"),
        (_IgnoreNotifies, "listeners saw other transitions"),
        (_SwallowsIllegal, "expected illegal"),
    ],
)
def test_oracle_catches_wrong_engine_on_the_full_vocabulary(
    player: Spec, wrong_engine: type[Engine], symptom: str
) -> None:
    _caught(player, wrong_engine, match=symptom)


@pytest.mark.parametrize(
    ("wrong_engine", "symptom"),
    [
        (_EffectsInWrongOrder, "effects"),
        (_InternalRunsOnEnter, "effects"),
        (_CommitsOnRefusal, "snapshot data"),
        (_IgnoreNotifies, "listeners saw other transitions"),
    ],
)
def test_oracle_catches_wrong_engine_on_generated_specs(
    wrong_engine: type[Engine], symptom: str
) -> None:
    _caught(None, wrong_engine, match=symptom)


FORK = {
    "name": "fork",
    "initial": "a",
    "states": ["a", "b", "c"],
    "transitions": [
        {"trigger": "go", "source": "a", "dest": "b", "conditions": ["left"]},
        {"trigger": "go", "source": "a", "dest": "c", "conditions": ["right"]},
        {"trigger": "back", "source": ["b", "c"], "dest": "a"},
    ],
}


def test_oracle_catches_wrong_choice_among_guarded() -> None:
    # With both guards true, declaration order decides: `go` must lead to b, not c.
    spec = Spec.load(FORK)
    check_engine(spec, Engine, MUTANT_SETTINGS, concurrent=False)
    _caught(spec, _PicksLastDest)


def test_oracle_passes_the_real_engine_on_the_mutant_specs(door: Spec, player: Spec) -> None:
    # The mutants above fail because of the mutation, not because the oracle is too strict.
    check_engine(_mutated(door, 1, dest="locked"))
    check_engine(player, Engine, MUTANT_SETTINGS, concurrent=False)
    check_engine(_mutated(player, 2, after=["stop_clock"]))


def test_guard_context_starts_false_and_event_guards_record() -> None:
    context = GuardContext(("a", "b"), frozenset({"b"}))
    assert context.values() == {"a": False, "b": False}
    context.set("a", True)
    context.set("b", True)
    assert context.a is True
    assert context.values() == {"a": True, "b": True}
    assert context.b("event") is True  # type: ignore[operator]
    assert context.seen == [("b", "event")]


def test_oracle_helpers_read_the_spec(player: Spec) -> None:
    stop = player.transitions[2]
    assert expected_effects(player, "playing", stop) == ["spin_down", "park_head", *stop.after]
    volume = player.transitions[4]
    assert expected_effects(player, "playing", volume) == ["set_volume"]
    table = expected_policies(player.to_mapping())
    assert table["playing"] == {"display": "progress", "buttons": "locked"}
    assert table["paused"] == {"display": "progress", "buttons": "active"}
    recorder = EffectRecorder(("a",))
    change = Change("x", "t", "y", {}, None, None, False)
    recorder.a(change)  # type: ignore[attr-defined]
    assert recorder.calls == [("a", change)]


def test_generated_specs_use_the_vocabulary() -> None:
    # The generator must reach what the oracle models, or the generated runs prove little.
    seen: set[str] = set()

    @settings(max_examples=100, deadline=None, database=None)
    @given(st.data())
    def collect(data: st.DataObject) -> None:
        spec = Spec.load(data.draw(spec_mappings()))
        if any(t.internal for t in spec.transitions):
            seen.add("internal")
        if any(t.dest in t.sources for t in spec.transitions):
            seen.add("reflexive")
        if any(spec.ignored(s) for s in spec.states):
            seen.add("ignore")
        if spec.policies:
            seen.add("policies")
        if any(spec.on_enter(s) or spec.on_exit(s) for s in spec.states):
            seen.add("state effects")
        if any(t.guarded for t in spec.transitions):
            seen.add("guards")

    collect()
    assert seen == {"internal", "reflexive", "ignore", "policies", "state effects", "guards"}
