"""User-state listeners: once per real change, in order, outside the client's locks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from fsm_auth import AuthClient, SignInState, Tokens, UnableToSignInError, UserState
from fsm_auth.emulator import Emulator, Provisioned
from fsm_auth.session import MemorySessionStore

from .conftest import PASSWORD, sign_up_confirmed

Calls = list[tuple[UserState, dict[str, str]]]


def _recorder() -> tuple[Calls, Callable[[UserState, Mapping[str, str]], None]]:
    calls: Calls = []

    def listener(state: UserState, info: Mapping[str, str]) -> None:
        calls.append((state, dict(info)))

    return calls, listener


def test_one_call_per_real_change_in_order(client: AuthClient, emulator: Emulator) -> None:
    calls, listener = _recorder()
    client.add_user_state_listener(listener)
    assert client.current_user_state is UserState.UNKNOWN
    client.initialize()
    client.initialize()  # idempotent: no second event
    sign_up_confirmed(client, emulator, "alice")
    client.sign_in("alice", PASSWORD)
    client.sign_in("alice", PASSWORD)  # signedIn -> signedIn is not a change
    client.sign_out()
    client.sign_out()  # signedOut -> signedOut is not a change
    assert [state for state, _ in calls] == [
        UserState.SIGNED_OUT,
        UserState.SIGNED_IN,
        UserState.SIGNED_OUT,
    ]
    assert all(info.get("username") in (None, "alice") for _, info in calls)


def test_unsubscribe(client: AuthClient, emulator: Emulator) -> None:
    first, listener1 = _recorder()
    second, listener2 = _recorder()
    unsubscribe = client.add_user_state_listener(listener1)
    client.add_user_state_listener(listener2)
    client.initialize()
    unsubscribe()
    sign_up_confirmed(client, emulator, "alice")
    client.sign_in("alice", PASSWORD)
    client.remove_user_state_listener(listener2)
    client.remove_user_state_listener(listener2)  # unknown callbacks are ignored
    unsubscribe()
    client.sign_out()
    assert [s for s, _ in first] == [UserState.SIGNED_OUT]
    assert [s for s, _ in second] == [UserState.SIGNED_OUT, UserState.SIGNED_IN]


def test_a_raising_listener_does_not_disturb_the_others(
    client: AuthClient, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(state: UserState, info: Mapping[str, str]) -> None:
        raise RuntimeError("listener bug")

    calls, listener = _recorder()
    client.add_user_state_listener(broken)
    client.add_user_state_listener(listener)
    sign_up_confirmed(client, emulator, "alice")
    with caplog.at_level(logging.ERROR):
        client.sign_in("alice", PASSWORD)
    assert client.is_signed_in
    assert [s for s, _ in calls] == [UserState.SIGNED_OUT, UserState.SIGNED_IN]
    assert any("listener" in r.getMessage().lower() for r in caplog.records)


def test_listeners_run_outside_the_client_locks(client: AuthClient, emulator: Emulator) -> None:
    sign_up_confirmed(client, emulator, "alice")
    seen: list[object] = []

    def listener(state: UserState, info: Mapping[str, str]) -> None:
        if state is not UserState.SIGNED_IN:
            return
        # Another thread uses the client while this listener runs: it must not block.
        results: list[object] = []
        worker = threading.Thread(
            target=lambda: results.append(
                (client.get_tokens(wait=False), client.get_user_attributes())
            ),
            daemon=True,
        )
        worker.start()
        worker.join(5)
        seen.append("blocked" if worker.is_alive() else results[0])
        seen.append(client.get_tokens())  # and from the listener's own thread

    client.add_user_state_listener(listener)
    client.sign_in("alice", PASSWORD)
    assert seen, "the listener was not called"
    assert seen[0] != "blocked", "a listener ran while a client lock was held"
    assert isinstance(seen[0], tuple)
    tokens, attributes = seen[0]
    assert isinstance(tokens, Tokens)
    assert attributes["email"] == "alice@example.com"
    assert isinstance(seen[1], Tokens)


def test_restored_session_is_signed_in_without_the_network(
    make_client: Callable[..., AuthClient], emulator: Emulator
) -> None:
    store = MemorySessionStore()
    first = make_client(identity_pool=False, store=store)
    sign_up_confirmed(first, emulator, "alice")
    first.sign_in("alice", PASSWORD)
    tokens = first.get_tokens()
    emulator.reset_requests()
    second = make_client(identity_pool=False, store=store)
    calls, listener = _recorder()
    second.add_user_state_listener(listener)
    assert second.initialize() is UserState.SIGNED_IN
    assert second.username == "alice"
    assert second.get_tokens() == tokens
    assert emulator.count() == 0
    assert [s for s, _ in calls] == [UserState.SIGNED_IN]


def test_a_listener_may_let_another_thread_change_the_state(
    client: AuthClient, emulator: Emulator
) -> None:
    sign_up_confirmed(client, emulator, "alice")
    client.sign_in("alice", PASSWORD)
    calls, recorder = _recorder()
    outcome: list[str] = []

    def listener(state: UserState, info: Mapping[str, str]) -> None:
        if state is not UserState.SIGNED_OUT or outcome:
            return
        # Another thread signs in while this listener runs: no engine lock may be held.
        worker = threading.Thread(target=client.sign_in, args=("alice", PASSWORD), daemon=True)
        worker.start()
        worker.join(5)
        outcome.append("blocked" if worker.is_alive() else "done")

    client.add_user_state_listener(recorder)
    client.add_user_state_listener(listener)
    client.sign_out()
    assert outcome == ["done"], "a lock was held while a listener ran"
    assert client.current_user_state is UserState.SIGNED_IN
    assert [s for s, _ in calls] == [UserState.SIGNED_OUT, UserState.SIGNED_IN]


def test_a_listener_may_sign_out_as_soon_as_the_user_signs_in(
    client: AuthClient, emulator: Emulator
) -> None:
    # E.g. an app that accepts only some users: it signs the others out from the listener.
    sign_up_confirmed(client, emulator, "alice")
    calls, recorder = _recorder()

    def listener(state: UserState, info: Mapping[str, str]) -> None:
        if state is UserState.SIGNED_IN:
            client.sign_out()

    client.add_user_state_listener(recorder)
    client.add_user_state_listener(listener)
    client.sign_in("alice", PASSWORD)  # must not raise: the sign-in itself succeeded
    assert client.current_user_state is UserState.SIGNED_OUT
    # (initialize() moved to SIGNED_OUT during sign-up, before the recorder was added.)
    assert [s for s, _ in calls] == [UserState.SIGNED_IN, UserState.SIGNED_OUT]
    # The sign-in machine is not stuck.
    client.remove_user_state_listener(listener)
    assert client.sign_in("alice", PASSWORD).state is SignInState.DONE


def test_concurrent_initialize_fires_once(client: AuthClient) -> None:
    calls, listener = _recorder()
    client.add_user_state_listener(listener)
    barrier = threading.Barrier(8)
    results: list[UserState] = []

    def init() -> None:
        barrier.wait()
        results.append(client.initialize())

    threads = [threading.Thread(target=init) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert results == [UserState.SIGNED_OUT] * 8
    assert calls == [(UserState.SIGNED_OUT, {})]


def test_close_releases_a_waiting_call(
    signed_in: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned, clock: Any
) -> None:
    admin_idp.admin_user_global_sign_out(UserPoolId=pool.user_pool_id, Username="alice")
    clock.advance(3600)
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            signed_in.get_tokens(timeout=5)
        except BaseException as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    while waiter.is_alive() and signed_in.current_user_state is UserState.SIGNED_IN:
        waiter.join(0.005)
    started = time.monotonic()
    while waiter.is_alive() and time.monotonic() - started < 3:
        signed_in.close()
        waiter.join(0.02)
    assert not waiter.is_alive()
    assert errors
    assert isinstance(errors[0], UnableToSignInError)
    assert time.monotonic() - started < 2
