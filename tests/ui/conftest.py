"""Fixtures for the terminal sign-in UI: ``show_sign_in()`` in a child process on a real
pseudo-terminal (pexpect), against the emulator this test process hosts."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pexpect
import pytest

import fsm_auth
from fsm_auth import AuthClient
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.session import MemorySessionStore

HELPER = Path(__file__).with_name("_run_show_sign_in.py")
# The directory this test imported fsm_auth from: the child runs the same code.
CODE_ROOT = str(Path(fsm_auth.__file__).parent.parent)
PASSWORD = "Correct-Horse-9!"
NEW_PASSWORD = "Battery-Staple-7?"
PHONE = "+15555550123"
# Generous: a child starts in well under a second and a sign-in takes ~100 ms, but a loaded
# CI machine under `pytest -n 2` must not fail a test for being slow.
TIMEOUT = 30


def child_env(extra_path: Sequence[str] = ()) -> dict[str, str]:
    """The child's environment: this test's code, no OS keyring (the store keeps its key in
    a file, as on CI), UTF-8 output."""
    path = [*extra_path, CODE_ROOT, os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, path)),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PYTHONIOENCODING": "utf-8",
        "TERM": "xterm",
    }


@attrs.frozen
class Outcome:
    """How the child ended: its exit status and the lines the helper printed."""

    status: int | None
    result: str | None
    cancelled: str | None
    state: str | None
    user: str | None


@attrs.define
class TerminalUI:
    """``show_sign_in()`` running in a child process on a pseudo-terminal."""

    child: pexpect.spawn
    log: io.StringIO
    storage: Path

    @property
    def text(self) -> str:
        """Everything the terminal showed so far (what the child wrote and the echo)."""
        return self.log.getvalue()

    def expect(self, text: str) -> None:
        """Wait until the terminal shows ``text``."""
        self.child.expect_exact(text)

    def expect_re(self, pattern: str) -> re.Match[str]:
        """Wait until the terminal shows ``pattern``; its match."""
        self.child.expect(pattern)
        match = self.child.match
        assert isinstance(match, re.Match)
        return match

    def answer(self, prompt: str, text: str) -> None:
        """Wait for ``prompt``, then type ``text`` and Enter."""
        self.child.expect_exact(prompt)
        self.child.sendline(text)

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        """Choose sign-in (Enter at the menu), then type the user name and the password."""
        self.answer("Choose [1]: ", "")
        self.answer("Username: ", username)
        self.answer("Password: ", password)

    def finish(self) -> Outcome:
        """Wait for the child to end; what it printed."""
        self.child.expect(pexpect.EOF)
        self.child.close()
        found: dict[str, str] = {}
        for line in self.text.splitlines():
            key, _, value = line.strip().partition(" ")
            if key in ("RESULT", "CANCELLED", "STATE", "USER"):
                found[key] = value
        return Outcome(
            status=self.child.exitstatus,
            result=found.get("RESULT"),
            cancelled=found.get("CANCELLED"),
            state=found.get("STATE"),
            user=found.get("USER"),
        )

    def sessions(self) -> list[Path]:
        """The session files the child's store holds."""
        return sorted(self.storage.glob("session.*.bin"))


StartUI = Callable[..., TerminalUI]


def write_config(directory: Path, config: Mapping[str, Any]) -> Path:
    """``config`` as a file in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "awsconfiguration.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def start_ui(tmp_path: Path) -> Iterator[StartUI]:
    """``start_ui(config, *, extra_path=())``: ``show_sign_in()`` on ``config`` in a child on a
    pseudo-terminal, with a store of its own; every child is ended at the end of the test."""
    children: list[pexpect.spawn] = []
    runs = iter(range(1_000_000))

    def start(config: Mapping[str, Any], *, extra_path: Sequence[str] = ()) -> TerminalUI:
        run = tmp_path / f"run{next(runs)}"
        path = write_config(run, config)
        storage = run / "store"
        log = io.StringIO()
        child = pexpect.spawn(
            sys.executable,
            [str(HELPER), str(path), str(storage)],
            cwd=str(run),
            env=child_env(extra_path),
            encoding="utf-8",
            codec_errors="replace",
            timeout=TIMEOUT,
            dimensions=(60, 200),
        )
        # The UI turns echo off before it shows a secret's prompt, so an answer may follow
        # the prompt at once (no grace delay hides a prompt shown too early).
        child.delaybeforesend = None
        child.logfile_read = log
        children.append(child)
        return TerminalUI(child, log, storage)

    yield start
    for child in children:
        if child.isalive():
            child.close(force=True)


def run_without_terminal(
    config: Mapping[str, Any], directory: Path, stdin: int | None, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The helper with its standard input from ``stdin`` (DEVNULL, or a pipe with
    ``input_text``) and its output captured: no terminal anywhere."""
    path = write_config(directory, config)
    return subprocess.run(
        [sys.executable, str(HELPER), str(path), str(directory / "store")],
        stdin=stdin if input_text is None else None,
        input=input_text,
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=str(directory),
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture
def setup_client(clock: FakeClock) -> Iterator[Callable[[Provisioned], AuthClient]]:
    """``setup_client(pool)``: an in-process client (memory store) to prepare users with."""
    made: list[AuthClient] = []

    def make(pool: Provisioned) -> AuthClient:
        client = AuthClient.from_config(
            pool.aws_configuration(), store=MemorySessionStore(), clock=clock
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(scope="session")
def admin_idp(emulator: Emulator) -> Any:
    """A boto3 ``cognito-idp`` client on the emulator."""
    return emulator.admin_client()


@pytest.fixture
def mfa_pool(emulator: Emulator) -> Provisioned:
    """A user pool with optional MFA (SMS and TOTP), no identity pool."""
    return emulator.provision(mfa="OPTIONAL", with_identity_pool=False, bucket=None)


PIN_DISTRIBUTION = Path(__file__).resolve().parent.parent / "thirdparty" / "fsm-auth-pin"


@pytest.fixture(scope="session")
def pin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The third-party provider of ``tests/thirdparty`` (a ``PIN`` challenge fsm-auth does
    not know) installed by pip into a directory of its own, for a child's ``PYTHONPATH``;
    never put on this process's path."""
    target = tmp_path_factory.mktemp("ui-pin-site")
    # Built from a copy: setuptools writes build files next to the sources.
    source = tmp_path_factory.mktemp("ui-pin-src") / PIN_DISTRIBUTION.name
    shutil.copytree(PIN_DISTRIBUTION, source)
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
        "--no-index", "--target", str(target), str(source),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    if done.returncode != 0:
        pytest.fail(f"pip could not install {PIN_DISTRIBUTION}:\n{done.stdout}\n{done.stderr}")
    return target


def hash_pin(pin_site: Path, pin: str) -> str:
    """``fsm_auth_pin.hash_pin(pin)`` (fast), computed in a child that has the provider."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from fsm_auth_pin import hash_pin; print(hash_pin({pin!r}, iterations=10_000))",
        ],
        capture_output=True,
        text=True,
        env=child_env([str(pin_site)]),
        timeout=TIMEOUT,
        check=True,
    )
    return done.stdout.strip()
