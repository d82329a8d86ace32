"""The Cognito sign-in flow (``fsm_auth_providers._sign_in.cognito_sign_in``) driven by hand
with ``next`` / ``send`` / ``throw``: no server, no network. SRP's proof is checked with the
emulator's server-side SRP code, so wrong client math fails here."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import pytest
import yaml
from pycognito import aws_srp

from fsm_auth.config import UserPoolConfig
from fsm_auth.emulator import _srp
from fsm_auth.engine import Spec, shipped_specs_dir
from fsm_auth.errors import (
    AuthError,
    ChallengeNotSupportedError,
    CodeMismatchError,
    ExpiredCodeError,
    InvalidParameterError,
    InvalidPasswordError,
    NotAuthorizedError,
    UserNotFoundError,
)
from fsm_auth.provider import RawTokens
from fsm_auth.signin._challenges import ChallengeTable
from fsm_auth.signin._steps import Answer, Prompt, ServiceCall, SignedIn, SignInRequest
from fsm_auth.values import CodeDeliveryDetails
from fsm_auth_providers._sign_in import cognito_sign_in

POOL_ID = "us-east-1_TestPool1"
CLIENT_ID = "testclient0123456789abcdef"
CLIENT_SECRET = "client-secret-0123456789"
PASSWORD = "Correct-Horse-9!"
ALIAS = "ann@example.com"  # what the user types
INTERNAL = "5b1e7f0a-6c2d-4e8f-9a1b-2c3d4e5f6a7b"  # the service's name for the user

POOL = UserPoolConfig(pool_id=POOL_ID, app_client_id=CLIENT_ID, region="us-east-1")
SECRET_POOL = UserPoolConfig(
    pool_id=POOL_ID, app_client_id=CLIENT_ID, app_client_secret=CLIENT_SECRET, region="us-east-1"
)

TOKENS = {"IdToken": "id.jwt.ann", "AccessToken": "access.jwt.ann", "RefreshToken": "refresh-ann"}
RAW = RawTokens("id.jwt.ann", "access.jwt.ann", "refresh-ann")

# The same declarations as specs/sign_in.yaml (checked below against the file).
CHALLENGES: dict[str, Any] = {
    "PASSWORD_VERIFIER": {"answered_by": "provider", "handler": "password_verifier"},
    "DEVICE_SRP_AUTH": {"answered_by": "provider", "handler": "device_srp_auth"},
    "DEVICE_PASSWORD_VERIFIER": {"answered_by": "provider", "handler": "device_password_verifier"},
    "NEW_PASSWORD_REQUIRED": {
        "answer": "NEW_PASSWORD",
        "label": "New password",
        "secret": True,
        "attributes": "requiredAttributes",
    },
    "SMS_MFA": {"answer": "SMS_MFA_CODE", "label": "Code"},
    "SOFTWARE_TOKEN_MFA": {
        "answer": "SOFTWARE_TOKEN_MFA_CODE",
        "label": "Code from your authenticator app",
    },
    "EMAIL_OTP": {"answer": "EMAIL_OTP_CODE", "label": "Code"},
    "SMS_OTP": {"answer": "SMS_OTP_CODE", "label": "Code"},
    "SELECT_CHALLENGE": {
        "answer": "ANSWER",
        "label": "Sign in with",
        "choices": "AVAILABLE_CHALLENGES",
        "options": {
            "PASSWORD_SRP": {
                "label": "Password",
                "secret": True,
                "uses_password": True,
                "before_answer": "password_srp",
            },
            "PASSWORD": {
                "answer": "PASSWORD",
                "label": "Password",
                "secret": True,
                "uses_password": True,
            },
            "EMAIL_OTP": {},
            "SMS_OTP": {},
        },
    },
    "SELECT_MFA_TYPE": {"answer": "ANSWER", "label": "MFA type", "choices": "MFAS_CAN_CHOOSE"},
    "MFA_SETUP": {
        "label": "MFA to set up",
        "choices": "MFAS_CAN_SETUP",
        "options": {
            "SOFTWARE_TOKEN_MFA": {
                "label": "Code from your authenticator app",
                "before_prompt": "associate_software_token",
                "before_answer": "verify_software_token",
            },
            "EMAIL_OTP": {"answer": "EMAIL", "label": "E-mail address for sign-in codes"},
        },
    },
    "CUSTOM_CHALLENGE": {"answer": "ANSWER", "label": "Answer"},
}

SPEC = Spec.load(
    {
        "name": "test_sign_in",
        "initial": "notStarted",
        "states": [
            "notStarted",
            "signingIn",
            {"name": "challenged", "x-challenges": CHALLENGES},
            "DONE",
        ],
        "transitions": [
            {
                "trigger": "start",
                "source": ["notStarted", "challenged", "DONE"],
                "dest": "signingIn",
            },
            {"trigger": "challenge", "source": "signingIn", "dest": "challenged"},
            {"trigger": "answer", "source": "challenged", "dest": "signingIn"},
            {"trigger": "authenticated", "source": "signingIn", "dest": "DONE"},
            {"trigger": "failed", "source": "signingIn", "dest": "notStarted"},
        ],
    }
)
TABLE = ChallengeTable.from_spec(SPEC)

# Challenge parameters a caller must never see.
PRIVATE = {"SALT": "abcd", "SRP_B": "ef01", "SECRET_BLOCK": "c2VjcmV0"}


def test_test_spec_declares_what_the_shipped_spec_declares() -> None:
    shipped = yaml.safe_load((shipped_specs_dir() / "sign_in.yaml").read_text())
    (challenged,) = [s for s in shipped["states"] if s["name"] == "challenged"]

    def without_descriptions(entry: Any) -> Any:
        if not isinstance(entry, dict):
            return entry
        return {k: without_descriptions(v) for k, v in entry.items() if k != "description"}

    declared = without_descriptions(challenged["x-challenges"])
    assert declared == CHALLENGES


# -- helpers ----------------------------------------------------------------------------------


def request(
    flow: str = "USER_SRP_AUTH",
    password: str | None = PASSWORD,
    username: str = ALIAS,
    **extra: Any,
) -> SignInRequest:
    return SignInRequest(username=username, password=password, flow=flow, challenges=TABLE, **extra)


def send(flow: Any, value: Any) -> Any:
    """Send ``value``; the next step, or the flow's result once it returns."""
    try:
        return flow.send(value)
    except StopIteration as stop:
        return stop.value


