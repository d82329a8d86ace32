"""Cold start: the whole-process time of ``fsm-auth credentials --json`` on a valid saved session.

The AWS CLI and every AWS SDK run a profile's ``credential_process`` on every command, so this
whole process (interpreter start, imports, decrypting the session, verifying its tokens,
printing) is added to each ``aws ...`` call. Measured against, in the same run and interleaved:

- ``python -c pass``: the physical floor, a bare interpreter (target: at most 3x);
- ``python -c "import boto3"``: what any Python credential helper built on boto3 starts with.

And ``from fsm_auth import AuthClient`` against ``import pycognito``, each timed inside a fresh
interpreter (target: at least 4x faster).

The session is prepared first: the emulator runs in-process, a user signs up and in with a
storage dir (its AWS credentials saved with it), then the client is closed and the emulator
stopped, so a run that made a request would fail. The key is in the owner-only key file (the
preparation uses keyring's ``fail`` backend, as on CI and headless machines, so no benchmark key
lands in a real keyring), and the store notes so in its directory.

Every child runs with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed, one warm-up
run per case), as an installed package runs; peak RSS is each child's own ``ru_maxrss``
(``os.wait4``). ``--profile`` also prints the slowest imports of one credentials run
(``python -X importtime``).

Run: ``python benchmarks/cold_start.py [--rounds N] [--profile]`` (needs the dev extra).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

PASSWORD = "Bench-Passw0rd!"

IMPORT_PROBE = """
import time
start = time.perf_counter()
{statement}
print(time.perf_counter() - start)
"""


def child_env() -> dict[str, str]:
    """The children's environment: bytecode caches on, no stray config. The keyring is left
    as a user has it: the store's note sends ``fsm-auth`` to its key file without asking."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("FSM_AUTH_CONFIG", None)
    return env


def prepare(directory: Path) -> tuple[Path, Path]:
    """A configuration file and a storage dir holding a valid signed-in session; the emulator
    is stopped on return."""
    import keyring
    from keyring.backends import fail

    from fsm_auth import AuthClient
    from fsm_auth.emulator import Emulator

    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    config_file = directory / "awsconfiguration.json"
    storage = directory / "session"
    with Emulator() as emulator:
        pool = emulator.provision()
        config_file.write_text(json.dumps(pool.aws_configuration()), encoding="utf-8")
        with AuthClient.from_config(config_file, storage_dir=storage) as client:
            client.initialize()
            client.sign_up("bench", PASSWORD, attributes={"email": "bench@example.com"})
            client.confirm_sign_up("bench", emulator.last_code("bench", "sign_up"))
            client.sign_in("bench", PASSWORD)
            client.get_aws_credentials()
        emulator.stop()  # offline from here
    return config_file, storage


def fsm_auth_command() -> list[str]:
    """The ``fsm-auth`` console script next to this interpreter, else ``python -m fsm_auth``."""
    script = Path(sys.executable).with_name("fsm-auth")
    if script.exists():
        return [str(script)]
    found = shutil.which("fsm-auth")
    return [found] if found else [sys.executable, "-m", "fsm_auth"]


