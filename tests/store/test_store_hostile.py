"""The storage directory and its files as an attacker or an accident leaves them: a directory
others can write to or owned by another user, a FIFO in place of a file (issue 9, item 8); and
one size limit that save() and load() agree on (item 9)."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient, UserState
from fsm_auth.config import load_config
from fsm_auth.errors import SessionStoreError
from fsm_auth.session import MemorySessionStore
from fsm_auth.session._store import FileSessionStore

MakeStore = Callable[..., FileSessionStore]
POSIX = os.name == "posix"
ROOT = POSIX and os.geteuid() == 0
NOBODY = 65534
# A blocked open() is what the FIFO tests look for: far more than a load takes.
HANG = 10.0

posix_only = pytest.mark.skipif(not POSIX, reason="POSIX permission bits and FIFOs")


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "fsm_auth.session" and r.levelno >= logging.WARNING
    ]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the directory -----------------------------------------------------------------------------


@posix_only
@pytest.mark.parametrize("bad_mode", [0o777, 0o770, 0o722, 0o1777], ids=oct)
def test_a_directory_others_can_write_is_not_used(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture, bad_mode: int
) -> None:
    store = make_store()
    store.save({"n": 1})
    before = store.session_path.read_bytes()
    os.chmod(store_dir, bad_mode)
    caplog.set_level(logging.WARNING)

    assert store.load() is None
    found = warnings_of(caplog)
    assert len(found) == 1, found
    assert str(store_dir) in found[0]
    assert "other users can write" in found[0]
    with pytest.raises(SessionStoreError, match=re.escape(str(store_dir))) as caught:
        store.save({"n": 2})
    assert "other users can write" in str(caught.value)
    assert store.session_path.read_bytes() == before  # nothing written there

    os.chmod(store_dir, 0o700)  # fixed by its owner: used again
    assert store.load() == {"n": 1}


@pytest.mark.skipif(not ROOT, reason="giving a directory to another user needs root")
def test_a_directory_owned_by_another_user_is_not_used(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    store.save({"n": 1})
    # Its files stay ours: only the directory changes hands.
    os.chown(store_dir, NOBODY, NOBODY)
    caplog.set_level(logging.WARNING)

    assert store.load() is None
    found = warnings_of(caplog)
    assert len(found) == 1, found
    assert str(store_dir) in found[0]
    assert "owned by another user" in found[0]
    with pytest.raises(SessionStoreError, match=re.escape(str(store_dir))) as caught:
        store.save({"n": 2})
    assert "owned by another user" in str(caught.value)

    os.chown(store_dir, os.geteuid(), os.getegid())
    assert store.load() == {"n": 1}


@posix_only
def test_a_directory_only_others_can_read_is_still_used(
    make_store: MakeStore, store_dir: Path
) -> None:
    """Read bits on the directory expose names only (the files are 0600): no reason to refuse."""
    store_dir.mkdir(mode=0o755)
    os.chmod(store_dir, 0o755)
    store = make_store()
    store.save({"n": 1})
    assert store.load() == {"n": 1}


# -- FIFOs in place of files ---------------------------------------------------------------------


@pytest.fixture
def unblock() -> Iterator[list[Path]]:
    """FIFOs a test made: at the end, a writer opens and closes each one, so that a reader
    still blocked in open() (the old behaviour) returns and its thread ends."""
    fifos: list[Path] = []
    yield fifos
    for fifo in fifos:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no reader waiting (ENXIO) or already gone
            continue
        os.close(fd)


def _in_a_thread(call: Callable[[], Any]) -> tuple[bool, list[Any]]:
    """Run ``call`` in a daemon thread; (finished within HANG, [result or exception])."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # reported to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG)
    return not thread.is_alive(), outcome


@posix_only
@pytest.mark.parametrize("name", ["session", "key"])
def test_a_fifo_in_place_of_a_file_does_not_hang_load(
    make_store: MakeStore,
    store_dir: Path,
    caplog: pytest.LogCaptureFixture,
    unblock: list[Path],
    name: str,
) -> None:
    store = make_store()
    store.save({"n": 1})
    fifo = store.session_path if name == "session" else store_dir / name
    fifo.unlink()
    os.mkfifo(fifo, 0o600)
    unblock.append(fifo)
    caplog.set_level(logging.WARNING)

    finished, outcome = _in_a_thread(store.load)
    assert finished, f"load() blocked on a FIFO named {name}"
    assert outcome == [None]
    found = warnings_of(caplog)
    assert len(found) == 1, found
    assert "not a regular file (a FIFO)" in found[0]
    assert str(fifo) in found[0]
    # The next save replaces the FIFO with a regular file.
    store.save({"n": 2})
    assert stat.S_ISREG(os.lstat(fifo).st_mode)
    assert store.load() == {"n": 2}


