"""RedisSessionStore against a real redis-server (issue 10, item 4): sealed records, the key,
isolation of namespaces / session ids / configurations, the fence, the lease, round trips."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from redis_helpers import KEY, RedisServer, import_path

from fsm_auth.errors import NetworkError, SessionStoreError, SessionStoreUnavailableError
from fsm_auth.session import RedisSessionStore, SessionStore

DOC = {"schema": 2, "user": {"tokens": {"access_token": "secret-access-token-value"}}}


def other_machine(url: str) -> str:
    """The same server by another name: a store built from it shares no thread lock with this
    process's stores of ``url``, as a store on another machine would."""
    return url.replace("127.0.0.1", "localhost")


def test_a_record_is_sealed_and_the_key_is_never_in_redis(
    redis_url: str, redis_server: RedisServer
) -> None:
    store = RedisSessionStore(redis_url, key=KEY).scoped("config-a")
    assert isinstance(store, SessionStore)
    store.save(DOC)
    assert store.load() == DOC
    raw = redis_server.client()
    dumped = b"".join(
        b"".join(raw.hgetall(name).values())
        if raw.type(name) == b"hash"
        else (raw.get(name) or b"")
        for name in raw.keys("*")
    )
    assert b"secret-access-token-value" not in dumped
    assert KEY not in dumped
    assert KEY.hex().encode() not in dumped
    assert "config-a" not in str(raw.keys("*"))  # only the configuration's digest
    assert KEY.hex() not in repr(store)
    assert str(KEY) not in repr(store)


def test_the_key_is_checked_without_echoing_it(redis_url: str) -> None:
    short = b"s3cr3t-short-key"
    with pytest.raises(ValueError, match="32 bytes") as excinfo:
        RedisSessionStore(redis_url, key=short)
    assert "s3cr3t" not in str(excinfo.value)
    with pytest.raises(TypeError, match="32 bytes") as type_info:
        RedisSessionStore(redis_url, key=KEY.hex())  # type: ignore[arg-type]
    assert KEY.hex() not in str(type_info.value)


def test_a_password_in_the_url_is_not_in_the_repr_or_errors(redis_server: RedisServer) -> None:
    url = f"redis://:hunter2-password@127.0.0.1:{redis_server.port}/0"
    store = RedisSessionStore(url, key=KEY)
    assert "hunter2" not in repr(store)
    redis_server.stop()
    try:
        with pytest.raises(SessionStoreError) as excinfo:
            store.load()
        assert "hunter2" not in str(excinfo.value)
    finally:
        redis_server.start()


