"""Cancelling an ``AsyncAuthClient`` call at each network step changes nothing.

The emulator holds one request (``HELD`` seconds); the task awaiting it is cancelled once the
request has reached the emulator. A sign-in step abandons its attempt: the late answer is
discarded (tokens that arrive late are revoked), the state stays what it was and a new
sign-in works. A refresh or a credentials fetch is one flight shared by every task asking:
the cancelled waiter leaves it running, the others get its result, and later calls are served
from the cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from async_kit import (
    HELD,
    PASSWORD,
    eventually,
    hold,
    make_async,
    reached,
    sign_up_confirmed,
    state_of,
)

from fsm_auth import MemorySessionStore, NotSignedInError, SignInState, UserState
from fsm_auth.emulator import Emulator, FakeClock

pytestmark = pytest.mark.timeout(60)


async def cancelled(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and check that it raised CancelledError (promptly)."""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2.0)
    assert task.cancelled()


@pytest.mark.parametrize("operation", ["InitiateAuth", "RespondToAuthChallenge"])
def test_a_cancelled_sign_in_changes_nothing_and_its_late_answer_is_discarded(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any], operation: str
) -> None:
    heard: list[UserState] = []

    def listener(state: UserState, info: Mapping[str, str]) -> None:
        heard.append(state)

    async def main() -> None:
        store = MemorySessionStore()
        async with make_async(aws_config, clock, store=store, identity_pool=False) as client:
            await sign_up_confirmed(client, emulator, "ann")
            assert await client.initialize() is UserState.SIGNED_OUT
            client.add_user_state_listener(listener)
            emulator.reset_requests()

            held = hold(emulator, operation)
            signing_in = asyncio.create_task(client.sign_in("ann", PASSWORD))
            await reached(held)
            assert not signing_in.done()
            await cancelled(signing_in)

            # What it was before the call.
            assert client.current_user_state is UserState.SIGNED_OUT
            assert client.username is None
            with pytest.raises(NotSignedInError):
                await client.get_tokens(wait=False)

            # The held answer arrives after the cancellation: discarded.
            if operation == "RespondToAuthChallenge":
                # Tokens were issued for an abandoned attempt: revoked.
                assert await eventually(lambda: emulator.count("RevokeToken") == 1)
            else:
                assert await eventually(lambda: emulator.count("InitiateAuth") == 1)
            await asyncio.sleep(HELD / 2)  # the worker has long finished with the answer
            assert client.current_user_state is UserState.SIGNED_OUT
            assert client.is_signed_in is False
            assert client.username is None
            with pytest.raises(NotSignedInError):
                await client.get_tokens(wait=False)
            expected = ["InitiateAuth"]
            if operation == "RespondToAuthChallenge":
                expected += ["RespondToAuthChallenge", "RevokeToken"]
            # Nothing more was asked for an abandoned attempt (no password proof after a late
            # InitiateAuth answer).
            # (GetJwks: the key that verifies the late tokens before they are revoked.)
            assert [r.operation for r in emulator.requests if r.operation != "GetJwks"] == (
                expected
            )
            saved = store.scoped(client.config.config_key).load()
            assert saved is None or saved["user"] is None
            assert heard == []  # nobody was told of a sign-in

            # A new sign-in simply works.
            result = await client.sign_in("ann", PASSWORD)
            assert result.state is SignInState.DONE
            assert state_of(client) is UserState.SIGNED_IN
            assert (await client.get_tokens(wait=False)).username == "ann"
            await asyncio.sleep(0.02)
            assert heard == [UserState.SIGNED_IN]

    asyncio.run(main())


