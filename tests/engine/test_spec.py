"""The spec loader: what it accepts, and a SpecError naming the source for every fault."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fsm_auth.engine import Engine, Spec, Transition, shipped_spec_names, shipped_specs_dir
from fsm_auth.errors import SpecError

DOOR: dict[str, Any] = {
    "name": "door",
    "initial": "closed",
    "states": ["closed", "open", "locked"],
    "transitions": [
        {"trigger": "open", "source": "closed", "dest": "open"},
        {"trigger": "close", "source": "open", "dest": "closed"},
        {"trigger": "lock", "source": "closed", "dest": "locked", "conditions": ["has_key"]},
        {"trigger": "reset", "source": "*", "dest": "closed"},
    ],
}


def _door(**changes: Any) -> dict[str, Any]:
    spec = {**DOOR, "transitions": [dict(t) for t in DOOR["transitions"]]}
    spec.update(changes)
    return spec


def test_loads_a_mapping() -> None:
    spec = Spec.load(DOOR)
    assert spec.name == "door"
    assert spec.initial == "closed"
    assert spec.states == ("closed", "open", "locked")
    assert spec.source is None
    assert spec.triggers == ("open", "close", "lock", "reset")
    assert spec.guards == ("has_key",)
    lock = spec.transitions[2]
    assert lock == Transition("lock", ("closed",), "locked", conditions=("has_key",))
    assert lock.guarded


def test_wildcard_source_expands_to_every_state() -> None:
    reset = Spec.load(DOOR).transitions[-1]
    assert reset.sources == ("closed", "open", "locked")


def test_state_info_and_extension_keys() -> None:
    spec = Spec.load(
        _door(
            states=[
                {"name": "closed", "description": "shut", "x-icon": "door"},
                "open",
                {"name": "locked"},
            ],
            transitions=[
                {"trigger": "open", "source": "closed", "dest": "open", "x-hint": 1},
                {"trigger": "close", "source": "open", "dest": "closed", "description": "bang"},
                {"trigger": "lock", "source": "closed", "dest": "locked"},
            ],
        )
    )
    assert spec.state_info("closed") == {"description": "shut", "x-icon": "door"}
    assert spec.state_info("open") == {}
    assert spec.transitions[0].extra == {"x-hint": 1}
    assert spec.transitions[1].description == "bang"
    with pytest.raises(KeyError):
        spec.state_info("ajar")


def test_transitions_from_keeps_declaration_order() -> None:
    spec = Spec.load(DOOR)
    assert [t.trigger for t in spec.transitions_from("closed")] == ["open", "lock", "reset"]
    assert [t.dest for t in spec.transitions_from("open", "reset")] == ["closed"]


def test_to_mapping_round_trips() -> None:
    spec = Spec.load(Path(__file__).parent / "specs" / "door.yaml")
    again = Spec.load(spec.to_mapping())
    assert again.transitions == spec.transitions
    assert (again.name, again.initial, again.states) == (spec.name, spec.initial, spec.states)
    assert all(again.state_info(s) == spec.state_info(s) for s in spec.states)


def test_spec_is_immutable_and_load_is_idempotent() -> None:
    spec = Spec.load(DOOR)
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]
    assert Spec.load(spec) is spec


def test_loads_a_yaml_file_by_str_and_path(tmp_path: Path) -> None:
    path = tmp_path / "door.yml"
    path.write_text(
        "name: door\ninitial: a\nstates: [a, b]\n"
        "transitions:\n  - {trigger: go, source: a, dest: b}\n",
        encoding="utf-8",
    )
    assert Spec.load(path).source == path
    assert Spec.load(str(path)).states == ("a", "b")


def test_shipped_specs_load_by_name() -> None:
    names = shipped_spec_names()
    assert "user_state" in names
    for name in names:
        spec = Spec.load(name)
        assert spec.source == shipped_specs_dir() / f"{name}.yaml"
        assert spec.name == name, "a shipped spec's name must match its file name"


# Every fault: SpecError, and the message names the source and the fault.


def _error_for_mapping(mapping: Any) -> str:
    with pytest.raises(SpecError) as info:
        Spec.load(mapping)
    return str(info.value)


@pytest.mark.parametrize(
    ("changes", "fault"),
    [
        ({"colour": "red"}, r"unknown key\(s\) 'colour' in the spec"),
        ({"name": ""}, r"missing or empty 'name'"),
        ({"initial": None}, r"missing 'initial'"),
        ({"initial": "ajar"}, r"initial state 'ajar' is not a declared state"),
        ({"states": []}, r"'states' must be a non-empty list"),
        ({"states": ["closed", "open", "closed"]}, r"duplicate state 'closed'"),
        ({"states": ["closed", "*"]}, r"state #2 has no valid name"),
        ({"states": [{"name": "closed", "colour": 1}]}, r"unknown key\(s\) 'colour' in state #1"),
        ({"transitions": {"open": "closed"}}, r"'transitions' must be a list"),
        ({"transitions": ["open"]}, r"transition #1 must be a mapping"),
        (
            {"transitions": [{"trigger": "go", "source": "closed", "dest": "open", "when": 1}]},
            r"unknown key\(s\) 'when' in transition #1 \('go'\)",
        ),
        (
            {"transitions": [{"trigger": "go now", "source": "closed", "dest": "open"}]},
            r"needs a 'trigger' that is an identifier",
        ),
        (
            {"transitions": [{"trigger": "state", "source": "closed", "dest": "open"}]},
            r"trigger name 'state' is reserved",
        ),
        (
            {"transitions": [{"trigger": "go", "source": "closed"}]},
            r"transition #1 \('go'\) is missing 'dest'",
        ),
        (
            {"transitions": [{"trigger": "go", "source": "ajar", "dest": "open"}]},
            r"leaves from undeclared state 'ajar'",
        ),
        (
            {"transitions": [{"trigger": "go", "source": "closed", "dest": "ajar"}]},
            r"goes to undeclared state 'ajar'",
        ),
        (
            {"transitions": [{"trigger": "go", "source": ["closed", "closed"], "dest": "open"}]},
            r"lists a source twice",
        ),
        (
            {"transitions": [{"trigger": "go", "source": "closed", "dest": "open", "unless": 3}]},
            r"unless must be a name or a list of names",
        ),
        (
            {
                "transitions": [
                    {"trigger": "go", "source": "closed", "dest": "open", "conditions": ["a-b"]}
                ]
            },
            r"guard 'a-b' is not an identifier",
        ),
        (
            {
                "states": ["closed", "open"],
                "transitions": [
                    {"trigger": "go", "source": "closed", "dest": "open"},
                    {"trigger": "go", "source": "closed", "dest": "closed"},
                ],
            },
            r"ambiguous trigger 'go' from state 'closed'",
        ),
        (
            {
                "states": ["closed", "open"],
                "transitions": [
                    {"trigger": "go", "source": "*", "dest": "open"},
                    {"trigger": "go", "source": "open", "dest": "closed", "conditions": "x"},
                ],
            },
            r"ambiguous trigger 'go' from state 'open': transition #1 has no guard",
        ),
        (
            {"transitions": [{"trigger": "open", "source": "closed", "dest": "open"}]},
            r"state\(s\) 'locked' cannot be reached from 'closed'",
        ),
        ({"allow_unreachable": ["ajar"]}, r"allow_unreachable names undeclared state 'ajar'"),
        ({"description": ["not", "text"]}, r"description must be text"),
    ],
)
def test_mapping_faults(changes: dict[str, Any], fault: str) -> None:
    message = _error_for_mapping(_door(**changes))
    assert re.search(fault, message), message
    assert message.startswith("spec 'door': ") or message.startswith("spec <mapping>: ")


def test_not_a_mapping() -> None:
    with pytest.raises(SpecError, match=r"^spec <list>: a spec must be a mapping.*got list"):
        Spec.load(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_guarded_transitions_for_one_trigger_are_not_ambiguous() -> None:
    spec = Spec.load(
        _door(
            transitions=[
                *DOOR["transitions"],
                {"trigger": "knock", "source": "closed", "dest": "open", "conditions": "home"},
                {"trigger": "knock", "source": "closed", "dest": "closed"},
            ]
        )
    )
    assert [t.dest for t in spec.transitions_from("closed", "knock")] == ["open", "closed"]


def test_allow_unreachable_opts_out() -> None:
    transitions = [{"trigger": "open", "source": "closed", "dest": "open"}]
    spec = Spec.load(_door(transitions=transitions, allow_unreachable=["locked"]))
    assert spec.allow_unreachable == ("locked",)


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("name: door\ninitial: [a\n", r"invalid YAML"),
        ("name: door\nname: again\ninitial: a\nstates: [a]\n", r"duplicate key 'name'"),
        ("- a\n- b\n", r"a spec must be a mapping, got list"),
        ("", r"a spec must be a mapping, got NoneType"),
        ("name: door\ninitial: a\nstates: [a, a]\n", r"duplicate state 'a'"),
        ("name: door\nstates: [a]\n", r"missing 'initial'"),
    ],
)
def test_file_faults_name_the_file(tmp_path: Path, text: str, fault: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        Spec.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(fault, message), message


def test_missing_file_and_unknown_shipped_name(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(SpecError, match=re.escape(str(missing)) + ": cannot read spec"):
        Spec.load(missing)
    with pytest.raises(SpecError, match=r"no_such_spec: no shipped spec of that name"):
        Spec.load("no_such_spec")


def test_missing_guard_is_reported_at_engine_construction(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"spec 'door': guard\(s\) 'has_key' not provided"):
        Engine(DOOR)

    class Context:
        has_key = True

    path = tmp_path / "door.yaml"
    path.write_text(
        "name: door\ninitial: a\nstates: [a, b]\n"
        "transitions: [{trigger: go, source: a, dest: b, unless: [stuck]}]\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match=re.escape(f"{path}: guard(s) 'stuck' not provided")):
        Engine(Spec.load(path), Context())
    Engine(DOOR, Context())
