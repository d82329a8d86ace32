"""The steps of a sign-in flow: what a provider's flow yields and what it is sent back.

A provider's sign-in is a generator, free of I/O (the shape of httpx's ``Auth.auth_flow``)::

    def sign_in(self, request: SignInRequest) -> SignInFlow:
        answer = yield ServiceCall("initiate_auth", {...})      # the driver performs it
        ...
        reply = yield Prompt("SMS_MFA", {...})                   # the caller answers it
        ...
        return SignedIn(RawTokens(...))

The driver sends back the provider's answer to each :class:`ServiceCall` (or throws the
``AuthError`` it raised into the generator), hands each :class:`Prompt` to the caller as a
``SignInResult`` and sends the caller's :class:`Answer` when ``confirm_sign_in`` comes. A
prompt that carries ``error`` is the same challenge asked again after a wrong answer: the
caller gets ``error`` raised and may answer again. So the whole challenge protocol, SRP's
``PASSWORD_VERIFIER`` included, is driven with ``next()`` and ``.send()`` in unit tests, with
no server.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any

import attrs

from fsm_auth.errors import AuthError, ProviderError
from fsm_auth.provider import RawTokens
from fsm_auth.values import CodeDeliveryDetails

from ._challenges import ChallengeTable

__all__ = [
    "SIGN_IN_ROUTES",
    "Answer",
    "Prompt",
    "ServiceCall",
    "SignInFlow",
    "SignInRequest",
    "SignInStep",
    "SignedIn",
    "run_until_prompt",
]


@attrs.frozen(repr=False)
class SignInRequest:
    """What ``sign_in`` was asked: the user, the password (if the flow uses one), the flow
    (``USER_SRP_AUTH``...) and its preferred first factor (``USER_AUTH``'s
    ``preferred_challenge``), the caller's metadata, and the challenges the sign-in spec
    declares (what each asks for, and which the provider answers itself).

    ``session``: the service's session that signs a just-confirmed user in (the one
    ``ConfirmSignUp`` answered, for auto sign-in); never shown."""

    username: str
    password: str | None
    flow: str
    challenges: ChallengeTable
    validation_data: Mapping[str, str] | None = None
    client_metadata: Mapping[str, str] | None = None
    # This device as the user confirmed it (a ``fsm_auth._devices.DeviceSecret``), or None.
    device: Any = None
    preferred_challenge: str | None = None
    session: str | None = None

    def __repr__(self) -> str:
        return f"SignInRequest(username={self.username!r}, flow={self.flow!r})"


@attrs.frozen(repr=False)
class ServiceCall:
    """A request for the provider's :meth:`perform`: ``operation`` with ``params``.

    ``secrets`` are values sent that must never appear in an error text (passwords, codes,
    tokens), even if the service echoes them back.
    """

    operation: str
    params: Mapping[str, Any] = attrs.field(factory=dict)
    secrets: tuple[str | None, ...] = ()

    def __repr__(self) -> str:
        return f"ServiceCall({self.operation!r}, keys={sorted(self.params)!r})"


@attrs.frozen(repr=False)
class Prompt:
    """A challenge the caller must answer: its name, its public parameters, where a code went,
    and (when asked again) the error of the last answer."""

    challenge: str
    parameters: Mapping[str, str] = attrs.field(factory=dict)
    code_delivery: CodeDeliveryDetails | None = None
    error: AuthError | None = None

    def __repr__(self) -> str:
        return (
            f"Prompt({self.challenge!r}, error={type(self.error).__name__ if self.error else None})"
        )


@attrs.frozen(repr=False)
class Answer:
    """The caller's answer to a :class:`Prompt` (``confirm_sign_in``'s arguments)."""

    response: str
    user_attributes: Mapping[str, str] | None = None
    client_metadata: Mapping[str, str] | None = None

    def __repr__(self) -> str:
        return "Answer(...)"


SIGN_IN_ROUTES = ("user_pool", "hosted_ui")
"""How a sign-in reached its tokens; each commits with the user-state trigger
``<route>_signed_in`` of ``specs/user_state.yaml``."""


def _route(value: str) -> str:
    if value not in SIGN_IN_ROUTES:
        raise ProviderError(f"a sign-in flow ended by the unknown route {value!r}")
    return value


@attrs.frozen(repr=False)
class SignedIn:
    """The flow's outcome: the tokens the service issued (verified by the user-pool provider
    next), the ``route`` that reached them (``user_pool``; ``hosted_ui`` for a browser
    sign-in), and the OpenID Connect ``nonce`` the id token must carry, if one was sent."""

    tokens: RawTokens
    route: str = attrs.field(default="user_pool", converter=_route)
    nonce: str | None = None
    # What the sign-in did to this device (a ``fsm_auth._devices.DeviceUpdate``): None for
    # nothing, else committed with the session.
    device: Any = None

    def __repr__(self) -> str:
        return "SignedIn(...)"


SignInStep = ServiceCall | Prompt
"""What a sign-in flow yields."""

SignInFlow = Generator[SignInStep, Any, SignedIn]
"""A provider's sign-in: yields steps, is sent answers, returns :class:`SignedIn`."""


def run_until_prompt(
    flow: SignInFlow,
    reply: Answer | None,
    perform: Callable[[ServiceCall], Mapping[str, Any]],
    *,
    before_call: Callable[[ServiceCall], None] | None = None,
) -> Prompt | SignedIn:
    """Run ``flow`` (sending ``reply`` first: ``None`` to start it) until it prompts or ends.

    Each :class:`ServiceCall` is run with ``perform`` and its answer sent back; an
    ``AuthError`` it raises is thrown into the flow, which decides (ask again, or give up).
    ``before_call(call)`` runs before each request and may raise to stop the flow (which is
    then closed). Raises what the flow raises, and ``ProviderError`` for a flow that yields
    something else or ends without :class:`SignedIn`.
    """
    send: Any = reply
    error: AuthError | None = None
    while True:
        try:
            step = flow.throw(error) if error is not None else flow.send(send)
        except StopIteration as done:
            if not isinstance(done.value, SignedIn):
                raise ProviderError(
                    f"a sign-in flow ended with {type(done.value).__name__}, not SignedIn"
                ) from None
            return done.value
        send, error = None, None
        if isinstance(step, Prompt):
            return step
        if not isinstance(step, ServiceCall):
            flow.close()
            raise ProviderError(
                f"a sign-in flow yielded {type(step).__name__}, not a ServiceCall or a Prompt"
            )
        if before_call is not None:
            try:
                before_call(step)
            except BaseException:
                flow.close()
                raise
        try:
            send = perform(step)
        except AuthError as exc:
            error = exc
