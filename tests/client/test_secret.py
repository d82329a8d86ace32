"""An app client with a secret: SECRET_HASH on every call, refresh included."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fsm_auth import AuthClient, SignInState
from fsm_auth.emulator import Emulator, FakeClock, Provisioned

from .conftest import PASSWORD, pool_client

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
    assert emulator.count("InitiateAuth") == 1
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

