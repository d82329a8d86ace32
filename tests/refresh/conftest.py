"""Fixtures for the refresh tests: pools whose app client rotates refresh tokens (or not), a
signed-in client on them, and the saved session read as the store holds it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from auth_testkit import confirmed_user

from fsm_auth import AuthClient, UserState
from fsm_auth.emulator import Emulator, Provisioned

PASSWORD = "Correct-Horse-9!"
HOUR = 3600.0
GRACE = 60


def refreshes(emulator: Emulator) -> dict[str, int]:
    """Refresh requests the emulator has seen, by kind."""
    legacy = sum(
        1
        for r in emulator.requests
        if r.operation == "InitiateAuth"
        and r.params.get("AuthFlow") in {"REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"}
    )
    return {
        "GetTokensFromRefreshToken": emulator.count("GetTokensFromRefreshToken"),
        "legacy": legacy,
    }


@pytest.fixture
def pool(emulator: Emulator) -> Provisioned:
    """A pool whose app client rotates refresh tokens (grace ``GRACE`` s); user pool only."""
    return emulator.provision(
        refresh_token_rotation=True,
        refresh_grace_seconds=GRACE,
        with_identity_pool=False,
        bucket=None,
    )


@pytest.fixture
def signed_in(
    emulator: Emulator, pool: Provisioned, make_client: Callable[..., AuthClient]
) -> AuthClient:
    """``alice`` signed in on ``pool`` (an in-memory store)."""
    client = make_client()
    client.initialize()
    confirmed_user(emulator, pool, "alice", PASSWORD)
    client.sign_in("alice", PASSWORD)
    assert client.current_user_state is UserState.SIGNED_IN
    return client


def saved_refresh_token(document: Any) -> str | None:
    """The refresh token a saved session document holds."""
    user = (document or {}).get("user") or {}
    tokens = user.get("tokens") or {}
    token = tokens.get("refresh_token")
    return token if isinstance(token, str) else None
