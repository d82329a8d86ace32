"""A thousand tasks asking at once: one refresh, one credentials fetch, and a loop that keeps
running (its lag measured while a sign-in and the thousand-task refresh run)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from async_kit import PASSWORD, LagMonitor, make_async, sign_up_confirmed

from fsm_auth import SignInState, UserState
from fsm_auth.emulator import Emulator, FakeClock

pytestmark = pytest.mark.timeout(60)

TASKS = 1000
STALL = 1.0  # seconds without a heartbeat: the loop was blocked, not merely busy


def test_a_thousand_tasks_after_expiry_share_one_refresh(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    async def main() -> None:
        async with make_async(aws_config, clock, identity_pool=False) as client:
            await sign_up_confirmed(client, emulator, "ann")
            await client.sign_in("ann", PASSWORD)
            old = await client.get_tokens()
            clock.advance(3700)  # the access and ID tokens (one hour) have expired
            emulator.reset_requests()

            results = await asyncio.gather(*(client.get_tokens() for _ in range(TASKS)))

            assert emulator.count("GetTokensFromRefreshToken") == 1
            assert len(emulator.requests) == 1
            assert len(results) == TASKS
            assert {t.access_token for t in results} == {results[0].access_token}
            assert {t.id_token for t in results} == {results[0].id_token}
            new = results[0]
            assert new.access_token != old.access_token
            assert new.username == "ann"
            assert new.expiration.timestamp() > clock() + 3000
            assert client.current_user_state is UserState.SIGNED_IN

            # And now a thousand more are answered from the cache, with no request.
            emulator.reset_requests()
            cached = await asyncio.gather(*(client.get_tokens() for _ in range(TASKS)))
            assert {t.access_token for t in cached} == {new.access_token}
            assert emulator.requests == []

    asyncio.run(main())


def test_a_thousand_tasks_after_credentials_expire_share_one_fetch(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    async def main() -> None:
        async with make_async(aws_config, clock) as client:
            await sign_up_confirmed(client, emulator, "bob")
            await client.sign_in("bob", PASSWORD)
            old = await client.get_aws_credentials()
            clock.advance(3700)  # the credentials (one hour) have expired, and the tokens
            emulator.reset_requests()

            results = await asyncio.gather(*(client.get_aws_credentials() for _ in range(TASKS)))

            assert emulator.count("GetCredentialsForIdentity") == 1
            assert emulator.count("GetTokensFromRefreshToken") == 1  # its login, refreshed
            assert emulator.count("GetId") == 0  # the identity id is kept
            assert len(emulator.requests) == 2
            assert {c.access_key_id for c in results} == {results[0].access_key_id}
            assert {c.session_token for c in results} == {results[0].session_token}
            assert results[0].access_key_id != old.access_key_id
            assert results[0].expiration.timestamp() > clock() + 3000

            emulator.reset_requests()
            cached = await asyncio.gather(*(client.get_aws_credentials() for _ in range(100)))
            assert {c.access_key_id for c in cached} == {results[0].access_key_id}
            assert emulator.requests == []

    asyncio.run(main())


def test_the_loop_keeps_running_during_a_sign_in_and_a_thousand_task_refresh(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    async def main() -> tuple[float, float]:
        async with make_async(aws_config, clock, identity_pool=False) as client:
            await sign_up_confirmed(client, emulator, "cy")

            # A full collection first: the test process's heap (the emulator, moto, pytest) is
            # large, and a generation-2 collection of it (~80 ms here, on whichever thread
            # triggers it) landing in the window measures that heap, not the client.
            gc.collect()
            async with LagMonitor() as during_sign_in:
                result = await client.sign_in("cy", PASSWORD)
                await asyncio.sleep(0.02)
            assert result.state is SignInState.DONE
            # The monitor ran all along (SRP's arithmetic was not on the loop).
            assert len(during_sign_in.lags) >= 5

            old = await client.get_tokens()
            clock.advance(3700)
            emulator.reset_requests()
            gc.collect()
            async with LagMonitor() as during_refresh:
                results = await asyncio.gather(*(client.get_tokens() for _ in range(TASKS)))
                await asyncio.sleep(0.02)
            assert emulator.count("GetTokensFromRefreshToken") == 1
            assert {t.access_token for t in results} == {results[0].access_token}
            assert results[0].access_token != old.access_token
            assert len(during_refresh.lags) >= 3
            return during_sign_in.max_lag, during_refresh.max_lag

    sign_in_lag, refresh_lag = asyncio.run(main())
    # The loop ran throughout (the heartbeats above); how late it ran is a timing figure,
    # which depends on the machine's load: benchmarks/async_loop_lag.py measures it against
    # the 50 ms bound (the project checks speed by benchmarks, not timed tests).
    # Here only a stall that no load explains fails: the loop stopped for a whole second.
    assert sign_in_lag < STALL
    assert refresh_lag < STALL
