"""FileSessionStore across processes and threads: the lock, concurrent writers, SIGKILL."""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fsm_auth.session._store import FileSessionStore

HOLD_SECONDS = 0.5
KILL_ROUNDS = 40

_HOLDER = """
import sys, time
from fsm_auth.session._store import FileSessionStore
store = FileSessionStore(sys.argv[1], use_keyring=False).scoped(sys.argv[2])
with store.lock():
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))
    print("releasing at", time.time(), flush=True)
"""


needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="uses fork for fast children"
)


def _store(directory: Path | str, config_key: str) -> FileSessionStore:
    return FileSessionStore(directory, use_keyring=False).scoped(config_key)


def test_lock_is_exclusive_across_processes(store_dir: Path, config_key: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(store_dir), config_key, str(HOLD_SECONDS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        store = _store(store_dir, config_key)
        with store.lock():
            acquired_at = time.time()
            waited = time.monotonic() - start
        released_at = float(holder.stdout.readline().split()[-1])
    finally:
        holder.wait(10)
    assert holder.returncode == 0
    # Robust under load: we got the lock only after the holder decided to let go.
    assert acquired_at >= released_at
    print(f"\nblocked {waited:.3f} s by a process holding the lock {HOLD_SECONDS} s")


def test_lock_is_reentrant_and_excludes_threads(store_dir: Path, config_key: str) -> None:
    store = _store(store_dir, config_key)
    other_store = _store(store_dir, config_key)  # a second object for the same directory
    entered = threading.Event()
    acquired_at: list[float] = []

    def other() -> None:
        entered.wait()
        with other_store.lock():
            acquired_at.append(time.monotonic())

    thread = threading.Thread(target=other)
    thread.start()
    with store.lock(), store.lock():
        store.save({"n": 1})  # save takes the lock again: reentrant
        with other_store.lock():  # same thread, same directory: reentrant too
            pass
        entered.set()
        time.sleep(0.2)
        released_at = time.monotonic()
    thread.join(5)
    assert acquired_at
    assert acquired_at[0] >= released_at


def _increment(directory: str, config_key: str, times: int, go: Any) -> None:
    store = _store(directory, config_key)
    go.wait()
    for _ in range(times):
        with store.lock():
            doc = store.load()
            if doc is None:
                os._exit(3)
            store.save({"n": doc["n"] + 1, "pad": os.urandom(4096).hex()})


@needs_fork
def test_concurrent_writers_never_corrupt_or_lose_updates(
    store_dir: Path, config_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Four processes each do "lock, load, save n+1" 25 times while this one keeps loading:
    every load sees a whole document, and no update is lost (the lock is exclusive)."""
    ctx = multiprocessing.get_context("fork")
    store = _store(store_dir, config_key)
    store.save({"n": 0})
    go = ctx.Event()
    workers = [
        ctx.Process(target=_increment, args=(str(store_dir), config_key, 25, go)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    go.set()
    seen = []
    while any(worker.is_alive() for worker in workers):
        doc = store.load()
        assert doc is not None
        seen.append(doc["n"])
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    final = store.load()
    assert final is not None
    assert final["n"] == 100
    assert seen == sorted(seen)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not list(store_dir.glob(".*.tmp"))


def _big_document(seq: int, pad: str) -> dict[str, Any]:
    return {"seq": seq, "pad": pad, "check": hashlib.sha256(f"{seq}:{pad}".encode()).hexdigest()}


def _pad() -> str:
    return os.urandom(256 * 1024).hex()  # 512 KiB of JSON: a save takes long enough to hit


def _is_whole(doc: dict[str, Any]) -> bool:
    expected = hashlib.sha256(f"{doc['seq']}:{doc['pad']}".encode()).hexdigest()
    return bool(doc["check"] == expected)


def _save_forever(directory: str, config_key: str, first_seq: int, saved_once: Any) -> None:
    store = _store(directory, config_key)
    pad = _pad()  # made once, so the loop's time is mostly spent saving
    seq = first_seq
    while True:
        seq += 1
        store.save(_big_document(seq, pad))
        saved_once.set()


@needs_fork
def test_sigkill_during_save_leaves_old_or_new_document(
    store_dir: Path, config_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = multiprocessing.get_context("fork")
    store = _store(store_dir, config_key)
    store.save(_big_document(0, _pad()))
    rng = random.Random(5)
    last_seq = 0
    killed_mid_write = 0
    start = time.monotonic()
    for round_number in range(1, KILL_ROUNDS + 1):
        saved_once = ctx.Event()
        child = ctx.Process(
            target=_save_forever,
            args=(str(store_dir), config_key, round_number * 10_000, saved_once),
        )
        child.start()
        assert saved_once.wait(10)
        # Then kill it at a random moment of the saves that follow.
        time.sleep(rng.uniform(0.0, 0.04))
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        assert child.exitcode == -signal.SIGKILL
        if list(store_dir.glob(f".{store.session_path.name}-*.tmp")):
            killed_mid_write += 1
        doc = store.load()
        assert doc is not None, f"round {round_number}: no document"
        assert _is_whole(doc), f"round {round_number}: a torn document"
        # This round's child saved at least once: its latest whole document, never an older one.
        assert doc["seq"] > round_number * 10_000, f"round {round_number}: an old document"
        assert doc["seq"] >= last_seq
        last_seq = doc["seq"]
    elapsed = time.monotonic() - start
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # The next save sweeps what the killed writers left.
    store.save({"n": 1})
    assert not list(store_dir.glob(".*.tmp"))
    print(
        f"\n{KILL_ROUNDS} SIGKILL rounds in {elapsed:.1f} s; killed with a temp file on disk "
        f"(mid-write) in {killed_mid_write}"
    )
