"""Where the store's key lives (the OS keyring, else an owner-only key file), and the rules for
the owner-only files that hold secrets.

A file is trusted only if it is a regular file (not a symlink, FIFO or device), owned by the
current user, and has no group or other permission bits. Anything else is ignored with a
warning, never read: someone else could have read or replaced it. Files are opened without
blocking, so a FIFO put in a file's place cannot hang the reader. The directory holding them is
trusted only if it is a directory owned by the current user that no other user can write to
(others could delete or replace the files). On Windows the mode bits mean little; there the
per-user profile directory's ACLs are what protects the files, and only the regular-file check
applies.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import logging
import os
import stat
import threading
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from ..errors import SessionStoreError
from ._crypto import KEY_BYTES, new_key

__all__ = [
    "KEY_SOURCE_FILE",
    "FileKeySource",
    "KeySource",
    "KeyringKeySource",
    "KeyringProbe",
    "MissingKeyringKeySource",
    "OwnerOnlyFile",
    "UntrustedFileError",
    "directory_problem",
    "file_marker",
    "fsync_directory",
    "probe_keyring",
    "read_key_source",
    "read_owner_only",
    "record_key_source",
    "store_error",
    "write_atomic",
]

_log = logging.getLogger("fsm_auth.session")

_POSIX = os.name == "posix"
# keyring's own threshold: backends below priority 1 (plaintext files of keyrings.alt, the null
# and fail backends, an empty chainer) are no better than our owner-only key file.
_MIN_KEYRING_PRIORITY = 1.0
# keyring's first get_keyring() imports and probes every backend; on a Linux box with a D-Bus
# session but no secret service that can block for the D-Bus timeout. Never wait that long.
_PROBE_TIMEOUT = 3.0

KEY_SOURCE_FILE = "key-source"
"""The store's own note (owner-only, in its directory) of where its key lives: ``file`` or
``keyring``. Written when the key is first stored, so that later runs go straight to the key
file without importing and probing the OS keyring (which costs about 0.1 s and a thread)."""
_KEY_SOURCE_KINDS = ("file", "keyring")


def store_error(action: str, path: Path | str, reason: object) -> SessionStoreError:
    """A :class:`SessionStoreError` saying ``cannot <action> <path>: <reason>``.

    ``redact()`` treats any 32-character run of path characters as a token and would turn a
    long path into ``[redacted]``; the path is ours and not a secret, and the message must name
    it, so it is set after construction. ``reason`` is the OS's text (``strerror``) or ours,
    never data.
    """
    error = SessionStoreError(f"cannot {action}")
    error.message = f"cannot {action} {path}: {reason}"
    error.args = (error.message,)
    return error


class UntrustedFileError(Exception):
    """A file exists but is not safe to read (or cannot be read); the message says why."""


class OwnerOnlyFile(NamedTuple):
    """The content of a trusted file and a marker of the version read. (This module's records
    are named tuples, not attrs classes: the store's read path imports no attrs.)"""

    data: bytes
    marker: tuple[int, int, int, int]


def file_marker(st: os.stat_result) -> tuple[int, int, int, int]:
    """A cheap change marker: a replaced file has a new inode, a rewritten one a new mtime/size."""
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def directory_problem(directory: Path) -> str | None:
    """Why ``directory`` cannot hold the session (``None`` when it can), e.g. ``"it is owned by
    another user"``; the caller names the path.

    A symbolic link to a directory is followed (a data directory moved elsewhere and linked
    back is common); the directory it leads to is what is checked. Raises
    ``FileNotFoundError`` when there is nothing there.
    """
    try:
        st = os.stat(directory)
    except FileNotFoundError:
        raise
    except OSError as exc:
        return f"it cannot be examined: {exc.strerror}"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if _POSIX:
        if st.st_uid != os.geteuid():
            return f"it is owned by another user (uid {st.st_uid})"
        if st.st_mode & 0o022:
            # Whoever can write to it can delete or replace the session and its key.
            mode = stat.S_IMODE(st.st_mode)
            return f"other users can write to it (mode {mode:04o}; make it 0700)"
    return None


def read_owner_only(path: Path, max_size: int) -> OwnerOnlyFile:
    """Read ``path`` if it is trusted (see the module docstring).

    Raises ``FileNotFoundError`` when there is no file, :class:`UntrustedFileError` otherwise.
    """
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever. It
    # changes nothing for the regular files that are the only thing read below.
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_BINARY", 0)
    )
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UntrustedFileError(f"{path} is a symbolic link") from None
        raise UntrustedFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UntrustedFileError(f"{path} is not a regular file ({_kind(st.st_mode)})")
        if _POSIX:
            if st.st_uid != os.geteuid():
                raise UntrustedFileError(f"{path} is owned by another user")
            if st.st_mode & 0o077:
                mode = stat.S_IMODE(st.st_mode)
                raise UntrustedFileError(f"{path} is not owner-only (mode {mode:04o})")
        if st.st_size > max_size:
            raise UntrustedFileError(f"{path} is too large ({st.st_size} bytes)")
        chunks = []
        remaining = max_size + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_size:
            raise UntrustedFileError(f"{path} is too large")
        return OwnerOnlyFile(data=data, marker=file_marker(st))
    except OSError as exc:
        raise UntrustedFileError(f"cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX; Windows cannot open a directory)."""
    if not _POSIX:
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: temp file (0600) in the same directory, fsync,
    rename over, fsync the directory. A crash leaves the old file or the new one, never a mix.

    Raises ``OSError``; the temp file is removed on failure. Temp files are named
    ``.<name>-*.tmp`` so the store can sweep the ones a killed process left behind.
    """
    import tempfile  # on first write: a session served from the store never writes

    # mkstemp opens with O_EXCL (and O_NOFOLLOW where there is one) and mode 0600.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_directory(path.parent)


class KeySource(Protocol):
    """Holds the store's AES key. Callers hold the store's lock around :meth:`get_or_create`."""

    description: str
    """Where the key lives, for log lines and errors (never the key)."""

    def get(self) -> bytes | None:
        """The key, or ``None`` if there is none yet; :class:`UntrustedFileError` if unusable."""
        ...

    def get_or_create(self) -> bytes:
        """The key, creating (or replacing an unusable) one; :class:`SessionStoreError` on I/O
        failure."""
        ...


def _decode_key(raw: bytes) -> bytes | None:
    return raw if len(raw) == KEY_BYTES else None


def read_key_source(directory: Path) -> str | None:
    """Where the store in ``directory`` keeps its key (``"file"`` or ``"keyring"``), as its
    :data:`KEY_SOURCE_FILE` says; ``None`` when there is no such note or it is not trusted
    (the same owner-only rules as the key file: an untrusted note is ignored, never obeyed)."""
    try:
        raw = read_owner_only(directory / KEY_SOURCE_FILE, max_size=64).data
    except (FileNotFoundError, UntrustedFileError):
        return None
    kind = raw.decode("ascii", "replace").strip()
    return kind if kind in _KEY_SOURCE_KINDS else None


def record_key_source(directory: Path, kind: str) -> None:
    """Note in ``directory`` that its store's key lives in ``kind`` (``"file"`` or
    ``"keyring"``); atomic and owner-only. A failure is logged, not raised: without the note
    the next run probes the keyring again, which is slower but as correct."""
    if kind not in _KEY_SOURCE_KINDS:
        raise ValueError(f"unknown key source {kind!r}")
    try:
        write_atomic(directory / KEY_SOURCE_FILE, kind.encode("ascii"))
    except OSError as exc:
        _log.debug("Cannot note the key source in %s: %s", directory, exc.strerror)


class _StoredKeySource:
    """A key source that can also write: ``get_or_create`` on top of ``get`` and ``_put``.

    ``kind`` and ``directory`` (optional) say where to note the key's location: once the key is
    known to be in this source, :func:`record_key_source` is written if it says otherwise.
    """

    kind = ""
    directory: Path | None = None
    _noted = False

    def get(self) -> bytes | None:
        raise NotImplementedError

    def _put(self, key: bytes) -> None:
        raise NotImplementedError

    def get_or_create(self) -> bytes:
        """The key, creating (or replacing an unusable) one."""
        try:
            key = self.get()
        except UntrustedFileError as exc:
            # A key that others could read is burnt; one we cannot parse is useless. Either way
            # the session it protected is unreadable to us, and a new key starts clean.
            _log.info("Replacing the session key: %s", exc)
            key = None
        if key is None:
            key = new_key()
            self._put(key)
        self._note()
        return key

    def _note(self) -> None:
        # Once per source object: the caller holds the store's lock, so the note and the key
        # it describes are written by one process at a time.
        if self._noted or self.directory is None:
            return
        if read_key_source(self.directory) != self.kind:
            record_key_source(self.directory, self.kind)
        self._noted = True


class FileKeySource(_StoredKeySource):
    """The key in an owner-only (0600) file, for machines without a usable OS keyring."""

    kind = "file"

    def __init__(self, path: Path, *, directory: Path | None = None) -> None:
        """``directory``: the store's directory, to note there that the key is in this file."""
        self.path = path
        self.directory = directory
        self.description = f"key file {path}"

    def get(self) -> bytes | None:
        try:
            raw = read_owner_only(self.path, max_size=4 * KEY_BYTES).data
        except FileNotFoundError:
            return None
        key = _decode_key(raw)
        if key is None:
            raise UntrustedFileError(f"{self.path} is corrupt (not a {KEY_BYTES}-byte key)")
        return key

    def _put(self, key: bytes) -> None:
        try:
            write_atomic(self.path, key)
        except OSError as exc:
            raise store_error("write the session key file", self.path, exc.strerror) from exc

    def __repr__(self) -> str:
        return f"FileKeySource(path={str(self.path)!r})"


