"""MemorySessionStore, and FileSessionStore with its key in a keyring backend."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import pytest
from keyring.backends import fail, null
from keyring.compat import properties
from keyring.errors import KeyringLocked

from fsm_auth.errors import SessionStoreError
from fsm_auth.session._store import FileSessionStore, MemorySessionStore, SessionStore

SecretDoc = Callable[[], tuple[dict[str, Any], list[str]]]


def test_memory_store_round_trip_and_isolation() -> None:
    store = MemorySessionStore()
    assert isinstance(store, SessionStore)
    assert store.load() is None
    v0 = store.version()
    doc: dict[str, Any] = {"tokens": {"id": "a"}, "n": 1}
    store.save(doc)
    doc["tokens"]["id"] = "changed by the caller"
    loaded = store.load()
    assert loaded == {"tokens": {"id": "a"}, "n": 1}
    assert loaded is not None
    loaded["n"] = 2
    assert store.load() == {"tokens": {"id": "a"}, "n": 1}  # a copy each time
    v1 = store.version()
    assert v1 != v0
    assert store.version() == v1
    store.clear()
    assert store.load() is None
    assert store.version() not in (v0, v1)
    with pytest.raises(TypeError):
        store.save({"x": object()})
    assert repr(store) == "MemorySessionStore(session_id='default')"


def test_memory_store_lock_is_reentrant_and_excludes_other_threads() -> None:
    store = MemorySessionStore()
    entered = threading.Event()
    acquired_at: list[float] = []

    def other() -> None:
        entered.wait()
        with store.lock():
            acquired_at.append(time.monotonic())

    thread = threading.Thread(target=other)
    thread.start()
    with store.lock(), store.lock():
        store.save({"n": 1})  # save inside the lock: reentrant
        entered.set()
        time.sleep(0.2)
        released_at = time.monotonic()
    thread.join(5)
    assert acquired_at
    assert acquired_at[0] >= released_at


def test_memory_store_concurrent_increments() -> None:
    store = MemorySessionStore()
    store.save({"n": 0})

    def bump() -> None:
        for _ in range(200):
            with store.lock():
                doc = store.load()
                assert doc is not None
                store.save({"n": doc["n"] + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.load() == {"n": 800}


def test_key_goes_to_the_keyring_and_no_key_file(
    memory_keyring: Any,
    store_dir: Path,
    config_key: str,
    new_secret_document: SecretDoc,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    store = FileSessionStore(store_dir, keyring_service="fsm-auth-test").scoped(config_key)
    doc, secret_values = new_secret_document()
    store.save(doc)
    assert "OS keyring (MemoryKeyring" in store.key_location
    assert not (store_dir / "key").exists()
    assert list(memory_keyring.passwords) == [("fsm-auth-test", f"session-key:{store_dir}")]
    assert (
        FileSessionStore(store_dir, keyring_service="fsm-auth-test").scoped(config_key).load()
        == doc
    )

    stored_key = memory_keyring.passwords[("fsm-auth-test", f"session-key:{store_dir}")]
    files = b"".join(p.read_bytes() for p in store_dir.iterdir() if p.is_file())
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for value in [*secret_values, stored_key]:
        assert value.encode() not in files
        assert value not in logged
    assert stored_key not in repr(store)


def test_forced_file_ignores_the_keyring(
    memory_keyring: Any, store_dir: Path, config_key: str
) -> None:
    store = FileSessionStore(store_dir, use_keyring=False).scoped(config_key)
    store.save({"n": 1})
    assert (store_dir / "key").exists()
    assert memory_keyring.passwords == {}


def test_key_missing_from_keyring(
    memory_keyring: Any, store_dir: Path, config_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileSessionStore(store_dir).scoped(config_key)
    store.save({"n": 1})
    memory_keyring.passwords.clear()
    assert store.load() is None
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "is missing" in warnings[0].getMessage()
    store.save({"n": 2})
    assert store.load() == {"n": 2}


def test_keyring_failures(
    memory_keyring: Any, store_dir: Path, config_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileSessionStore(store_dir).scoped(config_key)
    store.save({"n": 1})
    memory_keyring.fail_with = KeyringLocked("the collection is locked")
    assert store.load() is None
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "KeyringLocked" in warnings[0].getMessage()
    memory_keyring.passwords.clear()
    with pytest.raises(SessionStoreError, match="OS keyring"):
        store.save({"n": 2})
    memory_keyring.fail_with = None
    # A corrupt entry is replaced on save, ignored on load.
    memory_keyring.passwords[("fsm-auth", f"session-key:{store_dir}")] = "not base64!"
    caplog.clear()
    assert store.load() is None
    assert "corrupt" in caplog.records[-1].getMessage()
    store.save({"n": 3})
    assert store.load() == {"n": 3}


@pytest.mark.parametrize("backend", [fail.Keyring, null.Keyring])
def test_no_real_keyring_means_a_key_file_quickly(
    restore_keyring: None, store_dir: Path, config_key: str, backend: type[Any]
) -> None:
    keyring.set_keyring(backend())
    start = time.monotonic()
    store = FileSessionStore(store_dir).scoped(config_key)
    store.save({"n": 1})
    assert time.monotonic() - start < 1.0
    assert store.key_location == f"key file {store_dir / 'key'}"
    assert store.load() == {"n": 1}


def test_no_real_keyring_logs_the_fallback_once(
    restore_keyring: None, store_dir: Path, config_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    store = FileSessionStore(store_dir).scoped(config_key)
    store.save({"n": 1})
    assert store.load() == {"n": 1}
    infos = [r.getMessage() for r in caplog.records if "No usable OS keyring" in r.getMessage()]
    assert len(infos) == 1
    assert "keyring.backends.fail.Keyring" in infos[0]
    assert str(store_dir / "key") in infos[0]


def test_use_keyring_true_without_one_never_writes_a_key_file(
    restore_keyring: None, store_dir: Path, config_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    store = FileSessionStore(store_dir, use_keyring=True).scoped(config_key)
    with pytest.raises(SessionStoreError, match="no usable OS keyring"):
        store.save({"n": 1})
    assert not (store_dir / "key").exists()
    assert not store.session_path.exists()
    # A session written earlier with a key file is not read with it either.
    FileSessionStore(store_dir, use_keyring=False).scoped(config_key).save({"n": 1})
    assert store.load() is None
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


class _LowPriorityKeyring(keyring.backend.KeyringBackend):
    """Like keyrings.alt's plaintext file backends: priority below 1."""

    installed = False

    @properties.classproperty
    def priority(cls) -> float:
        if not cls.installed:
            raise RuntimeError("test backend: only while a test installs it")
        return 0.5

    def get_password(self, service: str, username: str) -> str | None:
        raise AssertionError("a low-priority keyring must not be used")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("a low-priority keyring must not be used")


