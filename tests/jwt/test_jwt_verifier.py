"""TokenVerifier: every check, the leeway, the injected clock, the memo and Tokens."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

import pytest
from jwt_testkit import CLIENT_ID, ISSUER, POOL_ID, FakeClock, JWKSServer, MakeToken, jwks_doc

from fsm_auth.config import UserPoolConfig
from fsm_auth.errors import InvalidParameterError, NetworkError, NotAuthorizedError
from fsm_auth.session._jwt import JWKSCache, TokenVerifier, jwks_url


@pytest.fixture
def verifier(user_pool: UserPoolConfig, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(user_pool, jwks=JWKSCache(jwks_url(user_pool)), clock=clock)


def refused(verifier: TokenVerifier, token: str, use: Any, match: str) -> NotAuthorizedError:
    with pytest.raises(NotAuthorizedError, match=match) as info:
        verifier.verify(token, use)
    # The message names the check and never carries the token or a piece of it.
    for text in (str(info.value), repr(info.value), info.value.message):
        assert token not in text
        assert token.split(".")[0] not in text or len(token.split(".")[0]) < 8
    assert info.value.code == "NotAuthorizedException"
    return info.value


def test_valid_id_and_access_tokens(verifier: TokenVerifier, make_token: MakeToken) -> None:
    id_claims = verifier.verify(make_token("id"), "id")
    access_claims = verifier.verify(make_token("access"), "access")
    assert id_claims["aud"] == CLIENT_ID
    assert id_claims["iss"] == ISSUER
    assert access_claims["client_id"] == CLIENT_ID
    assert access_claims["username"] == "alice"


def test_issuer_is_the_aws_form_even_with_an_endpoint(user_pool: UserPoolConfig) -> None:
    assert user_pool.endpoint is not None
    assert TokenVerifier(user_pool, jwks=JWKSCache("http://x/")).issuer == ISSUER


def test_signature_by_another_key_is_refused(
    verifier: TokenVerifier, make_token: MakeToken
) -> None:
    refused(verifier, make_token("id", kid="kid-1", signing_kid="rogue"), "id", "signature")


def test_tampered_payload_is_refused(verifier: TokenVerifier, make_token: MakeToken) -> None:
    good = make_token("access")
    other = make_token("access", username="mallory")
    header, _, signature = good.split(".")
    forged = f"{header}.{other.split('.')[1]}.{signature}"
    refused(verifier, forged, "access", "signature")


def test_unknown_kid_is_refused(verifier: TokenVerifier, make_token: MakeToken) -> None:
    refused(verifier, make_token("id", kid="rogue"), "id", "key id")


def test_missing_kid_is_refused(verifier: TokenVerifier, make_token: MakeToken) -> None:
    refused(verifier, make_token("id", kid=None), "id", r"no key id \(kid\)")


def test_other_algorithms_are_refused(verifier: TokenVerifier, make_token: MakeToken) -> None:
    hs = make_token("id", algorithm="HS256", key="a-shared-secret-of-32-bytes-long!")
    refused(verifier, hs, "id", "algorithm must be RS256")
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"kid-1"}').rstrip(b"=").decode()
    unsigned = f"{header}.{make_token('id').split('.')[1]}."
    refused(verifier, unsigned, "id", "algorithm must be RS256")


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30"])
def test_malformed_tokens_are_refused(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(NotAuthorizedError, match=r"no token|malformed"):
        verifier.verify(token, "id")


def test_wrong_issuer_is_refused(
    verifier: TokenVerifier, make_token: MakeToken, server: JWKSServer
) -> None:
    # (<endpoint>/<pool id> is accepted with an endpoint: tests/jwt/test_local_cognito_issuer.py)
    refused(
        verifier, make_token("id", iss=f"{server.endpoint}/us-east-1_Other"), "id", "iss is not"
    )
    refused(verifier, make_token("id", iss="https://evil.example/" + POOL_ID), "id", "iss is not")
    refused(verifier, make_token("id", iss=None), "id", "iss is not")


def test_wrong_audience_is_refused(verifier: TokenVerifier, make_token: MakeToken) -> None:
    refused(verifier, make_token("id", aud="another-client"), "id", "aud")
    refused(verifier, make_token("id", aud=None), "id", "aud")


def test_audience_list_with_the_client_is_accepted(
    verifier: TokenVerifier, make_token: MakeToken
) -> None:
    assert verifier.verify(make_token("id", aud=["x", CLIENT_ID]), "id")["sub"]


def test_wrong_client_id_is_refused(verifier: TokenVerifier, make_token: MakeToken) -> None:
    refused(verifier, make_token("access", client_id="another"), "access", "client_id")
    refused(verifier, make_token("access", client_id=None), "access", "client_id")


def test_token_use_must_match(verifier: TokenVerifier, make_token: MakeToken) -> None:
    refused(verifier, make_token("id"), "access", "token_use is not 'access'")
    refused(verifier, make_token("access"), "id", "token_use is not 'id'")


@pytest.mark.parametrize("exp", [None, "tomorrow", True, 1e300, float("nan")])
def test_exp_must_be_a_usable_number(
    verifier: TokenVerifier, make_token: MakeToken, exp: Any
) -> None:
    token = make_token("id", exp=exp) if exp is not None else make_token("id", exp=None)
    refused(verifier, token, "id", "exp is missing or not a number")


def test_expiry_honours_the_leeway_on_the_injected_clock(
    user_pool: UserPoolConfig, clock: FakeClock, make_token: MakeToken
) -> None:
    verifier = TokenVerifier(
        user_pool, jwks=JWKSCache(jwks_url(user_pool)), clock=clock, leeway=5.0
    )
    token = make_token("access", lifetime=300)
    exp = clock.now + 300
    clock.now = exp + 5  # exactly at the end of the leeway: still accepted
    assert verifier.verify(token, "access")["exp"] == exp
    clock.now = exp + 5.5
    err = refused(verifier, token, "access", r"access token check failed: exp \(expired at")
    assert datetime.fromtimestamp(exp, tz=timezone.utc).isoformat() in err.message
    clock.now = exp - 100  # the clock is the only time source: back in time, valid again
    assert verifier.verify(token, "access")


def test_zero_leeway(user_pool: UserPoolConfig, clock: FakeClock, make_token: MakeToken) -> None:
    verifier = TokenVerifier(user_pool, jwks=JWKSCache(jwks_url(user_pool)), clock=clock, leeway=0)
    token = make_token("id", lifetime=60)
    clock.now += 60
    assert verifier.verify(token, "id")
    clock.now += 0.001
    refused(verifier, token, "id", "exp")


def test_negative_leeway_is_rejected(user_pool: UserPoolConfig) -> None:
    with pytest.raises(ValueError, match="leeway"):
        TokenVerifier(user_pool, jwks=JWKSCache("http://x/"), leeway=-1)


def test_not_before_in_the_future_is_refused(
    verifier: TokenVerifier, clock: FakeClock, make_token: MakeToken
) -> None:
    token = make_token("id", nbf=clock.now + 60)
    refused(verifier, token, "id", "nbf")
    clock.now += 60
    assert verifier.verify(token, "id")


def test_a_token_from_the_real_clock_fails_under_a_later_injected_one(
    verifier: TokenVerifier, clock: FakeClock, make_token: MakeToken
) -> None:
    token = make_token("id", lifetime=3600)
    clock.now += 3 * 3600
    refused(verifier, token, "id", "exp")


def test_check_expiry_false_reads_expired_tokens(
    verifier: TokenVerifier, clock: FakeClock, make_token: MakeToken
) -> None:
    id_token, access = make_token("id", lifetime=100), make_token("access", lifetime=50)
    clock.now += 1000
    tokens = verifier.verify_tokens(id_token, access, "refresh-opaque", check_expiry=False)
    assert tokens.refresh_token == "refresh-opaque"
    with pytest.raises(NotAuthorizedError, match="exp"):
        verifier.verify_tokens(id_token, access, "refresh-opaque")
    # Expiry is the only thing skipped: the signature still counts.
    forged = make_token("id", signing_kid="rogue")
    with pytest.raises(NotAuthorizedError, match="signature"):
        verifier.verify_tokens(forged, access, None, check_expiry=False)


def test_verify_tokens_builds_tokens_with_the_earlier_expiry(
    verifier: TokenVerifier, clock: FakeClock, make_token: MakeToken
) -> None:
    start = int(clock.now)
    tokens = verifier.verify_tokens(
        make_token("id", lifetime=3600), make_token("access", lifetime=1800), None
    )
    assert tokens.expiration == datetime.fromtimestamp(start + 1800, tz=timezone.utc)
    assert tokens.expiration.tzinfo is not None
    assert tokens.username == "alice"
    assert tokens.id_claims["token_use"] == "id"
    assert tokens.access_claims["token_use"] == "access"
    assert tokens.refresh_token is None
    assert tokens.id_token not in repr(tokens)


def test_verify_tokens_refuses_a_mismatched_pair(
    verifier: TokenVerifier, make_token: MakeToken
) -> None:
    with pytest.raises(NotAuthorizedError, match="differ in sub"):
        verifier.verify_tokens(make_token("id"), make_token("access", sub="someone-else"), None)


def test_network_failure_while_verifying_is_network_error(
    user_pool: UserPoolConfig, clock: FakeClock, make_token: MakeToken, server: JWKSServer
) -> None:
    server.status = 502
    verifier = TokenVerifier(user_pool, jwks=JWKSCache(jwks_url(user_pool)), clock=clock)
    with pytest.raises(NetworkError):
        verifier.verify(make_token("id"), "id")


def test_restore_verifies_offline_from_an_exported_jwks(
    user_pool: UserPoolConfig, clock: FakeClock, make_token: MakeToken, keys: Any
) -> None:
    offline_pool = UserPoolConfig(
        pool_id=POOL_ID,
        app_client_id=CLIENT_ID,
        region=user_pool.region,
        endpoint="http://127.0.0.1:1",
    )
    jwks = JWKSCache(jwks_url(offline_pool))
    jwks.load(jwks_doc(keys, "kid-1"))
    verifier = TokenVerifier(offline_pool, jwks=jwks, clock=clock)
    assert verifier.verify_tokens(make_token("id"), make_token("access"), "r").username == "alice"
    assert jwks.fetch_count == 0


def test_verified_token_is_memoized(
    verifier: TokenVerifier, make_token: MakeToken, server: JWKSServer, keys: Any
) -> None:
    token = make_token("id")
    first = verifier.verify(token, "id")
    first["sub"] = "mutated"  # the caller's copy, not the memo
    # The memo is per token_use: the same string is still refused as an access token.
    with pytest.raises(NotAuthorizedError, match="token_use"):
        verifier.verify(token, "access")
    # The pool drops kid-1: a new token needs the key and fails, the verified one does not.
    verifier.jwks.load(jwks_doc(keys, "kid-2"))
    assert verifier.verify(token, "id")["sub"] == "5f0c1d2e-user-sub"
    with pytest.raises(NotAuthorizedError, match="key id"):
        verifier.verify(make_token("id"), "id")


def test_memo_is_bounded(
    user_pool: UserPoolConfig, clock: FakeClock, make_token: MakeToken, keys: Any
) -> None:
    verifier = TokenVerifier(
        user_pool, jwks=JWKSCache(jwks_url(user_pool)), clock=clock, cache_size=3
    )
    tokens = [make_token("id") for _ in range(4)]
    for token in tokens:
        verifier.verify(token, "id")
    verifier.jwks.load(jwks_doc(keys, "kid-2"))
    for token in tokens[1:]:
        assert verifier.verify(token, "id")  # still remembered
    with pytest.raises(NotAuthorizedError):
        verifier.verify(tokens[0], "id")  # evicted, so verified again, and kid-1 is gone


def test_token_use_argument_is_checked(verifier: TokenVerifier, make_token: MakeToken) -> None:
    with pytest.raises(InvalidParameterError, match="token_use"):
        verifier.verify(make_token("id"), "refresh")  # type: ignore[arg-type]
