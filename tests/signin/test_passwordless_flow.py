"""Choice-based and custom-with-SRP sign-in (``USER_AUTH``, ``CUSTOM_WITH_SRP``) through the
Cognito flow (``fsm_auth_providers._sign_in.cognito_sign_in``), driven by hand with ``next`` /
``send`` / ``throw`` and hand-written service answers: the exact requests, the prompts, and the
secrets each request lists. SRP proofs are checked with the emulator's server-side SRP code."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from fsm_auth.config import UserPoolConfig
from fsm_auth.emulator import _srp
from fsm_auth.errors import (
    ChallengeNotSupportedError,
    CodeMismatchError,
    InvalidParameterError,
    InvalidPasswordError,
    NotAuthorizedError,
    service_error,
)
from fsm_auth.signin._steps import Answer, Prompt, ServiceCall, SignedIn
from fsm_auth.values import CodeDeliveryDetails
from fsm_auth_providers._sign_in import cognito_sign_in

from .test_cognito_flow import (
    ALIAS,
    CLIENT_ID,
    INTERNAL,
    PASSWORD,
    POOL,
    POOL_ID,
    RAW,
    SECRET_POOL,
    TABLE,
    TOKENS,
    assert_respond,
    challenge,
    expected_hash,
    request,
    send,
)

POOLS = pytest.mark.parametrize("pool", [POOL, SECRET_POOL], ids=["no-secret", "secret"])

TYPED = "Typed-At-The-Prompt-7?"  # a password typed at SELECT_CHALLENGE's second prompt
AUTO_SESSION = "auto-sign-in-session-6f1d2c"  # ConfirmSignUp's session (auto sign-in)

# What the service lists in AvailableChallenges (WEB_AUTHN: not declared by the spec), and
# what the caller is then offered: the declared ones, in the service's order.
SERVICE_LIST = ["WEB_AUTHN", "PASSWORD", "PASSWORD_SRP", "EMAIL_OTP", "SMS_OTP"]
OFFERED = ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP", "SMS_OTP"]

OTP = [
    pytest.param(
        "EMAIL_OTP",
        "EMAIL_OTP_CODE",
        {"CODE_DELIVERY_DELIVERY_MEDIUM": "EMAIL", "CODE_DELIVERY_DESTINATION": "a***@e***"},
        CodeDeliveryDetails(destination="a***@e***", delivery_medium="EMAIL"),
        id="EMAIL_OTP",
    ),
    pytest.param(
        "SMS_OTP",
        "SMS_OTP_CODE",
        {"CODE_DELIVERY_DELIVERY_MEDIUM": "SMS", "CODE_DELIVERY_DESTINATION": "+*******1234"},
        CodeDeliveryDetails(destination="+*******1234", delivery_medium="SMS"),
        id="SMS_OTP",
    ),
]


# -- helpers ----------------------------------------------------------------------------------


def with_hash(pool: UserPoolConfig, values: Mapping[str, Any], username: str) -> dict[str, Any]:
    """``values``, with the SECRET_HASH for ``username`` when ``pool`` has a client secret."""
    expected = dict(values)
    if pool.app_client_secret:
        expected["SECRET_HASH"] = expected_hash(username)
    return expected


def select_challenge(
    available: Any, session: str = "select-1", parameters: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The service's SELECT_CHALLENGE, its first factors in the top-level AvailableChallenges."""
    answer = challenge("SELECT_CHALLENGE", parameters or {}, session)
    answer["AvailableChallenges"] = available
    return answer


def initiate(step: Any) -> dict[str, Any]:
    assert isinstance(step, ServiceCall)
    assert step.operation == "initiate_auth"
    return dict(step.params)


def start_user_auth(
    pool: UserPoolConfig = POOL,
    password: str | None = None,
    available: Any = SERVICE_LIST,
    parameters: Mapping[str, str] | None = None,
) -> tuple[Any, Any]:
    """A USER_AUTH flow without a preferred challenge, answered SELECT_CHALLENGE: the flow and
    its next step."""
    flow = cognito_sign_in(pool, request("USER_AUTH", password=password))
    params = initiate(next(flow))
    assert params["AuthFlow"] == "USER_AUTH"
    assert params["AuthParameters"] == with_hash(pool, {"USERNAME": ALIAS}, ALIAS)
    return flow, send(flow, select_challenge(available, parameters=parameters))


