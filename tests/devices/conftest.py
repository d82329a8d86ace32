"""Fixtures for the remembered-device tests: a pool that tracks devices and asks SMS MFA,
users with a phone and SMS MFA on, and clients on a file store (a restart is a new client on
the same directory)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient, FileSessionStore, SignInResult, SignInState
from fsm_auth.emulator import Emulator, Provisioned

PASSWORD = "Correct-Horse-9!"
PHONE = "+15555550123"


def device_pool(emulator: Emulator, tracking: str = "always", **options: Any) -> Provisioned:
    """A pool with optional MFA and device tracking (``always`` or ``user_opt_in``)."""
    return emulator.provision(
        mfa="OPTIONAL", device_tracking=tracking, with_identity_pool=False, bucket=None, **options
    )


@pytest.fixture
def pool(emulator: Emulator) -> Provisioned:
    """A pool that remembers every confirmed device."""
    return device_pool(emulator)


@pytest.fixture
def device_client(
    make_client: Callable[..., AuthClient], tmp_path: Path, no_os_keyring: None
) -> Callable[..., AuthClient]:
    """``device_client(pool, name="laptop", flow="USER_SRP_AUTH")``: a client on ``pool`` whose
    session lives in ``tmp_path/name`` (one directory per device; the same name again is the
    same device after a restart)."""

    def make(pool: Provisioned, name: str = "laptop", flow: str = "USER_SRP_AUTH") -> AuthClient:
        store = FileSessionStore(tmp_path / name)
        return make_client(pool.aws_configuration(flow), identity_pool=False, store=store)

    return make


@pytest.fixture
def sms_user(emulator: Emulator, make_client: Callable[..., AuthClient]) -> Callable[..., str]:
    """``sms_user(pool, username="mia")``: a confirmed user with a phone and SMS MFA on."""

    def make(pool: Provisioned, username: str = "mia") -> str:
        client = make_client(pool.aws_configuration(), identity_pool=False)
        client.sign_up(
            username,
            PASSWORD,
            attributes={"email": f"{username}@example.com", "phone_number": PHONE},
        )
        client.confirm_sign_up(username, emulator.last_code(username, "sign_up"))
        emulator.admin_client().admin_set_user_mfa_preference(
            UserPoolId=pool.user_pool_id,
            Username=username,
            SMSMfaSettings={"Enabled": True, "PreferredMfa": True},
        )
        return username

    return make


def sign_in_with_sms(client: AuthClient, emulator: Emulator, username: str = "mia") -> None:
    """Sign in where SMS MFA must be asked; answer it with the code the emulator sent."""
    result = client.sign_in(username, PASSWORD)
    assert result.state is SignInState.SMS_MFA
    assert client.confirm_sign_in(emulator.last_code(username, "sms_mfa")).state is (
        SignInState.DONE
    )


def sign_in_without_mfa(client: AuthClient, username: str = "mia") -> SignInResult:
    """Sign in where no challenge may reach the caller."""
    result = client.sign_in(username, PASSWORD)
    assert result.state is SignInState.DONE, result.state
    return result
