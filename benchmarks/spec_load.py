"""Benchmark: loading a spec whose transitions use ``source: '*'`` (issue 9, item 10).

Loading was quadratic: each ``'*'`` was expanded and checked state by state, so the issue's
152 KiB spec (300 states, 1500 ``'*'`` transitions: 450000 pairs of a source state and a
transition) took seconds and hundreds of MiB. Now ``'*'`` is one shared tuple, the checks
treat it symbolically, and a spec may declare at most 20000 pairs (the engine and the
diagrams cost one unit per pair), so that spec is refused at once.

Printed: for the issue's spec and for a spec of the same size within the bounds (13 states,
1500 ``'*'`` transitions), the time of ``Spec.load`` (YAML included) and, in a second load
under ``tracemalloc``, its peak traced memory; the same for ``Engine(spec)``; then the time of
``Spec.load`` of growing mappings (no YAML), to show the growth is linear. Each file case runs
in a fresh interpreter.

Run: ``python benchmarks/spec_load.py``. Against another checkout of fsm_auth, put it first
on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROBE = """
import json, shutil, sys, time, tracemalloc
from pathlib import Path
from fsm_auth.engine import Engine, Spec
from fsm_auth.errors import SpecError

def load(path):
    try:
        return Spec.load(path), None
    except SpecError as exc:
        return None, str(exc).split(": ", 1)[1][:100]

path = Path(sys.argv[1])
copy = path.with_name("copy-" + path.name)  # loads are cached per file: measure a fresh one
shutil.copy(path, copy)
result = {}
start = time.perf_counter()
spec, result["refused"] = load(path)
result["load_s"] = time.perf_counter() - start
tracemalloc.start()
load(copy)
result["load_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
tracemalloc.stop()
if spec is not None:
    star = [t for t in spec.transitions if t.sources == spec.states]
    result["shared_sources"] = len({id(t.sources) for t in star})
    start = time.perf_counter()
    Engine(spec)
    result["engine_s"] = time.perf_counter() - start
    tracemalloc.start()
    Engine(spec)
    result["engine_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
print(json.dumps(result))
"""


def spec_yaml(states: int, transitions: int) -> str:
    """Described states and one ``'*'`` transition per line, as in the issue."""
    lines = ["name: wide", "initial: s0", "states:"]
    lines += [f"  - {{name: s{i}, description: state {i} of the wide spec}}" for i in range(states)]
    lines.append("transitions:")
    lines += [
        f"  - {{trigger: go_{i:05d}, source: '*', dest: s{i % states}, "
        f"description: transition {i} from every state}}"
        for i in range(transitions)
    ]
    return "\n".join(lines) + "\n"


def spec_mapping(states: int, transitions: int) -> dict[str, Any]:
    """The same shape as a mapping (no YAML parsing)."""
    return {
        "name": "wide",
        "initial": "s0",
        "states": [f"s{i}" for i in range(states)],
        "transitions": [
            {"trigger": f"go_{i}", "source": "*", "dest": f"s{i % states}"}
            for i in range(transitions)
        ],
    }


def file_case(directory: Path, name: str, states: int, transitions: int) -> None:
    path = directory / f"{name}.yaml"
    path.write_text(spec_yaml(states, transitions), encoding="utf-8")
    output = subprocess.run(
        # From the temporary directory: `-c` puts the working directory first on sys.path.
        [sys.executable, "-c", PROBE, str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=directory,
    ).stdout
    result = json.loads(output)
    size = path.stat().st_size / 1024
    print(
        f"{name}: {states} states x {transitions} '*' transitions "
        f"({states * transitions} pairs, {size:.0f} KiB)"
    )
    print(f"  Spec.load        {result['load_s']:.3f} s, peak {result['load_peak_mib']:.1f} MiB")
    if result["refused"]:
        print(f"  refused: {result['refused']}")
    else:
        print(f"  '*' sources      {result['shared_sources']} distinct tuple(s)")
        print(
            f"  Engine(spec)     {result['engine_s']:.3f} s, "
            f"peak {result['engine_peak_mib']:.1f} MiB"
        )


def growth() -> None:
    from fsm_auth.engine import Spec

    print("Spec.load of mappings (no YAML), n states x n '*' transitions, best of 5:")
    previous = None
    for n in (35, 70, 140):
        mapping = spec_mapping(n, n)
        best = min(_timed(Spec.load, mapping) for _ in range(5))
        ratio = f"  ({best / previous:.1f}x the previous)" if previous else ""
        print(f"  n={n:<4} {n * n:>6} pairs  {best * 1000:7.2f} ms{ratio}")
        previous = best


def _timed(call: Any, *args: Any) -> float:
    start = time.perf_counter()
    call(*args)
    return time.perf_counter() - start


def main() -> None:
    import fsm_auth

    print(f"fsm_auth from {Path(fsm_auth.__file__).parent}")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        file_case(directory, "the issue's spec", 300, 1500)
        file_case(directory, "within the bounds", 13, 1500)
    growth()


if __name__ == "__main__":
    main()
