"""MFA_SETUP's options, driven by hand with ``send`` / ``throw`` (no server): the choice when the
service offers TOTP and e-mail, each option asked as the sign-in spec declares it, and
EMAIL_OTP answered under its declared key. The declarations are the shipped spec's."""

from __future__ import annotations

from typing import Any

import pytest

from fsm_auth.engine import Spec
from fsm_auth.errors import ChallengeNotSupportedError, InvalidParameterError
from fsm_auth.signin._challenges import ChallengeTable
from fsm_auth.signin._steps import Answer, Prompt, ServiceCall, SignedIn, SignInRequest
from fsm_auth_providers._sign_in import cognito_sign_in

from .test_cognito_flow import (
    INTERNAL,
    POOL,
    RAW,
    TOKENS,
    assert_respond,
    challenge,
    send,
)

SHIPPED = ChallengeTable.from_spec(Spec.load("sign_in"))
BOTH = '["SOFTWARE_TOKEN_MFA","EMAIL_OTP"]'


def start() -> Any:
    flow = cognito_sign_in(
        POOL,
        SignInRequest(
            username="ann", password="Pw-123456!", flow="USER_PASSWORD_AUTH", challenges=SHIPPED
        ),
    )
    first = next(flow)
    assert isinstance(first, ServiceCall)
    return flow


def offered(flow: Any, listed: str = BOTH) -> Prompt:
    prompt = send(
        flow, challenge("MFA_SETUP", {"MFAS_CAN_SETUP": listed, "USER_ID_FOR_SRP": INTERNAL}, "s1")
    )
    assert isinstance(prompt, Prompt)
    return prompt


def test_several_types_are_a_choice_then_email_asks_the_address() -> None:
    flow = start()
    prompt = offered(flow)
    assert prompt.challenge == "MFA_SETUP"
    assert prompt.parameters["MFAS_CAN_SETUP"] == '["SOFTWARE_TOKEN_MFA", "EMAIL_OTP"]'
    # The declaration a UI asks the first prompt by: the menu.
    assert SHIPPED["MFA_SETUP"].resolve(prompt.parameters).choices == "MFAS_CAN_SETUP"

    address = send(flow, Answer("email_otp"))  # no request: the choice is the caller's
    assert isinstance(address, Prompt)
    assert address.challenge == "MFA_SETUP"
    assert address.parameters["MFAS_CAN_SETUP"] == '["EMAIL_OTP"]'
    asked = SHIPPED["MFA_SETUP"].resolve(address.parameters)
    assert (asked.name, asked.answer_key, asked.choices) == ("MFA_SETUP", "EMAIL", None)

    respond = send(flow, Answer("ann@example.com"))
    assert_respond(respond, "MFA_SETUP", {"USERNAME": INTERNAL, "EMAIL": "ann@example.com"}, "s1")
    code = send(
        flow,
        challenge(
            "EMAIL_OTP",
            {
                "CODE_DELIVERY_DELIVERY_MEDIUM": "EMAIL",
                "CODE_DELIVERY_DESTINATION": "a***@e***",
                "USER_ID_FOR_SRP": INTERNAL,
            },
            "s2",
        ),
    )
    assert isinstance(code, Prompt)
    assert code.challenge == "EMAIL_OTP"
    assert code.code_delivery is not None
    assert code.code_delivery.delivery_medium == "EMAIL"
    respond = send(flow, Answer("123456"))
    assert_respond(respond, "EMAIL_OTP", {"USERNAME": INTERNAL, "EMAIL_OTP_CODE": "123456"}, "s2")
    assert send(flow, {"AuthenticationResult": TOKENS}) == SignedIn(RAW)


def test_choosing_totp_fetches_the_secret() -> None:
    flow = start()
    offered(flow)
    associate = send(flow, Answer("SOFTWARE_TOKEN_MFA"))
    assert isinstance(associate, ServiceCall)
    assert associate.operation == "associate_software_token"
    prompt = send(flow, {"SecretCode": "JBSWY3DPEHPK3PXP", "Session": "s2"})
    assert isinstance(prompt, Prompt)
    assert prompt.parameters["SECRET_CODE"] == "JBSWY3DPEHPK3PXP"
    assert prompt.parameters["MFAS_CAN_SETUP"] == '["SOFTWARE_TOKEN_MFA"]'
    verify = send(flow, Answer("123456"))
    assert verify.operation == "verify_software_token"


def test_an_unknown_choice_asks_again_without_echoing_it() -> None:
    flow = start()
    first = offered(flow)
    again = send(flow, Answer("314159"))
    assert isinstance(again, Prompt)
    assert isinstance(again.error, InvalidParameterError)
    assert "314159" not in str(again.error)
    assert "SOFTWARE_TOKEN_MFA" in str(again.error)
    assert again.parameters == first.parameters


def test_one_type_offered_is_taken_without_asking() -> None:
    flow = start()
    address = offered(flow, '["EMAIL_OTP"]')
    assert SHIPPED["MFA_SETUP"].resolve(address.parameters).answer_key == "EMAIL"


def test_types_the_spec_does_not_declare_are_refused_by_name() -> None:
    flow = start()
    with pytest.raises(ChallengeNotSupportedError) as caught:
        offered(flow, '["SMS_MFA"]')
    assert caught.value.code == "MFA_SETUP"
    assert "SMS_MFA" in str(caught.value)


def test_undeclared_types_are_left_out_of_the_choice() -> None:
    flow = start()
    step = send(
        flow,
        challenge("MFA_SETUP", {"MFAS_CAN_SETUP": '["SMS_MFA","SOFTWARE_TOKEN_MFA"]'}, "s1"),
    )
    # Only TOTP is both offered and declared: no choice, straight to its secret.
    assert isinstance(step, ServiceCall)
    assert step.operation == "associate_software_token"
