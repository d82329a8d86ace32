"""Drives a provider's sign-in flow under the ``sign_in`` spec.

The ``sign_in`` engine's data is the attempt in progress (its flow, the prompt it waits on, the
user-state epoch it started in); every trigger names its attempt and the ``current_attempt``
guard drops the answers of an attempt that a sign-out or a new ``sign_in`` abandoned. The
driver does the I/O the flow asks for (through the provider's ``perform``) and hands prompts
to the caller; the flow decides everything else.

A sign-up that asked for auto sign-in waits in ``signedUp`` (its data: the user and the
sign-up's session); the confirmation of that user starts an attempt with the session the
service then answers (``confirmed``), so an auto sign-in commits, and is abandoned, exactly as
a sign-in does.

A finished flow commits in this order: the tokens are verified (the provider's policy), the
attempt moves to ``DONE``, then the user state commits the session, guarded by the epoch: a
sign-out that came meanwhile wins, the tokens are discarded (their refresh token revoked) and
the caller gets :class:`~fsm_auth.errors.SignInCancelledError`. The sign-in machine is
``DONE`` before the user-state listeners run, so a listener may sign in or out again.
"""

from __future__ import annotations

import hmac
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from fsm_auth._event_loop import cancelled
from fsm_auth.engine import Engine, Event, Spec
from fsm_auth.errors import (
    AuthError,
    ChallengeNotSupportedError,
    IllegalTransitionError,
    NotAuthorizedError,
    ProviderError,
    SignInCancelledError,
    UnableToSignInError,
)
from fsm_auth.provider import SignUpAnswer, UserPoolProvider
from fsm_auth.values import SignInResult, SignInState, SignUpResult, Tokens

from ._challenges import CHALLENGED_STATE, ChallengeTable
from ._flows import FlowTable
from ._steps import (
    Answer,
    Prompt,
    ServiceCall,
    SignedIn,
    SignInFlow,
    SignInRequest,
    run_until_prompt,
)

__all__ = ["SignInDriver", "UserStateCommit"]

_log = logging.getLogger("fsm_auth.sign_in")
_attempt_ids = itertools.count(1)


class UserStateCommit(Protocol):
    """The user-state machine's side of a sign-in."""

    @property
    def epoch(self) -> int:
        """The current sign-out epoch (a sign-in started now remembers it)."""
        ...

    def commit_sign_in(
        self,
        tokens: Tokens,
        keys: Mapping[str, Any] | None,
        epoch: int,
        *,
        route: str,
        device: Any = None,
    ) -> bool:
        """Commit the session reached by ``route`` (and what the sign-in did to this device);
        False when a sign-out since ``epoch`` refuses it."""
        ...

    def device_for(self, name: str) -> Any:
        """This device as user ``name`` confirmed it (None if not): what a sign-in presents."""
        ...


@attrs.frozen(eq=False)
class _Attempt:
    """One sign-in attempt: the sign-in engine's data while it is in progress."""

    id: int
    flow: SignInFlow
    perform: Callable[[ServiceCall], Mapping[str, Any]]
    epoch: int
    prompt: Prompt | None = None


@attrs.frozen(repr=False)
class _PendingSignUp:
    """A sign-up that asked for auto sign-in: the sign-in engine's data in ``signedUp``."""

    username: str
    session: str | None  # the sign-up's, for ConfirmSignUp; never shown

    def __repr__(self) -> str:
        return f"_PendingSignUp({self.username!r})"


class _Guards:
    """The guards of the sign-in spec."""

    @staticmethod
    def current_attempt(event: Event) -> bool:
        """The trigger names the attempt the machine holds."""
        attempt = event.data
        return isinstance(attempt, _Attempt) and attempt.id == event.event_data.get("attempt")

    @staticmethod
    def pending_sign_up(event: Event) -> bool:
        """The confirmed user is the one whose sign-up waits for auto sign-in."""
        pending = event.data
        return isinstance(pending, _PendingSignUp) and pending.username == event.event_data.get(
            "username"
        )


