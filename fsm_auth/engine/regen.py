"""Regenerate what is made from the shipped specs: ``python -m fsm_auth.engine.regen [DIR]``.

That is the diagrams (in ``DIR``, default ``./diagrams``) and each spec's compiled twin
(``specs/<name>.compiled.json``, which lets a process load the spec without PyYAML).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._diagram import diagram_files
from ._spec import Spec, compile_spec, shipped_spec_names
from ._twin import compiled_twin_path, shipped_specs_dir

__all__ = [
    "expected_diagrams",
    "expected_twins",
    "main",
    "stale_diagrams",
    "stale_twins",
    "write_diagrams",
    "write_twins",
]

# Files in the diagrams directory that regeneration owns (others are left alone).
_GENERATED_SUFFIXES = (".md", ".dot")


def expected_diagrams() -> dict[str, str]:
    """What ``diagrams/`` must hold for the shipped specs: file name → text."""
    return diagram_files({name: Spec.load(name) for name in shipped_spec_names()})


def stale_diagrams(directory: Path) -> list[str]:
    """File names in ``directory`` that are missing, differ, or belong to no shipped spec."""
    expected = expected_diagrams()
    stale = []
    for name, text in expected.items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    stale.extend(
        p.name
        for p in sorted(directory.glob("*"))
        if p.suffix in _GENERATED_SUFFIXES and p.name not in expected
    )
    return stale


def write_diagrams(directory: Path) -> list[str]:
    """Bring ``directory`` up to date; returns the names written or removed."""
    directory.mkdir(parents=True, exist_ok=True)
    expected = expected_diagrams()
    changed = []
    for name in stale_diagrams(directory):
        path = directory / name
        if name in expected:
            path.write_text(expected[name], encoding="utf-8")
        else:
            path.unlink()
        changed.append(name)
    return changed


def expected_twins(specs: Path | None = None) -> dict[Path, str]:
    """What the compiled twins of the specs in ``specs`` (default: the shipped specs'
    directory) must hold: path → text."""
    directory = specs or shipped_specs_dir()
    names = shipped_spec_names() if specs is None else sorted(p.stem for p in specs.glob("*.yaml"))
    return {
        compiled_twin_path(directory / f"{name}.yaml"): compile_spec(directory / f"{name}.yaml")
        for name in names
    }


def stale_twins(specs: Path | None = None) -> list[Path]:
    """Compiled twins that are missing or differ from what their spec compiles to."""
    return [
        path
        for path, text in expected_twins(specs).items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def write_twins(specs: Path | None = None) -> list[Path]:
    """Bring the compiled twins up to date; returns the paths written."""
    expected = expected_twins(specs)
    changed = stale_twins(specs)
    for path in changed:
        path.write_text(expected[path], encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: regenerate the diagrams directory (default ``./diagrams``)."""
    parser = argparse.ArgumentParser(prog="python -m fsm_auth.engine.regen", description=__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=Path("diagrams"))
    args = parser.parse_args(argv)
    changed = [args.directory / name for name in write_diagrams(args.directory)]
    changed += write_twins()
    for path in changed:
        print(f"updated {path}")
    if not changed:
        print(f"{args.directory} and the compiled specs: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