def choice_prompt(flow: Any, step: Any, choice: str) -> Any:
    """Check ``step`` is SELECT_CHALLENGE's choice among OFFERED; answer ``choice``."""
    assert isinstance(step, Prompt)
    assert step.challenge == "SELECT_CHALLENGE"
    assert dict(step.parameters) == {"AVAILABLE_CHALLENGES": json.dumps(OFFERED)}
    assert step.code_delivery is None
    assert step.error is None
    return send(flow, Answer(choice))


def verify_srp(
    flow: Any,
    pool: UserPoolConfig,
    srp_a: str,
    password: str = PASSWORD,
    session: str = "srp-session",
) -> Any:
    """Answer SRP_A with the server's PASSWORD_VERIFIER for ``password``; check the flow's
    proof verifies, for the service's user name. Returns the flow's next step after tokens."""
    server = _srp.start(POOL_ID, INTERNAL, password, srp_a)
    step = send(
        flow, challenge("PASSWORD_VERIFIER", {**server.parameters, "USERNAME": INTERNAL}, session)
    )
    assert isinstance(step, ServiceCall)
    assert step.operation == "respond_to_auth_challenge"
    assert step.params["ChallengeName"] == "PASSWORD_VERIFIER"
    assert step.params["Session"] == session
    assert step.params["ClientId"] == CLIENT_ID
    responses = dict(step.params["ChallengeResponses"])
    keys = {"USERNAME", "TIMESTAMP", "PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE"}
    if pool.app_client_secret:
        keys.add("SECRET_HASH")
        assert responses["SECRET_HASH"] == expected_hash(INTERNAL)
    assert set(responses) == keys
    assert responses["USERNAME"] == INTERNAL
    assert responses["PASSWORD_CLAIM_SECRET_BLOCK"] == server.secret_block
    assert _srp.signature_valid(
        server, responses["TIMESTAMP"], responses["PASSWORD_CLAIM_SIGNATURE"]
    )
    assert password not in repr(step.params)
    return step


def otp_round(
    flow: Any,
    pool: UserPoolConfig,
    name: str,
    key: str,
    public: dict[str, str],
    delivery: CodeDeliveryDetails,
) -> None:
    """The service asks ``name`` (a code sent); a wrong code is asked again with the error, in
    the same session; the right one signs in."""
    prompt = send(flow, challenge(name, {**public, "USERNAME": INTERNAL}, "otp-session"))
    assert isinstance(prompt, Prompt)
    assert prompt.challenge == name
    assert dict(prompt.parameters) == {**public, "USERNAME": INTERNAL}
    assert prompt.code_delivery == delivery
    assert prompt.error is None
    assert TABLE[name].answer_key == key

    wrong = send(flow, Answer("000000"))
    assert_respond(
        wrong, name, with_hash(pool, {"USERNAME": INTERNAL, key: "000000"}, INTERNAL), "otp-session"
    )
    assert "000000" in wrong.secrets

    error = CodeMismatchError("Invalid code received for user")
    again = flow.throw(error)
    assert isinstance(again, Prompt)
    assert again.challenge == name
    assert again.error is error
    assert again.parameters == prompt.parameters
    assert again.code_delivery == delivery

    right = send(flow, Answer("123456"))
    assert_respond(
        right, name, with_hash(pool, {"USERNAME": INTERNAL, key: "123456"}, INTERNAL), "otp-session"
    )
    assert "123456" in right.secrets
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


# -- USER_AUTH with a preferred challenge -----------------------------------------------------


@POOLS
def test_preferred_password(pool: UserPoolConfig) -> None:
    flow = cognito_sign_in(pool, request("USER_AUTH", preferred_challenge="PASSWORD"))
    first = next(flow)
    assert initiate(first) == {
        "AuthFlow": "USER_AUTH",
        "ClientId": CLIENT_ID,
        "AuthParameters": with_hash(
            pool,
            {"USERNAME": ALIAS, "PREFERRED_CHALLENGE": "PASSWORD", "PASSWORD": PASSWORD},
            ALIAS,
        ),
        "ClientMetadata": None,
    }
    assert PASSWORD in first.secrets
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


