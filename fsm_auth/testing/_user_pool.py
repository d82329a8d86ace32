"""The conformance tests of a ``user_pool`` provider (see the package docstring)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

import pytest

from fsm_auth.errors import InvalidParameterError, NetworkError, NotAuthorizedError
from fsm_auth.provider import RawTokens, UserPoolProvider
from fsm_auth.session import clear_jwks_caches
from fsm_auth.signin import Answer, Prompt, SignInStep
from fsm_auth.values import Tokens

from ._checks import (
    assert_no_secrets,
    check_user_pool_provider,
    error_texts,
    maybe_offline,
    raised,
)
from ._flows import AnswerPrompt, drive_sign_in, sign_in_request

__all__ = [
    "NewUser",
    "ServiceOffline",
    "SignedInUser",
    "UserPoolProviderTests",
    "unanswered_prompt",
]

NewUser = Callable[[], tuple[str, str]]
"""``new_user() -> (username, password)``: a fresh, confirmed user of the provider's service."""

ServiceOffline = Callable[[], AbstractContextManager[Any]]
"""``service_offline()``: a context manager inside which the service cannot be reached."""


def unanswered_prompt(prompt: Prompt) -> Answer:
    """The default ``answer_prompt``: fail the test, naming the challenge."""
    pytest.fail(
        f"The sign-in asked for the challenge {prompt.challenge!r}: supply an "
        "`answer_prompt` fixture that answers it for the users `new_user` makes"
    )


class SignedInUser(NamedTuple):
    """A user signed in by :meth:`UserPoolProviderTests.sign_in_new_user`."""

    username: str
    password: str
    raw: RawTokens
    tokens: Tokens
    steps: list[SignInStep]


def _secrets(password: str | None, *tokens: Tokens | RawTokens | None) -> dict[str, str | None]:
    found: dict[str, str | None] = {"password": password}
    for number, each in enumerate(t for t in tokens if t is not None):
        found[f"id token #{number}"] = each.id_token
        found[f"access token #{number}"] = each.access_token
        found[f"refresh token #{number}"] = each.refresh_token
    return found


def _named(provider: object) -> str:
    return type(provider).__name__


