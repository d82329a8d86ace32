"""Diagrams: mermaid and DOT text, and the committed diagrams/ directory kept fresh."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fsm_auth.engine import Spec, shipped_spec_names, to_dot, to_mermaid
from fsm_auth.engine.regen import expected_diagrams, main, stale_diagrams, write_diagrams

DIAGRAMS = Path(__file__).resolve().parents[2] / "diagrams"
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


def test_mermaid_of_user_state() -> None:
    text = to_mermaid(Spec.load("user_state"))
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert lines[1] == "    [*] --> unknown"
    assert "    signedIn --> guest : signed_out [guest_access_enabled]" in lines
    assert "    guest --> signedOut : signed_out [!guest_access_enabled]" in lines
    assert "    guest --> guest : guest_credentials_obtained" in lines
    spec = Spec.load("user_state")
    edges = sum(len(t.sources) for t in spec.transitions)
    assert len([line for line in lines if " --> " in line]) == edges + 1


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
