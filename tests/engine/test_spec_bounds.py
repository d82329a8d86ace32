"""Specs that would cost too much or reach too far (issue 9, items 5 and 10).

Loading is linear in the spec (``source: '*'`` is never expanded per transition; the work is
counted in lines of the loader executed, not timed), a spec is bounded (states, transitions,
pairs of a source state and a transition, size, nesting, values), a deeply nested or
self-referencing document is a ``SpecError``, and only public names are guards or effects,
however the spec was built.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from fsm_auth.engine import Engine, Spec, Transition
from fsm_auth.errors import SpecError


def wide(states: int, transitions: int, *, ignores: bool = False) -> dict[str, Any]:
    """``states`` states and ``transitions`` ``'*'`` transitions (each its own trigger); with
    ``ignores``, each state also has an internal ``poke`` and ignores its neighbour's."""
    names = [f"s{i}" for i in range(states)]
    entries: list[dict[str, Any]] = [
        {"trigger": f"go_{i}", "source": "*", "dest": names[i % states]} for i in range(transitions)
    ]
    spec_states: list[Any] = list(names)
    if ignores:
        entries += [
            {"trigger": f"poke_{i}", "source": name, "internal": True}
            for i, name in enumerate(names)
        ]
        spec_states = [
            {"name": name, "ignore": [f"poke_{(i + 1) % states}"]} for i, name in enumerate(names)
        ]
    return {"name": "wide", "initial": "s0", "states": spec_states, "transitions": entries}


def wide_yaml(states: int, transitions: int) -> str:
    """The issue's shape as a file: described states, one ``'*'`` transition per line."""
    lines = ["name: wide", "initial: s0", "states:"]
    lines += [f"  - {{name: s{i}, description: state {i} of the wide spec}}" for i in range(states)]
    lines.append("transitions:")
    lines += [
        f"  - {{trigger: go_{i:05d}, source: '*', dest: s{i % states}, "
        f"description: transition {i} from every state}}"
        for i in range(transitions)
    ]
    return "\n".join(lines) + "\n"


