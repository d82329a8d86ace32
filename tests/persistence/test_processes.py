"""Other processes on the same storage_dir: one refresh in total, and SIGKILL during saves."""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import random
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient, Tokens, UserState
from fsm_auth.config import load_config
from fsm_auth.emulator import Emulator, FakeClock
from fsm_auth.session import FileSessionStore

from .conftest import (
    PASSWORD,
    MakeClient,
    client_warnings,
    file_mode,
    file_store,
    signed_in_client,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["AuthClient", "AsyncAuthClient"])
def client_kind(request: pytest.FixtureRequest) -> str:
    """This process's clients and the other process's: each kind, one refresh in total."""
    return str(request.param)


HOUR = 3600.0
# FSM_AUTH_KILL_ROUNDS raises the count for a longer soak; the default keeps the suite fast.
KILL_ROUNDS = int(os.environ.get("FSM_AUTH_KILL_ROUNDS", "20"))

# Process B: its own client (AuthClient or AsyncAuthClient, as the test's) on the same
# storage_dir and configuration (which points at the emulator in the test process), its clock
# the test's fake time. It prints only hashes.
_PEER = r"""
import asyncio, hashlib, json, os, sys, time
from fsm_auth import AsyncAuthClient, AuthClient
from fsm_auth.config import load_config
from fsm_auth.session import FileSessionStore

config = json.loads(os.environ["FSM_TEST_CONFIG"])
offset = float(os.environ["FSM_TEST_CLOCK_OFFSET"])
store = FileSessionStore(sys.argv[1], use_keyring=False).scoped(load_config(config).config_key)
clock = lambda: time.time() + offset

def report(tokens, state):
    digest = hashlib.sha256(tokens.access_token.encode()).hexdigest()
    left = tokens.expiration.timestamp() - clock()
    print("token", digest, round(left), state.value, flush=True)

if os.environ["FSM_TEST_CLIENT"] == "AsyncAuthClient":
    async def main():
        async with AsyncAuthClient.from_config(config, store=store, clock=clock) as client:
            print("state", (await client.initialize()).value, flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            report(await client.get_tokens(), client.current_user_state)
    asyncio.run(main())
else:
    client = AuthClient.from_config(config, store=store, clock=clock)
    print("state", client.initialize().value, flush=True)
    sys.stdin.readline()
    report(client.get_tokens(), client.current_user_state)
    client.close()
"""


def _digest(tokens: Tokens) -> str:
    return hashlib.sha256(tokens.access_token.encode()).hexdigest()


def _user_pool_only(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "CredentialsProvider"}


