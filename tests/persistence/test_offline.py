"""The offline matrix: the emulator stopped (or the connection dropped) at each network step.

Every step raises NetworkError and changes nothing (state, listeners, the saved refresh token);
sign-out still signs out locally. After the emulator is back, the next call works normally.
Valid cached tokens and credentials keep being served while offline.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient, IdentityProvider, NetworkError, UserState
from fsm_auth.emulator import Emulator, FakeClock, Fault

from .conftest import (
    PASSWORD,
    MakeClient,
    StateLog,
    client_warnings,
    file_store,
    register,
    signed_in_client,
    state_of,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["AuthClient", "AsyncAuthClient"])
def client_kind(request: pytest.FixtureRequest) -> str:
    """Each test with both clients: the asyncio one behaves as the synchronous one."""
    return str(request.param)


HOUR = 3600.0


def _saved_refresh_token(storage_dir: Path, config: dict[str, Any]) -> str | None:
    doc = file_store(storage_dir, config).load() or {}
    return ((doc.get("user") or {}).get("tokens") or {}).get("refresh_token")


def _listening(client: AuthClient) -> StateLog:
    log = StateLog()
    client.add_user_state_listener(log)
    return log


def _refreshes_normally(client: AuthClient, emulator: Emulator, clock: FakeClock) -> None:
    """The refresh token survived: once the tokens expire, one refresh, still signed in."""
    before = client.get_tokens()
    clock.advance(before.expiration.timestamp() - clock.now + 60)
    refreshes = emulator.count("GetTokensFromRefreshToken")
    after = client.get_tokens()
    assert emulator.count("GetTokensFromRefreshToken") - refreshes == 1
    assert after.access_token != before.access_token
    assert after.refresh_token == before.refresh_token
    assert state_of(client) == UserState.SIGNED_IN


def test_sign_up_offline(make_client: MakeClient, emulator: Emulator) -> None:
    client = make_client()
    assert client.initialize() == UserState.SIGNED_OUT
    log = _listening(client)
    emulator.stop()
    with pytest.raises(NetworkError):
        client.sign_up("frank", PASSWORD, attributes={"email": "frank@example.com"})
    assert client.current_user_state == UserState.SIGNED_OUT
    emulator.start()
    register(client, emulator, "frank")
    client.sign_in("frank", PASSWORD)
    assert log.changes == [(UserState.SIGNED_IN, {"username": "frank"})]


def test_confirm_sign_up_offline(make_client: MakeClient, emulator: Emulator) -> None:
    client = make_client()
    client.initialize()
    client.sign_up("gina", PASSWORD, attributes={"email": "gina@example.com"})
    code = emulator.last_code("gina", "sign_up")
    log = _listening(client)
    emulator.stop()
    with pytest.raises(NetworkError):
        client.confirm_sign_up("gina", code)
    assert client.current_user_state == UserState.SIGNED_OUT
    assert log.changes == []
    emulator.start()
    assert client.confirm_sign_up("gina", code).confirmed


def test_sign_in_offline_before_initiate_auth(
    make_client: MakeClient, emulator: Emulator, storage_dir: Path
) -> None:
    client = make_client()
    client.initialize()
    register(client, emulator, "hank")
    log = _listening(client)
    emulator.stop()
    with pytest.raises(NetworkError):
        client.sign_in("hank", PASSWORD)
    assert client.current_user_state == UserState.SIGNED_OUT
    assert log.changes == []
    emulator.start()
    client.sign_in("hank", PASSWORD)
    assert state_of(client) == UserState.SIGNED_IN


def test_sign_in_connection_dropped_between_the_two_srp_steps(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    client.initialize()
    register(client, emulator, "iris")
    log = _listening(client)
    emulator.reset_requests()
    fault = emulator.faults.inject(Fault(operation="RespondToAuthChallenge", drop=True, times=1))
    with pytest.raises(NetworkError):
        client.sign_in("iris", PASSWORD)
    assert emulator.count("InitiateAuth") == 1
    assert fault.hits == 1
    assert client.current_user_state == UserState.SIGNED_OUT
    assert log.changes == []
    client.sign_in("iris", PASSWORD)
    assert state_of(client) == UserState.SIGNED_IN
    assert log.changes == [(UserState.SIGNED_IN, {"username": "iris"})]


def test_refresh_offline_keeps_the_session(
    make_client: MakeClient,
    emulator: Emulator,
    clock: FakeClock,
    storage_dir: Path,
    aws_config: dict[str, Any],
) -> None:
    client = signed_in_client(make_client, emulator)
    tokens = client.get_tokens()
    log = _listening(client)
    clock.advance(HOUR + 60)
    emulator.stop()
    for _ in range(3):
        with pytest.raises(NetworkError):
            client.get_tokens()
    assert client.current_user_state == UserState.SIGNED_IN
    assert client.username == "alice"
    assert log.changes == []
    assert _saved_refresh_token(storage_dir, aws_config) == tokens.refresh_token
    # A restart while offline still restores the (expired) session.
    assert make_client().initialize() == UserState.SIGNED_IN

    emulator.start()
    emulator.reset_requests()
    refreshed = client.get_tokens()
    assert emulator.count("GetTokensFromRefreshToken") == 1
    assert refreshed.access_token != tokens.access_token
    assert refreshed.expiration.timestamp() > clock.now
    assert client.current_user_state == UserState.SIGNED_IN
    assert log.changes == []


def test_valid_tokens_and_credentials_are_served_offline(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = signed_in_client(make_client, emulator)
    tokens = client.get_tokens()
    credentials = client.get_aws_credentials()
    emulator.stop()
    clock.advance(HOUR / 2)
    for _ in range(20):
        assert client.get_tokens() == tokens
        assert client.get_aws_credentials().access_key_id == credentials.access_key_id
    assert client.current_user_state == UserState.SIGNED_IN


def test_guest_credentials_offline_get_id(make_client: MakeClient, emulator: Emulator) -> None:
    """No identity yet: GetId is the first call; offline, the state stays signed out."""
    client = make_client()
    assert client.initialize() == UserState.SIGNED_OUT
    log = _listening(client)
    emulator.stop()
    with pytest.raises(NetworkError):
        client.get_aws_credentials()
    with pytest.raises(NetworkError):
        client.get_identity_id()
    assert client.current_user_state == UserState.SIGNED_OUT
    assert log.changes == []
    emulator.start()
    client.get_aws_credentials()
    assert state_of(client) == UserState.GUEST


def test_guest_credentials_offline_get_credentials_for_identity(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = make_client()
    client.initialize()
    first = client.get_aws_credentials()
    identity_id = client.get_identity_id()
    assert client.current_user_state == UserState.GUEST
    log = _listening(client)
    clock.advance(HOUR + 60)  # the guest's credentials expired
    emulator.stop()
    with pytest.raises(NetworkError):
        client.get_aws_credentials()
    assert client.current_user_state == UserState.GUEST
    assert client.get_identity_id() == identity_id  # known: no request needed
    assert log.changes == []
    emulator.start()
    emulator.reset_requests()
    second = client.get_aws_credentials()
    assert second.access_key_id != first.access_key_id
    assert emulator.count("GetCredentialsForIdentity") == 1
    assert emulator.count("GetId") == 0
    assert client.get_identity_id() == identity_id


def test_user_credentials_dropped_then_fetched(
    make_client: MakeClient,
    emulator: Emulator,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The prefetch at sign-in loses its connection: the sign-in stands, the credentials
    call raises NetworkError, and the next call fetches them."""
    client = make_client()
    client.initialize()
    register(client, emulator, "jack")
    emulator.faults.inject(Fault(operation="GetCredentialsForIdentity", drop=True, times=2))
    caplog.set_level(logging.WARNING)
    client.sign_in("jack", PASSWORD)
    assert client.current_user_state == UserState.SIGNED_IN
    log = _listening(client)
    with pytest.raises(NetworkError):
        client.get_aws_credentials()
    assert client.current_user_state == UserState.SIGNED_IN
    assert log.changes == []
    assert client.get_aws_credentials().access_key_id
    assert client.current_user_state == UserState.SIGNED_IN
    _refreshes_normally(client, emulator, clock)


