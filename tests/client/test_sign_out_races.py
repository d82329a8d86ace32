"""A sign-out that lands while a sign-in waits for the service: the sign-out wins.

Named regressions of the v0.1 race: the late answer was committed after the sign-out, so the
client said ``signedOut`` while serving the user's tokens, saved a signed-in session that a
restart restored, and the next ``sign_in()`` failed on a confused sign-in machine. Now the
sign-in's commit is guarded by the sign-out epoch in the spec: the late answer is discarded (its
refresh token revoked), ``sign_in()`` raises ``SignInCancelledError``, and everything agrees.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from auth_testkit import InThread, Recorder

from fsm_auth import (
    AuthClient,
    IdentityProvider,
    MemorySessionStore,
    NotSignedInError,
    SignInCancelledError,
    SignInState,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock, Fault

from .conftest import PASSWORD, sign_up_confirmed

pytestmark = pytest.mark.timeout(60)

HELD = 1.0  # seconds the emulator holds the sign-in's answer


def _hold(emulator: Emulator, operation: str) -> Fault:
    return emulator.faults.inject(Fault(operation=operation, delay=HELD, times=1))


def _await_hit(fault: Fault) -> None:
    deadline = time.monotonic() + 10
    while fault.hits == 0:
        assert time.monotonic() < deadline, "the held request never reached the emulator"
        time.sleep(0.005)


def _everything_says_signed_out(client: AuthClient, store: MemorySessionStore) -> None:
    assert client.current_user_state is UserState.SIGNED_OUT
    assert not client.is_signed_in
    assert client.username is None
    with pytest.raises(NotSignedInError):
        client.get_tokens(wait=False)
    saved = store.scoped(client.config.config_key).load()  # the client's record in the store
    assert saved is not None
    assert saved["user"] is None


@pytest.mark.parametrize("operation", ["InitiateAuth", "RespondToAuthChallenge"])
def test_sign_out_during_sign_in_wins(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    clock: FakeClock,
    aws_config: dict[str, Any],
    operation: str,
) -> None:
    store = MemorySessionStore()
    client = make_client(identity_pool=False, store=store)
    sign_up_confirmed(client, emulator, "ann")
    client.initialize()
    recorder = Recorder()
    client.add_user_state_listener(recorder)
    emulator.reset_requests()

    held = _hold(emulator, operation)
    signing_in = InThread(client.sign_in, username="ann", password=PASSWORD)
    signing_in.start()
    _await_hit(held)
    client.sign_out()
    signing_in.join(10)

    assert isinstance(signing_in.error, SignInCancelledError)
    assert "sign_out" in str(signing_in.error) or "abandoned" in str(signing_in.error)
    _everything_says_signed_out(client, store)
    assert recorder.calls == []  # signedOut all along: nobody was told anything
    if operation == "RespondToAuthChallenge":
        # Tokens were issued after the sign-out: they were discarded and revoked.
        assert emulator.count("RevokeToken") == 1
    else:
        # Abandoned before the password proof: no further request, nothing issued.
        assert emulator.count("RespondToAuthChallenge") == 0

    # A restart restores what the client says, and a new sign-in simply works.
    restarted = make_client(identity_pool=False, store=store)
    assert restarted.initialize() is UserState.SIGNED_OUT
    assert client.sign_in("ann", PASSWORD).state is SignInState.DONE
    assert client.current_user_state is UserState.SIGNED_IN
    assert client.get_tokens(wait=False).username == "ann"


def test_sign_out_during_a_challenge_answer_wins(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    clock: FakeClock,
) -> None:
    pool = emulator.provision(mfa="OPTIONAL", with_identity_pool=False, bucket=None)
    store = MemorySessionStore()
    client = make_client(pool.aws_configuration(), identity_pool=False, store=store)
    client.sign_up("bob", PASSWORD, attributes={"email": "bob@example.com"})
    client.confirm_sign_up("bob", emulator.last_code("bob", "sign_up"))
    admin = emulator.admin_client()
    admin.admin_update_user_attributes(
        UserPoolId=pool.user_pool_id,
        Username="bob",
        UserAttributes=[{"Name": "phone_number", "Value": "+15555550100"}],
    )
    admin.admin_set_user_mfa_preference(
        UserPoolId=pool.user_pool_id,
        Username="bob",
        SMSMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    assert client.sign_in("bob", PASSWORD).state is SignInState.SMS_MFA
    held = _hold(emulator, "RespondToAuthChallenge")
    answering = InThread(client.confirm_sign_in, challenge_response=emulator.last_code("bob"))
    answering.start()
    _await_hit(held)
    client.sign_out()
    answering.join(10)

    assert isinstance(answering.error, SignInCancelledError)
    _everything_says_signed_out(client, store)
    with pytest.raises(Exception, match="pending sign-in challenge"):
        client.confirm_sign_in("123456")  # the challenge went with the sign-out


def test_sign_out_during_federated_sign_in_wins(
    make_client: Callable[..., AuthClient], emulator: Emulator, clock: FakeClock
) -> None:
    pool = emulator.provision(allow_guest=False, bucket=None)
    store = MemorySessionStore()
    client = make_client(pool.aws_configuration(), store=store)
    client.initialize()
    held = _hold(emulator, "GetCredentialsForIdentity")
    federating = InThread(
        client.federated_sign_in, provider=IdentityProvider.GOOGLE, token="google-token-of-cy"
    )
    federating.start()
    _await_hit(held)
    client.sign_out()
    federating.join(10)

    assert isinstance(federating.error, SignInCancelledError)
    _everything_says_signed_out(client, store)
    restarted = make_client(pool.aws_configuration(), store=store)
    assert restarted.initialize() is UserState.SIGNED_OUT


def test_a_sign_in_that_finishes_before_the_sign_out_is_simply_signed_out(
    signed_in: AuthClient, emulator: Emulator
) -> None:
    # The other order of the same two calls: sign-in committed, then the sign-out ends it.
    signed_in.sign_out()
    assert signed_in.current_user_state is UserState.SIGNED_OUT
    assert signed_in.sign_in("alice", PASSWORD).state is SignInState.DONE
