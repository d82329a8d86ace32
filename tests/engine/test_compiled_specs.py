"""Compiled twins of specs (``<name>.compiled.json``): a shipped spec loads without PyYAML,
and a twin that was not made from the exact YAML beside it is never used."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fsm_auth.engine import Spec, shipped_spec_names, shipped_specs_dir
from fsm_auth.engine._spec import compile_spec
from fsm_auth.engine._twin import compiled_twin_path
from fsm_auth.engine.regen import stale_twins, write_twins
from fsm_auth.errors import SpecError

DOOR = """\
name: door
initial: closed
states: [closed, open]
transitions:
  - {trigger: open, source: closed, dest: open}
  - {trigger: close, source: open, dest: closed}
"""


def test_the_shipped_twins_are_fresh() -> None:
    stale = stale_twins()
    assert stale == [], (
        f"stale compiled specs: {[p.name for p in stale]}; "
        "run `python -m fsm_auth.engine.regen` from the repository root"
    )


@pytest.mark.parametrize("name", shipped_spec_names())
def test_a_twin_holds_what_the_yaml_says(name: str) -> None:
    path = shipped_specs_dir() / f"{name}.yaml"
    compiled = json.loads(compiled_twin_path(path).read_text(encoding="utf-8"))
    import yaml

    # Order too: the engine's transitions and the diagrams follow the YAML's order.
    assert json.dumps(compiled["spec"]) == json.dumps(yaml.safe_load(path.read_text("utf-8")))


def test_shipped_specs_load_without_pyyaml() -> None:
    code = (
        "import sys\n"
        "from fsm_auth.engine import Engine, Spec, shipped_spec_names\n"
        "for name in shipped_spec_names(): Engine(Spec.load(name))\n"
        "print('yaml' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "False"  # before the twins: every spec load imported PyYAML


def door(tmp_path: Path) -> Path:
    path = tmp_path / "door.yaml"
    path.write_text(DOOR, encoding="utf-8")
    write_twins(tmp_path)
    return path


def test_a_twin_is_used_for_the_yaml_it_was_made_from(tmp_path: Path) -> None:
    path = door(tmp_path)
    twin = compiled_twin_path(path)
    compiled = json.loads(twin.read_text(encoding="utf-8"))
    # Proof that the twin is what was read: a description only the twin has.
    compiled["spec"]["description"] = "from the twin"
    twin.write_text(json.dumps(compiled), encoding="utf-8")
    assert Spec.load(path).description == "from the twin"


def test_a_twin_of_an_edited_yaml_is_ignored(tmp_path: Path) -> None:
    path = door(tmp_path)
    path.write_text(DOOR.replace("[closed, open]", "[closed, open, locked]") + (
        "  - {trigger: lock, source: closed, dest: locked}\n"
    ), encoding="utf-8")  # fmt: skip
    assert "locked" in Spec.load(path).states
    assert stale_twins(tmp_path) == [compiled_twin_path(path)]


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[]", '{"format": 2}', "[" * 100000, json.dumps({"format": 1, "spec": {}})],
    ids=["empty", "not-json", "a-list", "another-format", "deeply-nested", "no-hash"],
)
def test_an_unusable_twin_is_ignored(tmp_path: Path, text: str) -> None:
    path = door(tmp_path)
    compiled_twin_path(path).write_text(text, encoding="utf-8")
    assert Spec.load(path).states == ("closed", "open")


def test_a_twin_that_is_not_a_spec_is_still_validated(tmp_path: Path) -> None:
    path = door(tmp_path)
    twin = compiled_twin_path(path)
    compiled = json.loads(twin.read_text(encoding="utf-8"))
    compiled["spec"]["initial"] = "nowhere"
    twin.write_text(json.dumps(compiled), encoding="utf-8")
    with pytest.raises(SpecError, match="nowhere"):
        Spec.load(path)


def test_an_invalid_spec_is_not_compiled(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(DOOR.replace("initial: closed", "initial: nowhere"), encoding="utf-8")
    with pytest.raises(SpecError, match="nowhere"):
        compile_spec(path)
    assert not compiled_twin_path(path).exists()


def test_regen_leaves_fresh_twins_alone(tmp_path: Path) -> None:
    for name in shipped_spec_names():
        shutil.copy(shipped_specs_dir() / f"{name}.yaml", tmp_path)
    assert len(write_twins(tmp_path)) == len(shipped_spec_names())
    assert write_twins(tmp_path) == []
