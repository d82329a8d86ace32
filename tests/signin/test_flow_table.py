"""``FlowTable``: the ``x-flows`` declarations of a sign-in spec's ``signingIn`` state (the
shipped ones and every malformed one) and ``check``, which refuses a ``sign_in`` the spec does
not allow; and the challenge-declaration keys passwordless sign-in added to ``_challenges.py``
(``uses_password``, options that ask nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fsm_auth.engine import Spec
from fsm_auth.errors import InvalidParameterError, SpecError
from fsm_auth.signin._challenges import CHALLENGED_STATE, Challenge, ChallengeTable
from fsm_auth.signin._flows import FLOWS_STATE, FlowTable, SignInFlowDeclaration

SPEC_NAME = "test_flows"
PASSWORD = "Correct-Horse-9!"

SHIPPED_FLOWS = [
    "USER_SRP_AUTH",
    "USER_PASSWORD_AUTH",
    "CUSTOM_AUTH",
    "CUSTOM_WITH_SRP",
    "USER_AUTH",
]
PREFERRED = ["PASSWORD_SRP", "PASSWORD", "EMAIL_OTP", "SMS_OTP"]


def spec_mapping(
    flows: Any = None,
    *,
    challenges: Any = None,
    name: str = SPEC_NAME,
    declare: bool = True,
    signing_in: bool = True,
) -> dict[str, Any]:
    """A minimal sign-in spec whose ``signingIn`` state declares ``flows`` (and whose
    ``challenged`` state declares ``challenges``)."""
    signing: dict[str, Any] = {"name": FLOWS_STATE}
    if declare:
        signing["x-flows"] = flows
    challenged: dict[str, Any] = {"name": CHALLENGED_STATE}
    if challenges is not None:
        challenged["x-challenges"] = challenges
    running = FLOWS_STATE if signing_in else "running"
    return {
        "name": name,
        "initial": "notStarted",
        "states": ["notStarted", signing if signing_in else running, challenged, "DONE"],
        "transitions": [
            {
                "trigger": "start",
                "source": ["notStarted", CHALLENGED_STATE, "DONE"],
                "dest": running,
            },
            {"trigger": "challenge", "source": running, "dest": CHALLENGED_STATE},
            {"trigger": "answer", "source": CHALLENGED_STATE, "dest": running},
            {"trigger": "authenticated", "source": running, "dest": "DONE"},
            {"trigger": "failed", "source": running, "dest": "notStarted"},
        ],
    }


def flows(declared: Any) -> FlowTable:
    return FlowTable.from_spec(Spec.load(spec_mapping(declared)))


def challenges(declared: Any) -> ChallengeTable:
    return ChallengeTable.from_spec(Spec.load(spec_mapping({}, challenges=declared)))


def refusal(table: FlowTable, flow: str, password: str | None, preferred: str | None) -> str:
    """The message of ``check``'s refusal (it must refuse)."""
    with pytest.raises(InvalidParameterError) as caught:
        table.check(flow, password, preferred)
    assert caught.value.code == "InvalidParameterException"
    return caught.value.message


# -- the shipped spec -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> FlowTable:
    return FlowTable.from_spec(Spec.load("sign_in"))


def test_shipped_flows(shipped: FlowTable) -> None:
    assert shipped.spec_name == "sign_in"
    assert list(shipped) == SHIPPED_FLOWS
    assert {name: flow.password for name, flow in shipped.items()} == {
        "USER_SRP_AUTH": "required",
        "USER_PASSWORD_AUTH": "required",
        "CUSTOM_AUTH": "none",
        "CUSTOM_WITH_SRP": "required",
        "USER_AUTH": "optional",
    }
    assert all(flow.name == name for name, flow in shipped.items())
    assert all(flow.description for flow in shipped.values())
    user_auth = shipped["USER_AUTH"]
    assert list(user_auth.preferred_challenges) == PREFERRED
    assert {n: c.password for n, c in user_auth.preferred_challenges.items()} == {
        "PASSWORD_SRP": "required",
        "PASSWORD": "required",
        "EMAIL_OTP": "none",
        "SMS_OTP": "none",
    }
    assert all(c.description for c in user_auth.preferred_challenges.values())
    assert all(not c.preferred_challenges for c in user_auth.preferred_challenges.values())
    for name in SHIPPED_FLOWS[:-1]:
        assert not shipped[name].preferred_challenges
    assert shipped.with_preferred_challenges() == ("USER_AUTH",)