def lines_executed(load: Callable[[], object]) -> int:
    """How many lines of the spec loader's module run during ``load()``: a deterministic
    measure of its work (C-level parts such as YAML parsing are outside it)."""
    loader_file = sys.modules[Spec.__module__].__file__
    count = 0

    def local(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        return local if frame.f_code.co_filename == loader_file else None

    sys.settrace(tracer)
    try:
        load()
    finally:
        sys.settrace(None)
    return count


# -- item 10: linear loading ---------------------------------------------------------------


@pytest.mark.parametrize("ignores", [False, True])
def test_loading_is_linear_in_the_spec(ignores: bool) -> None:
    # Twice the states and twice the '*' transitions: twice the work, not four times (the
    # expansion of '*' per transition made it quadratic).
    small = lines_executed(lambda: Spec.load(wide(60, 60, ignores=ignores)))
    large = lines_executed(lambda: Spec.load(wide(120, 120, ignores=ignores)))
    assert large < 2.5 * small, (small, large)


def test_star_transitions_share_one_tuple_of_states() -> None:
    spec = Spec.load(wide(50, 200))
    assert all(t.sources is spec.states for t in spec.transitions)
    assert spec.transitions_from("s7", "go_3") == (spec.transitions[3],)


def test_the_issue_spec_is_refused_at_the_pair_bound(tmp_path: Path) -> None:
    # 300 states and 1500 '*' transitions: 450000 pairs, 152 KiB of YAML.
    path = tmp_path / "wide.yaml"
    path.write_text(wide_yaml(300, 1500), encoding="utf-8")
    assert 140 * 1024 < path.stat().st_size < 256 * 1024
    with pytest.raises(SpecError, match=r"more than 20000 \(source state, transition\) pairs"):
        Spec.load(path)
    with pytest.raises(SpecError, match="'\\*' counts every state"):
        Spec.load(wide(300, 1500))


def test_a_spec_at_the_pair_bound_loads() -> None:
    spec = Spec.load(wide(100, 200))  # exactly 20000 pairs
    assert len(spec.transitions) == 200
    assert Engine(spec).state == "s0"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (wide(501, 501), "501 states; a spec may declare at most 500 states"),
        (
            {
                "name": "long",
                "initial": "a",
                "states": ["a", "b"],
                "transitions": [
                    {"trigger": f"t{i}", "source": "a", "dest": "b"} for i in range(5001)
                ],
            },
            "5001 transitions; a spec may declare at most 5000",
        ),
        (
            {
                "name": "listed",
                "initial": "a",
                "states": ["a", "b"],
                "transitions": [{"trigger": "t", "source": ["a", "b", "a"], "dest": "b"}],
            },
            "lists more sources than there are states",
        ),
    ],
)
def test_a_spec_beyond_the_bounds_is_refused(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        Spec.load(mapping)


def test_a_file_beyond_the_size_bound_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "large.yaml"
    path.write_text(
        "name: large\ninitial: a\nstates: [a]\ndescription: " + "x" * (257 * 1024) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match="larger than 256 KiB"):
        Spec.load(path)


def test_a_spec_with_too_many_values_is_refused() -> None:
    mapping = wide(2, 2)
    mapping["x-data"] = list(range(100_001))
    with pytest.raises(SpecError, match="more than 100000 values"):
        Spec.load(mapping)


# -- the symbolic '*' decides as the expansion did -----------------------------------------


def _door(*transitions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "door",
        "initial": "closed",
        "states": ["closed", "open", "locked"],
        "transitions": list(transitions),
        **extra,
    }


@pytest.mark.parametrize(
    ("transitions", "message"),
    [
        (
            [
                {"trigger": "open", "source": "closed", "dest": "open"},
                {"trigger": "close", "source": "open", "dest": "closed"},
                {"trigger": "lock", "source": "locked", "dest": "locked"},
                {"trigger": "lock", "source": "*", "dest": "locked"},
            ],
            r"ambiguous trigger 'lock' from state 'locked': transition #3 has no guard, so "
            r"transition #4 could never be taken",
        ),
        (
            [
                {"trigger": "open", "source": "closed", "dest": "open"},
                {"trigger": "reset", "source": "*", "dest": "closed"},
                {"trigger": "reset", "source": ["open", "locked"], "dest": "open"},
            ],
            r"ambiguous trigger 'reset' from state 'open': transition #2 has no guard",
        ),
        (
            [
                {"trigger": "reset", "source": "*", "dest": "closed", "conditions": ["ok"]},
                {"trigger": "reset", "source": "*", "dest": "closed"},
                {"trigger": "reset", "source": "*", "dest": "open"},
            ],
            r"ambiguous trigger 'reset' from state 'closed': transition #2 has no guard, so "
            r"transition #3",
        ),
        (
            [{"trigger": "reset", "source": "*", "dest": "closed"}],
            r"state\(s\) 'open', 'locked' cannot be reached",
        ),
    ],
)
def test_star_transitions_are_checked_as_if_expanded(
    transitions: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        Spec.load(_door(*transitions))


def test_star_transitions_reach_their_dest_and_refuse_an_ignore() -> None:
    spec = Spec.load(
        _door(
            {"trigger": "open", "source": "closed", "dest": "open"},
            {"trigger": "lock", "source": "*", "dest": "locked"},
        )
    )
    assert spec.transitions_from("locked", "lock") == (spec.transitions[1],)
    mapping = _door(
        {"trigger": "open", "source": "closed", "dest": "open"},
        {"trigger": "lock", "source": "*", "dest": "locked"},
    )
    mapping["states"][1] = {"name": "open", "ignore": ["lock"]}
    with pytest.raises(SpecError, match=r"state 'open' ignores trigger 'lock', but transition #2"):
        Spec.load(mapping)


# -- item 5: nested, recursive and malformed documents ---------------------------------------


@pytest.mark.parametrize("depth", [50, 100_000])
def test_a_deeply_nested_yaml_spec_is_a_spec_error(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "nested.yaml"
    path.write_text(
        "name: x\ninitial: a\nstates: [a]\nx-deep: " + "[" * depth + "]" * depth + "\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match=r"invalid YAML: .*nest") as caught:
        Spec.load(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.fixture
def pure_python_yaml(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """PyYAML without libyaml (as where its wheel lacks it): the loader falls back to the
    pure-Python parser, whose composer recurses per level."""
    import yaml

    from fsm_auth.engine import _spec

    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    _spec._unique_key_loader.cache_clear()
    _spec._load_file.cache_clear()
    yield
    _spec._unique_key_loader.cache_clear()
    _spec._load_file.cache_clear()


@pytest.mark.usefixtures("pure_python_yaml")
@pytest.mark.parametrize(
    "nested",
    [
        "".join("  " * (level + 1) + "-\n" for level in range(50)),  # block style
        " " + "[" * 100_000 + "]" * 100_000 + "\n",  # flow style, as deep as fits in 256 KiB
    ],
    ids=["block-50", "flow-100000"],
)
def test_a_deeply_nested_yaml_spec_is_a_spec_error_without_libyaml(
    tmp_path: Path, nested: str
) -> None:
    path = tmp_path / "nested.yaml"
    path.write_text("name: x\ninitial: a\nstates: [a]\nx-deep:\n" + nested, encoding="utf-8")
    with pytest.raises(SpecError, match="nested more than 32 levels deep"):
        Spec.load(path)
    assert Spec.load(Path(__file__).parent / "specs" / "door.yaml").name == "door"


def test_a_deeply_nested_mapping_is_a_spec_error() -> None:
    deep: list[Any] = []
    inner = deep
    for _ in range(40):
        inner.append([])
        inner = inner[0]
    mapping = {**wide(2, 2), "x-deep": deep}
    with pytest.raises(SpecError, match="nested more than 32 levels deep"):
        Spec.load(mapping)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # PyYAML refuses a recursive node by itself; the depth check may come first.
        ("x-loop: &a [*a, *a]\n", "nested more than 32 levels deep|recursive node"),
        (
            "x-a: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
            + "".join(f"x-{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 8)),
            "more than 100000 values",
        ),
        ("? [a, b]\n: c\n", "a mapping key must be a name"),
    ],
)
def test_recursive_bombing_or_unhashable_yaml_is_a_spec_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text("name: x\ninitial: a\nstates: [a]\n" + text, encoding="utf-8")
    with pytest.raises(SpecError, match=message):
        Spec.load(path)


def test_a_spec_that_is_not_utf8_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\ninitial: a\nstates: [a]\n")
    with pytest.raises(SpecError, match="not UTF-8 text"):
        Spec.load(path)


@pytest.mark.parametrize("dest", [["open"], {"name": "open"}])
def test_a_dest_that_is_not_a_name_is_a_spec_error(dest: Any) -> None:
    with pytest.raises(SpecError, match="goes to undeclared state"):
        Spec.load(_door({"trigger": "open", "source": "closed", "dest": dest}))


# -- item 10: only public names are guards or effects ------------------------------------------


class _Context:
    """A context whose private state a guard name must not reach."""

    def __init__(self) -> None:
        self.initialized = 0
        self.initialized += 1


@pytest.mark.parametrize("name", ["__init__", "_private", "__class__"])
def test_a_private_or_dunder_guard_is_refused_in_a_spec(name: str) -> None:
    mapping = _door(
        {"trigger": "open", "source": "closed", "dest": "open", "conditions": [name]},
    )
    mapping["allow_unreachable"] = ["locked"]
    with pytest.raises(SpecError, match=f"guard '{name}' is not public"):
        Spec.load(mapping)


@pytest.mark.parametrize("key", ["conditions", "unless"])
def test_a_dunder_guard_never_reaches_the_context_however_the_spec_is_built(key: str) -> None:
    # A Spec built directly, not through Spec.load: the names are still checked.
    context = _Context()

    def build_and_fire() -> None:
        spec = Spec(
            name="door",
            initial="closed",
            states=("closed", "open"),
            transitions=(Transition("open", ("closed",), "open", **{key: ("__init__",)}),),
        )
        Engine(spec, context=context).fire("open")

    with pytest.raises(SpecError, match=rf"guard '__init__' in {key} is not public"):
        build_and_fire()
    assert context.initialized == 1


def test_a_dunder_effect_is_refused_however_the_spec_is_built() -> None:
    with pytest.raises(SpecError, match="effect '__del__' in after is not public"):
        Transition("open", ("closed",), "open", after=("__del__",))
