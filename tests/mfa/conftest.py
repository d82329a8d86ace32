"""Fixtures for MFA management through ``AuthClient`` against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from auth_testkit import confirmed_user

from fsm_auth import AuthClient
from fsm_auth.emulator import Emulator, Provisioned

PASSWORD = "Correct-Horse-9!"
PHONE = "+15555550123"


def client_on(make_client: Callable[..., AuthClient], pool: Provisioned) -> AuthClient:
    """A client (no identity pool) on ``pool``."""
    return make_client(pool.aws_configuration(), identity_pool=False)


def user_with_phone(emulator: Emulator, pool: Provisioned, name: str) -> str:
    """A confirmed user with a verified e-mail and a phone number."""
    confirmed_user(emulator, pool, name, PASSWORD)
    emulator.admin_client().admin_update_user_attributes(
        UserPoolId=pool.user_pool_id,
        Username=name,
        UserAttributes=[{"Name": "phone_number", "Value": PHONE}],
    )
    return name


@pytest.fixture
def optional_pool(emulator: Emulator) -> Provisioned:
    """Optional MFA, offering SMS, TOTP and e-mail."""
    return emulator.provision(
        mfa="OPTIONAL", mfa_types=("SMS", "TOTP", "EMAIL"), with_identity_pool=False, bucket=None
    )


@pytest.fixture
def admin(emulator: Emulator) -> Any:
    """A boto3 ``cognito-idp`` client on the emulator."""
    return emulator.admin_client()
