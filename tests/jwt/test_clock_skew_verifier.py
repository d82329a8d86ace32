"""Clock skew in the verifier, without a Cognito (issue 9, item 2): a token issued further in
the future than the tolerance is refused; fresh tokens teach the service clock its offset, and
expiry is judged by it. The JWKS comes from the real local server of ``conftest``."""

from __future__ import annotations

import pytest
from jwt_testkit import FakeClock, MakeToken

from fsm_auth.config import UserPoolConfig
from fsm_auth.errors import NotAuthorizedError
from fsm_auth.session._jwt import JWKSCache, TokenVerifier, jwks_url

HOUR = 3600


def verifier_on(user_pool: UserPoolConfig, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(user_pool, jwks=JWKSCache(jwks_url(user_pool)), clock=clock)


@pytest.mark.parametrize("use", ["id", "access"])
def test_a_token_issued_far_in_the_future_is_refused(
    user_pool: UserPoolConfig, clock: FakeClock, make_token: MakeToken, use: str
) -> None:
    verifier = verifier_on(user_pool, clock)
    future = int(clock.now) + 7 * HOUR  # beyond the 6 h tolerance
    token = make_token(use, iat=future, exp=future + HOUR)
    with pytest.raises(NotAuthorizedError, match=r"iat \(issued 7\.0 h ahead of the local clock"):
        verifier.verify(token, use)  # type: ignore[arg-type]


def test_a_token_issued_within_the_tolerance_is_accepted(
    user_pool: UserPoolConfig, clock: FakeClock, make_token: MakeToken
) -> None:
    verifier = verifier_on(user_pool, clock)
    soon = int(clock.now) + 5 * HOUR
    assert verifier.verify(make_token("id", iat=soon, exp=soon + HOUR), "id")["iat"] == soon


@pytest.mark.parametrize("iat", ["soon", float("nan"), True])
def test_an_iat_that_is_not_a_number_is_refused(
    user_pool: UserPoolConfig, clock: FakeClock, make_token: MakeToken, iat: object
) -> None:
    with pytest.raises(NotAuthorizedError, match="iat is missing or not a number"):
        verifier_on(user_pool, clock).verify(make_token("id", iat=iat), "id")


def pair(make_token: MakeToken, iat: int, lifetime: int = HOUR) -> tuple[str, str]:
    return (
        make_token("id", iat=iat, exp=iat + lifetime),
        make_token("access", iat=iat, exp=iat + lifetime),
    )


def test_fresh_tokens_set_the_offset_before_expiry_is_judged(
    user_pool: UserPoolConfig, clock: FakeClock, make_token: MakeToken
) -> None:
    verifier = verifier_on(user_pool, clock)
    service_now = int(clock.now) - 2 * HOUR  # the device is 2 h ahead of the service
    id_token, access_token = pair(make_token, service_now)
    # Read back from storage (no received_at), such tokens look expired...
    with pytest.raises(NotAuthorizedError, match=r"exp \(expired at"):
        verifier.verify_tokens(id_token, access_token, None)
    # ...just received from the service, they teach the clock the offset and verify.
    tokens = verifier.verify_tokens(id_token, access_token, None, received_at=clock.now)
    assert verifier.clock.offset == pytest.approx(-2 * HOUR, abs=1)
    assert tokens.expiration.timestamp() == service_now + HOUR
    # From now on every judgement is in the service's time, stored tokens included.
    verifier.verify_tokens(id_token, access_token, None)
    clock.now += HOUR + 10
    with pytest.raises(NotAuthorizedError, match=r"exp \(expired at"):
        verifier.verify(access_token, "access")


def test_fresh_tokens_dead_on_arrival_name_the_clock(
    user_pool: UserPoolConfig, clock: FakeClock, make_token: MakeToken
) -> None:
    verifier = verifier_on(user_pool, clock)
    service_now = int(clock.now) - 8 * HOUR  # ahead by more than is corrected
    id_token, access_token = pair(make_token, service_now)
    with pytest.raises(NotAuthorizedError, match="expired on arrival: check the device's clock"):
        verifier.verify_tokens(id_token, access_token, None, received_at=clock.now)
    assert verifier.clock.offset == 0


def test_a_small_difference_is_noise_and_leaves_the_clock_alone(
    user_pool: UserPoolConfig, clock: FakeClock, make_token: MakeToken
) -> None:
    verifier = verifier_on(user_pool, clock)
    id_token, access_token = pair(make_token, int(clock.now) - 1)
    verifier.verify_tokens(id_token, access_token, None, received_at=clock.now)
    assert verifier.clock.offset == 0
