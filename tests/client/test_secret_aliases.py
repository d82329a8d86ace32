"""An app client with a secret on pools where users sign in with their e-mail (issue 3).

pycognito's issue #196: with a client secret and an e-mail sign-in, the refresh's SECRET_HASH
must be computed for the internal user name (the access token's ``username``, a UUID in a
pool with UsernameAttributes), not the e-mail the user typed. The emulator refuses an
e-mail-based refresh hash, so a refresh that works here proves the client hashes the right name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from fsm_auth import AuthClient, SignInState, UserState
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.session import MemorySessionStore

from .conftest import PASSWORD, pool_client

EMAIL = "hana@example.com"
NEW_PASSWORD = "Battery-Staple-7?"


@pytest.fixture
def email_secret_pool(emulator: Emulator) -> Provisioned:
    """Users sign up and in with their e-mail (UUID user names); the client has a secret."""
    return emulator.provision(
        username_attributes=("email",), client_secret=True, with_identity_pool=False, bucket=None
    )


@pytest.fixture
def alias_secret_pool(emulator: Emulator) -> Provisioned:
    """Users pick a user name and may sign in with their verified e-mail; with a secret."""
    return emulator.provision(
        alias_attributes=("email",), client_secret=True, with_identity_pool=False, bucket=None
    )


def _sign_up_confirmed(client: AuthClient, emulator: Emulator) -> str:
    """Sign up and confirm with the e-mail as user name; the user's sub (= internal name)."""
    result = client.sign_up(EMAIL, PASSWORD, attributes={"email": EMAIL})
    assert result.user_sub is not None
    assert result.code_delivery is not None
    client.confirm_sign_up(EMAIL, emulator.last_code(EMAIL, "sign_up"))
    return result.user_sub


def _refreshes_once(client: AuthClient, emulator: Emulator, clock: FakeClock) -> None:
    """Past the access token's expiry, ``get_tokens()`` refreshes with one request."""
    first = client.get_tokens()
    clock.advance(3600)
    emulator.reset_requests()
    # wait=False: a refused refresh raises at once instead of waiting for a new sign-in.
    refreshed = client.get_tokens(wait=False)
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert emulator.count() == 1
    assert refreshed.access_token != first.access_token
    assert refreshed.expiration > first.expiration
    assert refreshed.username == first.username


@pytest.mark.parametrize("flow", ["USER_SRP_AUTH", "USER_PASSWORD_AUTH"])
def test_email_sign_in_with_a_secret_refreshes_for_the_internal_name(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    email_secret_pool: Provisioned,
    clock: FakeClock,
    flow: str,
) -> None:
    client = pool_client(make_client, email_secret_pool, flow)
    sub = _sign_up_confirmed(client, emulator)
    assert str(uuid.UUID(sub)) == sub
    assert client.sign_in(EMAIL, PASSWORD).state is SignInState.DONE
    tokens = client.get_tokens()
    assert tokens.username == sub
    assert tokens.id_claims["email"] == EMAIL

    _refreshes_once(client, emulator, clock)
    assert client.current_user_state is UserState.SIGNED_IN

    # Forgotten password with the e-mail, then sign in with the new one.
    client.sign_out(invalidate_tokens=False)
    assert client.forgot_password(EMAIL).code_delivery is not None
    client.confirm_forgot_password(
        EMAIL, NEW_PASSWORD, emulator.last_code(EMAIL, "forgot_password")
    )
    assert client.sign_in(EMAIL, NEW_PASSWORD).state is SignInState.DONE
    assert client.get_tokens().username == sub


def test_a_restored_email_session_with_a_secret_refreshes(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    email_secret_pool: Provisioned,
    clock: FakeClock,
) -> None:
    store = MemorySessionStore()
    config = email_secret_pool.aws_configuration()
    first = make_client(config, identity_pool=False, store=store)
    sub = _sign_up_confirmed(first, emulator)
    assert first.sign_in(EMAIL, PASSWORD).state is SignInState.DONE
    old = first.get_tokens()
    first.close()
    clock.advance(2 * 3600)
    emulator.reset_requests()
    second = make_client(config, identity_pool=False, store=store)
    assert second.initialize() is UserState.SIGNED_IN
    fresh = second.get_tokens(wait=False)
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert fresh.access_token != old.access_token
    assert fresh.username == sub


def test_email_sign_in_challenges_with_a_secret(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    clock: FakeClock,
    admin_idp: Any,
) -> None:
    pool = emulator.provision(
        username_attributes=("email",),
        client_secret=True,
        mfa="OPTIONAL",
        with_identity_pool=False,
        bucket=None,
    )
    client = pool_client(make_client, pool)
    created = admin_idp.admin_create_user(
        UserPoolId=pool.user_pool_id,
        Username=EMAIL,
        UserAttributes=[{"Name": "phone_number", "Value": "+15555550142"}],
    )
    sub = created["User"]["Username"]
    assert sub != EMAIL
    # NEW_PASSWORD_REQUIRED answered for the internal name.
    result = client.sign_in(EMAIL, emulator.last_code(sub, "temporary_password"))
    assert result.state is SignInState.NEW_PASSWORD_REQUIRED
    assert client.confirm_sign_in(NEW_PASSWORD).state is SignInState.DONE
    # SMS_MFA answered for the internal name.
    admin_idp.admin_set_user_mfa_preference(
        UserPoolId=pool.user_pool_id,
        Username=sub,
        SMSMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    client.sign_out(invalidate_tokens=False)
    assert client.sign_in(EMAIL, NEW_PASSWORD).state is SignInState.SMS_MFA
    assert client.confirm_sign_in(emulator.last_code(sub, "sms_mfa")).state is SignInState.DONE
    assert client.get_tokens().username == sub
    _refreshes_once(client, emulator, clock)


@pytest.mark.parametrize("flow", ["USER_SRP_AUTH", "USER_PASSWORD_AUTH"])
def test_alias_sign_in_with_a_secret_refreshes_for_the_user_name(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    alias_secret_pool: Provisioned,
    clock: FakeClock,
    flow: str,
) -> None:
    client = pool_client(make_client, alias_secret_pool, flow)
    client.sign_up("hana", PASSWORD, attributes={"email": EMAIL})
    client.confirm_sign_up("hana", emulator.last_code("hana", "sign_up"))
    assert client.sign_in(EMAIL, PASSWORD).state is SignInState.DONE
    assert client.get_tokens().username == "hana"
    _refreshes_once(client, emulator, clock)
    client.sign_out(invalidate_tokens=False)
    assert client.forgot_password(EMAIL).code_delivery is not None
    client.confirm_forgot_password(
        EMAIL, NEW_PASSWORD, emulator.last_code(EMAIL, "forgot_password")
    )
    assert client.sign_in(EMAIL, NEW_PASSWORD).state is SignInState.DONE
