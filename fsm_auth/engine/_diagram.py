"""State diagrams of a spec: mermaid (renders on GitHub) and graphviz DOT text."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._spec import Spec, Transition

__all__ = ["diagram_files", "to_dot", "to_mermaid"]

_MERMAID_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# Words mermaid's stateDiagram grammar reads as keywords; such a state id gets an alias.
_MERMAID_KEYWORDS = frozenset(
    {"state", "note", "end", "direction", "class", "classDef", "style", "as", "left", "right"}
)


def _label(t: Transition) -> str:
    """``trigger [guard, !other] (internal) / effect``.

    Every listed guard must hold (``!`` means unless); ``(internal)`` marks a transition that
    keeps the state; the effects after ``/`` run once the transition is taken.
    """
    guards = [*t.conditions, *(f"!{g}" for g in t.unless)]
    label = f"{t.trigger} [{', '.join(guards)}]" if guards else t.trigger
    if t.internal:
        label += " (internal)"
    if t.after:
        label += f" / {', '.join(t.after)}"
    return label


def _notes(spec: Spec, state: str) -> list[str]:
    """What ``state`` declares beyond its edges: entry/exit effects, policies, ignored triggers."""
    lines = []
    if spec.on_enter(state):
        lines.append(f"entry / {', '.join(spec.on_enter(state))}")
    if spec.on_exit(state):
        lines.append(f"exit / {', '.join(spec.on_exit(state))}")
    lines.extend(f"{name}: {spec.policy(state, name)}" for name in spec.policies)
    if spec.ignored(state):
        lines.append(f"ignores: {', '.join(spec.ignored(state))}")
    # Extension keys that name things (a mapping or a list of names, such as sign_in.yaml's
    # x-challenges) are listed, so a diagram shows what another layer declares on the state.
    for key, value in spec.state_info(state).items():
        if key.startswith("x-") and isinstance(value, (Mapping, list)) and value:
            lines.append(f"{key.removeprefix('x-')}: {', '.join(str(v) for v in value)}")
    return lines


def _uses_new_vocabulary(spec: Spec) -> bool:
    return bool(
        spec.policies
        or spec.effects
        or any(t.internal for t in spec.transitions)
        or any(spec.ignored(s) for s in spec.states)
    )


# Mermaid decodes `#name;` entities in labels; these characters would otherwise end or break
# a label. One pass, so an entity's own `#` and `;` are not escaped again.
_MERMAID_ESCAPES = {"#": "#35;", '"': "#quot;", ";": "#59;", ":": "#58;"}
_MERMAID_SPECIAL = re.compile('[#";:]')


def _mermaid_text(text: str) -> str:
    return _MERMAID_SPECIAL.sub(lambda m: _MERMAID_ESCAPES[m.group()], text)


def _mermaid_note_line(line: str) -> str:
    # A note runs until the words "end note"; an entity for the space keeps them apart. The
    # names before a note line's first ": " are identifiers: that colon is kept readable.
    head, sep, tail = line.partition(": ")
    text = f"{head}{sep}{_mermaid_text(tail)}" if sep else _mermaid_text(line)
    return text.replace("end note", "end#32;note")


def to_mermaid(spec: Spec) -> str:
    """A mermaid ``stateDiagram-v2`` of ``spec``, one edge per source and trigger.

    An internal transition is a self-loop marked ``(internal)``; a state's entry/exit
    effects, policies and ignored triggers are a note to its right.
    """
    ids: dict[str, str] = {}
    taken = set(spec.states)
    lines = ["stateDiagram-v2"]
    for index, state in enumerate(spec.states):
        if _MERMAID_ID.match(state) and state not in _MERMAID_KEYWORDS:
            ids[state] = state
            continue
        alias = f"state_{index}"
        while alias in taken:
            alias += "_"
        taken.add(alias)
        ids[state] = alias
        lines.append(f'    state "{_mermaid_text(state)}" as {alias}')
    lines.append(f"    [*] --> {ids[spec.initial]}")
    for t in spec.transitions:
        label = _mermaid_text(_label(t))
        lines.extend(
            f"    {ids[source]} --> {ids[t.dest or source]} : {label}" for source in t.sources
        )
    for state in spec.states:
        notes = _notes(spec, state)
        if notes:
            lines.append(f"    note right of {ids[state]}")
            lines.extend(f"        {_mermaid_note_line(note)}" for note in notes)
            lines.append("    end note")
    return "\n".join(lines) + "\n"


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(spec: Spec) -> str:
    """Graphviz DOT text of ``spec`` (no graphviz needed to produce it).

    An internal transition is a dashed self-loop marked ``(internal)``; a state's entry/exit
    effects, policies and ignored triggers are extra lines of its label.
    """
    lines = [
        f"digraph {_dot_string(spec.name)} {{",
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        '    "__start__" [shape=point, label=""];',
    ]
    for state in spec.states:
        description = spec.state_info(state).get("description")
        tooltip = f", tooltip={_dot_string(str(description).strip())}" if description else ""
        label = "\n".join([state, *_notes(spec, state)])
        lines.append(f"    {_dot_string(state)} [label={_dot_string(label)}{tooltip}];")
    lines.append(f'    "__start__" -> {_dot_string(spec.initial)};')
    for t in spec.transitions:
        label = _dot_string(_label(t))
        style = ", style=dashed" if t.internal else ""
        lines.extend(
            f"    {_dot_string(source)} -> {_dot_string(t.dest or source)} [label={label}{style}];"
            for source in t.sources
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _markdown(spec: Spec, file_stem: str) -> str:
    lines = [
        f"# `{spec.name}`",
        "",
        f"<!-- Generated from specs/{file_stem}.yaml by `python -m fsm_auth.engine.regen`;"
        " do not edit. -->",
        "",
    ]
    if spec.description:
        lines += [" ".join(spec.description.split()), ""]
    lines += ["```mermaid", to_mermaid(spec).rstrip("\n"), "```", ""]
    if _uses_new_vocabulary(spec):
        lines += [
            "Edge labels: `trigger [guards] / effects`; every guard must hold, `!guard` must",
            "not, and the effects run once the transition is taken. `(internal)`: the state is",
            "kept and no entry or exit effects run. Notes: each state's entry and exit effects,",
            "policies, and ignored triggers (accepted and discarded: nothing changes).",
        ]
    else:
        lines.append("Edge labels: `trigger [guards]`; every guard must hold, `!guard` must not.")
    lines += [
        "",
        "| State | Description |",
        "| --- | --- |",
    ]
    for state in spec.states:
        description = spec.state_info(state).get("description") or ""
        text = " ".join(str(description).split()).replace("|", "\\|")
        initial = " (initial)" if state == spec.initial else ""
        lines.append(f"| `{state}`{initial} | {text} |")
    return "\n".join(lines) + "\n"


def diagram_files(specs: dict[str, Spec]) -> dict[str, str]:
    """The generated ``diagrams/`` content for ``specs`` (file stem → spec): name → text.

    For each spec ``<stem>.md`` (a mermaid block, which GitHub renders) and ``<stem>.dot``,
    plus a ``README.md`` index.
    """
    files: dict[str, str] = {}
    index = [
        "# State diagrams",
        "",
        "<!-- Generated by `python -m fsm_auth.engine.regen`; do not edit. -->",
        "",
        "One diagram per spec in `specs/`. Regenerate after changing a spec:",
        "`python -m fsm_auth.engine.regen` (from the repository root); a test fails",
        "while a diagram is stale. Print one with `fsm-auth diagram SPEC [--format dot]`.",
        "",
        "| Spec | Mermaid | DOT |",
        "| --- | --- | --- |",
    ]
    for stem in sorted(specs):
        spec = specs[stem]
        files[f"{stem}.md"] = _markdown(spec, stem)
        files[f"{stem}.dot"] = to_dot(spec)
        index.append(f"| `{spec.name}` | [{stem}.md]({stem}.md) | [{stem}.dot]({stem}.dot) |")
    files["README.md"] = "\n".join(index) + "\n"
    return files
