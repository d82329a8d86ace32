"""The cost of importing fsm-auth against pycognito, in fresh interpreters, same run.

Measures wall time and peak RSS growth of ``import fsm_auth`` plus touching ``AuthClient``
(which loads the client, engine and session layer, but not boto3: boto3 comes with the first
network call), against ``import pycognito``. Target: at least 4x faster.

Run: ``python benchmarks/import_cost.py``
"""

from __future__ import annotations

import statistics
import subprocess
import sys

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
    "fsm_auth": "import fsm_auth; fsm_auth.AuthClient",
    "pycognito": "import pycognito",
}


def measure(statement: str, rounds: int = 7) -> tuple[float, float, bool]:
    times, mems, boto = [], [], False
    for _ in range(rounds):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(statement=statement)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        times.append(float(out[0]))
        mems.append(float(out[1]))
        boto = out[2] == "True"
    return statistics.median(times), statistics.median(mems), boto


def main() -> None:
    results = {name: measure(statement) for name, statement in CASES.items()}
    for name, (seconds, mib, boto) in results.items():
        print(f"{name:10s} {seconds * 1000:8.1f} ms  {mib:6.1f} MiB  boto3 imported: {boto}")
    ours, peer = results["fsm_auth"], results["pycognito"]
    print(
        f"ratio: import fsm_auth is {peer[0] / ours[0]:.1f}x faster than pycognito (target >= 4x)"
    )
    print(f"ratio: import fsm_auth uses {peer[1] / max(ours[1], 0.1):.1f}x less memory")


if __name__ == "__main__":
    main()
