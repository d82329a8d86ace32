"""Identifier checks match whole strings (issue 9, item 11), and local Cognitos' pool ids are
accepted with an endpoint only (item 14)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fsm_auth.config import load_config
from fsm_auth.errors import ConfigError

UP = "CognitoUserPool.Default"
IP = "CredentialsProvider.CognitoIdentity.Default"
IDENTITY_POOL_ID = "us-east-1:4b2a6a8c-1f0e-4c8b-9d6e-0a1b2c3d4e5f"


def mobile(**user_pool: str) -> dict[str, Any]:
    return {
        "CognitoUserPool": {
            "Default": {
                "PoolId": "us-east-1_AbC123",
                "AppClientId": "client123",
                "Region": "us-east-1",
                **user_pool,
            }
        },
        "CredentialsProvider": {
            "CognitoIdentity": {"Default": {"PoolId": IDENTITY_POOL_ID, "Region": "us-east-1"}}
        },
    }


def gen2(**auth: str) -> dict[str, Any]:
    document: dict[str, Any] = {
        "version": "1",
        "auth": {
            "aws_region": "us-east-1",
            "user_pool_id": "us-east-1_AbC123",
            "user_pool_client_id": "client123",
            "identity_pool_id": IDENTITY_POOL_ID,
        },
    }
    document["auth"].update(auth)
    return document


def identity(**fields: str) -> dict[str, Any]:
    document = mobile()
    document["CredentialsProvider"]["CognitoIdentity"]["Default"].update(fields)
    return document


@pytest.mark.parametrize("tail", ["\n", "\r\n", " ", "\t", "\x00"], ids=repr)
@pytest.mark.parametrize(
    ("document", "key"),
    [
        (lambda v: mobile(PoolId="us-east-1_AbC123" + v), f"{UP}.PoolId"),
        (lambda v: mobile(Region="us-east-1" + v), f"{UP}.Region"),
        (lambda v: mobile(AppClientId="client123" + v), f"{UP}.AppClientId"),
        (lambda v: identity(PoolId=IDENTITY_POOL_ID + v), f"{IP}.PoolId"),
        (lambda v: identity(Region="us-east-1" + v), f"{IP}.Region"),
        (lambda v: gen2(user_pool_id="us-east-1_AbC123" + v), "auth.user_pool_id"),
        (lambda v: gen2(aws_region="us-east-1" + v), "auth.aws_region"),
        (lambda v: gen2(user_pool_client_id="client123" + v), "auth.user_pool_client_id"),
        (lambda v: gen2(identity_pool_id=IDENTITY_POOL_ID + v), "auth.identity_pool_id"),
    ],
    ids=[
        "PoolId",
        "Region",
        "AppClientId",
        "identity PoolId",
        "identity Region",
        "gen2 user_pool_id",
        "gen2 aws_region",
        "gen2 user_pool_client_id",
        "gen2 identity_pool_id",
    ],
)
def test_an_identifier_with_a_trailing_character_is_refused_naming_the_key(
    document: Any, key: str, tail: str
) -> None:
    with pytest.raises(ConfigError, match=f"<mapping>: {key}: "):
        load_config(document(tail))


def test_the_issuer_error_this_prevented() -> None:
    # Before: the newline passed the check and every sign-in later failed on the issuer.
    with pytest.raises(ConfigError, match=f"{UP}.PoolId: not a user pool id"):
        load_config(mobile(PoolId="us-east-1_AbC123\n"))


@pytest.mark.parametrize("client_id", ["a" * 129, "client-123", "clïent"])
def test_an_app_client_id_outside_cognitos_alphabet_is_refused(client_id: str) -> None:
    with pytest.raises(ConfigError, match=f"{UP}.AppClientId: not an app client id"):
        load_config(mobile(AppClientId=client_id))


@pytest.mark.parametrize("client_id", ["client123", "a" * 128, "A_b+9"])
def test_app_client_ids_of_cognitos_alphabet_are_accepted(client_id: str) -> None:
    config = load_config(mobile(AppClientId=client_id))
    assert config.user_pool is not None
    assert config.user_pool.app_client_id == client_id


# -- local Cognitos (item 14) -------------------------------------------------------------------

LOCAL_POOL = "local_1B9J6j6y"


def test_a_local_pool_id_without_an_endpoint_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=f"{UP}.PoolId: the pool id is in region 'local'.*Endpoint"
    ):
        load_config(mobile(PoolId=LOCAL_POOL))


def test_a_pool_id_of_another_region_without_an_endpoint_is_refused() -> None:
    with pytest.raises(ConfigError, match="in region 'eu-west-1' but"):
        load_config(mobile(PoolId="eu-west-1_AbC123"))


def test_a_local_pool_id_with_an_endpoint_is_accepted() -> None:
    config = load_config(mobile(PoolId=LOCAL_POOL, Endpoint="http://127.0.0.1:9229"))
    pool = config.user_pool
    assert pool is not None
    assert pool.pool_id == LOCAL_POOL
    assert pool.issuers == (
        f"https://cognito-idp.us-east-1.amazonaws.com/{LOCAL_POOL}",
        f"http://127.0.0.1:9229/{LOCAL_POOL}",
    )


def test_a_local_pool_id_with_endpoint_url_is_accepted() -> None:
    config = load_config(mobile(PoolId=LOCAL_POOL), endpoint_url="http://localhost:9229/")
    assert config.user_pool is not None
    assert config.user_pool.issuers[1] == f"http://localhost:9229/{LOCAL_POOL}"


def test_an_identity_pool_of_another_region_is_accepted_with_an_endpoint_only() -> None:
    other = "eu-west-1:4b2a6a8c-1f0e-4c8b-9d6e-0a1b2c3d4e5f"
    with pytest.raises(ConfigError, match=f"{IP}.PoolId: the pool id is in region 'eu-west-1'"):
        load_config(identity(PoolId=other))
    document = identity(PoolId=other, Endpoint="http://127.0.0.1:4566")
    assert load_config(document).identity_pool is not None


def test_the_local_pool_id_must_still_look_like_a_pool_id() -> None:
    with pytest.raises(ConfigError, match=f"{UP}.PoolId: not a user pool id"):
        load_config(mobile(PoolId="local-no-underscore", Endpoint="http://127.0.0.1:9229"))


def test_without_an_endpoint_only_the_aws_issuer() -> None:
    config = load_config(mobile())
    assert config.user_pool is not None
    assert config.user_pool.issuers == (
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123",
    )


def test_the_region_itself_stays_strict_with_an_endpoint() -> None:
    document = copy.deepcopy(mobile(PoolId=LOCAL_POOL, Endpoint="http://127.0.0.1:9229"))
    document["CognitoUserPool"]["Default"]["Region"] = "local"
    with pytest.raises(ConfigError, match=f"{UP}.Region: not an AWS region"):
        load_config(document)