def test_shipped_flows_are_the_ones_the_cognito_provider_runs(shipped: FlowTable) -> None:
    from fsm_auth_providers._sign_in import FLOWS

    assert set(shipped) == set(FLOWS)


def test_table_is_a_read_only_mapping(shipped: FlowTable) -> None:
    assert len(shipped) == 5
    assert "USER_AUTH" in shipped
    assert shipped.get("ADMIN_NO_SRP_AUTH") is None
    with pytest.raises(KeyError):
        shipped["ADMIN_NO_SRP_AUTH"]
    with pytest.raises(TypeError):
        shipped["X"] = SignInFlowDeclaration("X", "none")  # type: ignore[index]
    preferred = shipped["USER_AUTH"].preferred_challenges
    with pytest.raises(TypeError):
        preferred["X"] = SignInFlowDeclaration("X", "none")  # type: ignore[index]
    assert repr(shipped) == f"FlowTable('sign_in', {SHIPPED_FLOWS!r})"


ACCEPTED = [
    ("USER_SRP_AUTH", PASSWORD, None),
    ("USER_PASSWORD_AUTH", PASSWORD, None),
    ("CUSTOM_AUTH", None, None),
    ("CUSTOM_WITH_SRP", PASSWORD, None),
    ("USER_AUTH", None, None),
    ("USER_AUTH", PASSWORD, None),
    ("USER_AUTH", PASSWORD, "PASSWORD"),
    ("USER_AUTH", PASSWORD, "PASSWORD_SRP"),
    ("USER_AUTH", None, "EMAIL_OTP"),
    ("USER_AUTH", None, "SMS_OTP"),
]


@pytest.mark.parametrize(("flow", "password", "preferred"), ACCEPTED)
def test_check_accepts(
    shipped: FlowTable, flow: str, password: str | None, preferred: str | None
) -> None:
    shipped.check(flow, password, preferred)  # no refusal


ALL_FLOWS = ", ".join(SHIPPED_FLOWS)
REFUSED = [
    pytest.param(
        "USER_SRP_AUTH",
        None,
        None,
        "A password is needed to sign in with USER_SRP_AUTH",
        id="srp-no-password",
    ),
    pytest.param(
        "USER_PASSWORD_AUTH",
        None,
        None,
        "A password is needed to sign in with USER_PASSWORD_AUTH",
        id="password-auth-no-password",
    ),
    pytest.param(
        "CUSTOM_WITH_SRP",
        None,
        None,
        "A password is needed to sign in with CUSTOM_WITH_SRP",
        id="custom-with-srp-no-password",
    ),
    pytest.param(
        "CUSTOM_AUTH",
        PASSWORD,
        None,
        "Signing in with CUSTOM_AUTH takes no password (pass password=None)",
        id="custom-auth-password",
    ),
    pytest.param(
        "USER_AUTH",
        None,
        "PASSWORD",
        "A password is needed to sign in with USER_AUTH with PASSWORD",
        id="user-auth-PASSWORD-no-password",
    ),
    pytest.param(
        "USER_AUTH",
        None,
        "PASSWORD_SRP",
        "A password is needed to sign in with USER_AUTH with PASSWORD_SRP",
        id="user-auth-PASSWORD_SRP-no-password",
    ),
    pytest.param(
        "USER_AUTH",
        PASSWORD,
        "EMAIL_OTP",
        "Signing in with USER_AUTH with EMAIL_OTP takes no password (pass password=None)",
        id="user-auth-EMAIL_OTP-password",
    ),
    pytest.param(
        "USER_AUTH",
        PASSWORD,
        "SMS_OTP",
        "Signing in with USER_AUTH with SMS_OTP takes no password (pass password=None)",
        id="user-auth-SMS_OTP-password",
    ),
    pytest.param(
        "USER_AUTH",
        None,
        "WEB_AUTHN",
        "Unsupported preferred_challenge 'WEB_AUTHN' for USER_AUTH: use one of "
        "PASSWORD_SRP, PASSWORD, EMAIL_OTP, SMS_OTP",
        id="user-auth-undeclared-preferred",
    ),
    pytest.param(
        "USER_AUTH",
        None,
        "email_otp",
        "Unsupported preferred_challenge 'email_otp' for USER_AUTH: use one of "
        "PASSWORD_SRP, PASSWORD, EMAIL_OTP, SMS_OTP",
        id="user-auth-preferred-case",
    ),
    pytest.param(
        "USER_SRP_AUTH",
        PASSWORD,
        "PASSWORD_SRP",
        "USER_SRP_AUTH takes no preferred_challenge (only USER_AUTH does)",
        id="srp-with-preferred",
    ),
    pytest.param(
        "CUSTOM_AUTH",
        None,
        "EMAIL_OTP",
        "CUSTOM_AUTH takes no preferred_challenge (only USER_AUTH does)",
        id="custom-with-preferred",
    ),
    pytest.param(
        "ADMIN_NO_SRP_AUTH",
        PASSWORD,
        None,
        f"Unsupported authentication flow 'ADMIN_NO_SRP_AUTH': use one of {ALL_FLOWS}",
        id="undeclared-flow",
    ),
    pytest.param(
        "user_auth",
        None,
        None,
        f"Unsupported authentication flow 'user_auth': use one of {ALL_FLOWS}",
        id="flow-case",
    ),
    pytest.param(
        "",
        None,
        None,
        f"Unsupported authentication flow '': use one of {ALL_FLOWS}",
        id="flow-empty",
    ),
]


