"""Session stores: where the client keeps its one session document between runs.

The document is a JSON-able dict (tokens, JWKS, identity id, credentials, user state...). A store
loads it, saves it atomically, clears it, and offers a lock that the client holds around reading
what another process saved and writing its own: never across a network call, so a sign-out or a
save never waits for a refresh. Stores may also offer ``refresh_lock(timeout)``, a separate,
bounded turn to refresh, so that several processes sharing a store refresh once in total.

A store holds many records: one per (session id, configuration). ``scoped(configuration)`` is
the view of one of them; the client scopes whatever store it is given to its own configuration,
so programs and users sharing a store never read, overwrite or delete each other's sessions. A
store of a third party without ``scoped`` is held to one configuration by
:func:`scope_store`'s guard instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from fsm_auth._per_process import PerProcess

from ..errors import SessionStoreError
from ._crypto import (
    EnvelopeError,
    config_digest,
    open_envelope,
    parse_envelope,
    seal,
    sealed_size,
)
from ._keys import (
    FileKeySource,
    KeyringKeySource,
    KeySource,
    MissingKeyringKeySource,
    UntrustedFileError,
    directory_problem,
    file_marker,
    probe_keyring,
    read_key_source,
    read_owner_only,
    store_error,
    write_atomic,
)

__all__ = [
    "MAX_SESSION_BYTES",
    "ConfigurationGuard",
    "FileSessionStore",
    "MemorySessionStore",
    "RefreshLockingStore",
    "SessionStore",
    "UnscopedSessionStore",
    "check_session_id",
    "read_quietly",
    "scope_store",
]

_log = logging.getLogger("fsm_auth.session")

# The one session file of fsm-auth 0.1 (one per directory, whatever the configuration): read
# by the default session of the configuration it was saved for, then replaced by its own file.
_LEGACY_SESSION_FILE = "session.bin"
_KEY_FILE = "key"
# The directory's lock (the session lock of fsm-auth 0.1): now held only to write the key and
# to retire the legacy file, so one session's lock never waits for another's.
_LOCK_FILE = "session.lock"
_REFRESH_LOCK_FILE = "refresh.lock"
_DEFAULT_SESSION_ID = "default"
# A session id becomes part of a file name: letters, digits and a few safe punctuation marks
# (enough for a user name or an e-mail address), no path separator, not starting with a dot.
_SESSION_ID_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@+="
)
_SESSION_ID_MAX = 128
# A session is a few tokens, a JWKS and credentials: kilobytes. Refuse to slurp anything huge.
# One limit for both directions: save() refuses what load() would refuse.
MAX_SESSION_BYTES = 16 * 1024 * 1024


def _check_size(plaintext: bytes, where: Path | str) -> None:
    """Refuse a document whose session file would exceed :data:`MAX_SESSION_BYTES`."""
    size = sealed_size(len(plaintext))
    if size > MAX_SESSION_BYTES:
        raise store_error(
            "save the session to",
            where,
            f"it would take {size} bytes, over the limit of {MAX_SESSION_BYTES} "
            "(the session saved before is kept)",
        )


def check_session_id(session_id: object, owner: str) -> str:
    """``session_id`` if it can name a session (1-128 characters among letters, digits and
    ``. _ - @ + =``, not starting with a dot); else a ``ValueError`` naming it and ``owner``."""
    if (
        not isinstance(session_id, str)
        or not 0 < len(session_id) <= _SESSION_ID_MAX
        or session_id.startswith(".")
        or not _SESSION_ID_CHARS.issuperset(session_id)
    ):
        raise ValueError(
            f"{owner} session_id {session_id!r} is not usable: it must be 1 to "
            f"{_SESSION_ID_MAX} letters, digits or '._-@+=' characters, not starting with '.'"
        )
    return session_id


@runtime_checkable
class UnscopedSessionStore(Protocol):
    """Persists one session document. Every method is thread-safe.

    The protocol of a store that knows nothing of configurations (a store of your own): the
    client holds it to its configuration with :func:`scope_store`'s guard."""

    def load(self) -> dict[str, Any] | None:
        """The saved document, or ``None`` if there is none or it cannot be trusted (logged)."""
        ...

    def save(self, data: Mapping[str, Any]) -> None:
        """Replace the saved document atomically; ``SessionStoreError`` on I/O failure."""
        ...

    def clear(self) -> None:
        """Forget the saved document."""
        ...

    def lock(self) -> AbstractContextManager[None]:
        """An exclusive lock across processes and threads, reentrant in one thread."""
        ...

    def version(self) -> object:
        """A cheap marker that changes whenever the saved document changes (no decryption)."""
        ...