class UserPoolProviderTests:
    """Conformance tests for a provider of the ``user_pool`` role
    (:class:`~fsm_auth.provider.UserPoolProvider`): subclass it in a ``Test...`` class and
    supply the fixtures.

    Required: ``make_provider`` (``() -> provider``, a new instance each call, built as the
    client builds it; the default ``provider`` fixture is ``make_provider()``, override it too
    if you like) and ``new_user`` (``() -> (username, password)`` of a fresh confirmed user).

    Optional: ``answer_prompt`` (``prompt -> Answer``: how to answer a challenge your flow
    yields for such a user; default: the test fails naming the challenge), ``service_offline``
    (``() -> context manager`` inside which your service cannot be reached; without it the
    offline check is skipped), ``sign_in_flow`` (a flow that takes a password; default
    ``USER_SRP_AUTH``) and ``provider_clock`` (the clock the provider was built with; default
    ``time.time``).
    """

    # -- fixtures the author supplies (or keeps) ---------------------------------------------

    @pytest.fixture
    def make_provider(self) -> Callable[[], UserPoolProvider]:
        """``() -> a new provider instance`` (supply it)."""
        pytest.fail(
            "Supply a `make_provider` fixture: () -> a new instance of your provider, built "
            "as the client builds it (e.g. PluginRegistry().build('user_pool', name, context))"
        )

    @pytest.fixture
    def provider(self, make_provider: Callable[[], UserPoolProvider]) -> UserPoolProvider:
        """The provider under test: ``make_provider()``."""
        return make_provider()

    @pytest.fixture
    def new_user(self) -> NewUser:
        """``() -> (username, password)`` of a fresh confirmed user (supply it)."""
        pytest.fail(
            "Supply a `new_user` fixture: () -> (username, password) of a fresh, confirmed "
            "user of your service"
        )

    @pytest.fixture
    def answer_prompt(self) -> AnswerPrompt:
        """How a challenge of the flow is answered; by default none is
        (:func:`unanswered_prompt`)."""
        return unanswered_prompt

    @pytest.fixture
    def service_offline(self) -> ServiceOffline | None:
        """``() -> context manager`` that takes the service offline; ``None``: not given."""
        return None

    @pytest.fixture
    def sign_in_flow(self) -> str:
        """The sign-in flow the tests run (one that takes a password)."""
        return "USER_SRP_AUTH"

    @pytest.fixture
    def provider_clock(self) -> Callable[[], float]:
        """The clock the provider was built with (epoch seconds)."""
        return time.time

    # -- helpers -------------------------------------------------------------------------------

    def sign_in_new_user(
        self,
        provider: UserPoolProvider,
        new_user: NewUser,
        answer_prompt: AnswerPrompt,
        sign_in_flow: str,
        *,
        record: list[SignInStep] | None = None,
    ) -> SignedInUser:
        """Sign a fresh user in with the right password; the verified tokens."""
        username, password = new_user()
        request = sign_in_request(provider, username, password, flow=sign_in_flow)
        signed_in, steps = drive_sign_in(provider, request, answer_prompt, record=record)
        tokens = provider.verify(signed_in.tokens)
        return SignedInUser(username, password, signed_in.tokens, tokens, steps)

    # -- the tests -----------------------------------------------------------------------------

    def test_serves_the_user_pool_role(
        self,
        provider: UserPoolProvider,
        sign_in_flow: str,
        service_offline: ServiceOffline | None,
    ) -> None:
        """Every method of UserPoolProvider is callable; the sign-in spec loads, its challenges
        parse and ``flow_steps`` covers the steps they name; ``sign_in`` returns a flow (a
        generator) without running it (offline, when ``service_offline`` is given)."""
        check_user_pool_provider(provider)
        request = sign_in_request(provider, "conformance", "Not-Used-1!", flow=sign_in_flow)
        with maybe_offline(service_offline):
            flow = provider.sign_in(request)
        try:
            for method in ("send", "throw", "close"):
                assert callable(getattr(flow, method, None)), (
                    f"{_named(provider)}.sign_in must return a generator (a flow), "
                    f"not {type(flow).__name__}"
                )
        finally:
            close = getattr(flow, "close", None)
            if callable(close):
                close()

    def test_sign_in_with_the_right_password(
        self,
        provider: UserPoolProvider,
        new_user: NewUser,
        answer_prompt: AnswerPrompt,
        sign_in_flow: str,
        provider_clock: Callable[[], float],
    ) -> None:
        """The flow ends in ``SignedIn``; ``verify`` gives Tokens with a user name and an aware
        expiration in the future."""
        done = self.sign_in_new_user(provider, new_user, answer_prompt, sign_in_flow)
        tokens = done.tokens
        assert isinstance(tokens, Tokens), f"verify() returned {type(tokens).__name__}, not Tokens"
        assert isinstance(tokens.username, str), "the tokens name no user"
        assert tokens.username, "the tokens name no user"
        expiration = tokens.expiration
        assert expiration.utcoffset() is not None, "the tokens' expiration is a naive datetime"
        assert expiration.timestamp() > provider_clock(), "the tokens expired on arrival"

    def test_prompts_name_challenges_the_spec_declares(
        self,
        provider: UserPoolProvider,
        new_user: NewUser,
        answer_prompt: AnswerPrompt,
        sign_in_flow: str,
    ) -> None:
        """Every ``Prompt`` names a challenge the sign-in spec declares for the user."""
        table = check_user_pool_provider(provider)

        def declared(prompt: Prompt) -> Answer:
            challenge = table.get(prompt.challenge)
            assert challenge is not None, (
                f"{_named(provider)} prompted for {prompt.challenge!r}, which its sign-in spec "
                f"{table.spec_name!r} does not declare (declared: {', '.join(table)})"
            )
            assert challenge.answered_by == "user", (
                f"{_named(provider)} prompted for {prompt.challenge!r}, which its sign-in spec "
                "declares as answered by the provider"
            )
            assert isinstance(prompt.parameters, Mapping), (
                f"the parameters of the prompt {prompt.challenge!r} are not a mapping"
            )
            assert all(
                isinstance(k, str) and isinstance(v, str) for k, v in prompt.parameters.items()
            ), f"the parameters of the prompt {prompt.challenge!r} are not text by name"
            return answer_prompt(prompt)

        done = self.sign_in_new_user(provider, new_user, declared, sign_in_flow)
        for step in done.steps:
            if isinstance(step, Prompt):
                assert step.challenge in table

    def test_wrong_password_is_refused_without_secrets(
        self,
        provider: UserPoolProvider,
        new_user: NewUser,
        answer_prompt: AnswerPrompt,
        sign_in_flow: str,
    ) -> None:
        """A wrong password raises NotAuthorizedError, whose text shows neither password nor
        any token."""
        done = self.sign_in_new_user(provider, new_user, answer_prompt, sign_in_flow)
        wrong = f"Wr0ng-{secrets.token_hex(8)}"
        request = sign_in_request(provider, done.username, wrong, flow=sign_in_flow)
        error = raised(lambda: drive_sign_in(provider, request, answer_prompt))
        if error is None:
            pytest.fail(f"{_named(provider)} signed in with a wrong password")
        if not isinstance(error, NotAuthorizedError):
            pytest.fail(
                f"a wrong password raised {type(error).__name__}, not NotAuthorizedError "
                "(an fsm_auth.errors.AuthError)"
            )
        hidden = {**_secrets(done.password, done.raw), "wrong password": wrong}
        assert_no_secrets("the error of a wrong password", error_texts(error), hidden)

    def test_missing_password_is_refused_before_any_request(
        self,
        provider: UserPoolProvider,
        sign_in_flow: str,
        service_offline: ServiceOffline | None,
    ) -> None:
        """A password flow without a password raises InvalidParameterError before it yields a
        ``ServiceCall`` (and offline, when ``service_offline`` is given: before any I/O)."""
        request = sign_in_request(provider, "conformance", None, flow=sign_in_flow)
        step: SignInStep | None = None

        def start() -> None:
            nonlocal step
            flow = provider.sign_in(request)
            step = next(flow)
            flow.close()

        with maybe_offline(service_offline):
            error = raised(start)
        if error is None:
            pytest.fail(
                f"{_named(provider)}'s {sign_in_flow} sign-in without a password yielded "
                f"{step!r} instead of raising InvalidParameterError"
            )
        if not isinstance(error, InvalidParameterError):
            pytest.fail(
                f"a sign-in without a password raised {type(error).__name__}, "
                "not InvalidParameterError"
            )

    def test_saved_keys_verify_in_a_new_instance(
        self,
        provider: UserPoolProvider,
        make_provider: Callable[[], UserPoolProvider],
        new_user: NewUser,
        answer_prompt: AnswerPrompt,
        sign_in_flow: str,
    ) -> None:
        """``keys()``, saved as JSON with a session, lets a new instance verify the tokens."""
        done = self.sign_in_new_user(provider, new_user, answer_prompt, sign_in_flow)
        saved = _saved_keys(provider)
        fresh = make_provider()
        assert fresh is not provider, "make_provider() must build a new instance each call"
        restored = fresh.verify(done.raw, keys=saved, check_expiry=False)
        _same_user(restored, done.tokens)

    def test_saved_keys_verify_offline(
        self,
        provider: UserPoolProvider,
        make_provider: Callable[[], UserPoolProvider],
        new_user: NewUser,
        answer_prompt: AnswerPrompt,
        sign_in_flow: str,
        service_offline: ServiceOffline | None,
    ) -> None:
        """A new instance, built while the service is offline, verifies a saved session with
        the saved ``keys()`` alone."""
        if service_offline is None:
            pytest.skip("no `service_offline` fixture: the offline restore is not checked")
        done = self.sign_in_new_user(provider, new_user, answer_prompt, sign_in_flow)
        saved = _saved_keys(provider)
        # A new process holds no JWKS: forget what this one has fetched for every client.
        clear_jwks_caches()
        with service_offline():
            try:
                fresh = make_provider()
                restored = fresh.verify(done.raw, keys=saved, check_expiry=False)
            except NetworkError as exc:
                pytest.fail(
                    f"restoring a session needed the network: {exc} (keys() must return what "
                    "verify(raw, keys=...) needs)"
                )
        _same_user(restored, done.tokens)

    def test_refresh_gives_tokens_that_verify(
        self,
        provider: UserPoolProvider,
        new_user: NewUser,
        answer_prompt: AnswerPrompt,
        sign_in_flow: str,
        provider_clock: Callable[[], float],
    ) -> None:
        """``refresh(tokens)`` returns RawTokens that verify, for the same user."""
        done = self.sign_in_new_user(provider, new_user, answer_prompt, sign_in_flow)
        raw = provider.refresh(done.tokens)
        assert isinstance(raw, RawTokens), f"refresh() returned {type(raw).__name__}, not RawTokens"
        refreshed = provider.verify(raw)
        assert refreshed.username == done.tokens.username, "the refreshed tokens name another user"
        assert refreshed.expiration.timestamp() > provider_clock()

    def test_revoked_refresh_token_is_refused(
        self,
        provider: UserPoolProvider,
        new_user: NewUser,
        answer_prompt: AnswerPrompt,
        sign_in_flow: str,
    ) -> None:
        """After ``revoke_token(refresh)``, ``refresh`` raises NotAuthorizedError (with no
        token in its text)."""
        done = self.sign_in_new_user(provider, new_user, answer_prompt, sign_in_flow)
        refresh_token = done.tokens.refresh_token
        assert refresh_token, "the sign-in gave no refresh token"
        provider.revoke_token(refresh_token)
        error = raised(lambda: provider.refresh(done.tokens))
        if error is None:
            pytest.fail(f"{_named(provider)} refreshed with a revoked refresh token")
        if not isinstance(error, NotAuthorizedError):
            pytest.fail(
                f"refreshing with a revoked token raised {type(error).__name__}, "
                "not NotAuthorizedError"
            )
        assert_no_secrets(
            "the error of a revoked refresh token", error_texts(error), _secrets(None, done.raw)
        )

    def test_logins_name_the_tokens(
        self,
        provider: UserPoolProvider,
        new_user: NewUser,
        answer_prompt: AnswerPrompt,
        sign_in_flow: str,
    ) -> None:
        """``logins(tokens)`` is a non-empty mapping of provider name to token."""
        done = self.sign_in_new_user(provider, new_user, answer_prompt, sign_in_flow)
        logins = provider.logins(done.tokens)
        assert isinstance(logins, Mapping), f"logins() returned {type(logins).__name__}"
        assert logins, "logins() is empty for a signed-in user"
        for key, token in logins.items():
            assert isinstance(key, str), f"logins() has the key {key!r}"
            assert key, "logins() has an empty key"
            assert isinstance(token, str), f"logins() has no token for {key!r}"
            assert token, f"logins() has an empty token for {key!r}"

    def test_reprs_show_no_secret(
        self,
        provider: UserPoolProvider,
        new_user: NewUser,
        answer_prompt: AnswerPrompt,
        sign_in_flow: str,
    ) -> None:
        """The repr of the provider, and of every step its flow yields, shows no password and
        no token."""
        before = [repr(provider), str(provider)]
        steps: list[SignInStep] = []
        done = self.sign_in_new_user(provider, new_user, answer_prompt, sign_in_flow, record=steps)
        hidden = _secrets(done.password, done.raw)
        assert_no_secrets(
            f"repr({_named(provider)})", [*before, repr(provider), str(provider)], hidden
        )
        for step in steps:
            assert_no_secrets(
                f"a step of the sign-in ({type(step).__name__})", [repr(step), str(step)], hidden
            )
        assert_no_secrets(
            "the tokens' repr", [repr(done.raw), repr(done.tokens), str(done.tokens)], hidden
        )


def _saved_keys(provider: UserPoolProvider) -> Mapping[str, Any] | None:
    """``provider.keys()`` through JSON, as a session store keeps them."""
    keys = provider.keys()
    if keys is None:
        return None
    assert isinstance(keys, Mapping), f"keys() returned {type(keys).__name__}, not a mapping"
    try:
        saved: Mapping[str, Any] = json.loads(json.dumps(keys))
    except (TypeError, ValueError) as exc:
        pytest.fail(f"keys() cannot be saved with a session (as JSON): {exc}")
    return saved


def _same_user(restored: Tokens, original: Tokens) -> None:
    assert isinstance(restored, Tokens), f"verify() returned {type(restored).__name__}"
    assert restored.username == original.username, "the restored tokens name another user"
    assert dict(restored.id_claims) == dict(original.id_claims), "the restored id claims differ"
