"""Regenerate ``diagrams/`` from the shipped specs: ``python -m fsm_auth.engine.regen [DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._diagram import diagram_files
from ._spec import Spec, shipped_spec_names

__all__ = ["expected_diagrams", "main", "stale_diagrams", "write_diagrams"]

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


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: regenerate the diagrams directory (default ``./diagrams``)."""
    parser = argparse.ArgumentParser(prog="python -m fsm_auth.engine.regen", description=__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=Path("diagrams"))
    args = parser.parse_args(argv)
    changed = write_diagrams(args.directory)
    for name in changed:
        print(f"updated {args.directory / name}")
    if not changed:
        print(f"{args.directory}: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
