"""The issuer of a local Cognito (issue 9, item 14): with an endpoint configured, tokens issued
as ``<endpoint>/<pool id>`` (cognito-local, LocalStack) verify, and so do AWS-form ones; without
one, only the AWS form does. The keys come from the real local JWKS server of ``conftest``."""

from __future__ import annotations

import pytest
from jwt_testkit import CLIENT_ID, ISSUER, POOL_ID, REGION, FakeClock, JWKSServer, MakeToken

from fsm_auth.config import UserPoolConfig
from fsm_auth.errors import NotAuthorizedError
from fsm_auth.session._jwt import JWKSCache, TokenVerifier, jwks_url


def test_with_an_endpoint_its_issuer_is_accepted(
    user_pool: UserPoolConfig, server: JWKSServer, clock: FakeClock, make_token: MakeToken
) -> None:
    verifier = TokenVerifier(user_pool, jwks=JWKSCache(jwks_url(user_pool)), clock=clock)
    local = f"{server.endpoint}/{POOL_ID}"
    assert verifier.verify(make_token("id", iss=local), "id")["iss"] == local
    assert verifier.verify(make_token("access", iss=local), "access")["iss"] == local
    assert verifier.verify(make_token("id"), "id")["iss"] == ISSUER


@pytest.mark.parametrize(
    "iss",
    [
        "{endpoint}/us-east-1_OtherPool",
        "{endpoint}/{pool}/",
        "{endpoint}:1/{pool}",
        "http://127.0.0.2/{pool}",
        "{endpoint}",
    ],
)
def test_with_an_endpoint_other_issuers_are_refused(
    user_pool: UserPoolConfig,
    server: JWKSServer,
    clock: FakeClock,
    make_token: MakeToken,
    iss: str,
) -> None:
    verifier = TokenVerifier(user_pool, jwks=JWKSCache(jwks_url(user_pool)), clock=clock)
    token = make_token("id", iss=iss.format(endpoint=server.endpoint, pool=POOL_ID))
    with pytest.raises(NotAuthorizedError, match="iss is not"):
        verifier.verify(token, "id")


def test_without_an_endpoint_the_endpoint_issuer_is_refused(
    server: JWKSServer, clock: FakeClock, make_token: MakeToken
) -> None:
    strict = UserPoolConfig(pool_id=POOL_ID, app_client_id=CLIENT_ID, region=REGION)
    # The same keys, from the same server: only the issuer differs.
    jwks = JWKSCache(f"{server.endpoint}/{POOL_ID}/.well-known/jwks.json")
    verifier = TokenVerifier(strict, jwks=jwks, clock=clock)
    assert verifier.verify(make_token("id"), "id")["iss"] == ISSUER
    token = make_token("id", iss=f"{server.endpoint}/{POOL_ID}")
    with pytest.raises(NotAuthorizedError, match=f"iss is not {ISSUER}$"):
        verifier.verify(token, "id")