def expected_hash(username: str) -> str:
    digest = hmac.new(
        CLIENT_SECRET.encode(), (username + CLIENT_ID).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def challenge(
    name: str, parameters: Mapping[str, Any], session: str = "session-1"
) -> dict[str, Any]:
    return {"ChallengeName": name, "ChallengeParameters": dict(parameters), "Session": session}


def start_password_flow(pool: UserPoolConfig = POOL) -> Any:
    """A USER_PASSWORD_AUTH flow past its InitiateAuth step."""
    flow = cognito_sign_in(pool, request("USER_PASSWORD_AUTH"))
    first = next(flow)
    assert isinstance(first, ServiceCall)
    assert first.operation == "initiate_auth"
    return flow


def assert_respond(
    step: Any,
    name: str,
    responses: Mapping[str, Any],
    session: str | None,
    metadata: Mapping[str, str] | None = None,
) -> None:
    assert isinstance(step, ServiceCall)
    assert step.operation == "respond_to_auth_challenge"
    assert dict(step.params) == {
        "ClientId": CLIENT_ID,
        "ChallengeName": name,
        "ChallengeResponses": dict(responses),
        "Session": session,
        "ClientMetadata": metadata,
    }


# -- USER_SRP_AUTH ----------------------------------------------------------------------------


def srp_round(flow: Any, password: str = PASSWORD, **challenge_extra: str) -> tuple[Any, Any]:
    """Answer the flow's InitiateAuth as the emulator would: a PASSWORD_VERIFIER for the
    user's password. Returns (the server's SRP state, the flow's next step)."""
    first = next(flow)
    assert isinstance(first, ServiceCall)
    srp_a = first.params["AuthParameters"]["SRP_A"]
    server = _srp.start(POOL_ID, INTERNAL, password, srp_a)
    parameters = {**server.parameters, **challenge_extra}
    return server, send(flow, challenge("PASSWORD_VERIFIER", parameters, "srp-session"))


def test_srp_initiate_auth() -> None:
    flow = cognito_sign_in(POOL, request(validation_data={"source": "test"}))
    first = next(flow)
    assert isinstance(first, ServiceCall)
    assert first.operation == "initiate_auth"
    params = dict(first.params)
    auth = params.pop("AuthParameters")
    assert params == {
        "AuthFlow": "USER_SRP_AUTH",
        "ClientId": CLIENT_ID,
        "ClientMetadata": {"source": "test"},
    }
    assert set(auth) == {"USERNAME", "SRP_A"}
    assert auth["USERNAME"] == ALIAS
    assert int(auth["SRP_A"], 16) > 1
    assert PASSWORD in first.secrets
    assert PASSWORD not in repr(first.params)


def test_srp_password_claim_verifies_on_the_server_side() -> None:
    flow = cognito_sign_in(POOL, request())
    server, step = srp_round(flow, USERNAME=INTERNAL)
    assert isinstance(step, ServiceCall)
    assert step.operation == "respond_to_auth_challenge"
    assert step.params["ChallengeName"] == "PASSWORD_VERIFIER"
    assert step.params["Session"] == "srp-session"
    assert step.params["ClientId"] == CLIENT_ID
    responses = dict(step.params["ChallengeResponses"])
    assert set(responses) == {
        "USERNAME",
        "TIMESTAMP",
        "PASSWORD_CLAIM_SECRET_BLOCK",
        "PASSWORD_CLAIM_SIGNATURE",
    }
    assert responses["USERNAME"] == INTERNAL
    assert responses["PASSWORD_CLAIM_SECRET_BLOCK"] == server.secret_block
    assert _srp.signature_valid(
        server, responses["TIMESTAMP"], responses["PASSWORD_CLAIM_SIGNATURE"]
    )
    assert PASSWORD not in repr(step.params)

    done = send(flow, {"AuthenticationResult": TOKENS})
    assert isinstance(done, SignedIn)
    assert done.tokens == RAW


def test_srp_claim_for_another_password_does_not_verify() -> None:
    # The control for the test above: the server check does reject a wrong proof.
    flow = cognito_sign_in(POOL, request())
    server, step = srp_round(flow, password="Another-Password-1!", USERNAME=INTERNAL)
    responses = step.params["ChallengeResponses"]
    assert not _srp.signature_valid(
        server, responses["TIMESTAMP"], responses["PASSWORD_CLAIM_SIGNATURE"]
    )


def test_srp_with_client_secret_hashes_the_internal_user_name() -> None:
    flow = cognito_sign_in(SECRET_POOL, request())
    first = next(flow)
    assert first.params["AuthParameters"]["SECRET_HASH"] == expected_hash(ALIAS)
    server = _srp.start(POOL_ID, INTERNAL, PASSWORD, first.params["AuthParameters"]["SRP_A"])
    step = send(
        flow,
        challenge("PASSWORD_VERIFIER", {**server.parameters, "USERNAME": INTERNAL}, "srp-session"),
    )
    responses = step.params["ChallengeResponses"]
    assert responses["SECRET_HASH"] == expected_hash(INTERNAL)
    assert responses["SECRET_HASH"] != expected_hash(ALIAS)
    assert _srp.signature_valid(
        server, responses["TIMESTAMP"], responses["PASSWORD_CLAIM_SIGNATURE"]
    )

    # The next challenge is answered for the internal name too, with the new session.
    mfa = send(
        flow,
        challenge(
            "SMS_MFA",
            {
                "CODE_DELIVERY_DELIVERY_MEDIUM": "SMS",
                "CODE_DELIVERY_DESTINATION": "+*******1234",
                "USER_ID_FOR_SRP": INTERNAL,
            },
            "mfa-session",
        ),
    )
    assert isinstance(mfa, Prompt)
    assert mfa.challenge == "SMS_MFA"
    respond = send(flow, Answer("123456"))
    assert_respond(
        respond,
        "SMS_MFA",
        {"USERNAME": INTERNAL, "SMS_MFA_CODE": "123456", "SECRET_HASH": expected_hash(INTERNAL)},
        "mfa-session",
    )
    assert send(flow, {"AuthenticationResult": TOKENS}).tokens == RAW


def test_srp_without_challenge_username_hashes_user_id_for_srp() -> None:
    flow = cognito_sign_in(SECRET_POOL, request())
    first = next(flow)
    server = _srp.start(POOL_ID, INTERNAL, PASSWORD, first.params["AuthParameters"]["SRP_A"])
    step = send(flow, challenge("PASSWORD_VERIFIER", server.parameters, "srp-session"))
    responses = step.params["ChallengeResponses"]
    assert _srp.signature_valid(
        server, responses["TIMESTAMP"], responses["PASSWORD_CLAIM_SIGNATURE"]
    )
    assert responses["USERNAME"] == INTERNAL
    assert responses["SECRET_HASH"] == expected_hash(INTERNAL)


@pytest.mark.parametrize(
    "parameters",
    [
        pytest.param(
            {"USER_ID_FOR_SRP": INTERNAL, "SALT": "ab", "SECRET_BLOCK": "c2Vj"}, id="no-SRP_B"
        ),
        pytest.param(
            {"USER_ID_FOR_SRP": INTERNAL, "SALT": "ab", "SRP_B": "xyz", "SECRET_BLOCK": "c2Vj"},
            id="SRP_B-not-hex",
        ),
        pytest.param(
            {"SALT": "ab", "SRP_B": "0f", "SECRET_BLOCK": "c2Vj"}, id="no-USER_ID_FOR_SRP"
        ),
        pytest.param(
            {"USER_ID_FOR_SRP": INTERNAL, "SALT": "ab", "SRP_B": "0f", "SECRET_BLOCK": "abc"},
            id="SECRET_BLOCK-bad-base64-padding",
        ),
    ],
)
def test_srp_malformed_challenge(parameters: dict[str, str]) -> None:
    flow = cognito_sign_in(POOL, request())
    next(flow)
    with pytest.raises(InvalidParameterError, match="SRP challenge is malformed"):
        flow.send(challenge("PASSWORD_VERIFIER", parameters))


@pytest.mark.parametrize(
    "srp_b",
    [
        pytest.param("0", id="zero"),
        pytest.param(aws_srp.N_HEX, id="N"),
        pytest.param(format(2 * aws_srp.hex_to_long(aws_srp.N_HEX), "x"), id="2N"),
    ],
)
def test_srp_refuses_a_server_value_that_is_zero_mod_n(srp_b: str) -> None:
    flow = cognito_sign_in(POOL, request())
    next(flow)
    parameters = {
        "USER_ID_FOR_SRP": INTERNAL,
        "USERNAME": INTERNAL,
        "SALT": "ab",
        "SRP_B": srp_b,
        "SECRET_BLOCK": "c2Vj",
    }
    with pytest.raises(InvalidParameterError):
        flow.send(challenge("PASSWORD_VERIFIER", parameters))


def test_password_verifier_without_srp_sign_in() -> None:
    flow = start_password_flow()
    with pytest.raises(InvalidParameterError, match="without an SRP sign-in"):
        flow.send(challenge("PASSWORD_VERIFIER", {"USER_ID_FOR_SRP": INTERNAL, **PRIVATE}))


# -- USER_PASSWORD_AUTH and CUSTOM_AUTH --------------------------------------------------------


@pytest.mark.parametrize(
    ("pool", "auth"),
    [
        pytest.param(POOL, {"USERNAME": ALIAS, "PASSWORD": PASSWORD}, id="no-secret"),
        pytest.param(
            SECRET_POOL,
            {"USERNAME": ALIAS, "PASSWORD": PASSWORD, "SECRET_HASH": expected_hash(ALIAS)},
            id="secret",
        ),
    ],
)
def test_user_password_auth_request(pool: UserPoolConfig, auth: dict[str, str]) -> None:
    flow = cognito_sign_in(pool, request("USER_PASSWORD_AUTH"))
    first = next(flow)
    assert isinstance(first, ServiceCall)
    assert first.operation == "initiate_auth"
    assert dict(first.params) == {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": CLIENT_ID,
        "AuthParameters": auth,
        "ClientMetadata": None,
    }
    assert first.secrets == (PASSWORD,)
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


def test_user_password_auth_answers_challenges_for_the_service_user_name() -> None:
    flow = start_password_flow(SECRET_POOL)
    prompt = send(flow, challenge("SOFTWARE_TOKEN_MFA", {"USERNAME": INTERNAL}, "s1"))
    assert isinstance(prompt, Prompt)
    respond = send(flow, Answer("654321"))
    assert_respond(
        respond,
        "SOFTWARE_TOKEN_MFA",
        {
            "USERNAME": INTERNAL,
            "SOFTWARE_TOKEN_MFA_CODE": "654321",
            "SECRET_HASH": expected_hash(INTERNAL),
        },
        "s1",
    )
    assert respond.params["ChallengeResponses"]["SECRET_HASH"] != expected_hash(ALIAS)


@pytest.mark.parametrize(
    ("pool", "auth"),
    [
        pytest.param(POOL, {"USERNAME": ALIAS}, id="no-secret"),
        pytest.param(
            SECRET_POOL, {"USERNAME": ALIAS, "SECRET_HASH": expected_hash(ALIAS)}, id="secret"
        ),
    ],
)
def test_custom_auth_request_and_metadata(pool: UserPoolConfig, auth: dict[str, str]) -> None:
    flow = cognito_sign_in(
        pool,
        request(
            "CUSTOM_AUTH",
            password=None,
            validation_data={"captcha": "ok"},
            client_metadata={"app": "demo"},
        ),
    )
    first = next(flow)
    assert dict(first.params) == {
        "AuthFlow": "CUSTOM_AUTH",
        "ClientId": CLIENT_ID,
        "AuthParameters": auth,
        "ClientMetadata": {"captcha": "ok", "app": "demo"},
    }
    prompt = send(
        flow, challenge("CUSTOM_CHALLENGE", {"USERNAME": INTERNAL, "question": "2+2?"}, "c1")
    )
    assert isinstance(prompt, Prompt)
    assert prompt.challenge == "CUSTOM_CHALLENGE"
    assert prompt.parameters["USERNAME"] == INTERNAL

    # The request's metadata goes with an answer that has none; a wrong answer is asked
    # again, and an answer with its own metadata sends that instead.
    step = send(flow, Answer("5"))
    responses = {"USERNAME": INTERNAL, "ANSWER": "5"}
    if pool.app_client_secret:
        responses["SECRET_HASH"] = expected_hash(INTERNAL)
    assert_respond(step, "CUSTOM_CHALLENGE", responses, "c1", {"captcha": "ok", "app": "demo"})
    retry = flow.throw(CodeMismatchError("Incorrect answer."))
    assert retry.challenge == "CUSTOM_CHALLENGE"
    step = send(flow, Answer("4", client_metadata={"try": "2"}))
    assert_respond(step, "CUSTOM_CHALLENGE", {**responses, "ANSWER": "4"}, "c1", {"try": "2"})
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


# -- refused before any request ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("flow_name", "password", "message"),
    [
        pytest.param("USER_SRP_AUTH", None, "password is needed", id="srp-no-password"),
        pytest.param("USER_SRP_AUTH", "", "password is needed", id="srp-empty-password"),
        pytest.param("USER_PASSWORD_AUTH", None, "password is needed", id="password-auth-none"),
        pytest.param("ADMIN_NO_SRP_AUTH", PASSWORD, "Unsupported authentication flow", id="admin"),
        pytest.param("user_srp_auth", PASSWORD, "Unsupported authentication flow", id="case"),
        pytest.param("", PASSWORD, "Unsupported authentication flow", id="empty"),
    ],
)
def test_refused_at_the_first_step(flow_name: str, password: str | None, message: str) -> None:
    flow = cognito_sign_in(POOL, request(flow_name, password=password))
    with pytest.raises(InvalidParameterError, match=message) as caught:
        next(flow)
    assert PASSWORD not in str(caught.value)
    # The flow is over: it never yields a request.
    with pytest.raises(StopIteration):
        next(flow)


