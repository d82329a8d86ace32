"""load_config: the three formats, endpoints, providers, config_key and with_endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fsm_auth.config import (
    DEFAULT_PROVIDERS,
    AuthConfig,
    IdentityPoolConfig,
    UserPoolConfig,
    load_config,
)

SECRET = "s3cretvalue-that-must-not-leak"
USER_POOL = {
    "PoolId": "eu-west-1_AbC123xyZ",
    "AppClientId": "3n4b5urk1ft4fl3mg5e62d9ado",
    "Region": "eu-west-1",
}
IDENTITY_POOL = {"PoolId": "eu-west-1:4b2a6a8c-1f0e-4c8b-9d6e-0a1b2c3d4e5f", "Region": "eu-west-1"}


def aws_configuration(**auth_default: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "Version": "1.0",
        "IdentityManager": {"Default": {}},
        "CognitoUserPool": {"Default": dict(USER_POOL, AppClientSecret=SECRET)},
        "CredentialsProvider": {"CognitoIdentity": {"Default": dict(IDENTITY_POOL)}},
    }
    if auth_default:
        doc["Auth"] = {"Default": auth_default}
    return doc


def amplify_outputs(**extra: Any) -> dict[str, Any]:
    auth = {
        "aws_region": "eu-west-1",
        "user_pool_id": USER_POOL["PoolId"],
        "user_pool_client_id": USER_POOL["AppClientId"],
        "identity_pool_id": IDENTITY_POOL["PoolId"],
        "unauthenticated_identities_enabled": True,
        "password_policy": {"min_length": 8},
    }
    auth.update(extra)
    return {"version": "1.3", "auth": auth}


def write(tmp_path: Path, name: str, doc: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_awsconfiguration_file(tmp_path: Path) -> None:
    oauth = {"WebDomain": "x.auth.eu-west-1.amazoncognito.com", "Scopes": ["openid"]}
    path = write(
        tmp_path,
        "awsconfiguration.json",
        aws_configuration(authenticationFlowType="USER_PASSWORD_AUTH", OAuth=oauth),
    )
    config = load_config(path)
    assert config.user_pool == UserPoolConfig(
        pool_id=USER_POOL["PoolId"],
        app_client_id=USER_POOL["AppClientId"],
        app_client_secret=SECRET,
        region="eu-west-1",
        endpoint=None,
    )
    assert config.identity_pool == IdentityPoolConfig(
        pool_id=IDENTITY_POOL["PoolId"], region="eu-west-1", endpoint=None
    )
    assert config.identity_pool.unauthenticated_identities_enabled is None
    assert config.authentication_flow_type == "USER_PASSWORD_AUTH"
    assert config.oauth == oauth
    assert config.source == str(path)
    assert dict(config.providers) == dict(DEFAULT_PROVIDERS)


def test_str_path_and_mapping_give_the_same_pools(tmp_path: Path) -> None:
    doc = aws_configuration()
    from_file = load_config(str(write(tmp_path, "a.json", doc)))
    from_mapping = load_config(doc)
    assert from_mapping.source == "<mapping>"
    assert from_file.user_pool == from_mapping.user_pool
    assert from_file.identity_pool == from_mapping.identity_pool
    assert from_mapping.authentication_flow_type == "USER_SRP_AUTH"


def test_amplifyconfiguration_file(tmp_path: Path) -> None:
    plugin = aws_configuration(authenticationFlowType="CUSTOM_AUTH")
    doc = {
        "UserAgent": "aws-amplify-cli/2.0",
        "Version": "1.0",
        "auth": {"plugins": {"awsCognitoAuthPlugin": plugin}},
    }
    config = load_config(write(tmp_path, "amplifyconfiguration.json", doc))
    assert config.user_pool is not None
    assert config.user_pool.pool_id == USER_POOL["PoolId"]
    assert config.identity_pool is not None
    assert config.authentication_flow_type == "CUSTOM_AUTH"


def test_gen2_amplify_outputs(tmp_path: Path) -> None:
    oauth = {"domain": "x.auth.eu-west-1.amazoncognito.com", "scopes": ["openid"]}
    config = load_config(write(tmp_path, "amplify_outputs.json", amplify_outputs(oauth=oauth)))
    assert config.user_pool == UserPoolConfig(
        pool_id=USER_POOL["PoolId"], app_client_id=USER_POOL["AppClientId"], region="eu-west-1"
    )
    assert config.identity_pool == IdentityPoolConfig(
        pool_id=IDENTITY_POOL["PoolId"],
        region="eu-west-1",
        unauthenticated_identities_enabled=True,
    )
    assert config.oauth == oauth
    assert config.authentication_flow_type == "USER_SRP_AUTH"


def test_gen2_without_identity_pool() -> None:
    doc = amplify_outputs()
    del doc["auth"]["identity_pool_id"]
    config = load_config(doc)
    assert config.identity_pool is None
    assert config.user_pool is not None


def test_only_an_identity_pool() -> None:
    config = load_config(
        {"CredentialsProvider": {"CognitoIdentity": {"Default": dict(IDENTITY_POOL)}}}
    )
    assert config.user_pool is None
    assert config.identity_pool is not None


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("http://127.0.0.1:4566", "http://127.0.0.1:4566"),
        ("http://localhost:4566/", "http://localhost:4566"),
        ("https://cognito.example.com/base", "https://cognito.example.com/base"),
        ("cognito-idp.example.com", "https://cognito-idp.example.com"),
        ("localhost:9229", "https://localhost:9229"),
        ("[::1]:9229", "https://[::1]:9229"),
    ],
)
def test_endpoint_forms(endpoint: str, expected: str) -> None:
    doc = aws_configuration()
    doc["CognitoUserPool"]["Default"]["Endpoint"] = endpoint
    doc["CredentialsProvider"]["CognitoIdentity"]["Default"]["Endpoint"] = endpoint
    config = load_config(doc)
    assert config.user_pool is not None
    assert config.identity_pool is not None
    assert config.user_pool.endpoint == expected
    assert config.identity_pool.endpoint == expected


def test_endpoint_url_overrides_every_endpoint() -> None:
    doc = aws_configuration()
    doc["CognitoUserPool"]["Default"]["Endpoint"] = "http://10.0.0.1:1"
    config = load_config(doc, endpoint_url="127.0.0.1:5000")
    assert config.user_pool is not None
    assert config.identity_pool is not None
    assert config.user_pool.endpoint == "https://127.0.0.1:5000"
    assert config.identity_pool.endpoint == "https://127.0.0.1:5000"
    gen2 = load_config(amplify_outputs(), endpoint_url="http://127.0.0.1:5000")
    assert gen2.user_pool is not None
    assert gen2.user_pool.endpoint == "http://127.0.0.1:5000"


def test_with_endpoint_returns_a_copy() -> None:
    config = load_config(aws_configuration())
    moved = config.with_endpoint("http://127.0.0.1:1")
    assert config.user_pool is not None
    assert config.user_pool.endpoint is None
    assert moved.user_pool is not None
    assert moved.user_pool.endpoint == "http://127.0.0.1:1"
    assert moved.user_pool.app_client_secret == SECRET


def test_provider_overrides_merge_with_defaults() -> None:
    config = load_config(aws_configuration(Providers={"federated": "my_federated"}))
    assert dict(config.providers) == {
        "user_pool": "userpool",
        "federated": "my_federated",
        "guest": "guest",
        "hosted_ui": "hostedui",
    }
    gen2 = load_config(amplify_outputs(providers={"guest": "kiosk_guest"}))
    assert gen2.providers["guest"] == "kiosk_guest"
    assert gen2.providers["user_pool"] == "userpool"


def test_config_is_immutable() -> None:
    config = load_config(aws_configuration(OAuth={"Scopes": ["openid"]}))
    with pytest.raises(AttributeError):
        config.source = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.providers["guest"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        config.oauth["Scopes"] = []  # type: ignore[index]


def test_config_key_is_stable_and_tracks_pools_not_secret() -> None:
    base = load_config(aws_configuration())
    assert base.config_key == load_config(aws_configuration()).config_key
    assert len(base.config_key) == 32
    assert (
        base.config_key
        == AuthConfig(
            user_pool=base.user_pool, identity_pool=base.identity_pool, source="elsewhere"
        ).config_key
    )
    other_client = aws_configuration()
    other_client["CognitoUserPool"]["Default"]["AppClientId"] = "another"
    assert load_config(other_client).config_key != base.config_key
    no_identity = aws_configuration()
    del no_identity["CredentialsProvider"]
    assert load_config(no_identity).config_key != base.config_key
    assert base.with_endpoint("http://127.0.0.1:1").config_key != base.config_key
    other_secret = aws_configuration()
    other_secret["CognitoUserPool"]["Default"]["AppClientSecret"] = "different-secret"
    assert load_config(other_secret).config_key == base.config_key


def test_secret_not_in_repr() -> None:
    config = load_config(aws_configuration())
    for text in (repr(config), str(config), repr(config.user_pool)):
        assert SECRET not in text
    assert "app_client_secret='***'" in repr(config.user_pool)
    doc = aws_configuration()
    del doc["CognitoUserPool"]["Default"]["AppClientSecret"]
    assert "app_client_secret=None" in repr(load_config(doc).user_pool)


def test_user_pool_issuer_is_the_aws_form() -> None:
    config = load_config(aws_configuration(), endpoint_url="http://127.0.0.1:1")
    assert config.user_pool is not None
    assert config.user_pool.issuer == (
        f"https://cognito-idp.eu-west-1.amazonaws.com/{USER_POOL['PoolId']}"
    )


def test_importing_config_pulls_no_heavy_dependency() -> None:
    import subprocess
    import sys

    code = (
        "import sys, fsm_auth.config; "
        "heavy = {'jwt', 'requests', 'boto3', 'botocore', 'cryptography', 'yaml'}; "
        "heavy &= set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