@POOLS
def test_preferred_password_srp_through_password_verifier(pool: UserPoolConfig) -> None:
    flow = cognito_sign_in(pool, request("USER_AUTH", preferred_challenge="PASSWORD_SRP"))
    first = next(flow)
    params = initiate(first)
    auth = dict(params.pop("AuthParameters"))
    assert params == {"AuthFlow": "USER_AUTH", "ClientId": CLIENT_ID, "ClientMetadata": None}
    srp_a = auth.pop("SRP_A")
    assert int(srp_a, 16) > 1
    assert auth == with_hash(
        pool, {"USERNAME": ALIAS, "PREFERRED_CHALLENGE": "PASSWORD_SRP"}, ALIAS
    )
    assert PASSWORD in first.secrets
    assert PASSWORD not in repr(first.params)

    verify_srp(flow, pool, srp_a)
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


def test_preferred_password_srp_proof_for_another_password_does_not_verify() -> None:
    # The control for the test above: the server check does reject a wrong proof.
    flow = cognito_sign_in(POOL, request("USER_AUTH", preferred_challenge="PASSWORD_SRP"))
    srp_a = next(flow).params["AuthParameters"]["SRP_A"]
    server = _srp.start(POOL_ID, INTERNAL, "Another-Password-1!", srp_a)
    step = send(
        flow, challenge("PASSWORD_VERIFIER", {**server.parameters, "USERNAME": INTERNAL}, "s")
    )
    responses = step.params["ChallengeResponses"]
    assert not _srp.signature_valid(
        server, responses["TIMESTAMP"], responses["PASSWORD_CLAIM_SIGNATURE"]
    )


@POOLS
@pytest.mark.parametrize(("name", "key", "public", "delivery"), OTP)
def test_preferred_one_time_code_wrong_then_right(
    pool: UserPoolConfig,
    name: str,
    key: str,
    public: dict[str, str],
    delivery: CodeDeliveryDetails,
) -> None:
    flow = cognito_sign_in(pool, request("USER_AUTH", password=None, preferred_challenge=name))
    first = next(flow)
    assert initiate(first) == {
        "AuthFlow": "USER_AUTH",
        "ClientId": CLIENT_ID,
        "AuthParameters": with_hash(pool, {"USERNAME": ALIAS, "PREFERRED_CHALLENGE": name}, ALIAS),
        "ClientMetadata": None,
    }
    assert [s for s in first.secrets if s] == []
    otp_round(flow, pool, name, key, public, delivery)


@pytest.mark.parametrize("preferred", ["EMAIL_OTP", "SMS_OTP"])
def test_a_password_given_with_a_code_factor_is_not_sent(preferred: str) -> None:
    # The flow sends no password the factor does not use (the driver's FlowTable.check refuses
    # the combination before the flow starts: see test_flow_table.py).
    flow = cognito_sign_in(POOL, request("USER_AUTH", preferred_challenge=preferred))
    first = next(flow)
    assert first.params["AuthParameters"] == {"USERNAME": ALIAS, "PREFERRED_CHALLENGE": preferred}
    assert PASSWORD not in repr(dict(first.params))


def test_a_password_given_to_custom_auth_is_not_sent() -> None:
    flow = cognito_sign_in(POOL, request("CUSTOM_AUTH"))
    assert next(flow).params["AuthParameters"] == {"USERNAME": ALIAS}


def test_preferred_challenge_is_only_sent_with_user_auth() -> None:
    flow = cognito_sign_in(POOL, request("USER_PASSWORD_AUTH", preferred_challenge="EMAIL_OTP"))
    assert next(flow).params["AuthParameters"] == {"USERNAME": ALIAS, "PASSWORD": PASSWORD}


