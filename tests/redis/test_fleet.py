"""A fleet on one Redis session through AuthClient against the emulator (issue 10, items 4 and
6): 4 processes x 16 threads refresh once between them; a process stopped while it holds the
turn to refresh cannot overwrite the newer session when it resumes; Redis stopped during a
refresh and started again loses nothing and signs nobody out.

Each runs on a non-rotating app client (every refresh token stays valid) and on one that
rotates refresh tokens (each refresh answers a new one, the old one lasting the grace period):
the counts of refresh requests are what shows that the fleet shares one turn, and on the
rotating client that a process adopts the rotated token another saved instead of refreshing
with its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_helpers import KEY, RedisServer, import_path

from fsm_auth import AuthClient, NetworkError, SessionStoreUnavailableError, UserState
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned
from fsm_auth.session import RedisSessionStore

pytestmark = pytest.mark.timeout(120)

PASSWORD = "Correct-Horse-9!"
LIFETIME = 3600 + 60  # past the tokens' lifetime
PROCESSES = 4
THREADS = 16
CHILD = Path(__file__).with_name("fleet_child.py")
SIGNED_OUT = {
    UserState.SIGNED_OUT.value,
    UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID.value,
    UserState.SIGNED_OUT_FEDERATED_TOKENS_INVALID.value,
}


def refreshes(emulator: Emulator) -> int:
    """Refresh requests the emulator has seen (GetTokensFromRefreshToken, or InitiateAuth with
    a refresh flow)."""
    return sum(
        1
        for r in emulator.requests
        if r.operation == "GetTokensFromRefreshToken"
        or (
            r.operation == "InitiateAuth"
            and r.params.get("AuthFlow") in {"REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"}
        )
    )


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def fleet_store(url: str, **kwargs: Any) -> RedisSessionStore:
    return RedisSessionStore(url, key=KEY, namespace="fleet-test", session_id="fleet", **kwargs)


@pytest.fixture(params=["non-rotating", "rotating"])
def pool(request: pytest.FixtureRequest, emulator: Emulator) -> Provisioned:
    """The fleet's pool, its app client rotating refresh tokens or not."""
    return emulator.provision(refresh_token_rotation=request.param == "rotating")


@pytest.fixture
def signed_in(
    emulator: Emulator, aws_config: dict[str, Any], clock: FakeClock, redis_url: str
) -> None:
    """alice signed in and saved in Redis; then her tokens expire."""
    client = AuthClient.from_config(aws_config, store=fleet_store(redis_url), clock=clock)
    try:
        client.initialize()
        client.sign_up("alice", PASSWORD, attributes={"email": "alice@example.com"})
        client.confirm_sign_up("alice", emulator.last_code("alice", "sign_up"))
        client.sign_in("alice", PASSWORD)
    finally:
        client.close()
    clock.advance(LIFETIME)


