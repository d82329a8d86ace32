"""A session store in Redis, for fleets: N processes on M machines sharing sessions.

One Redis holds the sessions of many users and many pools: each (namespace, session id,
configuration) has its own keys, and nothing one of them does reads, overwrites or deletes
another's. The application supplies the AES-256 key (from a secret manager or the
environment); it is never written to Redis, so Redis sees only ciphertext.

Keys (``B`` is ``<namespace>:{<session id, percent-encoded>:<configuration digest>}``; the
braces are a Redis Cluster hash tag, so one session's keys live in one slot)::

    B:record   hash: d = the sealed document (absent when cleared), v = its version,
               n = the fencing counter, fl / ft = the fencing numbers of the last write's
               lock and refresh turn
    B:lock     the store's lock (a token with a lease), held only to read or write
    B:turn     the turn to refresh (a token with a lease), held across one refresh

Fencing (a holder that outlived its lease cannot overwrite a newer record): every lock and
every turn is numbered from the record's own counter when it is taken, and ``save()`` is one
Lua script that compares those numbers with the ones the record was last written under and
moves the document, its version and the fencing numbers together. A process stopped while it
held the turn (a pause, a SIGSTOP, a long GC) finds, when it resumes, that a later turn has
written: its write is refused with :class:`~fsm_auth.errors.SessionStoreError`, which the
client treats as best-effort (it keeps its session in memory, and on its next refresh reads
the newer record and adopts its tokens).

Redis unreachable: every call that needs it raises
:class:`~fsm_auth.errors.SessionStoreUnavailableError`, which is both a ``SessionStoreError``
and a ``NetworkError``. The client then serves what it holds in memory, signs nobody out, and
refreshes only when it can take the turn again (refreshing alone could fork a session whose
refresh token rotates).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from fsm_auth._per_process import PerProcess

from ..errors import SessionStoreError, SessionStoreUnavailableError
from ._crypto import (
    KEY_BYTES,
    EnvelopeError,
    config_digest,
    open_envelope,
    parse_envelope,
    seal,
)
from ._store import MAX_SESSION_BYTES, _check_size, _encode

if TYPE_CHECKING:  # redis is an optional extra, imported when a store is built
    import redis

__all__ = ["RedisSessionStore"]

_log = logging.getLogger("fsm_auth.session")

# A lock is held for one read or write (milliseconds); its lease only matters when its holder
# dies or stalls holding it.
_LOCK_LEASE = 5.0
# The turn to refresh is held across one token exchange. Shorter than the client's wait for the
# turn (15 s), so a stalled holder delays the others by one lease, not a full wait.
_TURN_LEASE = 10.0
# How often a waiter asks Redis for a lock (it is free within a round trip when uncontended).
_POLL_FIRST = 0.005
_POLL_MAX = 0.05

# Takes the lock KEYS[2] for ARGV[1] ms if free, numbered from the record's counter (KEYS[1]).
_ACQUIRE = """
local t = redis.call('HINCRBY', KEYS[1], 'n', 1)
if redis.call('SET', KEYS[2], t, 'NX', 'PX', tonumber(ARGV[1])) then return t end
return 0
"""
# Releases the lock KEYS[1] if it is still ours (token ARGV[1]): a lock whose lease expired
# and that someone else holds now is theirs.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# The fenced write. ARGV: the sealed document ('' to clear), the lock's number, the turn's
# number ('' outside a turn). Refused (-1 / -2) when a later lock or a later turn has written;
# else the document, its new version and the fencing numbers move together.
_WRITE = """
local fl = tonumber(redis.call('HGET', KEYS[1], 'fl') or '0')
local ft = tonumber(redis.call('HGET', KEYS[1], 'ft') or '0')
local lock = tonumber(ARGV[2])
if lock < fl then return -1 end
if ARGV[3] ~= '' then
  local turn = tonumber(ARGV[3])
  if turn < ft then return -2 end
  ft = turn
end
if ARGV[1] == '' then
  if redis.call('HEXISTS', KEYS[1], 'd') == 0 then return 0 end
  redis.call('HDEL', KEYS[1], 'd')
else
  redis.call('HSET', KEYS[1], 'd', ARGV[1])