@pytest.mark.parametrize(
    ("flow_name", "preferred", "password", "message"),
    [
        pytest.param(
            "USER_AUTH",
            "PASSWORD",
            None,
            "A password is needed to sign in with USER_AUTH and PASSWORD",
            id="PASSWORD-none",
        ),
        pytest.param(
            "USER_AUTH",
            "PASSWORD_SRP",
            None,
            "A password is needed to sign in with USER_AUTH and PASSWORD_SRP",
            id="PASSWORD_SRP-none",
        ),
        pytest.param(
            "USER_AUTH",
            "PASSWORD",
            "",
            "A password is needed to sign in with USER_AUTH and PASSWORD",
            id="PASSWORD-empty",
        ),
        pytest.param(
            "CUSTOM_WITH_SRP",
            None,
            None,
            "A password is needed to sign in with CUSTOM_WITH_SRP",
            id="CUSTOM_WITH_SRP-none",
        ),
    ],
)
def test_a_missing_password_is_refused_before_any_request(
    flow_name: str, preferred: str | None, password: str | None, message: str
) -> None:
    flow = cognito_sign_in(
        POOL, request(flow_name, password=password, preferred_challenge=preferred)
    )
    with pytest.raises(InvalidParameterError) as caught:
        next(flow)
    assert caught.value.message == message
    with pytest.raises(StopIteration):
        next(flow)


@pytest.mark.parametrize("preferred", [None, "EMAIL_OTP", "SMS_OTP"])
def test_user_auth_without_a_password_factor_needs_no_password(preferred: str | None) -> None:
    flow = cognito_sign_in(POOL, request("USER_AUTH", password=None, preferred_challenge=preferred))
    assert initiate(next(flow))["AuthFlow"] == "USER_AUTH"


# -- USER_AUTH: SELECT_CHALLENGE --------------------------------------------------------------


@pytest.mark.parametrize("password", [None, PASSWORD], ids=["no-password", "password"])
def test_select_challenge_offers_only_the_declared_factors(password: str | None) -> None:
    _flow, prompt = start_user_auth(password=password)
    assert isinstance(prompt, Prompt)
    assert prompt.challenge == "SELECT_CHALLENGE"
    # WEB_AUTHN (listed by the service, not declared by the spec) is not offered.
    assert dict(prompt.parameters) == {"AVAILABLE_CHALLENGES": json.dumps(OFFERED)}
    assert "WEB_AUTHN" not in prompt.parameters["AVAILABLE_CHALLENGES"]
    assert prompt.code_delivery is None
    assert prompt.error is None
    # What a UI renders for it: the choice itself.
    assert TABLE["SELECT_CHALLENGE"].resolve(prompt.parameters).label == "Sign in with"


@POOLS
@pytest.mark.parametrize("password", [None, PASSWORD], ids=["no-password", "password"])
@pytest.mark.parametrize(("name", "key", "public", "delivery"), OTP)
@pytest.mark.parametrize("typed", ["as-listed", "lower-case"])
def test_select_a_code_factor_sends_the_choice_at_once(
    pool: UserPoolConfig,
    password: str | None,
    name: str,
    key: str,
    public: dict[str, str],
    delivery: CodeDeliveryDetails,
    typed: str,
) -> None:
    flow, prompt = start_user_auth(pool, password)
    answer = name if typed == "as-listed" else f"  {name.lower()} "
    step = choice_prompt(flow, prompt, answer)
    # The choice asks nothing more: sent under ANSWER as the service spells it.
    assert_respond(
        step,
        "SELECT_CHALLENGE",
        with_hash(pool, {"USERNAME": ALIAS, "ANSWER": name}, ALIAS),
        "select-1",
    )
    assert PASSWORD not in repr(dict(step.params))
    otp_round(flow, pool, name, key, public, delivery)


@POOLS
def test_select_password_with_the_password_given(pool: UserPoolConfig) -> None:
    flow, prompt = start_user_auth(pool, PASSWORD)
    step = choice_prompt(flow, prompt, "password")
    assert_respond(
        step,
        "SELECT_CHALLENGE",
        with_hash(pool, {"USERNAME": ALIAS, "ANSWER": "PASSWORD", "PASSWORD": PASSWORD}, ALIAS),
        "select-1",
    )
    assert PASSWORD in step.secrets
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


