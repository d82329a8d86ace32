"""The challenges a sign-in spec declares, and what each asks for.

A sign-in spec declares its challenges on its ``challenged`` state, under ``x-challenges``::

    - name: challenged
      x-challenges:
        SMS_MFA: {answer: SMS_MFA_CODE, label: Code, description: A code was sent by SMS.}
        NEW_PASSWORD_REQUIRED: {answer: NEW_PASSWORD, label: New password, secret: true,
                                attributes: requiredAttributes}
        SELECT_MFA_TYPE: {answer: ANSWER, label: MFA type, choices: MFAS_CAN_CHOOSE}
        PASSWORD_VERIFIER: {answered_by: provider, handler: password_verifier}

Keys of a challenge:

- ``answered_by``: ``user`` (default: the caller answers with ``confirm_sign_in``) or
  ``provider`` (the provider answers it inside its flow, with its step ``handler``).
- ``answer``: the response key the answer is sent under; ``label``: what a prompt asks for
  ("Code", "New password"); ``secret``: the answer is read without echo and never shown.
- ``choices``: the challenge parameter that lists the allowed answers (a JSON list);
  ``attributes``: the one that lists user attributes the answer must come with.
- ``before_prompt`` / ``before_answer``: provider steps run before the prompt is shown (e.g.
  fetching a TOTP secret) and with the answer before it is sent (e.g. verifying the code).
- ``uses_password``: the answer is the user's password: the one ``sign_in`` was given, if
  any (then it is not asked), else asked (SELECT_CHALLENGE's password factors).
- ``options``: for a challenge whose answer first picks one of ``choices`` (MFA_SETUP: what to
  set up; SELECT_CHALLENGE: the first factor), how each choice is then asked, as a declaration
  of its own (``answer``, ``label``, ``secret``, ``uses_password``, ``before_prompt``,
  ``before_answer``, ``description``), by choice; an option that declares neither ``label``
  nor ``answer`` asks nothing more. When the challenge itself declares ``answer``, the choice
  is sent under that key, with the option's answer (SELECT_CHALLENGE's ``ANSWER``). The caller
  answers the choice by name (a choice the service lists alone is taken without asking), then
  the same challenge again as the chosen option declares it; its ``choices`` parameter then
  lists the chosen option alone (:meth:`Challenge.resolve` gives the option's declaration). A
  service that lists no choice gets the first option declared.
- ``description``.

A challenge the service asks for that the spec does not declare is refused by name
(``ChallengeNotSupportedError``); one the spec declares reaches the caller by name, whether or
not ``SignInState`` has a member for it. A UI renders any challenge from this table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from fsm_auth.engine import Spec
from fsm_auth.errors import SpecError

from ._table import DeclarationTable

__all__ = ["CHALLENGED_STATE", "Challenge", "ChallengeTable"]

CHALLENGED_STATE = "challenged"
"""The sign-in spec's state that waits for an answer; it carries the declarations."""

_KEY = "x-challenges"
_FIELDS = frozenset(
    {
        "answered_by",
        "answer",
        "label",
        "secret",
        "choices",
        "attributes",
        "handler",
        "before_prompt",
        "before_answer",
        "description",
        "options",
        "uses_password",
    }
)
# What an option of ``options`` may declare.
_OPTION_FIELDS = frozenset(
    {"answer", "label", "secret", "uses_password", "before_prompt", "before_answer", "description"}
)
_FLAGS = ("secret", "uses_password")


@attrs.frozen
class Challenge:
    """One declared challenge (see the module docstring for the keys)."""

    name: str
    answered_by: Literal["user", "provider"] = "user"
    answer_key: str | None = None
    label: str | None = None
    secret: bool = False
    choices: str | None = None
    attributes: str | None = None
    handler: str | None = None
    before_prompt: str | None = None
    before_answer: str | None = None
    description: str | None = None
    # Not hashed (a mapping); compared like the other keys.
    options: Mapping[str, Challenge] | None = attrs.field(default=None, hash=False)
    # Set on the declaration :meth:`option` gives: the choice it asks.
    chosen: str | None = None
    uses_password: bool = False

    @property
    def asks(self) -> bool:
        """Whether the caller is asked for an answer (an option that declares neither a label
        nor an answer asks nothing more: its choice is sent as it is)."""
        return self.label is not None or self.answer_key is not None

    @property
    def provider_steps(self) -> tuple[str, ...]:
        """The provider steps this challenge names (its options' too)."""
        steps = [self.handler, self.before_prompt, self.before_answer]
        for option in (self.options or {}).values():
            steps.extend(option.provider_steps)
        return tuple(dict.fromkeys(step for step in steps if step is not None))

    def option(self, choice: str) -> Challenge:
        """The declaration that asks ``choice`` (one of :attr:`options`): the option's keys,
        under this challenge's name (the answer goes to the same challenge)."""
        declared = (self.options or {})[choice]
        return attrs.evolve(
            declared,
            name=self.name,
            description=declared.description or self.description,
            chosen=choice,
        )

    def resolve(self, parameters: Mapping[str, str]) -> Challenge:
        """The declaration a prompt with ``parameters`` is asked by: this one (a choice) while
        the ``choices`` parameter lists several declared options; else the option it lists,
        or the first option declared when it lists none."""
        if not self.options or self.choices is None:
            return self
        try:
            listed = json.loads(parameters.get(self.choices) or "[]")
        except ValueError:
            listed = []
        declared = [c for c in listed if isinstance(c, str) and c in self.options]
        if len(declared) > 1:
            return self
        return self.option(declared[0] if declared else next(iter(self.options)))


