"""The cached path imports only what it needs (issue 10, item 1).

A valid saved session served by ``fsm-auth credentials --json``, ``fsm-auth whoami`` and
``AuthClient.initialize()`` + the first ``get_tokens()`` must not import boto3/botocore, must
not import (let alone probe) the OS keyring when the store's note says its key is in its key
file, must not scan the entry points for the built-in providers, and must not start a thread.

Each check runs the path in a fresh interpreter and inspects it afterwards (``sys.modules``,
the default plugin registry, threads started): counts, never timings. The keyring is pinned to
keyring's ``fail`` backend through ``PYTHON_KEYRING_BACKEND`` (what a headless machine has), so
the store keeps its key in its owner-only key file whatever the machine running the tests has.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import fsm_auth
import fsm_auth.plugins as plugins
import fsm_auth_providers as builtins
from fsm_auth import AuthClient, MemorySessionStore
from fsm_auth.emulator import Emulator, Provisioned
from fsm_auth.errors import ProviderError
from fsm_auth.plugins import GROUP, PluginRegistry

PASSWORD = "Correct-Horse-9!"

# A FileSessionStore(directory, **kwargs) whatever the constructor's shape: ``config_key`` is
# going away (issue 10, item 5); these tests are about its key, not its configuration.
_NEW_STORE = """
import inspect
from fsm_auth.session import FileSessionStore
def new_store(directory, **kwargs):
    if "config_key" in inspect.signature(FileSessionStore).parameters:
        kwargs["config_key"] = "tests"
    return FileSessionStore(directory, **kwargs)
"""

# Run after the path, in the same interpreter: what it loaded, started and scanned.
_REPORT = """
import json, sys, threading
import fsm_auth.plugins as _plugins
print("REPORT " + json.dumps({
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in (
        "boto3", "botocore", "urllib3", "keyring", "secretstorage", "jeepney",
        "importlib_metadata", "redis")),
    "importlib_metadata": "importlib.metadata" in sys.modules,
    "scanned": _plugins.default_registry()._discovered is not None,
    "threads_started": _started[0],
    "threads_alive": threading.active_count(),
}))
"""

# Counts every thread started from here on (the stdlib's Thread.start, not our code).
_COUNT_THREADS = """
import threading
_started = [0]
_start = threading.Thread.start
def _counting_start(self, *args, **kwargs):
    _started[0] += 1
    return _start(self, *args, **kwargs)