@pytest.mark.parametrize(("flow", "password", "preferred", "message"), REFUSED)
def test_check_refuses(
    shipped: FlowTable, flow: str, password: str | None, preferred: str | None, message: str
) -> None:
    text = refusal(shipped, flow, password, preferred)
    assert text == message
    assert PASSWORD not in text


def test_check_refuses_an_undeclared_flow_before_its_preferred_challenge(
    shipped: FlowTable,
) -> None:
    text = refusal(shipped, "PASSWORDLESS", None, "EMAIL_OTP")
    assert text.startswith("Unsupported authentication flow 'PASSWORDLESS'")


# -- hand-written specs -----------------------------------------------------------------------


def test_declarations_and_defaults() -> None:
    table = flows(
        {
            "PLAIN": {"password": "required"},
            "CODES": {
                "password": "optional",
                "description": "Codes first.",
                "preferred_challenges": {
                    "MAGIC_LINK": {"password": "none"},
                    "PIN": {"password": "required", "description": "A PIN."},
                },
            },
        }
    )
    assert table.spec_name == SPEC_NAME
    assert list(table) == ["PLAIN", "CODES"]
    assert table["PLAIN"] == SignInFlowDeclaration("PLAIN", "required")
    assert table["PLAIN"].description is None
    assert dict(table["PLAIN"].preferred_challenges) == {}
    codes = table["CODES"]
    assert (codes.name, codes.password, codes.description) == ("CODES", "optional", "Codes first.")
    assert dict(codes.preferred_challenges) == {
        "MAGIC_LINK": SignInFlowDeclaration("MAGIC_LINK", "none"),
        "PIN": SignInFlowDeclaration("PIN", "required", "A PIN."),
    }
    assert table.with_preferred_challenges() == ("CODES",)

    table.check("PLAIN", "pw", None)
    table.check("CODES", None, "MAGIC_LINK")
    table.check("CODES", "pw", "PIN")
    table.check("CODES", "pw", None)
    assert refusal(table, "CODES", "pw", "MAGIC_LINK") == (
        "Signing in with CODES with MAGIC_LINK takes no password (pass password=None)"
    )
    assert refusal(table, "CODES", None, "PIN") == (
        "A password is needed to sign in with CODES with PIN"
    )
    assert refusal(table, "PLAIN", "pw", "PIN") == (
        "PLAIN takes no preferred_challenge (only CODES does)"
    )
    assert refusal(table, "USER_SRP_AUTH", "pw", None) == (
        "Unsupported authentication flow 'USER_SRP_AUTH': use one of PLAIN, CODES"
    )


def test_a_preferred_challenge_with_an_optional_password_takes_either() -> None:
    table = flows(
        {"F": {"password": "none", "preferred_challenges": {"C": {"password": "optional"}}}}
    )
    table.check("F", None, "C")
    table.check("F", "pw", "C")  # the challenge's rule, not the flow's
    assert refusal(table, "F", "pw", None) == (
        "Signing in with F takes no password (pass password=None)"
    )


def test_no_flow_takes_a_preferred_challenge() -> None:
    table = flows({"A": {"password": "required"}})
    assert table.with_preferred_challenges() == ()
    assert refusal(table, "A", "pw", "EMAIL_OTP") == (
        "A takes no preferred_challenge (only no flow does)"
    )


