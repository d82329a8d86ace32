"""FileSessionStore in one process: round trip, permissions, every kind of bad file, secrets."""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fsm_auth.errors import SessionStoreError
from fsm_auth.session._crypto import MAGIC, SCHEMA_VERSION
from fsm_auth.session._store import FileSessionStore, SessionStore

MakeStore = Callable[..., FileSessionStore]
SecretDoc = Callable[[], tuple[dict[str, Any], list[str]]]
CONFIG_KEY = "us-east-1_abc|client123|us-east-1:pool"  # the same as conftest's make_store
POSIX = os.name == "posix"
ROOT = POSIX and os.geteuid() == 0


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "fsm_auth.session" and r.levelno >= logging.WARNING
    ]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def session_file(directory: Path, config_key: str = CONFIG_KEY) -> Path:
    """The file of the default session of ``config_key`` in ``directory``."""
    return FileSessionStore(directory).scoped(config_key).session_path


def data_files(directory: Path) -> list[str]:
    """The names of the files in ``directory`` but the lock files."""
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(".lock"))


def test_round_trip(make_store: MakeStore, new_secret_document: SecretDoc) -> None:
    store = make_store()
    assert isinstance(store, SessionStore)
    assert store.load() is None
    assert store.version() is None
    doc, _ = new_secret_document()
    store.save(doc)
    assert store.load() == doc
    # A second store object (a later run) reads it back too.
    assert make_store().load() == doc


def test_save_replaces_and_version_changes(make_store: MakeStore) -> None:
    store = make_store()
    store.save({"n": 1})
    v1 = store.version()
    assert v1 is not None
    assert store.version() == v1  # stable while nothing changes
    make_store().save({"n": 2})  # another store object, as another process would
    assert store.version() != v1
    assert store.load() == {"n": 2}


def test_clear(make_store: MakeStore, store_dir: Path) -> None:
    store = make_store()
    store.clear()  # nothing to clear is fine
    assert not store_dir.exists()  # and creates nothing
    store.save({"n": 1})
    store.clear()
    assert store.load() is None
    assert store.version() is None


def test_non_json_data_is_refused_and_old_session_kept(make_store: MakeStore) -> None:
    store = make_store()
    store.save({"n": 1})
    with pytest.raises(TypeError):
        store.save({"n": object()})
    with pytest.raises(ValueError):
        store.save({"n": float("nan")})
    assert store.load() == {"n": 1}


