"""The challenge loop of a user-pool sign-in, driven by the ``sign_in`` spec.

The provider does the I/O and answers with an :class:`~fsm_auth.provider.AuthStep`; this module
turns each step into a trigger of ``specs/sign_in.yaml`` and keeps the pending challenge. The
spec is what makes a second ``sign_in`` while one is in flight, or a ``confirm_sign_in`` with
nothing to confirm, an error rather than a race.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from fsm_auth.engine import Engine, Spec
from fsm_auth.errors import (
    ChallengeNotSupportedError,
    CodeMismatchError,
    ExpiredCodeError,
    IllegalTransitionError,
    InvalidParameterError,
    InvalidPasswordError,
    NetworkError,
)
from fsm_auth.provider import AuthStep, RawTokens, UserPoolProvider
from fsm_auth.values import SignInResult, SignInState

__all__ = ["SignInFlow"]

# Errors after which the same challenge may be answered again with the same session.
_RETRYABLE_ANSWER_ERRORS = (
    CodeMismatchError,
    ExpiredCodeError,
    InvalidPasswordError,
    InvalidParameterError,
    NetworkError,
)
_CHALLENGES = frozenset(s.value for s in SignInState if s is not SignInState.DONE)


class SignInFlow:
    """One user's sign-in at a time: start, answer challenges, finish with tokens."""

    def __init__(self, on_tokens: Callable[[RawTokens], Callable[[], None]]) -> None:
        """``on_tokens`` verifies and keeps the tokens (raising if they do not verify) and
        returns the announcement to make once this sign-in is over (the user-state change)."""
        self._engine = Engine(Spec.load("sign_in"))
        self._on_tokens = on_tokens
        self._pending: AuthStep | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """The state of the ``sign_in`` machine (``notStarted``, a challenge, ``DONE``...)."""
        return self._engine.state

    def start(
        self,
        provider: UserPoolProvider,
        username: str,
        password: str | None,
        *,
        flow: str,
        validation_data: Mapping[str, str] | None,
        client_metadata: Mapping[str, str] | None,
    ) -> SignInResult:
        """Send the first request of a sign-in and follow its answer."""
        self._fire_or_explain("start", "a sign-in is already in progress")
        self._pending = None
        try:
            step = provider.start_sign_in(
                username,
                password,
                flow=flow,
                validation_data=validation_data,
                client_metadata=client_metadata,
            )
        except BaseException:
            self._engine.fire("failed")
            raise
        return self._advance(step)

    def answer(
        self,
        provider: UserPoolProvider,
        response: str,
        *,
        user_attributes: Mapping[str, str] | None,
        client_metadata: Mapping[str, str] | None,
    ) -> SignInResult:
        """Answer the pending challenge and follow the service's answer."""
        with self._lock:
            step = self._pending
            if step is None or self._engine.state not in _CHALLENGES:
                raise IllegalTransitionError(
                    "confirm_sign_in() needs a pending sign-in challenge; call sign_in() first",
                    state=self._engine.state,
                    trigger="answer",
                )
            self._fire_or_explain("answer", "an answer is already being sent")
        try:
            next_step = provider.answer_challenge(
                step, response, user_attributes=user_attributes, client_metadata=client_metadata
            )
        except _RETRYABLE_ANSWER_ERRORS:
            # The session is still good: the same challenge may be answered again.
            self._engine.fire(_trigger_for(step.challenge or ""))
            raise
        except BaseException:
            self._pending = None
            self._engine.fire("failed")
            raise
        return self._advance(next_step)

    def reset(self) -> None:
        """Abandon any pending challenge (sign-out)."""
        self._pending = None
        self._engine.fire("reset")

    def _advance(self, step: AuthStep) -> SignInResult:
        try:
            if step.tokens is not None:
                announce = self._on_tokens(step.tokens)
                self._pending = None
                self._engine.fire("authenticated")
            else:
                announce = None
                challenge = step.challenge or ""
                if challenge not in _CHALLENGES:
                    raise ChallengeNotSupportedError(
                        f"The service asked for the challenge {challenge!r}, which fsm-auth "
                        "does not answer",
                        code=challenge or None,
                    )
        except BaseException:
            self._pending = None
            self._engine.fire("failed")
            raise
        if announce is not None:
            # After this machine is DONE: the user-state listeners it triggers may sign out
            # or sign in again, which starts from a settled sign-in machine.
            announce()
            return SignInResult(state=SignInState.DONE)
        self._pending = step
        self._engine.fire(_trigger_for(challenge))
        return SignInResult(
            state=SignInState(challenge),
            parameters=dict(step.parameters),
            code_delivery=step.code_delivery,
        )

    def _fire_or_explain(self, trigger: str, why: str) -> None:
        try:
            self._engine.fire(trigger)
        except IllegalTransitionError as exc:
            raise IllegalTransitionError(
                f"Cannot {trigger} a sign-in now: {why}", state=exc.state, trigger=trigger
            ) from None


def _trigger_for(challenge: str) -> str:
    return f"challenge_{challenge.lower()}"
