"""A caller that waits for sign-in from inside a user-state listener is still released by a
sign-in from another thread (the waiting thread is the one delivering notifications)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping

from fsm_auth import AuthClient, Tokens, UnableToSignInError, UserState
from fsm_auth.emulator import Emulator, FakeClock

from .conftest import PASSWORD


def test_waiting_inside_a_listener_is_released_by_another_threads_sign_in(
    signed_in: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = signed_in
    got: list[Tokens] = []
    waiting = threading.Event()

    def listener(state: UserState, info: Mapping[str, str]) -> None:
        if state is UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID:
            waiting.set()
            got.append(client.get_tokens(timeout=60))

    client.add_user_state_listener(listener)
    admin = emulator.admin_client()
    pool_id = client.config.user_pool.pool_id  # type: ignore[union-attr]
    admin.admin_user_global_sign_out(UserPoolId=pool_id, Username="alice")
    clock.advance(3700)

    def discover() -> None:
        # Discovers the refusal; its listener (in this thread) waits for the new sign-in.
        with contextlib.suppress(UnableToSignInError):
            client.get_tokens(wait=False)

    discoverer = threading.Thread(target=discover, daemon=True)
    discoverer.start()
    assert waiting.wait(10)
    client.sign_in("alice", PASSWORD)
    signed_in_at = time.monotonic()
    discoverer.join(30)
    assert not discoverer.is_alive(), "the waiting listener was never released"
    assert time.monotonic() - signed_in_at < 5, "released only by its timeout"
    assert got
    assert got[0].username == "alice"
    assert client.current_user_state is UserState.SIGNED_IN