threading.Thread.start = _counting_start
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # The child imports the fsm-auth this process imported (a checkout put first on the path
    # wins over an installed or editable one).
    homes = [str(Path(m.__file__ or "").resolve().parent.parent) for m in (fsm_auth, builtins)]
    env["PYTHONPATH"] = os.pathsep.join([*homes, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env.pop("FSM_AUTH_CONFIG", None)
    return env


def _run(body: str, cwd: Path) -> tuple[dict[str, Any], str]:
    """Run ``body`` in a fresh interpreter; returns the report and the rest of stdout."""
    script = _COUNT_THREADS + _NEW_STORE + textwrap.dedent(body) + _REPORT
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    report = next(line for line in lines if line.startswith("REPORT "))
    rest = "\n".join(line for line in lines if not line.startswith("REPORT "))
    loaded: dict[str, Any] = json.loads(report.removeprefix("REPORT "))
    return loaded, rest


def _save_session(config_file: Path, storage: Path, emulator: Emulator) -> None:
    """Sign a user up (in memory here), then in, in a fresh interpreter with no usable
    keyring, which saves the session and its AWS credentials in ``storage``."""
    with AuthClient.from_config(config_file, store=MemorySessionStore()) as client:
        client.sign_up("fast", PASSWORD, attributes={"email": "fast@example.com"})
        client.confirm_sign_up("fast", emulator.last_code("fast", "sign_up"))
    body = f"""
    from fsm_auth import AuthClient, MemorySessionStore
    with AuthClient.from_config({str(config_file)!r}, storage_dir={str(storage)!r}) as c:
        c.initialize()
        c.sign_in("fast", {PASSWORD!r})
        c.get_aws_credentials()
    """
    _run(body, config_file.parent)


@pytest.fixture
def saved(tmp_path: Path, emulator: Emulator, pool: Provisioned) -> tuple[Path, Path]:
    """A configuration file and a storage dir holding a signed-in session with credentials,
    saved by a process without a usable keyring."""
    config_file = tmp_path / "awsconfiguration.json"
    config_file.write_text(json.dumps(pool.aws_configuration()), encoding="utf-8")
    storage = tmp_path / "storage"
    _save_session(config_file, storage, emulator)
    return config_file, storage


def _assert_lean(report: Mapping[str, Any]) -> None:
    # One comparison, so that a failure shows every way the path was not lean.
    assert report == {
        "modules": [],  # no boto3/botocore/urllib3, keyring, importlib_metadata, redis
        "importlib_metadata": False,
        "scanned": False,  # the built-in providers were not looked up in the entry points
        "threads_started": 0,
        "threads_alive": 1,
    }


def test_the_store_notes_where_its_key_is(saved: tuple[Path, Path]) -> None:
    _, storage = saved
    note = storage / "key-source"
    assert note.read_text(encoding="ascii") == "file"
    if os.name == "posix":
        assert stat.S_IMODE(note.stat().st_mode) == 0o600
    assert (storage / "key").is_file()


def test_credentials_json_imports_only_what_it_needs(
    saved: tuple[Path, Path], emulator: Emulator
) -> None:
    config_file, storage = saved
    emulator.stop()  # a valid saved session needs no network
    report, out = _run(
        f"""
        from fsm_auth.cli import main
        assert main(["credentials", "--json", "--config", {str(config_file)!r},
                     "--storage-dir", {str(storage)!r}]) == 0
        """,
        config_file.parent,
    )
    document = json.loads(out)
    assert document["Version"] == 1
    assert document["AccessKeyId"]
    _assert_lean(report)


def test_a_second_credentials_run_reads_the_session_file_alone(
    saved: tuple[Path, Path], emulator: Emulator
) -> None:
    """The first run leaves its configuration note; the next ones serve the saved session
    without building a client: no attrs, no `transitions` engine, no PyJWT, no YAML."""
    config_file, storage = saved
    emulator.stop()
    command = f"""
        from fsm_auth.cli import main
        assert main(["credentials", "--json", "--config", {str(config_file)!r},
                     "--storage-dir", {str(storage)!r}]) == 0
        import sys
        print("HEAVY " + ",".join(sorted(m for m in sys.modules if m.split(".")[0] in (
            "attr", "attrs", "transitions", "jwt", "yaml", "fsm_auth_providers"))))
        """
    outputs = []
    for _ in range(2):
        report, out = _run(command, config_file.parent)
        _assert_lean(report)
        lines = out.splitlines()
        outputs.append((json.loads(lines[0]), lines[1].removeprefix("HEAVY ")))
    (first, heavy_first), (second, heavy_second) = outputs
    assert first == second
    assert "attrs" in heavy_first.split(",")  # the first run built a client
    assert heavy_second == ""
    assert len(list(storage.glob("config.*.json"))) == 1


def test_whoami_imports_only_what_it_needs(saved: tuple[Path, Path], emulator: Emulator) -> None:
    config_file, storage = saved
    emulator.stop()
    report, out = _run(
        f"""
        from fsm_auth.cli import main
        assert main(["whoami", "--json", "--config", {str(config_file)!r},
                     "--storage-dir", {str(storage)!r}]) == 0
        """,
        config_file.parent,
    )
    assert json.loads(out)["state"] == "signedIn"
    _assert_lean(report)


def test_initialize_and_first_tokens_import_only_what_they_need(
    saved: tuple[Path, Path], emulator: Emulator
) -> None:
    config_file, storage = saved
    emulator.stop()
    report, out = _run(
        f"""
        from fsm_auth import AuthClient, UserState
        client = AuthClient.from_config({str(config_file)!r}, storage_dir={str(storage)!r})
        assert client.initialize() is UserState.SIGNED_IN
        print(client.get_tokens().username)
        """,
        config_file.parent,
    )
    assert out == "fast"
    _assert_lean(report)


def test_an_untrusted_note_is_not_obeyed(saved: tuple[Path, Path], emulator: Emulator) -> None:
    """A note others could have written is ignored: the store probes as if it had none (and
    still finds its key file, since the probe finds no keyring)."""
    config_file, storage = saved
    emulator.stop()
    (storage / "key-source").chmod(0o644)
    report, out = _run(
        f"""
        from fsm_auth import AuthClient, UserState
        client = AuthClient.from_config({str(config_file)!r}, storage_dir={str(storage)!r})
        print(client.initialize().value)
        """,
        config_file.parent,
    )
    assert out == "signedIn"
    assert "keyring" in report["modules"], "an untrusted note decided the key source"


def test_use_keyring_true_still_probes(saved: tuple[Path, Path], emulator: Emulator) -> None:
    """Told to use the keyring, the store asks it whatever its note says (and, finding none,
    refuses the key file rather than read it)."""
    config_file, storage = saved
    emulator.stop()
    report, out = _run(
        f"""
        store = new_store({str(storage)!r}, use_keyring=True)
        print(store.key_location)
        """,
        config_file.parent,
    )
    assert out.startswith("OS keyring (none usable")
    assert "keyring" in report["modules"]


def test_a_new_store_probes_once_then_trusts_its_note(tmp_path: Path) -> None:
    """The first key is created after a probe; the next process reads the note and the key
    file without importing keyring."""
    storage = tmp_path / "store"
    first, _ = _run(
        f"""
        new_store({str(storage)!r}).save({{"hello": "world"}})
        """,
        tmp_path,
    )
    assert "keyring" in first["modules"]  # a store with no key yet: the keyring is asked
    assert (storage / "key-source").read_text(encoding="ascii") == "file"
    second, out = _run(
        f"""
        print(new_store({str(storage)!r}).load())
        """,
        tmp_path,
    )
    assert out == "{'hello': 'world'}"
    assert second["modules"] == []
    assert second["threads_started"] == 0


def test_the_builtins_are_the_entry_points() -> None:
    """``BUILTINS`` names what ``pyproject.toml`` registers, so both ways find the same class."""
    from importlib.metadata import entry_points

    builtins = plugins.BUILTINS  # new in issue 10: read here, so the other tests run on base
    registered = {e.name: e.value for e in entry_points(group=GROUP) if e.name in builtins}
    assert registered == dict(builtins)


def test_a_builtin_provider_is_found_without_a_scan() -> None:
    from fsm_auth_providers.federated import FederatedProvider
    from fsm_auth_providers.userpool import UserPoolProvider

    registry = PluginRegistry()
    assert registry.factory("userpool") is UserPoolProvider
    assert registry.factory("federated") is FederatedProvider
    assert registry._discovered is None


def test_other_names_are_still_scanned() -> None:
    registry = PluginRegistry()
    with pytest.raises(ProviderError, match="no-such-provider"):
        registry.factory("no-such-provider")
    assert "userpool" in registry.available()
    # A registry of another group knows no built-ins: they are entry points of GROUP only.
    with pytest.raises(ProviderError, match="userpool"):
        PluginRegistry(group="fsm_auth.tests.empty").factory("userpool")