def test_custom_auth_needs_no_password() -> None:
    first = next(cognito_sign_in(POOL, request("CUSTOM_AUTH", password=None)))
    assert first.operation == "initiate_auth"


# -- each user challenge ----------------------------------------------------------------------

USER_CHALLENGES = [
    pytest.param(
        "SMS_MFA",
        {
            "CODE_DELIVERY_DELIVERY_MEDIUM": "SMS",
            "CODE_DELIVERY_DESTINATION": "+*******1234",
            "USER_ID_FOR_SRP": INTERNAL,
        },
        CodeDeliveryDetails(destination="+*******1234", delivery_medium="SMS"),
        Answer("123456"),
        {"SMS_MFA_CODE": "123456"},
        id="SMS_MFA",
    ),
    pytest.param(
        "SOFTWARE_TOKEN_MFA",
        {"USER_ID_FOR_SRP": INTERNAL},
        None,
        Answer("654321"),
        {"SOFTWARE_TOKEN_MFA_CODE": "654321"},
        id="SOFTWARE_TOKEN_MFA",
    ),
    pytest.param(
        "NEW_PASSWORD_REQUIRED",
        {
            "USER_ID_FOR_SRP": INTERNAL,
            "requiredAttributes": '["userAttributes.name"]',
            "userAttributes": '{"email": "ann@example.com"}',
        },
        None,
        Answer("N3w-Passw0rd!", user_attributes={"name": "Ann", "locale": "en"}),
        {
            "NEW_PASSWORD": "N3w-Passw0rd!",
            "userAttributes.name": "Ann",
            "userAttributes.locale": "en",
        },
        id="NEW_PASSWORD_REQUIRED",
    ),
    pytest.param(
        "SELECT_MFA_TYPE",
        {"USER_ID_FOR_SRP": INTERNAL, "MFAS_CAN_CHOOSE": '["SMS_MFA","SOFTWARE_TOKEN_MFA"]'},
        None,
        Answer("SOFTWARE_TOKEN_MFA"),
        {"ANSWER": "SOFTWARE_TOKEN_MFA"},
        id="SELECT_MFA_TYPE",
    ),
    pytest.param(
        "CUSTOM_CHALLENGE",
        {"USERNAME": INTERNAL},
        None,
        Answer("42"),
        {"ANSWER": "42"},
        id="CUSTOM_CHALLENGE",
    ),
]


