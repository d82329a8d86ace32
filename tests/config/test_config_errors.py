"""load_config error paths: every message names the file (or <mapping>) and the key path,
and never the client secret."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fsm_auth.config import load_config
from fsm_auth.errors import AuthError, ConfigError

SECRET = "Zq9sEcReT-value-never-shown"
UP = "CognitoUserPool.Default"
IP = "CredentialsProvider.CognitoIdentity.Default"
# fsm_auth.errors.redact() takes any run of 32+ [A-Za-z0-9+/_=-] for a secret: an absolute
# path or the key name unauthenticated_identities_enabled come out as "[redacted]".


def base() -> dict[str, Any]:
    return {
        "CognitoUserPool": {
            "Default": {
                "PoolId": "us-east-1_AbC123",
                "AppClientId": "client123",
                "AppClientSecret": SECRET,
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


def gen2() -> dict[str, Any]:
    return {
        "version": "1",
        "auth": {
            "aws_region": "us-east-1",
            "user_pool_id": "us-east-1_AbC123",
            "user_pool_client_id": "client123",
            "identity_pool_id": "us-east-1:4b2a6a8c-1f0e-4c8b-9d6e-0a1b2c3d4e5f",
        },
    }


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Relative file names keep messages short; see test_absolute_path_is_named_in_full.
    monkeypatch.chdir(tmp_path)
    return tmp_path


def error_for(source: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(source)
    err = info.value
    for text in (str(err), repr(err), err.message):
        assert SECRET not in text
    assert isinstance(err, AuthError)
    return err


def check_file_and_mapping(in_tmp: Path, doc: Any, key: str, problem: str) -> None:
    """The same fault, as a file and as a mapping: both messages name source and key."""
    Path("awsconfiguration.json").write_text(json.dumps(doc), encoding="utf-8")
    from_file = error_for("awsconfiguration.json")
    assert from_file.message.startswith("awsconfiguration.json: ")
    from_mapping = error_for(doc)
    assert from_mapping.message.startswith("<mapping>: ")
    for err in (from_file, from_mapping):
        assert f" {key}: " in err.message
        assert problem in err.message


Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for name in parents:
            node = node[name]
        node[last] = value

    return edit


def _del(path: str) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for name in parents:
            node = node[name]
        del node[last]

    return edit


CASES: list[tuple[str, Edit, str, str]] = [
    ("missing user pool id", _del(f"{UP}.PoolId"), f"{UP}.PoolId", "missing"),
    ("missing client id", _del(f"{UP}.AppClientId"), f"{UP}.AppClientId", "missing"),
    ("missing region", _del(f"{UP}.Region"), f"{UP}.Region", "missing"),
    ("missing identity id", _del(f"{IP}.PoolId"), f"{IP}.PoolId", "missing"),
    ("missing identity region", _del(f"{IP}.Region"), f"{IP}.Region", "missing"),
    ("missing Default", _del(f"{UP}"), "CognitoUserPool.Default", "missing"),
    (
        "missing CognitoIdentity",
        _del("CredentialsProvider.CognitoIdentity"),
        "CredentialsProvider.CognitoIdentity",
        "missing",
    ),
    ("empty client id", _set(f"{UP}.AppClientId", " "), f"{UP}.AppClientId", "must not be empty"),
    ("numeric pool id", _set(f"{UP}.PoolId", 12), f"{UP}.PoolId", "must be a string, not a number"),
    (
        "boolean client id",
        _set(f"{UP}.AppClientId", True),
        f"{UP}.AppClientId",
        "must be a string, not a boolean",
    ),
    (
        "secret of the wrong type",
        _set(f"{UP}.AppClientSecret", [SECRET]),
        f"{UP}.AppClientSecret",
        "must be a string, not an array",
    ),
    ("endpoint not a string", _set(f"{UP}.Endpoint", 4566), f"{UP}.Endpoint", "must be a string"),
    ("section not an object", _set("CognitoUserPool", "x"), "CognitoUserPool", "must be an object"),
    (
        "bad user pool id",
        _set(f"{UP}.PoolId", "us-east-1-AbC"),
        f"{UP}.PoolId",
        "not a user pool id",
    ),
    (
        "bad identity pool id",
        _set(f"{IP}.PoolId", "us-east-1_AbC123"),
        f"{IP}.PoolId",
        "not an identity pool id",
    ),
    ("bad region", _set(f"{UP}.Region", "Virginia"), f"{UP}.Region", "not an AWS region"),
    (
        "user pool region mismatch",
        _set(f"{UP}.Region", "eu-west-1"),
        f"{UP}.PoolId",
        "the pool id is in region 'us-east-1' but CognitoUserPool.Default.Region is 'eu-west-1'",
    ),
    (
        "identity pool region mismatch",
        _set(f"{IP}.Region", "eu-west-1"),
        f"{IP}.PoolId",
        "in region 'us-east-1' but",
    ),
    (
        "unknown flow",
        _set("Auth", {"Default": {"authenticationFlowType": "SMS_AUTH"}}),
        "Auth.Default.authenticationFlowType",
        "use one of USER_SRP_AUTH, USER_PASSWORD_AUTH, CUSTOM_AUTH",
    ),
    (
        "flow of the wrong type",
        _set("Auth", {"Default": {"authenticationFlowType": 1}}),
        "Auth.Default.authenticationFlowType",
        "must be a string",
    ),
    (
        "OAuth not an object",
        _set("Auth", {"Default": {"OAuth": []}}),
        "Auth.Default.OAuth",
        "object",
    ),
    ("Auth without Default", _set("Auth", {}), "Auth.Default", "missing"),
    (
        "Providers not an object",
        _set("Auth", {"Default": {"Providers": ["x"]}}),
        "Auth.Default.Providers",
        "must be an object",
    ),
    (
        "provider name not a string",
        _set("Auth", {"Default": {"Providers": {"guest": 3}}}),
        "Auth.Default.Providers.guest",
        "must be a string",
    ),
]


@pytest.mark.parametrize(
    ("edit", "key", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_awsconfiguration_faults(in_tmp: Path, edit: Edit, key: str, problem: str) -> None:
    doc = base()
    edit(doc)
    check_file_and_mapping(in_tmp, doc, key, problem)


@pytest.mark.parametrize(
    "endpoint",
    ["ftp://example.com", "http://", "not a host!", "http://x:99999", "http://x/?q=1", ""],
)
def test_bad_endpoints(in_tmp: Path, endpoint: str) -> None:
    doc = base()
    doc["CognitoUserPool"]["Default"]["Endpoint"] = endpoint
    if endpoint == "":  # an empty optional string means "no endpoint", not a fault
        assert load_config(doc).user_pool.endpoint is None  # type: ignore[union-attr]
        return
    check_file_and_mapping(in_tmp, doc, f"{UP}.Endpoint", "")


def test_bad_endpoint_url_argument() -> None:
    with pytest.raises(ConfigError, match="endpoint_url"):
        load_config(base(), endpoint_url="ftp://x")


def test_amplifyconfiguration_key_paths(in_tmp: Path) -> None:
    doc = {"auth": {"plugins": {"awsCognitoAuthPlugin": base()}}}
    del doc["auth"]["plugins"]["awsCognitoAuthPlugin"]["CognitoUserPool"]["Default"]["AppClientId"]
    check_file_and_mapping(
        in_tmp, doc, f"auth.plugins.awsCognitoAuthPlugin.{UP}.AppClientId", "missing"
    )
    check_file_and_mapping(
        in_tmp, {"auth": {"plugins": {}}}, "auth.plugins.awsCognitoAuthPlugin", "missing"
    )


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("aws_region", None, "missing"),
        ("user_pool_id", None, "missing"),
        ("user_pool_client_id", None, "missing"),
        ("user_pool_client_id", 5, "must be a string"),
        ("identity_pool_id", "eu-west-1:4b2a6a8c-1f0e-4c8b-9d6e-0a1b2c3d4e5f", "in region"),
        ("unauthenticated_identities_enabled", "yes", "must be a boolean, not a string"),
        ("oauth", "x", "must be an object"),
        ("providers", {"user_pool": None}, "must be a string, not null"),
    ],
)
def test_gen2_faults(in_tmp: Path, key: str, value: Any, problem: str) -> None:
    doc = gen2()
    if value is None:
        del doc["auth"][key]
    else:
        doc["auth"][key] = value
    where = f"auth.{key}" if key != "providers" else "auth.providers.user_pool"
    check_file_and_mapping(in_tmp, doc, where, problem)


def test_neither_pool(in_tmp: Path) -> None:
    doc = {"CognitoUserPool": None, "CredentialsProvider": None}
    err = error_for(doc)
    assert err.message.startswith("<mapping>: neither a user pool")
    plugin_only_auth: dict[str, Any] = {
        "auth": {"plugins": {"awsCognitoAuthPlugin": {"Auth": {"Default": {}}}}}
    }
    assert "neither a user pool" in error_for(plugin_only_auth).message


@pytest.mark.parametrize("doc", [{}, {"Version": "1.0"}, {"auth": {"foo": 1}}, {"auth": "x"}])
def test_unknown_format_names_the_accepted_ones(in_tmp: Path, doc: Any) -> None:
    Path("config.json").write_text(json.dumps(doc), encoding="utf-8")
    err = error_for("config.json")
    assert err.message.startswith("config.json: unknown configuration format")
    for name in ("awsconfiguration.json", "amplifyconfiguration.json", "amplify_outputs.json"):
        assert name in err.message


@pytest.mark.parametrize("doc", [[], "text", 3, None])
def test_top_level_must_be_an_object(in_tmp: Path, doc: Any) -> None:
    Path("c.json").write_text(json.dumps(doc), encoding="utf-8")
    assert error_for("c.json").message.startswith("c.json: the top level must be a JSON object")


def test_malformed_json_names_file_and_position(in_tmp: Path) -> None:
    text = '{\n  "CognitoUserPool": {\n    "Default": {"AppClientSecret": "' + SECRET + '",}\n'
    Path("awsconfiguration.json").write_text(text, encoding="utf-8")
    err = error_for("awsconfiguration.json")
    assert err.message.startswith("awsconfiguration.json: malformed JSON at line 3")


def test_missing_file(in_tmp: Path) -> None:
    err = error_for(Path("nowhere.json"))
    assert err.message.startswith("nowhere.json: cannot read the file")


def test_directory_instead_of_file(in_tmp: Path) -> None:
    os.mkdir("adir")
    assert error_for("adir").message.startswith("adir: cannot read the file")


def test_not_utf8(in_tmp: Path) -> None:
    Path("latin.json").write_bytes(b'{"x": "\xe9\xff"}')
    assert error_for("latin.json").message == "latin.json: the file is not UTF-8 text"


def test_unsupported_source_type() -> None:
    with pytest.raises(ConfigError, match="cannot load a configuration from a int"):
        load_config(42)  # type: ignore[arg-type]


def test_secret_not_echoed_even_when_misplaced(in_tmp: Path) -> None:
    """A secret pasted into the wrong key is not repeated by the message."""
    doc = base()
    doc["CognitoUserPool"]["Default"]["PoolId"] = SECRET
    doc["CognitoUserPool"]["Default"]["Endpoint"] = SECRET + " !"
    check_file_and_mapping(in_tmp, copy.deepcopy(doc), f"{UP}.PoolId", "not a user pool id")
    doc = base()
    doc["Auth"] = {"Default": {"authenticationFlowType": SECRET}}
    check_file_and_mapping(in_tmp, doc, "Auth.Default.authenticationFlowType", "not supported")


def test_absolute_path_is_named_in_full(tmp_path: Path) -> None:
    path = tmp_path / "awsconfiguration.json"
    path.write_text("{", encoding="utf-8")
    assert str(path) in error_for(path).message
