"""``AsyncAuthClient`` against the emulator: every operation group as a coroutine, plain
properties, listeners on the loop, closing, one loop per client, a session shared with the
synchronous ``AuthClient`` through the store, and boto3 with the client's credentials."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from async_kit import PASSWORD, InThread, make_async, sign_up_confirmed, state_of

from fsm_auth import (
    AsyncAuthClient,
    AuthClient,
    ClientClosedError,
    FileSessionStore,
    MemorySessionStore,
    NotSignedInError,
    SignInState,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock

pytestmark = pytest.mark.timeout(60)


def test_every_operation_group_through_the_asyncio_client(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    async def main() -> None:
        async with make_async(aws_config, clock) as client:
            assert await client.initialize() is UserState.SIGNED_OUT
            # Properties stay plain values (no coroutine to await).
            assert client.current_user_state is UserState.SIGNED_OUT
            assert client.is_signed_in is False
            assert client.username is None

            # Sign-up and its confirmation.
            signed_up = await client.sign_up(
                "ann", PASSWORD, attributes={"email": "ann@example.com"}
            )
            assert signed_up.confirmed is False
            assert signed_up.user_sub
            assert signed_up.code_delivery is not None
            assert signed_up.code_delivery.delivery_medium == "EMAIL"
            confirmed = await client.confirm_sign_up("ann", emulator.last_code("ann", "sign_up"))
            assert confirmed.confirmed is True
            assert confirmed.signed_in is False
            assert client.current_user_state is UserState.SIGNED_OUT

            # Sign-in by SRP.
            emulator.reset_requests()
            result = await client.sign_in("ann", PASSWORD)
            assert result.state is SignInState.DONE
            assert emulator.count("InitiateAuth") == 1
            assert emulator.count("RespondToAuthChallenge") == 1
            assert state_of(client) is UserState.SIGNED_IN
            assert client.is_signed_in is True
            assert client.username == "ann"

            # Tokens: the signed-in user's; cached ones answered with no request.
            tokens = await client.get_tokens()
            assert tokens.username == "ann"
            assert tokens.id_claims["email"] == "ann@example.com"
            emulator.reset_requests()
            assert (await client.get_tokens()).access_token == tokens.access_token
            assert (await client.get_tokens(wait=False)).access_token == tokens.access_token
            assert emulator.requests == []
            refreshed = await client.get_tokens(force_refresh=True)
            assert refreshed.access_token != tokens.access_token
            assert refreshed.username == "ann"
            assert emulator.count("GetTokensFromRefreshToken") == 1

            # Identity pool: the identity id and the authenticated role's credentials.
            identity_id = await client.get_identity_id()
            region = aws_config["CredentialsProvider"]["CognitoIdentity"]["Default"]["Region"]
            assert identity_id.startswith(f"{region}:")
            credentials = await client.get_aws_credentials()
            assert credentials.access_key_id
            assert credentials.secret_access_key
            assert credentials.session_token
            assert credentials.expiration.timestamp() > clock()
            assert await client.get_identity_id() == identity_id
            emulator.reset_requests()
            again = await client.get_aws_credentials()
            assert again.access_key_id == credentials.access_key_id
            assert emulator.requests == []  # cached

            # Attributes.
            attributes = await client.get_user_attributes()
            assert attributes["email"] == "ann@example.com"
            assert attributes["email_verified"] == "true"
            await client.update_user_attributes({"name": "Ann Example"})
            assert (await client.get_user_attributes())["name"] == "Ann Example"

            # Sign-out.
            signed_out = await client.sign_out()
            assert signed_out.complete is True
            assert client.current_user_state is UserState.SIGNED_OUT
            assert client.is_signed_in is False
            assert client.username is None
            with pytest.raises(NotSignedInError):
                await client.get_tokens(wait=False)

            # A challenge: CUSTOM_AUTH's code sent by e-mail, answered with confirm_sign_in.
            challenged = await client.sign_in("ann", auth_flow="CUSTOM_AUTH")
            assert challenged.state is SignInState.CUSTOM_CHALLENGE
            assert client.is_signed_in is False
            answered = await client.confirm_sign_in(emulator.last_code("ann", "custom_challenge"))
            assert answered.state is SignInState.DONE
            assert client.current_user_state is UserState.SIGNED_IN
            assert (await client.get_tokens()).username == "ann"

        # `async with` closed it: the state stays readable, every operation is refused.
        assert client.current_user_state is UserState.SIGNED_IN
        assert client.username == "ann"
        with pytest.raises(ClientClosedError):
            await client.get_tokens()

    asyncio.run(main())


def test_every_operation_is_a_coroutine_function_and_properties_are_plain() -> None:
    """Every public member of AuthClient is on AsyncAuthClient: each operation a coroutine
    function with AuthClient's docstring (where it is AuthClient's own, run in a worker),
    the properties and listener registration plain, from_config a classmethod."""
    plain = {"add_user_state_listener", "remove_user_state_listener"}
    own = {"get_tokens", "get_aws_credentials", "release_sign_in_wait", "close"}
    operations = []
    for name, member in inspect.getmembers(AuthClient):
        if name.startswith("_"):
            continue
        mine = inspect.getattr_static(AsyncAuthClient, name, None)
        assert mine is not None, f"AsyncAuthClient has no {name}"
        if isinstance(inspect.getattr_static(AuthClient, name), property):
            assert isinstance(mine, property), name
        elif name == "from_config":
            assert isinstance(mine, classmethod), name
        elif name in plain:
            assert not inspect.iscoroutinefunction(getattr(AsyncAuthClient, name)), name
        else:
            operations.append(name)
            assert inspect.iscoroutinefunction(getattr(AsyncAuthClient, name)), name
            if name not in own:
                assert getattr(AsyncAuthClient, name).__doc__ == member.__doc__, name
    assert {"sign_in", "show_sign_in", "federated_sign_in", "remember_device"} <= set(operations)


def test_plain_and_coroutine_listeners_get_every_change_in_order_on_the_loop(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    plain: list[tuple[UserState, dict[str, str], int]] = []
    awaited: list[tuple[UserState, dict[str, str], int]] = []

    def plain_listener(state: UserState, info: Mapping[str, str]) -> None:
        plain.append((state, dict(info), threading.get_ident()))

    async def coroutine_listener(state: UserState, info: Mapping[str, str]) -> None:
        awaited.append((state, dict(info), threading.get_ident()))
        await asyncio.sleep(0)

    async def main() -> tuple[int, list[UserState]]:
        loop_thread = threading.get_ident()
        async with make_async(aws_config, clock, identity_pool=False) as client:
            await sign_up_confirmed(client, emulator, "bea")
            await client.initialize()
            client.add_user_state_listener(plain_listener)
            unsubscribe = client.add_user_state_listener(coroutine_listener)
            seen: list[UserState] = []
            for _ in range(3):
                await client.sign_in("bea", PASSWORD)
                seen.append(client.current_user_state)
                await client.sign_out()
                seen.append(client.current_user_state)
            for _ in range(50):  # the coroutine listener's tasks run soon after
                if len(awaited) >= len(seen):
                    break
                await asyncio.sleep(0.01)
            unsubscribe()
            await client.sign_in("bea", PASSWORD)  # heard only by the plain listener
            seen.append(client.current_user_state)
            await asyncio.sleep(0.05)
        return loop_thread, seen

    loop_thread, seen = asyncio.run(main())
    expected = [UserState.SIGNED_IN, UserState.SIGNED_OUT] * 3
    assert seen == [*expected, UserState.SIGNED_IN]
    assert [state for state, _, _ in plain] == [*expected, UserState.SIGNED_IN]
    assert [state for state, _, _ in awaited] == expected
    assert [info for _, info, _ in awaited] == [info for _, info, _ in plain[:-1]]
    assert {thread for _, _, thread in plain} == {loop_thread}
    assert {thread for _, _, thread in awaited} == {loop_thread}


def test_a_closed_client_refuses_every_operation(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    async def main() -> None:
        client = make_async(aws_config, clock)
        await sign_up_confirmed(client, emulator, "cy")
        await client.sign_in("cy", PASSWORD)
        await client.close()
        await client.close()  # idempotent
        assert client.current_user_state is UserState.SIGNED_IN  # the state stays readable
        assert client.username == "cy"
        emulator.reset_requests()
        for call in (
            client.initialize(),
            client.sign_in("cy", PASSWORD),
            client.get_tokens(),
            client.get_tokens(force_refresh=True),
            client.get_aws_credentials(),
            client.get_identity_id(),
            client.get_user_attributes(),
            client.sign_out(),
        ):
            with pytest.raises(ClientClosedError):
                await call
        with pytest.raises(ClientClosedError):
            client.add_user_state_listener(lambda state, info: None)
        assert emulator.requests == []

    asyncio.run(main())


def test_a_client_used_on_a_second_event_loop_raises_runtime_error(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    client = make_async(aws_config, clock, identity_pool=False)

    async def first() -> str:
        await sign_up_confirmed(client, emulator, "dee")
        await client.sign_in("dee", PASSWORD)
        return (await client.get_tokens()).access_token

    async def second() -> None:
        with pytest.raises(RuntimeError, match="another event loop"):
            await client.get_tokens()
        with pytest.raises(RuntimeError, match="another event loop"):
            await client.sign_out()
        with pytest.raises(RuntimeError, match="another event loop"):
            client.add_user_state_listener(lambda state, info: None)

    loop = asyncio.new_event_loop()  # (asyncio.Runner is 3.11+; the project supports 3.10)
    try:
        access_token = loop.run_until_complete(first())
        asyncio.run(second())
        # The first loop still drives it, unchanged.
        assert client.current_user_state is UserState.SIGNED_IN
        assert loop.run_until_complete(client.get_tokens()).access_token == access_token
        loop.run_until_complete(client.close())
    finally:
        loop.close()


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_sync_and_async_clients_restore_each_others_sessions(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any], tmp_path: Path, kind: str
) -> None:
    shared = MemorySessionStore()

    def store() -> Any:
        # The memory store is one object shared by both; the file store is rebuilt on the same
        # directory each time, as another process would.
        return shared if kind == "memory" else FileSessionStore(tmp_path, use_keyring=False)

    async def async_signs_in() -> tuple[str, str]:
        async with make_async(aws_config, clock, store=store()) as client:
            await sign_up_confirmed(client, emulator, "eve")
            await client.sign_in("eve", PASSWORD)
            return (await client.get_tokens()).access_token, await client.get_identity_id()

    access_token, identity_id = asyncio.run(async_signs_in())

    emulator.reset_requests()
    with AuthClient.from_config(aws_config, store=store(), clock=clock) as sync:
        assert sync.initialize() is UserState.SIGNED_IN
        assert sync.username == "eve"
        assert sync.get_tokens(wait=False).access_token == access_token
        assert sync.get_identity_id() == identity_id
        assert emulator.requests == []  # restored, not signed in again
        # The other way round: the sync client signs another user in, the async one restores.
        sync.sign_out()
        sync.sign_up("fay", PASSWORD, attributes={"email": "fay@example.com"})
        sync.confirm_sign_up("fay", emulator.last_code("fay", "sign_up"))
        sync.sign_in("fay", PASSWORD)
        fay_token = sync.get_tokens().access_token

    async def async_restores() -> None:
        emulator.reset_requests()
        async with make_async(aws_config, clock, store=store()) as client:
            assert await client.initialize() is UserState.SIGNED_IN
            assert client.username == "fay"
            assert (await client.get_tokens()).access_token == fay_token
            assert emulator.requests == []

    asyncio.run(async_restores())


def test_boto3_with_the_clients_credentials_from_async_code(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    bucket = aws_config["S3TransferUtility"]["Default"]["Bucket"]
    assert bucket == "fsm-auth-demo"

    async def main() -> None:
        async with make_async(aws_config, clock) as client:
            await sign_up_confirmed(client, emulator, "gil")
            await client.sign_in("gil", PASSWORD)
            credentials = await client.get_aws_credentials()
            session = await client.boto3_session()
            s3 = session.client("s3", endpoint_url=emulator.url)

            listed = await asyncio.to_thread(s3.list_objects_v2, Bucket=bucket)
            assert listed["ResponseMetadata"]["HTTPStatusCode"] == 200
            assert listed["Name"] == bucket
            frozen = await asyncio.to_thread(
                lambda: session.get_credentials().get_frozen_credentials()
            )
            assert frozen.access_key == credentials.access_key_id
            assert frozen.token == credentials.session_token

            # Credentials that must be fetched, asked for on the loop's own thread: the clear
            # error of LoopTransport, at once, not a loop waiting for itself.
            clock.advance(3700)
            emulator.reset_requests()
            with pytest.raises(RuntimeError, match="event loop's own thread"):
                session.get_credentials().get_frozen_credentials()
            assert emulator.requests == []
            assert client.current_user_state is UserState.SIGNED_IN

            # From a thread, the same session fetches new credentials and the call goes out.
            listed = await asyncio.to_thread(s3.list_objects_v2, Bucket=bucket)
            assert listed["Name"] == bucket
            assert emulator.count("GetTokensFromRefreshToken") == 1
            assert emulator.count("GetCredentialsForIdentity") == 1
            renewed = await client.get_aws_credentials()
            assert renewed.access_key_id != credentials.access_key_id
            frozen = await asyncio.to_thread(
                lambda: session.get_credentials().get_frozen_credentials()
            )
            assert frozen.access_key == renewed.access_key_id

    # The guard: a call that hung would keep the loop (and this thread) forever.
    running = InThread(lambda: asyncio.run(main()))
    running.start()
    running.join(20)
    assert not running.is_alive(), "boto3's refresh on the loop's thread hung"
    if running.error is not None:
        raise running.error


def test_the_sync_client_stops_calling_a_listener_added_twice_once_removed(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    # The contract the asyncio client's listeners should follow (next test).
    heard: list[UserState] = []

    def listener(state: UserState, info: Mapping[str, str]) -> None:
        heard.append(state)

    with AuthClient.from_config(aws_config, store=MemorySessionStore(), clock=clock) as client:
        client.sign_up("hal", PASSWORD, attributes={"email": "hal@example.com"})
        client.confirm_sign_up("hal", emulator.last_code("hal", "sign_up"))
        client.initialize()
        client.add_user_state_listener(listener)
        client.add_user_state_listener(listener)
        client.sign_in("hal", PASSWORD)
        assert set(heard) == {UserState.SIGNED_IN}
        heard.clear()
        client.remove_user_state_listener(listener)
        client.sign_out()
        assert heard == []


def test_a_listener_added_twice_is_called_twice_and_removed_by_either_way(
    emulator: Emulator, clock: FakeClock, aws_config: dict[str, Any]
) -> None:
    """As AuthClient's: each registration is called; its unsubscribe ends that one, and
    remove_user_state_listener ends every registration of the callback."""
    heard: list[UserState] = []

    def listener(state: UserState, info: Mapping[str, str]) -> None:
        heard.append(state)

    async def main() -> None:
        async with make_async(aws_config, clock, identity_pool=False) as client:
            await sign_up_confirmed(client, emulator, "ida")
            await client.initialize()
            first = client.add_user_state_listener(listener)
            client.add_user_state_listener(listener)
            await client.sign_in("ida", PASSWORD)
            await asyncio.sleep(0.02)
            assert heard == [UserState.SIGNED_IN, UserState.SIGNED_IN]
            heard.clear()
            first()
            await client.sign_out()
            await asyncio.sleep(0.02)
            assert heard == [UserState.SIGNED_OUT]
            heard.clear()
            client.add_user_state_listener(listener)
            client.remove_user_state_listener(listener)
            await client.sign_in("ida", PASSWORD)
            await client.sign_out()
            await asyncio.sleep(0.05)
            assert heard == []

    asyncio.run(main())
