"""Asking one sign-in challenge in the terminal, from its declaration alone.

What to ask comes from the sign-in spec's ``x-challenges`` (:class:`~fsm_auth.signin.Challenge`):
``label`` is the prompt, ``secret`` reads the answer without echo, ``choices`` names the
challenge parameter holding the allowed answers (a JSON list: a numbered menu), ``attributes``
the parameter listing the user attributes to send with the answer (each one asked), and
``description`` explains a challenge this module has no wording of its own for, and
``options`` say how each choice is asked once chosen (SELECT_CHALLENGE's password after the
first-factor menu, MFA_SETUP's chosen type), an option with no wording of its own being
introduced by its own description (never by the menu's). A TOTP key
among the parameters (``SECRET_CODE``, MFA_SETUP's) is shown for an authenticator app, where a
code was sent is said, and the challenge's other public parameters (a custom challenge's
question) are shown. So a challenge added to a spec later is asked without a change here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from ._text import attribute_label, delivery_line, printable
from ._totp import show_totp_setup

if TYPE_CHECKING:
    from fsm_auth.signin import Challenge
    from fsm_auth.values import SignInResult

    from ._console import Console

__all__ = ["Reply", "ask_challenge"]

# Wording for the end user of the challenges fsm-auth ships (their declared descriptions are
# written for developers), an option of one (MFA_SETUP's, SELECT_CHALLENGE's) as
# ``NAME:OPTION``; any other challenge, or option, is introduced by its declared description,
# ``None`` introduces nothing. A custom challenge's question is in its parameters, shown next;
# the password chosen at SELECT_CHALLENGE needs no more than its prompt.
_INTROS: dict[str, str | None] = {
    "NEW_PASSWORD_REQUIRED": "Choose a new password for your account.",
    "SOFTWARE_TOKEN_MFA": "Enter the code your authenticator app shows for this account.",
    "SELECT_MFA_TYPE": "Choose how to receive your sign-in code.",
    "MFA_SETUP": "This account needs a second sign-in step: choose one to set up.",
    "MFA_SETUP:SOFTWARE_TOKEN_MFA": "This account needs an authenticator app for sign-in codes.",
    "MFA_SETUP:EMAIL_OTP": "This account needs sign-in codes by e-mail: where should they go?",
    "SELECT_CHALLENGE": "Choose how to sign in.",
    "SELECT_CHALLENGE:PASSWORD_SRP": None,
    "SELECT_CHALLENGE:PASSWORD": None,
    "CUSTOM_CHALLENGE": None,
}

# Names in a menu for Cognito's MFA types and first factors (EMAIL_OTP is both); any other
# value is listed as it is.
_CHOICE_NAMES = {
    "SMS_MFA": "Text message (SMS)",
    "SOFTWARE_TOKEN_MFA": "Authenticator app (TOTP)",
    "EMAIL_OTP": "Email",
    "SMS_OTP": "Text message (SMS)",
    "PASSWORD_SRP": "Password",
    "PASSWORD": "Password (sent to the service)",
}

# Challenge parameters that are plumbing, not something to tell the user: who the user is,
# what is shown in another form (the TOTP key, where a code went), the current attributes.
_NOT_SHOWN = frozenset(
    {
        "USERNAME",
        "USER_ID_FOR_SRP",
        "SECRET_CODE",
        "CODE_DELIVERY_DESTINATION",
        "CODE_DELIVERY_DELIVERY_MEDIUM",
        "MFAS_CAN_SETUP",
        "userAttributes",
    }
)
_TOTP_KEY = "SECRET_CODE"
# Cognito lists required attributes as "userAttributes.<name>"; they are sent back by name.
_ATTRIBUTE_PREFIX = "userAttributes."


@attrs.frozen(repr=False)
class Reply:
    """The answer to a challenge and the user attributes that go with it; ``uses_password``:
    the answer is the user's password, or the choice of a factor answered with the password
    ``sign_in`` was given (its declaration's ``uses_password``)."""

    response: str
    attributes: Mapping[str, str] = attrs.field(factory=dict)
    uses_password: bool = False

    def __repr__(self) -> str:
        return f"Reply(attributes={sorted(self.attributes)!r})"


def ask_challenge(
    console: Console,
    challenge: Challenge,
    result: SignInResult,
    *,
    account: str,
    issuer: str,
    previous: Reply | None = None,
) -> Reply:
    """Ask ``challenge`` as ``result`` (its prompt) poses it, for the user ``account``.

    ``previous`` is the reply just refused, when the same prompt is asked again: the
    introduction is not repeated and the attributes typed then are offered as defaults.
    """
    parameters = result.parameters
    # The parameters the declaration reads (the choices, the attributes to ask) are not shown,
    # the declared challenge's included once an option of it is asked.
    read = {name for name in (challenge.choices, challenge.attributes) if name}
    # A challenge with options (MFA_SETUP, SELECT_CHALLENGE) is asked, once chosen, as the
    # chosen option declares.
    challenge = challenge.resolve(parameters)
    read |= {name for name in (challenge.choices, challenge.attributes) if name}
    if previous is None:
        _introduce(console, challenge, result, read, account=account, issuer=issuer)
    options = _json_list(parameters.get(challenge.choices)) if challenge.choices else None
    if options:
        response = _choose(console, challenge.label or challenge.name, options)
        chosen = (challenge.options or {}).get(response)
        uses_password = chosen is not None and chosen.uses_password
    else:
        response = _answer(console, challenge)
        uses_password = challenge.uses_password
    names = _json_list(parameters.get(challenge.attributes)) if challenge.attributes else None
    attributes = _ask_attributes(
        console, [n.removeprefix(_ATTRIBUTE_PREFIX) for n in names or ()], previous
    )
    return Reply(response, attributes, uses_password=uses_password)


def _introduce(
    console: Console,
    challenge: Challenge,
    result: SignInResult,
    read: set[str],
    *,
    account: str,
    issuer: str,
) -> None:
    delivered = delivery_line(result.code_delivery)
    if challenge.chosen:
        # An option of a challenge (MFA_SETUP's TOTP or e-mail) has wording of its own, else
        # its description: the challenge's own intro introduced the choice, not this.
        key = f"{challenge.name}:{challenge.chosen}"
        intro = _INTROS.get(key, challenge.description)
    else:
        intro = _INTROS.get(challenge.name, challenge.description)
    intro = delivered or intro
    if intro:
        console.say(printable(intro))
    parameters = result.parameters
    if parameters.get(_TOTP_KEY):
        show_totp_setup(console, parameters[_TOTP_KEY], account=account, issuer=issuer)
    hidden = _NOT_SHOWN | read
    for key, value in parameters.items():
        if key not in hidden and value:
            console.say(f"{attribute_label(key)}: {printable(value)}")


def _answer(console: Console, challenge: Challenge) -> str:
    label = printable(challenge.label or challenge.name)
    while True:
        if challenge.secret:
            answer = console.ask_secret(label)
            if answer.strip():
                return answer
        else:
            answer = console.ask(label)
            if answer:
                return answer


def _choose(console: Console, label: str, options: Sequence[str]) -> str:
    for number, option in enumerate(options, 1):
        console.say(f"  {number}) {_CHOICE_NAMES.get(option) or printable(option)}")
    while True:
        answer = console.ask(printable(label), default="1")
        if answer.isdigit() and 1 <= int(answer) <= len(options):
            return options[int(answer) - 1]
        for option in options:
            if answer.casefold() == option.casefold():
                return option
        console.say(f"Type a number from 1 to {len(options)}.")


def _ask_attributes(
    console: Console, names: Sequence[str], previous: Reply | None
) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in names:
        default = previous.attributes.get(name) if previous is not None else None
        value = ""
        while not value:
            value = console.ask(attribute_label(name), default=default)
        values[name] = value
    return values


def _json_list(raw: str | None) -> list[str] | None:
    """A challenge parameter holding a JSON list of names; ``None`` when it is absent or not
    such a list (the challenge is then asked as free text)."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return None
    return value