@pytest.mark.parametrize(
    "mapping",
    [
        pytest.param(spec_mapping(declare=False), id="signingIn-without-x-flows"),
        pytest.param(spec_mapping(signing_in=False), id="no-signingIn-state"),
    ],
)
def test_a_spec_without_flows_accepts_anything(mapping: dict[str, Any]) -> None:
    table = FlowTable.from_spec(Spec.load(mapping))
    assert len(table) == 0
    assert table.with_preferred_challenges() == ()
    for flow, password, preferred in [
        ("USER_SRP_AUTH", None, None),
        ("CUSTOM_AUTH", PASSWORD, None),
        ("ANYTHING", PASSWORD, "WEB_AUTHN"),
        ("", None, ""),
    ]:
        table.check(flow, password, preferred)  # no refusal


BAD = [
    pytest.param(
        {"USER_AUTH": {"password": "optional", "pasword": "none"}},
        "flow 'USER_AUTH'",
        "unknown key(s) pasword (allowed: description, password, preferred_challenges)",
        id="unknown-key",
    ),
    pytest.param(
        {"F": {"password": "required", "handler": "x", "answer": "y"}},
        "flow 'F'",
        "unknown key(s) answer, handler",
        id="unknown-keys-sorted",
    ),
    pytest.param(
        {
            "USER_AUTH": {
                "password": "optional",
                "preferred_challenges": {
                    "EMAIL_OTP": {"password": "none", "preferred_challenges": {}}
                },
            }
        },
        "flow 'USER_AUTH': preferred challenge 'EMAIL_OTP'",
        "unknown key(s) preferred_challenges (allowed: description, password)",
        id="preferred-challenge-unknown-key",
    ),
    pytest.param(
        {"F": {"password": "yes"}},
        "flow 'F'",
        "password must be one of required, optional, none",
        id="password-unknown-rule",
    ),
    pytest.param(
        {"F": {"password": True}},
        "flow 'F'",
        "password must be one of required, optional, none",
        id="password-bool",
    ),
    pytest.param(
        {"F": {"password": "Required"}},
        "flow 'F'",
        "password must be one of required, optional, none",
        id="password-case",
    ),
    pytest.param(
        {"F": {"description": "No rule."}},
        "flow 'F'",
        "password must be one of required, optional, none",
        id="password-missing",
    ),
    pytest.param(
        {"F": {}},
        "flow 'F'",
        "password must be one of required, optional, none",
        id="empty-declaration",
    ),
    pytest.param(
        {"F": {"password": "optional", "preferred_challenges": {"C": {"password": "maybe"}}}},
        "flow 'F': preferred challenge 'C'",
        "password must be one of required, optional, none",
        id="preferred-challenge-password",
    ),
    pytest.param(
        {"USER-AUTH": {"password": "none"}},
        "flow 'USER-AUTH'",
        "names must be identifiers such as USER_SRP_AUTH",
        id="name-with-dash",
    ),
    pytest.param(
        {"1FLOW": {"password": "none"}},
        "flow '1FLOW'",
        "names must be identifiers such as USER_SRP_AUTH",
        id="name-starts-with-digit",
    ),
    pytest.param(
        {"": {"password": "none"}},
        "flow ''",
        "names must be identifiers such as USER_SRP_AUTH",
        id="name-empty",
    ),
    pytest.param(
        {7: {"password": "none"}},
        "flow 7",
        "names must be identifiers such as USER_SRP_AUTH",
        id="name-a-number",
    ),
    pytest.param(
        {
            "F": {
                "password": "optional",
                "preferred_challenges": {"EMAIL OTP": {"password": "none"}},
            }
        },
        "flow 'F': preferred challenge 'EMAIL OTP'",
        "names must be identifiers such as USER_SRP_AUTH",
        id="preferred-challenge-name-with-space",
    ),
    pytest.param(
        {"F": {"password": "optional", "preferred_challenges": None}},
        "flow 'F'",
        "preferred_challenges must map challenge names to their declarations",
        id="preferred-challenges-null",
    ),
    pytest.param(
        {"F": {"password": "optional", "preferred_challenges": ["EMAIL_OTP"]}},
        "flow 'F'",
        "preferred_challenges must map challenge names to their declarations",
        id="preferred-challenges-a-list",
    ),
    pytest.param(
        {"F": {"password": "optional", "preferred_challenges": "EMAIL_OTP"}},
        "flow 'F'",
        "preferred_challenges must map challenge names to their declarations",
        id="preferred-challenges-text",
    ),
    pytest.param(
        {"F": {"password": "optional", "preferred_challenges": {"C": "none"}}},
        "flow 'F': preferred challenge 'C'",
        "must be a mapping of its keys",
        id="preferred-challenge-not-a-mapping",
    ),
    pytest.param(
        {"F": {"password": "none", "description": ""}},
        "flow 'F'",
        "description must be non-empty text",
        id="description-empty",
    ),
    pytest.param(
        {"F": {"password": "none", "description": 5}},
        "flow 'F'",
        "description must be non-empty text",
        id="description-a-number",
    ),
    pytest.param(
        {"F": {"password": "none", "description": ["a", "b"]}},
        "flow 'F'",
        "description must be non-empty text",
        id="description-a-list",
    ),
    pytest.param(
        {
            "F": {
                "password": "optional",
                "preferred_challenges": {"C": {"password": "none", "description": ""}},
            }
        },
        "flow 'F': preferred challenge 'C'",
        "description must be non-empty text",
        id="preferred-challenge-description",
    ),
    pytest.param(
        {"F": "required"},
        "flow 'F'",
        "must be a mapping of its keys",
        id="declaration-text",
    ),
    pytest.param(
        {"F": None},
        "flow 'F'",
        "must be a mapping of its keys",
        id="declaration-none",
    ),
]


