"""Sign-in flows and the sign-in machine's guards, through AuthClient."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from fsm_auth import AuthClient, IllegalTransitionError, SignInState, UserState
from fsm_auth.emulator import Emulator, Fault, Provisioned

from .conftest import PASSWORD, pool_client, sign_up_confirmed


def test_srp_is_the_default_flow(client: AuthClient, emulator: Emulator) -> None:
    sign_up_confirmed(client, emulator, "alice")
    emulator.reset_requests()
    assert client.sign_in("alice", PASSWORD).state is SignInState.DONE
    # USER_SRP_AUTH: InitiateAuth with SRP_A, then the PASSWORD_VERIFIER answer.
    assert [r.operation for r in emulator.requests if r.service == "cognito-idp"] == [
        "InitiateAuth",
        "RespondToAuthChallenge",
    ]
    tokens = client.get_tokens()
    assert tokens.access_claims["username"] == "alice"
    assert tokens.access_claims["token_use"] == "access"
    assert tokens.id_claims["token_use"] == "id"


def test_user_password_auth_flow(
    make_client: Callable[..., AuthClient], emulator: Emulator, pool: Provisioned
) -> None:
    client = pool_client(make_client, pool, "USER_PASSWORD_AUTH")
    sign_up_confirmed(client, emulator, "bob")
    emulator.reset_requests()
    assert client.sign_in("bob", PASSWORD).state is SignInState.DONE
    assert [r.operation for r in emulator.requests if r.service == "cognito-idp"] == [
        "InitiateAuth"
    ]
    assert client.is_signed_in
    assert client.get_tokens().id_claims["cognito:username"] == "bob"


def test_custom_auth_flow(
    make_client: Callable[..., AuthClient], emulator: Emulator, pool: Provisioned
) -> None:
    client = pool_client(make_client, pool, "CUSTOM_AUTH")
    sign_up_confirmed(client, emulator, "cora")
    result = client.sign_in("cora", "")
    assert result.state is SignInState.CUSTOM_CHALLENGE
    done = client.confirm_sign_in(emulator.last_code("cora", "custom_challenge"))
    assert done.state is SignInState.DONE
    assert client.is_signed_in


def test_confirm_sign_in_without_challenge_is_illegal(
    client: AuthClient, emulator: Emulator
) -> None:
    with pytest.raises(IllegalTransitionError):
        client.confirm_sign_in("123456")
    sign_up_confirmed(client, emulator, "alice")
    client.sign_in("alice", PASSWORD)
    emulator.reset_requests()
    with pytest.raises(IllegalTransitionError):
        client.confirm_sign_in("123456")  # DONE: nothing is pending
    assert emulator.count() == 0
    assert client.is_signed_in


def test_concurrent_sign_ins_one_is_refused_as_in_progress(
    client: AuthClient, emulator: Emulator
) -> None:
    sign_up_confirmed(client, emulator, "alice")
    client.initialize()
    # Hold the first InitiateAuth at the server so that the two calls overlap for sure.
    emulator.faults.inject(Fault(operation="InitiateAuth", delay=0.3, times=1))
    outcomes: list[object] = []
    lock = threading.Lock()
    started = threading.Barrier(2)

    def sign_in() -> None:
        started.wait()
        try:
            result: object = client.sign_in("alice", PASSWORD).state
        except IllegalTransitionError as exc:
            result = exc
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=sign_in) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    done = [o for o in outcomes if o is SignInState.DONE]
    refused = [o for o in outcomes if isinstance(o, IllegalTransitionError)]
    assert (len(done), len(refused)) == (1, 1), outcomes
    assert "in progress" in str(refused[0])
    assert client.current_user_state is UserState.SIGNED_IN
    # The sign-in machine is free again afterwards.
    assert client.sign_in("alice", PASSWORD).state is SignInState.DONE


def test_a_new_sign_in_abandons_a_pending_challenge(
    make_client: Callable[..., AuthClient], emulator: Emulator, pool: Provisioned
) -> None:
    client = pool_client(make_client, pool, "CUSTOM_AUTH")
    sign_up_confirmed(client, emulator, "cora")
    assert client.sign_in("cora", "").state is SignInState.CUSTOM_CHALLENGE
    assert client.sign_in("cora", "").state is SignInState.CUSTOM_CHALLENGE
    code = emulator.last_code("cora", "custom_challenge")
    assert client.confirm_sign_in(code).state is SignInState.DONE


def test_concurrent_answers_one_is_refused(
    make_client: Callable[..., AuthClient], emulator: Emulator, pool: Provisioned
) -> None:
    client = pool_client(make_client, pool, "CUSTOM_AUTH")
    sign_up_confirmed(client, emulator, "cora")
    assert client.sign_in("cora", "").state is SignInState.CUSTOM_CHALLENGE
    code = emulator.last_code("cora", "custom_challenge")
    emulator.faults.inject(Fault(operation="RespondToAuthChallenge", delay=0.3, times=1))
    outcomes: list[object] = []
    lock = threading.Lock()
    started = threading.Barrier(2)

    def answer() -> None:
        started.wait()
        try:
            result: object = client.confirm_sign_in(code).state
        except IllegalTransitionError as exc:
            result = exc
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=answer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    done = [o for o in outcomes if o is SignInState.DONE]
    refused = [o for o in outcomes if isinstance(o, IllegalTransitionError)]
    assert (len(done), len(refused)) == (1, 1), outcomes
    assert client.is_signed_in


def test_signing_in_as_another_user_replaces_the_session(
    client: AuthClient, emulator: Emulator
) -> None:
    sign_up_confirmed(client, emulator, "alice")
    sign_up_confirmed(client, emulator, "bob")
    client.sign_in("alice", PASSWORD)
    alice = client.get_tokens()
    client.sign_in("bob", PASSWORD)
    assert client.username == "bob"
    bob = client.get_tokens()
    assert bob.username == "bob"
    assert bob.refresh_token != alice.refresh_token
    assert client.get_user_attributes()["email"] == "bob@example.com"


def test_user_pool_flows_with_an_identity_pool_configured(
    make_client: Callable[..., AuthClient], emulator: Emulator
) -> None:
    client = make_client()  # with the identity pool: sign-in also fetches AWS credentials
    sign_up_confirmed(client, emulator, "ida")
    assert client.sign_in("ida", PASSWORD).state is SignInState.DONE
    assert client.get_tokens().username == "ida"
    emulator.reset_requests()
    client.get_tokens()
    assert emulator.count() == 0
    client.sign_out()
    assert client.current_user_state in (UserState.SIGNED_OUT, UserState.GUEST)
    assert not client.is_signed_in
