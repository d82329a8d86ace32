"""Session stores: where the client keeps its one session document between runs.

The document is a JSON-able dict (tokens, JWKS, identity id, credentials, user state...). A store
loads it, saves it atomically, clears it, and offers a lock that the client holds around reading
what another process saved and writing its own: never across a network call, so a sign-out or a
save never waits for a refresh. Stores may also offer ``refresh_lock(timeout)``, a separate,
bounded turn to refresh, so that several processes sharing a store refresh once in total.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

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
    read_owner_only,
    store_error,
    write_atomic,
)

__all__ = [
    "MAX_SESSION_BYTES",
    "FileSessionStore",
    "MemorySessionStore",
    "RefreshLockingStore",
    "SessionStore",
]

_log = logging.getLogger("fsm_auth.session")

_SESSION_FILE = "session.bin"
_KEY_FILE = "key"
_LOCK_FILE = "session.lock"
_REFRESH_LOCK_FILE = "refresh.lock"
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


@runtime_checkable
class SessionStore(Protocol):
    """Persists one session document. Every method is thread-safe."""

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


class MemorySessionStore:
    """A :class:`SessionStore` in memory, for tests and for apps that must not persist.

    Saved documents are copied through JSON, so the store behaves like the file store: only
    JSON-able data is accepted and later changes to the caller's dict do not leak in.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._refresh_lock = threading.RLock()
        self._data: bytes | None = None
        self._version = 0

    def load(self) -> dict[str, Any] | None:
        with self._lock:
            data = self._data
        if data is None:
            return None
        loaded: dict[str, Any] = json.loads(data)
        return loaded

    def save(self, data: Mapping[str, Any]) -> None:
        encoded = _encode(data)
        # The file store's limit, so that a session that works here also works on disk.
        _check_size(encoded, "memory")
        with self._lock:
            self._data = encoded
            self._version += 1

    def clear(self) -> None:
        with self._lock:
            if self._data is not None:
                self._data = None
                self._version += 1

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with self._lock:
            yield

    @contextlib.contextmanager
    def refresh_lock(self, timeout: float) -> Iterator[bool]:
        """A turn to refresh among the clients sharing this store (see
        :class:`RefreshLockingStore`)."""
        held = self._refresh_lock.acquire(timeout=max(0.0, timeout))
        try:
            yield held
        finally:
            if held:
                self._refresh_lock.release()

    def version(self) -> object:
        with self._lock:
            return self._version

    def __repr__(self) -> str:
        return "MemorySessionStore()"


class _Ignored(Exception):
    """A saved session that load() ignores; the message names the problem, never content."""


class _DirectoryLock:
    """One per directory per process: a thread lock in front of the cross-process file lock,
    for the store's lock and for the turn to refresh."""

    def __init__(self, directory: Path) -> None:
        self.threads = threading.RLock()
        # thread_local=False: the RLock already keeps other threads out, and the file lock's own
        # counter must be shared so that nesting in one thread is reentrant.
        import filelock  # on first use: keeps `import fsm_auth` cheap

        self.file = filelock.FileLock(directory / _LOCK_FILE, mode=0o600, thread_local=False)
        self.refresh_threads = threading.RLock()
        self.refresh_file = filelock.FileLock(
            directory / _REFRESH_LOCK_FILE, mode=0o600, thread_local=False
        )


_directory_locks: dict[Path, _DirectoryLock] = {}
_directory_locks_guard = threading.Lock()


def _reset_locks_after_fork() -> None:
    # A forked child must not inherit a lock some parent thread held at fork time.
    global _directory_locks_guard
    _directory_locks_guard = threading.Lock()
    _directory_locks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_after_fork)


def _directory_lock(directory: Path) -> _DirectoryLock:
    with _directory_locks_guard:
        lock = _directory_locks.get(directory)
        if lock is None:
            lock = _directory_locks[directory] = _DirectoryLock(directory)
        return lock