@runtime_checkable
class SessionStore(UnscopedSessionStore, Protocol):
    """Persists the session documents of (session id, configuration) pairs; each view holds
    one of them. Every method is thread-safe."""

    def scoped(self, configuration: str) -> SessionStore:
        """The view of this store holding the record of (this store's session id,
        ``configuration``) only. ``configuration`` is opaque (the client's
        ``config.config_key``); stores keep only a digest of it. Records of other pairs are
        never read, overwritten or deleted through the view."""
        ...


@runtime_checkable
class RefreshLockingStore(Protocol):
    """A store that also coordinates refreshes among the processes sharing it (optional)."""

    def refresh_lock(self, timeout: float) -> AbstractContextManager[bool]:
        """A turn to refresh, exclusive across processes and threads, awaited at most
        ``timeout`` seconds. Yields True when held; False when it could not be had in time or
        at all (a read-only directory): the caller then refreshes on its own. Never raises for
        that. Unlike :meth:`SessionStore.lock`, it may be held across a network call, and
        nothing but a refresh ever waits for it."""
        ...


def _encode(data: Mapping[str, Any]) -> bytes:
    # allow_nan=False: NaN is not JSON, and a document that another reader rejects is corrupt.
    return json.dumps(
        dict(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


class _MemoryRecord:
    """One (session id, configuration)'s document in a :class:`MemorySessionStore`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.refresh_lock = threading.RLock()
        self.data: bytes | None = None
        self.version = 0


class MemorySessionStore:
    """A :class:`SessionStore` in memory, for tests and for apps that must not persist.

    Saved documents are copied through JSON, so the store behaves like the file store: only
    JSON-able data is accepted and later changes to the caller's dict do not leak in.

    One store holds the records of many (session id, configuration) pairs: :meth:`scoped` and
    :meth:`with_session_id` return views sharing them, each holding one pair's record with its
    own lock. Unscoped, the store holds the record of the empty configuration.
    """

    def __init__(self, *, session_id: str = _DEFAULT_SESSION_ID) -> None:
        self._records: dict[tuple[str, bytes], _MemoryRecord] = {}
        self._records_guard = threading.Lock()
        self._session_id = check_session_id(session_id, "MemorySessionStore")
        self._digest = config_digest("")
        self._record = self._record_of(self._session_id, self._digest)

    def _record_of(self, session_id: str, digest: bytes) -> _MemoryRecord:
        with self._records_guard:
            record = self._records.get((session_id, digest))
            if record is None:
                record = self._records[(session_id, digest)] = _MemoryRecord()
            return record

    def _view(self, session_id: str, digest: bytes) -> MemorySessionStore:
        view = object.__new__(MemorySessionStore)
        view._records = self._records
        view._records_guard = self._records_guard
        view._session_id = session_id
        view._digest = digest
        view._record = self._record_of(session_id, digest)
        return view

    @property
    def session_id(self) -> str:
        """The session this view holds (one per user, say)."""
        return self._session_id

    def scoped(self, configuration: str) -> MemorySessionStore:
        """The view holding (this view's session id, ``configuration``)'s record only."""
        return self._view(self._session_id, config_digest(configuration))

    def with_session_id(self, session_id: str) -> MemorySessionStore:
        """The view of the same records holding ``session_id``'s (same configuration)."""
        return self._view(check_session_id(session_id, "MemorySessionStore"), self._digest)

    def load(self) -> dict[str, Any] | None:
        record = self._record
        with record.lock:
            data = record.data
        if data is None:
            return None
        loaded: dict[str, Any] = json.loads(data)
        return loaded

    def save(self, data: Mapping[str, Any]) -> None:
        encoded = _encode(data)
        # The file store's limit, so that a session that works here also works on disk.
        _check_size(encoded, "memory")
        record = self._record
        with record.lock:
            record.data = encoded
            record.version += 1

    def clear(self) -> None:
        record = self._record
        with record.lock:
            if record.data is not None:
                record.data = None
                record.version += 1

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with self._record.lock:
            yield

    @contextlib.contextmanager
    def refresh_lock(self, timeout: float) -> Iterator[bool]:
        """A turn to refresh among the clients sharing this record (see
        :class:`RefreshLockingStore`)."""
        turn = self._record.refresh_lock
        held = turn.acquire(timeout=max(0.0, timeout))
        try:
            yield held
        finally:
            if held:
                turn.release()

    def version(self) -> object:
        record = self._record
        with record.lock:
            return record.version

    def __repr__(self) -> str:
        return f"MemorySessionStore(session_id={self._session_id!r})"


# The field a guarded store's document carries: the hex digest of its configuration.
_CONFIGURATION_FIELD = "fsm_auth_configuration"


class ConfigurationGuard:
    """A store without ``scoped`` (a store of your own), held to one configuration.

    It writes the configuration's digest into every document it saves and treats a document
    without it, or with another configuration's, as absent: not returned, and not deleted by
    :meth:`clear` (the next :meth:`save` replaces it, as the store has room for one document).
    Locks and versions are the store's own. Built by :func:`scope_store`.
    """

    def __init__(self, store: UnscopedSessionStore, configuration: str) -> None:
        self._store = store
        self._mark = config_digest(configuration).hex()

    @property
    def store(self) -> UnscopedSessionStore:
        """The guarded store."""
        return self._store

    def scoped(self, configuration: str) -> SessionStore:
        """The guarded store held to ``configuration`` instead."""
        return scope_store(self._store, configuration)

    def load(self) -> dict[str, Any] | None:
        data = self._store.load()
        if data is None:
            return None
        if data.get(_CONFIGURATION_FIELD) != self._mark:
            _log.debug("The saved session is not this configuration's: not read")
            return None
        data = dict(data)
        del data[_CONFIGURATION_FIELD]
        return data

    def save(self, data: Mapping[str, Any]) -> None:
        self._store.save({**data, _CONFIGURATION_FIELD: self._mark})

    def clear(self) -> None:
        with self._store.lock():
            data = self._store.load()
            if data is not None and data.get(_CONFIGURATION_FIELD) != self._mark:
                _log.debug("The saved session is not this configuration's: not cleared")
                return
            self._store.clear()

    def lock(self) -> AbstractContextManager[None]:
        return self._store.lock()

    def version(self) -> object:
        return self._store.version()

    def __repr__(self) -> str:
        return f"ConfigurationGuard({self._store!r})"


class _RefreshingConfigurationGuard(ConfigurationGuard):
    """A :class:`ConfigurationGuard` of a store that has a turn to refresh."""

    _store: Any  # a RefreshLockingStore too

    def refresh_lock(self, timeout: float) -> AbstractContextManager[bool]:
        """The guarded store's turn to refresh (see :class:`RefreshLockingStore`)."""
        turn: AbstractContextManager[bool] = self._store.refresh_lock(timeout)
        return turn


def scope_store(store: UnscopedSessionStore, configuration: str) -> SessionStore:
    """``store`` scoped to ``configuration``: ``store.scoped(configuration)`` when it has
    ``scoped``, else the store held to it by a :class:`ConfigurationGuard`."""
    scoped = getattr(store, "scoped", None)
    if callable(scoped):
        view: SessionStore = scoped(configuration)
        return view
    if isinstance(store, RefreshLockingStore):
        return _RefreshingConfigurationGuard(store, configuration)
    return ConfigurationGuard(store, configuration)


class _Ignored(Exception):
    """A saved session that load() ignores; the message names the problem, never content."""


class _FileLocks:
    """One per lock file per process (a record's, or the directory's): a thread lock in front
    of the cross-process file lock, for the store's lock and for the turn to refresh."""

    def __init__(self, lock_path: Path, refresh_path: Path) -> None:
        self.threads = threading.RLock()
        # thread_local=False: the RLock already keeps other threads out, and the file lock's own
        # counter must be shared so that nesting in one thread is reentrant.
        import filelock  # on first use: keeps `import fsm_auth` cheap

        self.file = filelock.FileLock(lock_path, mode=0o600, thread_local=False)
        self.refresh_threads = threading.RLock()
        self.refresh_file = filelock.FileLock(refresh_path, mode=0o600, thread_local=False)


# One per lock file per process; keyed by the record's (lock, turn-to-refresh) file pair.
_file_locks: PerProcess[tuple[Path, Path], _FileLocks] = PerProcess(
    lambda paths: _FileLocks(*paths)
)


def _file_lock(lock_path: Path, refresh_path: Path) -> _FileLocks:
    return _file_locks.get((lock_path, refresh_path))


@contextlib.contextmanager
def _holding(locks: _FileLocks, where: Path) -> Iterator[None]:
    with locks.threads:
        try:
            locks.file.acquire()
        except OSError as exc:
            raise store_error("lock", where, exc.strerror) from exc
        try:
            yield
        finally:
            locks.file.release()


class FileSessionStore:
    """A :class:`SessionStore` in encrypted files in one directory, one file per session.

    Each (``session_id``, configuration) pair has its own file,
    ``<directory>/session.<session_id>.<digest>.bin`` (``<digest>``: 32 hex digits of a
    SHA-256 digest of the configuration and the session id), with its own lock files
    (``session.<session_id>.<digest>.lock``, ``refresh.<session_id>.<digest>.lock``): users
    (``session_id``) and programs (configurations: user pool, app client, identity pool) sharing
    a directory never read, overwrite, delete or wait for each other's sessions. The client
    scopes the store to its configuration (:meth:`scoped`); unscoped, the store holds the empty
    configuration's session. ``session_id`` (default ``"default"``) is 1-128 letters, digits or
    ``. _ - @ + =``, not starting with a dot; anything else is a ``ValueError``.

    The session file of fsm-auth 0.1, ``<directory>/session.bin``, is read by the
    ``"default"`` session of the configuration it was saved for (its clear header names it), and
    replaced by that session's own file on its first save (or removed by its ``clear()``);
    for any other configuration or session id it is left alone, never read or deleted.

    Each document is encrypted with AES-256-GCM (a random 96-bit nonce per save; the schema
    version and the configuration's digest are authenticated with it) under the directory's one
    key. The key lives in the OS keyring when a real one is available (macOS Keychain, Windows
    Credential Locker, the Secret Service on Linux desktops), under ``keyring_service`` and
    ``session-key:<directory>``. Without one (headless Linux, containers, CI), or with
    ``use_keyring=False``, the key is kept in ``<directory>/key``, a file readable and writable
    by its owner only (0600), next to the sessions: protected by the operating system's file
    permissions only, like the token caches of the AWS CLI and MSAL extensions' plaintext
    fallback. Anyone who can read your files can then read the sessions.

    The directory (default: the platform's user data directory for fsm-auth) is created with
    mode 0700 (an existing one keeps its mode), files with 0600. A directory owned by another
    user, or that other users can write to, is not used: ``load()`` ignores it with a warning
    and ``save()`` raises, naming it. A session or key file that is not a regular file (a
    symlink, a FIFO...), not owned by the user, or has any group/other permission bit is not
    trusted: ``load()`` ignores it with a warning and the next ``save()`` replaces it (a key
    file that others could read is replaced by a new key).

    A session file is at most 16 MiB (:data:`MAX_SESSION_BYTES`): ``save()`` refuses a larger
    document with :class:`~fsm_auth.errors.SessionStoreError` and keeps the file it had, as
    ``load()`` would refuse it.

    :meth:`lock` guards reading and writing the session's file and is never held across a
    network call; :meth:`refresh_lock` is the turn to refresh that processes sharing the
    session take so that they refresh once between them.

    ``load()`` never raises for a bad file: missing means ``None``; unknown schema version,
    tampered, truncated, corrupt, untrusted or keyless means ``None`` and one WARNING on the
    ``fsm_auth.session`` logger naming the problem (never the content). ``save()`` and
    ``clear()`` raise :class:`~fsm_auth.errors.SessionStoreError`, naming the path, when the
    file system refuses.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        keyring_service: str = "fsm-auth",
        use_keyring: bool | None = None,
        session_id: str = _DEFAULT_SESSION_ID,
    ) -> None:
        self._session_id = check_session_id(session_id, "FileSessionStore")
        if directory is None:
            import platformdirs

            directory = platformdirs.user_data_dir("fsm-auth", appauthor=False)
        self._directory = Path(os.path.abspath(os.fspath(directory)))
        self._keyring_service = keyring_service
        self._use_keyring = use_keyring
        self._key_source: KeySource | None = None
        self._key_source_guard = threading.Lock()
        self._set_configuration("")

    def _set_configuration(self, configuration: str) -> None:
        self._digest = config_digest(configuration)
        # The session id is in the digest too: on a case-insensitive file system "Alice" and
        # "alice" must still name two files.
        record = hashlib.sha256(self._digest + self._session_id.encode("ascii")).hexdigest()
        stem = f"{self._session_id}.{record[:32]}"
        self._session_path = self._directory / f"session.{stem}.bin"
        self._lock_path = self._directory / f"session.{stem}.lock"
        self._refresh_lock_path = self._directory / f"refresh.{stem}.lock"
        # Only the default session inherits the directory's one legacy session.
        self._legacy_path: Path | None = (
            self._directory / _LEGACY_SESSION_FILE
            if self._session_id == _DEFAULT_SESSION_ID
            else None
        )

    def scoped(self, configuration: str) -> FileSessionStore:
        """The store of the same directory, key and session id holding ``configuration``'s
        session only."""
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        # Its own key source guard: the source is chosen once per view (a cheap note read).
        view._key_source_guard = threading.Lock()
        view._set_configuration(configuration)
        return view

    @property
    def directory(self) -> Path:
        """The directory holding the sessions, their locks and (without a keyring) the key."""
        return self._directory

    @property
    def session_id(self) -> str:
        """The session this store holds (one per user, say)."""
        return self._session_id

    @property
    def session_path(self) -> Path:
        """The file of this store's session (it may not exist)."""
        return self._session_path

    @property
    def key_location(self) -> str:
        """Where the key lives: ``"OS keyring (...)"`` or ``"key file <path>"`` (never the key)."""
        return self._keys().description

    def __repr__(self) -> str:
        return (
            f"FileSessionStore(directory={str(self._directory)!r}, session_id={self._session_id!r})"
        )

    # -- the protocol -------------------------------------------------------------------------

    def load(self) -> dict[str, Any] | None:
        try:
            return self._load()
        except _Ignored as exc:
            # The one warning for this load; the next save() replaces the file.
            _log.warning("Ignoring the saved session: %s", exc)
            return None

    def save(self, data: Mapping[str, Any]) -> None:
        plaintext = _encode(data)
        _check_size(plaintext, self._session_path)
        with self.lock():
            key = self._key_for_writing()
            self._sweep_temp_files()
            try:
                write_atomic(self._session_path, seal(key, plaintext, self._digest))
            except OSError as exc:
                raise store_error(
                    "write the session file", self._session_path, exc.strerror
                ) from exc
            self._retire_legacy()
        _log.debug("Saved the session to %s", self._session_path)

    def clear(self) -> None:
        legacy = self._legacy_path is not None and os.path.lexists(self._legacy_path)
        if not legacy and not os.path.lexists(self._session_path):
            # Nothing to forget: no lock, and no directory created for nothing.
            return
        with self.lock():
            try:
                self._session_path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise store_error(
                    "delete the session file", self._session_path, exc.strerror
                ) from exc
            # A legacy session of this configuration would be read again on the next load.
            self._retire_legacy()
        _log.debug("Cleared the session at %s", self._session_path)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self._ensure_directory()
        with _holding(_file_lock(self._lock_path, self._refresh_lock_path), self._lock_path):
            yield

    @contextlib.contextmanager
    def refresh_lock(self, timeout: float) -> Iterator[bool]:
        """The turn to refresh among the processes and threads sharing this session, awaited
        at most ``timeout`` seconds; yields False (and logs at DEBUG) when it cannot be had in
        time or at all. See :class:`RefreshLockingStore`."""
        deadline = time.monotonic() + max(0.0, timeout)
        held = None
        try:
            self._ensure_directory()
            held = _file_lock(self._lock_path, self._refresh_lock_path)
        except SessionStoreError as exc:
            _log.debug("No turn to refresh: %s", exc)
        got_thread = held is not None and held.refresh_threads.acquire(timeout=max(0.0, timeout))
        got_file = False
        try:
            if held is not None and got_thread:
                import filelock

                try:
                    held.refresh_file.acquire(timeout=max(0.0, deadline - time.monotonic()))
                    got_file = True
                except filelock.Timeout:
                    _log.debug("Another process is still refreshing; refreshing on our own")
                except (OSError, RuntimeError) as exc:
                    # Unwritable (read-only, foreign) or refused by filelock: refresh anyway.
                    _log.debug(
                        "No turn to refresh: cannot lock %s: %s", held.refresh_file.lock_file, exc
                    )
            yield got_file
        finally:
            if got_file and held is not None:
                held.refresh_file.release()
            if got_thread and held is not None:
                held.refresh_threads.release()

    def version(self) -> object:
        try:
            return file_marker(os.stat(self._session_path))
        except OSError:
            pass
        if self._legacy_path is None:
            return None
        # No file of its own yet: the legacy file, if any, is what load() would read.
        try:
            return ("legacy", file_marker(os.stat(self._legacy_path)))
        except OSError:
            return None

    # -- internals ----------------------------------------------------------------------------

    def _load(self) -> dict[str, Any] | None:
        try:
            problem = directory_problem(self._directory)
        except FileNotFoundError:
            _log.debug("No saved session: %s does not exist", self._directory)
            return None
        if problem is not None:
            raise _Ignored(f"the directory {self._directory} is not used: {problem}")
        data = self._open(self._session_path, legacy=False)
        if data is None and self._legacy_path is not None:
            data = self._open(self._legacy_path, legacy=True)
        return data

    def _open(self, path: Path, *, legacy: bool) -> dict[str, Any] | None:
        """The document in ``path``; ``None`` if there is none or (legacy) it is another
        configuration's; raises :class:`_Ignored` for a file that cannot be trusted."""
        try:
            read = read_owner_only(path, MAX_SESSION_BYTES)
        except FileNotFoundError:
            _log.debug("No saved session at %s", path)
            return None
        except UntrustedFileError as exc:
            raise _Ignored(str(exc)) from None
        try:
            envelope = parse_envelope(read.data)
        except EnvelopeError as exc:
            raise _Ignored(f"{path}: {exc}") from None
        if legacy and envelope.config_digest != self._digest:
            # Another program's session: not ours to read, nor to delete.
            _log.debug("%s was saved for another configuration: left alone", path)
            return None
        keys = self._keys()
        try:
            key = keys.get()
        except UntrustedFileError as exc:
            raise _Ignored(f"{path}: its key is unusable: {exc}") from None
        if key is None:
            raise _Ignored(f"{path}: its key ({keys.description}) is missing")
        try:
            plaintext = open_envelope(key, envelope)
        except EnvelopeError as exc:
            raise _Ignored(f"{path}: {exc}") from None
        if envelope.config_digest != self._digest:
            # Authentic, but another configuration's: a file moved or copied here.
            raise _Ignored(f"{path}: it was saved for another configuration")
        try:
            data = json.loads(plaintext)
        except ValueError:
            raise _Ignored(f"{path}: the decrypted document is not JSON") from None
        if not isinstance(data, dict):
            raise _Ignored(f"{path}: the decrypted document is not a JSON object")
        _log.debug("Loaded the session from %s", path)
        return data

    def _key_for_writing(self) -> bytes:
        # One key per directory, written by one process at a time: under the directory's lock
        # (held for this only), not the record's, which other sessions do not take.
        with _holding(self._directory_locks(), self._directory / _LOCK_FILE):
            for leftover in self._directory.glob(f".{_KEY_FILE}-*.tmp"):
                # A key write of a process killed mid-save (every key writer holds this lock).
                with contextlib.suppress(OSError):
                    leftover.unlink()
            return self._keys().get_or_create()

    def _directory_locks(self) -> _FileLocks:
        return _file_lock(self._directory / _LOCK_FILE, self._directory / _REFRESH_LOCK_FILE)

    def _retire_legacy(self) -> None:
        """Remove the legacy session file if it is this configuration's (called under the
        session's lock, after its own file was written or removed)."""
        legacy = self._legacy_path
        if legacy is None or not os.path.lexists(legacy):
            return
        # The directory's lock is the one fsm-auth 0.1 writes the legacy file under.
        with _holding(self._directory_locks(), self._directory / _LOCK_FILE):
            try:
                envelope = parse_envelope(read_owner_only(legacy, MAX_SESSION_BYTES).data)
            except (OSError, UntrustedFileError, EnvelopeError):
                return  # unreadable: whose it is is unknown, so it is left alone
            if envelope.config_digest != self._digest:
                return
            try:
                legacy.unlink()
            except OSError as exc:
                _log.info("Could not remove the migrated session file %s: %s", legacy, exc)
                return
        _log.debug("Replaced the session file %s with %s", legacy, self._session_path)

    def _keys(self) -> KeySource:
        with self._key_source_guard:
            if self._key_source is None:
                self._key_source = self._choose_key_source()
            return self._key_source

    def _choose_key_source(self) -> KeySource:
        # The store notes where its key went when it first stored it (read_key_source): a
        # store whose key is in its key file goes straight there, without importing keyring
        # or probing it in a thread. The keyring is probed only for a store with no key yet,
        # one whose key is in the keyring, or when told to (use_keyring=True).
        source: KeySource
        directory = self._directory
        if self._use_keyring is False or (
            self._use_keyring is None and read_key_source(directory) == "file"
        ):
            source = FileKeySource(directory / _KEY_FILE, directory=directory)
        else:
            probe = probe_keyring()
            if probe.backend is not None:
                source = KeyringKeySource(
                    probe.backend,
                    self._keyring_service,
                    f"session-key:{directory}",
                    directory=directory,
                )
            elif self._use_keyring:
                source = MissingKeyringKeySource(probe.reason)
            else:
                source = FileKeySource(directory / _KEY_FILE, directory=directory)
                _log.info(
                    "No usable OS keyring (%s); the session key is kept in the owner-only file %s",
                    probe.reason,
                    source.path,
                )
        _log.debug("The session key for %s is in the %s", self._directory, source.description)
        return source

    def _ensure_directory(self) -> None:
        directory = self._directory
        try:
            problem = directory_problem(directory)
        except FileNotFoundError:
            problem = None
        else:
            if problem is None:
                return
            raise store_error("use the session directory", directory, problem)
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            directory.mkdir(mode=0o700)
            # mkdir's mode is filtered by the umask; make it exactly 0700.
            os.chmod(directory, 0o700)
        except FileExistsError:
            if not directory.is_dir():
                raise store_error(
                    "create the session directory", directory, "a file is in the way"
                ) from None
        except OSError as exc:
            raise store_error("create the session directory", directory, exc.strerror) from exc

    def _sweep_temp_files(self) -> None:
        # Every writer of this session holds its lock, so any temp file of it seen here is from
        # a process killed mid-save. Remove it so crashed writers do not fill the directory.
        for leftover in self._directory.glob(f".{self._session_path.name}-*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()


def read_quietly(store: FileSessionStore) -> dict[str, Any] | None:
    """What ``store.load()`` returns, except that a saved session it would ignore (with a
    warning) is ``None`` here without one: for a read path that hands such a session to a
    client, whose ``load()`` then warns once."""
    try:
        return store._load()
    except _Ignored:
        return None