def run_child(argv: Sequence[str], cwd: str, env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``argv`` to completion: wall seconds, the child's peak RSS in MiB, its stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(argv), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err.decode()[-500:]}")
    # ru_maxrss: KiB on Linux, bytes on macOS.
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return elapsed, rss, out.decode()


def import_seconds(statement: str, cwd: str, env: dict[str, str]) -> float:
    """The time of ``statement`` inside a fresh interpreter."""
    _, _, out = run_child(
        [sys.executable, "-c", IMPORT_PROBE.format(statement=statement)], cwd, env
    )
    return float(out.split()[-1])


def median_range(values: Sequence[float]) -> str:
    return f"median {statistics.median(values):.2f}x (range {min(values):.2f}-{max(values):.2f})"


def profile(command: list[str], cwd: str, env: dict[str, str], top: int = 15) -> None:
    """Print the slowest imports (cumulative) of one run of ``command``, from -X importtime."""
    argv = [sys.executable, "-X", "importtime", *command]
    if command[0] != sys.executable:  # a console script: run its module under -X importtime
        argv = [sys.executable, "-X", "importtime", "-m", "fsm_auth", *command[1:]]
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append((int(cumulative), depth, name.strip()))
    print("\nslowest imports of one run (cumulative, -X importtime; top level of each tree):")
    tops = sorted((r for r in rows if r[1] <= 1), reverse=True)[:top]
    for cumulative, depth, name in tops:
        print(f"  {cumulative / 1000:7.1f} ms  {'  ' * depth}{name}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed runs per case (>= 10)")
    parser.add_argument("--profile", action="store_true", help="print the slowest imports")
    parser.add_argument("--measure", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rounds = max(10, args.rounds)
    if args.measure:
        measure(Path(args.measure), rounds, profile_imports=args.profile)
        return
    with tempfile.TemporaryDirectory() as tmp:
        prepare(Path(tmp))
        # Measured from a fresh, small process: a child's ru_maxrss starts from the RSS of the
        # process that spawned it (Linux carries the high-water mark across fork and exec),
        # and this one holds the emulator.
        command = [sys.executable, __file__, "--measure", tmp, "--rounds", str(rounds)]
        subprocess.run([*command, *(["--profile"] if args.profile else [])], check=True)


def measure(directory: Path, rounds: int, *, profile_imports: bool) -> None:
    """Time the cases against the session prepared in ``directory``; print the figures."""
    env = child_env()
    config_file = directory / "awsconfiguration.json"
    storage = directory / "session"
    neutral = str(directory)
    credentials = [
        *fsm_auth_command(),
        "credentials",
        "--json",
        "--config",
        str(config_file),
        "--storage-dir",
        str(storage),
    ]
    cases: dict[str, list[str]] = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import boto3"': [sys.executable, "-c", "import boto3"],
        "fsm-auth credentials --json": credentials,
    }
    for command in cases.values():  # warm-up: writes bytecode caches, fills the page cache
        run_child(command, neutral, env)
    document = json.loads(run_child(credentials, neutral, env)[2])
    if document.get("Version") != 1 or not document.get("AccessKeyId"):
        raise SystemExit("fsm-auth credentials served no credentials")

    times: dict[str, list[float]] = {name: [] for name in cases}
    rss: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, command in cases.items():
            elapsed, peak, _ = run_child(command, neutral, env)
            times[name].append(elapsed)
            rss[name].append(peak)

    pools = json.loads(config_file.read_text(encoding="utf-8"))["CognitoUserPool"]["Default"]
    statements = {
        "from fsm_auth import AuthClient": "from fsm_auth import AuthClient",
        "import pycognito": "import pycognito",
        # The machinery the client imports when the first one is built, against pycognito's
        # (a boto3 client per Cognito object): no request on either side.
        "+ build a client": (
            "from fsm_auth import AuthClient, MemorySessionStore\n"
            f"AuthClient.from_config({str(config_file)!r}, store=MemorySessionStore())"
        ),
        "+ build a pycognito.Cognito": (
            "import pycognito\n"
            f"pycognito.Cognito({pools['PoolId']!r}, {pools['AppClientId']!r}, "
            f"user_pool_region={pools['Region']!r})"
        ),
    }
    for statement in statements.values():
        import_seconds(statement, neutral, env)
    imports: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(rounds):
        for name, statement in statements.items():
            imports[name].append(import_seconds(statement, neutral, env))

    # The first run for a configuration (no configuration note yet): the full client.
    first_runs: list[float] = []
    for _ in range(rounds):
        for note in storage.glob("config.*.json"):
            note.unlink()
        first_runs.append(run_child(credentials, neutral, env)[0])

    if profile_imports:
        profile(credentials, neutral, env)

    print(f"\ncold start, whole process, {rounds} interleaved runs each, no network:")
    for name in cases:
        median = statistics.median(times[name])
        print(
            f"  {name:30s} {median * 1e3:7.1f} ms  (min {min(times[name]) * 1e3:6.1f}, "
            f"max {max(times[name]) * 1e3:6.1f})  peak RSS {statistics.median(rss[name]):5.1f} MiB"
        )
    floor = statistics.median(times["python -c pass"])
    boto3 = statistics.median(times['python -c "import boto3"'])
    ours = statistics.median(times["fsm-auth credentials --json"])
    print(f"ratio: fsm-auth credentials / bare interpreter = {ours / floor:.2f}x (target <= 3x)")
    print(f"ratio: fsm-auth credentials / import boto3     = {ours / boto3:.2f}x")
    first = statistics.median(first_runs)
    print(
        f"  first run of a configuration (full client, then the note): {first * 1e3:.1f} ms "
        f"= {first / floor:.2f}x the bare interpreter"
    )
    editable = any(p.name.startswith("__editable__") for p in _site_packages().glob("*.pth"))
    if editable:
        print(
            "  note: fsm-auth is an editable install here; its finder is loaded by every "
            "interpreter of this environment, the bare one included"
        )

    print(f"\nimports, inside fresh interpreters, {rounds} interleaved runs each:")
    for name in statements:
        print(f"  {name:32s} {statistics.median(imports[name]) * 1e3:7.1f} ms")
    client = statistics.median(imports["from fsm_auth import AuthClient"])
    pycognito = statistics.median(imports["import pycognito"])
    print(
        f"ratio: from fsm_auth import AuthClient is {pycognito / client:.2f}x faster than "
        "import pycognito (target >= 4x)"
    )
    built = statistics.median(imports["+ build a client"])
    cognito = statistics.median(imports["+ build a pycognito.Cognito"])
    print(
        f"ratio: importing and building a client is {cognito / built:.2f}x faster than pycognito's"
    )


def _site_packages() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"])


if __name__ == "__main__":
    main()