@posix_only
@pytest.mark.parametrize("name", ["session", "key"])
def test_a_fifo_in_place_of_a_file_does_not_hang_initialize(
    aws_config: dict[str, Any], tmp_path: Path, unblock: list[Path], name: str
) -> None:
    directory = tmp_path / "s"
    store = FileSessionStore(directory, use_keyring=False).scoped(
        load_config(aws_config).config_key
    )
    store.save({"schema": 1})  # creates the directory, the key and the session file
    fifo = store.session_path if name == "session" else directory / name
    fifo.unlink()
    os.mkfifo(fifo, 0o600)
    unblock.append(fifo)
    client = AuthClient.from_config(aws_config, store=store)
    try:
        finished, outcome = _in_a_thread(client.initialize)
        assert finished, f"initialize() blocked on a FIFO named {name}"
        assert outcome in ([UserState.SIGNED_OUT], [UserState.GUEST]), outcome
    finally:
        client.close()


# -- one size limit -------------------------------------------------------------------------------

# The documented limit of a session file, and what the envelope adds to the JSON document:
# magic (8), schema version (1), configuration digest (32), nonce (12), GCM tag (16).
MAX_SESSION_BYTES = 16 * 1024 * 1024
_ENVELOPE = 8 + 1 + 32 + 12 + 16
# '{"x":""}' is 8 bytes around the padding.
_AROUND = len(json.dumps({"x": ""}, separators=(",", ":")))


def sealed_size(document_size: int) -> int:
    return _ENVELOPE + document_size


def _document_sealed_to(size: int) -> dict[str, str]:
    """A document whose session file is exactly ``size`` bytes."""
    padding = size - sealed_size(_AROUND)
    document = {"x": "a" * padding}
    assert sealed_size(len(json.dumps(document, separators=(",", ":")))) == size
    return document


def test_the_largest_session_save_accepts_load_reads(
    make_store: MakeStore, store_dir: Path
) -> None:
    store = make_store()
    largest = _document_sealed_to(MAX_SESSION_BYTES)
    store.save(largest)
    assert store.session_path.stat().st_size == MAX_SESSION_BYTES
    assert make_store().load() == largest


def test_a_session_too_large_to_load_is_refused_on_save_and_the_previous_one_kept(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What the issue saw: a JWKS with a large extra member was saved, and load() refused the
    file at the next start. Now save() refuses it, and the session saved before stays."""
    store = make_store()
    previous = {"user": {"username": "alice"}, "keys": {"keys": [{"kid": "k"}]}}
    store.save(previous)
    too_large = {
        "user": {"username": "alice"},
        "keys": {"keys": [{"kid": "k", "x-extra": "a" * MAX_SESSION_BYTES}]},
    }
    with pytest.raises(SessionStoreError) as caught:
        store.save(too_large)
    message = str(caught.value)
    assert str(store.session_path) in message
    assert str(MAX_SESSION_BYTES) in message
    assert "kept" in message
    assert "aaaa" not in message
    caplog.set_level(logging.WARNING)
    assert make_store().load() == previous
    assert warnings_of(caplog) == []


def test_one_byte_over_the_limit_is_refused_on_save(make_store: MakeStore) -> None:
    store = make_store()
    with pytest.raises(SessionStoreError, match="over the limit"):
        store.save(_document_sealed_to(MAX_SESSION_BYTES + 1))
    assert store.load() is None


def test_the_memory_store_has_the_same_limit() -> None:
    store = MemorySessionStore()
    largest = _document_sealed_to(MAX_SESSION_BYTES)
    store.save(largest)
    with pytest.raises(SessionStoreError, match="over the limit"):
        store.save(_document_sealed_to(MAX_SESSION_BYTES + 1))
    assert store.load() == largest
