"""Tokens: claims, expiry, verification, the cache's request counts and refresh windows."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from fsm_auth import AuthClient, NotAuthorizedError, SignInState, Tokens, UserState, plugins
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned
from fsm_auth.provider import AuthStep, ProviderContext, RawTokens
from fsm_auth_providers.userpool import UserPoolProvider

from .conftest import PASSWORD, pool_client, sign_up_confirmed


def _wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


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
    emulator.faults.inject(Fault(operation="InitiateAuth", delay=0.2, times=1))
    barrier = threading.Barrier(32)
    results: list[Tokens] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        try:
            tokens = signed_in.get_tokens()
        except BaseException as exc:  # noqa: BLE001 -- reported by the assertion below
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
    assert emulator.count("InitiateAuth") == 1
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
    emulator.faults.inject(Fault(operation="InitiateAuth", delay=0.3, times=1))
    started = time.monotonic()
    served = signed_in.get_tokens()
    elapsed = time.monotonic() - started
    assert served.access_token == old.access_token
    assert elapsed < 0.2, f"the caller waited {elapsed:.3f}s for a refresh ahead"
    # More callers meanwhile: served at once, no second refresh.
    # More callers meanwhile are served at once too (old or new token), with no second refresh.
    seen = {signed_in.get_tokens().access_token for _ in range(20)}
    assert old.access_token in seen and len(seen) <= 2
    assert _wait_until(lambda: signed_in.get_tokens().access_token != old.access_token)
    assert emulator.count("InitiateAuth") == 1
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
    assert emulator.count("InitiateAuth") == 0
    # Past "must refresh" (30 s before expiry): one refresh, then the cache again.
    clock.advance(300 - 180 - 20)
    second = client.get_tokens()
    assert second.access_token != first.access_token
    assert emulator.count("InitiateAuth") == 1
    for _ in range(50):
        assert client.get_tokens().access_token == second.access_token
    assert emulator.count("InitiateAuth") == 1


# ---- verification: tokens a provider hands over are checked before they are trusted ----


class _SwappingProvider(UserPoolProvider):
    """The built-in provider, except that sign-in tokens are replaced by ``swap(tokens)``."""

    swap: Callable[[RawTokens], RawTokens] | None = None

    def start_sign_in(self, username: str, password: str | None, **kwargs: Any) -> AuthStep:
        step = super().start_sign_in(username, password, **kwargs)
        swap = type(self).swap
        if step.tokens is None or swap is None:
            return step
        return AuthStep(challenge=None, username=step.username, tokens=swap(step.tokens))


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
    with pytest.raises(Exception):  # noqa: B017,PT011 -- no tokens of any kind were kept
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
    _refused(swapping_client, "iss")


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