@pytest.mark.skipif(not POSIX, reason="POSIX permission bits")
def test_created_directory_and_files_are_owner_only(make_store: MakeStore, store_dir: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        store = make_store()
        store.save({"n": 1})
        with store.lock():
            lock_file = store.session_path.with_suffix(".lock")
            assert mode(lock_file) == 0o600
    finally:
        os.umask(old_umask)
    assert mode(store_dir) == 0o700
    assert mode(session_file(store_dir)) == 0o600
    assert mode(store_dir / "key") == 0o600
    assert mode(store_dir / "key-source") == 0o600  # the store's note of where its key is
    assert data_files(store_dir) == ["key", "key-source", session_file(store_dir).name]


def test_existing_directory_keeps_its_mode(make_store: MakeStore, store_dir: Path) -> None:
    store_dir.mkdir(mode=0o755)
    os.chmod(store_dir, 0o755)
    make_store().save({"n": 1})
    assert mode(store_dir) == 0o755
    assert mode(session_file(store_dir)) == 0o600


def test_another_configuration_has_its_own_session(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_store().save({"n": 1})
    caplog.set_level(logging.DEBUG)
    other = make_store(config_key="us-east-1_other|client|")
    assert other.load() is None
    assert other.version() is None
    assert not warnings_of(caplog)
    other.save({"n": 2})
    assert other.load() == {"n": 2}
    # Neither sees, replaces nor wipes the other's session (fsm-auth 0.1 wiped it).
    assert make_store().load() == {"n": 1}
    other.clear()
    assert make_store().load() == {"n": 1}
    assert session_file(store_dir).exists()


def _check_ignored_then_replaced(
    store: FileSessionStore, caplog: pytest.LogCaptureFixture, expected: str
) -> None:
    caplog.clear()
    assert store.load() is None
    found = warnings_of(caplog)
    assert len(found) == 1, [r.getMessage() for r in found]
    assert expected in found[0].getMessage()
    store.save({"fresh": True})
    assert store.load() == {"fresh": True}


@pytest.mark.parametrize("offset", [0, 8, 9, 30, 45, 60, -1, -17])
def test_tampered_byte(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture, offset: int
) -> None:
    """Any flipped byte (magic, version, config digest, nonce, ciphertext, tag) is refused."""
    store = make_store()
    store.save({"tokens": "x" * 40})
    path = session_file(store_dir)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    expected = {0: "bad header", 8: "unknown schema version"}.get(offset, "authentication failed")
    _check_ignored_then_replaced(store, caplog, expected)


@pytest.mark.parametrize("length", [0, 5, 8, 9, 41, 53, 60, -1])
def test_truncated(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture, length: int
) -> None:
    store = make_store()
    store.save({"tokens": "x" * 40})
    path = session_file(store_dir)
    data = path.read_bytes()[:length]
    path.write_bytes(data)
    # Header 41 bytes + nonce 12 + tag 16: anything shorter cannot even be tried.
    expected = "truncated" if len(data) < 69 else "authentication failed"
    _check_ignored_then_replaced(store, caplog, expected)


def test_random_garbage(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    store.save({"n": 1})
    path = session_file(store_dir)
    path.write_bytes(os.urandom(4096))
    _check_ignored_then_replaced(store, caplog, "bad header")
    # Garbage behind a valid header: the tag fails.
    path.write_bytes(MAGIC + bytes([SCHEMA_VERSION]) + os.urandom(4096))
    _check_ignored_then_replaced(store, caplog, "authentication failed")


def test_unknown_version(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    store.save({"n": 1})
    path = session_file(store_dir)
    data = bytearray(path.read_bytes())
    data[len(MAGIC)] = SCHEMA_VERSION + 1
    path.write_bytes(bytes(data))
    _check_ignored_then_replaced(store, caplog, f"unknown schema version {SCHEMA_VERSION + 1}")


def test_authentic_but_not_an_object(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A document sealed with the right key that is not a JSON object is still refused."""
    from fsm_auth.session._crypto import config_digest, seal

    store = make_store()
    store.save({"n": 1})
    key = (store_dir / "key").read_bytes()
    (session_file(store_dir)).write_bytes(seal(key, b"[1, 2]", config_digest(CONFIG_KEY)))
    _check_ignored_then_replaced(store, caplog, "not a JSON object")
    (session_file(store_dir)).write_bytes(seal(key, b"\xff{", config_digest(CONFIG_KEY)))
    _check_ignored_then_replaced(store, caplog, "not JSON")


@pytest.mark.skipif(not POSIX, reason="POSIX permission bits")
@pytest.mark.parametrize("bad_mode", [0o640, 0o604, 0o660, 0o666])
def test_session_file_with_group_or_other_bits_is_ignored(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture, bad_mode: int
) -> None:
    store = make_store()
    store.save({"n": 1})
    os.chmod(session_file(store_dir), bad_mode)
    _check_ignored_then_replaced(store, caplog, f"not owner-only (mode {bad_mode:04o})")
    assert mode(session_file(store_dir)) == 0o600


@pytest.mark.skipif(not POSIX, reason="POSIX permission bits")
def test_key_file_with_group_bits_is_ignored_and_replaced(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    store.save({"n": 1})
    key_path = store_dir / "key"
    old_key = key_path.read_bytes()
    os.chmod(key_path, 0o644)
    _check_ignored_then_replaced(store, caplog, "its key is unusable")
    assert mode(key_path) == 0o600
    assert key_path.read_bytes() != old_key  # a key others could read is not reused


@pytest.mark.skipif(not ROOT, reason="needs root to give a file away")
def test_file_owned_by_another_user_is_ignored(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    store.save({"n": 1})
    os.chown(session_file(store_dir), 65534, -1)
    _check_ignored_then_replaced(store, caplog, "owned by another user")


def _unprivileged(check: Callable[[Path], None], tmp_path: Path) -> None:
    """Run ``check(directory)`` as a user the permission bits apply to.

    As root (containers, some CI) permission bits do not stop reads or writes, so the check
    runs in a forked child that has dropped to uid/gid 65534 (nobody): no exec needed.
    """
    if not ROOT:
        check(tmp_path / "sessions")
        return
    base = Path(tempfile.mkdtemp(prefix="fsm-auth-store-"))
    os.chmod(base, 0o777)
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            code = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                check(base / "sessions")
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the unprivileged check failed (see stderr)"
    finally:
        shutil.rmtree(base)


@pytest.mark.skipif(not POSIX, reason="POSIX permission bits")
def test_unreadable_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def check(directory: Path) -> None:
        store = FileSessionStore(directory, use_keyring=False).scoped(CONFIG_KEY)
        store.save({"n": 1})
        os.chmod(session_file(directory), 0o000)
        _check_ignored_then_replaced(store, caplog, "cannot read")

    _unprivileged(check, tmp_path)


def test_symlink_is_ignored(
    make_store: MakeStore, store_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    store.save({"n": 1})
    elsewhere = tmp_path / "elsewhere.bin"
    os.replace(session_file(store_dir), elsewhere)
    os.symlink(elsewhere, session_file(store_dir))
    _check_ignored_then_replaced(store, caplog, "symbolic link")
    assert not (session_file(store_dir)).is_symlink()


def test_directory_in_place_of_file(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    (session_file(store_dir)).mkdir(parents=True)
    assert store.load() is None
    assert len(warnings_of(caplog)) == 1
    with pytest.raises(SessionStoreError, match=re.escape(str(session_file(store_dir)))):
        store.save({"n": 1})


def test_missing_key_with_existing_session(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    store.save({"n": 1})
    (store_dir / "key").unlink()
    _check_ignored_then_replaced(store, caplog, "is missing")
    assert (store_dir / "key").exists()


def test_corrupt_key_file(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    store.save({"n": 1})
    (store_dir / "key").write_bytes(b"short")
    _check_ignored_then_replaced(store, caplog, "corrupt")


def test_key_from_another_install_fails_authentication(
    make_store: MakeStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    store.save({"n": 1})
    fd = os.open(store_dir / "key", os.O_WRONLY | os.O_TRUNC)
    os.write(fd, os.urandom(32))
    os.close(fd)
    _check_ignored_then_replaced(store, caplog, "authentication failed")


def test_save_error_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    store = FileSessionStore(blocker / "sessions", use_keyring=False).scoped(CONFIG_KEY)
    assert store.load() is None  # no session, no warning needed, never raises
    with pytest.raises(SessionStoreError, match=re.escape(str(blocker))):
        store.save({"n": 1})


@pytest.mark.skipif(not POSIX, reason="POSIX permission bits")
def test_save_into_read_only_directory(tmp_path: Path) -> None:
    def check(directory: Path) -> None:
        store = FileSessionStore(directory, use_keyring=False).scoped(CONFIG_KEY)
        store.save({"n": 1})
        os.chmod(directory, 0o500)
        try:
            with pytest.raises(SessionStoreError, match=re.escape(str(session_file(directory)))):
                store.save({"n": 2})
            assert store.load() == {"n": 1}
        finally:
            os.chmod(directory, 0o700)
        # A read-only directory that was never used: the lock file cannot be created.
        fresh = directory.parent / "fresh"
        fresh.mkdir(mode=0o500)
        store = FileSessionStore(fresh, use_keyring=False).scoped(CONFIG_KEY)
        with pytest.raises(SessionStoreError, match=re.escape(str(fresh))):
            store.save({"n": 1})
        store.clear()  # nothing to clear: no lock needed, no error

    _unprivileged(check, tmp_path)


def test_leftover_temp_files_are_swept(make_store: MakeStore, store_dir: Path) -> None:
    store = make_store()
    store.save({"n": 1})
    (store_dir / f".{session_file(store_dir).name}-killed.tmp").write_bytes(b"half a session")
    (store_dir / ".key-killed.tmp").write_bytes(b"half a key")
    (store_dir / ".key-source-killed.tmp").write_bytes(b"fi")
    store.save({"n": 2})
    assert data_files(store_dir) == ["key", "key-source", session_file(store_dir).name]


def test_no_secret_in_files_logs_or_repr(
    make_store: MakeStore,
    store_dir: Path,
    caplog: pytest.LogCaptureFixture,
    new_secret_document: SecretDoc,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, ours, filelock's and keyring's
    store = make_store()
    doc, secret_values = new_secret_document()
    store.save(doc)
    assert store.load() == doc
    # Exercise the warning and info paths too.
    make_store(config_key="other").load()
    store.save(doc)
    path = session_file(store_dir)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    assert store.load() is None
    store.save(doc)
    key = (store_dir / "key").read_bytes()

    files = b"".join(p.read_bytes() for p in store_dir.iterdir() if p.is_file())
    for value in secret_values:
        assert value.encode() not in files
        assert value.encode("utf-16-le") not in files
    assert b"alice" not in files  # nothing in clear at all
    assert b"SIGNED_IN" not in files
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert session_file(store_dir).name in logged  # the logs were captured
    for value in [*secret_values, key.hex(), key.decode("latin-1")]:
        assert value not in logged
    assert repr(store) == f"FileSessionStore(directory={str(store_dir)!r}, session_id='default')"
    assert "alice" not in repr(store)


@pytest.mark.skipif(sys.platform != "linux", reason="XDG data dir on Linux")
def test_default_directory_is_the_platform_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    store = FileSessionStore(use_keyring=False).scoped(CONFIG_KEY)
    assert store.directory == tmp_path / "xdg" / "fsm-auth"
    store.save({"n": 1})
    assert store.load() == {"n": 1}
    assert mode(tmp_path / "xdg" / "fsm-auth") == 0o700


@pytest.mark.skipif(not hasattr(os, "fork"), reason="uses fork and RLIMIT_FSIZE")
def test_write_failure_midway_keeps_the_old_session(make_store: MakeStore, store_dir: Path) -> None:
    """A write that fails part-way (here: the file size limit, as a full disk would) raises
    SessionStoreError naming the file, leaves the old session whole and no temp file behind."""
    import resource
    import signal

    store = make_store()
    store.save({"n": 1})
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a kill
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
            with pytest.raises(SessionStoreError) as raised:
                store.save({"n": 2, "pad": "x" * 100_000})
            assert str(session_file(store_dir)) in str(raised.value)
            assert "File too large" in str(raised.value)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child did not see SessionStoreError"
    assert store.load() == {"n": 1}
    assert not list(store_dir.glob(".*.tmp"))
