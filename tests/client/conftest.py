"""Fixtures for tests that drive ``AuthClient`` against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fsm_auth import AuthClient
from fsm_auth.emulator import Emulator, Provisioned

PASSWORD = "Correct-Horse-9!"


@pytest.fixture
def client(make_client: Callable[..., AuthClient]) -> AuthClient:
    """A client with an in-memory store, on a user pool without an identity pool."""
    return make_client(identity_pool=False)


def sign_up_confirmed(
    client: AuthClient, emulator: Emulator, username: str, password: str = PASSWORD
) -> None:
    """Register and confirm ``username`` through the client, with the emulator's code."""
    client.sign_up(username, password, attributes={"email": f"{username}@example.com"})
    client.confirm_sign_up(username, emulator.last_code(username, "sign_up"))


@pytest.fixture
def signed_in(client: AuthClient, emulator: Emulator, pool: Provisioned) -> AuthClient:
    """``client`` with user ``alice`` signed up, confirmed and signed in."""
    sign_up_confirmed(client, emulator, "alice")
    client.sign_in("alice", PASSWORD)
    return client


def wrong_code(code: str) -> str:
    """A six-digit code that is certainly not ``code``."""
    return "000000" if code != "000000" else "111111"


def pool_client(
    make_client: Callable[..., AuthClient], pool: Provisioned, flow: str = "USER_SRP_AUTH"
) -> AuthClient:
    """A client (no identity pool) on another provisioned ``pool``, signing in with ``flow``."""
    return make_client(pool.aws_configuration(flow), identity_pool=False)


@pytest.fixture(scope="session")
def admin_idp(emulator: Emulator) -> Any:
    """A boto3 ``cognito-idp`` client on the emulator (admin calls and raw checks)."""
    return emulator.admin_client()


@pytest.fixture
def secret_pool(emulator: Emulator) -> Provisioned:
    """A user pool whose app client has a client secret."""
    return emulator.provision(client_secret=True, with_identity_pool=False, bucket=None)


@pytest.fixture
def mfa_pool(emulator: Emulator) -> Provisioned:
    """A user pool with optional MFA (SMS and TOTP)."""
    return emulator.provision(mfa="OPTIONAL", with_identity_pool=False, bucket=None)
