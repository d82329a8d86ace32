"""``close()`` is a state of the client (``specs/client.yaml``): after it, every call raises
``ClientClosedError`` and the session stays saved for the next client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fsm_auth import AuthClient, ClientClosedError, MemorySessionStore, UserState
from fsm_auth.emulator import Emulator

from .conftest import PASSWORD, sign_up_confirmed

CALLS: dict[str, Callable[[AuthClient], Any]] = {
    "initialize": lambda c: c.initialize(),
    "sign_in": lambda c: c.sign_in("alice", PASSWORD),
    "confirm_sign_in": lambda c: c.confirm_sign_in("123456"),
    "sign_up": lambda c: c.sign_up("zed", PASSWORD),
    "sign_out": lambda c: c.sign_out(),
    "get_tokens": lambda c: c.get_tokens(wait=False),
    "get_aws_credentials": lambda c: c.get_aws_credentials(wait=False),
    "get_identity_id": lambda c: c.get_identity_id(),
    "get_user_attributes": lambda c: c.get_user_attributes(),
    "federated_sign_in": lambda c: c.federated_sign_in("accounts.google.com", "t"),
    "boto3_session": lambda c: c.boto3_session(),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_every_call_after_close_raises_a_clear_error(
    make_client: Callable[..., AuthClient], emulator: Emulator, call: str
) -> None:
    store = MemorySessionStore()
    client = make_client(store=store)
    sign_up_confirmed(client, emulator, "alice")
    client.sign_in("alice", PASSWORD)
    emulator.reset_requests()
    client.close()
    with pytest.raises(ClientClosedError, match="closed"):
        CALLS[call](client)
    assert emulator.requests == []
    # Nothing was lost: the session is still saved, and state can still be read.
    assert client.current_user_state is UserState.SIGNED_IN
    with make_client(store=store) as again:
        assert again.initialize() is UserState.SIGNED_IN
        assert again.username == "alice"


def test_close_is_idempotent_and_ends_waits(make_client: Callable[..., AuthClient]) -> None:
    client = make_client()
    client.close()
    client.close()
    with pytest.raises(ClientClosedError):
        client.get_tokens()


def test_the_context_manager_closes(make_client: Callable[..., AuthClient]) -> None:
    with make_client() as client:
        client.initialize()
    with pytest.raises(ClientClosedError):
        client.initialize()
