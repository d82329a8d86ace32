"""The cost of importing fsm-auth against pycognito, in fresh interpreters, same run.

Measures wall time and peak RSS growth of ``import fsm_auth`` (the target: at least 4x faster
than ``import pycognito``), and also of ``from fsm_auth import AuthClient``, which loads the
client, engine and session layer, but not boto3: boto3 comes with the first network call.
Each case runs in a fresh interpreter from a neutral directory, rounds interleaved, medians.

Run: ``python benchmarks/import_cost.py``
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile

PROBE = """
import resource, sys, time
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
{statement}
elapsed = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(elapsed, (after - before) / 1024, "boto3" in sys.modules)
"""

CASES = {
    "import fsm_auth": "import fsm_auth",
    "from fsm_auth import AuthClient": "from fsm_auth import AuthClient",
    "import pycognito": "import pycognito",
}


def run_once(statement: str, cwd: str) -> tuple[float, float, bool]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(statement=statement)],
        check=True,
        capture_output=True,
        text=True,
        cwd=cwd,
    ).stdout.split()
    return float(out[0]), float(out[1]), out[2] == "True"


def main(rounds: int = 11) -> None:
    samples: dict[str, list[tuple[float, float, bool]]] = {name: [] for name in CASES}
    with tempfile.TemporaryDirectory() as neutral:
        for statement in CASES.values():
            run_once(statement, neutral)  # warm the file cache; not counted
        for _ in range(rounds):
            for name, statement in CASES.items():
                samples[name].append(run_once(statement, neutral))
    results = {
        name: (
            statistics.median(s[0] for s in runs),
            statistics.median(s[1] for s in runs),
            any(s[2] for s in runs),
        )
        for name, runs in samples.items()
    }
    for name, (seconds, mib, boto) in results.items():
        print(f"{name:32s} {seconds * 1000:7.1f} ms {mib:6.1f} MiB  boto3 imported: {boto}")
    ours, client, peer = (results[name] for name in CASES)
    print(
        f"ratio: from fsm_auth import AuthClient is {peer[0] / client[0]:.1f}x faster "
        "than pycognito"
    )
    print(
        f"ratio: import fsm_auth is {peer[0] / ours[0]:.1f}x faster than pycognito (target >= 4x)"
    )
    print(f"ratio: import fsm_auth uses {peer[1] / max(ours[1], 0.1):.1f}x less memory")


if __name__ == "__main__":
    main()