class KeyringKeySource(_StoredKeySource):
    """The key in the OS keyring (macOS Keychain, Windows Credential Locker, Secret Service)."""

    kind = "keyring"

    def __init__(
        self, backend: Any, service: str, username: str, *, directory: Path | None = None
    ) -> None:
        """``directory``: the store's directory, to note there that the key is in the keyring."""
        self.directory = directory
        self._backend = backend
        self._service = service
        self._username = username
        self.description = f"OS keyring ({type(backend).__name__}, service {service!r})"

    def get(self) -> bytes | None:
        try:
            encoded = self._backend.get_password(self._service, self._username)
        except Exception as exc:  # any backend failure: locked, D-Bus gone, denied
            raise UntrustedFileError(
                f"cannot read the session key from the {self.description}: {type(exc).__name__}"
            ) from None
        if encoded is None:
            return None
        try:
            key = _decode_key(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            key = None
        if key is None:
            raise UntrustedFileError(f"the session key in the {self.description} is corrupt")
        return key

    def _put(self, key: bytes) -> None:
        try:
            self._backend.set_password(
                self._service, self._username, base64.b64encode(key).decode("ascii")
            )
        except Exception as exc:
            raise SessionStoreError(
                f"cannot store the session key in the {self.description}: {type(exc).__name__}"
            ) from exc

    def __repr__(self) -> str:
        return f"KeyringKeySource(service={self._service!r}, username={self._username!r})"


class MissingKeyringKeySource:
    """``use_keyring=True`` without a usable keyring: no key, rather than one on disk."""

    def __init__(self, reason: str) -> None:
        self._problem = f"use_keyring=True but there is no usable OS keyring ({reason})"
        self.description = f"OS keyring (none usable: {reason})"

    def get(self) -> bytes | None:
        raise UntrustedFileError(self._problem)

    def get_or_create(self) -> bytes:
        raise SessionStoreError(self._problem)

    def __repr__(self) -> str:
        return "MissingKeyringKeySource()"


class KeyringProbe(NamedTuple):
    """The outcome of looking for a usable OS keyring."""

    backend: Any | None
    """The active backend if it is a real one, else ``None``."""
    reason: str
    """Which backend was found and why it is (not) used; for log lines."""


_probe_timed_out = False
_probe_guard = threading.Lock()


def _probe(backend: Any) -> KeyringProbe:
    from keyring.backends import chainer, fail

    name = f"{type(backend).__module__}.{type(backend).__qualname__}"
    if isinstance(backend, fail.Keyring):
        return KeyringProbe(None, f"{name}: no backend available")
    if isinstance(backend, chainer.ChainerBackend):
        chained = backend.backends
        if not chained:
            return KeyringProbe(None, f"{name} with no backends")
        priority = float(chained[0].priority)
    else:
        priority = float(backend.priority)
    if priority < _MIN_KEYRING_PRIORITY:
        return KeyringProbe(None, f"{name}: priority {priority:g} is below 1 (not a secure store)")
    return KeyringProbe(backend, name)


def probe_keyring() -> KeyringProbe:
    """Find the active keyring backend and decide whether it is a real one.

    Cheap after the first call (keyring caches its backend); the first call is bounded by a
    timeout, and a timeout is remembered for the life of the process.
    """
    global _probe_timed_out
    with _probe_guard:
        if _probe_timed_out:
            return KeyringProbe(None, "the keyring did not answer earlier")
        result: list[KeyringProbe] = []

        def probe() -> None:
            try:
                import keyring

                result.append(_probe(keyring.get_keyring()))
            except Exception as exc:
                result.append(KeyringProbe(None, f"probe failed: {type(exc).__name__}"))

        thread = threading.Thread(target=probe, name="fsm-auth-keyring-probe", daemon=True)
        thread.start()
        thread.join(_PROBE_TIMEOUT)
        if not result:
            _probe_timed_out = True
            return KeyringProbe(None, f"the keyring did not answer in {_PROBE_TIMEOUT:g} s")
        return result[0]