class FileSessionStore:
    """A :class:`SessionStore` in an encrypted file, ``<directory>/session.bin``.

    The document is encrypted with AES-256-GCM (a random 96-bit nonce per save; the schema
    version and the configuration key are authenticated with it). The key lives in the OS
    keyring when a real one is available (macOS Keychain, Windows Credential Locker, the Secret
    Service on Linux desktops), under ``keyring_service`` and ``session-key:<directory>``.
    Without one (headless Linux, containers, CI), or with ``use_keyring=False``, the key is kept
    in ``<directory>/key``, a file readable and writable by its owner only (0600), next to the
    session: protected by the operating system's file permissions only, like the token caches
    of the AWS CLI and MSAL extensions' plaintext fallback. Anyone who can read your files can
    then read the session.

    The directory is created with mode 0700 (an existing one keeps its mode), files with 0600. A
    directory owned by another user, or that other users can write to, is not used: ``load()``
    ignores it with a warning and ``save()`` raises, naming it. A session or key file that is
    not a regular file (a symlink, a FIFO...), not owned by the user, or has any group/other
    permission bit is not trusted: ``load()`` ignores it with a warning and the next ``save()``
    replaces it (a key file that others could read is replaced by a new key).

    A session file is at most 16 MiB (:data:`MAX_SESSION_BYTES`): ``save()`` refuses a larger
    document with :class:`~fsm_auth.errors.SessionStoreError` and keeps the file it had, as
    ``load()`` would refuse it.

    :meth:`lock` guards reading and writing the file and is never held across a network call;
    :meth:`refresh_lock` (``refresh.lock``) is the turn to refresh that processes sharing the
    directory take so that they refresh once between them.

    ``config_key`` names the configuration (user pool, app client, identity pool). A session
    saved under another configuration key is wiped on load, as AWSMobileClient does.

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
        config_key: str,
        keyring_service: str = "fsm-auth",
        use_keyring: bool | None = None,
    ) -> None:
        if directory is None:
            import platformdirs

            directory = platformdirs.user_data_dir("fsm-auth", appauthor=False)
        self._directory = Path(os.path.abspath(os.fspath(directory)))
        self._session_path = self._directory / _SESSION_FILE
        self._digest = config_digest(config_key)
        self._keyring_service = keyring_service
        self._use_keyring = use_keyring
        self._key_source: KeySource | None = None
        self._key_source_guard = threading.Lock()

    @property
    def directory(self) -> Path:
        """The directory holding the session, its lock and (without a keyring) its key."""
        return self._directory

    @property
    def key_location(self) -> str:
        """Where the key lives: ``"OS keyring (...)"`` or ``"key file <path>"`` (never the key)."""
        return self._keys().description

    def __repr__(self) -> str:
        return f"FileSessionStore(directory={str(self._directory)!r})"

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
            key = self._keys().get_or_create()
            self._sweep_temp_files()
            try:
                write_atomic(self._session_path, seal(key, plaintext, self._digest))
            except OSError as exc:
                raise store_error(
                    "write the session file", self._session_path, exc.strerror
                ) from exc
        _log.debug("Saved the session to %s", self._session_path)

    def clear(self) -> None:
        if not os.path.lexists(self._session_path):
            # Nothing to forget: no lock, and no directory created for nothing.
            return
        with self.lock():
            try:
                self._session_path.unlink()
            except FileNotFoundError:
                return
            except OSError as exc:
                raise store_error(
                    "delete the session file", self._session_path, exc.strerror
                ) from exc
        _log.debug("Cleared the session at %s", self._session_path)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self._ensure_directory()
        held = _directory_lock(self._directory)
        with held.threads:
            try:
                held.file.acquire()
            except OSError as exc:
                raise store_error("lock", self._directory / _LOCK_FILE, exc.strerror) from exc
            try:
                yield
            finally:
                held.file.release()

    @contextlib.contextmanager
    def refresh_lock(self, timeout: float) -> Iterator[bool]:
        """The turn to refresh among the processes and threads sharing the directory, awaited
        at most ``timeout`` seconds; yields False (and logs at DEBUG) when it cannot be had in
        time or at all. See :class:`RefreshLockingStore`."""
        deadline = time.monotonic() + max(0.0, timeout)
        held = None
        try:
            self._ensure_directory()
            held = _directory_lock(self._directory)
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
            return None

    # -- internals ----------------------------------------------------------------------------

    def _load(self) -> dict[str, Any] | None:
        path = self._session_path
        try:
            problem = directory_problem(self._directory)
        except FileNotFoundError:
            _log.debug("No saved session: %s does not exist", self._directory)
            return None
        if problem is not None:
            raise _Ignored(f"the directory {self._directory} is not used: {problem}")
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
            # Authentic, but for another configuration: this session means nothing here.
            _log.info("Wiping the session at %s: it was saved for another configuration", path)
            self._wipe_if_unchanged(read.marker)
            return None
        try:
            data = json.loads(plaintext)
        except ValueError:
            raise _Ignored(f"{path}: the decrypted document is not JSON") from None
        if not isinstance(data, dict):
            raise _Ignored(f"{path}: the decrypted document is not a JSON object")
        _log.debug("Loaded the session from %s", path)
        return data

    def _keys(self) -> KeySource:
        with self._key_source_guard:
            if self._key_source is None:
                self._key_source = self._choose_key_source()
            return self._key_source

    def _choose_key_source(self) -> KeySource:
        source: KeySource
        if self._use_keyring is False:
            source = FileKeySource(self._directory / _KEY_FILE)
        else:
            probe = probe_keyring()
            if probe.backend is not None:
                source = KeyringKeySource(
                    probe.backend, self._keyring_service, f"session-key:{self._directory}"
                )
            elif self._use_keyring:
                source = MissingKeyringKeySource(probe.reason)
            else:
                source = FileKeySource(self._directory / _KEY_FILE)
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
        # Every writer holds the lock, so any temp file seen here is from a process killed
        # mid-save. Remove it so crashed writers do not fill the directory.
        for pattern in (f".{_SESSION_FILE}-*.tmp", f".{_KEY_FILE}-*.tmp"):
            for leftover in self._directory.glob(pattern):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def _wipe_if_unchanged(self, marker: object) -> None:
        try:
            with self.lock():
                if self.version() == marker:
                    self._session_path.unlink()
        except (OSError, SessionStoreError) as exc:
            _log.info("Could not wipe the session at %s: %s", self._session_path, exc)