def test_a_record_under_another_key_is_ignored(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    RedisSessionStore(redis_url, key=KEY).save(DOC)
    other = RedisSessionStore(redis_url, key=bytes(32))
    with caplog.at_level(logging.WARNING, logger="fsm_auth.session"):
        assert other.load() is None
    assert any("authentication failed" in r.getMessage() for r in caplog.records)
    assert "secret-access-token" not in caplog.text


def test_namespaces_session_ids_and_configurations_are_isolated(redis_url: str) -> None:
    views = {
        (ns, sid, conf): RedisSessionStore(redis_url, key=KEY, namespace=ns, session_id=sid).scoped(
            conf
        )
        for ns in ("app-a", "app-b")
        for sid in ("alice", "bob")
        for conf in ("pool-1", "pool-2")
    }
    for name, view in views.items():
        view.save({"who": list(name)})
    for name, view in views.items():
        assert view.load() == {"who": list(name)}
    # Clearing one touches none of the others.
    views[("app-a", "alice", "pool-1")].clear()
    for name, view in views.items():
        expected = None if name == ("app-a", "alice", "pool-1") else {"who": list(name)}
        assert view.load() == expected


def test_a_record_copied_to_another_session_does_not_open(
    redis_url: str, redis_server: RedisServer
) -> None:
    """Someone who can write to Redis but lacks the key cannot hand alice's session to bob."""
    alice = RedisSessionStore(redis_url, key=KEY, session_id="alice").scoped("c")
    bob = RedisSessionStore(redis_url, key=KEY, session_id="bob").scoped("c")
    alice.save({"who": "alice"})
    bob.save({"who": "bob"})
    raw = redis_server.client()
    raw.hset(bob.record_key, "d", raw.hget(alice.record_key, "d") or b"")
    assert bob.load() is None


def test_a_stale_turn_holder_cannot_overwrite_a_newer_record(redis_url: str) -> None:
    """P holds the turn to refresh and stalls past its lease; Q takes the turn and writes;
    P's late write is refused and Q's record kept."""
    p = RedisSessionStore(redis_url, key=KEY, lease=0.2).scoped("c")
    q = RedisSessionStore(other_machine(redis_url), key=KEY, lease=0.2).scoped("c")
    p.save({"by": "start"})
    with p.refresh_lock(5) as held:
        assert held
        with q.refresh_lock(0) as q_held:  # P's lease runs: not yet
            assert not q_held
        with q.refresh_lock(5) as q_held:  # waits for P's lease to run out
            assert q_held
            q.save({"by": "q"})
        with pytest.raises(SessionStoreError, match="outlived its turn"):
            p.save({"by": "p, late"})
    assert p.load() == {"by": "q"}
    # Outside a turn, and once P has read the newer record, P writes again.
    p.save({"by": "p, later"})
    assert q.load() == {"by": "p, later"}


def test_a_dead_turn_holder_frees_the_turn_when_its_lease_ends(redis_url: str) -> None:
    p = RedisSessionStore(redis_url, key=KEY, lease=0.2).scoped("c")
    q = RedisSessionStore(other_machine(redis_url), key=KEY, lease=0.2).scoped("c")
    turn = p.refresh_lock(5)
    assert turn.__enter__() is True  # and never left: its holder "died"
    with q.refresh_lock(0) as held:
        assert not held
    with q.refresh_lock(5) as held:
        assert held


def test_the_lock_is_reentrant_and_excludes_other_threads(redis_url: str) -> None:
    store = RedisSessionStore(redis_url, key=KEY).scoped("c")
    other = RedisSessionStore(redis_url, key=KEY).scoped("c")
    order: list[str] = []
    with store.lock():
        with store.lock():
            store.save({"n": 1})
        thread = threading.Thread(target=lambda: (other.lock().__enter__(), order.append("other")))
        thread.start()
        thread.join(0.2)
        order.append("first")
    thread.join(5)
    assert order == ["first", "other"]


def test_redis_down_raises_a_network_error_and_recovers(
    redis_server: RedisServer, redis_url: str
) -> None:
    store = RedisSessionStore(redis_url, key=KEY).scoped("c")
    store.save(DOC)
    redis_server.stop()
    try:
        for call in (store.load, store.version, lambda: store.save(DOC)):
            with pytest.raises(SessionStoreUnavailableError) as excinfo:
                call()
            assert isinstance(excinfo.value, NetworkError)
            assert isinstance(excinfo.value, SessionStoreError)
        with pytest.raises(NetworkError), store.refresh_lock(1):
            pass
    finally:
        redis_server.start()
    assert store.load() == DOC  # the snapshot a Redis with persistence keeps
    store.save({"again": True})
    assert store.load() == {"again": True}


def test_one_users_session_costs_the_same_round_trips_among_1000(
    redis_server: RedisServer, redis_url: str
) -> None:
    """1,000 users' sessions in one namespace: loading, saving and locking one user's costs
    a fixed number of round trips to Redis (the commands the server saw from clients, by
    MONITOR), the same as with one user: no scan, no key listing."""

    def user(i: int) -> RedisSessionStore:
        store = RedisSessionStore(redis_url, key=KEY, namespace="fleet", session_id=f"user-{i}")
        return store.scoped("c")

    figures: dict[int, dict[str, list[str]]] = {}
    for population in (1, 1000):
        for i in range(population):
            user(i).save({"user": i})
        one = user(population // 2)

        def turn(store: RedisSessionStore = one) -> None:
            with store.refresh_lock(1):
                pass

        def lock(store: RedisSessionStore = one) -> None:
            with store.lock():
                pass

        def save(store: RedisSessionStore = one) -> None:
            store.save({"user": "new"})

        operations = {
            "load": one.load,
            "save": save,
            "version": one.version,
            "lock": lock,
            "refresh_lock": turn,
        }
        for operation in operations.values():
            operation()  # warm: connection made, scripts loaded
        figures[population] = {
            name: redis_server.round_trips(operation) for name, operation in operations.items()
        }
        redis_server.client().flushall()
    counts = {n: {op: len(c) for op, c in f.items()} for n, f in figures.items()}
    print(f"\nRound trips to Redis per operation on one user's session, by users: {counts}")
    names = {op: [c.split()[0] for c in commands] for op, commands in figures[1000].items()}
    print(f"Commands with 1,000 users: {names}")
    assert counts[1] == counts[1000]
    assert counts[1000] == {"load": 1, "save": 3, "version": 1, "lock": 2, "refresh_lock": 2}
    assert not any(
        c.split()[0] in {"KEYS", "SCAN"} for commands in figures[1000].values() for c in commands
    )


def test_no_thread_lock_is_held_after_a_failed_acquire(
    redis_server: RedisServer, redis_url: str
) -> None:
    """Redis down while taking the lock: the next call (Redis back) is not stuck behind it."""
    store = RedisSessionStore(redis_url, key=KEY).scoped("c")
    redis_server.stop()
    try:
        with pytest.raises(SessionStoreUnavailableError), store.lock():
            pass
    finally:
        redis_server.start()
    started = time.monotonic()
    with store.lock():
        store.save(DOC)
    assert time.monotonic() - started < 30  # a generous bound: the issue here is a hang


def test_names_that_would_break_the_key_layout_are_refused(redis_url: str) -> None:
    for namespace in ("", "a{b}", "tab\there"):
        with pytest.raises(ValueError, match="namespace"):
            RedisSessionStore(redis_url, key=KEY, namespace=namespace)
    with pytest.raises(ValueError, match="session_id"):
        RedisSessionStore(redis_url, key=KEY, session_id="")
    # Any other session id is fine: it is percent-encoded in the key names.
    odd = RedisSessionStore(redis_url, key=KEY, session_id="a:b}{c d/é").scoped("c")
    plain = RedisSessionStore(redis_url, key=KEY, session_id="a").scoped("c")
    odd.save({"odd": True})
    assert plain.load() is None
    assert odd.load() == {"odd": True}


def test_redis_is_imported_only_when_a_store_is_built(redis_url: str) -> None:
    """``RedisSessionStore`` is importable without importing redis-py (cold start)."""
    code = (
        "import sys\n"
        "from fsm_auth.session import RedisSessionStore\n"
        "assert 'redis' not in sys.modules, 'imported on import'\n"
        f"RedisSessionStore({redis_url!r}, key=bytes(32))\n"
        "assert 'redis' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=import_path()),
        cwd=tempfile.gettempdir(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