def test_a_cancelled_challenge_answer_abandons_the_sign_in(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    async def main() -> None:
        async with make_async(aws_config, clock, identity_pool=False) as client:
            await sign_up_confirmed(client, emulator, "bob")
            challenged = await client.sign_in("bob", auth_flow="CUSTOM_AUTH")
            assert challenged.state is SignInState.CUSTOM_CHALLENGE
            emulator.reset_requests()

            held = hold(emulator, "RespondToAuthChallenge")
            answering = asyncio.create_task(
                client.confirm_sign_in(emulator.last_code("bob", "custom_challenge"))
            )
            await reached(held)
            await cancelled(answering)
            assert client.current_user_state is UserState.SIGNED_OUT

            assert await eventually(lambda: emulator.count("RevokeToken") == 1)
            await asyncio.sleep(HELD / 2)
            assert client.current_user_state is UserState.SIGNED_OUT
            assert client.username is None
            with pytest.raises(Exception, match="pending sign-in challenge"):
                await client.confirm_sign_in("123456")  # the challenge went with the attempt

            assert (await client.sign_in("bob", PASSWORD)).state is SignInState.DONE
            assert state_of(client) is UserState.SIGNED_IN

    asyncio.run(main())


def test_a_cancelled_refresh_waiter_leaves_the_flight_to_the_others(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    async def main() -> None:
        async with make_async(aws_config, clock, identity_pool=False) as client:
            await sign_up_confirmed(client, emulator, "cy")
            await client.sign_in("cy", PASSWORD)
            old = await client.get_tokens()
            clock.advance(3700)
            emulator.reset_requests()

            held = hold(emulator, "GetTokensFromRefreshToken")
            first = asyncio.create_task(client.get_tokens())
            second = asyncio.create_task(client.get_tokens())
            await reached(held)
            await cancelled(first)
            assert client.current_user_state is UserState.SIGNED_IN
            assert not second.done()  # still waiting for the same flight
            third = asyncio.create_task(client.get_tokens())  # joins the running flight

            new = await asyncio.wait_for(second, HELD + 5)
            assert new.access_token != old.access_token
            assert new.username == "cy"
            assert (await asyncio.wait_for(third, 5)).access_token == new.access_token
            assert emulator.count("GetTokensFromRefreshToken") == 1

            # Later calls: from the cache, no new request.
            for _ in range(3):
                assert (await client.get_tokens()).access_token == new.access_token
            assert (await client.get_tokens(wait=False)).access_token == new.access_token
            assert [r.operation for r in emulator.requests] == ["GetTokensFromRefreshToken"]
            assert client.current_user_state is UserState.SIGNED_IN

    asyncio.run(main())


def test_a_refresh_whose_only_waiter_is_cancelled_still_lands_in_the_cache(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    async def main() -> None:
        async with make_async(aws_config, clock, identity_pool=False) as client:
            await sign_up_confirmed(client, emulator, "dan")
            await client.sign_in("dan", PASSWORD)
            old = await client.get_tokens()
            clock.advance(3700)
            emulator.reset_requests()

            held = hold(emulator, "GetTokensFromRefreshToken")
            only = asyncio.create_task(client.get_tokens())
            await reached(held)
            await cancelled(only)
            assert client.current_user_state is UserState.SIGNED_IN

            await asyncio.sleep(HELD + 0.3)  # the flight lands with nobody waiting
            emulator.reset_requests()
            later = await client.get_tokens()
            assert later.access_token != old.access_token
            assert later.username == "dan"
            assert emulator.requests == []  # the cancelled call's refresh served it

    asyncio.run(main())


def test_a_cancelled_credentials_waiter_leaves_the_flight_to_the_others(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    async def main() -> None:
        async with make_async(aws_config, clock) as client:
            await sign_up_confirmed(client, emulator, "eve")
            await client.sign_in("eve", PASSWORD)
            old = await client.get_aws_credentials()
            identity_id = await client.get_identity_id()
            clock.advance(3700)
            await client.get_tokens()  # the tokens refreshed first: only credentials are due
            emulator.reset_requests()

            held = hold(emulator, "GetCredentialsForIdentity")
            first = asyncio.create_task(client.get_aws_credentials())
            second = asyncio.create_task(client.get_aws_credentials())
            await reached(held)
            await cancelled(first)
            assert client.current_user_state is UserState.SIGNED_IN
            assert not second.done()
            third = asyncio.create_task(client.get_aws_credentials())

            new = await asyncio.wait_for(second, HELD + 5)
            assert new.access_key_id != old.access_key_id
            assert new.expiration.timestamp() > clock() + 3000
            assert (await asyncio.wait_for(third, 5)).access_key_id == new.access_key_id
            assert emulator.count("GetCredentialsForIdentity") == 1

            for _ in range(3):
                assert (await client.get_aws_credentials()).access_key_id == new.access_key_id
            assert await client.get_identity_id() == identity_id
            assert [r.operation for r in emulator.requests] == ["GetCredentialsForIdentity"]
            assert client.current_user_state is UserState.SIGNED_IN

    asyncio.run(main())
