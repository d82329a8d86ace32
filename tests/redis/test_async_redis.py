"""AsyncAuthClient with the Redis store: the store's commands go out on the event loop through
redis-py's asyncio client, the single flight still holds across tasks, the synchronous client
reads what the asyncio one saved, and a Redis that is down is a NetworkError for a call that
needs the store while cached tokens are still served."""

from __future__ import annotations

import asyncio
from typing import Any

from auth_testkit import confirmed_user
from redis_helpers import KEY, RedisServer

from fsm_auth import AsyncAuthClient, AuthClient, NetworkError, RedisSessionStore, UserState
from fsm_auth.emulator import Emulator, FakeClock, Provisioned

PASSWORD = "Correct-Horse-9!"


def test_the_store_runs_on_the_loop_and_the_flight_holds(
    redis_url: str, emulator: Emulator, pool: Provisioned, clock: FakeClock
) -> None:
    user = confirmed_user(emulator, pool, "ann", PASSWORD)
    store = RedisSessionStore(redis_url, key=KEY)
    config = pool.aws_configuration()

    async def life() -> tuple[dict[Any, Any], set[str]]:
        async with AsyncAuthClient.from_config(config, store=store, clock=clock) as client:
            await client.initialize()
            await client.sign_in(user, PASSWORD)
            # The sign-in's save went through the asyncio client opened for this loop.
            on_loop = dict(store._on_loops)
            clock.advance(3700)
            emulator.reset_requests()
            tokens = await asyncio.gather(*(client.get_tokens() for _ in range(50)))
        return on_loop, {t.access_token for t in tokens}

    on_loop, access_tokens = asyncio.run(life())

    assert list(on_loop) != []
    assert store._on_loops == {}  # closed with the client
    assert len(access_tokens) == 1
    assert emulator.count("GetTokensFromRefreshToken") == 1
    # The synchronous client restores the session the asyncio one saved (and refreshed).
    restored = AuthClient.from_config(
        config, store=RedisSessionStore(redis_url, key=KEY), clock=clock
    )
    assert restored.initialize() is UserState.SIGNED_IN
    assert restored.get_tokens(wait=False).access_token in access_tokens
    restored.close()


def test_redis_down_keeps_cached_tokens_and_says_network_error(
    redis_url: str,
    redis_server: RedisServer,
    emulator: Emulator,
    pool: Provisioned,
    clock: FakeClock,
) -> None:
    user = confirmed_user(emulator, pool, "bob", PASSWORD)
    config = pool.aws_configuration()

    async def life() -> tuple[str, type[BaseException] | None]:
        store = RedisSessionStore(redis_url, key=KEY)
        async with AsyncAuthClient.from_config(config, store=store, clock=clock) as client:
            await client.initialize()
            await client.sign_in(user, PASSWORD)
            redis_server.stop()
            cached = (await client.get_tokens()).username
            clock.advance(3700)  # a refresh now needs the store's lock
            try:
                await client.get_tokens(wait=False)
            except NetworkError as exc:
                return cached, type(exc)
            return cached, None

    cached, refused = asyncio.run(life())

    assert cached == user
    assert refused is not None
    assert issubclass(refused, NetworkError)