class ChallengeTable(DeclarationTable[Challenge]):
    """The challenges of one sign-in spec, by name; read-only."""

    @classmethod
    def from_spec(cls, spec: Spec) -> ChallengeTable:
        """The declarations of ``spec``'s ``challenged`` state; :class:`SpecError` naming the
        spec and the challenge for a malformed one."""
        label = str(spec.source) if spec.source is not None else f"spec {spec.name!r}"
        if CHALLENGED_STATE not in spec.states:
            raise SpecError(f"{label}: a sign-in spec needs a {CHALLENGED_STATE!r} state")
        raw = spec.state_info(CHALLENGED_STATE).get(_KEY, {})
        if not isinstance(raw, Mapping):
            raise SpecError(f"{label}: {_KEY} must map challenge names to their declarations")
        return cls(
            {name: _parse(name, entry, label) for name, entry in raw.items()}, spec_name=spec.name
        )

    def user_challenges(self) -> tuple[Challenge, ...]:
        """The challenges a caller answers, in declaration order."""
        return tuple(c for c in self.values() if c.answered_by == "user")

    def provider_steps(self) -> frozenset[str]:
        """Every provider step the declarations name (checked against the provider)."""
        return frozenset(step for c in self.values() for step in c.provider_steps)


def _parse(
    name: Any, entry: Any, label: str, *, option_of: str | None = None, sends_choice: bool = False
) -> Challenge:
    """One declaration; ``option_of``: the challenge whose option it is (named in errors),
    ``sends_choice``: that challenge sends the choice itself (so an option may ask nothing)."""
    if not isinstance(name, str) or not name:
        raise SpecError(f"{label}: challenge names must be non-empty text, got {name!r}")
    where = (
        f"{option_of}: option {name!r}" if option_of is not None else f"{label}: challenge {name!r}"
    )
    option = option_of is not None
    if entry is None:
        entry = {}
    if not isinstance(entry, Mapping):
        raise SpecError(f"{where} must be a mapping of its keys")
    unknown = sorted(str(k) for k in entry if k not in _FIELDS)
    if unknown:
        raise SpecError(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_FIELDS))})"
        )
    text = {k: entry.get(k) for k in _FIELDS - {*_FLAGS, "options"}}
    for key, value in text.items():
        if value is not None and (not isinstance(value, str) or not value):
            raise SpecError(f"{where}: {key} must be non-empty text")
    flags = {k: entry.get(k, False) for k in _FLAGS}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise SpecError(f"{where}: {key} must be true or false")
    answered_by = text["answered_by"] or "user"
    options = _options(
        entry.get("options"), text["choices"], where, label, sends_choice=text["answer"] is not None
    )
    if options is not None and answered_by != "user":
        raise SpecError(f"{where}: options are for a challenge the user answers")
    if answered_by == "provider":
        if text["handler"] is None:
            raise SpecError(f"{where}: a challenge answered by the provider needs a handler")
    elif answered_by == "user":
        asks_nothing = option and text["label"] is None and text["answer"] is None
        if text["label"] is None and not asks_nothing:
            raise SpecError(f"{where}: a challenge the user answers needs a label")
        if (
            text["answer"] is None
            and text["before_answer"] is None
            and options is None
            and not asks_nothing
        ):
            raise SpecError(f"{where}: a challenge the user answers needs an answer key")
        if asks_nothing and (text["before_answer"] or flags["secret"] or flags["uses_password"]):
            raise SpecError(f"{where}: an option that asks nothing (no label) sends no answer")
        if asks_nothing and not sends_choice:
            raise SpecError(
                f"{where}: an option that asks nothing needs its challenge to send the choice "
                "(an answer key), or nothing would reach the service"
            )
    else:
        raise SpecError(f"{where}: answered_by must be 'user' or 'provider'")
    return Challenge(
        name=name,
        answered_by=answered_by,  # type: ignore[arg-type]  # checked just above
        answer_key=text["answer"],
        label=text["label"],
        secret=flags["secret"],
        uses_password=flags["uses_password"],
        choices=text["choices"],
        attributes=text["attributes"],
        handler=text["handler"],
        before_prompt=text["before_prompt"],
        before_answer=text["before_answer"],
        description=text["description"],
        options=options,
    )


def _options(
    raw: Any, choices: str | None, where: str, label: str, *, sends_choice: bool
) -> Mapping[str, Challenge] | None:
    """The ``options`` of a challenge: each choice's declaration, parsed as a challenge."""
    if raw is None:
        return None
    if choices is None:
        raise SpecError(f"{where}: options need choices (the parameter listing them)")
    if not isinstance(raw, Mapping) or not raw:
        raise SpecError(f"{where}: options must map each choice to its declaration")
    parsed: dict[str, Challenge] = {}
    for choice, entry in raw.items():
        if not isinstance(choice, str) or not choice:
            raise SpecError(f"{where}: option names must be non-empty text, got {choice!r}")
        if not isinstance(entry, Mapping):
            raise SpecError(f"{where}: option {choice!r} must be a mapping of its keys")
        unknown = sorted(str(k) for k in entry if k not in _OPTION_FIELDS)
        if unknown:
            raise SpecError(
                f"{where}: option {choice!r}: unknown key(s) {', '.join(unknown)} "
                f"(allowed: {', '.join(sorted(_OPTION_FIELDS))})"
            )
        parsed[choice] = _parse(choice, entry, label, option_of=where, sends_choice=sends_choice)
    return MappingProxyType(parsed)
