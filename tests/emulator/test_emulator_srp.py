"""USER_SRP_AUTH verified for real, with pycognito's client-side AWSSRP."""

from __future__ import annotations

from typing import Any

import pytest
from pycognito.aws_srp import AWSSRP

from fsm_auth.emulator import Emulator, Provisioned


def _srp(idp: Any, pool: Provisioned, username: str, password: str) -> AWSSRP:
    return AWSSRP(
        username=username,
        password=password,
        pool_id=pool.user_pool_id,
        client_id=pool.client_id,
        client=idp,
        client_secret=pool.client_secret,
    )


def test_srp_right_password_signs_in(idp: Any, pool: Provisioned, user: str) -> None:
    result = _srp(idp, pool, user, "Passw0rd!").authenticate_user()
    assert {"AccessToken", "IdToken", "RefreshToken"} <= set(result["AuthenticationResult"])


def test_srp_wrong_password_is_refused(idp: Any, pool: Provisioned, user: str) -> None:
    with pytest.raises(
        idp.exceptions.NotAuthorizedException, match=r"Incorrect username or password\."
    ):
        _srp(idp, pool, user, "Wr0ngPassword!").authenticate_user()


def test_srp_challenge_shape(idp: Any, pool: Provisioned, user: str) -> None:
    helper = _srp(idp, pool, user, "Passw0rd!")
    answer = idp.initiate_auth(
        ClientId=pool.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=helper.get_auth_params()
    )
    params = answer["ChallengeParameters"]
    assert answer["ChallengeName"] == "PASSWORD_VERIFIER"
    assert params["USER_ID_FOR_SRP"] == user
    assert int(params["SRP_B"], 16) > 0
    assert int(params["SALT"], 16) > 0
    # A signature made for another secret block does not verify.
    forged = helper.process_challenge(params, {"USERNAME": user})
    forged["PASSWORD_CLAIM_SIGNATURE"] = forged["PASSWORD_CLAIM_SIGNATURE"][::-1]
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.respond_to_auth_challenge(
            ClientId=pool.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=forged
        )


def test_srp_unconfirmed_user_is_told_after_the_password(idp: Any, pool: Provisioned) -> None:
    idp.sign_up(ClientId=pool.client_id, Username="uncle", Password="Passw0rd!")
    with pytest.raises(idp.exceptions.UserNotConfirmedException):
        _srp(idp, pool, "uncle", "Passw0rd!").authenticate_user()


def test_srp_and_refresh_with_client_secret(
    emulator: Emulator, idp: Any, sign_up_confirmed: Any
) -> None:
    pool = emulator.provision(client_secret=True, with_identity_pool=False, bucket=None)
    assert pool.client_secret is not None
    secret_hash = AWSSRP.get_secret_hash("sec", pool.client_id, pool.client_secret)
    idp.sign_up(
        ClientId=pool.client_id, SecretHash=secret_hash, Username="sec", Password="Passw0rd!"
    )
    idp.confirm_sign_up(
        ClientId=pool.client_id,
        SecretHash=secret_hash,
        Username="sec",
        ConfirmationCode=emulator.last_code("sec"),
    )
    result = _srp(idp, pool, "sec", "Passw0rd!").authenticate_user()["AuthenticationResult"]
    refreshed = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": result["RefreshToken"], "SECRET_HASH": secret_hash},
    )
    assert "AccessToken" in refreshed["AuthenticationResult"]
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="secret hash"):
        idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_SRP_AUTH",
            AuthParameters={"USERNAME": "sec", "SRP_A": "abc", "SECRET_HASH": "bad"},
        )


def test_user_password_auth_rejects_wrong_password(idp: Any, pool: Provisioned, user: str) -> None:
    with pytest.raises(
        idp.exceptions.NotAuthorizedException, match=r"Incorrect username or password\."
    ):
        idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user, "PASSWORD": "nope"},
        )


def test_auth_flow_must_be_enabled_for_the_client(
    emulator: Emulator, idp: Any, sign_up_confirmed: Any
) -> None:
    pool = emulator.provision(
        auth_flows=("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"),
        with_identity_pool=False,
        bucket=None,
    )
    sign_up_confirmed(pool, "ivan")
    with pytest.raises(idp.exceptions.InvalidParameterException, match="not enabled"):
        idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ivan", "PASSWORD": "Passw0rd!"},
        )


def test_sign_up_with_secret_needs_secret_hash(emulator: Emulator, idp: Any) -> None:
    pool = emulator.provision(client_secret=True, with_identity_pool=False, bucket=None)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="secret hash"):
        idp.sign_up(ClientId=pool.client_id, Username="nohash", Password="Passw0rd!")


def test_change_password_checks_the_current_one(
    idp: Any, pool: Provisioned, tokens: dict[str, Any], user: str, password_sign_in: Any
) -> None:
    with pytest.raises(
        idp.exceptions.NotAuthorizedException, match=r"Incorrect username or password\."
    ):
        idp.change_password(
            AccessToken=tokens["AccessToken"],
            PreviousPassword="Wr0ngPassword!",
            ProposedPassword="N3wPassw0rd!",
        )
    idp.change_password(
        AccessToken=tokens["AccessToken"],
        PreviousPassword="Passw0rd!",
        ProposedPassword="N3wPassw0rd!",
    )
    assert _srp(idp, pool, user, "N3wPassw0rd!").authenticate_user()["AuthenticationResult"]