class Fleet:
    """The child processes, started and restored, waiting for ``go``."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.children = [
            subprocess.Popen(
                [sys.executable, str(CHILD)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(count)
        ]
        for child in self.children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready", "a child failed to start"

    def go(self, child: subprocess.Popen[str]) -> None:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()

    def result(self, child: subprocess.Popen[str]) -> dict[str, Any]:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert child.wait(timeout=60) == 0, "a child failed (see its stderr)"
        word, _, rest = line.partition(" ")
        assert word == "result", line
        result: dict[str, Any] = json.loads(rest)
        return result

    def kill(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGCONT)
                child.kill()
                child.wait()


@pytest.fixture
def fleet(
    clock: FakeClock, aws_config: dict[str, Any], redis_url: str
) -> Iterator[Callable[..., Fleet]]:
    made: list[Fleet] = []

    def start(lease: float = 10.0) -> Fleet:
        env = dict(
            os.environ,
            PYTHONPATH=import_path(),
            FSM_TEST_CONFIG=json.dumps(aws_config),
            FSM_TEST_CLOCK_OFFSET=repr(clock.now - time.time()),
            FSM_TEST_REDIS_URL=redis_url,
            FSM_TEST_KEY=KEY.hex(),
            FSM_TEST_THREADS=str(THREADS),
            FSM_TEST_LEASE=repr(lease),
        )
        made.append(Fleet(PROCESSES, env))
        return made[-1]

    yield start
    for each in made:
        each.kill()


def check_all_working(results: list[dict[str, Any]]) -> set[str]:
    """Every client of every process served valid tokens, nobody signed out; the tokens."""
    for result in results:
        for client in result["clients"]:
            assert "error" not in client, client
            assert client["valid"] is True
            assert client["state"] == UserState.SIGNED_IN.value
        assert not SIGNED_OUT & set(result["states"]), result["states"]
    return {c["token"] for result in results for c in result["clients"]}


def saved_token(redis_url: str, aws_config: dict[str, Any], clock: FakeClock) -> str:
    """The access token (hashed) of the session saved in Redis, as a new client restores it."""
    client = AuthClient.from_config(aws_config, store=fleet_store(redis_url), clock=clock)
    try:
        assert client.initialize() == UserState.SIGNED_IN
        return digest(client.get_tokens().access_token)  # fresh: served as restored
    finally:
        client.close()


def test_4_processes_x_16_threads_refresh_once(
    signed_in: None, fleet: Callable[..., Fleet], emulator: Emulator
) -> None:
    processes = fleet()
    before = refreshes(emulator)
    for child in processes.children:
        processes.go(child)
    results = [processes.result(child) for child in processes.children]
    count = refreshes(emulator) - before
    tokens = check_all_working(results)
    print(
        f"\nfleet {PROCESSES} processes x {THREADS} threads, tokens expired: "
        f"{count} refresh request(s); {len(tokens)} distinct access token(s) served"
    )
    assert count == 1
    assert len(tokens) == 1
    assert all(r["warnings"] == [] for r in results), [r["warnings"] for r in results]


def test_a_process_stopped_holding_the_turn_cannot_overwrite_the_newer_session(
    signed_in: None,
    fleet: Callable[..., Fleet],
    emulator: Emulator,
    clock: FakeClock,
    aws_config: dict[str, Any],
    redis_url: str,
) -> None:
    """P takes the turn and sends its refresh (held by the emulator), then is SIGSTOPped.
    Its lease (1 s) runs out; another process takes the turn and refreshes; P resumes, gets
    its answer, and its write is refused by the fence: the newer session stays in Redis, P
    serves its own (valid) tokens, nobody is signed out."""
    processes = fleet(lease=1.0)
    stalled, *others = processes.children
    before = refreshes(emulator)
    held = emulator.faults.inject(Fault(operation="GetTokensFromRefreshToken", delay=3.0, times=1))
    processes.go(stalled)
    deadline = time.monotonic() + 30
    while held.hits == 0:  # P holds the turn and its refresh request has arrived
        assert time.monotonic() < deadline, "the first refresh never arrived"
        time.sleep(0.005)
    stalled.send_signal(signal.SIGSTOP)
    try:
        for child in others:
            processes.go(child)
        other_results = [processes.result(child) for child in others]
    finally:
        stalled.send_signal(signal.SIGCONT)
    stalled_result = processes.result(stalled)
    count = refreshes(emulator) - before

    others_tokens = check_all_working(other_results)
    stalled_tokens = check_all_working([stalled_result])
    refused = [w for w in stalled_result["warnings"] if "outlived its turn" in w]
    print(
        f"\nfleet with one process SIGSTOPped holding the turn: {count} refresh requests; "
        f"stalled process's writes refused by the fence: {len(refused)}"
    )
    assert count == 2  # P's, held and late, and the one that replaced it
    assert len(others_tokens) == 1
    assert len(refused) == 1, stalled_result["warnings"]
    # P's other clients adopted the newer session; the one that refreshed serves its own.
    assert others_tokens < stalled_tokens
    assert len(stalled_tokens) == 2
    assert saved_token(redis_url, aws_config, clock) in others_tokens


def test_redis_stopped_during_a_refresh_and_started_again(
    signed_in: None,
    emulator: Emulator,
    clock: FakeClock,
    aws_config: dict[str, Any],
    redis_server: RedisServer,
    redis_url: str,
) -> None:
    states: list[str] = []
    clients: list[AuthClient] = []

    def client() -> AuthClient:
        # A short lease: A's turn, which it could not release while Redis was down, is in
        # Redis's snapshot and holds the others up for what is left of its lease.
        store = fleet_store(redis_url, lease=1.0)
        made = AuthClient.from_config(aws_config, store=store, clock=clock)
        made.add_user_state_listener(lambda state, info: states.append(state.value))
        clients.append(made)
        return made

    a, b = client(), client()
    try:
        assert a.initialize() == UserState.SIGNED_IN
        assert b.initialize() == UserState.SIGNED_IN
        before = refreshes(emulator)
        held = emulator.faults.inject(
            Fault(operation="GetTokensFromRefreshToken", delay=1.0, times=1)
        )
        refreshed: list[str] = []
        thread = threading.Thread(target=lambda: refreshed.append(a.get_tokens().access_token))
        thread.start()
        deadline = time.monotonic() + 30
        while held.hits == 0:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        redis_server.stop()  # while A's refresh is at the service
        thread.join(30)
        # A's refresh completed; its save failed; it serves the new tokens from memory.
        assert len(refreshed) == 1
        assert a.get_tokens().access_token == refreshed[0]
        # B's tokens are expired: refreshing needs the store's turn: NetworkError, no change.
        with pytest.raises(NetworkError):
            b.get_tokens()
        assert b.current_user_state == UserState.SIGNED_IN
        # A new client cannot restore the session: NetworkError, not "signed out".
        c = client()
        with pytest.raises(NetworkError):
            c.initialize()
        assert c.current_user_state == UserState.UNKNOWN

        redis_server.start()  # with what it held (a Redis with persistence)
        b_tokens = b.get_tokens().access_token
        assert c.initialize() == UserState.SIGNED_IN
        assert c.get_tokens().access_token == b_tokens  # B's refresh, saved and restored
        assert a.get_tokens().access_token == refreshed[0]
        count = refreshes(emulator) - before
        print(f"\nRedis stopped during a refresh: {count} refresh requests (A's, then B's)")
        assert count == 2
        assert not SIGNED_OUT & set(states), states
    finally:
        for each in clients:
            each.close()


def test_a_sign_out_while_redis_is_down_says_the_store_still_holds_the_session(
    signed_in: None,
    aws_config: dict[str, Any],
    clock: FakeClock,
    redis_server: RedisServer,
    redis_url: str,
) -> None:
    def client() -> AuthClient:
        return AuthClient.from_config(aws_config, store=fleet_store(redis_url), clock=clock)

    with client() as a:
        assert a.initialize() == UserState.SIGNED_IN
        redis_server.stop()  # keeps what it held, as a Redis with persistence
        result = a.sign_out()
        # Signed out here, but not in the store: the result says so instead of a log line only.
        assert a.current_user_state == UserState.SIGNED_OUT
        assert not result.complete
        assert isinstance(result.store_error, SessionStoreUnavailableError)
        assert result.revoke_error is None  # the service was reachable: the token is revoked
        assert "store_error=" in repr(result)

        redis_server.start()
        with client() as b:  # what the store held: the session that was signed out
            assert b.initialize() == UserState.SIGNED_IN
        again = a.sign_out()  # with the store back, the signed-out state is saved
        assert again.complete
        assert again.store_error is None
        with client() as c:
            assert c.initialize() == UserState.SIGNED_OUT
