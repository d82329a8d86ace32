"""Guards declared in a spec with a default: the spec runs without a context."""

from __future__ import annotations

from typing import Any

import pytest

from fsm_auth.engine import Engine, Spec, shipped_spec_names
from fsm_auth.errors import IllegalTransitionError, SpecError

from .oracle import IGNORED, ILLEGAL, REFUSED, expected_outcome


def door(guards: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "door",
        "initial": "closed",
        "states": ["closed", "locked"],
        "transitions": [
            {"trigger": "lock", "source": "closed", "dest": "locked", "conditions": ["has_key"]},
            {"trigger": "unlock", "source": "locked", "dest": "closed"},
        ],
    }
    if guards is not None:
        spec["guards"] = guards
    return spec


def test_default_used_when_context_lacks_the_guard() -> None:
    refused = Engine(Spec.load(door({"has_key": {"default": False}})))
    assert refused.fire("lock") is False
    assert refused.state == "closed"
    allowed = Engine(Spec.load(door({"has_key": True})))
    assert allowed.fire("lock") is True


def test_context_wins_over_the_default() -> None:
    class Context:
        has_key = True

    engine = Engine(Spec.load(door({"has_key": False})), context=Context())
    assert engine.fire("lock") is True


def test_without_default_a_missing_guard_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="has_key"):
        Engine(Spec.load(door()))


@pytest.mark.parametrize(
    ("guards", "fault"),
    [
        ({"has_key": "yes"}, "boolean default"),
        ({"has_key": {"default": 1}}, "boolean default"),
        ({"no_such_guard": True}, "no transition uses it"),
        ({"has_key": {"default": True, "colour": "red"}}, "unknown key"),
        (["has_key"], "must be a mapping"),
    ],
)
def test_bad_guard_declarations(guards: Any, fault: str) -> None:
    with pytest.raises(SpecError, match=fault):
        Spec.load(door(guards))


@pytest.mark.parametrize("name", shipped_spec_names())
def test_shipped_specs_run_without_context(name: str) -> None:
    # Every guard of a shipped spec has a default, so it runs on its own (to draw or explore
    # it) and decides as the oracle does with those defaults; no effect runs without effects.
    spec = Spec.load(name)
    assert set(spec.guard_defaults) == set(spec.guards)
    assert Spec.load(spec.to_mapping()).guard_defaults == spec.guard_defaults
    for trigger in spec.triggers:
        engine = Engine(spec)
        expected = expected_outcome(spec, spec.initial, trigger, spec.guard_defaults)
        if expected == ILLEGAL:
            with pytest.raises(IllegalTransitionError):
                engine.fire(trigger)
        else:
            assert engine.fire(trigger) is (expected not in (REFUSED, IGNORED))
            assert engine.state == (spec.initial if expected in (REFUSED, IGNORED) else expected)
