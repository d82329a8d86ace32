"""Answers the emulator cannot give by itself, injected at the HTTP level (``Fault(answer=...)``):
a device challenge for a client that remembers no device, and tokens that are not the pool's."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from fsm_auth import AuthClient, InvalidParameterError, NotAuthorizedError, UserState
from fsm_auth.emulator import Emulator, Fault

from .conftest import PASSWORD, sign_up_confirmed


def test_a_device_challenge_without_a_remembered_device_is_a_clear_error(
    client: AuthClient, emulator: Emulator
) -> None:
    # DEVICE_SRP_AUTH is declared (answered by the provider from the remembered device); a
    # service that asks it of a client remembering no device gets a clear refusal.
    sign_up_confirmed(client, emulator, "dora")
    emulator.faults.inject(
        Fault(
            operation="RespondToAuthChallenge",
            times=1,
            answer={
                "ChallengeName": "DEVICE_SRP_AUTH",
                "Session": "session",
                "ChallengeParameters": {"USERNAME": "dora"},
            },
        )
    )
    with pytest.raises(InvalidParameterError, match="remembers no device"):
        client.sign_in("dora", PASSWORD)
    assert client.current_user_state is UserState.SIGNED_OUT
    # The sign-in machine is not stuck: the next sign-in works.
    assert client.sign_in("dora", PASSWORD).state.value == "DONE"


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'kid': 'forged'})}.{part(claims)}.c2lnbmF0dXJl"


def test_tokens_that_do_not_verify_are_refused(client: AuthClient, emulator: Emulator) -> None:
    sign_up_confirmed(client, emulator, "eve")
    now = int(time.time())
    claims = {"sub": "x", "username": "eve", "exp": now + 3600, "iat": now}
    forged = {
        "AuthenticationResult": {
            "IdToken": _unsigned_jwt({**claims, "token_use": "id"}),
            "AccessToken": _unsigned_jwt({**claims, "token_use": "access"}),
            "RefreshToken": "refresh",
            "ExpiresIn": 3600,
            "TokenType": "Bearer",
        }
    }
    emulator.faults.inject(Fault(operation="RespondToAuthChallenge", times=1, answer=forged))
    with pytest.raises(NotAuthorizedError) as caught:
        client.sign_in("eve", PASSWORD)
    assert "eyJ" not in str(caught.value)
    assert client.current_user_state is UserState.SIGNED_OUT
    assert client.sign_in("eve", PASSWORD).state.value == "DONE"
