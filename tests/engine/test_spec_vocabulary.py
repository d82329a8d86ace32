"""The spec vocabulary beyond states and transitions: effects, internal transitions, ignored
triggers and per-state policies; and a SpecError naming the source for each of their faults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs
import pytest

from fsm_auth.engine import Policy, Spec, Transition
from fsm_auth.errors import SpecError

PLAYER = Path(__file__).parent / "specs" / "player.yaml"

LAMP: dict[str, Any] = {
    "name": "lamp",
    "initial": "off",
    "policies": {
        "light": {
            "description": "How bright.",
            "values": {"dark": "No light.", "bright": "Full light.", "dim": None},
            "default": "dark",
            "x-ui": "slider",
        },
        "fan": {"values": ["stopped", "spinning"]},
    },
    "states": [
        {
            "name": "off",
            "on_enter": "cool_down",
            "policy": {"fan": "stopped"},
            "ignore": ["dimmer"],
            "x-colour": "grey",
        },
        {
            "name": "on",
            "description": "Lit.",
            "on_enter": ["warm_up", "log"],
            "on_exit": ["log"],
            "policy": {"light": "bright", "fan": "spinning"},
        },
    ],
    "transitions": [
        {"trigger": "switch", "source": "off", "dest": "on", "after": "log"},
        {"trigger": "switch", "source": "on", "dest": "off"},
        {"trigger": "dimmer", "source": "on", "internal": True, "after": ["dim"]},
    ],
}


def _lamp(**changes: Any) -> dict[str, Any]:
    spec = {
        **LAMP,
        "states": [dict(s) if isinstance(s, dict) else s for s in LAMP["states"]],
        "transitions": [dict(t) for t in LAMP["transitions"]],
    }
    spec.update(changes)
    return spec


def _with_state(index: int, **changes: Any) -> dict[str, Any]:
    spec = _lamp()
    spec["states"][index] = {**spec["states"][index], **changes}
    return spec


def test_internal_transitions_have_no_dest() -> None:
    spec = Spec.load(LAMP)
    dimmer = spec.transitions[2]
    assert dimmer == Transition("dimmer", ("on",), None, after=("dim",))
    assert dimmer.internal
    assert dimmer.dest is None
    assert not spec.transitions[0].internal
    assert spec.transitions[0].after == ("log",)  # a single name becomes a tuple


def test_state_rules() -> None:
    spec = Spec.load(LAMP)
    assert spec.on_enter("off") == ("cool_down",)
    assert spec.on_enter("on") == ("warm_up", "log")
    assert spec.on_exit("on") == ("log",)
    assert spec.on_exit("off") == ()
    assert spec.ignored("off") == ("dimmer",)
    assert spec.ignored("on") == ()
    assert spec.effects == ("cool_down", "dim", "log", "warm_up")
    # The rules are not extra keys: state_info keeps the description and x- keys only.
    assert spec.state_info("off") == {"x-colour": "grey"}
    assert spec.state_info("on") == {"description": "Lit."}
    for accessor in (spec.on_enter, spec.on_exit, spec.ignored):
        with pytest.raises(ValueError, match="lamp: undeclared state 'dusk'"):
            accessor("dusk")


def test_policies() -> None:
    spec = Spec.load(LAMP)
    assert list(spec.policies) == ["light", "fan"]
    light = spec.policies["light"]
    assert isinstance(light, Policy)
    assert light.name == "light"
    assert light.values == ("dark", "bright", "dim")
    assert light.default == "dark"
    assert light.description == "How bright."
    assert light.value_descriptions == {"dark": "No light.", "bright": "Full light."}
    assert light.extra == {"x-ui": "slider"}
    fan = spec.policies["fan"]
    assert (fan.values, fan.default, fan.description, fan.value_descriptions) == (
        ("stopped", "spinning"),
        None,
        None,
        {},
    )
    assert spec.policy("off", "light") == "dark"  # the default
    assert spec.policy("on", "light") == "bright"
    assert spec.policy("off", "fan") == "stopped"
    assert spec.states_where("light", "dark") == ("off",)
    assert spec.states_where("fan", "spinning") == ("on",)
    assert spec.states_where("light", "dim") == ()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        light.default = "dim"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("call", "fault"),
    [
        (
            lambda s: s.policy("off", "colour"),
            r"lamp: no policy 'colour' \(declared: 'light', 'fan'\)",
        ),
        (lambda s: s.policy("dusk", "light"), r"lamp: undeclared state 'dusk'"),
        (lambda s: s.states_where("colour", "red"), r"no policy 'colour'"),
        (
            lambda s: s.states_where("light", "red"),
            r"'red' is not a value of policy 'light' \(allowed: dark, bright, dim\)",
        ),
    ],
)
def test_policy_lookups_fail_clearly(call: Any, fault: str) -> None:
    with pytest.raises(ValueError, match=fault):
        call(Spec.load(LAMP))


def test_player_spec_loads() -> None:
    spec = Spec.load(PLAYER)
    assert spec.policy("playing", "buttons") == "locked"
    assert spec.states_where("display", "progress") == ("playing", "paused")
    assert spec.ignored("empty") == ("volume", "pause")
    assert [t.trigger for t in spec.transitions if t.internal] == ["volume", "seek"]
    assert spec.state_info("paused") == {"x-icon": "pause"}


@pytest.mark.parametrize("source", [LAMP, PLAYER], ids=["lamp", "player"])
def test_to_mapping_round_trips_the_vocabulary(source: Any) -> None:
    spec = Spec.load(source)
    mapping = spec.to_mapping()
    again = Spec.load(mapping)
    assert again == attrs.evolve(spec, source=None)
    assert again.policies == spec.policies
    assert all(again.policies[p].extra == spec.policies[p].extra for p in spec.policies)
    for state in spec.states:
        assert again.on_enter(state) == spec.on_enter(state)
        assert again.on_exit(state) == spec.on_exit(state)
        assert again.ignored(state) == spec.ignored(state)
        assert again.state_info(state) == spec.state_info(state)
        for policy in spec.policies:
            assert again.policy(state, policy) == spec.policy(state, policy)
    assert Spec.load(again.to_mapping()).to_mapping() == mapping


def test_to_mapping_writes_internal_without_dest() -> None:
    mapping = Spec.load(LAMP).to_mapping()
    assert mapping["transitions"][2] == {
        "trigger": "dimmer",
        "source": ["on"],
        "internal": True,
        "after": ["dim"],
    }
    assert mapping["states"][0] == {
        "name": "off",
        "x-colour": "grey",
        "on_enter": ["cool_down"],
        "ignore": ["dimmer"],
        "policy": {"fan": "stopped"},
    }
    assert mapping["policies"]["fan"] == {"values": ["stopped", "spinning"]}
    assert mapping["policies"]["light"]["values"] == {
        "dark": "No light.",
        "bright": "Full light.",
        "dim": None,
    }


def test_internal_transitions_do_not_make_states_reachable() -> None:
    spec = _lamp(
        states=["off", "on"],
        transitions=[{"trigger": "tap", "source": "off", "internal": True}],
        policies={},
    )
    with pytest.raises(SpecError, match=r"state\(s\) 'on' cannot be reached from 'off'"):
        Spec.load(spec)
    assert Spec.load({**spec, "allow_unreachable": ["on"]}).transitions[0].internal


def test_a_guarded_internal_transition_may_precede_another() -> None:
    spec = Spec.load(
        _lamp(
            transitions=[
                *LAMP["transitions"],
                {"trigger": "dimmer", "source": "off", "internal": True, "conditions": "x"},
                {"trigger": "dimmer", "source": "off", "dest": "on"},
            ],
            states=[{"name": "off", "policy": {"fan": "stopped"}}, LAMP["states"][1]],
        )
    )
    assert [t.internal for t in spec.transitions_from("off", "dimmer")] == [True, False]


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        (
            _lamp(transitions=[*LAMP["transitions"][:2], {**LAMP["transitions"][2], "dest": "on"}]),
            r"transition #3 \('dimmer'\) is internal \(it keeps the state\) and cannot have a "
            r"'dest'",
        ),
        (
            _lamp(
                transitions=[*LAMP["transitions"][:2], {**LAMP["transitions"][2], "internal": 1}]
            ),
            r"transition #3 \('dimmer'\): 'internal' must be true or false",
        ),
        (
            _lamp(transitions=[{"trigger": "switch", "source": "off", "internal": False}]),
            r"transition #1 \('switch'\) is missing 'dest'",
        ),
        (
            _lamp(
                transitions=[
                    *LAMP["transitions"],
                    {"trigger": "dimmer", "source": "on", "dest": "off"},
                ]
            ),
            r"ambiguous trigger 'dimmer' from state 'on': transition #3 has no guard",
        ),
        (
            _lamp(
                transitions=[{**LAMP["transitions"][0], "after": ["a-b"]}, *LAMP["transitions"][1:]]
            ),
            r"transition #1 \('switch'\): effect 'a-b' is not an identifier",
        ),
        (
            _lamp(
                transitions=[
                    {**LAMP["transitions"][0], "after": ["_save"]},
                    *LAMP["transitions"][1:],
                ]
            ),
            r"transition #1 \('switch'\): effect '_save' is not public",
        ),
        (
            _lamp(
                transitions=[
                    {**LAMP["transitions"][0], "conditions": ["_secret"]},
                    *LAMP["transitions"][1:],
                ]
            ),
            r"transition #1 \('switch'\): guard '_secret' is not public \(a name starting with "
            r"'_' cannot be a guard\)",
        ),
        (
            _lamp(transitions=[{**LAMP["transitions"][0], "after": 3}, *LAMP["transitions"][1:]]),
            r"after must be a name or a list of names",
        ),
        (_with_state(0, on_enter=[1]), r"state 'off''s on_enter must be a name or a list"),
        (_with_state(1, on_exit=["_close"]), r"state 'on': effect '_close' is not public"),
        (
            _with_state(0, ignore=["fly"]),
            r"state 'off' ignores trigger 'fly', which no transition declares",
        ),
        (
            _with_state(0, ignore=["switch"]),
            r"state 'off' ignores trigger 'switch', but transition #1 \('switch'\) leaves from it",
        ),
        (
            _with_state(0, ignore=["dimmer", "dimmer"]),
            r"state 'off' lists an ignored trigger twice",
        ),
        (_lamp(policies=["light"]), r"'policies' must be a mapping"),
        (_lamp(policies={"light-level": {"values": ["a"]}}), r"policy name 'light-level' is not"),
        (_lamp(policies={"light": ["a"]}), r"policy 'light' must be a mapping with 'values'"),
        (_lamp(policies={"light": {"values": "dark"}}), r"policy 'light' needs 'values'"),
        (_lamp(policies={"light": {"values": []}}), r"policy 'light' has no values"),
        (
            _lamp(policies={"light": {"values": [True, False]}}),
            r"policy 'light': value True must be a one-line text",
        ),
        (
            _lamp(policies={"light": {"values": ["a", "a"]}}),
            r"policy 'light' lists a value twice",
        ),
        (
            _lamp(policies={"light": {"values": ["a"], "default": "b"}}),
            r"policy 'light': default 'b' is not one of its values \(allowed: a\)",
        ),
        (
            _lamp(policies={"light": {"values": ["a"], "colour": "red"}}),
            r"unknown key\(s\) 'colour' in policy 'light'",
        ),
        (
            _lamp(policies={"light": {"values": {"a": 3}}}),
            r"policy 'light''s description of 'a' must be text",
        ),
        (
            _with_state(0, policy={"fan": "stopped", "colour": "red"}),
            r"state 'off' sets undeclared policy 'colour' \(declared policies: 'light', 'fan'\)",
        ),
        (
            _with_state(0, policy={"fan": "humming"}),
            r"state 'off': 'humming' is not a value of policy 'fan' "
            r"\(allowed: stopped, spinning\)",
        ),
        (
            _with_state(0, policy={}),
            r"state 'off' gives no value for policy 'fan', which has no default "
            r"\(allowed: stopped, spinning\)",
        ),
        (_with_state(0, policy=["fan"]), r"state 'off''s policy must be a mapping"),
        (_with_state(0, enter=["x"]), r"unknown key\(s\) 'enter' in state #1"),
    ],
)
def test_vocabulary_faults(spec: dict[str, Any], fault: str) -> None:
    with pytest.raises(SpecError) as info:
        Spec.load(spec)
    message = str(info.value)
    assert message.startswith("spec 'lamp': "), message
    assert re.search(fault, message), message


@pytest.mark.parametrize(
    ("yaml_text", "fault"),
    [
        (
            "policies: {mode: {values: [a, b]}}\nstates: [{name: x, policy: {mode: c}}]\n",
            r"state 'x': 'c' is not a value of policy 'mode' \(allowed: a, b\)",
        ),
        (
            "states: [{name: x, ignore: [go]}]\n"
            "transitions: [{trigger: go, source: x, internal: true}]\n",
            r"state 'x' ignores trigger 'go', but transition #1 \('go'\) leaves from it",
        ),
        (
            "states: [x]\ntransitions: [{trigger: go, source: x, internal: true, dest: x}]\n",
            r"transition #1 \('go'\) is internal",
        ),
        (
            "states: [x]\ntransitions: [{trigger: go, source: x, internal: true, unless: _busy}]\n",
            r"transition #1 \('go'\): guard '_busy' is not public",
        ),
    ],
)
def test_vocabulary_faults_name_the_file(tmp_path: Path, yaml_text: str, fault: str) -> None:
    path = tmp_path / "machine.yaml"
    path.write_text(f"name: machine\ninitial: x\n{yaml_text}", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        Spec.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(fault, message), message


def test_load_docstring_describes_the_vocabulary() -> None:
    doc = Spec.load.__doc__ or ""
    for word in ("on_enter", "on_exit", "ignore", "policies", "policy", "after", "internal"):
        assert word in doc, word
