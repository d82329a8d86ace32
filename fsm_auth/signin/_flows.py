"""The sign-in flows a sign-in spec declares, and what each takes.

A sign-in spec declares its flows on its ``signingIn`` state, under ``x-flows``::

    - name: signingIn
      x-flows:
        USER_SRP_AUTH: {password: required}
        CUSTOM_AUTH: {password: none}
        USER_AUTH:
          password: optional
          preferred_challenges:
            PASSWORD: {password: required}
            EMAIL_OTP: {password: none}

Keys of a flow (and of a preferred challenge):

- ``password``: ``required`` (the flow uses the password), ``none`` (it takes none: a password
  given is refused, so that a caller who meant another flow hears so) or ``optional`` (it may
  use one later: USER_AUTH without a preferred challenge uses it only if the user picks a
  password factor).
- ``preferred_challenges``: the first factors a caller may ask for (``preferred_challenge=``),
  each with its own ``password``; a flow without them takes no preferred challenge.
- ``description``.

:meth:`FlowTable.check` applies these rules to a ``sign_in`` call before anything is sent, so a
wrong combination is an :class:`~fsm_auth.errors.InvalidParameterError` naming it, and the
sign-in machine does not move.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from fsm_auth.engine import Spec
from fsm_auth.errors import InvalidParameterError, SpecError

from ._table import DeclarationTable

__all__ = ["FLOWS_STATE", "FlowTable", "SignInFlowDeclaration"]

FLOWS_STATE = "signingIn"
"""The sign-in spec's state that runs a flow; it carries the flow declarations."""

_KEY = "x-flows"
_FLOW_FIELDS = frozenset({"password", "preferred_challenges", "description"})
_CHALLENGE_FIELDS = frozenset({"password", "description"})
_PASSWORD_RULES = ("required", "optional", "none")

PasswordRule = Literal["required", "optional", "none"]


@attrs.frozen
class SignInFlowDeclaration:
    """One declared flow (or preferred challenge of a flow): see the module docstring."""

    name: str
    password: PasswordRule
    description: str | None = None
    preferred_challenges: Mapping[str, SignInFlowDeclaration] = attrs.field(
        factory=dict, hash=False
    )


class FlowTable(DeclarationTable[SignInFlowDeclaration]):
    """The flows of one sign-in spec, by name; read-only."""

    @classmethod
    def from_spec(cls, spec: Spec) -> FlowTable:
        """The flow declarations of ``spec``'s ``signingIn`` state (none when it declares
        none: any flow then passes, as the provider decides); :class:`SpecError` naming the
        spec and the flow for a malformed one."""
        label = str(spec.source) if spec.source is not None else f"spec {spec.name!r}"
        if FLOWS_STATE not in spec.states:
            return cls({}, spec_name=spec.name)
        raw = spec.state_info(FLOWS_STATE).get(_KEY, {})
        if not isinstance(raw, Mapping):
            raise SpecError(f"{label}: {_KEY} must map flow names to their declarations")
        flows = {}
        for name, entry in raw.items():
            where = f"{label}: flow {name!r}"
            flow = _parse(name, entry, where, _FLOW_FIELDS)
            choices = entry.get("preferred_challenges", {}) if isinstance(entry, Mapping) else {}
            if choices != {}:
                if not isinstance(choices, Mapping) or not choices:
                    raise SpecError(
                        f"{where}: preferred_challenges must map challenge names to their "
                        "declarations"
                    )
                parsed = {
                    c: _parse(c, e, f"{where}: preferred challenge {c!r}", _CHALLENGE_FIELDS)
                    for c, e in choices.items()
                }
                flow = attrs.evolve(flow, preferred_challenges=MappingProxyType(parsed))
            flows[name] = flow
        return cls(flows, spec_name=spec.name)

    def check(self, flow: str, password: str | None, preferred_challenge: str | None) -> None:
        """Refuse a ``sign_in`` the spec does not allow: an undeclared flow or preferred
        challenge, a password missing where it is required or given where none is used."""
        if not self:
            return
        declared = self.get(flow)
        if declared is None:
            raise InvalidParameterError(
                f"Unsupported authentication flow {flow!r}: use one of {', '.join(self)}"
            )
        rule, what = declared.password, flow
        if preferred_challenge is not None:
            if not declared.preferred_challenges:
                raise InvalidParameterError(
                    f"{flow} takes no preferred_challenge (only "
                    f"{', '.join(self.with_preferred_challenges()) or 'no flow'} does)"
                )
            chosen = declared.preferred_challenges.get(preferred_challenge)
            if chosen is None:
                raise InvalidParameterError(
                    f"Unsupported preferred_challenge {preferred_challenge!r} for {flow}: use "
                    f"one of {', '.join(declared.preferred_challenges)}"
                )
            rule, what = chosen.password, f"{flow} with {preferred_challenge}"
        # An empty password is no password (a form left empty).
        if rule == "required" and not password:
            raise InvalidParameterError(f"A password is needed to sign in with {what}")
        if rule == "none" and password:
            raise InvalidParameterError(
                f"Signing in with {what} takes no password (pass password=None)"
            )

    def with_preferred_challenges(self) -> tuple[str, ...]:
        """The flows that take a preferred challenge."""
        return tuple(name for name, flow in self.items() if flow.preferred_challenges)


def _parse(name: Any, entry: Any, where: str, fields: frozenset[str]) -> SignInFlowDeclaration:
    if not isinstance(name, str) or not name.isidentifier():
        raise SpecError(f"{where}: names must be identifiers such as USER_SRP_AUTH")
    if not isinstance(entry, Mapping):
        raise SpecError(f"{where} must be a mapping of its keys")
    unknown = sorted(str(k) for k in entry if k not in fields)
    if unknown:
        raise SpecError(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(fields))})"
        )
    password = entry.get("password")
    if password not in _PASSWORD_RULES:
        raise SpecError(f"{where}: password must be one of {', '.join(_PASSWORD_RULES)}")
    description = entry.get("description")
    if description is not None and (not isinstance(description, str) or not description):
        raise SpecError(f"{where}: description must be non-empty text")
    return SignInFlowDeclaration(name=name, password=password, description=description)
