"""get_tokens(force_refresh=True) through AuthClient against the emulator: a refresh even of
valid tokens, one request however many callers ask at once, new claims after an attribute
change, and the usual refusals when there is nothing to refresh."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from auth_testkit import InThread, confirmed_user

from fsm_auth import (
    AuthClient,
    NotAuthorizedError,
    NotSignedInError,
    Tokens,
    UnableToSignInError,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned
from fsm_auth.session import MemorySessionStore

from .conftest import GRACE, HOUR, PASSWORD

THREADS = 32


def test_valid_tokens_are_refreshed_when_asked(
    emulator: Emulator, signed_in: AuthClient, clock: FakeClock
) -> None:
    cached = signed_in.get_tokens()
    emulator.reset_requests()
    assert signed_in.get_tokens() == cached  # valid: no request
    assert emulator.count() == 0
    clock.advance(1)
    forced = signed_in.get_tokens(force_refresh=True)
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert forced.access_token != cached.access_token
    assert forced.refresh_token != cached.refresh_token  # a rotating client: rotated
    assert forced.expiration > cached.expiration
    # The forced refresh is the cache's value now.
    assert signed_in.get_tokens() == forced
    assert emulator.count() == 1
    # A second forced call asked after the first finished makes its own request.
    signed_in.get_tokens(force_refresh=True)
    assert emulator.count("GetTokensFromRefreshToken") == 2
    assert signed_in.current_user_state is UserState.SIGNED_IN


@pytest.mark.parametrize("rotation", [True, False])
def test_32_threads_forcing_a_refresh_make_one_request(
    emulator: Emulator, make_client: Callable[..., AuthClient], rotation: bool
) -> None:
    pool = emulator.provision(
        refresh_token_rotation=rotation, with_identity_pool=False, bucket=None
    )
    client = make_client(pool.aws_configuration())
    client.initialize()
    confirmed_user(emulator, pool, "alice", PASSWORD)
    client.sign_in("alice", PASSWORD)
    before = client.get_tokens()
    emulator.reset_requests()
    # A slower answer: every thread asks while the one refresh is in flight.
    emulator.faults.inject(Fault(operation="GetTokensFromRefreshToken", delay=0.3, times=1))
    barrier = threading.Barrier(THREADS)

    def force() -> Tokens:
        barrier.wait()
        return client.get_tokens(force_refresh=True)

    calls = [InThread(force) for _ in range(THREADS)]
    for call in calls:
        call.start()
    for call in calls:
        call.join(10)
    assert [c.error for c in calls if c.error is not None] == []
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert emulator.count() == 1
    assert len({c.result.access_token for c in calls if c.result is not None}) == 1
    assert calls[0].result is not None
    assert calls[0].result.access_token != before.access_token
    assert client.current_user_state is UserState.SIGNED_IN


def test_a_forced_refresh_with_a_timeout(emulator: Emulator, signed_in: AuthClient) -> None:
    before = signed_in.get_tokens()
    emulator.faults.inject(Fault(operation="GetTokensFromRefreshToken", delay=0.2, times=1))
    forced = signed_in.get_tokens(force_refresh=True, timeout=5.0)
    assert forced.access_token != before.access_token


def test_new_claims_after_an_attribute_change(emulator: Emulator, signed_in: AuthClient) -> None:
    signed_in.update_user_attributes({"name": "Alice Example"})
    assert "name" not in signed_in.get_tokens().id_claims
    assert signed_in.get_tokens(force_refresh=True).id_claims["name"] == "Alice Example"


def test_nothing_to_refresh_when_signed_out(
    make_client: Callable[..., AuthClient], pool: Provisioned
) -> None:
    client = make_client()
    client.initialize()
    with pytest.raises(NotSignedInError):
        client.get_tokens(force_refresh=True)


def test_a_refused_forced_refresh_signs_the_user_out_as_any_refusal(
    emulator: Emulator, signed_in: AuthClient, pool: Provisioned, clock: FakeClock
) -> None:
    emulator.admin_client().admin_user_global_sign_out(
        UserPoolId=pool.user_pool_id, Username="alice"
    )
    with pytest.raises(NotAuthorizedError):
        signed_in.get_tokens(force_refresh=True, wait=False)
    # The tokens are still valid: as with a refused refresh ahead, they are served until they
    # expire, and that refusal then moves the state.
    assert signed_in.current_user_state is UserState.SIGNED_IN
    assert signed_in.get_tokens(wait=False)
    clock.advance(HOUR)
    with pytest.raises(UnableToSignInError):
        signed_in.get_tokens(wait=False)
    assert signed_in.current_user_state is UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID


def test_a_forced_refresh_uses_the_token_another_client_rotated(
    emulator: Emulator,
    pool: Provisioned,
    make_client: Callable[..., AuthClient],
    clock: FakeClock,
) -> None:
    # Two clients on one store: the first refreshes (its refresh token rotated and saved);
    # the second, whose cached tokens are still valid, is asked to refresh: it must refresh
    # with the rotated token from the store, not with the one it holds (rotated out).
    store = MemorySessionStore()
    first = make_client(store=store)
    first.initialize()
    confirmed_user(emulator, pool, "alice", PASSWORD)
    first.sign_in("alice", PASSWORD)
    second = make_client(store=store)
    assert second.initialize() is UserState.SIGNED_IN
    held = second.get_tokens().refresh_token
    rotated = first.get_tokens(force_refresh=True).refresh_token
    assert rotated != held
    clock.advance(GRACE)  # the token the second client holds is now refused by the service
    emulator.reset_requests()
    forced = second.get_tokens(force_refresh=True)
    (request,) = emulator.requests
    assert request.operation == "GetTokensFromRefreshToken"
    assert request.params["RefreshToken"] == rotated
    assert request.status == 200
    assert forced.refresh_token not in (held, rotated)
    assert second.current_user_state is UserState.SIGNED_IN
