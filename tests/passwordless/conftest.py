"""Fixtures for choice-based and passwordless sign-in through ``AuthClient``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from auth_testkit import confirmed_user

from fsm_auth import AuthClient
from fsm_auth.emulator import Emulator, Provisioned

PASSWORD = "Correct-Horse-9!"
FIRST_FACTORS = ("PASSWORD", "EMAIL_OTP", "SMS_OTP")


@pytest.fixture
def otp_pool(emulator: Emulator) -> Provisioned:
    """A pool whose users may sign in with a password or a code by e-mail or SMS, with an
    identity pool; its custom challenge is a code the emulator sends."""
    return emulator.provision(first_factors=FIRST_FACTORS)


@pytest.fixture
def otp_client(make_client: Callable[..., AuthClient], otp_pool: Provisioned) -> AuthClient:
    """A client of :func:`otp_pool` (identity pool included)."""
    return make_client(otp_pool.aws_configuration())


def otp_user(emulator: Emulator, pool: Provisioned, name: str, *, phone: bool = True) -> str:
    """A confirmed user with a password, a verified e-mail and (``phone``) a verified phone."""
    confirmed_user(emulator, pool, name, PASSWORD)
    if phone:
        admin: Any = emulator.admin_client()
        admin.admin_update_user_attributes(
            UserPoolId=pool.user_pool_id,
            Username=name,
            UserAttributes=[
                {"Name": "phone_number", "Value": "+15555550123"},
                {"Name": "phone_number_verified", "Value": "true"},
            ],
        )
    return name