@POOLS
def test_select_password_without_a_password_asks_it(pool: UserPoolConfig) -> None:
    flow, prompt = start_user_auth(pool, None)
    again = choice_prompt(flow, prompt, "PASSWORD")
    # The same challenge, asked again, listing only the choice: its answer is the password.
    assert isinstance(again, Prompt)
    assert again.challenge == "SELECT_CHALLENGE"
    assert dict(again.parameters) == {"AVAILABLE_CHALLENGES": '["PASSWORD"]'}
    assert again.error is None
    asked = TABLE["SELECT_CHALLENGE"].resolve(again.parameters)
    assert (asked.chosen, asked.label, asked.secret, asked.answer_key) == (
        "PASSWORD",
        "Password",
        True,
        "PASSWORD",
    )

    step = send(flow, Answer(TYPED))
    assert_respond(
        step,
        "SELECT_CHALLENGE",
        with_hash(pool, {"USERNAME": ALIAS, "ANSWER": "PASSWORD", "PASSWORD": TYPED}, ALIAS),
        "select-1",
    )
    assert TYPED in step.secrets
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


@POOLS
def test_select_password_srp_with_the_password_given(pool: UserPoolConfig) -> None:
    flow, prompt = start_user_auth(pool, PASSWORD)
    step = choice_prompt(flow, prompt, "Password_SRP")
    assert isinstance(step, ServiceCall)
    responses = dict(step.params["ChallengeResponses"])
    srp_a = responses.pop("SRP_A")
    assert int(srp_a, 16) > 1
    assert responses == with_hash(pool, {"USERNAME": ALIAS, "ANSWER": "PASSWORD_SRP"}, ALIAS)
    assert_respond(step, "SELECT_CHALLENGE", {**responses, "SRP_A": srp_a}, "select-1")
    assert PASSWORD not in repr(dict(step.params))
    assert PASSWORD in step.secrets

    verify_srp(flow, pool, srp_a)
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


@POOLS
def test_select_password_srp_without_a_password_asks_it(pool: UserPoolConfig) -> None:
    flow, prompt = start_user_auth(pool, None)
    again = choice_prompt(flow, prompt, "PASSWORD_SRP")
    assert isinstance(again, Prompt)
    assert again.challenge == "SELECT_CHALLENGE"
    assert dict(again.parameters) == {"AVAILABLE_CHALLENGES": '["PASSWORD_SRP"]'}
    asked = TABLE["SELECT_CHALLENGE"].resolve(again.parameters)
    assert (asked.chosen, asked.label, asked.secret, asked.before_answer) == (
        "PASSWORD_SRP",
        "Password",
        True,
        "password_srp",
    )

    step = send(flow, Answer(TYPED))
    responses = dict(step.params["ChallengeResponses"])
    srp_a = responses.pop("SRP_A")
    assert responses == with_hash(pool, {"USERNAME": ALIAS, "ANSWER": "PASSWORD_SRP"}, ALIAS)
    assert TYPED in step.secrets
    assert TYPED not in repr(dict(step.params))

    # The proof is for the password typed (not for one never given).
    verify_srp(flow, pool, srp_a, password=TYPED)
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


def test_select_password_srp_with_an_empty_password_asks_again() -> None:
    flow, prompt = start_user_auth(POOL, None)
    choice_prompt(flow, prompt, "PASSWORD_SRP")
    again = send(flow, Answer(""))
    # Nothing was sent: the same prompt, with the error.
    assert isinstance(again, Prompt)
    assert again.challenge == "SELECT_CHALLENGE"
    assert dict(again.parameters) == {"AVAILABLE_CHALLENGES": '["PASSWORD_SRP"]'}
    assert isinstance(again.error, InvalidParameterError)
    assert "password is needed" in str(again.error)
    step = send(flow, Answer(TYPED))
    assert step.operation == "respond_to_auth_challenge"
    assert step.params["ChallengeResponses"]["ANSWER"] == "PASSWORD_SRP"


