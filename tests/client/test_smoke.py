from __future__ import annotations

from fsm_auth import AuthClient, SignInState, UserState
from fsm_auth.emulator import Emulator

from .conftest import PASSWORD, sign_up_confirmed


def test_sign_up_sign_in_tokens(client: AuthClient, emulator: Emulator) -> None:
    assert client.initialize() in (UserState.SIGNED_OUT, UserState.GUEST)
    sign_up_confirmed(client, emulator, "bob")
    result = client.sign_in("bob", PASSWORD)
    assert result.state is SignInState.DONE
    assert client.current_user_state is UserState.SIGNED_IN
    tokens = client.get_tokens()
    assert tokens.username == "bob"
    assert tokens.id_claims["cognito:username"] == "bob"
