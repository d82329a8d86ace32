"""Hostile configurations (issue 9, items 5 and 7).

Item 5: a deeply nested document, a 5000-digit number or a cycle ends as ``ConfigError``
naming the problem, never ``RecursionError`` or ``ValueError``. Item 7: an endpoint with
credentials in it is refused without echoing them; plain ``http://`` to a host that is not
loopback is refused unless the caller opts in (``allow_insecure_endpoint=True``), which logs a
warning once per endpoint.
"""

from __future__ import annotations

import copy
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient, ConfigError, MemorySessionStore
from fsm_auth.config import load_config

PASSWORD = "hunter2-Pa55word-in-url"
UP = "CognitoUserPool.Default"


def base(endpoint: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "CognitoUserPool": {
            "Default": {
                "PoolId": "us-east-1_AbC123",
                "AppClientId": "client123",
                "Region": "us-east-1",
            }
        },
        "CredentialsProvider": {
            "CognitoIdentity": {
                "Default": {
                    "PoolId": "us-east-1:4b2a6a8c-1f0e-4c8b-9d6e-0a1b2c3d4e5f",
                    "Region": "us-east-1",
                }
            }
        },
    }
    if endpoint is not None:
        doc["CognitoUserPool"]["Default"]["Endpoint"] = endpoint
        doc["CredentialsProvider"]["CognitoIdentity"]["Default"]["Endpoint"] = endpoint
    return doc


def _nested_text(depth: int) -> str:
    return '{"CognitoUserPool": ' + "[" * depth + "]" * depth + "}"


# -- item 5: nested documents and long numbers ------------------------------------------


