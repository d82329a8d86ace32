"""Storage that cannot be written (issue 9, item 1): a directory made read-only after the
sign-in, one owned by another user, and a read-only file system. The session is served and
refreshed in memory (one refresh request per token lifetime), one warning says so, nothing
raises SessionStoreError, and a later save that works resumes persistence.

Permission bits do not stop root, and CI runs as root. Each scenario therefore runs in a child
process that signs in, refreshes once (so that every module it needs is loaded while it may
still read them: CI's virtual environment is not readable by other users) and then, when it is
root, drops to the unprivileged user nobody before the storage becomes unwritable. The child
runs against this process's emulator; it asks the test to move the emulator's clock.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient
from fsm_auth.emulator import Emulator, FakeClock
from fsm_auth.session import MemorySessionStore

from .conftest import PASSWORD, register

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.name != "posix", reason="POSIX users, permissions and mounts"),
]

ROOT = os.name == "posix" and os.geteuid() == 0
NOBODY = 65534
LIFETIME = 3600 + 60  # past the tokens' and the AWS credentials' lifetime

# The child: argv = directory, scenario. It prints "advance <seconds>" and reads back
# "ok <clock offset>" when it needs the emulator's time moved, and "result <json>" at the end.
_CHILD = r"""
import hashlib, json, logging, os, subprocess, sys, time

from fsm_auth import AuthClient, AuthError, UserState
from fsm_auth.config import load_config
from fsm_auth.session import FileSessionStore

directory, scenario = sys.argv[1], sys.argv[2]
config = json.loads(os.environ["FSM_TEST_CONFIG"])
offset = float(os.environ["FSM_TEST_CLOCK_OFFSET"])
NOBODY = 65534


def advance(seconds):
    global offset
    print("advance", seconds, flush=True)
    offset = float(sys.stdin.readline().split()[1])


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append((record.levelno, record.getMessage()))

    def warnings(self):
        return [m for level, m in self.records if level >= logging.WARNING]


records = Records()
logger = logging.getLogger("fsm_auth")
logger.addHandler(records)
logger.setLevel(logging.DEBUG)
logger.propagate = False


def digest(tokens):
    return hashlib.sha256(tokens.access_token.encode()).hexdigest()


def store():
    key = load_config(config).config_key
    return FileSessionStore(directory, use_keyring=False).scoped(key)


def set_modes(directory_mode, file_mode):
    for name in os.listdir(directory):
        os.chmod(os.path.join(directory, name), file_mode)
    os.chmod(directory, directory_mode)


def one_lifetime(client):
    advance(LIFETIME)
    errors, seen = [], set()
    for call in (client.get_tokens, client.get_aws_credentials) * 3 + (client.get_identity_id,):
        try:
            value = call()
        except AuthError as exc:
            errors.append(f"{call.__name__}: {type(exc).__name__}: {exc}")
        else:
            if call == client.get_tokens:
                seen.add(digest(value))
    return {"errors": errors, "tokens": sorted(seen), "signed_in": client.is_signed_in}


LIFETIME = int(os.environ["FSM_TEST_LIFETIME"])
client = AuthClient.from_config(config, store=store(), clock=lambda: time.time() + offset)
client.initialize()
client.sign_in("alice", os.environ["FSM_TEST_PASSWORD"])
client.get_aws_credentials()
one_lifetime(client)  # a refresh while everything can still be read: all modules loaded

if scenario == "read_only_mount":
    # A read-only file system (as on AWS Lambda): stops root too, so no user change.
    subprocess.run(["mount", "--bind", "-o", "ro", directory, directory], check=True)
else:
    if os.geteuid() == 0:
        if scenario == "read_only_directory":  # the directory and files become nobody's
            for name in [".", *os.listdir(directory)]:
                os.chown(os.path.join(directory, name), NOBODY, NOBODY)
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    if scenario == "read_only_directory":  # chmod -R a-w
        set_modes(0o500, 0o400)

records.records.clear()
print("phase unwritable", flush=True)
first = one_lifetime(client)
first_warnings = records.warnings()
records.records.clear()
print("phase unwritable again", flush=True)
second = one_lifetime(client)
result = {
    "first": first,
    "first_warnings": first_warnings,
    "second": second,
    "second_warnings": records.warnings(),
}
if scenario == "read_only_directory":
    # Writable again: the next save works, and a restart finds the latest tokens.
    set_modes(0o700, 0o600)
    records.records.clear()
    print("phase writable", flush=True)
    third = one_lifetime(client)
    result["third"] = third
    result["third_warnings"] = records.warnings()
    result["third_infos"] = [m for level, m in records.records if level == logging.INFO]
    saved = store().load() or {}
    result["saved_access_token"] = hashlib.sha256(
        str(saved.get("user", {}).get("tokens", {}).get("access_token")).encode()
    ).hexdigest()
