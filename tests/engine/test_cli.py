"""`fsm-auth diagram`."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsm_auth.cli import main
from fsm_auth.engine import Spec, to_dot, to_mermaid

DOOR = Path(__file__).parent / "specs" / "door.yaml"


def test_diagram_defaults_to_user_state_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram"]) == 0
    assert capsys.readouterr().out == to_mermaid(Spec.load("user_state"))


def test_diagram_of_a_file_as_dot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", str(DOOR), "--format", "dot"]) == 0
    assert capsys.readouterr().out == to_dot(Spec.load(DOOR))


def test_diagram_of_a_bad_spec_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\n", encoding="utf-8")
    assert main(["diagram", str(broken)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"fsm-auth diagram: error: {broken}: ")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["diagram", "--format", "png"])
    assert info.value.code == 2
