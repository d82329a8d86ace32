"""A refresh the server refuses: the state change, its listener info and the ways out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from auth_testkit import InThread, Recorder, wait_until

from fsm_auth import AuthClient, NotSignedInError, Tokens, UnableToSignInError, UserState
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned
from fsm_auth.session import MemorySessionStore

from .conftest import PASSWORD, sign_up_confirmed


def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    assert wait_until(condition, timeout), "condition not reached"


INVALID = UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID


def _revoke_and_expire(
    client: AuthClient, admin_idp: Any, pool: Provisioned, clock: FakeClock
) -> Tokens:
    old = client.get_tokens()
    admin_idp.admin_user_global_sign_out(UserPoolId=pool.user_pool_id, Username="alice")
    clock.advance(3600)
    return old


def test_refusal_moves_to_token_invalid_and_tells_listeners_once(
    signed_in: AuthClient,
    emulator: Emulator,
    admin_idp: Any,
    pool: Provisioned,
    clock: FakeClock,
) -> None:
    recorder = Recorder()
    signed_in.add_user_state_listener(recorder)
    _revoke_and_expire(signed_in, admin_idp, pool, clock)
    emulator.reset_requests()
    started = time.monotonic()
    with pytest.raises(UnableToSignInError):
        signed_in.get_tokens(wait=False)
    assert time.monotonic() - started < 1.0
    assert signed_in.current_user_state is INVALID
    assert not signed_in.is_signed_in
    assert signed_in.username == "alice"
    assert recorder.calls == [(INVALID, {"username": "alice"})]
    assert emulator.count("GetTokensFromRefreshToken") == 1
    # Later calls in that state: refused at once, no further request, no further event.
    for _ in range(3):
        with pytest.raises(UnableToSignInError):
            signed_in.get_tokens(wait=False)
    with pytest.raises(UnableToSignInError):
        signed_in.get_tokens(timeout=0.05)
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert recorder.calls == [(INVALID, {"username": "alice"})]


def test_a_sign_in_from_another_thread_releases_the_waiting_call(
    signed_in: AuthClient, admin_idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    old = _revoke_and_expire(signed_in, admin_idp, pool, clock)
    waiter = InThread(signed_in.get_tokens, timeout=10)
    waiter.start()  # discovers the refusal itself, then waits
    until(lambda: signed_in.current_user_state is INVALID)
    time.sleep(0.02)
    assert waiter.is_alive()
    signed_in.sign_in("alice", PASSWORD)
    waiter.join(5)
    assert not waiter.is_alive(), "get_tokens() still waiting after the sign-in"
    assert waiter.error is None, repr(waiter.error)
    assert waiter.result is not None
    assert waiter.result.access_token != old.access_token
    assert waiter.result.refresh_token != old.refresh_token
    assert waiter.result.access_token == signed_in.get_tokens().access_token
    assert signed_in.current_user_state is UserState.SIGNED_IN


def test_a_sign_in_from_inside_the_listener_releases_the_waiting_call(
    signed_in: AuthClient, admin_idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    recorder = Recorder()
    old = _revoke_and_expire(signed_in, admin_idp, pool, clock)

    def sign_in_again(state: UserState, info: Mapping[str, str]) -> None:
        recorder(state, info)
        if state is INVALID:  # as in the seed's example: prompt the user, sign in again
            signed_in.sign_in(info["username"], PASSWORD)

    signed_in.add_user_state_listener(sign_in_again)
    call = InThread(signed_in.get_tokens, timeout=10)
    call.start()
    call.join(8)
    assert not call.is_alive(), "deadlock: get_tokens() never returned"
    assert call.error is None, repr(call.error)
    assert call.result is not None
    assert call.result.access_token != old.access_token
    assert signed_in.current_user_state is UserState.SIGNED_IN
    assert recorder.calls == [
        (INVALID, {"username": "alice"}),
        (UserState.SIGNED_IN, {"username": "alice"}),
    ]


def test_release_sign_in_wait_ends_the_wait(
    signed_in: AuthClient, admin_idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    _revoke_and_expire(signed_in, admin_idp, pool, clock)
    waiter = InThread(signed_in.get_tokens, timeout=5)
    started = time.monotonic()
    waiter.start()
    until(lambda: signed_in.current_user_state is INVALID)
    # Release until the waiter is out: a release before it starts waiting does not count.
    while waiter.is_alive() and time.monotonic() - started < 4:
        signed_in.release_sign_in_wait()
        waiter.join(0.02)
    assert not waiter.is_alive()
    assert isinstance(waiter.error, UnableToSignInError)
    assert "released" in str(waiter.error)
    assert time.monotonic() - started < 2
    assert signed_in.current_user_state is INVALID


def test_timeout_ends_the_wait(
    signed_in: AuthClient, admin_idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    _revoke_and_expire(signed_in, admin_idp, pool, clock)
    with pytest.raises(UnableToSignInError):
        signed_in.get_tokens(wait=False)
    started = time.monotonic()
    with pytest.raises(UnableToSignInError):
        signed_in.get_tokens(timeout=0.2)
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 1.5


def test_the_discovering_call_waits_like_any_later_one(
    signed_in: AuthClient, admin_idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    _revoke_and_expire(signed_in, admin_idp, pool, clock)
    started = time.monotonic()
    with pytest.raises(UnableToSignInError):
        signed_in.get_tokens(timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 1.5
    assert signed_in.current_user_state is INVALID


def test_sign_out_from_token_invalid(
    signed_in: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    recorder = Recorder()
    _revoke_and_expire(signed_in, admin_idp, pool, clock)
    with pytest.raises(UnableToSignInError):
        signed_in.get_tokens(wait=False)
    signed_in.add_user_state_listener(recorder)
    waiter = InThread(signed_in.get_tokens, timeout=5)
    waiter.start()
    time.sleep(0.02)
    signed_in.sign_out()
    assert signed_in.current_user_state is UserState.SIGNED_OUT
    assert recorder.calls == [(UserState.SIGNED_OUT, {})]
    waiter.join(3)
    assert not waiter.is_alive(), "a waiting get_tokens() outlived the sign-out"
    assert isinstance(waiter.error, (NotSignedInError, UnableToSignInError))
    assert signed_in.username is None


def test_32_threads_discover_the_refusal_once(
    signed_in: AuthClient,
    emulator: Emulator,
    admin_idp: Any,
    pool: Provisioned,
    clock: FakeClock,
) -> None:
    recorder = Recorder()
    signed_in.add_user_state_listener(recorder)
    _revoke_and_expire(signed_in, admin_idp, pool, clock)
    emulator.reset_requests()
    emulator.faults.inject(Fault(operation="GetTokensFromRefreshToken", delay=0.2, times=1))
    barrier = threading.Barrier(32)
    calls = [InThread(signed_in.get_tokens, wait=False) for _ in range(32)]

    def start(call: InThread[Tokens]) -> None:
        barrier.wait()
        call.run()

    threads = [threading.Thread(target=start, args=(c,), daemon=True) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert all(isinstance(c.error, UnableToSignInError) for c in calls), [c.error for c in calls]
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert recorder.calls == [(INVALID, {"username": "alice"})]
    assert signed_in.current_user_state is INVALID


def test_a_release_before_the_wait_does_not_end_a_later_wait(
    signed_in: AuthClient, admin_idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    _revoke_and_expire(signed_in, admin_idp, pool, clock)
    with pytest.raises(UnableToSignInError):
        signed_in.get_tokens(wait=False)
    signed_in.release_sign_in_wait()  # nobody is waiting: nothing to release
    started = time.monotonic()
    with pytest.raises(UnableToSignInError, match=r"[Tt]imed out"):
        signed_in.get_tokens(timeout=0.1)
    assert time.monotonic() - started >= 0.1


def test_after_a_restart_the_refused_session_is_refused_again(
    make_client: Any, emulator: Emulator, admin_idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    store = MemorySessionStore()
    first: AuthClient = make_client(identity_pool=False, store=store)
    sign_up_confirmed(first, emulator, "alice")
    first.sign_in("alice", PASSWORD)
    _revoke_and_expire(first, admin_idp, pool, clock)
    with pytest.raises(UnableToSignInError):
        first.get_tokens(wait=False)
    first.close()
    second: AuthClient = make_client(identity_pool=False, store=store)
    recorder = Recorder()
    second.add_user_state_listener(recorder)
    second.initialize()
    with pytest.raises(UnableToSignInError):
        second.get_tokens(wait=False)
    assert second.current_user_state is INVALID
    assert second.username == "alice"
    assert recorder.calls[-1] == (INVALID, {"username": "alice"})
    # Signing in again on the restarted client works and is saved.
    second.sign_in("alice", PASSWORD)
    third: AuthClient = make_client(identity_pool=False, store=store)
    assert third.initialize() is UserState.SIGNED_IN
    assert third.get_tokens() == second.get_tokens()


def test_a_signed_out_session_restores_signed_out(make_client: Any, emulator: Emulator) -> None:
    store = MemorySessionStore()
    first: AuthClient = make_client(identity_pool=False, store=store)
    sign_up_confirmed(first, emulator, "alice")
    first.sign_in("alice", PASSWORD)
    first.sign_out()
    second: AuthClient = make_client(identity_pool=False, store=store)
    assert second.initialize() is UserState.SIGNED_OUT
    assert second.username is None
