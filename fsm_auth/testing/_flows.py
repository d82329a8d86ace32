"""Running a provider's sign-in flow in a test: the request, the challenges, the driver."""

from __future__ import annotations

from collections.abc import Callable

from fsm_auth.engine import Spec
from fsm_auth.provider import UserPoolProvider
from fsm_auth.signin import (
    Answer,
    ChallengeTable,
    Prompt,
    SignedIn,
    SignInRequest,
    SignInStep,
    run_until_prompt,
)

__all__ = ["AnswerPrompt", "challenge_table", "drive_sign_in", "sign_in_request", "sign_in_spec"]

AnswerPrompt = Callable[[Prompt], Answer]
"""How a test answers a challenge its flow yields: ``answer_prompt(prompt) -> Answer``."""

DEFAULT_MAX_STEPS = 64
"""A flow that yields more steps than this is taken to loop (a prompt asked again forever)."""


def sign_in_spec(provider: object) -> Spec:
    """The sign-in spec ``provider`` names (its ``sign_in_spec`` attribute, default the shipped
    ``sign_in``), loaded and validated as the client loads it."""
    return Spec.load(getattr(provider, "sign_in_spec", "sign_in"))


def challenge_table(provider: object) -> ChallengeTable:
    """The challenges ``provider``'s sign-in spec declares (what its prompts may name)."""
    return ChallengeTable.from_spec(sign_in_spec(provider))


def sign_in_request(
    provider: object,
    username: str,
    password: str | None,
    *,
    flow: str = "USER_SRP_AUTH",
    validation_data: dict[str, str] | None = None,
    client_metadata: dict[str, str] | None = None,
) -> SignInRequest:
    """A :class:`~fsm_auth.signin.SignInRequest` as the client builds it: the challenges are
    those of ``provider``'s own sign-in spec."""
    return SignInRequest(
        username=username,
        password=password,
        flow=flow,
        challenges=challenge_table(provider),
        validation_data=validation_data,
        client_metadata=client_metadata,
    )


def drive_sign_in(
    provider: UserPoolProvider,
    request: SignInRequest,
    answer_prompt: AnswerPrompt | None = None,
    *,
    record: list[SignInStep] | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> tuple[SignedIn, list[SignInStep]]:
    """Run ``provider.sign_in(request)`` to its end, as the client's driver does, and return
    the :class:`~fsm_auth.signin.SignedIn` it returned with every step it yielded.

    Each ``ServiceCall`` is run with ``provider.perform`` and its answer sent back; an
    ``AuthError`` it raises is thrown into the flow (which may ask again or give up). Each
    ``Prompt`` is answered with ``answer_prompt(prompt)``; without ``answer_prompt`` a prompt
    fails with an ``AssertionError`` naming the challenge. Whatever the flow raises is raised
    (``record``, a list, receives the steps as they come, so they are known even then). The
    tokens are returned as the service issued them: ``provider.verify`` them next.

    Unlike the client, this helper does not check that a prompt's challenge is declared by
    the sign-in spec: the conformance tests do (:class:`UserPoolProviderTests`).
    """
    steps: list[SignInStep] = []
    name = type(provider).__name__

    def note(step: SignInStep) -> None:
        steps.append(step)
        if record is not None:
            record.append(step)
        if len(steps) > max_steps:
            raise AssertionError(
                f"{name}'s sign-in yielded more than {max_steps} steps (last: {step!r}); "
                "does it ask the same challenge forever?"
            )

    flow = provider.sign_in(request)
    reply: Answer | None = None
    while True:
        outcome = run_until_prompt(flow, reply, provider.perform, before_call=note)
        if isinstance(outcome, SignedIn):
            return outcome, steps
        try:
            note(outcome)
        except AssertionError:
            flow.close()
            raise
        if answer_prompt is None:
            flow.close()
            raise AssertionError(
                f"{name}'s sign-in asked for the challenge {outcome.challenge!r} and the "
                "test gave no answer_prompt to answer it"
            )
        reply = answer_prompt(outcome)
        if not isinstance(reply, Answer):
            flow.close()
            raise TypeError(
                f"answer_prompt must return an fsm_auth.signin.Answer for the challenge "
                f"{outcome.challenge!r}, not {type(reply).__name__}"
            )
