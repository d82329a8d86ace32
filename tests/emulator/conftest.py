"""Fixtures for the emulator's own tests: plain boto3 clients against ``emulator.url``."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from fsm_auth.emulator import Emulator, Provisioned

PASSWORD = "Passw0rd!"


@pytest.fixture(scope="session")
def idp(emulator: Emulator) -> Any:
    """An unsigned cognito-idp client (as an app would use), no retries."""
    return boto3.client(
        "cognito-idp",
        region_name="us-east-1",
        endpoint_url=emulator.url,
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
    )


@pytest.fixture(scope="session")
def identity(emulator: Emulator) -> Any:
    """An unsigned cognito-identity client, no retries."""
    return boto3.client(
        "cognito-identity",
        region_name="us-east-1",
        endpoint_url=emulator.url,
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
    )


def _sign_up_confirmed(
    emulator: Emulator,
    idp: Any,
    pool: Provisioned,
    username: str = "alice",
    attributes: dict[str, str] | None = None,
) -> None:
    """Sign a user up with an e-mail and confirm with the code the emulator sent."""
    attrs = {"email": f"{username}@example.com", **(attributes or {})}
    idp.sign_up(
        ClientId=pool.client_id,
        Username=username,
        Password=PASSWORD,
        UserAttributes=[{"Name": k, "Value": v} for k, v in attrs.items()],
    )
    code = emulator.last_code(username, "sign_up")
    idp.confirm_sign_up(ClientId=pool.client_id, Username=username, ConfirmationCode=code)


def _password_sign_in(idp: Any, pool: Provisioned, username: str = "alice") -> dict[str, Any]:
    """USER_PASSWORD_AUTH; returns the whole answer."""
    answer: dict[str, Any] = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    return answer


@pytest.fixture
def user(emulator: Emulator, idp: Any, pool: Provisioned) -> str:
    """A confirmed user ``alice`` (password ``PASSWORD``) in ``pool``."""
    _sign_up_confirmed(emulator, idp, pool)
    return "alice"


@pytest.fixture
def tokens(idp: Any, pool: Provisioned, user: str) -> dict[str, Any]:
    """A fresh AuthenticationResult for ``user``."""
    result: dict[str, Any] = _password_sign_in(idp, pool, user)["AuthenticationResult"]
    return result


@pytest.fixture
def sign_up_confirmed(emulator: Emulator, idp: Any) -> Any:
    """``sign_up_confirmed(pool, username, attributes=None)``: a confirmed user."""
    return lambda pool, username="alice", attributes=None: _sign_up_confirmed(
        emulator, idp, pool, username, attributes
    )


@pytest.fixture
def password_sign_in(idp: Any) -> Any:
    """``password_sign_in(pool, username)``: the InitiateAuth answer of USER_PASSWORD_AUTH."""
    return lambda pool, username="alice": _password_sign_in(idp, pool, username)
