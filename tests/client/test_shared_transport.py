"""What is process-wide is built once and shared by every client (issue 10, item 2): the HTTP
connection pools (no client builds its own, nor loads a service model) and the pool's JWKS
(fetched once for every client of the pool); and clients built and signing in from many
threads at once all get their verified tokens."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import urllib3.connectionpool

from fsm_auth import AuthClient, MemorySessionStore, SignInState
from fsm_auth.emulator import Emulator, FakeClock, Provisioned

from .conftest import PASSWORD, sign_up_confirmed

CLIENTS = 5
THREADS = 12


@pytest.fixture
def built_pools(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The HTTP connection pools urllib3 builds during the test (whoever asks for them:
    botocore's clients build theirs on urllib3 too), by host:port."""
    built: list[str] = []
    original = urllib3.connectionpool.HTTPConnectionPool.__init__

    def counting(self: Any, host: str, port: int | None = None, *args: Any, **kw: Any) -> None:
        built.append(f"{host}:{port}")
        original(self, host, port, *args, **kw)

    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "__init__", counting)
    return built


@pytest.fixture
def model_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Service models botocore loads in the test's thread during the test (the emulator's
    server, moto, loads its own in its threads)."""
    import botocore.loaders

    loads: list[str] = []
    original = botocore.loaders.Loader.load_service_model
    test_thread = threading.current_thread()

    def counting(self: Any, service_name: str, *args: Any, **kw: Any) -> Any:
        if threading.current_thread() is test_thread:
            loads.append(service_name)
        return original(self, service_name, *args, **kw)

    monkeypatch.setattr(botocore.loaders.Loader, "load_service_model", counting)
    return loads


def _client(config: dict[str, Any], clock: FakeClock) -> AuthClient:
    return AuthClient.from_config(config, clock=clock, store=MemorySessionStore())


def test_clients_share_the_http_pool_and_the_jwks(
    emulator: Emulator,
    pool: Provisioned,
    clock: FakeClock,
    make_client: Callable[..., AuthClient],
    built_pools: list[str],
    model_loads: list[str],
) -> None:
    sign_up_confirmed(make_client(identity_pool=False), emulator, "shared")
    config = pool.aws_configuration()
    config.pop("CredentialsProvider", None)
    built_pools.clear()
    emulator.reset_requests()
    for _ in range(CLIENTS):
        with _client(config, clock) as client:
            assert client.sign_in("shared", PASSWORD).state is SignInState.DONE
            assert client.get_tokens().username == "shared"
    assert emulator.count("InitiateAuth") == CLIENTS
    # The HTTP pool for the emulator's host was built by the sign-up's first call: no client
    # builds another, nor loads a service model; the first sign-in's JWKS serves the rest.
    # (The one JWKS fetch is a plain ``requests.get``, which builds a pool of its own.)
    assert model_loads == []
    assert len(built_pools) <= emulator.count("GetJwks") == 1


def test_many_clients_sign_in_from_threads_at_once(
    emulator: Emulator,
    pool: Provisioned,
    clock: FakeClock,
    make_client: Callable[..., AuthClient],
    built_pools: list[str],
) -> None:
    users = [f"user{i}" for i in range(THREADS)]
    sign_up = make_client(identity_pool=False)
    for user in users:
        sign_up_confirmed(sign_up, emulator, user)
    config = pool.aws_configuration()
    config.pop("CredentialsProvider", None)
    built_pools.clear()
    emulator.reset_requests()
    start = threading.Barrier(THREADS)
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def sign_in(user: str) -> None:
        try:
            start.wait(timeout=30)
            with _client(config, clock) as client:  # built in the thread, all at once
                client.sign_in(user, PASSWORD)
                tokens = client.get_tokens()
                results[user] = str(tokens.id_claims["cognito:username"])
        except BaseException as exc:  # reported below, with the user
            errors.append(exc)

    threads = [threading.Thread(target=sign_in, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert results == {user: user for user in users}
    assert emulator.count("GetJwks") == 1
    # Concurrent calls may open more connections, never another pool for the same host
    # (but for the one JWKS fetch's own, as above).
    assert len(built_pools) <= 1
