"""Diagrams: mermaid and DOT text, and the committed diagrams/ directory kept fresh."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fsm_auth.engine import Spec, shipped_spec_names, to_dot, to_mermaid
from fsm_auth.engine._diagram import diagram_files
from fsm_auth.engine.regen import expected_diagrams, main, stale_diagrams, write_diagrams

DIAGRAMS = Path(__file__).resolve().parents[2] / "diagrams"
PLAYER = Path(__file__).parent / "specs" / "player.yaml"
DOOR = Path(__file__).parent / "specs" / "door.yaml"
ODD: dict[str, object] = {
    "name": "odd names",
    "initial": "end",
    "states": ["end", "signed out", 'say "hi"', "a:b", "state_0"],
    "transitions": [
        {"trigger": "go", "source": "end", "dest": "signed out", "conditions": ["ok"]},
        {"trigger": "go", "source": "signed out", "dest": 'say "hi"', "unless": ["ok"]},
        {"trigger": "stop", "source": "*", "dest": "a:b", "conditions": "x", "unless": "y"},
        {"trigger": "hop", "source": "a:b", "dest": "state_0"},
    ],
}


def test_committed_diagrams_are_fresh() -> None:
    stale = stale_diagrams(DIAGRAMS)
    assert not stale, (
        f"stale or missing in diagrams/: {', '.join(stale)}; "
        "run `python -m fsm_auth.engine.regen` from the repository root"
    )


def test_every_shipped_spec_has_both_diagrams() -> None:
    files = expected_diagrams()
    for name in shipped_spec_names():
        assert f"{name}.md" in files
        assert f"{name}.dot" in files
        assert f"[{name}.md]({name}.md)" in files["README.md"]


@pytest.mark.parametrize("name", shipped_spec_names())
def test_mermaid_of_a_shipped_spec(name: str) -> None:
    spec = Spec.load(name)
    text = to_mermaid(spec)
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert lines[1] == f"    [*] --> {spec.initial}"
    edges = [line for line in lines if " --> " in line]
    assert len(edges) == sum(len(t.sources) for t in spec.transitions) + 1
    for t in spec.transitions:
        label = " ".join(
            [t.trigger]
            + (
                [f"[{', '.join([*t.conditions, *(f'!{g}' for g in t.unless)])}]"]
                if t.guarded
                else []
            )
            + (["(internal)"] if t.internal else [])
            + ([f"/ {', '.join(t.after)}"] if t.after else [])
        )
        for source in t.sources:
            assert f"    {source} --> {t.dest or source} : {label}" in lines, (source, label)
    assert to_mermaid(spec) == text  # deterministic


def test_mermaid_of_the_full_vocabulary() -> None:
    text = to_mermaid(Spec.load(PLAYER))
    lines = text.splitlines()
    assert "    stopped --> playing : play / start_clock" in lines
    assert "    playing --> playing : restart / rewind" in lines  # reflexive: a plain edge
    assert "    playing --> playing : volume [!muted] (internal) / set_volume" in lines
    assert "    stopped --> stopped : volume [!muted] (internal) / set_volume" in lines
    assert "    playing --> playing : seek [seekable] (internal) / jump" in lines
    assert "    empty --> stopped : load [has_disc]" in lines
    start = lines.index("    note right of playing")
    assert lines[start : start + 6] == [
        "    note right of playing",
        "        entry / spin_up, show_progress",
        "        exit / spin_down",
        "        display: progress",
        "        buttons: locked",
        "    end note",
    ]
    start = lines.index("    note right of empty")
    assert lines[start : start + 6] == [
        "    note right of empty",
        "        exit / close_tray",
        "        display: clock",
        "        buttons: active",
        "        ignores: volume, pause",
        "    end note",
    ]
    # Notes come after every edge, in state order.
    notes = [line for line in lines if line.startswith("    note right of ")]
    assert notes == [f"    note right of {s}" for s in ("stopped", "playing", "paused", "empty")]
    assert lines.index(notes[0]) > max(i for i, line in enumerate(lines) if " --> " in line)


def test_mermaid_notes_escape_what_would_end_them() -> None:
    spec = Spec.load(
        {
            "name": "odd values",
            "initial": "a",
            "policies": {"p": {"values": ["end note", "x;y", "a: b"]}},
            "states": [
                {"name": "a", "policy": {"p": "end note"}},
                {"name": "end", "policy": {"p": "x;y"}, "on_enter": "e"},
                {"name": "c", "policy": {"p": "a: b"}},
            ],
            "transitions": [{"trigger": "go", "source": "a", "dest": "end"}],
            "allow_unreachable": ["c"],
        }
    )
    lines = to_mermaid(spec).splitlines()
    assert "        p: end#32;note" in lines
    assert "        p: x#59;y" in lines
    assert "        p: a#58; b" in lines
    assert "    note right of state_1" in lines  # the aliased id of `end`
    assert sum(line.strip() == "end note" for line in lines) == 3


def test_dot_of_the_full_vocabulary() -> None:
    text = to_dot(Spec.load(PLAYER))
    assert (
        '"playing" -> "playing" [label="volume [!muted] (internal) / set_volume", style=dashed];'
        in text
    )
    assert '"playing" -> "playing" [label="restart / rewind"];' in text
    assert '"stopped" -> "playing" [label="play / start_clock"];' in text
    assert (
        '"playing" [label="playing\\nentry / spin_up, show_progress\\nexit / spin_down'
        '\\ndisplay: progress\\nbuttons: locked"];'
    ) in text
    assert (
        '"empty" [label="empty\\nexit / close_tray\\ndisplay: clock\\nbuttons: active'
        '\\nignores: volume, pause", tooltip="No disc; the tray is open."];'
    ) in text
    assert to_dot(Spec.load(PLAYER)) == text


def test_markdown_legend_explains_only_what_the_spec_uses() -> None:
    files = diagram_files({"player": Spec.load(PLAYER), "door": Spec.load(DOOR)})
    assert "`(internal)`: the state is" in files["player.md"]
    assert "ignored triggers" in files["player.md"]
    assert (
        "Edge labels: `trigger [guards]`; every guard must hold, `!guard` must not.\n"
        in (files["door.md"])
    )
    assert "note right of" not in files["door.md"]
    assert "(internal)" not in files["door.md"]


def test_mermaid_aliases_ids_it_cannot_take() -> None:
    text = to_mermaid(Spec.load(ODD))
    assert 'state "end" as state_0_' in text
    assert 'state "signed out" as state_1' in text
    assert 'state "say #quot;hi#quot;" as state_2' in text
    assert 'state "a#58;b" as state_3' in text
    assert "[*] --> state_0_" in text
    assert "state_0 --> state_3 : stop [x, !y]" in text  # the real state named state_0
    assert "state_1 --> state_2 : go [!ok]" in text
    assert "state_0_ --> state_3 : stop [x, !y]" in text
    # Every id used on an edge is a plain identifier mermaid accepts.
    for line in text.splitlines():
        if " --> " in line:
            ids = line.split(" : ")[0].split(" --> ")
            assert all(re.fullmatch(r"\[\*\]|[A-Za-z][A-Za-z0-9_]*", i.strip()) for i in ids)


def test_dot_quotes_everything() -> None:
    text = to_dot(Spec.load(ODD))
    assert text.startswith('digraph "odd names" {\n')
    assert '"__start__" -> "end";' in text
    assert '"signed out" -> "say \\"hi\\"" [label="go [!ok]"];' in text
    assert text.rstrip().endswith("}")
    door = to_dot(Spec.load(Path(__file__).parent / "specs" / "door.yaml"))
    assert '"locked" [label="locked", tooltip="Shut and locked."];' in door


def test_regen_writes_checks_and_removes_orphans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert set(stale_diagrams(tmp_path)) == set(expected_diagrams())
    (tmp_path / "gone.md").write_text("old", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("kept", encoding="utf-8")
    assert main([str(tmp_path)]) == 0
    assert "updated" in capsys.readouterr().out
    assert stale_diagrams(tmp_path) == []
    assert not (tmp_path / "gone.md").exists()
    assert (tmp_path / "notes.txt").exists()
    (tmp_path / "user_state.dot").write_text("tampered", encoding="utf-8")
    assert stale_diagrams(tmp_path) == ["user_state.dot"]
    assert write_diagrams(tmp_path) == ["user_state.dot"]
    assert main([str(tmp_path)]) == 0
    assert "up to date" in capsys.readouterr().out