def test_a_password_given_answers_once_then_is_asked() -> None:
    flow, prompt = start_user_auth(POOL, PASSWORD)
    step = choice_prompt(flow, prompt, "PASSWORD")
    assert step.params["ChallengeResponses"]["PASSWORD"] == PASSWORD
    error = InvalidPasswordError("Password attempts exceeded")
    again = flow.throw(error)
    assert isinstance(again, Prompt)
    assert again.challenge == "SELECT_CHALLENGE"
    assert again.error is error
    assert dict(again.parameters) == {"AVAILABLE_CHALLENGES": '["PASSWORD"]'}
    step = send(flow, Answer(TYPED))
    assert_respond(
        step,
        "SELECT_CHALLENGE",
        {"USERNAME": ALIAS, "ANSWER": "PASSWORD", "PASSWORD": TYPED},
        "select-1",
    )


def test_a_wrong_password_ends_the_flow() -> None:
    flow, prompt = start_user_auth(POOL, PASSWORD)
    choice_prompt(flow, prompt, "PASSWORD")
    error = NotAuthorizedError("Incorrect username or password.")
    with pytest.raises(NotAuthorizedError) as caught:
        flow.throw(error)
    assert caught.value is error
    with pytest.raises(StopIteration):
        next(flow)


def test_a_refused_code_factor_choice_is_not_asked_again() -> None:
    # The choice of a factor that asks nothing has no answer to correct: the error ends it.
    flow, prompt = start_user_auth(POOL, None)
    choice_prompt(flow, prompt, "EMAIL_OTP")
    error = InvalidParameterError("EMAIL_OTP is not available")
    with pytest.raises(InvalidParameterError) as caught:
        flow.throw(error)
    assert caught.value is error


@pytest.mark.parametrize("choice", ["WEB_AUTHN", "EMAIL", "", "123456", TYPED])
def test_an_unknown_choice_is_asked_again(choice: str) -> None:
    flow, prompt = start_user_auth(POOL, None)
    again = choice_prompt(flow, prompt, choice)
    assert isinstance(again, Prompt)
    assert again.challenge == "SELECT_CHALLENGE"
    assert dict(again.parameters) == {"AVAILABLE_CHALLENGES": json.dumps(OFFERED)}
    assert isinstance(again.error, InvalidParameterError)
    text = str(again.error)
    assert again.error.message == (
        "SELECT_CHALLENGE is answered with one of PASSWORD, PASSWORD_SRP, EMAIL_OTP, SMS_OTP"
    )
    # A code or a password typed by mistake is not echoed.
    if choice:
        assert choice not in text.replace("EMAIL_OTP", "")
    step = send(flow, Answer("SMS_OTP"))
    assert_respond(step, "SELECT_CHALLENGE", {"USERNAME": ALIAS, "ANSWER": "SMS_OTP"}, "select-1")


def test_a_choice_needs_an_answer() -> None:
    flow, _prompt = start_user_auth(POOL, None)
    with pytest.raises(InvalidParameterError, match="needs an answer"):
        flow.send("EMAIL_OTP")


@pytest.mark.parametrize("password", [None, PASSWORD], ids=["no-password", "password"])
def test_a_single_declared_factor_is_taken_without_asking(password: str | None) -> None:
    _flow, step = start_user_auth(POOL, password, available=["WEB_AUTHN", "EMAIL_OTP"])
    assert_respond(step, "SELECT_CHALLENGE", {"USERNAME": ALIAS, "ANSWER": "EMAIL_OTP"}, "select-1")


def test_a_single_password_factor_is_answered_with_the_password_given() -> None:
    _flow, step = start_user_auth(POOL, PASSWORD, available=["PASSWORD", "WEB_AUTHN"])
    assert_respond(
        step,
        "SELECT_CHALLENGE",
        {"USERNAME": ALIAS, "ANSWER": "PASSWORD", "PASSWORD": PASSWORD},
        "select-1",
    )


def test_a_single_password_factor_without_a_password_is_asked() -> None:
    _flow, prompt = start_user_auth(POOL, None, available=["PASSWORD"])
    assert isinstance(prompt, Prompt)
    assert dict(prompt.parameters) == {"AVAILABLE_CHALLENGES": '["PASSWORD"]'}
    assert TABLE["SELECT_CHALLENGE"].resolve(prompt.parameters).chosen == "PASSWORD"