class SignInDriver:
    """One user's sign-in at a time: start, answer challenges, finish with a session."""

    def __init__(
        self,
        provider: UserPoolProvider,
        user_state: UserStateCommit,
        *,
        spec: Spec | str | Mapping[str, Any] | None = None,
    ) -> None:
        self._provider = provider
        self._user_state = user_state
        loaded = Spec.load(
            spec if spec is not None else getattr(provider, "sign_in_spec", "sign_in")
        )
        self._challenges = ChallengeTable.from_spec(loaded)
        self._flows = FlowTable.from_spec(loaded)
        missing = self._challenges.provider_steps() - frozenset(getattr(provider, "flow_steps", ()))
        if missing:
            raise ProviderError(
                f"The provider {type(provider).__name__} lacks the step(s) "
                f"{', '.join(sorted(missing))} that the sign-in spec {loaded.name!r} names"
            )
        runs = getattr(provider, "sign_in_flows", None)
        unrun = frozenset(self._flows) - frozenset(runs if runs is not None else self._flows)
        if unrun:
            raise ProviderError(
                f"The provider {type(provider).__name__} does not run the flow(s) "
                f"{', '.join(sorted(unrun))} that the sign-in spec {loaded.name!r} declares"
            )
        self._engine = Engine(loaded, context=_Guards())

    @property
    def state(self) -> str:
        """The state of the ``sign_in`` machine (``notStarted``, ``challenged``, ``DONE``...)."""
        return self._engine.state

    @property
    def challenges(self) -> ChallengeTable:
        """The challenges the sign-in spec declares (what a UI renders)."""
        return self._challenges

    @property
    def flows(self) -> FlowTable:
        """The flows the sign-in spec declares (which take a password)."""
        return self._flows

    def start(
        self,
        username: str,
        password: str | None,
        *,
        flow: str,
        preferred_challenge: str | None = None,
        validation_data: Mapping[str, str] | None = None,
        client_metadata: Mapping[str, str] | None = None,
    ) -> SignInResult:
        """Start a sign-in (abandoning a pending challenge) and follow it to its first prompt
        or to the end. A flow, preferred challenge or password the spec does not allow is
        refused first (``InvalidParameterError``): nothing is sent and nothing changes."""
        self._flows.check(flow, password, preferred_challenge)
        request = SignInRequest(
            username=username,
            password=password,
            flow=flow,
            challenges=self._challenges,
            validation_data=validation_data,
            client_metadata=client_metadata,
            device=self._user_state.device_for(username),
            preferred_challenge=preferred_challenge,
        )
        return self.start_flow(self._provider.sign_in(request), self._provider.perform)

    # -- auto sign-in after sign-up ------------------------------------------------------------

    def sign_up(
        self,
        username: str,
        password: str | None,
        *,
        attributes: Mapping[str, str] | None,
        validation_data: Mapping[str, str] | None,
        client_metadata: Mapping[str, str] | None,
        auto_sign_in: bool,
    ) -> SignUpResult:
        """Register ``username`` with the provider; with ``auto_sign_in`` the confirmation of
        that user will sign in (a pending challenge is abandoned)."""
        answer = SignUpAnswer.of(
            self._provider.sign_up(
                username,
                password,
                attributes=attributes,
                validation_data=validation_data,
                client_metadata=client_metadata,
            )
        )
        if auto_sign_in:
            self._engine.fire("signed_up", data=_PendingSignUp(username, answer.session))
        return answer.result

    def confirm_sign_up(
        self, username: str, code: str, *, client_metadata: Mapping[str, str] | None
    ) -> SignUpResult:
        """Confirm ``username`` with the provider, then sign in where its sign-up asked so."""
        pending = self._engine.data
        session = pending.session if self._pending(username) else None
        if session is None:
            # No session argument at all: a provider written before sessions takes none.
            answer = self._provider.confirm_sign_up(username, code, client_metadata=client_metadata)
        else:
            try:
                answer = self._provider.confirm_sign_up(
                    username, code, client_metadata=client_metadata, session=session
                )
            except NotAuthorizedError:
                # The sign-up's session lives minutes and a code may be typed later: the
                # service refuses the session (before it reads the code), never the
                # confirmation for it. Without it the answer still carries the session that
                # signs in.
                answer = self._provider.confirm_sign_up(
                    username, code, client_metadata=client_metadata
                )
        return self._confirmed(username, SignUpAnswer.of(answer))

    def _confirmed(self, username: str, answer: SignUpAnswer) -> SignUpResult:
        """``username`` is confirmed: sign in with the confirmation's session when its sign-up
        asked for it. The result says how that went; this never raises, the user being
        confirmed either way."""
        result = answer.result
        if not self._pending(username):
            return result
        if answer.session is None:
            self._engine.fire("reset", data=None)
            return attrs.evolve(
                result,
                sign_in_error=UnableToSignInError(
                    "The user pool gave no session to sign the confirmed user in (its app "
                    "client must allow USER_AUTH); sign in"
                ),
            )
        request = SignInRequest(
            username=username,
            password=None,
            flow="USER_AUTH",
            challenges=self._challenges,
            device=self._user_state.device_for(username),
            session=answer.session,
        )
        flow = self._provider.sign_in(request)
        attempt = _Attempt(next(_attempt_ids), flow, self._provider.perform, self._user_state.epoch)
        try:
            if not self._engine.fire("confirmed", data=attempt, username=username):
                flow.close()
                return result  # another user's sign-up waits now
        except IllegalTransitionError:
            flow.close()
            return result  # a sign-in or a sign-out came meanwhile: it wins
        try:
            outcome = self._drive(attempt, None)
        except AuthError as exc:
            return attrs.evolve(result, sign_in_error=exc)
        return attrs.evolve(result, signed_in=outcome.state is SignInState.DONE, sign_in=outcome)

    def start_flow(
        self, flow: SignInFlow, perform: Callable[[ServiceCall], Mapping[str, Any]]
    ) -> SignInResult:
        """Start another provider's sign-in flow (the hosted UI's), whose steps ``perform``
        runs, as :meth:`start` starts the user pool's: the same machine, the same commit."""
        if cancelled():  # a cancelled asyncio call that had not started yet
            flow.close()
            raise SignInCancelledError("The sign-in call was cancelled")
        attempt = _Attempt(next(_attempt_ids), flow, perform, self._user_state.epoch)
        try:
            self._engine.fire("start", data=attempt)
        except IllegalTransitionError as exc:
            raise IllegalTransitionError(
                "Cannot start a sign-in now: a sign-in is already in progress",
                state=exc.state,
                trigger="start",
            ) from None
        return self._drive(attempt, None)

    def answer(
        self,
        response: str,
        *,
        user_attributes: Mapping[str, str] | None,
        client_metadata: Mapping[str, str] | None,
    ) -> SignInResult:
        """Answer the pending challenge and follow the flow to its next prompt or the end."""
        snapshot = self._engine.snapshot
        attempt = snapshot.data
        if snapshot.state != CHALLENGED_STATE or not isinstance(attempt, _Attempt):
            raise IllegalTransitionError(
                "confirm_sign_in() needs a pending sign-in challenge; call sign_in() first",
                state=snapshot.state,
                trigger="answer",
            )
        try:
            answered = self._engine.fire("answer", attempt=attempt.id)
        except IllegalTransitionError as exc:
            raise IllegalTransitionError(
                "Cannot answer now: an answer to this challenge is already being sent",
                state=exc.state,
                trigger="answer",
            ) from None
        if not answered:
            raise SignInCancelledError("The challenge was abandoned (a new sign-in or a sign-out)")
        return self._drive(attempt, Answer(response, user_attributes, client_metadata))

    def abandon(self) -> None:
        """Abandon whatever is pending or in flight (a sign-out)."""
        self._engine.fire("reset", data=None)

    # -- driving the flow ------------------------------------------------------------------

    def _drive(self, attempt: _Attempt, reply: Answer | None) -> SignInResult:
        try:
            outcome = self._run(attempt, reply)
            if isinstance(outcome, SignedIn):
                # The provider's verification policy: forged or foreign tokens end the sign-in.
                tokens = self._provider.verify(outcome.tokens)
                _check_nonce(tokens, outcome.nonce)
        except BaseException:
            self._engine.fire("failed", data=None, attempt=attempt.id)
            raise
        if isinstance(outcome, Prompt):
            if cancelled():  # nobody asked for this challenge any more: the attempt ends
                self._engine.fire("failed", data=None, attempt=attempt.id)
                raise SignInCancelledError("The sign-in call was cancelled")
            return self._prompt(attempt, outcome)
        return self._finish(attempt, tokens, outcome.route, outcome.device)

    def _run(self, attempt: _Attempt, reply: Answer | None) -> Prompt | SignedIn:
        """Run the flow until it prompts or ends; raise what it raises."""

        def still_current(_call: ServiceCall) -> None:
            # No new request for an abandoned attempt (an answer already in flight still
            # reaches the flow: tokens it brings are discarded and revoked by _finish).
            if self._abandoned(attempt):
                raise SignInCancelledError(
                    "The sign-in was abandoned (sign_out() or a new sign_in() came meanwhile)"
                )
            if cancelled():
                raise SignInCancelledError("The sign-in call was cancelled")

        return run_until_prompt(attempt.flow, reply, attempt.perform, before_call=still_current)

    def _prompt(self, attempt: _Attempt, prompt: Prompt) -> SignInResult:
        challenge = self._challenges.get(prompt.challenge)
        if challenge is None or challenge.answered_by != "user":
            self._engine.fire("failed", data=None, attempt=attempt.id)
            raise ChallengeNotSupportedError(
                f"The sign-in asked for the challenge {prompt.challenge}, which the sign-in "
                f"spec {self._challenges.spec_name!r} does not declare for the caller",
                code=prompt.challenge,
            )
        waiting = attrs.evolve(attempt, prompt=prompt)
        if not self._engine.fire("challenge", data=waiting, attempt=attempt.id):
            raise SignInCancelledError(
                "The sign-in was abandoned (sign_out() or a new sign_in() came meanwhile)"
            )
        if prompt.error is not None:
            raise prompt.error  # the same challenge may be answered again
        return SignInResult(
            state=SignInState(prompt.challenge),
            parameters=dict(prompt.parameters),
            code_delivery=prompt.code_delivery,
        )

    def _finish(self, attempt: _Attempt, tokens: Tokens, route: str, device: Any) -> SignInResult:
        if cancelled():
            # The asyncio call gave up while the tokens were on their way: nothing changes.
            self._engine.fire("failed", data=None, attempt=attempt.id)
            self._discard(tokens, "the sign-in call was cancelled while the service answered")
        if not self._engine.fire("authenticated", attempt=attempt.id):
            self._discard(tokens)
        elif not self._user_state.commit_sign_in(
            tokens, self._provider.keys(), attempt.epoch, route=route, device=device
        ):
            self._engine.fire("discarded", data=None, attempt=attempt.id)
            self._discard(tokens)
        return SignInResult(state=SignInState.DONE)

    def _pending(self, username: str) -> bool:
        pending = self._engine.data
        return isinstance(pending, _PendingSignUp) and pending.username == username

    def _abandoned(self, attempt: _Attempt) -> bool:
        current = self._engine.data
        return not (isinstance(current, _Attempt) and current.id == attempt.id)

    def _discard(
        self,
        tokens: Tokens,
        why: str = "sign_out() came while this sign-in waited for the service",
    ) -> None:
        """The late tokens of an abandoned sign-in: revoke them where possible, then say so."""
        if tokens.refresh_token:
            try:
                self._provider.revoke_token(tokens.refresh_token)
            except AuthError as exc:
                _log.warning("Could not revoke the tokens of an abandoned sign-in: %s", exc)
        raise SignInCancelledError(
            f"{why}; its tokens were discarded and the user is not signed in"
        )


def _check_nonce(tokens: Tokens, nonce: str | None) -> None:
    """OpenID Connect Core 3.1.3.7: the id token carries the nonce the request sent, so a token
    issued for another sign-in (replayed, or injected into this redirect) is refused."""
    if nonce is None:
        return
    claim = tokens.id_claims.get("nonce")
    if not isinstance(claim, str) or not hmac.compare_digest(claim.encode(), nonce.encode()):
        raise NotAuthorizedError(
            "The id token does not carry the nonce this sign-in sent; it was refused"
        )
