"""An app client with a secret: SECRET_HASH on every call, refresh included."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import pytest

from fsm_auth import AuthClient, SignInState, UserState
from fsm_auth.emulator import Emulator, FakeClock, Provisioned

from .conftest import PASSWORD, pool_client


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    """Cognito's SECRET_HASH, computed independently of the library."""
    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


NEW_PASSWORD = "Battery-Staple-7?"


@pytest.mark.parametrize("flow", ["USER_SRP_AUTH", "USER_PASSWORD_AUTH"])
def test_secret_client_whole_life(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    secret_pool: Provisioned,
    clock: FakeClock,
    flow: str,
) -> None:
    assert secret_pool.client_secret
    client = pool_client(make_client, secret_pool, flow)
    client.sign_up("Hana", PASSWORD, attributes={"email": "hana@example.com"})
    client.confirm_sign_up("Hana", emulator.last_code("Hana", "sign_up"))
    assert client.sign_in("Hana", PASSWORD).state is SignInState.DONE
    first = client.get_tokens()

    # Refresh: the hash must be computed for the user name the pool knows.
    clock.advance(3600)
    emulator.reset_requests()
    refreshed = client.get_tokens()
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert refreshed.access_token != first.access_token
    assert refreshed.expiration > first.expiration

    # Forgotten password, then sign in with the new one.
    client.sign_out(invalidate_tokens=False)
    assert client.forgot_password("Hana").code_delivery is not None
    client.confirm_forgot_password(
        "Hana", NEW_PASSWORD, emulator.last_code("Hana", "forgot_password")
    )
    assert client.sign_in("Hana", NEW_PASSWORD).state is SignInState.DONE


def test_secret_client_resend_code(
    make_client: Callable[..., AuthClient], emulator: Emulator, secret_pool: Provisioned
) -> None:
    client = pool_client(make_client, secret_pool)
    client.sign_up("ivan", PASSWORD, attributes={"email": "ivan@example.com"})
    client.resend_sign_up_code("ivan")
    client.confirm_sign_up("ivan", emulator.last_code("ivan", "sign_up"))
    assert client.sign_in("ivan", PASSWORD).state is SignInState.DONE


def test_secret_client_challenges_and_revocation(
    make_client: Callable[..., AuthClient], emulator: Emulator, admin_idp: Any
) -> None:
    pool = emulator.provision(client_secret=True, mfa="OPTIONAL", with_identity_pool=False)
    client = pool_client(make_client, pool)
    # NEW_PASSWORD_REQUIRED, answered with SECRET_HASH.
    admin_idp.admin_create_user(
        UserPoolId=pool.user_pool_id,
        Username="kim",
        UserAttributes=[
            {"Name": "email", "Value": "kim@example.com"},
            {"Name": "phone_number", "Value": "+15555550199"},
        ],
    )
    result = client.sign_in("kim", emulator.last_code("kim", "temporary_password"))
    assert result.state is SignInState.NEW_PASSWORD_REQUIRED
    assert client.confirm_sign_in(NEW_PASSWORD).state is SignInState.DONE
    # SMS_MFA, answered with SECRET_HASH.
    admin_idp.admin_set_user_mfa_preference(
        UserPoolId=pool.user_pool_id,
        Username="kim",
        SMSMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    client.sign_out(invalidate_tokens=False)
    assert client.sign_in("kim", NEW_PASSWORD).state is SignInState.SMS_MFA
    assert client.confirm_sign_in(emulator.last_code("kim", "sms_mfa")).state is SignInState.DONE
    # RevokeToken with the client secret: the refresh token is dead at the server.
    refresh_token = client.get_tokens().refresh_token
    assert refresh_token
    emulator.reset_requests()
    client.sign_out()
    assert emulator.count("RevokeToken") == 1
    assert client.current_user_state is UserState.SIGNED_OUT
    with pytest.raises(admin_idp.exceptions.NotAuthorizedException, match="revoked"):
        admin_idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={
                "REFRESH_TOKEN": refresh_token,
                "SECRET_HASH": secret_hash("kim", pool.client_id, pool.client_secret or ""),
            },
        )