@pytest.mark.parametrize("available", [["WEB_AUTHN"], []], ids=["undeclared-only", "empty"])
def test_no_declared_factor_is_refused(available: list[str]) -> None:
    flow = cognito_sign_in(POOL, request("USER_AUTH", password=None))
    next(flow)
    with pytest.raises(ChallengeNotSupportedError) as caught:
        flow.send(select_challenge(available))
    assert caught.value.code == "SELECT_CHALLENGE"
    assert "none of which the sign-in spec declares" in str(caught.value)


@pytest.mark.parametrize(
    "available",
    [
        pytest.param("EMAIL_OTP", id="text"),
        pytest.param('["EMAIL_OTP"]', id="json-text"),
        pytest.param(["EMAIL_OTP", 3], id="a-number"),
        pytest.param({"EMAIL_OTP": True}, id="object"),
        pytest.param(7, id="number"),
    ],
)
def test_malformed_available_challenges_is_refused(available: Any) -> None:
    flow = cognito_sign_in(POOL, request("USER_AUTH", password=None))
    next(flow)
    with pytest.raises(InvalidParameterError) as caught:
        flow.send(select_challenge(available))
    assert caught.value.message == "The service's AvailableChallenges is not a list of names"


def test_malformed_available_challenges_parameter_is_refused() -> None:
    flow = cognito_sign_in(POOL, request("USER_AUTH", password=None))
    next(flow)
    answer = challenge("SELECT_CHALLENGE", {"AVAILABLE_CHALLENGES": "EMAIL_OTP, SMS_OTP"})
    with pytest.raises(InvalidParameterError, match="challenge parameters are malformed"):
        flow.send(answer)


def test_select_challenge_answers_for_the_service_user_name() -> None:
    flow, prompt = start_user_auth(SECRET_POOL, PASSWORD, parameters={"USERNAME": INTERNAL})
    assert isinstance(prompt, Prompt)
    assert dict(prompt.parameters) == {
        "USERNAME": INTERNAL,
        "AVAILABLE_CHALLENGES": json.dumps(OFFERED),
    }
    step = send(flow, Answer("PASSWORD"))
    assert_respond(
        step,
        "SELECT_CHALLENGE",
        {
            "USERNAME": INTERNAL,
            "ANSWER": "PASSWORD",
            "PASSWORD": PASSWORD,
            "SECRET_HASH": expected_hash(INTERNAL),
        },
        "select-1",
    )


# -- CUSTOM_WITH_SRP --------------------------------------------------------------------------


@POOLS
def test_custom_with_srp_then_two_custom_challenges(pool: UserPoolConfig) -> None:
    flow = cognito_sign_in(
        pool, request("CUSTOM_WITH_SRP", client_metadata={"app": "demo"}, validation_data=None)
    )
    first = next(flow)
    params = initiate(first)
    auth = dict(params.pop("AuthParameters"))
    # Cognito's name for the flow: CUSTOM_AUTH, told to start with SRP.
    assert params == {
        "AuthFlow": "CUSTOM_AUTH",
        "ClientId": CLIENT_ID,
        "ClientMetadata": {"app": "demo"},
    }
    srp_a = auth.pop("SRP_A")
    assert int(srp_a, 16) > 1
    assert auth == with_hash(pool, {"USERNAME": ALIAS, "CHALLENGE_NAME": "SRP_A"}, ALIAS)
    assert PASSWORD in first.secrets
    assert PASSWORD not in repr(first.params)

    verifier = verify_srp(flow, pool, srp_a)
    assert PASSWORD in verifier.secrets
    assert verifier.params["ClientMetadata"] == {"app": "demo"}

    rounds = [("c1", "2+2?", "4"), ("c2", "Capital of France?", "Paris")]
    for session, question, answer in rounds:
        public = {"USERNAME": INTERNAL, "question": question}
        prompt = send(flow, challenge("CUSTOM_CHALLENGE", public, session))
        assert isinstance(prompt, Prompt)
        assert prompt.challenge == "CUSTOM_CHALLENGE"
        assert dict(prompt.parameters) == public
        assert prompt.error is None
        step = send(flow, Answer(answer))
        assert_respond(
            step,
            "CUSTOM_CHALLENGE",
            with_hash(pool, {"USERNAME": INTERNAL, "ANSWER": answer}, INTERNAL),
            session,
            {"app": "demo"},
        )
        assert answer in step.secrets
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


