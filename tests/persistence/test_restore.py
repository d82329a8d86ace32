"""Restores: a new client over the same storage_dir, with the emulator stopped (offline)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient, IdentityProvider, NotSignedInError, UserState
from fsm_auth.emulator import Emulator, FakeClock

from .conftest import (
    PASSWORD,
    MakeClient,
    StateLog,
    client_warnings,
    file_mode,
    file_store,
    register,
    session_path,
    signed_in_client,
    state_of,
)

pytestmark = pytest.mark.timeout(60)

HOUR = 3600.0


def test_restore_signed_in_offline_then_refresh_online(
    make_client: MakeClient,
    emulator: Emulator,
    clock: FakeClock,
    storage_dir: Path,
    aws_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = signed_in_client(make_client, emulator)
    tokens = first.get_tokens()
    credentials = first.get_aws_credentials()
    identity_id = first.get_identity_id()
    first.close()

    emulator.reset_requests()
    emulator.stop()
    caplog.set_level(logging.WARNING)
    restored = make_client()
    log = StateLog()
    restored.add_user_state_listener(log)
    assert restored.initialize() == UserState.SIGNED_IN
    assert restored.username == "alice"
    assert log.changes == [(UserState.SIGNED_IN, {"username": "alice"})]
    # Served offline: the tokens were verified again against the JWKS kept in the session.
    again = restored.get_tokens()
    assert again.access_token == tokens.access_token
    assert again.id_token == tokens.id_token
    assert again.refresh_token == tokens.refresh_token
    assert again.id_claims["cognito:username"] == "alice"
    assert restored.get_aws_credentials().access_key_id == credentials.access_key_id
    assert restored.get_identity_id() == identity_id
    assert emulator.requests == []
    assert client_warnings(caplog) == []

    clock.advance(HOUR + 60)
    emulator.start()
    refreshed = restored.get_tokens()
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert refreshed.access_token != tokens.access_token
    assert refreshed.expiration.timestamp() > clock.now + HOUR - 120
    assert restored.current_user_state == UserState.SIGNED_IN
    # The refreshed session was saved: the next restart restores it.
    assert file_store(storage_dir, aws_config).load() is not None
    emulator.stop()
    later = make_client()
    assert later.initialize() == UserState.SIGNED_IN
    assert later.get_tokens().access_token == refreshed.access_token


def test_restore_makes_no_request_with_the_emulator_running(
    make_client: MakeClient, emulator: Emulator
) -> None:
    signed_in_client(make_client, emulator).close()
    emulator.reset_requests()
    restored = make_client()
    assert restored.initialize() == UserState.SIGNED_IN
    restored.get_tokens()
    restored.get_aws_credentials()
    assert emulator.requests == []


def test_restored_tokens_are_verified_again(
    make_client: MakeClient,
    emulator: Emulator,
    storage_dir: Path,
    aws_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    signed_in_client(make_client, emulator).close()
    store = file_store(storage_dir, aws_config)
    doc = store.load()
    assert doc is not None
    assert doc["user"]["tokens"]
    header, payload, signature = doc["user"]["tokens"]["access_token"].split(".")
    # Authentic file, forged token: a different payload under the old signature.
    forged = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    doc["user"]["tokens"]["access_token"] = ".".join((header, forged, signature))
    store.save(doc)

    emulator.stop()
    caplog.set_level(logging.WARNING)
    restored = make_client()
    assert restored.initialize() == UserState.SIGNED_OUT
    assert len(client_warnings(caplog)) == 1
    with pytest.raises(NotSignedInError):
        restored.get_tokens(wait=False)


def test_restore_after_sign_out(make_client: MakeClient, emulator: Emulator) -> None:
    client = signed_in_client(make_client, emulator, identity_pool=False)
    client.sign_out()
    assert client.current_user_state == UserState.SIGNED_OUT
    client.close()

    emulator.stop()
    restored = make_client(identity_pool=False)
    assert restored.initialize() == UserState.SIGNED_OUT
    assert restored.username is None
    with pytest.raises(NotSignedInError):
        restored.get_tokens(wait=False)


def test_restore_after_sign_out_with_guest_access_known(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    assert client.initialize() == UserState.SIGNED_OUT
    client.get_aws_credentials()
    assert client.current_user_state == UserState.GUEST
    register(client, emulator, "bob")
    client.sign_in("bob", PASSWORD)
    assert state_of(client) == UserState.SIGNED_IN
    client.sign_out()
    assert client.current_user_state == UserState.GUEST
    client.close()

    emulator.stop()
    restored = make_client()
    assert restored.initialize() == UserState.GUEST
    assert restored.username is None
    with pytest.raises(NotSignedInError):
        restored.get_tokens(wait=False)


def test_restore_guest_offline(make_client: MakeClient, emulator: Emulator) -> None:
    client = make_client()
    assert client.initialize() == UserState.SIGNED_OUT
    credentials = client.get_aws_credentials()
    assert client.current_user_state == UserState.GUEST
    identity_id = client.get_identity_id()
    client.close()

    emulator.reset_requests()
    emulator.stop()
    restored = make_client()
    assert restored.initialize() == UserState.GUEST
    assert restored.get_identity_id() == identity_id
    served = restored.get_aws_credentials()
    assert served.access_key_id == credentials.access_key_id
    assert served.expiration == credentials.expiration
    assert restored.current_user_state == UserState.GUEST
    assert emulator.requests == []


def test_restore_federated_offline(make_client: MakeClient, emulator: Emulator) -> None:
    client = make_client()
    client.initialize()
    state = client.federated_sign_in(IdentityProvider.GOOGLE, "google-id-token-for-carol")
    assert state == UserState.SIGNED_IN
    credentials = client.get_aws_credentials()
    identity_id = client.get_identity_id()
    client.close()

    emulator.reset_requests()
    emulator.stop()
    restored = make_client()
    assert restored.initialize() == UserState.SIGNED_IN
    assert restored.get_identity_id() == identity_id
    assert restored.get_aws_credentials().access_key_id == credentials.access_key_id
    with pytest.raises(NotSignedInError):
        restored.get_tokens(wait=False)
    assert emulator.requests == []


def test_configuration_change_keeps_the_old_session(
    make_client: MakeClient,
    emulator: Emulator,
    storage_dir: Path,
    aws_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    signed_in_client(make_client, emulator).close()
    assert session_path(storage_dir, aws_config).exists()
    other = emulator.provision().aws_configuration()

    emulator.stop()
    caplog.set_level(logging.WARNING)
    moved = make_client(other)
    assert moved.initialize() == UserState.SIGNED_OUT
    assert moved.username is None
    assert client_warnings(caplog) == []
    # Another configuration's session is neither read nor wiped (fsm-auth 0.1 wiped it):
    # the old configuration finds it again.
    assert session_path(storage_dir, aws_config).exists()
    back = make_client(aws_config)
    assert back.initialize() == UserState.SIGNED_IN


def test_restores_are_independent_of_the_client_instance(
    make_client: MakeClient, emulator: Emulator
) -> None:
    """Two restores in a row, each a new client: the first does not consume the session."""
    signed_in_client(make_client, emulator, "dave").close()
    emulator.stop()
    clients: list[AuthClient] = [make_client() for _ in range(2)]
    assert [c.initialize() for c in clients] == [UserState.SIGNED_IN] * 2
    assert clients[0].get_tokens() == clients[1].get_tokens()


def test_default_store_under_storage_dir(
    emulator: Emulator,
    clock: FakeClock,
    storage_dir: Path,
    aws_config: dict[str, Any],
    no_os_keyring: None,
) -> None:
    """``from_config(storage_dir=...)``: the default encrypted store, as an app builds it."""
    with AuthClient.from_config(aws_config, storage_dir=storage_dir, clock=clock) as client:
        client.initialize()
        register(client, emulator, "olga")
        client.sign_in("olga", PASSWORD)
        tokens = client.get_tokens()
    assert session_path(storage_dir, aws_config).exists()
    assert file_mode(storage_dir / "key") == 0o600
    emulator.stop()
    with AuthClient.from_config(aws_config, storage_dir=storage_dir, clock=clock) as restored:
        assert restored.initialize() == UserState.SIGNED_IN
        assert restored.username == "olga"
        assert restored.get_tokens() == tokens
