"""A cancelled federated sign-in changes nothing, even when the identity pool's answer comes
after the cancellation (the worker goes on, but does not commit)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from fsm_auth import AsyncAuthClient, IdentityProvider, MemorySessionStore, UserState
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned


def test_a_cancelled_federated_sign_in_is_not_committed(
    emulator: Emulator, pool: Provisioned, clock: FakeClock
) -> None:
    config = pool.aws_configuration()

    async def life() -> tuple[UserState, UserState, int]:
        async with AsyncAuthClient.from_config(
            config, store=MemorySessionStore(), clock=clock
        ) as client:
            before = await client.initialize()
            held = emulator.faults.inject(
                Fault(operation="GetCredentialsForIdentity", delay=0.5, times=1)
            )
            task = asyncio.ensure_future(
                client.federated_sign_in(IdentityProvider.GOOGLE, "google-token-1")
            )
            deadline = time.monotonic() + 10
            while held.hits == 0:
                assert time.monotonic() < deadline, "the held request never arrived"
                await asyncio.sleep(0.005)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.sleep(1.0)  # the held answer arrives meanwhile
            answered = emulator.count("GetCredentialsForIdentity")
            return before, client.current_user_state, answered

    before, after, answered = asyncio.run(life())

    assert answered >= 1  # the pool did answer, after the cancellation
    assert after is before
    assert after is not UserState.SIGNED_IN
