"""One store, many sessions: each (session id, configuration) pair has its own record, never
read, replaced, deleted or waited for by another pair (issue 10, item 5). The file store's
legacy ``session.bin`` is migrated by its own configuration and left alone by any other; a store
without ``scoped`` is held to one configuration by a guard."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from fsm_auth.session import _store
from fsm_auth.session._crypto import config_digest, seal
from fsm_auth.session._store import (
    FileSessionStore,
    MemorySessionStore,
    RefreshLockingStore,
    SessionStore,
)

APP_A = "us-east-1_aaa|client-a|us-east-1:ids-a"
APP_B = "us-east-1_bbb|client-b|"


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "fsm_auth.session" and r.levelno >= logging.WARNING
    ]


def file_stores(directory: Path) -> dict[str, SessionStore]:
    """Four sessions in one directory: two users of app A, and the default session of A and B."""
    return {
        "alice@A": FileSessionStore(directory, use_keyring=False, session_id="alice").scoped(APP_A),
        "bob@A": FileSessionStore(directory, use_keyring=False, session_id="bob").scoped(APP_A),
        "default@A": FileSessionStore(directory, use_keyring=False).scoped(APP_A),
        "default@B": FileSessionStore(directory, use_keyring=False).scoped(APP_B),
    }


def memory_stores(root: MemorySessionStore) -> dict[str, SessionStore]:
    """The same four sessions as views of one memory store."""
    return {
        "alice@A": root.with_session_id("alice").scoped(APP_A),
        "bob@A": root.scoped(APP_A).with_session_id("bob"),
        "default@A": root.scoped(APP_A),
        "default@B": root.scoped(APP_B),
    }


@pytest.fixture(params=["file", "memory"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """``make()`` -> the four sessions, each call new store objects on the same backend (as
    other processes, or a restart, would have)."""
    if request.param == "file":
        yield lambda: file_stores(tmp_path / "sessions")
    else:
        root = MemorySessionStore()
        yield lambda: memory_stores(root)


def test_each_pair_has_its_own_record(stores: Any) -> None:
    mine = stores()
    for name, store in mine.items():
        assert isinstance(store, SessionStore)
        store.save({"who": name})
    versions = {name: store.version() for name, store in mine.items()}
    # New store objects (a restart) read each pair's own document.
    assert {name: store.load() for name, store in stores().items()} == {
        name: {"who": name} for name in mine
    }
    # Saving one changes neither another's document nor its version.
    mine["bob@A"].save({"who": "bob again"})
    mine["default@A"].clear()
    after = stores()
    assert after["alice@A"].load() == {"who": "alice@A"}
    assert after["default@B"].load() == {"who": "default@B"}
    assert after["bob@A"].load() == {"who": "bob again"}
    assert after["default@A"].load() is None
    assert after["alice@A"].version() == versions["alice@A"]
    assert after["default@B"].version() == versions["default@B"]


def test_one_records_locks_do_not_hold_another(stores: Any) -> None:
    mine = stores()
    other_side = stores()
    outcome: list[object] = []

    def other() -> None:
        # Another user's save and turn to refresh, while alice holds both of hers.
        with other_side["bob@A"].lock():
            other_side["bob@A"].save({"who": "bob"})
        turn = other_side["bob@A"]
        assert isinstance(turn, RefreshLockingStore)
        with turn.refresh_lock(0) as held:
            outcome.append(held)
        same = other_side["alice@A"]
        assert isinstance(same, RefreshLockingStore)
        with same.refresh_lock(0) as held:
            outcome.append(held)

    alice = mine["alice@A"]
    assert isinstance(alice, RefreshLockingStore)
    with alice.refresh_lock(5) as held, mine["alice@A"].lock():
        assert held
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(10)
        finished = not thread.is_alive()
    thread.join()
    assert finished, "another user's lock waited for alice's"
    # Bob's turn was free; alice's own turn was not (it is exclusive for her session).
    assert outcome == [True, False]


# -- the file store's legacy session.bin --------------------------------------------------------


def write_legacy(directory: Path, configuration: str, document: Mapping[str, Any]) -> bytes:
    """A ``session.bin`` as fsm-auth 0.1 wrote it (the directory's key, a clear header naming
    the configuration's digest); returns its bytes."""
    keyed = FileSessionStore(directory, use_keyring=False).scoped("key maker")
    keyed.save({})  # creates the directory and its key
    keyed.clear()
    key = (directory / "key").read_bytes()
    blob = seal(key, json.dumps(dict(document)).encode(), config_digest(configuration))
    path = directory / "session.bin"
    path.write_bytes(blob)
    os.chmod(path, 0o600)
    return blob


def test_the_legacy_session_is_migrated_by_its_configuration(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "sessions"
    write_legacy(directory, APP_A, {"who": "legacy"})
    store = FileSessionStore(directory, use_keyring=False).scoped(APP_A)
    assert store.load() == {"who": "legacy"}
    assert store.version() is not None  # a marker of what load() reads
    store.save({"who": "new"})
    # The first save writes the session's own file and removes the legacy one.
    assert not (directory / "session.bin").exists()
    assert store.session_path.exists()
    assert FileSessionStore(directory, use_keyring=False).scoped(APP_A).load() == {"who": "new"}
    assert warnings_of(caplog) == []


def test_clearing_a_migrated_session_removes_the_legacy_file(tmp_path: Path) -> None:
    """A sign-out before any save must not bring the legacy session back at the next start."""
    directory = tmp_path / "sessions"
    write_legacy(directory, APP_A, {"who": "legacy"})
    store = FileSessionStore(directory, use_keyring=False).scoped(APP_A)
    assert store.load() == {"who": "legacy"}
    store.clear()
    assert not (directory / "session.bin").exists()
    assert FileSessionStore(directory, use_keyring=False).scoped(APP_A).load() is None


def test_another_configurations_legacy_session_is_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "sessions"
    before = write_legacy(directory, APP_A, {"who": "legacy of A"})
    caplog.set_level(logging.DEBUG)
    other = FileSessionStore(directory, use_keyring=False).scoped(APP_B)
    assert other.load() is None
    other.save({"who": "B"})
    assert other.load() == {"who": "B"}
    other.clear()
    # Not read, not deleted, not changed: A's program still finds its session.
    assert (directory / "session.bin").read_bytes() == before
    assert warnings_of(caplog) == []
    assert not [r for r in caplog.records if "Wiping" in r.getMessage()]
    assert FileSessionStore(directory, use_keyring=False).scoped(APP_A).load() == {
        "who": "legacy of A"
    }


def test_only_the_default_session_inherits_the_legacy_file(tmp_path: Path) -> None:
    directory = tmp_path / "sessions"
    before = write_legacy(directory, APP_A, {"who": "legacy"})
    alice = FileSessionStore(directory, use_keyring=False, session_id="alice").scoped(APP_A)
    assert alice.load() is None
    alice.save({"who": "alice"})
    alice.clear()
    assert (directory / "session.bin").read_bytes() == before


def test_the_unscoped_store_is_not_any_configurations(tmp_path: Path) -> None:
    directory = tmp_path / "sessions"
    unscoped = FileSessionStore(directory, use_keyring=False)
    unscoped.save({"who": "unscoped"})
    assert FileSessionStore(directory, use_keyring=False).scoped(APP_A).load() is None
    assert FileSessionStore(directory, use_keyring=False).load() == {"who": "unscoped"}


# -- session ids --------------------------------------------------------------------------------

BAD_IDS = ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "a b", "a\x00b", "é", "x" * 129, 7]
GOOD_IDS = ["default", "alice", "alice@example.com", "user+1", "A_b-c.d=", "x" * 128]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_a_session_id_that_cannot_name_a_file_is_refused(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match="FileSessionStore session_id") as caught:
        FileSessionStore(tmp_path, session_id=bad)
    assert repr(bad) in str(caught.value)
    with pytest.raises(ValueError, match="MemorySessionStore session_id"):
        MemorySessionStore(session_id=bad)
    with pytest.raises(ValueError, match="MemorySessionStore session_id"):
        MemorySessionStore().with_session_id(bad)
    assert not any(tmp_path.iterdir())  # nothing written anywhere


@pytest.mark.parametrize("good", GOOD_IDS)
def test_session_ids_that_name_files_are_accepted(tmp_path: Path, good: str) -> None:
    store = FileSessionStore(tmp_path / "s", use_keyring=False, session_id=good).scoped(APP_A)
    store.save({"id": good})
    assert store.session_path.parent == tmp_path / "s"
    assert store.session_path.name.startswith(f"session.{good}.")
    assert FileSessionStore(tmp_path / "s", session_id=good).scoped(APP_A).load() == {"id": good}
    assert store.session_id == good


def test_session_ids_differing_in_case_name_different_files(tmp_path: Path) -> None:
    """On a case-insensitive file system (macOS, Windows) the names must differ in more than
    case, or "Alice" would read "alice"'s session."""
    upper = FileSessionStore(tmp_path, session_id="Alice").scoped(APP_A).session_path.name
    lower = FileSessionStore(tmp_path, session_id="alice").scoped(APP_A).session_path.name
    assert upper.lower() != lower.lower()


# -- a store without scoped ---------------------------------------------------------------------


class OneDocumentStore:
    """A store of one's own, as a third party writes it: one document, no ``scoped``."""

    def __init__(self) -> None:
        self.document: dict[str, Any] | None = None
        self.saves = 0
        self._lock = threading.RLock()

    def load(self) -> dict[str, Any] | None:
        return None if self.document is None else json.loads(json.dumps(self.document))

    def save(self, data: Mapping[str, Any]) -> None:
        self.document = json.loads(json.dumps(dict(data)))
        self.saves += 1

    def clear(self) -> None:
        self.document = None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with self._lock:
            yield

    def version(self) -> object:
        return self.saves, self.document is None


class RefreshingOneDocumentStore(OneDocumentStore):
    @contextlib.contextmanager
    def refresh_lock(self, timeout: float) -> Iterator[bool]:
        yield True


def test_a_store_without_scoped_is_guarded() -> None:
    inner = OneDocumentStore()
    assert not isinstance(inner, SessionStore)
    a = _store.scope_store(inner, APP_A)
    b = _store.scope_store(inner, APP_B)
    assert isinstance(a, SessionStore)
    assert not isinstance(a, RefreshLockingStore)
    a.save({"who": "A"})
    assert a.load() == {"who": "A"}  # the guard's mark is not part of the document
    # The mark is a digest, never the configuration itself.
    assert APP_A not in json.dumps(inner.document)
    # Another configuration's document is absent to B: not read, and not deleted by its clear.
    assert b.load() is None
    b.clear()
    assert a.load() == {"who": "A"}
    # The store has room for one document: B's save replaces A's, which A then does not read.
    b.save({"who": "B"})
    assert b.load() == {"who": "B"}
    assert a.load() is None
    b.clear()
    assert inner.document is None
    # A document saved without the guard (before it existed) is nobody's.
    inner.save({"who": "unmarked"})
    assert a.load() is None
    assert a.scoped(APP_B).load() is None


def test_the_guard_keeps_the_stores_turn_to_refresh() -> None:
    guarded = _store.scope_store(RefreshingOneDocumentStore(), APP_A)
    assert isinstance(guarded, RefreshLockingStore)
    with guarded.refresh_lock(1) as held:
        assert held


def test_scoping_a_store_with_scoped_uses_it(tmp_path: Path) -> None:
    root = MemorySessionStore()
    scoped = _store.scope_store(root, APP_A)
    assert isinstance(scoped, MemorySessionStore)
    scoped.save({"n": 1})
    assert root.scoped(APP_A).load() == {"n": 1}
    assert root.load() is None
    on_disk = _store.scope_store(FileSessionStore(tmp_path, use_keyring=False), APP_A)
    assert isinstance(on_disk, FileSessionStore)