def test_user_credentials_offline_after_expiry(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = signed_in_client(make_client, emulator)
    log = _listening(client)
    clock.advance(HOUR + 60)  # tokens and credentials both expired
    emulator.stop()
    with pytest.raises(NetworkError):
        client.get_aws_credentials()
    assert client.current_user_state == UserState.SIGNED_IN
    assert log.changes == []
    emulator.start()
    assert client.get_aws_credentials().expiration.timestamp() > clock.now
    assert client.get_tokens().expiration.timestamp() > clock.now
    _refreshes_normally(client, emulator, clock)


def test_federated_sign_in_offline(make_client: MakeClient, emulator: Emulator) -> None:
    client = make_client()
    assert client.initialize() == UserState.SIGNED_OUT
    log = _listening(client)
    emulator.stop()
    with pytest.raises(NetworkError):
        client.federated_sign_in(IdentityProvider.GOOGLE, "google-token-for-kim")
    assert client.current_user_state == UserState.SIGNED_OUT
    assert log.changes == []
    # Nothing was saved as signed in either.
    assert make_client().initialize() == UserState.SIGNED_OUT
    emulator.start()
    assert (
        client.federated_sign_in(IdentityProvider.GOOGLE, "google-token-for-kim")
        == UserState.SIGNED_IN
    )
    assert client.get_aws_credentials().access_key_id


def test_sign_out_offline_signs_out_locally(
    make_client: MakeClient, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    client = signed_in_client(make_client, emulator, identity_pool=False)
    log = _listening(client)
    emulator.stop()
    caplog.set_level(logging.WARNING)
    client.sign_out()  # the revocation fails: reported in the log, not raised
    assert client.current_user_state == UserState.SIGNED_OUT
    assert log.changes == [(UserState.SIGNED_OUT, {})]
    assert len(client_warnings(caplog)) == 1
    assert make_client(identity_pool=False).initialize() == UserState.SIGNED_OUT
    client.sign_out(global_sign_out=True)  # already signed out: nothing to call
    assert client.current_user_state == UserState.SIGNED_OUT


def test_global_sign_out_offline_signs_out_locally(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = signed_in_client(make_client, emulator, identity_pool=False)
    emulator.stop()
    client.sign_out(global_sign_out=True)
    assert client.current_user_state == UserState.SIGNED_OUT
    assert make_client(identity_pool=False).initialize() == UserState.SIGNED_OUT


def test_change_password_offline(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = signed_in_client(make_client, emulator, identity_pool=False)
    log = _listening(client)
    emulator.stop()
    with pytest.raises(NetworkError):
        client.change_password(PASSWORD, "Another-Horse-7!")
    assert client.current_user_state == UserState.SIGNED_IN
    assert log.changes == []
    emulator.start()
    _refreshes_normally(client, emulator, clock)
    client.change_password(PASSWORD, "Another-Horse-7!")
    client.sign_out()
    client.sign_in("alice", "Another-Horse-7!")
    assert client.current_user_state == UserState.SIGNED_IN


def test_get_user_attributes_offline(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock
) -> None:
    client = signed_in_client(make_client, emulator, identity_pool=False)
    tokens = client.get_tokens()
    log = _listening(client)
    emulator.stop()
    with pytest.raises(NetworkError):
        client.get_user_attributes()
    assert client.current_user_state == UserState.SIGNED_IN
    assert client.get_tokens() == tokens  # still valid, still served
    assert log.changes == []
    emulator.start()
    assert client.get_user_attributes()["email"] == "alice@example.com"
    _refreshes_normally(client, emulator, clock)