@pytest.mark.parametrize("pool", [POOL, SECRET_POOL], ids=["no-secret", "secret"])
@pytest.mark.parametrize(("name", "public", "delivery", "answer", "responses"), USER_CHALLENGES)
def test_user_challenge(
    pool: UserPoolConfig,
    name: str,
    public: dict[str, str],
    delivery: CodeDeliveryDetails | None,
    answer: Answer,
    responses: dict[str, str],
) -> None:
    flow = start_password_flow(pool)
    prompt = send(flow, challenge(name, {**public, **PRIVATE}, "session-1"))
    assert isinstance(prompt, Prompt)
    assert prompt.challenge == name
    assert dict(prompt.parameters) == public
    assert "session-1" not in prompt.parameters.values()
    assert prompt.code_delivery == delivery
    assert prompt.error is None

    step = send(flow, answer)
    expected = {"USERNAME": INTERNAL, **responses}
    if pool.app_client_secret:
        expected["SECRET_HASH"] = expected_hash(INTERNAL)
    assert_respond(step, name, expected, "session-1")
    assert answer.response in step.secrets
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


def test_a_chain_of_challenges_follows_each_session() -> None:
    flow = start_password_flow()
    send(flow, challenge("NEW_PASSWORD_REQUIRED", {"USER_ID_FOR_SRP": INTERNAL}, "s1"))
    step = send(flow, Answer("N3w-Passw0rd!"))
    assert step.params["Session"] == "s1"
    prompt = send(flow, challenge("SELECT_MFA_TYPE", {"MFAS_CAN_CHOOSE": '["SMS_MFA"]'}, "s2"))
    assert prompt.challenge == "SELECT_MFA_TYPE"
    assert prompt.parameters == {"MFAS_CAN_CHOOSE": '["SMS_MFA"]'}
    step = send(flow, Answer("SMS_MFA"))
    assert_respond(step, "SELECT_MFA_TYPE", {"USERNAME": INTERNAL, "ANSWER": "SMS_MFA"}, "s2")
    prompt = send(flow, challenge("SMS_MFA", {"CODE_DELIVERY_DESTINATION": "+***9"}, "s3"))
    assert prompt.code_delivery == CodeDeliveryDetails(destination="+***9")
    step = send(flow, Answer("111111"))
    assert_respond(step, "SMS_MFA", {"USERNAME": INTERNAL, "SMS_MFA_CODE": "111111"}, "s3")
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


