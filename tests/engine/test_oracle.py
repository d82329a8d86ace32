"""Every spec, shipped or test-only, checked by a hypothesis state machine using it as oracle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from fsm_auth.engine import Engine, Spec, shipped_spec_names
from fsm_auth.errors import IllegalTransitionError

from .oracle import GuardContext, check_engine

TEST_SPECS = Path(__file__).parent / "specs"
MUTANT_SETTINGS = settings.get_profile("engine-mutants")


@pytest.mark.parametrize("name", shipped_spec_names())
def test_shipped_spec_obeys_oracle(name: str) -> None:
    check_engine(Spec.load(name))


@pytest.mark.parametrize("path", sorted(TEST_SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_test_spec_obeys_oracle(path: Path) -> None:
    check_engine(Spec.load(path))


# Mutation tests: the same oracle must catch a wrong engine or a spec that drifted.


def _mutated(spec: Spec, index: int, **changes: Any) -> Spec:
    mapping = spec.to_mapping()
    mapping["transitions"][index].update(changes)
    return Spec.load(mapping)


def _engine_for(mutant: Spec) -> Any:
    return lambda _spec, context: Engine(mutant, context)


def test_oracle_catches_wrong_dest(door: Spec) -> None:
    mutant = _mutated(door, 1, dest="locked")  # close: open -> locked instead of closed
    with pytest.raises(AssertionError):
        check_engine(door, _engine_for(mutant), MUTANT_SETTINGS, concurrent=False)


def test_oracle_catches_inverted_guard(door: Spec) -> None:
    mutant = _mutated(door, 2, conditions=[], unless=["has_key"])  # lock without the key
    with pytest.raises(AssertionError):
        check_engine(door, _engine_for(mutant), MUTANT_SETTINGS, concurrent=False)


def test_oracle_catches_missing_transition(door: Spec) -> None:
    mapping = door.to_mapping()
    mapping["transitions"][-1]["source"] = ["open", "locked"]  # reset no longer from closed
    with pytest.raises(AssertionError):
        check_engine(door, _engine_for(Spec.load(mapping)), MUTANT_SETTINGS, concurrent=False)


class _SwallowsIllegal(Engine):
    """Wrong: reports an illegal trigger as a guard refusal."""

    def fire(self, trigger: str, **event_data: Any) -> bool:
        try:
            return super().fire(trigger, **event_data)
        except IllegalTransitionError:
            return False


class _PicksLastDest(Engine):
    """Wrong: when several transitions could fire, takes the last declared one."""

    def fire(self, trigger: str, **event_data: Any) -> bool:
        passing = [
            t
            for t in self.spec.transitions_from(self.state, trigger)
            if all(getattr(self._context, g) for g in t.conditions)
            and not any(getattr(self._context, g) for g in t.unless)
        ]
        fired = super().fire(trigger, **event_data)
        if fired and len(passing) > 1 and passing[-1].dest != self.state:
            self._machine.set_state(passing[-1].dest, self._model)
        return fired


class _NotifiesTwice(Engine):
    """Wrong: delivers every notification twice."""

    def _notify(self, *args: Any) -> None:
        super()._notify(*args)
        super()._notify(*args)


@pytest.mark.parametrize("wrong_engine", [_SwallowsIllegal, _NotifiesTwice])
def test_oracle_catches_wrong_engine(door: Spec, wrong_engine: type[Engine]) -> None:
    with pytest.raises(AssertionError):
        check_engine(door, wrong_engine, MUTANT_SETTINGS, concurrent=False)


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
    with pytest.raises(AssertionError):
        check_engine(spec, _PicksLastDest, MUTANT_SETTINGS, concurrent=False)


def test_oracle_passes_the_real_engine_on_the_mutant_specs(door: Spec) -> None:
    # The mutants above fail because of the mutation, not because the oracle is too strict.
    mutant = _mutated(door, 1, dest="locked")
    check_engine(mutant)


def test_guard_context_starts_false() -> None:
    assert GuardContext(("a", "b")).values() == {"a": False, "b": False}
