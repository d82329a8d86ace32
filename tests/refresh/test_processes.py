"""Processes sharing one FileSessionStore on an app client that rotates refresh tokens:
2 processes x 16 threads past expiry make exactly one GetTokensFromRefreshToken and all keep
the session (round after round, past every grace period); a process killed (SIGKILL) right
after the service answered its refresh, before it could save the rotated token, leaves the old
token in the store, and the other process still refreshes with it (the grace period) and
nobody is signed out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from auth_testkit import confirmed_user

from fsm_auth import AuthClient, UserState
from fsm_auth.config import load_config
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.session import FileSessionStore

from .conftest import GRACE, HOUR, PASSWORD, saved_refresh_token

pytestmark = pytest.mark.timeout(120)

THREADS = 16
CHILD = Path(__file__).with_name("refresh_child.py")
SIGNED_IN = UserState.SIGNED_IN.value


def _store(directory: Path, config: dict[str, Any]) -> FileSessionStore:
    return FileSessionStore(directory, use_keyring=False).scoped(load_config(config).config_key)


class _Child:
    """A refresh_child.py process: ``THREADS`` clients on ``directory``."""

    def __init__(self, directory: Path, config: dict[str, Any], offset: float, threads: int):
        env = dict(
            os.environ,
            FSM_TEST_CONFIG=json.dumps(config),
            FSM_TEST_CLOCK_OFFSET=repr(offset),
            FSM_TEST_THREADS=str(threads),
        )
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def ready(self) -> None:
        assert self._line() == "ready"

    def go(self, offset: float) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"go {offset!r}\n")
        self.process.stdin.flush()

    def result(self) -> dict[str, Any]:
        word, _, rest = self._line().partition(" ")
        assert word == "result", word
        result: dict[str, Any] = json.loads(rest)
        return result

    def _line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write("exit\n")
                self.process.stdin.close()
                self.process.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


@contextmanager
def _children(*children: _Child) -> Iterator[None]:
    try:
        yield
    finally:
        for child in children:
            child.stop()


def _signed_in_on_disk(
    emulator: Emulator,
    pool: Provisioned,
    make_client: Callable[..., AuthClient],
    directory: Path,
    username: str,
) -> str:
    """``username`` signed in and saved in ``directory``; the saved refresh token."""
    config = pool.aws_configuration()
    client = make_client(config, store=_store(directory, config))
    client.initialize()
    confirmed_user(emulator, pool, username, PASSWORD)
    client.sign_in(username, PASSWORD)
    token = client.get_tokens().refresh_token
    client.close()
    assert token is not None
    return token


def _all_good(result: dict[str, Any]) -> set[str]:
    """Every client of a child's round got valid tokens and stayed signed in; their hashes."""
    clients = result["clients"]
    assert [c.get("error") for c in clients if c.get("error")] == []
    assert all(c["state"] == SIGNED_IN and c["valid"] for c in clients), clients
    assert set(result["states"]) <= {SIGNED_IN}, result["states"]
    return {str(c["token"]) for c in clients}


def test_2_processes_x_16_threads_refresh_once_per_expiry(
    emulator: Emulator,
    pool: Provisioned,
    make_client: Callable[..., AuthClient],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    emulator.reset_requests()
    directory = tmp_path / "s"
    _signed_in_on_disk(emulator, pool, make_client, directory, "alice")
    config = pool.aws_configuration()
    offset = clock.now - time.time()
    children = [_Child(directory, config, offset, THREADS) for _ in range(2)]
    with _children(*children):
        for child in children:
            child.ready()
        for _ in range(3):  # each round past expiry, and past the previous token's grace
            clock.advance(HOUR + GRACE + 60)
            before = emulator.count("GetTokensFromRefreshToken")
            offset = clock.now - time.time()
            for child in children:
                child.go(offset)
            hashes = set().union(*(_all_good(child.result()) for child in children))
            assert emulator.count("GetTokensFromRefreshToken") - before == 1
            assert len(hashes) == 1  # all 32 clients serve the one refresh's tokens
    answers = [r.status for r in emulator.requests if r.operation == "GetTokensFromRefreshToken"]
    assert set(answers) == {200}


def test_a_process_killed_after_the_answer_leaves_the_session_to_the_other(
    emulator: Emulator,
    pool: Provisioned,
    make_client: Callable[..., AuthClient],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    config = pool.aws_configuration()
    landed_before_save = 0
    for attempt in range(5):
        directory = tmp_path / f"s{attempt}"
        original = _signed_in_on_disk(emulator, pool, make_client, directory, f"user{attempt}")
        clock.advance(HOUR + 60)
        offset = clock.now - time.time()
        refreshing = _Child(directory, config, offset, 1)
        other = _Child(directory, config, offset, THREADS)
        with _children(refreshing, other):
            refreshing.ready()
            other.ready()
            answered = emulator.count("GetTokensFromRefreshToken")
            refreshing.go(offset)
            deadline = time.monotonic() + 20
            while emulator.count("GetTokensFromRefreshToken") == answered:
                assert time.monotonic() < deadline, "the refresh never reached the service"
                time.sleep(0.0002)
            # The service has rotated the token: the refreshing process dies before its save.
            os.kill(refreshing.process.pid, signal.SIGKILL)
            refreshing.process.wait()
            saved = saved_refresh_token(_store(directory, config).load())
            # The other process (16 threads): one more refresh, nobody signed out.
            before = emulator.count("GetTokensFromRefreshToken")
            other.go(offset)
            assert len(_all_good(other.result())) == 1
            made = emulator.count("GetTokensFromRefreshToken") - before
            if saved == original:
                # Killed before the save: only the rotated-out token was left, and its grace
                # period answered it.
                landed_before_save += 1
                assert made == 1
            else:
                assert made == 0  # the save landed first: its tokens were adopted
            # And later, past the grace period, the session still refreshes.
            clock.advance(HOUR + GRACE + 60)
            before = emulator.count("GetTokensFromRefreshToken")
            other.go(clock.now - time.time())
            assert len(_all_good(other.result())) == 1
            assert emulator.count("GetTokensFromRefreshToken") - before == 1
        if landed_before_save:
            print(f"the kill landed between the answer and the save on attempt {attempt + 1}")
            break
    assert landed_before_save, "the kill never landed between the answer and the save"


def test_a_non_rotating_client_on_a_shared_store(
    emulator: Emulator,
    make_client: Callable[..., AuthClient],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    plain = emulator.provision(with_identity_pool=False, bucket=None)
    directory = tmp_path / "s"
    original = _signed_in_on_disk(emulator, plain, make_client, directory, "bob")
    config = plain.aws_configuration()
    children = [_Child(directory, config, clock.now - time.time(), THREADS) for _ in range(2)]
    with _children(*children):
        for child in children:
            child.ready()
        clock.advance(HOUR + 60)
        before = emulator.count("GetTokensFromRefreshToken")
        for child in children:
            child.go(clock.now - time.time())
        hashes = set().union(*(_all_good(child.result()) for child in children))
        assert emulator.count("GetTokensFromRefreshToken") - before == 1
        assert len(hashes) == 1
    assert saved_refresh_token(_store(directory, plain.aws_configuration()).load()) == original