def test_custom_challenge_public_parameters_reach_the_caller() -> None:
    flow = cognito_sign_in(POOL, request("CUSTOM_AUTH", password=None))
    next(flow)
    public = {"USERNAME": INTERNAL, "question": "2+2?", "captchaUrl": "https://example.com/c"}
    prompt = send(flow, challenge("CUSTOM_CHALLENGE", public, "c1"))
    assert isinstance(prompt, Prompt)
    assert dict(prompt.parameters) == public


def test_a_challenge_needs_an_answer() -> None:
    flow = start_password_flow()
    send(flow, challenge("SMS_MFA", {"USER_ID_FOR_SRP": INTERNAL}))
    with pytest.raises(InvalidParameterError, match="needs an answer"):
        flow.send("123456")


# -- MFA_SETUP --------------------------------------------------------------------------------


@pytest.mark.parametrize("pool", [POOL, SECRET_POOL], ids=["no-secret", "secret"])
def test_mfa_setup(pool: UserPoolConfig) -> None:
    flow = start_password_flow(pool)
    associate = send(
        flow,
        challenge(
            "MFA_SETUP",
            {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]', "USER_ID_FOR_SRP": INTERNAL},
            "s1",
        ),
    )
    assert isinstance(associate, ServiceCall)
    assert associate.operation == "associate_software_token"
    assert dict(associate.params) == {"Session": "s1"}

    prompt = send(flow, {"SecretCode": "JBSWY3DPEHPK3PXP", "Session": "s2"})
    assert isinstance(prompt, Prompt)
    assert prompt.challenge == "MFA_SETUP"
    assert dict(prompt.parameters) == {
        "MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]',
        "USER_ID_FOR_SRP": INTERNAL,
        "SECRET_CODE": "JBSWY3DPEHPK3PXP",
    }
    assert "JBSWY3DPEHPK3PXP" not in repr(prompt)

    verify = send(flow, Answer("123456"))
    assert isinstance(verify, ServiceCall)
    assert verify.operation == "verify_software_token"
    assert dict(verify.params) == {
        "Session": "s2",
        "UserCode": "123456",
        "FriendlyDeviceName": "fsm-auth",
    }
    assert "123456" in verify.secrets

    respond = send(flow, {"Status": "SUCCESS", "Session": "s3"})
    expected = {"USERNAME": INTERNAL}
    if pool.app_client_secret:
        expected["SECRET_HASH"] = expected_hash(INTERNAL)
    assert_respond(respond, "MFA_SETUP", expected, "s3")
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