client.close()
print("result", json.dumps(result), flush=True)
"""


def _import_path() -> str:
    """PYTHONPATH for the child: the fsm_auth (and providers) this process imported, wherever
    they come from (an installed copy, or another checkout put on sys.path)."""
    import fsm_auth
    import fsm_auth_providers

    entries = []
    for package in (fsm_auth, fsm_auth_providers):
        location = Path(str(package.__file__)).parent
        if location.name == package.__name__:  # importable by its name from its parent
            entries.append(str(location.parent))
    previous = os.environ.get("PYTHONPATH")
    return os.pathsep.join([*dict.fromkeys(entries), *([previous] if previous else [])])


def _mount_namespaces_work() -> str | None:
    """Why a read-only bind mount cannot be made here (``None`` when it can)."""
    if not ROOT:
        return "a read-only bind mount needs root"
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "needs unshare(1) and mount(8)"
    probe = tempfile.mkdtemp(prefix="fsm-auth-mount-probe-")
    try:
        done = subprocess.run(
            [
                "unshare",
                "-m",
                "--propagation",
                "private",
                "mount",
                "--bind",
                "-o",
                "ro",
                probe,
                probe,
            ],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unshare failed: {exc}"
    finally:
        os.rmdir(probe)
    if done.returncode != 0:
        return "this machine does not allow mount namespaces: " + done.stderr.decode().strip()
    return None


@pytest.fixture
def public_base() -> Iterator[Path]:
    """A directory that the unprivileged user can reach (pytest's tmp_path is root-only)."""
    base = Path(tempfile.mkdtemp(prefix="fsm-auth-readonly-"))
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run_child(
    scenario: str,
    directory: Path,
    emulator: Emulator,
    clock: FakeClock,
    aws_config: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, int]]:
    """Run the child; returns its result and the refresh requests of each phase."""
    env = dict(
        os.environ,
        PYTHONPATH=_import_path(),
        FSM_TEST_CONFIG=json.dumps(aws_config),
        FSM_TEST_CLOCK_OFFSET=repr(clock.now - time.time()),
        FSM_TEST_PASSWORD=PASSWORD,
        FSM_TEST_LIFETIME=str(LIFETIME),
    )
    command = [sys.executable, "-c", _CHILD, str(directory), scenario]
    if scenario == "read_only_mount":
        command = ["unshare", "-m", "--propagation", "private", *command]
    # cwd: not the checkout, whose fsm_auth `-c` would import ahead of PYTHONPATH's.
    child = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=directory.parent,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    phase, marks, result = "setup", {"setup": emulator.count("GetTokensFromRefreshToken")}, None
    try:
        for line in child.stdout:
            word, _, rest = line.strip().partition(" ")
            if word == "advance":
                clock.advance(float(rest))
                child.stdin.write(f"ok {clock.now - time.time()!r}\n")
                child.stdin.flush()
            elif word == "phase":
                phase = rest
                marks[phase] = emulator.count("GetTokensFromRefreshToken")
            elif word == "result":
                result = json.loads(rest)
        assert child.wait(timeout=60) == 0, "the child failed (see its stderr above)"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    marks["end"] = emulator.count("GetTokensFromRefreshToken")
    assert result is not None
    requests = {name: marks[after] - marks[name] for name, after in itertools.pairwise(marks)}
    return result, requests


def _served_in_memory(phase: dict[str, Any]) -> None:
    """One token lifetime while the store cannot be written: all served, nothing raised."""
    assert phase["errors"] == [], phase["errors"]
    assert phase["signed_in"] is True
    assert len(phase["tokens"]) == 1  # one refresh, served to every call


@pytest.fixture
def alice(emulator: Emulator, aws_config: dict[str, Any]) -> None:
    """User alice, registered (by a client that keeps nothing)."""
    client = AuthClient.from_config(aws_config, store=MemorySessionStore())
    try:
        register(client, emulator, "alice")
    finally:
        client.close()


def test_a_directory_made_read_only_after_the_sign_in(
    alice: None,
    public_base: Path,
    emulator: Emulator,
    clock: FakeClock,
    aws_config: dict[str, Any],
) -> None:
    result, requests = _run_child(
        "read_only_directory", public_base / "s", emulator, clock, aws_config
    )
    for phase in ("first", "second"):
        _served_in_memory(result[phase])
    assert requests["unwritable"] == 1
    assert requests["unwritable again"] == 1
    # One warning for the client, not one per call or per refresh.
    assert len(result["first_warnings"]) == 1, result["first_warnings"]
    assert "kept in memory" in result["first_warnings"][0]
    assert "SessionStoreError" not in result["first_warnings"][0]
    assert result["second_warnings"] == []
    # Writable again: saved as before, and what a restart would load is the latest session.
    _served_in_memory(result["third"])
    assert requests["writable"] == 1
    assert result["third_warnings"] == []
    assert any("saved again" in m for m in result["third_infos"]), result["third_infos"]
    assert result["saved_access_token"] == result["third"]["tokens"][0]


@pytest.mark.skipif(not ROOT, reason="a directory owned by another user needs root to make")
def test_a_directory_owned_by_another_user(
    alice: None,
    public_base: Path,
    emulator: Emulator,
    clock: FakeClock,
    aws_config: dict[str, Any],
) -> None:
    """The child signs in as root, then runs as nobody: its storage directory is root's."""
    result, requests = _run_child(
        "another_users_directory", public_base / "s", emulator, clock, aws_config
    )
    for phase in ("first", "second"):
        _served_in_memory(result[phase])
    assert requests["unwritable"] == 1
    assert requests["unwritable again"] == 1
    # Reading the store (another writer may have refreshed) and saving each say why once.
    saving = [m for m in result["first_warnings"] if "kept in memory" in m]
    assert len(saving) == 1, result["first_warnings"]
    assert len(result["first_warnings"]) <= 2, result["first_warnings"]
    assert all("owned by another user" in m for m in result["first_warnings"])
    assert result["second_warnings"] == []


def test_a_read_only_file_system(
    alice: None,
    public_base: Path,
    emulator: Emulator,
    clock: FakeClock,
    aws_config: dict[str, Any],
) -> None:
    why_not = _mount_namespaces_work()
    if why_not is not None:
        pytest.skip(why_not)
    result, requests = _run_child("read_only_mount", public_base / "s", emulator, clock, aws_config)
    for phase in ("first", "second"):
        _served_in_memory(result[phase])
    assert requests["unwritable"] == 1
    assert requests["unwritable again"] == 1
    assert len(result["first_warnings"]) == 1, result["first_warnings"]
    assert "Read-only file system" in result["first_warnings"][0]
    assert result["second_warnings"] == []