class _SlowKeyring(_LowPriorityKeyring):
    """A backend whose probe blocks, as keyring can on a D-Bus without a secret service."""

    @properties.classproperty
    def priority(cls) -> float:
        if not cls.installed:
            raise RuntimeError("test backend: only while a test installs it")
        time.sleep(1.0)
        return 5.0


def test_low_priority_keyring_is_not_a_real_one(
    restore_keyring: None, store_dir: Path, config_key: str
) -> None:
    _LowPriorityKeyring.installed = True
    try:
        keyring.set_keyring(_LowPriorityKeyring())  # type: ignore[no-untyped-call]
        store = FileSessionStore(store_dir).scoped(config_key)
        store.save({"n": 1})
        assert store.load() == {"n": 1}
        assert (store_dir / "key").exists()
    finally:
        _LowPriorityKeyring.installed = False


def test_a_hanging_keyring_probe_is_cut_short(
    restore_keyring: None, store_dir: Path, config_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fsm_auth.session import _keys

    monkeypatch.setattr(_keys, "_PROBE_TIMEOUT", 0.2)
    monkeypatch.setattr(_keys, "_probe_timed_out", False)
    _SlowKeyring.installed = True
    try:
        keyring.set_keyring(_SlowKeyring())  # type: ignore[no-untyped-call]
        start = time.monotonic()
        store = FileSessionStore(store_dir).scoped(config_key)
        store.save({"n": 1})
        assert time.monotonic() - start < 0.8
        assert store.key_location == f"key file {store_dir / 'key'}"
        # Remembered: the next store does not wait again.
        start = time.monotonic()
        assert FileSessionStore(store_dir).scoped(config_key).load() == {"n": 1}
        assert time.monotonic() - start < 0.1
    finally:
        time.sleep(0.9)  # let the probe thread finish before the backend is uninstalled
        _SlowKeyring.installed = False