@pytest.mark.parametrize(("declared", "where", "message"), BAD)
def test_malformed_declaration(declared: Any, where: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        flows(declared)
    text = str(caught.value)
    assert f"spec {SPEC_NAME!r}: {where}" in text
    assert message in text


@pytest.mark.parametrize("raw", [["USER_SRP_AUTH"], "USER_SRP_AUTH", None])
def test_declarations_not_a_mapping(raw: Any) -> None:
    with pytest.raises(SpecError) as caught:
        flows(raw)
    assert f"spec {SPEC_NAME!r}: x-flows must map flow names to their declarations" in str(
        caught.value
    )


def test_an_error_in_a_spec_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "my_sign_in.yaml"
    path.write_text(yaml.safe_dump(spec_mapping({"USER_AUTH": {"password": "sometimes"}})))
    with pytest.raises(SpecError) as caught:
        FlowTable.from_spec(Spec.load(path))
    text = str(caught.value)
    assert f"{path}: flow 'USER_AUTH': password must be one of" in text


# -- _challenges.py: uses_password and options that ask nothing ------------------------------


def test_shipped_select_challenge_options() -> None:
    table = ChallengeTable.from_spec(Spec.load("sign_in"))
    select = table["SELECT_CHALLENGE"]
    assert (select.answer_key, select.label, select.choices, select.uses_password) == (
        "ANSWER",
        "Sign in with",
        "AVAILABLE_CHALLENGES",
        False,
    )
    assert select.asks
    assert select.options is not None
    assert list(select.options) == ["PASSWORD_SRP", "PASSWORD", "EMAIL_OTP", "SMS_OTP"]
    declared = {
        choice: (
            option.name,
            option.chosen,
            option.answer_key,
            option.label,
            option.secret,
            option.uses_password,
            option.before_answer,
            option.asks,
        )
        for choice in select.options
        for option in [select.option(choice)]
    }
    assert declared == {
        "PASSWORD_SRP": (
            "SELECT_CHALLENGE",
            "PASSWORD_SRP",
            None,
            "Password",
            True,
            True,
            "password_srp",
            True,
        ),
        "PASSWORD": (
            "SELECT_CHALLENGE",
            "PASSWORD",
            "PASSWORD",
            "Password",
            True,
            True,
            None,
            True,
        ),
        "EMAIL_OTP": ("SELECT_CHALLENGE", "EMAIL_OTP", None, None, False, False, None, False),
        "SMS_OTP": ("SELECT_CHALLENGE", "SMS_OTP", None, None, False, False, None, False),
    }
    assert select.provider_steps == ("password_srp",)
    # Every other shipped challenge is answered without the password.
    assert [name for name, c in table.items() if c.uses_password] == []
    for name in ("EMAIL_OTP", "SMS_OTP"):
        assert table[name].asks
        assert table[name].label == "Code"
    assert (table["EMAIL_OTP"].answer_key, table["SMS_OTP"].answer_key) == (
        "EMAIL_OTP_CODE",
        "SMS_OTP_CODE",
    )


def test_resolve_select_challenge() -> None:
    select = ChallengeTable.from_spec(Spec.load("sign_in"))["SELECT_CHALLENGE"]
    assert select.resolve({"AVAILABLE_CHALLENGES": '["PASSWORD", "EMAIL_OTP"]'}) is select
    assert select.resolve({"AVAILABLE_CHALLENGES": '["PASSWORD"]'}).chosen == "PASSWORD"
    assert select.resolve({"AVAILABLE_CHALLENGES": '["WEB_AUTHN", "SMS_OTP"]'}).chosen == "SMS_OTP"
    assert select.resolve({}).chosen == "PASSWORD_SRP"  # none listed: the first option


def test_uses_password_is_parsed() -> None:
    table = challenges(
        {
            "PW": {
                "answer": "PASSWORD",
                "label": "Password",
                "secret": True,
                "uses_password": True,
            },
            "CODE": {"answer": "CODE", "label": "Code", "uses_password": False},
            "PICK": {
                "answer": "ANSWER",
                "label": "Pick",
                "choices": "LIST",
                "options": {
                    "P": {"answer": "PASSWORD", "label": "Password", "uses_password": True},
                    "Q": {},
                },
            },
        }
    )
    assert table["PW"] == Challenge(
        "PW", answer_key="PASSWORD", label="Password", secret=True, uses_password=True
    )
    assert table["CODE"].uses_password is False
    assert table["PICK"].uses_password is False
    assert table["PICK"].option("P").uses_password is True
    assert table["PICK"].option("P").asks
    quiet = table["PICK"].option("Q")
    assert (quiet.answer_key, quiet.label, quiet.asks, quiet.chosen) == (None, None, False, "Q")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        pytest.param({"description": "Just the choice."}, None, id="description-only"),
        pytest.param({"before_prompt": "fetch"}, None, id="before-prompt"),
        pytest.param(
            {"secret": True},
            "an option that asks nothing (no label) sends no answer",
            id="secret",
        ),
        pytest.param(
            {"uses_password": True},
            "an option that asks nothing (no label) sends no answer",
            id="uses-password",
        ),
        pytest.param(
            {"before_answer": "verify"},
            "an option that asks nothing (no label) sends no answer",
            id="before-answer",
        ),
        pytest.param(
            {"answer": "CODE"}, "the user answers needs a label", id="answer-without-label"
        ),
        pytest.param(
            {"label": "Code"}, "the user answers needs an answer key", id="label-without-answer"
        ),
    ],
)
def test_an_option_that_asks_nothing(option: dict[str, Any], message: str | None) -> None:
    declared = {
        "PICK": {"answer": "ANSWER", "label": "Pick", "choices": "LIST", "options": {"O": option}}
    }
    if message is None:
        parsed = challenges(declared)["PICK"].option("O")
        assert not parsed.asks
        assert parsed.answer_key is None
        return
    with pytest.raises(SpecError) as caught:
        challenges(declared)
    text = str(caught.value)
    assert f"spec {SPEC_NAME!r}" in text
    assert "challenge 'PICK': option 'O'" in text
    assert message in text


