"""The read-only rule lookups on compiled twins (``fsm_auth.engine._twin``) answer what the
engine answers, for every shipped spec: where a trigger leads from any state under any guard
values, and every state's value of every policy. The saved-session read path of
``fsm-auth credentials`` asks these instead of building the engine, so a disagreement would
make a cold start serve what a running client would not."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_auth.engine import Engine, Spec, shipped_spec_names
from fsm_auth.engine._twin import destination, policy_value, shipped_spec_data
from fsm_auth.errors import IllegalTransitionError

SPECS = shipped_spec_names()


def _data(name: str) -> Mapping[str, Any]:
    data = shipped_spec_data(name)
    assert data is not None, f"{name}: no compiled twin matching its YAML (run regen)"
    return data


class _NoEffects:
    """Every effect a spec names, doing nothing: only where the engine goes is compared."""

    def __getattr__(self, name: str) -> Any:
        return lambda change: None


def _engine_destination(
    source: str | Mapping[str, Any], state: str, trigger: str, guards: Mapping[str, bool]
) -> str | None:
    """Where the engine goes: the spec started in ``state``, its guards answering ``guards``."""
    spec = Spec.load(source)
    mapping = dict(spec.to_mapping())
    mapping["initial"] = state
    mapping["allow_unreachable"] = [s for s in spec.states if s != state]
    engine = Engine(mapping, types.SimpleNamespace(**guards), effects=_NoEffects())
    try:
        moved = engine.fire(trigger)
    except IllegalTransitionError:
        return None
    return engine.state if moved else None


@st.composite
def _cases(draw: st.DrawFn) -> tuple[str, str, str, dict[str, bool]]:
    name = draw(st.sampled_from(SPECS))
    spec = Spec.load(name)
    state = draw(st.sampled_from(spec.states))
    trigger = draw(st.sampled_from(spec.triggers))
    guards = {g: draw(st.booleans(), label=g) for g in spec.guards}
    return name, state, trigger, guards


@settings(max_examples=400, deadline=None)
@given(_cases())
def test_destination_agrees_with_the_engine(case: tuple[str, str, str, dict[str, bool]]) -> None:
    name, state, trigger, guards = case
    assert destination(_data(name), state, trigger, guards) == _engine_destination(
        name, state, trigger, guards
    )


# Every form a spec may take that the shipped specs do not all use: states as plain names,
# `*` and list sources, several conditions, `unless`, internal transitions, policy defaults.
SYNTHETIC: dict[str, Any] = {
    "name": "synthetic",
    "initial": "a",
    "guards": {"g": {"default": False}},
    "policies": {"p": {"values": ["x", "y"], "default": "x"}},
    "states": ["a", {"name": "b", "policy": {"p": "y"}}, "c"],
    "transitions": [
        {"trigger": "go", "source": "a", "dest": "b", "conditions": ["g", "h"]},
        {"trigger": "go", "source": "a", "dest": "c", "unless": "h"},
        {"trigger": "go", "source": ["a", "b"], "dest": "a", "unless": ["g"]},
        {"trigger": "stay", "source": "*", "internal": True, "conditions": "h"},
        {"trigger": "back", "source": "c", "dest": "b", "conditions": "g"},
        {"trigger": "back", "source": "*", "dest": "a"},
    ],
}


def _exhaustively(source: str | Mapping[str, Any], data: Mapping[str, Any]) -> None:
    spec = Spec.load(source)
    used = sorted(spec.guards)
    for state in spec.states:
        for trigger in spec.triggers:
            for bits in range(2 ** len(used)):
                guards = {g: bool(bits >> i & 1) for i, g in enumerate(used)}
                assert destination(data, state, trigger, guards) == _engine_destination(
                    source, state, trigger, guards
                ), (state, trigger, guards)


@pytest.mark.parametrize("name", [n for n in SPECS if len(Spec.load(n).guards) <= 6])
def test_every_state_trigger_and_guard_values_as_the_engine(name: str) -> None:
    _exhaustively(name, _data(name))


def test_every_form_of_a_spec_as_the_engine() -> None:
    _exhaustively(SYNTHETIC, SYNTHETIC)
    spec = Spec.load(SYNTHETIC)
    for state in spec.states:
        assert policy_value(SYNTHETIC, state, "p") == spec.policy(state, "p")


@pytest.mark.parametrize("name", SPECS)
def test_policy_values_are_the_specs(name: str) -> None:
    spec = Spec.load(name)
    data = _data(name)
    for state in spec.states:
        for policy in spec.policies:
            assert policy_value(data, state, policy) == spec.policy(state, policy)
        assert policy_value(data, state, "no_such_policy") is None
    assert policy_value(data, "no_such_state", "credentials") is None


def test_a_guard_the_caller_cannot_evaluate_defers() -> None:
    data = _data("user_state")
    assert destination(data, "unknown", "restore", {"has_user": False}) is None
    guards = {"has_user": True, "guest_access_enabled": False}
    assert destination(data, "unknown", "restore", guards) == "signedIn"


def test_data_that_is_not_a_spec_answers_nothing() -> None:
    for junk in ({}, {"transitions": "x"}, {"transitions": [1, None, {"trigger": 3}]}):
        assert destination(junk, "unknown", "restore", {}) is None
        assert policy_value(junk, "unknown", "credentials") is None
    assert shipped_spec_data("no_such_spec") is None