def test_mfa_setup_wrong_code_asks_again_in_the_same_session() -> None:
    flow = start_password_flow()
    send(flow, challenge("MFA_SETUP", {"USER_ID_FOR_SRP": INTERNAL}, "s1"))
    prompt = send(flow, {"SecretCode": "JBSWY3DPEHPK3PXP", "Session": "s2"})
    verify = send(flow, Answer("000000"))
    assert verify.operation == "verify_software_token"
    error = CodeMismatchError("Invalid code received for user")
    again = flow.throw(error)
    assert isinstance(again, Prompt)
    assert again.challenge == "MFA_SETUP"
    assert again.error is error
    assert again.parameters == prompt.parameters
    verify = send(flow, Answer("123456"))
    assert dict(verify.params) == {
        "Session": "s2",
        "UserCode": "123456",
        "FriendlyDeviceName": "fsm-auth",
    }


def test_mfa_setup_associate_answer_without_secret_code_is_malformed() -> None:
    flow = start_password_flow()
    send(flow, challenge("MFA_SETUP", {"USER_ID_FOR_SRP": INTERNAL}, "s1"))
    with pytest.raises(InvalidParameterError):
        flow.send({"Session": "s2"})


def test_mfa_setup_with_secret_in_the_challenge_skips_associate() -> None:
    flow = start_password_flow()
    prompt = send(
        flow, challenge("MFA_SETUP", {"USER_ID_FOR_SRP": INTERNAL, "SECRET_CODE": "ABC"}, "s1")
    )
    assert isinstance(prompt, Prompt)
    assert prompt.parameters["SECRET_CODE"] == "ABC"


