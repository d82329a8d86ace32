"""CUSTOM_AUTH over HTTP, with boto3: the provisioned rounds (questions, answers, codes) and
SRP first when AuthParameters say CHALLENGE_NAME=SRP_A (clients' CUSTOM_WITH_SRP)."""

from __future__ import annotations

from typing import Any

import pytest
from pycognito.aws_srp import AWSSRP

from fsm_auth.emulator import Emulator, FakeClock, Provisioned

PASSWORD = "Passw0rd!"
ROUNDS = (
    {"parameters": {"question": "2 + 2?"}, "answer": "4"},
    {"parameters": {"question": "Your code", "hint": "by e-mail"}, "answer": None},
    {"parameters": {}, "answer": "blue"},
)


@pytest.fixture
def rounds_pool(emulator: Emulator) -> Provisioned:
    return emulator.provision(custom_challenges=ROUNDS, with_identity_pool=False, bucket=None)


def _answer(idp: Any, pool: Provisioned, challenge: dict[str, Any], answer: str) -> dict[str, Any]:
    result: dict[str, Any] = idp.respond_to_auth_challenge(
        ClientId=pool.client_id,
        ChallengeName="CUSTOM_CHALLENGE",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "cora", "ANSWER": answer},
    )
    return result


def _custom(idp: Any, pool: Provisioned, **auth: str) -> dict[str, Any]:
    answer: dict[str, Any] = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="CUSTOM_AUTH",
        AuthParameters={"USERNAME": "cora", **auth},
    )
    return answer


def _rounds_to_tokens(
    emulator: Emulator, idp: Any, pool: Provisioned, first: dict[str, Any]
) -> dict[str, Any]:
    """Answer the three rounds of ROUNDS (a wrong answer first in each); the tokens."""
    assert first["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert first["ChallengeParameters"] == {"question": "2 + 2?", "USERNAME": "cora"}
    with pytest.raises(idp.exceptions.CodeMismatchException):
        _answer(idp, pool, first, "5")
    second = _answer(idp, pool, first, "4")
    assert second["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert second["Session"] != first["Session"]
    assert second["ChallengeParameters"] == {
        "question": "Your code",
        "hint": "by e-mail",
        "USERNAME": "cora",
    }
    sent = emulator.codes[-1]
    assert (sent.kind, sent.destination) == ("custom_challenge", "cora@example.com")
    with pytest.raises(idp.exceptions.CodeMismatchException):
        _answer(idp, pool, second, "0" * 6 if sent.code != "0" * 6 else "1" * 6)
    third = _answer(idp, pool, second, sent.code)
    assert third["ChallengeParameters"] == {"USERNAME": "cora"}
    with pytest.raises(idp.exceptions.CodeMismatchException):
        _answer(idp, pool, third, "4")
    done = _answer(idp, pool, third, "blue")
    assert "ChallengeName" not in done
    # The last round, answered, cannot be answered again.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        _answer(idp, pool, third, "blue")
    return done


def test_custom_rounds_in_order_to_tokens(
    emulator: Emulator, idp: Any, rounds_pool: Provisioned, sign_up_confirmed: Any
) -> None:
    sign_up_confirmed(rounds_pool, "cora")
    done = _rounds_to_tokens(emulator, idp, rounds_pool, _custom(idp, rounds_pool))
    access = done["AuthenticationResult"]["AccessToken"]
    assert idp.get_user(AccessToken=access)["Username"] == "cora"


def test_srp_a_without_challenge_name_goes_straight_to_the_rounds(
    emulator: Emulator, idp: Any, rounds_pool: Provisioned, sign_up_confirmed: Any
) -> None:
    sign_up_confirmed(rounds_pool, "cora")
    helper = AWSSRP("cora", PASSWORD, rounds_pool.user_pool_id, rounds_pool.client_id, client=idp)
    first = _custom(idp, rounds_pool, SRP_A=helper.get_auth_params()["SRP_A"])
    assert first["ChallengeName"] == "CUSTOM_CHALLENGE"


def test_custom_with_srp_asks_the_password_first(
    emulator: Emulator, idp: Any, rounds_pool: Provisioned, sign_up_confirmed: Any
) -> None:
    sign_up_confirmed(rounds_pool, "cora")
    with pytest.raises(
        idp.exceptions.InvalidParameterException, match="Missing required parameter SRP_A"
    ):
        _custom(idp, rounds_pool, CHALLENGE_NAME="SRP_A")
    for password, right in (("Wr0ng!pass", False), (PASSWORD, True)):
        helper = AWSSRP(
            "cora", password, rounds_pool.user_pool_id, rounds_pool.client_id, client=idp
        )
        verifier = _custom(
            idp, rounds_pool, CHALLENGE_NAME="SRP_A", SRP_A=helper.get_auth_params()["SRP_A"]
        )
        assert verifier["ChallengeName"] == "PASSWORD_VERIFIER"
        proof = helper.process_challenge(verifier["ChallengeParameters"], {"USERNAME": "cora"})
        respond = {
            "ClientId": rounds_pool.client_id,
            "ChallengeName": "PASSWORD_VERIFIER",
            "ChallengeResponses": proof,
        }
        if not right:
            with pytest.raises(
                idp.exceptions.NotAuthorizedException, match=r"Incorrect username or password\."
            ):
                idp.respond_to_auth_challenge(**respond)
            assert not [c for c in emulator.codes if c.kind == "custom_challenge"]
            continue
        first = idp.respond_to_auth_challenge(**respond)
        done = _rounds_to_tokens(emulator, idp, rounds_pool, first)
        assert "AccessToken" in done["AuthenticationResult"]


def test_the_default_round_is_a_code(
    emulator: Emulator, idp: Any, sign_up_confirmed: Any, clock: FakeClock
) -> None:
    pool = emulator.provision(with_identity_pool=False, bucket=None)
    sign_up_confirmed(pool, "cora")
    challenge = _custom(idp, pool)
    assert challenge["ChallengeParameters"] == {"challenge": "code", "USERNAME": "cora"}
    code = emulator.last_code("cora", "custom_challenge")
    assert len(code) == 6
    clock.advance(181)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="session is expired"):
        _answer(idp, pool, challenge, code)
