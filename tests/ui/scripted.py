"""Test doubles for the terminal UI without a terminal or a server: a console whose user
follows a script, and a client whose service answers follow one."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from fsm_auth.engine import Spec
from fsm_auth.signin import CHALLENGED_STATE, ChallengeTable
from fsm_auth.ui._console import Console
from fsm_auth.values import (
    CodeDeliveryDetails,
    ForgotPasswordResult,
    SignInResult,
    SignInState,
    SignUpResult,
)

EOF = object()
"""A scripted answer: end of input (Ctrl-D)."""

DONE = SignInResult(state=SignInState.DONE)


class ScriptedConsole(Console):
    """A console whose user answers ``script``: ``(prompt, answer)`` pairs in order; each
    prompt must be the one asked. What it shows is kept in :attr:`text`."""

    def __init__(
        self, script: Sequence[tuple[str, object]], *, terminal_output: bool = False
    ) -> None:
        super().__init__(io.StringIO(), io.StringIO())
        self._script = list(script)
        self._terminal_output = terminal_output
        self._shown: list[str] = []
        self.secret_prompts: list[str] = []

    @property
    def interactive(self) -> bool:
        return True

    @property
    def output_is_terminal(self) -> bool:
        return self._terminal_output

    @property
    def text(self) -> str:
        """Everything written so far (typed answers are not echoed here)."""
        return "".join(self._shown)

    @property
    def finished(self) -> bool:
        """Every scripted answer was asked for."""
        return not self._script

    def _write(self, text: str) -> None:
        self._shown.append(text)

    def _read_line(self) -> str:
        prompt = self._shown[-1] if self._shown else ""
        assert self._script, f"an unexpected prompt {prompt!r} after:\n{self.text}"
        expected, answer = self._script.pop(0)
        assert prompt == expected, f"asked {prompt!r}, expected {expected!r}, after:\n{self.text}"
        if answer is EOF:
            raise EOFError
        assert isinstance(answer, str)
        return answer

    def _read_hidden(self, prompt: str) -> str:
        self._write(prompt)
        self.secret_prompts.append(prompt)
        try:
            return self._read_line()
        finally:
            self._write("\n")


class FakeClient:
    """A client whose calls must come in the order of ``script``: ``(method, outcome)``
    pairs, the outcome returned, or raised when it is an exception. :attr:`calls` records
    each call's arguments."""

    def __init__(self, *script: tuple[str, object]) -> None:
        self._script = list(script)
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    @property
    def finished(self) -> bool:
        return not self._script

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((method, args, kwargs))
        assert self._script, f"an unexpected call {method}{args}"
        expected, outcome = self._script.pop(0)
        assert method == expected, f"called {method}, expected {expected}"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def sign_in(self, username: str, password: str | None = None) -> SignInResult:
        result: SignInResult = self._call("sign_in", username, password)
        return result

    def confirm_sign_in(
        self, challenge_response: str, *, user_attributes: Mapping[str, str] | None = None
    ) -> SignInResult:
        result: SignInResult = self._call(
            "confirm_sign_in", challenge_response, user_attributes=user_attributes
        )
        return result

    def sign_up(
        self, username: str, password: str | None, *, attributes: Mapping[str, str] | None = None
    ) -> SignUpResult:
        result: SignUpResult = self._call("sign_up", username, password, attributes=attributes)
        return result

    def confirm_sign_up(self, username: str, code: str) -> SignUpResult:
        result: SignUpResult = self._call("confirm_sign_up", username, code)
        return result

    def resend_sign_up_code(self, username: str) -> CodeDeliveryDetails:
        result: CodeDeliveryDetails = self._call("resend_sign_up_code", username)
        return result

    def forgot_password(self, username: str) -> ForgotPasswordResult:
        result: ForgotPasswordResult = self._call("forgot_password", username)
        return result

    def confirm_forgot_password(self, username: str, new_password: str, code: str) -> None:
        self._call("confirm_forgot_password", username, new_password, code)


def challenge_table(challenges: Mapping[str, Any]) -> ChallengeTable:
    """The declarations of a sign-in spec of its own whose ``challenged`` state declares
    ``challenges`` (as a provider's spec would)."""
    spec = Spec.load(
        {
            "name": "ui_test_sign_in",
            "initial": "notStarted",
            "states": [
                "notStarted",
                "signingIn",
                {"name": CHALLENGED_STATE, "x-challenges": dict(challenges)},
                "DONE",
            ],
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
    )
    return ChallengeTable.from_spec(spec)


def shipped_table() -> ChallengeTable:
    """The declarations of the shipped ``sign_in`` spec."""
    return ChallengeTable.from_spec(Spec.load("sign_in"))


def prompt(
    challenge: str,
    parameters: Mapping[str, str] | None = None,
    code_delivery: CodeDeliveryDetails | None = None,
) -> SignInResult:
    """A sign-in result asking ``challenge``."""
    return SignInResult(
        state=SignInState(challenge),
        parameters=dict(parameters or {}),
        code_delivery=code_delivery,
    )