# -- wrong answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        CodeMismatchError("Invalid code received for user"),
        ExpiredCodeError("Invalid code provided, please request a code again."),
        InvalidPasswordError("Password does not conform to policy"),
        InvalidParameterError("Invalid attributes given"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_retryable_error_asks_the_same_challenge_again(error: AuthError) -> None:
    flow = start_password_flow()
    public = {"CODE_DELIVERY_DESTINATION": "+*******1234", "USER_ID_FOR_SRP": INTERNAL}
    first = send(flow, challenge("SMS_MFA", public, "s1"))
    step = send(flow, Answer("000000"))
    assert step.params["ChallengeResponses"]["SMS_MFA_CODE"] == "000000"

    again = flow.throw(error)
    assert isinstance(again, Prompt)
    assert again.challenge == "SMS_MFA"
    assert again.error is error
    assert again.parameters == first.parameters
    assert again.code_delivery == first.code_delivery

    step = send(flow, Answer("123456"))
    assert_respond(step, "SMS_MFA", {"USERNAME": INTERNAL, "SMS_MFA_CODE": "123456"}, "s1")
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


@pytest.mark.parametrize(
    "error",
    [
        NotAuthorizedError("Invalid session for the user."),
        UserNotFoundError("User does not exist."),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_final_error_ends_the_flow(error: AuthError) -> None:
    flow = start_password_flow()
    send(flow, challenge("SMS_MFA", {"USER_ID_FOR_SRP": INTERNAL}, "s1"))
    send(flow, Answer("000000"))
    with pytest.raises(type(error)) as caught:
        flow.throw(error)
    assert caught.value is error
    with pytest.raises(StopIteration):
        next(flow)


def test_an_error_of_initiate_auth_ends_the_flow() -> None:
    flow = start_password_flow()
    with pytest.raises(NotAuthorizedError):
        flow.throw(NotAuthorizedError("Incorrect username or password."))


# -- what the flow refuses --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["UNHEARD_OF", "WEB_AUTHN", "PASSKEY_SETUP"])
def test_an_undeclared_challenge_is_refused_by_name(name: str) -> None:
    flow = start_password_flow()
    with pytest.raises(ChallengeNotSupportedError) as caught:
        flow.send(challenge(name, {"USERNAME": INTERNAL}))
    assert caught.value.code == name
    assert name in str(caught.value)
    assert "'test_sign_in'" in str(caught.value)


MALFORMED = [
    pytest.param({}, "neither tokens nor a challenge", id="empty"),
    pytest.param({"Session": "s1"}, "neither tokens nor a challenge", id="session-only"),
    pytest.param({"AuthenticationResult": {}}, "neither tokens nor a challenge", id="empty-result"),
    pytest.param({"ChallengeName": 7}, "neither tokens nor a challenge", id="name-not-text"),
    pytest.param({"ChallengeName": ""}, "neither tokens nor a challenge", id="name-empty"),
    pytest.param(
        {"ChallengeName": "SMS_MFA", "ChallengeParameters": ["USERNAME"]},
        "challenge parameters are malformed",
        id="parameters-a-list",
    ),
    pytest.param(
        {"ChallengeName": "SMS_MFA", "ChallengeParameters": "USERNAME=ann"},
        "challenge parameters are malformed",
        id="parameters-text",
    ),
    pytest.param(
        {"AuthenticationResult": {"IdToken": "id.jwt.ann"}},
        "incomplete set of tokens",
        id="no-access-token",
    ),
    pytest.param(
        {"AuthenticationResult": {"AccessToken": "access.jwt.ann", "RefreshToken": "r"}},
        "incomplete set of tokens",
        id="no-id-token",
    ),
    pytest.param({"AuthenticationResult": "tokens"}, "incomplete set of tokens", id="result-text"),
    pytest.param({"AuthenticationResult": ["x"]}, "incomplete set of tokens", id="result-list"),
]


@pytest.mark.parametrize(("answer", "message"), MALFORMED)
def test_a_malformed_initiate_answer(answer: dict[str, Any], message: str) -> None:
    flow = start_password_flow()
    with pytest.raises(InvalidParameterError, match=message):
        flow.send(answer)


@pytest.mark.parametrize(("answer", "message"), MALFORMED)
def test_a_malformed_respond_answer(answer: dict[str, Any], message: str) -> None:
    flow = start_password_flow()
    send(flow, challenge("SMS_MFA", {"USER_ID_FOR_SRP": INTERNAL}, "s1"))
    send(flow, Answer("123456"))
    with pytest.raises(InvalidParameterError, match=message):
        flow.send(answer)


def test_tokens_without_refresh_token() -> None:
    flow = start_password_flow()
    done = send(flow, {"AuthenticationResult": {"IdToken": "i", "AccessToken": "a"}})
    assert done == SignedIn(RawTokens("i", "a", None))


# -- nothing secret in a repr -----------------------------------------------------------------

SECRETS = [PASSWORD, "N3w-Passw0rd!", "123456", "id.jwt.ann", "access.jwt.ann", "refresh-ann"]


def test_step_reprs_show_no_secret() -> None:
    shown = [
        repr(request(password=PASSWORD)),
        repr(ServiceCall("initiate_auth", {"AuthParameters": {"PASSWORD": PASSWORD}}, (PASSWORD,))),
        repr(
            Prompt(
                "MFA_SETUP", {"SECRET_CODE": "JBSWY3DPEHPK3PXP"}, error=CodeMismatchError("123456")
            )
        ),
        repr(
            Answer(
                "123456", user_attributes={"name": "N3w-Passw0rd!"}, client_metadata={"k": "123456"}
            )
        ),
        repr(Answer("N3w-Passw0rd!")),
        repr(SignedIn(RAW)),
        str(SignedIn(RAW)),
        str(request(password=PASSWORD)),
    ]
    for text in shown:
        for secret in [*SECRETS, "JBSWY3DPEHPK3PXP"]:
            assert secret not in text, text
    assert repr(request()) == f"SignInRequest(username={ALIAS!r}, flow='USER_SRP_AUTH')"
    assert repr(ServiceCall("x", {"B": 1, "A": 2})) == "ServiceCall('x', keys=['A', 'B'])"
    assert repr(Prompt("SMS_MFA", error=CodeMismatchError())) == (
        "Prompt('SMS_MFA', error=CodeMismatchError)"
    )


def test_reprs_of_a_whole_flow_show_no_secret() -> None:
    flow = cognito_sign_in(SECRET_POOL, request("USER_PASSWORD_AUTH"))
    steps: list[Any] = [next(flow)]
    steps.append(send(flow, challenge("NEW_PASSWORD_REQUIRED", {"USER_ID_FOR_SRP": INTERNAL})))
    steps.append(send(flow, Answer("N3w-Passw0rd!")))
    steps.append(send(flow, challenge("SMS_MFA", {"USER_ID_FOR_SRP": INTERNAL}, "s2")))
    steps.append(send(flow, Answer("123456")))
    steps.append(send(flow, {"AuthenticationResult": TOKENS}))
    assert isinstance(steps[-1], SignedIn)
    for step in steps:
        for secret in [*SECRETS, CLIENT_SECRET, expected_hash(INTERNAL)]:
            assert secret not in repr(step)
            assert secret not in str(step)
