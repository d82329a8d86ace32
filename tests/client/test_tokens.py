"""Tokens: claims, expiry, verification, the cache's request counts and refresh windows."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from auth_testkit import wait_until

from fsm_auth import (
    AuthClient,
    NetworkError,
    NotAuthorizedError,
    NotSignedInError,
    SignInState,
    Tokens,
    UnableToSignInError,
    UserState,
    plugins,
)
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned
from fsm_auth.provider import ProviderContext, RawTokens
from fsm_auth.session import MemorySessionStore
from fsm_auth.signin import SignedIn, SignInFlow, SignInRequest

from .conftest import PASSWORD, pool_client, sign_up_confirmed


def test_claims_and_expiration(signed_in: AuthClient, clock: FakeClock, pool: Provisioned) -> None:
    tokens = signed_in.get_tokens()
    assert tokens.username == "alice"
    assert tokens.id_claims["cognito:username"] == "alice"
    assert tokens.id_claims["email"] == "alice@example.com"
    assert tokens.id_claims["aud"] == pool.client_id
    assert tokens.access_claims["client_id"] == pool.client_id
    assert tokens.id_claims["iss"].endswith(pool.user_pool_id)
    assert tokens.id_claims["sub"] == tokens.access_claims["sub"]
    assert tokens.refresh_token
    assert tokens.expiration.tzinfo is not None
    assert tokens.expiration.utcoffset() == timezone.utc.utcoffset(None)
    exp = min(tokens.id_claims["exp"], tokens.access_claims["exp"])
    assert tokens.expiration == datetime.fromtimestamp(exp, tz=timezone.utc)
    assert abs(tokens.expiration.timestamp() - (clock.now + 3600)) < 5


def test_cached_tokens_make_no_request(signed_in: AuthClient, emulator: Emulator) -> None:
    first = signed_in.get_tokens()
    emulator.reset_requests()
    for _ in range(200):
        assert signed_in.get_tokens() == first
    assert emulator.count() == 0


def test_32_threads_after_expiry_make_exactly_one_refresh(
    signed_in: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    old = signed_in.get_tokens()
    clock.advance(3600)
    emulator.reset_requests()
    # A slower server widens the window in which the threads pile up on the refresh.
    emulator.faults.inject(Fault(operation="GetTokensFromRefreshToken", delay=0.2, times=1))
    barrier = threading.Barrier(32)
    results: list[Tokens] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        try:
            tokens = signed_in.get_tokens()
        except BaseException as exc:
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(tokens)

    threads = [threading.Thread(target=call) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert len(results) == 32
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert len({t.access_token for t in results}) == 1
    assert results[0].access_token != old.access_token
    assert results[0].expiration.timestamp() > clock.now + 3000
    assert results[0].refresh_token == old.refresh_token
    assert signed_in.current_user_state is UserState.SIGNED_IN


def test_refresh_ahead_serves_the_old_token_and_refreshes_once_in_background(
    signed_in: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    old = signed_in.get_tokens()
    lifetime = old.expiration.timestamp() - clock.now
    # Inside the refresh-ahead window (the last 15 minutes before "must refresh"), still valid.
    clock.advance(lifetime - 30 - 600)
    emulator.reset_requests()
    emulator.faults.inject(Fault(operation="GetTokensFromRefreshToken", delay=0.3, times=1))
    started = time.monotonic()
    served = signed_in.get_tokens()
    elapsed = time.monotonic() - started
    assert served.access_token == old.access_token
    assert elapsed < 0.2, f"the caller waited {elapsed:.3f}s for a refresh ahead"
    # More callers meanwhile: served at once, no second refresh.
    # More callers meanwhile are served at once too (old or new token), with no second refresh.
    seen = {signed_in.get_tokens().access_token for _ in range(20)}
    assert old.access_token in seen
    assert len(seen) <= 2
    assert wait_until(lambda: signed_in.get_tokens().access_token != old.access_token)
    assert emulator.count("GetTokensFromRefreshToken") == 1
    new = signed_in.get_tokens()
    assert new.expiration > old.expiration


def test_five_minute_tokens_are_not_refreshed_on_every_call(
    make_client: Callable[..., AuthClient], emulator: Emulator, clock: FakeClock
) -> None:
    pool = emulator.provision(
        access_token_minutes=5, id_token_minutes=5, with_identity_pool=False, bucket=None
    )
    client = pool_client(make_client, pool)
    sign_up_confirmed(client, emulator, "pia")
    client.sign_in("pia", PASSWORD)
    first = client.get_tokens()
    assert 290 <= first.expiration.timestamp() - clock.now <= 300
    emulator.reset_requests()
    # The first 3 minutes: every call is served from the cache.
    for _ in range(18):
        clock.advance(10)
        for _ in range(5):
            assert client.get_tokens().access_token == first.access_token
    assert emulator.count("GetTokensFromRefreshToken") == 0
    # Past "must refresh" (30 s before expiry): one refresh, then the cache again.
    clock.advance(300 - 180 - 20)
    second = client.get_tokens()
    assert second.access_token != first.access_token
    assert emulator.count("GetTokensFromRefreshToken") == 1
    for _ in range(50):
        assert client.get_tokens().access_token == second.access_token
    assert emulator.count("GetTokensFromRefreshToken") == 1


# ---- verification: tokens a provider hands over are checked before they are trusted ----


class _SwappingProvider:
    """The built-in provider, except that sign-in tokens are replaced by ``swap(tokens)``."""

    swap: Callable[[RawTokens], RawTokens] | None = None

    def __init__(self, context: ProviderContext) -> None:
        self._inner = plugins.default_registry().factory("userpool")(context)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def sign_in(self, request: SignInRequest) -> SignInFlow:
        outcome = yield from self._inner.sign_in(request)
        swap = type(self).swap
        return outcome if swap is None else SignedIn(swap(outcome.tokens))


@pytest.fixture
def swapping_client(
    make_client: Callable[..., AuthClient], aws_config: dict[str, Any]
) -> Iterator[AuthClient]:
    plugins.register("test-swapping", _SwappingProvider)
    config = copy.deepcopy(aws_config)
    config["Auth"]["Default"]["Providers"] = {"user_pool": "test-swapping"}
    try:
        yield make_client(config, identity_pool=False)
    finally:
        plugins.unregister("test-swapping")
        _SwappingProvider.swap = None


def _tokens_elsewhere(admin_idp: Any, user_pool_id: str, client_id: str) -> RawTokens:
    """Genuine tokens (signed by the emulator) for a user of another pool or app client."""
    try:
        admin_idp.admin_create_user(UserPoolId=user_pool_id, Username="mallory")
        admin_idp.admin_set_user_password(
            UserPoolId=user_pool_id, Username="mallory", Password=PASSWORD, Permanent=True
        )
    except admin_idp.exceptions.UsernameExistsException:
        pass
    result = admin_idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "mallory", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return RawTokens(result["IdToken"], result["AccessToken"], result["RefreshToken"])


def _flip_signature(token: str) -> str:
    head, body, signature = token.split(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
    return ".".join((head, body, flipped))


def _refused(client: AuthClient, match: str) -> None:
    with pytest.raises(NotAuthorizedError, match=match):
        client.sign_in("alice", PASSWORD)
    assert client.current_user_state is UserState.SIGNED_OUT
    with pytest.raises(NotSignedInError):  # no tokens of any kind were kept
        client.get_tokens(wait=False)


def test_token_with_a_wrong_signature_is_refused(
    swapping_client: AuthClient, emulator: Emulator
) -> None:
    sign_up_confirmed(swapping_client, emulator, "alice")
    _SwappingProvider.swap = lambda raw: RawTokens(
        _flip_signature(raw.id_token), raw.access_token, raw.refresh_token
    )
    _refused(swapping_client, "signature")
    _SwappingProvider.swap = None
    assert swapping_client.sign_in("alice", PASSWORD).state is SignInState.DONE


def test_token_from_another_pool_is_refused(
    swapping_client: AuthClient, emulator: Emulator, admin_idp: Any
) -> None:
    sign_up_confirmed(swapping_client, emulator, "alice")
    other = emulator.provision(with_identity_pool=False, bucket=None)
    foreign = _tokens_elsewhere(admin_idp, other.user_pool_id, other.client_id)
    _SwappingProvider.swap = lambda raw: foreign
    # Each pool signs with its own keys: the other pool's kid is not in this pool's JWKS.
    _refused(swapping_client, "signing key id")


def test_token_for_another_app_client_is_refused(
    swapping_client: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned
) -> None:
    sign_up_confirmed(swapping_client, emulator, "alice")
    other_client = admin_idp.create_user_pool_client(
        UserPoolId=pool.user_pool_id,
        ClientName="other-app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    foreign = _tokens_elsewhere(admin_idp, pool.user_pool_id, other_client)
    _SwappingProvider.swap = lambda raw: foreign
    _refused(swapping_client, "aud|client_id")


def test_id_and_access_token_of_different_users_are_refused(
    swapping_client: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned
) -> None:
    sign_up_confirmed(swapping_client, emulator, "alice")
    foreign = _tokens_elsewhere(admin_idp, pool.user_pool_id, pool.client_id)
    _SwappingProvider.swap = lambda raw: RawTokens(
        raw.id_token, foreign.access_token, raw.refresh_token
    )
    _refused(swapping_client, "sub")


def test_a_failed_refresh_ahead_keeps_serving_the_valid_token(
    signed_in: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    old = signed_in.get_tokens()
    states: list[UserState] = []
    signed_in.add_user_state_listener(lambda state, info: states.append(state))
    clock.advance(old.expiration.timestamp() - clock.now - 30 - 600)
    fault = emulator.faults.inject(Fault(operation="GetTokensFromRefreshToken", status=500))
    assert signed_in.get_tokens().access_token == old.access_token
    assert wait_until(lambda: fault.hits >= 1)
    for _ in range(10):
        assert signed_in.get_tokens().access_token == old.access_token
    assert signed_in.current_user_state is UserState.SIGNED_IN
    # Once the server is back and the token must be refreshed, the refresh happens.
    emulator.faults.clear()
    clock.advance(600 + 1)
    assert signed_in.get_tokens().access_token != old.access_token
    assert states == []


def test_a_refresh_ahead_refused_in_background_is_reported_when_the_token_runs_out(
    signed_in: AuthClient, emulator: Emulator, admin_idp: Any, pool: Provisioned, clock: FakeClock
) -> None:
    old = signed_in.get_tokens()
    admin_idp.admin_user_global_sign_out(UserPoolId=pool.user_pool_id, Username="alice")
    emulator.reset_requests()
    clock.advance(old.expiration.timestamp() - clock.now - 30 - 600)
    # Still valid: served, while the refresh ahead is refused in the background.
    assert signed_in.get_tokens().access_token == old.access_token
    assert wait_until(lambda: emulator.count("GetTokensFromRefreshToken") >= 1)
    assert signed_in.current_user_state in (
        UserState.SIGNED_IN,
        UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID,
    )
    clock.advance(600 + 1)
    with pytest.raises(UnableToSignInError):
        signed_in.get_tokens(wait=False)
    assert signed_in.current_user_state is UserState.SIGNED_OUT_USER_POOLS_TOKEN_INVALID


def test_a_restored_expired_session_refreshes_once(
    make_client: Callable[..., AuthClient], emulator: Emulator, clock: FakeClock
) -> None:
    store = MemorySessionStore()
    first = make_client(identity_pool=False, store=store)
    sign_up_confirmed(first, emulator, "rita")
    first.sign_in("rita", PASSWORD)
    old = first.get_tokens()
    first.close()
    clock.advance(2 * 3600)
    emulator.reset_requests()
    second = make_client(identity_pool=False, store=store)
    assert second.initialize() is UserState.SIGNED_IN
    assert emulator.count() == 0  # restoring makes no request
    fresh = second.get_tokens()
    assert fresh.access_token != old.access_token
    assert fresh.expiration.timestamp() > clock.now + 3000
    assert emulator.count("GetTokensFromRefreshToken") == 1


def test_32_threads_offline_after_expiry_all_get_network_error(
    signed_in: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    signed_in.get_tokens()
    clock.advance(3600)
    emulator.stop()
    barrier = threading.Barrier(32)
    outcomes: list[object] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        try:
            result: object = signed_in.get_tokens()
        except Exception as exc:
            result = exc
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=call) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(outcomes) == 32
    assert all(isinstance(o, NetworkError) for o in outcomes), outcomes
    assert signed_in.current_user_state is UserState.SIGNED_IN
    emulator.start()
    assert signed_in.get_tokens().expiration.timestamp() > clock.now + 3000


def test_a_token_is_never_returned_with_less_than_30_seconds_left(
    signed_in: AuthClient, emulator: Emulator, clock: FakeClock
) -> None:
    old = signed_in.get_tokens()
    clock.advance(old.expiration.timestamp() - clock.now - 29)
    emulator.reset_requests()
    tokens = signed_in.get_tokens()
    assert tokens.access_token != old.access_token
    assert tokens.expiration.timestamp() - clock.now > 30
    assert emulator.count("GetTokensFromRefreshToken") == 1


def test_tokens_refreshed_by_another_client_of_the_same_session_are_reused(
    make_client: Callable[..., AuthClient], emulator: Emulator, clock: FakeClock
) -> None:
    store = MemorySessionStore()
    first = make_client(identity_pool=False, store=store)
    sign_up_confirmed(first, emulator, "sid")
    first.sign_in("sid", PASSWORD)
    second = make_client(identity_pool=False, store=store)  # another process, same session
    assert second.initialize() is UserState.SIGNED_IN
    old = second.get_tokens()
    clock.advance(3600)
    emulator.reset_requests()
    refreshed = first.get_tokens()
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert second.get_tokens() == refreshed
    assert refreshed.access_token != old.access_token
    assert (
        emulator.count("GetTokensFromRefreshToken") == 1
    )  # the second client used the saved tokens


@pytest.mark.parametrize("which", ["id_token", "access_token"])
def test_a_tampered_saved_session_is_not_restored(
    make_client: Callable[..., AuthClient], emulator: Emulator, which: str
) -> None:
    store = MemorySessionStore()
    first = make_client(identity_pool=False, store=store)
    sign_up_confirmed(first, emulator, "tess")
    first.sign_in("tess", PASSWORD)
    record = store.scoped(first.config.config_key)  # the client's record in the store
    doc = record.load()
    assert doc is not None
    doc["user"]["tokens"][which] = _flip_signature(doc["user"]["tokens"][which])
    record.save(doc)
    second = make_client(identity_pool=False, store=store)
    assert second.initialize() is UserState.SIGNED_OUT
    with pytest.raises(NotSignedInError):
        second.get_tokens(wait=False)
