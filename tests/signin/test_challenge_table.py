"""``ChallengeTable.from_spec``: the ``x-challenges`` declarations of a sign-in spec's
``challenged`` state, the shipped ones and every malformed one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fsm_auth.engine import Spec
from fsm_auth.errors import SpecError
from fsm_auth.signin._challenges import CHALLENGED_STATE, Challenge, ChallengeTable

SPEC_NAME = "test_sign_in"


def spec_mapping(
    challenges: Any = None, *, name: str = SPEC_NAME, declare: bool = True
) -> dict[str, Any]:
    """A minimal sign-in spec whose ``challenged`` state declares ``challenges``."""
    challenged: dict[str, Any] = {"name": CHALLENGED_STATE}
    if declare:
        challenged["x-challenges"] = challenges
    return {
        "name": name,
        "initial": "notStarted",
        "states": ["notStarted", "signingIn", challenged, "DONE"],
        "transitions": [
            {
                "trigger": "start",
                "source": ["notStarted", CHALLENGED_STATE, "DONE"],
                "dest": "signingIn",
            },
            {"trigger": "challenge", "source": "signingIn", "dest": CHALLENGED_STATE},
            {"trigger": "answer", "source": CHALLENGED_STATE, "dest": "signingIn"},
            {"trigger": "authenticated", "source": "signingIn", "dest": "DONE"},
            {"trigger": "failed", "source": "signingIn", "dest": "notStarted"},
        ],
    }


def table(challenges: Any) -> ChallengeTable:
    return ChallengeTable.from_spec(Spec.load(spec_mapping(challenges)))


# -- the shipped spec -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> ChallengeTable:
    try:
        spec = Spec.load("sign_in")
    except SpecError as exc:
        pytest.skip(f"the engine does not load the shipped sign_in.yaml yet: {exc}")
    return ChallengeTable.from_spec(spec)


def test_shipped_declarations(shipped: ChallengeTable) -> None:
    assert shipped.spec_name == "sign_in"
    assert list(shipped) == [
        "PASSWORD_VERIFIER",
        "DEVICE_SRP_AUTH",
        "DEVICE_PASSWORD_VERIFIER",
        "NEW_PASSWORD_REQUIRED",
        "SMS_MFA",
        "SOFTWARE_TOKEN_MFA",
        "EMAIL_OTP",
        "SMS_OTP",
        "SELECT_CHALLENGE",
        "SELECT_MFA_TYPE",
        "MFA_SETUP",
        "CUSTOM_CHALLENGE",
    ]
    described = {name: c.description for name, c in shipped.items()}
    assert all(described.values()), described
    without_description = {
        name: (
            c.answered_by,
            c.answer_key,
            c.label,
            c.secret,
            c.choices,
            c.attributes,
            c.handler,
            c.before_prompt,
            c.before_answer,
        )
        for name, c in shipped.items()
    }
    assert without_description == {
        "PASSWORD_VERIFIER": (
            "provider",
            None,
            None,
            False,
            None,
            None,
            "password_verifier",
            None,
            None,
        ),
        "DEVICE_SRP_AUTH": (
            "provider",
            None,
            None,
            False,
            None,
            None,
            "device_srp_auth",
            None,
            None,
        ),
        "DEVICE_PASSWORD_VERIFIER": (
            "provider",
            None,
            None,
            False,
            None,
            None,
            "device_password_verifier",
            None,
            None,
        ),
        "NEW_PASSWORD_REQUIRED": (
            "user",
            "NEW_PASSWORD",
            "New password",
            True,
            None,
            "requiredAttributes",
            None,
            None,
            None,
        ),
        "SMS_MFA": ("user", "SMS_MFA_CODE", "Code", False, None, None, None, None, None),
        "SOFTWARE_TOKEN_MFA": (
            "user",
            "SOFTWARE_TOKEN_MFA_CODE",
            "Code from your authenticator app",
            False,
            None,
            None,
            None,
            None,
            None,
        ),
        "EMAIL_OTP": ("user", "EMAIL_OTP_CODE", "Code", False, None, None, None, None, None),
        "SELECT_MFA_TYPE": (
            "user",
            "ANSWER",
            "MFA type",
            False,
            "MFAS_CAN_CHOOSE",
            None,
            None,
            None,
            None,
        ),
        "MFA_SETUP": (
            "user",
            None,
            "MFA to set up",
            False,
            "MFAS_CAN_SETUP",
            None,
            None,
            None,
            None,
        ),
        "SMS_OTP": ("user", "SMS_OTP_CODE", "Code", False, None, None, None, None, None),
        "SELECT_CHALLENGE": (
            "user",
            "ANSWER",
            "Sign in with",
            False,
            "AVAILABLE_CHALLENGES",
            None,
            None,
            None,
            None,
        ),
        "CUSTOM_CHALLENGE": ("user", "ANSWER", "Answer", False, None, None, None, None, None),
    }


def test_shipped_user_challenges_and_provider_steps(shipped: ChallengeTable) -> None:
    assert [c.name for c in shipped.user_challenges()] == [
        "NEW_PASSWORD_REQUIRED",
        "SMS_MFA",
        "SOFTWARE_TOKEN_MFA",
        "EMAIL_OTP",
        "SMS_OTP",
        "SELECT_CHALLENGE",
        "SELECT_MFA_TYPE",
        "MFA_SETUP",
        "CUSTOM_CHALLENGE",
    ]
    assert shipped.provider_steps() == frozenset(
        {
            "password_verifier",
            "device_srp_auth",
            "device_password_verifier",
            "associate_software_token",
            "verify_software_token",
            "password_srp",
        }
    )
    assert shipped["MFA_SETUP"].provider_steps == (
        "associate_software_token",
        "verify_software_token",
    )
    assert shipped["SMS_MFA"].provider_steps == ()
    setup = shipped["MFA_SETUP"]
    assert setup.options is not None
    assert list(setup.options) == ["SOFTWARE_TOKEN_MFA", "EMAIL_OTP"]
    totp = setup.option("SOFTWARE_TOKEN_MFA")
    assert (totp.name, totp.label, totp.before_prompt, totp.before_answer) == (
        "MFA_SETUP",
        "Code from your authenticator app",
        "associate_software_token",
        "verify_software_token",
    )
    email = setup.option("EMAIL_OTP")
    assert (email.name, email.answer_key, email.label) == (
        "MFA_SETUP",
        "EMAIL",
        "E-mail address for sign-in codes",
    )


def test_options_need_choices_and_known_keys() -> None:
    with pytest.raises(SpecError, match="options need choices"):
        table({"X": {"label": "Pick", "options": {"A": {"answer": "A", "label": "A"}}}})
    with pytest.raises(SpecError, match="unknown key"):
        table(
            {
                "X": {
                    "label": "Pick",
                    "choices": "LIST",
                    "options": {"A": {"answer": "A", "label": "A", "handler": "h"}},
                }
            }
        )
    parsed = table(
        {
            "X": {
                "label": "Pick",
                "choices": "LIST",
                "options": {"A": {"answer": "A_KEY", "label": "Say A", "before_prompt": "step"}},
            }
        }
    )
    assert parsed.provider_steps() == frozenset({"step"})
    assert parsed["X"].resolve({"LIST": '["A"]'}).answer_key == "A_KEY"
    assert parsed["X"].resolve({"LIST": '["A", "B"]'}).answer_key == "A_KEY"  # B: undeclared
    assert parsed["X"].resolve({}).answer_key == "A_KEY"  # none listed: the first option


def test_shipped_provider_steps_exist_in_the_cognito_provider(shipped: ChallengeTable) -> None:
    from fsm_auth_providers._sign_in import STEPS

    assert shipped.provider_steps() <= set(STEPS)


def test_table_is_a_read_only_mapping(shipped: ChallengeTable) -> None:
    assert len(shipped) == 12
    assert "SMS_MFA" in shipped
    assert shipped.get("NOT_A_CHALLENGE") is None
    with pytest.raises(KeyError):
        shipped["NOT_A_CHALLENGE"]
    with pytest.raises(TypeError):
        shipped["SMS_MFA"] = Challenge("SMS_MFA")  # type: ignore[index]
    assert repr(shipped).startswith("ChallengeTable('sign_in', ['PASSWORD_VERIFIER'")


# -- test specs -------------------------------------------------------------------------------


def test_defaults_and_all_keys() -> None:
    parsed = table(
        {
            "OTP": {"answer": "OTP_CODE", "label": "One-time code"},
            "PIN": {
                "answered_by": "user",
                "answer": "PIN",
                "label": "PIN",
                "secret": True,
                "choices": "PINS",
                "attributes": "requiredAttributes",
                "before_prompt": "fetch",
                "before_answer": "check",
                "description": "A PIN.",
            },
            "PROOF": {"answered_by": "provider", "handler": "prove"},
        }
    )
    assert parsed["OTP"] == Challenge("OTP", answer_key="OTP_CODE", label="One-time code")
    assert parsed["PIN"] == Challenge(
        "PIN",
        "user",
        "PIN",
        "PIN",
        True,
        "PINS",
        "requiredAttributes",
        None,
        "fetch",
        "check",
        "A PIN.",
    )
    assert parsed["PROOF"] == Challenge("PROOF", answered_by="provider", handler="prove")
    assert parsed.spec_name == SPEC_NAME
    assert parsed.provider_steps() == frozenset({"fetch", "check", "prove"})


def test_before_answer_stands_for_an_answer_key() -> None:
    parsed = table({"SETUP": {"label": "Code", "before_answer": "verify"}})
    assert parsed["SETUP"].answer_key is None
    assert parsed["SETUP"].before_answer == "verify"


def test_no_declarations_is_an_empty_table() -> None:
    parsed = ChallengeTable.from_spec(Spec.load(spec_mapping(declare=False)))
    assert len(parsed) == 0
    assert parsed.user_challenges() == ()
    assert parsed.provider_steps() == frozenset()


BAD = [
    pytest.param({"SMS_MFA": "SMS_MFA_CODE"}, "SMS_MFA", "must be a mapping", id="not-a-mapping"),
    pytest.param({"SMS_MFA": ["answer"]}, "SMS_MFA", "must be a mapping", id="a-list"),
    pytest.param(
        {"SMS_MFA": {"answer": "SMS_MFA_CODE", "label": "Code", "lable": "Code"}},
        "SMS_MFA",
        "unknown key(s) lable",
        id="unknown-key",
    ),
    pytest.param(
        {"SMS_MFA": {"answer": "SMS_MFA_CODE", "label": 6}},
        "SMS_MFA",
        "label must be non-empty text",
        id="label-not-text",
    ),
    pytest.param(
        {"SMS_MFA": {"answer": "", "label": "Code"}},
        "SMS_MFA",
        "answer must be non-empty text",
        id="empty-answer",
    ),
    pytest.param(
        {"X": {"answered_by": "provider", "handler": ["a", "b"]}},
        "X",
        "handler must be non-empty text",
        id="handler-a-list",
    ),
    pytest.param(
        {
            "NEW_PASSWORD_REQUIRED": {
                "answer": "NEW_PASSWORD",
                "label": "New password",
                "secret": "yes",
            }
        },
        "NEW_PASSWORD_REQUIRED",
        "secret must be true or false",
        id="secret-not-bool",
    ),
    pytest.param(
        {"PASSWORD_VERIFIER": {"answered_by": "provider"}},
        "PASSWORD_VERIFIER",
        "answered by the provider needs a handler",
        id="provider-without-handler",
    ),
    pytest.param(
        {"SMS_MFA": {"answer": "SMS_MFA_CODE"}},
        "SMS_MFA",
        "the user answers needs a label",
        id="user-without-label",
    ),
    pytest.param(
        {"SMS_MFA": None},
        "SMS_MFA",
        "the user answers needs a label",
        id="empty-declaration",
    ),
    pytest.param(
        {"SMS_MFA": {"label": "Code"}},
        "SMS_MFA",
        "the user answers needs an answer key",
        id="user-without-answer-key",
    ),
    pytest.param(
        {"SMS_MFA": {"answered_by": "server", "answer": "SMS_MFA_CODE", "label": "Code"}},
        "SMS_MFA",
        "answered_by must be 'user' or 'provider'",
        id="answered-by-unknown",
    ),
]


@pytest.mark.parametrize(("challenges", "challenge", "message"), BAD)
def test_malformed_declaration(challenges: Any, challenge: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        table(challenges)
    text = str(caught.value)
    assert f"spec {SPEC_NAME!r}" in text
    assert f"challenge {challenge!r}" in text
    assert message in text


@pytest.mark.parametrize("name", [7, ""])
def test_malformed_challenge_name(name: Any) -> None:
    with pytest.raises(SpecError) as caught:
        table({name: {"answer": "A", "label": "L"}})
    text = str(caught.value)
    assert f"spec {SPEC_NAME!r}" in text
    assert f"challenge names must be non-empty text, got {name!r}" in text


@pytest.mark.parametrize("raw", [["SMS_MFA"], "SMS_MFA"])
def test_declarations_not_a_mapping(raw: Any) -> None:
    with pytest.raises(SpecError) as caught:
        table(raw)
    assert f"spec {SPEC_NAME!r}: x-challenges must map challenge names" in str(caught.value)


def test_a_spec_without_challenged_state() -> None:
    spec = Spec.load(
        {
            "name": "no_challenges",
            "initial": "a",
            "states": ["a", "b"],
            "transitions": [{"trigger": "go", "source": "a", "dest": "b"}],
        }
    )
    with pytest.raises(
        SpecError, match=r"spec 'no_challenges': a sign-in spec needs a 'challenged' state"
    ):
        ChallengeTable.from_spec(spec)


def test_an_error_in_a_spec_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "my_sign_in.yaml"
    path.write_text(
        yaml.safe_dump(spec_mapping({"SMS_MFA": {"answer": "SMS_MFA_CODE"}}, name="mine"))
    )
    with pytest.raises(SpecError) as caught:
        ChallengeTable.from_spec(Spec.load(path))
    text = str(caught.value)
    assert str(path) in text
    assert "challenge 'SMS_MFA'" in text