@pytest.mark.parametrize("order", ["together", "peer_first", "peer_last"])
def test_two_processes_refresh_once(
    order: str,
    client_kind: str,
    make_client: MakeClient,
    emulator: Emulator,
    clock: FakeClock,
    storage_dir: Path,
    aws_config: dict[str, Any],
) -> None:
    a = signed_in_client(make_client, emulator, identity_pool=False)
    before = a.get_tokens()
    clock.advance(HOUR + 60)  # both processes' tokens are now expired
    env = dict(
        os.environ,
        FSM_TEST_CONFIG=json.dumps(_user_pool_only(aws_config)),
        FSM_TEST_CLOCK_OFFSET=repr(clock.now - time.time()),
        FSM_TEST_CLIENT=client_kind,
    )
    peer = subprocess.Popen(
        [sys.executable, "-c", _PEER, str(storage_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert peer.stdin is not None
        assert peer.stdout is not None
        assert peer.stdout.readline().split() == ["state", UserState.SIGNED_IN.value]
        refreshes = emulator.count("GetTokensFromRefreshToken")
        mine: list[Tokens] = []
        if order == "peer_last":
            mine.append(a.get_tokens())
        peer.stdin.write("go\n")
        peer.stdin.flush()
        if order == "together":
            mine.append(a.get_tokens())
        line = peer.stdout.readline().split()
        if order == "peer_first":
            mine.append(a.get_tokens())
        assert peer.wait(timeout=30) == 0
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
    assert line[0] == "token", line
    _, peer_digest, peer_left, peer_state = line
    assert emulator.count("GetTokensFromRefreshToken") - refreshes == 1
    assert peer_digest == _digest(mine[0]) != _digest(before)
    assert float(peer_left) > HOUR - 120
    assert peer_state == UserState.SIGNED_IN.value
    assert mine[0].expiration.timestamp() > clock.now + HOUR - 120
    assert a.current_user_state == UserState.SIGNED_IN


class _SignallingStore(FileSessionStore):
    """The real file store, writing one byte to ``progress`` as each save starts, so that the
    test can aim its SIGKILL at the save itself."""

    def __init__(self, directory: Path, config: dict[str, Any], progress: int) -> None:
        super().__init__(directory, use_keyring=False)
        self._progress = progress

    def save(self, data: Mapping[str, Any]) -> None:
        os.write(self._progress, b"S")
        super().save(data)


def _churn(directory: str, config: dict[str, Any], now: float, progress: int) -> None:
    """The killed process: signs in, refreshes and saves in a loop until SIGKILL."""
    try:
        # min_validity above the tokens' lifetime: every get_tokens() refreshes and saves.
        client = AuthClient(
            load_config(config),
            store=_SignallingStore(Path(directory), config, progress).scoped(
                load_config(config).config_key
            ),
            clock=FakeClock(now),
            min_validity=2 * HOUR,
        )
        if client.initialize() != UserState.SIGNED_IN:
            client.sign_in("alice", PASSWORD)
        os.write(progress, b"R")  # a session is saved: kill at will from now on
        rounds = 0
        while True:
            rounds += 1
            if rounds % 4 == 0:
                client.sign_in("alice", PASSWORD)
            else:
                client.get_tokens()
    finally:
        os._exit(1)


def _wait_for_save(fd: int, count: int) -> int:
    """Wait until ``count`` more saves have started; returns how many bytes were read."""
    seen = 0
    while seen < count:
        ready, _, _ = select.select([fd], [], [], 20)
        assert ready, "the child stopped saving"
        chunk = os.read(fd, 1)
        assert chunk, "the child died"
        seen += chunk == b"S"
    return seen


@pytest.mark.slow
@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="forks fast children"
)
def test_sigkill_during_saves_never_breaks_the_session(
    make_client: MakeClient,
    emulator: Emulator,
    clock: FakeClock,
    storage_dir: Path,
    aws_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = _user_pool_only(aws_config)
    signed_in_client(make_client, emulator, identity_pool=False).close()
    session_file = file_store(storage_dir, config).session_path
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    context = multiprocessing.get_context("fork")
    survived = saves = torn = 0
    caplog.set_level(logging.WARNING)
    for round_no in range(KILL_ROUNDS):
        read_fd, write_fd = os.pipe()
        child = context.Process(
            target=_churn, args=(str(storage_dir), config, clock.now, write_fd), daemon=True
        )
        child.start()
        os.close(write_fd)
        try:
            while os.read(read_fd, 1) != b"R":  # the sign-in or restore is saved
                pass
            # Aim at a save: the k-th from now, a moment into it (its write, fsync, rename).
            saves += _wait_for_save(read_fd, rng.randint(1, 3))
            time.sleep(rng.uniform(0.0, 0.004))
            assert child.pid is not None
            os.kill(child.pid, signal.SIGKILL)
            child.join(10)
            assert child.exitcode == -signal.SIGKILL, f"round {round_no}: child ended early"
        finally:
            os.close(read_fd)
            if child.is_alive():
                child.kill()
                child.join()
        torn += any(storage_dir.glob(f".{session_file.name}-*.tmp"))

        caplog.clear()
        restored = make_client(identity_pool=False)
        state = restored.initialize()
        assert state == UserState.SIGNED_IN, (
            f"round {round_no} (seed {seed}): {state}, "
            f"{[r.getMessage() for r in client_warnings(caplog)]}"
        )
        tokens = restored.get_tokens()
        assert tokens.expiration.timestamp() > clock.now + 60
        assert restored.username == "alice"
        assert client_warnings(caplog) == []
        assert file_mode(session_file) == 0o600
        restored.close()
        survived += 1
    print(
        f"SIGKILL during save: {survived}/{KILL_ROUNDS} rounds survived, {saves} saves "
        f"started by the killed processes, {torn} kills left a half-written temp file "
        f"(seed {seed})"
    )
    assert survived == KILL_ROUNDS
    # The restore after the last kill saved nothing; the next save sweeps the leftovers.
    store = file_store(storage_dir, config)
    doc = store.load()
    assert doc is not None
    store.save(doc)
    assert not list(storage_dir.glob(f".{session_file.name}-*.tmp"))


def test_threads_and_a_process_share_one_refresh(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock, storage_dir: Path
) -> None:
    """Two clients in this process (as two apps would be) and many threads: one refresh."""
    first = signed_in_client(make_client, emulator, identity_pool=False)
    second = make_client(identity_pool=False)
    assert second.initialize() == UserState.SIGNED_IN
    before = first.get_tokens()
    clock.advance(HOUR + 60)
    refreshes = emulator.count("GetTokensFromRefreshToken")
    barrier = threading.Barrier(16)
    results: list[str] = []
    errors: list[BaseException] = []

    def call(client: AuthClient) -> None:
        barrier.wait()
        try:
            results.append(_digest(client.get_tokens()))
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(first if i % 2 else second,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert emulator.count("GetTokensFromRefreshToken") - refreshes == 1
    assert len(set(results)) == 1
    assert results[0] != _digest(before)
