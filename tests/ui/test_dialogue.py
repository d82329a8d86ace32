"""The terminal UI's dialogue without a terminal or a server: a scripted user, a scripted
client, and challenge tables of the shipped spec or of specs of their own."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest

from fsm_auth.errors import (
    ChallengeNotSupportedError,
    CodeMismatchError,
    ExpiredCodeError,
    IllegalTransitionError,
    InvalidParameterError,
    InvalidPasswordError,
    NotAuthorizedError,
    PasswordResetRequiredError,
    SignInCancelledError,
    UsernameExistsError,
    UserNotConfirmedError,
    service_error,
)
from fsm_auth.signin import ChallengeTable
from fsm_auth.ui import TerminalSignIn
from fsm_auth.ui._terminal import PasswordRule, _Dialogue
from fsm_auth.values import (
    CodeDeliveryDetails,
    ForgotPasswordResult,
    SignInResult,
    SignUpResult,
)

from .scripted import (
    DONE,
    EOF,
    FakeClient,
    ScriptedConsole,
    challenge_table,
    prompt,
    shipped_table,
)

PASSWORD = "Correct-Horse-9!"
NEW_PASSWORD = "Battery-Staple-7?"
SIGN_IN = [("Choose [1]: ", ""), ("Username: ", "ann"), ("Password: ", PASSWORD)]
SMS = CodeDeliveryDetails(destination="+*******0123", delivery_medium="SMS")
EMAIL = CodeDeliveryDetails(destination="a***@e***", delivery_medium="EMAIL")


def run(
    client: FakeClient,
    script: Sequence[tuple[str, object]],
    table: ChallengeTable | None = None,
    *,
    password: PasswordRule = "optional",
) -> tuple[SignInResult, ScriptedConsole]:
    console = ScriptedConsole(script)
    result = _Dialogue(
        client, table or shipped_table(), console, "AWSCognito", password=password
    ).run()
    assert console.finished, "the dialogue ended before the script"
    assert client.finished, "a scripted call was not made"
    return result, console


def confirmations(client: FakeClient) -> list[tuple[object, ...]]:
    return [
        (args[0], kwargs.get("user_attributes"))
        for method, args, kwargs in client.calls
        if method == "confirm_sign_in"
    ]


# -- challenges from their declarations ------------------------------------------------------


def test_a_challenge_declared_in_a_spec_of_its_own_is_asked_from_the_declaration() -> None:
    table = challenge_table(
        {
            "PASSPHRASE": {
                "answer": "PASSPHRASE",
                "label": "Passphrase",
                "secret": True,
                "attributes": "needed",
                "description": "Say the passphrase of the day.",
            },
            "COLOUR": {"answer": "ANSWER", "label": "Colour", "choices": "COLOURS"},
        }
    )
    client = FakeClient(
        (
            "sign_in",
            prompt(
                "PASSPHRASE",
                {
                    "USERNAME": "internal-id",
                    "needed": '["userAttributes.given_name", "custom:team"]',
                    "hint": "It opens \x1b]0;pwned\x07doors\x1b[2J",
                },
            ),
        ),
        ("confirm_sign_in", prompt("COLOUR", {"COLOURS": '["RED", "GREEN"]'})),
        ("confirm_sign_in", DONE),
    )
    result, console = run(
        client,
        [
            *SIGN_IN,
            ("Passphrase: ", "open sesame"),
            ("Given name: ", "Ann"),
            ("Team: ", "blue"),
            ("Colour [1]: ", "green"),
        ],
        table,
    )
    assert result is DONE
    assert confirmations(client) == [
        ("open sesame", {"given_name": "Ann", "custom:team": "blue"}),
        ("GREEN", None),
    ]
    text = console.text
    assert "Say the passphrase of the day." in text
    assert "  1) RED\n  2) GREEN\n" in text
    # The challenge's public parameters are shown, without what could drive the terminal.
    assert "Hint: It opens ]0;pwneddoors[2J\n" in text
    assert "\x1b" not in text
    assert "\x07" not in text
    # Plumbing is not shown: who the user is, the list of attributes to ask.
    assert "internal-id" not in text
    assert "needed" not in text.lower()
    assert console.secret_prompts == ["Password: ", "Passphrase: "]
    assert "open sesame" not in text
    assert PASSWORD not in text


def test_choices_take_a_number_a_name_or_enter_for_the_first() -> None:
    choose = prompt("SELECT_MFA_TYPE", {"MFAS_CAN_CHOOSE": '["SMS_MFA","EMAIL_OTP","PUSH"]'})
    client = FakeClient(
        ("sign_in", choose),
        ("confirm_sign_in", choose),  # asked again by the service: the next answer
        ("confirm_sign_in", choose),
        ("confirm_sign_in", DONE),
    )
    result, console = run(
        client,
        [
            *SIGN_IN,
            ("MFA type [1]: ", "0"),
            ("MFA type [1]: ", "push"),
            ("MFA type [1]: ", "2"),
            ("MFA type [1]: ", ""),
        ],
    )
    assert result is DONE
    assert [answer for answer, _ in confirmations(client)] == ["PUSH", "EMAIL_OTP", "SMS_MFA"]
    assert "  1) Text message (SMS)\n  2) Email\n  3) PUSH\n" in console.text
    assert "Type a number from 1 to 3." in console.text


def test_choices_that_are_not_a_json_list_are_asked_as_text() -> None:
    client = FakeClient(
        ("sign_in", prompt("SELECT_MFA_TYPE", {"MFAS_CAN_CHOOSE": "SMS_MFA or TOTP"})),
        ("confirm_sign_in", DONE),
    )
    run(client, [*SIGN_IN, ("MFA type: ", "SMS_MFA")])
    assert confirmations(client) == [("SMS_MFA", None)]


def test_new_password_with_required_attributes_keeps_them_when_asked_again() -> None:
    challenge = prompt(
        "NEW_PASSWORD_REQUIRED",
        {
            "requiredAttributes": '["userAttributes.name"]',
            "userAttributes": '{"email": "kate@example.com"}',
        },
    )
    client = FakeClient(
        ("sign_in", challenge),
        ("confirm_sign_in", InvalidPasswordError("Password not long enough")),
        ("confirm_sign_in", DONE),
    )
    result, console = run(
        client,
        [
            *SIGN_IN,
            ("New password: ", "weak"),
            ("Name: ", "Kate Bush"),
            ("New password: ", NEW_PASSWORD),
            ("Name [Kate Bush]: ", ""),
        ],
    )
    assert result is DONE
    assert confirmations(client) == [
        ("weak", {"name": "Kate Bush"}),
        (NEW_PASSWORD, {"name": "Kate Bush"}),
    ]
    assert console.text.count("Choose a new password for your account.") == 1
    assert "Password not long enough\n" in console.text
    assert "kate@example.com" not in console.text
    assert "weak" not in console.text
    assert NEW_PASSWORD not in console.text


def test_an_empty_answer_is_asked_again() -> None:
    client = FakeClient(("sign_in", prompt("SMS_MFA", {}, SMS)), ("confirm_sign_in", DONE))
    run(client, [*SIGN_IN, ("Code: ", ""), ("Code: ", "123456")])
    assert confirmations(client) == [("123456", None)]


# -- sessions that end under an answer -------------------------------------------------------


def test_a_session_spent_by_a_refused_answer_signs_in_again_and_replays_the_answer() -> None:
    challenge = prompt("NEW_PASSWORD_REQUIRED", {"requiredAttributes": "[]"})
    client = FakeClient(
        ("sign_in", challenge),
        ("confirm_sign_in", InvalidPasswordError("Password not long enough")),
        ("confirm_sign_in", NotAuthorizedError("Invalid session for the user.")),
        ("sign_in", challenge),
        ("confirm_sign_in", DONE),
    )
    result, console = run(
        client, [*SIGN_IN, ("New password: ", "weak"), ("New password: ", NEW_PASSWORD)]
    )
    assert result is DONE
    assert [answer for answer, _ in confirmations(client)] == ["weak", NEW_PASSWORD, NEW_PASSWORD]
    assert [c[1] for c in client.calls if c[0] == "sign_in"] == [("ann", PASSWORD)] * 2
    assert "Invalid session" not in console.text
    assert "Signing in again." in console.text


def test_a_code_is_not_replayed_to_a_sign_in_that_sent_a_new_one() -> None:
    client = FakeClient(
        ("sign_in", prompt("SMS_MFA", {}, SMS)),
        ("confirm_sign_in", ExpiredCodeError("Code expired")),
        ("sign_in", prompt("SMS_MFA", {}, SMS)),
        ("confirm_sign_in", NotAuthorizedError("Invalid session for the user.")),
        ("sign_in", prompt("SMS_MFA", {}, SMS)),
        ("confirm_sign_in", DONE),
    )
    result, console = run(
        client, [*SIGN_IN, ("Code: ", "111111"), ("Code: ", "222222"), ("Code: ", "333333")]
    )
    assert result is DONE
    assert [answer for answer, _ in confirmations(client)] == ["111111", "222222", "333333"]
    assert console.text.count("Code sent by SMS to +*******0123") == 3
    assert "Code expired\n" in console.text
    assert "Invalid session for the user.\n" in console.text


def test_an_answer_is_replayed_once_only() -> None:
    challenge = prompt("CUSTOM_CHALLENGE", {"question": "2 + 2?"})
    client = FakeClient(
        ("sign_in", challenge),
        ("confirm_sign_in", NotAuthorizedError("Incorrect username or password.")),
        ("sign_in", challenge),
        ("confirm_sign_in", NotAuthorizedError("Incorrect username or password.")),
        ("sign_in", challenge),
        ("confirm_sign_in", DONE),
    )
    result, console = run(client, [*SIGN_IN, ("Answer: ", "5"), ("Answer: ", "4")])
    assert result is DONE
    assert [answer for answer, _ in confirmations(client)] == ["5", "5", "4"]
    assert console.text.count("Incorrect username or password.") == 2
    assert console.text.count("Question: 2 + 2?") == 2  # not shown for the replayed answer


def test_no_pending_challenge_after_a_refusal_signs_in_again() -> None:
    challenge = prompt("SOFTWARE_TOKEN_MFA")
    client = FakeClient(
        ("sign_in", challenge),
        ("confirm_sign_in", CodeMismatchError("Invalid code received for user")),
        ("confirm_sign_in", IllegalTransitionError("no pending challenge")),
        ("sign_in", challenge),
        ("confirm_sign_in", DONE),
    )
    label = "Code from your authenticator app: "
    result, _ = run(client, [*SIGN_IN, (label, "000000"), (label, "123456")])
    assert result is DONE
    assert [answer for answer, _ in confirmations(client)] == ["000000", "123456", "123456"]


def test_other_refusals_sign_in_again_and_ask_again() -> None:
    setup = prompt("MFA_SETUP", {"SECRET_CODE": "JBSWY3DPEHPK3PXP", "MFAS_CAN_SETUP": "[]"})
    client = FakeClient(
        ("sign_in", setup),
        ("confirm_sign_in", service_error("SoftwareTokenMFANotFoundException", "Not found")),
        ("sign_in", setup),
        ("confirm_sign_in", DONE),
    )
    label = "Code from your authenticator app: "
    result, console = run(client, [*SIGN_IN, (label, "000000"), (label, "123456")])
    assert result is DONE
    assert console.text.count("Key: JBSWY3DPEHPK3PXP") == 2
    assert "otpauth://totp/AWSCognito:ann?secret=JBSWY3DPEHPK3PXP&issuer=AWSCognito" in console.text


def test_a_wrong_first_authenticator_code_is_asked_again_in_the_same_sign_in() -> None:
    setup = prompt("MFA_SETUP", {"SECRET_CODE": "JBSWY3DPEHPK3PXP", "MFAS_CAN_SETUP": "[]"})
    client = FakeClient(
        ("sign_in", setup),
        ("confirm_sign_in", enable_token_error("Code mismatch and fail enable Software Token MFA")),
        ("confirm_sign_in", DONE),
    )
    label = "Code from your authenticator app: "
    result, console = run(client, [*SIGN_IN, (label, "000000"), (label, "123456")])
    assert result is DONE
    assert console.text.count("Key: JBSWY3DPEHPK3PXP") == 1


def enable_token_error(message: str) -> Exception:
    """What Cognito answers a wrong first code of an authenticator set-up with (mapped to
    CodeMismatchError: the same set-up session takes another code)."""
    return service_error("EnableSoftwareTokenMFAException", message)


# -- what ends the UI ---------------------------------------------------------------------------


def test_a_sign_out_during_the_sign_in_ends_the_ui_with_its_error() -> None:
    client = FakeClient(
        ("sign_in", prompt("SMS_MFA", {}, SMS)),
        ("confirm_sign_in", SignInCancelledError("sign_out() came meanwhile")),
    )
    with pytest.raises(SignInCancelledError, match="sign_out"):
        run(client, [*SIGN_IN, ("Code: ", "123456")])


def test_a_challenge_no_spec_declares_ends_the_ui() -> None:
    client = FakeClient(("sign_in", ChallengeNotSupportedError("DEVICE_SRP_AUTH")))
    with pytest.raises(ChallengeNotSupportedError):
        run(client, SIGN_IN)


# -- the menu and the forms ---------------------------------------------------------------------


def test_the_menu_and_an_empty_user_name_back_to_it() -> None:
    client = FakeClient(
        ("sign_in", NotAuthorizedError("Incorrect username or password.")),
        ("sign_in", DONE),
    )
    result, console = run(
        client,
        [
            ("Choose [1]: ", "9"),
            ("Choose [1]: ", "sign in"),
            ("Choose [1]: ", "1"),
            ("Username: ", ""),
            ("Choose [1]: ", ""),
            ("Username: ", "ann"),
            ("Password: ", "wrong-password"),
            ("Username: ", "ann"),
            ("Password: ", PASSWORD),
        ],
    )
    assert result is DONE
    assert console.text.count("Type a number from 1 to 3.") == 2
    assert "Incorrect username or password.\nUsername: " in console.text
    assert "Signed in as ann.\n" in console.text
    assert "wrong-password" not in console.text


def test_sign_up_offers_the_user_name_as_the_email_and_skips_confirmation_if_not_needed() -> None:
    client = FakeClient(("sign_up", SignUpResult(confirmed=True)), ("sign_in", DONE))
    run(
        client,
        [
            ("Choose [1]: ", "2"),
            ("Username: ", "ann@example.com"),
            ("Password: ", PASSWORD),
            ("Email [ann@example.com]: ", ""),
            ("Phone number: ", "+15555550123"),
        ],
    )
    assert client.calls[0] == (
        "sign_up",
        ("ann@example.com", PASSWORD),
        {"attributes": {"email": "ann@example.com", "phone_number": "+15555550123"}},
    )


def test_a_taken_user_name_asks_the_sign_up_form_again() -> None:
    client = FakeClient(
        ("sign_up", UsernameExistsError("User already exists")),
        ("sign_up", SignUpResult(confirmed=False)),
        ("confirm_sign_up", SignUpResult(confirmed=True)),
        ("sign_in", DONE),
    )
    _, console = run(
        client,
        [
            ("Choose [1]: ", "2"),
            ("Username: ", "ann"),
            ("Password: ", PASSWORD),
            ("Email: ", ""),
            ("Phone number: ", ""),
            ("Username: ", "ann2"),
            ("Password: ", PASSWORD),
            ("Email: ", ""),
            ("Phone number: ", ""),
            ("Code: ", "123456"),
        ],
    )
    assert "User already exists\n" in console.text
    assert "This account must be confirmed." in console.text  # no delivery details given
    assert client.calls[-1][1] == ("ann2", PASSWORD)


def test_a_user_not_confirmed_gets_a_new_code_on_an_empty_line() -> None:
    client = FakeClient(
        ("sign_in", UserNotConfirmedError("User is not confirmed.")),
        ("resend_sign_up_code", CodeDeliveryDetails("a***@e***", "EMAIL", "email")),
        ("confirm_sign_up", CodeMismatchError("Invalid verification code provided")),
        ("confirm_sign_up", SignUpResult(confirmed=True)),
        ("sign_in", DONE),
    )
    _, console = run(client, [*SIGN_IN, ("Code: ", ""), ("Code: ", "000000"), ("Code: ", "123456")])
    assert "Code sent by email to a***@e***\n" in console.text
    assert "Invalid verification code provided\nCode: " in console.text
    assert [c[1] for c in client.calls if c[0] == "sign_in"] == [("ann", PASSWORD)] * 2


def test_a_password_reset_required_asks_the_code_already_sent_then_signs_in() -> None:
    client = FakeClient(
        ("sign_in", PasswordResetRequiredError("Password reset required for the user")),
        ("forgot_password", ForgotPasswordResult(CodeDeliveryDetails("a***@e***", "EMAIL"))),
        ("confirm_forgot_password", InvalidPasswordError("Password not long enough")),
        ("confirm_forgot_password", None),
        ("sign_in", DONE),
    )
    _, console = run(
        client,
        [
            *SIGN_IN,
            ("Code: ", ""),  # no code came: send one
            ("Code: ", "123456"),
            ("New password: ", "weak"),
            ("New password: ", NEW_PASSWORD),
        ],
    )
    assert [c[1] for c in client.calls if c[0] == "confirm_forgot_password"] == [
        ("ann", "weak", "123456"),
        ("ann", NEW_PASSWORD, "123456"),
    ]
    assert client.calls[-1][1] == ("ann", NEW_PASSWORD)
    assert "Password changed." in console.text


# -- choice-based and passwordless sign-in (the flow's password rule) -------------------------

FIRST_FACTORS = prompt(
    "SELECT_CHALLENGE",
    {"AVAILABLE_CHALLENGES": '["PASSWORD_SRP", "PASSWORD", "EMAIL_OTP", "SMS_OTP"]'},
)
PASSWORD_NEXT = prompt("SELECT_CHALLENGE", {"AVAILABLE_CHALLENGES": '["PASSWORD_SRP"]'})


def sign_ins(client: FakeClient) -> list[tuple[object, ...]]:
    return [args for method, args, _ in client.calls if method == "sign_in"]


def test_the_first_factor_menu_then_the_password_asked_next() -> None:
    client = FakeClient(
        ("sign_in", FIRST_FACTORS),
        ("confirm_sign_in", PASSWORD_NEXT),
        ("confirm_sign_in", DONE),
    )
    result, console = run(
        client,
        [
            ("Choose [1]: ", ""),
            ("Username: ", "ann"),
            ("Password: ", ""),
            ("Sign in with [1]: ", ""),
            ("Password: ", PASSWORD),
        ],
    )
    assert result is DONE
    assert sign_ins(client) == [("ann", None)]
    assert confirmations(client) == [("PASSWORD_SRP", None), (PASSWORD, None)]
    text = console.text
    assert "Leave the password empty to choose another way to sign in.\nUsername: " in text
    assert (
        "Choose how to sign in.\n"
        "  1) Password\n"
        "  2) Password (sent to the service)\n"
        "  3) Email\n"
        "  4) Text message (SMS)\n"
        "Sign in with [1]: "
    ) in text
    # The password step (the chosen option) says nothing more than its prompt: no intro, no
    # description for developers, no list of the service's choices.
    assert "Sign in with [1]: Password: \nSigned in as ann.\n" in text
    assert '["' not in text
    assert "Available" not in text
    assert console.secret_prompts == ["Password: ", "Password: "]
    assert PASSWORD not in text


def test_a_code_as_the_first_factor() -> None:
    client = FakeClient(
        ("sign_in", FIRST_FACTORS),
        ("confirm_sign_in", prompt("SMS_OTP", {"CODE_DELIVERY_DESTINATION": "+*******0123"}, SMS)),
        ("confirm_sign_in", CodeMismatchError("Invalid verification code provided")),
        ("confirm_sign_in", DONE),
    )
    _, console = run(
        client,
        [
            ("Choose [1]: ", ""),
            ("Username: ", "ann"),
            ("Password: ", ""),
            ("Sign in with [1]: ", "4"),
            ("Code: ", "11111111"),
            ("Code: ", "12345678"),
        ],
    )
    assert confirmations(client) == [("SMS_OTP", None), ("11111111", None), ("12345678", None)]
    assert "Sign in with [1]: Code sent by SMS to +*******0123\nCode: " in console.text
    assert "Invalid verification code provided\nCode: " in console.text
    assert console.text.count("+*******0123") == 1


def test_a_password_typed_first_answers_the_password_factor() -> None:
    client = FakeClient(("sign_in", FIRST_FACTORS), ("confirm_sign_in", DONE))
    _, console = run(
        client,
        [
            ("Choose [1]: ", ""),
            ("Username: ", "ann"),
            ("Password: ", PASSWORD),
            ("Sign in with [1]: ", "2"),
        ],
    )
    assert sign_ins(client) == [("ann", PASSWORD)]
    assert confirmations(client) == [("PASSWORD", None)]
    assert console.secret_prompts == ["Password: "]


@pytest.mark.parametrize("typed_first", [True, False])
def test_a_wrong_password_for_the_chosen_factor_asks_the_user_name_and_password_again(
    typed_first: bool,
) -> None:
    wrong = NotAuthorizedError("Incorrect username or password.")
    first_try = (
        [("Password: ", "wrong-password"), ("Sign in with [1]: ", "")]
        if typed_first
        else [("Password: ", ""), ("Sign in with [1]: ", ""), ("Password: ", "wrong-password")]
    )
    client = FakeClient(
        ("sign_in", FIRST_FACTORS),
        *([] if typed_first else [("confirm_sign_in", PASSWORD_NEXT)]),
        ("confirm_sign_in", wrong),
        ("sign_in", FIRST_FACTORS),
        ("confirm_sign_in", DONE),
    )
    result, console = run(
        client,
        [
            ("Choose [1]: ", ""),
            ("Username: ", "ann"),
            *first_try,
            ("Username: ", "ann"),
            ("Password: ", PASSWORD),
            ("Sign in with [1]: ", ""),
        ],
    )
    assert result is DONE
    assert sign_ins(client) == [
        ("ann", "wrong-password" if typed_first else None),
        ("ann", PASSWORD),
    ]
    # Said once, not replayed to a new sign-in: the user types the password again.
    assert console.text.count("Incorrect username or password.\nUsername: ") == 1
    assert "Signing in again." not in console.text
    assert "wrong-password" not in console.text


def test_where_the_flow_requires_a_password_an_empty_one_is_asked_again() -> None:
    client = FakeClient(("sign_in", DONE))
    _, console = run(
        client,
        [("Choose [1]: ", ""), ("Username: ", "ann"), ("Password: ", ""), ("Password: ", PASSWORD)],
        password="required",
    )
    assert sign_ins(client) == [("ann", PASSWORD)]
    assert "Leave the password empty" not in console.text


def test_where_the_flow_takes_no_password_none_is_asked_nor_given() -> None:
    client = FakeClient(
        ("sign_in", prompt("CUSTOM_CHALLENGE", {"question": "2 + 2?"})), ("confirm_sign_in", DONE)
    )
    _, console = run(
        client, [("Choose [1]: ", ""), ("Username: ", "ann"), ("Answer: ", "4")], password="none"
    )
    assert sign_ins(client) == [("ann", None)]
    assert console.secret_prompts == []
    assert "Leave the password empty" not in console.text


def test_where_the_flow_takes_no_password_a_new_one_is_not_given_to_the_sign_in() -> None:
    client = FakeClient(
        ("forgot_password", ForgotPasswordResult(EMAIL)),
        ("confirm_forgot_password", None),
        ("sign_in", prompt("CUSTOM_CHALLENGE", {"question": "2 + 2?"})),
        ("confirm_sign_in", DONE),
    )
    run(
        client,
        [
            ("Choose [1]: ", "3"),
            ("Username: ", "ann"),
            ("Code: ", "123456"),
            ("New password: ", NEW_PASSWORD),
            ("Answer: ", "4"),
        ],
        password="none",
    )
    assert sign_ins(client) == [("ann", None)]


def test_a_passwordless_sign_up_then_a_code_to_sign_in() -> None:
    client = FakeClient(
        ("sign_up", SignUpResult(confirmed=False, code_delivery=EMAIL)),
        ("confirm_sign_up", SignUpResult(confirmed=True)),
        # The user's one way to sign in: the client took it without asking.
        ("sign_in", prompt("EMAIL_OTP", {}, EMAIL)),
        ("confirm_sign_in", DONE),
    )
    result, console = run(
        client,
        [
            ("Choose [1]: ", "2"),
            ("Username: ", "ann"),
            ("Password: ", ""),
            ("Email: ", "ann@example.com"),
            ("Phone number: ", ""),
            ("Code: ", "123456"),
            ("Code: ", "12345678"),
        ],
    )
    assert result is DONE
    assert client.calls[0] == (
        "sign_up",
        ("ann", None),
        {"attributes": {"email": "ann@example.com"}},
    )
    assert sign_ins(client) == [("ann", None)]
    text = console.text
    assert "Leave the password empty to sign in with codes sent to you instead.\n" in text
    assert "Sign-in codes are sent to your email or phone number (+15555550123): give one.\n" in (
        text
    )
    assert "may be left empty" not in text
    assert "Account confirmed.\nCode sent by email to a***@e***\nCode: " in text


def test_a_passwordless_sign_up_the_pool_refuses_is_said_and_the_form_asked_again() -> None:
    client = FakeClient(
        ("sign_up", InvalidParameterError("Missing required parameter Password")),
        ("sign_up", SignUpResult(confirmed=True)),
        ("sign_in", DONE),
    )
    _, console = run(
        client,
        [
            ("Choose [1]: ", "2"),
            ("Username: ", "ann"),
            ("Password: ", ""),
            ("Email: ", ""),
            ("Phone number: ", ""),
            ("Username: ", "ann"),
            ("Password: ", PASSWORD),
            ("Email: ", ""),
            ("Phone number: ", ""),
        ],
    )
    assert [args for method, args, _ in client.calls if method == "sign_up"] == [
        ("ann", None),
        ("ann", PASSWORD),
    ]
    assert "Missing required parameter Password\nUsername: " in console.text
    assert sign_ins(client) == [("ann", PASSWORD)]


def test_a_sign_up_needs_a_password_unless_the_flow_may_go_without() -> None:
    client = FakeClient(("sign_up", SignUpResult(confirmed=True)), ("sign_in", DONE))
    _, console = run(
        client,
        [
            ("Choose [1]: ", "2"),
            ("Username: ", "ann"),
            ("Password: ", ""),
            ("Password: ", PASSWORD),
            ("Email: ", ""),
            ("Phone number: ", ""),
        ],
        password="required",
    )
    assert client.calls[0][1] == ("ann", PASSWORD)
    assert "Leave the password empty" not in console.text


def test_an_option_without_wording_is_introduced_by_its_own_description() -> None:
    table = challenge_table(
        {
            "PICK": {
                "answer": "ANSWER",
                "label": "Way",
                "choices": "WAYS",
                "description": "Pick a way.",
                "options": {
                    "PHRASE": {
                        "answer": "PHRASE",
                        "label": "Phrase",
                        "secret": True,
                        "description": "Say the phrase.",
                    },
                    "NOTHING": {},
                },
            }
        }
    )
    client = FakeClient(
        ("sign_in", prompt("PICK", {"WAYS": '["PHRASE", "NOTHING"]'})),
        ("confirm_sign_in", prompt("PICK", {"WAYS": '["PHRASE"]'})),
        ("confirm_sign_in", DONE),
    )
    _, console = run(
        client,
        [*SIGN_IN, ("Way [1]: ", "1"), ("Phrase: ", "open sesame")],
        table,
    )
    assert confirmations(client) == [("PHRASE", None), ("open sesame", None)]
    assert console.text.count("Pick a way.") == 1
    assert "Way [1]: Say the phrase.\nPhrase: " in console.text
    assert "Ways" not in console.text


# -- TerminalSignIn itself ----------------------------------------------------------------------


def test_an_unknown_password_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="required, optional, none"):
        TerminalSignIn(FakeClient(), shipped_table(), password="sometimes")  # type: ignore[arg-type]


def test_without_a_terminal_nothing_is_asked_nor_written() -> None:
    out = io.StringIO()
    client = FakeClient()
    ui = TerminalSignIn(
        client, shipped_table(), input_stream=io.StringIO("\nann\n"), output_stream=out
    )
    with pytest.raises(SignInCancelledError, match="not an interactive terminal"):
        ui.run()
    assert out.getvalue() == ""
    assert client.calls == []


def test_end_of_input_is_a_cancelled_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    console = ScriptedConsole([("Choose [1]: ", ""), ("Username: ", "ann"), ("Password: ", EOF)])
    monkeypatch.setattr("fsm_auth.ui._terminal.Console", lambda *_: console)
    with pytest.raises(SignInCancelledError, match=r"^Sign-in cancelled$"):
        TerminalSignIn(FakeClient(), shipped_table()).run()