def test_custom_with_srp_wrong_custom_answer_asks_again() -> None:
    flow = cognito_sign_in(POOL, request("CUSTOM_WITH_SRP"))
    srp_a = next(flow).params["AuthParameters"]["SRP_A"]
    verify_srp(flow, POOL, srp_a)
    send(flow, challenge("CUSTOM_CHALLENGE", {"USERNAME": INTERNAL, "question": "2+2?"}, "c1"))
    send(flow, Answer("5"))
    error = CodeMismatchError("Incorrect answer.")
    again = flow.throw(error)
    assert isinstance(again, Prompt)
    assert (again.challenge, again.error) == ("CUSTOM_CHALLENGE", error)
    step = send(flow, Answer("4"))
    assert_respond(step, "CUSTOM_CHALLENGE", {"USERNAME": INTERNAL, "ANSWER": "4"}, "c1")


# -- auto sign-in after ConfirmSignUp ---------------------------------------------------------


@POOLS
def test_auto_sign_in_sends_the_confirmation_session(pool: UserPoolConfig) -> None:
    flow = cognito_sign_in(pool, request("USER_AUTH", password=None, session=AUTO_SESSION))
    first = next(flow)
    assert initiate(first) == {
        "AuthFlow": "USER_AUTH",
        "ClientId": CLIENT_ID,
        "AuthParameters": with_hash(pool, {"USERNAME": ALIAS}, ALIAS),
        "ClientMetadata": None,
        "Session": AUTO_SESSION,
    }
    assert AUTO_SESSION in first.secrets
    # Listed so: a service error echoing it is scrubbed.
    error = service_error(
        "NotAuthorizedException", f"Invalid session {AUTO_SESSION}", *first.secrets
    )
    assert isinstance(error, NotAuthorizedError)
    assert AUTO_SESSION not in str(error)
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


def test_no_session_is_sent_without_one() -> None:
    flow = cognito_sign_in(POOL, request("USER_AUTH", password=None))
    assert "Session" not in next(flow).params


# -- nothing secret in a repr -----------------------------------------------------------------


def test_reprs_of_passwordless_flows_show_no_secret() -> None:
    secrets = [PASSWORD, TYPED, AUTO_SESSION, "000000", "123456", "select-1", "otp-session"]
    shown: list[Any] = []

    # Auto sign-in with its session.
    auto = request("USER_AUTH", password=None, session=AUTO_SESSION)
    shown.append(auto)
    flow = cognito_sign_in(SECRET_POOL, auto)
    shown.append(next(flow))

    # A password given, SELECT_CHALLENGE answered with a password typed after a refusal.
    given = request("USER_AUTH", password=PASSWORD)
    shown.append(given)
    flow = cognito_sign_in(SECRET_POOL, given)
    shown.append(next(flow))
    shown.append(send(flow, select_challenge(SERVICE_LIST)))
    shown.append(send(flow, Answer("PASSWORD")))
    shown.append(flow.throw(InvalidPasswordError("Try again")))
    shown.append(send(flow, Answer(TYPED)))
    shown.append(send(flow, {"AuthenticationResult": TOKENS}))

    # A code factor with a wrong code.
    flow = cognito_sign_in(SECRET_POOL, request("USER_AUTH", None, preferred_challenge="SMS_OTP"))
    shown.append(next(flow))
    shown.append(send(flow, challenge("SMS_OTP", {"USERNAME": INTERNAL}, "otp-session")))
    shown.append(send(flow, Answer("000000")))
    shown.append(flow.throw(CodeMismatchError("Invalid code")))
    shown.append(send(flow, Answer("123456")))
    shown.append(send(flow, {"AuthenticationResult": TOKENS}))
    shown.extend([Answer(TYPED), Answer("123456")])

    assert isinstance(shown[-3], SignedIn)
    for item in shown:
        for secret in secrets:
            assert secret not in repr(item), (secret, repr(item))
            assert secret not in str(item), (secret, str(item))