def test_an_option_that_asks_nothing_needs_a_challenge_that_sends_the_choice() -> None:
    declared = {"PICK": {"label": "Pick", "choices": "LIST", "options": {"O": {}, "P": {}}}}
    with pytest.raises(SpecError, match=r"challenge 'PICK': option 'O': .*send the choice"):
        challenges(declared)


@pytest.mark.parametrize(
    "declaration",
    [
        pytest.param({}, id="empty"),
        pytest.param({"description": "Nothing to ask."}, id="description-only"),
        pytest.param({"answer": "X"}, id="answer-only"),
    ],
)
def test_a_challenge_that_is_not_an_option_needs_a_label(declaration: dict[str, Any]) -> None:
    with pytest.raises(SpecError) as caught:
        challenges({"SMS_OTP": declaration})
    text = str(caught.value)
    assert "challenge 'SMS_OTP'" in text
    assert "a challenge the user answers needs a label" in text


@pytest.mark.parametrize("value", ["yes", 1, None, "true"])
@pytest.mark.parametrize("where", ["challenge", "option"])
def test_uses_password_must_be_a_bool(value: Any, where: str) -> None:
    declaration = {"answer": "PASSWORD", "label": "Password", "uses_password": value}
    declared: dict[str, Any] = {"PW": declaration}
    if where == "option":
        declared = {
            "PICK": {"answer": "ANSWER", "label": "Pick", "choices": "LIST", "options": declared}
        }
    with pytest.raises(SpecError) as caught:
        challenges(declared)
    text = str(caught.value)
    assert ("option 'PW'" if where == "option" else "challenge 'PW'") in text
    assert "uses_password must be true or false" in text
