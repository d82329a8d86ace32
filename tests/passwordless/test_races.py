"""A sign-out that lands while a passwordless sign-in or an auto sign-in waits for the
service: the sign-out wins, as for a password sign-in (tests/client/test_sign_out_races.py)."""

from __future__ import annotations

import time

import pytest
from auth_testkit import InThread

from fsm_auth import AuthClient, NotSignedInError, SignInCancelledError, SignInState, UserState
from fsm_auth.emulator import Emulator, Fault, Provisioned

from .conftest import otp_user

pytestmark = pytest.mark.timeout(60)


def _hold(emulator: Emulator, operation: str) -> Fault:
    """The next ``operation`` is answered one second late."""
    fault = emulator.faults.inject(Fault(operation=operation, delay=1.0, times=1))
    return fault


def _await_hit(fault: Fault) -> None:
    deadline = time.monotonic() + 10
    while fault.hits == 0:
        assert time.monotonic() < deadline, "the held request never reached the emulator"
        time.sleep(0.005)


def _signed_out(client: AuthClient) -> None:
    assert client.current_user_state is UserState.SIGNED_OUT
    with pytest.raises(NotSignedInError):
        client.get_tokens(wait=False)


def test_sign_out_while_the_code_is_checked_wins(
    otp_client: AuthClient, otp_pool: Provisioned, emulator: Emulator
) -> None:
    user = otp_user(emulator, otp_pool, "ann")
    otp_client.initialize()
    otp_client.sign_in(user, auth_flow="USER_AUTH", preferred_challenge="EMAIL_OTP")
    held = _hold(emulator, "RespondToAuthChallenge")
    answering = InThread(
        otp_client.confirm_sign_in, challenge_response=emulator.last_code(user, "email_otp")
    )
    answering.start()
    _await_hit(held)

    otp_client.sign_out()
    answering.join(10)

    assert isinstance(answering.error, SignInCancelledError)
    _signed_out(otp_client)
    assert emulator.count("RevokeToken") == 1  # the late tokens were revoked
    # A new code sign-in simply works.
    otp_client.sign_in(user, auth_flow="USER_AUTH", preferred_challenge="EMAIL_OTP")
    done = otp_client.confirm_sign_in(emulator.last_code(user, "email_otp"))
    assert done.state is SignInState.DONE


def test_sign_out_during_the_auto_sign_in_wins_and_the_user_stays_confirmed(
    otp_client: AuthClient, emulator: Emulator
) -> None:
    otp_client.initialize()
    otp_client.sign_up("ann", attributes={"email": "ann@example.com"}, auto_sign_in=True)
    emulator.reset_requests()
    held = _hold(emulator, "InitiateAuth")
    confirming = InThread(
        otp_client.confirm_sign_up, username="ann", code=emulator.last_code("ann", "sign_up")
    )
    confirming.start()
    _await_hit(held)

    otp_client.sign_out()
    confirming.join(10)

    assert confirming.error is None
    result = confirming.result
    assert result is not None
    assert result.confirmed
    assert not result.signed_in
    assert isinstance(result.sign_in_error, SignInCancelledError)
    _signed_out(otp_client)
    assert emulator.count("RevokeToken") == 1