end
redis.call('HSET', KEYS[1], 'fl', lock, 'ft', ft)
return redis.call('HINCRBY', KEYS[1], 'v', 1)
"""


class _SharedLock:
    """One Redis lock as seen by this process: a thread lock in front (so the threads of one
    process queue here, not on Redis) and, while held, the Redis token and its number."""

    def __init__(self) -> None:
        self.threads = threading.RLock()
        self.depth = 0
        self.token = 0
        self.owner: int | None = None


# Weak: a web backend may see millions of session ids; an entry lives as long as a view of it.
_shared: PerProcess[tuple[str, str], _SharedLock] = PerProcess(
    lambda where_and_name: _SharedLock(), weak=True
)


def _shared_lock(where: str, name: str) -> _SharedLock:
    return _shared.get((where, name))


def _check_key(key: object) -> bytes:
    """The AES key, or a ``TypeError`` / ``ValueError`` naming what is wrong with it (its
    type or length, never its value)."""
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"RedisSessionStore key must be {KEY_BYTES} bytes (got a {type(key).__name__}); "
            "decode a base64 or hex secret before passing it"
        )
    raw = bytes(key)
    if len(raw) != KEY_BYTES:
        raise ValueError(
            f"RedisSessionStore key must be {KEY_BYTES} bytes for AES-256-GCM "
            f"(got {len(raw)} bytes)"
        )
    return raw


def _check_namespace(value: object) -> str:
    """A namespace: a non-empty string without braces (they would move the Redis Cluster hash
    tag) or control characters."""
    if not isinstance(value, str) or not value:
        raise ValueError("RedisSessionStore namespace must be a non-empty string")
    if "{" in value or "}" in value or any(ord(c) < 32 for c in value):
        raise ValueError(
            f"RedisSessionStore namespace {value!r} has a brace or a control character"
        )
    return value


def _safe_location(url: str) -> str:
    """The URL without its credentials, for messages and the repr."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class RedisSessionStore:
    """A :class:`~fsm_auth.session.SessionStore` in Redis, shared by processes and machines.

    ``url`` is a redis-py URL (``redis://host:6379/0``, ``rediss://`` for TLS,
    ``unix:///path``). ``key`` is the 32-byte AES-256-GCM key that seals every record:
    supplied by the application (a secret manager, an environment variable), never written to
    Redis, never in a message or the repr. ``namespace`` prefixes every key (one per
    application or environment); ``session_id`` names one session in it (one per user of a
    web backend, or one shared by a fleet acting for one user). The client scopes the store to
    its configuration with :meth:`scoped`; records of different (session id, configuration)
    pairs are separate keys.

    :meth:`lock` is held only to read or write; :meth:`refresh_lock` is the turn to refresh
    that the processes sharing a session take so that they refresh once between them. Both
    are Redis locks with a lease, and :meth:`save` is fenced by them (see the module's doc).
    ``version()`` is one round trip. Redis unreachable raises
    :class:`~fsm_auth.errors.SessionStoreUnavailableError` (a ``NetworkError`` too).

    ``lease`` is how long a turn to refresh is held at most when its holder stalls or dies
    (seconds; shorter than the client's 15-second wait for the turn). Used without
    :meth:`scoped`, the store holds the record of an empty configuration name.

    redis-py is an optional extra: ``pip install 'fsm-auth[redis]'``.
    """

    def __init__(
        self,
        url: str,
        *,
        key: bytes,
        namespace: str = "fsm-auth",
        session_id: str = "default",
        lease: float = _TURN_LEASE,
    ) -> None:
        self._key = _check_key(key)
        _check_namespace(namespace)
        if not isinstance(session_id, str) or not session_id:
            # Any other string will do: it is percent-encoded in the key names.
            raise ValueError("RedisSessionStore session_id must be a non-empty string")
        if not isinstance(url, str):
            raise TypeError("RedisSessionStore url must be a string")
        if not lease > 0:
            raise ValueError("RedisSessionStore lease must be a positive number of seconds")
        self._url = url
        self._where = _safe_location(url)
        self._namespace = namespace
        self._session_id = session_id
        self._lease = float(lease)
        self._redis = self._connect(url)
        self._scripts = {
            "acquire": self._redis.register_script(_ACQUIRE),
            "release": self._redis.register_script(_RELEASE),
            "write": self._redis.register_script(_WRITE),
        }
        # redis-py's asyncio clients, one per event loop an AsyncAuthClient uses this store
        # on (shared by this store's scoped views).
        self._on_loops: dict[Any, tuple[Any, dict[str, Any]]] = {}
        self._on_loops_lock = threading.Lock()
        self._bind(config_digest(""))

    def _connect_async(self) -> Any:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff

        return redis.asyncio.Redis.from_url(
            self._url,
            socket_connect_timeout=2.0,
            socket_timeout=5.0,
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1),
        )

    def _commands_on(self, loop: Any) -> dict[str, Any]:
        """This store's commands as redis-py's asyncio client runs them on ``loop``."""
        with self._on_loops_lock:
            entry = self._on_loops.get(loop)
            if entry is None:
                client = self._connect_async()
                commands = {
                    "hget": client.hget,
                    **{
                        name: client.register_script(script.script)
                        for name, script in self._scripts.items()
                    },
                }
                entry = self._on_loops[loop] = (client, commands)
            return entry[1]

    async def aclose_on(self, loop: Any) -> None:
        """Close the asyncio client this store opened for ``loop`` (the asyncio client's
        ``close``); the next use on that loop opens another."""
        with self._on_loops_lock:
            entry = self._on_loops.pop(loop, None)
        if entry is not None:
            await entry[0].aclose()

    def _connect(self, url: str) -> redis.Redis:
        try:
            import redis
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry
        except ImportError as exc:
            raise SessionStoreError(
                "RedisSessionStore needs redis-py: pip install 'fsm-auth[redis]'"
            ) from exc
        try:
            # Short timeouts and one quick retry: a store that is down must answer "down"
            # in well under a second, not after redis-py's default backoff of seconds.
            return redis.Redis.from_url(
                url,
                socket_connect_timeout=2.0,
                socket_timeout=5.0,
                retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1),
            )
        except ValueError:
            # from None: redis-py's message may quote the URL, and with it a password.
            raise SessionStoreError(
                f"RedisSessionStore url {self._where!r} is not a Redis URL"
            ) from None

    def _bind(self, digest: bytes) -> None:
        """Name this view's keys after its session id and configuration ``digest``."""
        session = urllib.parse.quote(self._session_id, safe="")
        base = f"{self._namespace}:{{{session}:{digest.hex()[:32]}}}"
        self._record_key = f"{base}:record"
        self._lock_key = f"{base}:lock"
        self._turn_key = f"{base}:turn"
        # The sealed header carries this, so a record copied to another session id, namespace
        # or configuration does not open there (an attacker with write access to Redis but not
        # the key cannot swap users' sessions).
        self._binding = hashlib.sha256(
            b"fsm-auth redis record\x00"
            + self._namespace.encode()
            + b"\x00"
            + self._session_id.encode()
            + b"\x00"
            + digest
        ).digest()

    def scoped(self, configuration: str) -> RedisSessionStore:
        """A view holding the record of this store's session id for ``configuration`` only
        (the client's ``config.config_key``; only its digest is used). Shares the
        connection pool."""
        view = object.__new__(RedisSessionStore)
        view.__dict__.update(self.__dict__)
        view._bind(config_digest(configuration))
        return view

    @property
    def _lock(self) -> _SharedLock:
        # Looked up on each use (not kept): a forked child starts with fresh thread locks.
        return _shared_lock(self._url, self._lock_key)

    @property
    def _turn(self) -> _SharedLock:
        return _shared_lock(self._url, self._turn_key)

    @property
    def namespace(self) -> str:
        """The prefix of every key of this store."""
        return self._namespace

    @property
    def session_id(self) -> str:
        """The session this store holds (one per user, or one shared by a fleet)."""
        return self._session_id

    @property
    def record_key(self) -> str:
        """The Redis key of this view's record (for operators; it holds only ciphertext)."""
        return self._record_key

    def __repr__(self) -> str:
        return (
            f"RedisSessionStore({self._where!r}, namespace={self._namespace!r}, "
            f"session_id={self._session_id!r})"
        )

    # -- the protocol -------------------------------------------------------------------------

    def load(self) -> dict[str, Any] | None:
        """The saved document (one round trip), or ``None`` when there is none or it cannot
        be opened (logged, never the content). Raises ``SessionStoreUnavailableError`` when
        Redis cannot be reached."""
        blob = self._call("read the session from", "hget", self._record_key, "d")
        if blob is None:
            _log.debug("No saved session at %s", self._record_key)
            return None
        try:
            if len(blob) > MAX_SESSION_BYTES:
                raise EnvelopeError("larger than the limit")
            envelope = parse_envelope(blob)
            if envelope.config_digest != self._binding:
                raise EnvelopeError("sealed for another namespace, session id or configuration")
            plaintext = open_envelope(self._key, envelope)
            data = json.loads(plaintext)
        except EnvelopeError as exc:
            _log.warning("Ignoring the saved session at %s: %s", self._record_key, exc)
            return None
        except ValueError:
            _log.warning(
                "Ignoring the saved session at %s: the decrypted document is not JSON",
                self._record_key,
            )
            return None
        if not isinstance(data, dict):
            _log.warning(
                "Ignoring the saved session at %s: the decrypted document is not a JSON object",
                self._record_key,
            )
            return None
        return data

    def save(self, data: Mapping[str, Any]) -> None:
        """Replace the record, fenced: refused with ``SessionStoreError`` when a later lock or
        a later turn to refresh has written (this writer outlived its lease)."""
        plaintext = _encode(data)
        _check_size(plaintext, self._record_key)
        self._write(seal(self._key, plaintext, self._binding))

    def clear(self) -> None:
        """Forget the record (fenced as :meth:`save`)."""
        self._write(b"")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The store's lock across processes and threads, reentrant in one thread; held only
        to read or write (a lease of a few seconds covers a holder that dies)."""
        with self._hold(self._lock, self._lock_key, _LOCK_LEASE, None) as held:
            if not held:  # pragma: no cover - _hold without a deadline waits or raises
                raise SessionStoreError(f"could not lock the session at {self._record_key}")
            yield

    @contextlib.contextmanager
    def refresh_lock(self, timeout: float) -> Iterator[bool]:
        """The turn to refresh among every process and thread sharing this session, awaited
        at most ``timeout`` seconds: True when held, False when another holder kept it that
        long (the caller then refreshes on its own, and the fence sorts out the writes).
        Raises ``SessionStoreUnavailableError`` when Redis cannot be reached: refreshing
        without the turn could fork a session whose refresh token rotates."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._hold(self._turn, self._turn_key, self._lease, deadline) as held:
            if not held:
                _log.debug("Another process is still refreshing; refreshing on our own")
            yield held

    def version(self) -> object:
        """The record's version: one round trip (``None`` before the first write)."""
        value = self._call("read the session version from", "hget", self._record_key, "v")
        return None if value is None else int(value)

    # -- internals ----------------------------------------------------------------------------

    def _call(self, doing: str, command: str, *args: Any) -> Any:
        """Run ``command`` (``hget`` or a script's name) with ``args``: on the asyncio client's
        event loop with redis-py's asyncio client when called from its work, else here."""
        import redis

        from fsm_auth._event_loop import event_loop, run_on

        loop = event_loop.get()
        try:
            if loop is not None:
                return run_on(loop, self._commands_on(loop)[command](*args))
            method = self._redis.hget if command == "hget" else self._scripts[command]
            return method(*args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise SessionStoreUnavailableError(
                f"could not {doing} Redis at {self._where}: {type(exc).__name__}"
            ) from None
        except redis.RedisError as exc:
            raise SessionStoreError(
                f"Redis at {self._where} refused to {doing.split(' ')[0]} "
                f"{self._record_key}: {type(exc).__name__}"
            ) from None

    def _write(self, sealed: bytes) -> None:
        me = threading.get_ident()
        lock, turn = self._lock, self._turn
        lock_token = lock.token if lock.owner == me else 0
        turn_token = turn.token if turn.owner == me else None
        with contextlib.ExitStack() as stack:
            if not lock_token:
                stack.enter_context(self.lock())
                lock_token = lock.token
            result = self._call(
                "write the session to",
                "write",
                [self._record_key],
                [sealed, lock_token, "" if turn_token is None else turn_token],
            )
        if result == -1:
            raise SessionStoreError(
                f"refused to write the session at {self._record_key}: this writer's lock "
                "expired and another writer has written since (the newer session is kept)"
            )
        if result == -2:
            raise SessionStoreError(
                f"refused to write the session at {self._record_key}: this refresh outlived "
                "its turn and another process has refreshed since (the newer session is kept)"
            )
        _log.debug("Wrote the session to %s (version %s)", self._record_key, result)

    @contextlib.contextmanager
    def _hold(
        self, shared: _SharedLock, name: str, lease: float, deadline: float | None
    ) -> Iterator[bool]:
        """Hold ``shared`` (this process's threads first, then Redis) until the block ends;
        reentrant in one thread. ``deadline`` None waits as long as it takes."""
        me = threading.get_ident()
        if shared.owner == me:
            shared.depth += 1
            try:
                yield True
            finally:
                shared.depth -= 1
            return
        wait = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
        if not shared.threads.acquire(timeout=wait):
            yield False
            return
        try:
            token = self._acquire(name, lease, deadline)
            if not token:
                yield False
                return
            shared.owner, shared.token, shared.depth = me, token, 1
            try:
                yield True
            finally:
                shared.owner, shared.token, shared.depth = None, 0, 0
                with contextlib.suppress(SessionStoreError):
                    # Best-effort: an unreachable Redis lets the lease run out instead.
                    self._call("unlock the session in", "release", [name], [token])
        finally:
            shared.threads.release()

    def _acquire(self, name: str, lease: float, deadline: float | None) -> int:
        """Take the Redis lock ``name``: its fencing number, or 0 when ``deadline`` passed."""
        pause = _POLL_FIRST
        lease_ms = max(1, int(lease * 1000))
        while True:
            token = int(
                self._call(
                    "lock the session in",
                    "acquire",
                    [self._record_key, name],
                    [lease_ms],
                )
            )
            if token:
                return token
            if deadline is not None and time.monotonic() >= deadline:
                return 0
            time.sleep(
                pause if deadline is None else min(pause, max(0.0, deadline - time.monotonic()))
            )
            pause = min(pause * 2, _POLL_MAX)