@pytest.mark.parametrize("depth", [40, 100_000])
def test_a_deeply_nested_file_is_a_config_error(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "nested.json"
    path.write_text(_nested_text(depth), encoding="utf-8")
    with pytest.raises(ConfigError, match="nested more than 32 levels deep") as caught:
        load_config(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("sign", ["", "-"])
def test_a_5000_digit_number_is_a_config_error(tmp_path: Path, sign: str) -> None:
    doc = base()
    path = tmp_path / "long-number.json"
    text = str(doc).replace("'", '"')[:-1] + f', "Extra": {sign}{"9" * 5000}}}'
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="a number of 5000 digits"):
        load_config(path)


def test_a_long_number_that_fits_is_kept_out_of_the_way(tmp_path: Path) -> None:
    # Numbers elsewhere in the file (other Amplify categories) are not a reason to refuse it.
    path = tmp_path / "ok.json"
    text = str(base()).replace("'", '"')[:-1] + ', "Analytics": {"Size": 12345678901234567890}}'
    path.write_text(text, encoding="utf-8")
    assert load_config(path).user_pool is not None


def test_a_nested_mapping_is_a_config_error_naming_the_key() -> None:
    doc = base()
    deep: list[Any] = []
    inner = deep
    for _ in range(40):
        inner.append([])
        inner = inner[0]
    doc["Auth"] = {"Default": {"OAuth": {"Scopes": deep}}}
    with pytest.raises(ConfigError, match=r"Auth\.Default\.OAuth\.Scopes.*nested more than 32"):
        load_config(doc)


def test_a_mapping_that_holds_itself_is_a_config_error() -> None:
    doc = base()
    cycle: dict[str, Any] = {}
    cycle["again"] = cycle
    doc["Auth"] = {"Default": {"OAuth": cycle}}
    with pytest.raises(ConfigError, match="nested more than 32 levels deep"):
        load_config(doc)


# -- item 7: endpoints ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        f"http://alice:{PASSWORD}@127.0.0.1:4566",
        f"https://alice:{PASSWORD}@cognito.example.com",
        f"alice:{PASSWORD}@cognito.example.com",
        f"https://{PASSWORD}@cognito.example.com/base",
    ],
)
def test_an_endpoint_with_credentials_is_refused_without_echoing_them(
    endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError, match="must not carry credentials") as caught:
        load_config(base(endpoint))
    assert f"{UP}.Endpoint" in str(caught.value)
    for text in (str(caught.value), repr(caught.value), caplog.text):
        assert PASSWORD not in text
        assert "alice" not in text
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_an_endpoint_url_with_credentials_is_refused_too() -> None:
    with pytest.raises(ConfigError, match="endpoint_url: an endpoint must not carry") as caught:
        load_config(base(), endpoint_url=f"http://bob:{PASSWORD}@127.0.0.1:4566")
    assert PASSWORD not in str(caught.value)
    with pytest.raises(ConfigError, match="must not carry credentials") as caught:
        load_config(
            base(), endpoint_url=f"http://bob:{PASSWORD}@h.example", allow_insecure_endpoint=True
        )
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://cognito.example.com",
        "http://10.0.0.7:4566",
        "http://[2001:db8::1]:80",
        "http://127.0.0.1.example.com",
    ],
)
def test_plain_http_to_a_host_that_is_not_loopback_is_refused(endpoint: str) -> None:
    with pytest.raises(ConfigError, match="allow_insecure_endpoint=True") as caught:
        load_config(base(endpoint))
    assert "not a loopback address" in str(caught.value)
    assert f"{UP}.Endpoint" in str(caught.value)
    with pytest.raises(ConfigError, match="not a loopback address"):
        load_config(base(), endpoint_url=endpoint)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:4566",
        "http://127.8.9.10:1",
        "http://localhost:9229",
        "http://LOCALHOST:9229",
        "http://[::1]:9229",
        "http://[::ffff:127.0.0.1]:9229",
        "https://cognito.example.com",
        "cognito.example.com",
    ],
)
def test_loopback_and_https_endpoints_stay_accepted(
    endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(base(endpoint))
    assert config.user_pool is not None
    assert config.user_pool.endpoint is not None
    assert "unencrypted" not in caplog.text


def test_the_opt_in_accepts_plain_http_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    endpoint = f"http://cognito-{uuid.uuid4().hex[:8]}.internal.example:8080"
    caplog.set_level(logging.WARNING, logger="fsm_auth.config")
    for _ in range(3):
        config = load_config(base(endpoint), allow_insecure_endpoint=True)
        assert config.user_pool is not None
        assert config.user_pool.endpoint == endpoint
    warnings = [r for r in caplog.records if r.name == "fsm_auth.config"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert endpoint in warnings[0].getMessage()
    assert "unencrypted" in warnings[0].getMessage()


def test_the_opt_in_applies_to_endpoint_url_and_with_endpoint() -> None:
    endpoint = f"http://cognito-{uuid.uuid4().hex[:8]}.internal.example"
    config = load_config(base(), endpoint_url=endpoint, allow_insecure_endpoint=True)
    assert config.user_pool is not None
    assert config.user_pool.endpoint == endpoint
    with pytest.raises(ConfigError, match="not a loopback address"):
        load_config(base()).with_endpoint(endpoint)
    moved = load_config(base()).with_endpoint(endpoint, allow_insecure_endpoint=True)
    assert moved.identity_pool is not None
    assert moved.identity_pool.endpoint == endpoint


def test_an_endpoint_replaced_by_endpoint_url_is_not_judged() -> None:
    # The file's endpoint is never used when endpoint_url replaces it.
    doc = copy.deepcopy(base("http://10.0.0.1:1"))
    config = load_config(doc, endpoint_url="http://127.0.0.1:4566")
    assert config.user_pool is not None
    assert config.user_pool.endpoint == "http://127.0.0.1:4566"


def test_from_config_refuses_plain_http_unless_allowed(tmp_path: Path) -> None:
    endpoint = f"http://cognito-{uuid.uuid4().hex[:8]}.internal.example"
    with pytest.raises(ConfigError, match="allow_insecure_endpoint=True"):
        AuthClient.from_config(base(endpoint), store=MemorySessionStore())
    with pytest.raises(ConfigError, match="must not carry credentials") as caught:
        AuthClient.from_config(
            base(), store=MemorySessionStore(), endpoint_url=f"http://u:{PASSWORD}@127.0.0.1:1"
        )
    assert PASSWORD not in str(caught.value)
    with AuthClient.from_config(
        base(endpoint), store=MemorySessionStore(), allow_insecure_endpoint=True
    ) as client:
        assert client.config.user_pool is not None
        assert client.config.user_pool.endpoint == endpoint
        assert PASSWORD not in repr(client.config)
