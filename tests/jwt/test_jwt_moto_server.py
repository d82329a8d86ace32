"""End to end with moto's server on loopback: tokens it issues verify against the JWKS it
serves under the endpoint, with the AWS-form issuer."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from fsm_auth.config import UserPoolConfig, load_config
from fsm_auth.errors import NotAuthorizedError
from fsm_auth.session._jwt import JWKSCache, TokenVerifier, jwks_url

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_moto_tokens_verify(endpoint: str) -> None:
    region = "eu-west-1"
    idp = boto3.client(
        "cognito-idp",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    pool_id = idp.create_user_pool(PoolName="jwt-test")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool_id, Username="alice", TemporaryPassword="Tmp-Passw0rd!")
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username="alice", Password="Passw0rd!-ok", Permanent=True
    )
    result = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": "Passw0rd!-ok"},
    )["AuthenticationResult"]

    config = load_config(
        {
            "CognitoUserPool": {
                "Default": {"PoolId": pool_id, "AppClientId": client_id, "Region": region}
            }
        },
        endpoint_url=endpoint,
    )
    assert config.user_pool is not None
    jwks = JWKSCache(jwks_url(config.user_pool))
    verifier = TokenVerifier(config.user_pool, jwks=jwks, clock=time.time)
    tokens = verifier.verify_tokens(
        result["IdToken"], result["AccessToken"], result.get("RefreshToken")
    )
    assert tokens.username == "alice"
    assert jwks.fetch_count == 1

    # Another app client of the same pool: right signature, wrong audience.
    other_client = UserPoolConfig(
        pool_id=pool_id, app_client_id="someone-else", region=region, endpoint=endpoint
    )
    other = TokenVerifier(other_client, jwks=jwks)
    with pytest.raises(NotAuthorizedError, match="aud"):
        other.verify(result["IdToken"], "id")
