"""The conformance suite catches what it claims to: each of its tests, run on a provider broken
in the one way it checks, fails (with a message naming the fault and no secret).

The tests of ``fsm_auth.testing`` are called here directly with their fixture values; each
broken provider wraps a working built-in one and changes one thing."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from _pytest.outcomes import Failed

from fsm_auth.config import load_config
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.errors import NetworkError, NotAuthorizedError, ProviderError, SpecError
from fsm_auth.plugins import default_registry
from fsm_auth.provider import ProviderContext, RawTokens
from fsm_auth.signin import Answer, Prompt, ServiceCall, SignedIn, SignInFlow, SignInRequest
from fsm_auth.testing import (
    IdentityPoolProviderTests,
    UserPoolProviderTests,
    assert_no_secrets,
    check_user_pool_provider,
    drive_sign_in,
    sign_in_request,
    unanswered_prompt,
)
from fsm_auth.transport import RetryPolicy
from fsm_auth.values import AWSCredentials, Tokens

PASSWORD = "Correct-Horse-9!"
_names = itertools.count(1)


def build(role: str, name: str, config: Mapping[str, Any], clock: FakeClock) -> Any:
    context = ProviderContext(load_config(config), clock, RetryPolicy(max_attempts=1))
    return default_registry().build(role, name, context)


class Wrapped:
    """A provider that forwards everything to ``inner``; subclasses break one thing."""

    lacking: tuple[str, ...] = ()

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name in type(self).lacking:
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._inner!r})"


def failure(test: Callable[..., None], **fixtures: Any) -> str:
    """Run one conformance test with ``fixtures``; the text it failed with."""
    with pytest.raises((AssertionError, Failed, Exception)) as caught:
        test(**fixtures)
    text = str(caught.value)
    assert_no_secrets("a conformance failure", [text], {"password": PASSWORD})
    return text


@pytest.fixture
def offline(emulator: Emulator) -> Callable[[], Any]:
    @contextlib.contextmanager
    def stopped() -> Iterator[None]:
        emulator.stop()
        try:
            yield
        finally:
            emulator.start()

    return stopped


# -- user pool -------------------------------------------------------------------------------


@pytest.fixture
def suite() -> UserPoolProviderTests:
    return UserPoolProviderTests()


@pytest.fixture
def make_builtin(aws_config: dict[str, Any], clock: FakeClock) -> Callable[[], Any]:
    return lambda: build("user_pool", "userpool", aws_config, clock)


@pytest.fixture
def fixtures(
    make_builtin: Callable[[], Any], emulator: Emulator, clock: FakeClock
) -> Callable[..., dict[str, Any]]:
    """``fixtures(provider_class)``: the suite's fixture values for a wrapped provider."""

    def make(wrapper: type[Wrapped], **overrides: Any) -> dict[str, Any]:
        def make_provider() -> Any:
            return wrapper(make_builtin())

        provider = make_provider()

        def new_user() -> tuple[str, str]:
            username = f"broken{next(_names)}"
            provider.sign_up(
                username, PASSWORD, attributes=None, validation_data=None, client_metadata=None
            )
            code = emulator.last_code(username, "sign_up")
            provider.confirm_sign_up(username, code, client_metadata=None)
            return username, PASSWORD

        values = {
            "provider": provider,
            "make_provider": make_provider,
            "new_user": new_user,
            "answer_prompt": lambda prompt: Answer("anything"),
            "sign_in_flow": "USER_SRP_AUTH",
            "provider_clock": clock,
            "service_offline": None,
        }
        values.update(overrides)
        return values

    return make


def pick(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: values[name] for name in names}


SIGN_IN = ("provider", "new_user", "answer_prompt", "sign_in_flow")


def test_a_missing_method_fails_the_protocol_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class NoRevoke(Wrapped):
        lacking = ("revoke_token",)

    values = fixtures(NoRevoke)
    text = failure(
        suite.test_serves_the_user_pool_role,
        **pick(values, "provider", "sign_in_flow", "service_offline"),
    )
    assert "revoke_token" in text


def test_part_of_mfa_management_fails_the_protocol_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class HalfMFA(Wrapped):
        lacking = ("get_user_mfa_preference",)

    values = fixtures(HalfMFA)
    text = failure(
        suite.test_serves_the_user_pool_role,
        **pick(values, "provider", "sign_in_flow", "service_offline"),
    )
    assert "UserPoolMFAProvider" in text
    assert "get_user_mfa_preference" in text


def test_a_provider_without_mfa_management_passes_the_protocol_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class NoMFA(Wrapped):
        lacking = (
            "associate_software_token",
            "verify_software_token",
            "set_user_mfa_preference",
            "get_user_mfa_preference",
        )

    values = fixtures(NoMFA)
    suite.test_serves_the_user_pool_role(
        **pick(values, "provider", "sign_in_flow", "service_offline")
    )


def test_a_step_the_spec_names_and_the_provider_lacks_fails_the_protocol_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class NoSteps(Wrapped):
        flow_steps = frozenset({"password_verifier"})

    values = fixtures(NoSteps)
    text = failure(
        suite.test_serves_the_user_pool_role,
        **pick(values, "provider", "sign_in_flow", "service_offline"),
    )
    assert "associate_software_token" in text
    assert "verify_software_token" in text


def test_a_malformed_spec_fails_the_protocol_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    spec = load_spec_mapping()
    challenged = next(s for s in spec["states"] if s.get("name") == "challenged")
    challenged["x-challenges"]["PIN"] = {"answer": "PIN", "secret": "yes"}

    class BadSpec(Wrapped):
        sign_in_spec = spec

    values = fixtures(BadSpec)
    text = failure(
        suite.test_serves_the_user_pool_role,
        **pick(values, "provider", "sign_in_flow", "service_offline"),
    )
    assert "PIN" in text


def test_a_sign_in_that_is_not_a_flow_fails_the_protocol_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class NotAFlow(Wrapped):
        def sign_in(self, request: SignInRequest) -> Any:
            return [ServiceCall("initiate_auth", {})]

    values = fixtures(NotAFlow)
    text = failure(
        suite.test_serves_the_user_pool_role,
        **pick(values, "provider", "sign_in_flow", "service_offline"),
    )
    assert "generator" in text


class Eager(Wrapped):
    """A sign-in that asks the service itself (not through a ServiceCall) before its flow."""

    def sign_in(self, request: SignInRequest) -> SignInFlow:
        self._inner.forgot_password(request.username)  # I/O outside the flow
        return self._inner.sign_in(request)  # type: ignore[no-any-return]


def test_io_in_sign_in_fails_the_protocol_test_offline(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]], offline: Any
) -> None:
    values = fixtures(Eager, service_offline=offline)
    with pytest.raises(NetworkError):
        suite.test_serves_the_user_pool_role(
            **pick(values, "provider", "sign_in_flow", "service_offline")
        )


def test_io_before_the_password_check_fails_the_missing_password_test_offline(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]], offline: Any
) -> None:
    values = fixtures(Eager, service_offline=offline)
    text = failure(
        suite.test_missing_password_is_refused_before_any_request,
        **pick(values, "provider", "sign_in_flow", "service_offline"),
    )
    assert "NetworkError" in text


def test_tokens_without_a_user_name_fail_the_sign_in_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class Nameless(Wrapped):
        def verify(self, raw: RawTokens, **kwargs: Any) -> Tokens:
            tokens: Tokens = self._inner.verify(raw, **kwargs)
            return attrs.evolve(tokens, id_claims={}, access_claims={})

    values = fixtures(Nameless)
    text = failure(
        suite.test_sign_in_with_the_right_password, **pick(values, *SIGN_IN, "provider_clock")
    )
    assert "no user" in text


def test_an_undeclared_prompt_fails_the_prompt_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class Undeclared(Wrapped):
        def sign_in(self, request: SignInRequest) -> SignInFlow:
            signed_in = yield from self._inner.sign_in(request)
            yield Prompt("FAVOURITE_COLOUR")
            return signed_in

    values = fixtures(Undeclared)
    text = failure(suite.test_prompts_name_challenges_the_spec_declares, **pick(values, *SIGN_IN))
    assert "FAVOURITE_COLOUR" in text


def test_an_unanswered_prompt_fails_naming_the_challenge(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class Asks(Wrapped):
        def sign_in(self, request: SignInRequest) -> SignInFlow:
            signed_in = yield from self._inner.sign_in(request)
            yield Prompt("SMS_MFA")
            return signed_in

    values = fixtures(Asks)
    values["answer_prompt"] = unanswered_prompt
    text = failure(
        suite.test_sign_in_with_the_right_password, **pick(values, *SIGN_IN, "provider_clock")
    )
    assert "SMS_MFA" in text


def test_a_flow_that_ignores_the_password_fails_the_wrong_password_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class Lenient(Wrapped):
        def sign_in(self, request: SignInRequest) -> SignInFlow:
            return self._inner.sign_in(attrs.evolve(request, password=PASSWORD))  # type: ignore[no-any-return]

    values = fixtures(Lenient)
    text = failure(suite.test_wrong_password_is_refused_without_secrets, **pick(values, *SIGN_IN))
    assert "signed in with a wrong password" in text


def test_an_error_that_shows_the_password_fails_the_wrong_password_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class Leaky(Wrapped):
        def sign_in(self, request: SignInRequest) -> SignInFlow:
            try:
                return (yield from self._inner.sign_in(request))  # type: ignore[no-any-return]
            except NotAuthorizedError:
                raise NotAuthorizedError(f"{request.password!r} is not the password") from None

    values = fixtures(Leaky)
    text = failure(suite.test_wrong_password_is_refused_without_secrets, **pick(values, *SIGN_IN))
    assert "shows the wrong password" in text


def test_an_error_outside_the_tree_fails_the_wrong_password_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class Raw(Wrapped):
        def sign_in(self, request: SignInRequest) -> SignInFlow:
            try:
                return (yield from self._inner.sign_in(request))  # type: ignore[no-any-return]
            except NotAuthorizedError:
                raise PermissionError("refused") from None

    values = fixtures(Raw)
    text = failure(suite.test_wrong_password_is_refused_without_secrets, **pick(values, *SIGN_IN))
    assert "PermissionError" in text


def test_a_request_before_the_password_check_fails_the_missing_password_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class Hasty(Wrapped):
        def sign_in(self, request: SignInRequest) -> SignInFlow:
            yield ServiceCall("get_user_pool_settings", {})
            return (yield from self._inner.sign_in(request))  # type: ignore[no-any-return]

    values = fixtures(Hasty)
    text = failure(
        suite.test_missing_password_is_refused_before_any_request,
        **pick(values, "provider", "sign_in_flow", "service_offline"),
    )
    assert "get_user_pool_settings" in text


def test_keys_that_cannot_be_saved_fail_the_restore_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class Unsaveable(Wrapped):
        def keys(self) -> Mapping[str, Any]:
            return {"keys": object()}

    values = fixtures(Unsaveable)
    text = failure(
        suite.test_saved_keys_verify_in_a_new_instance, **pick(values, *SIGN_IN, "make_provider")
    )
    assert "JSON" in text


def test_a_shared_instance_fails_the_restore_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    values = fixtures(Wrapped)
    values["make_provider"] = lambda: values["provider"]
    text = failure(
        suite.test_saved_keys_verify_in_a_new_instance, **pick(values, *SIGN_IN, "make_provider")
    )
    assert "new instance" in text


def test_keys_that_do_not_verify_offline_fail_the_offline_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]], offline: Any
) -> None:
    class NoKeys(Wrapped):
        def keys(self) -> None:
            return None

    values = fixtures(NoKeys, service_offline=offline)
    text = failure(
        suite.test_saved_keys_verify_offline,
        **pick(values, *SIGN_IN, "make_provider", "service_offline"),
    )
    assert "needed the network" in text


def test_the_offline_test_is_skipped_without_service_offline(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    values = fixtures(Wrapped, service_offline=None)
    with pytest.raises(pytest.skip.Exception):
        suite.test_saved_keys_verify_offline(
            **pick(values, *SIGN_IN, "make_provider", "service_offline")
        )


def test_a_refresh_of_another_user_fails_the_refresh_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    values = fixtures(Wrapped)
    other = values["new_user"]()
    request = sign_in_request(values["provider"], *other)
    stranger = drive_sign_in(values["provider"], request)[0].tokens

    class Mixed(Wrapped):
        def refresh(self, tokens: Tokens) -> RawTokens:
            return stranger

    values = fixtures(Mixed)
    text = failure(
        suite.test_refresh_gives_tokens_that_verify, **pick(values, *SIGN_IN, "provider_clock")
    )
    assert "another user" in text


def test_a_revocation_that_does_nothing_fails_the_revoke_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class Forgetful(Wrapped):
        def revoke_token(self, refresh_token: str) -> None:
            pass

    values = fixtures(Forgetful)
    text = failure(suite.test_revoked_refresh_token_is_refused, **pick(values, *SIGN_IN))
    assert "revoked refresh token" in text


def test_empty_logins_fail_the_logins_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class NoLogins(Wrapped):
        def logins(self, tokens: Tokens) -> Mapping[str, str]:
            return {}

    values = fixtures(NoLogins)
    text = failure(suite.test_logins_name_the_tokens, **pick(values, *SIGN_IN))
    assert "empty" in text


def test_a_repr_that_shows_a_token_fails_the_repr_test(
    suite: UserPoolProviderTests, fixtures: Callable[..., dict[str, Any]]
) -> None:
    class Chatty(Wrapped):
        last: RawTokens | None = None

        def verify(self, raw: RawTokens, **kwargs: Any) -> Tokens:
            self.last = raw
            return self._inner.verify(raw, **kwargs)  # type: ignore[no-any-return]

        def __repr__(self) -> str:
            return f"Chatty(refresh={self.last.refresh_token if self.last else None})"

    values = fixtures(Chatty)
    text = failure(suite.test_reprs_show_no_secret, **pick(values, *SIGN_IN))
    assert "refresh token" in text


def test_drive_sign_in_refuses_a_flow_that_ends_without_signed_in(
    make_builtin: Callable[[], Any],
) -> None:
    class Empty(Wrapped):
        def sign_in(self, request: SignInRequest) -> SignInFlow:
            return
            yield

    provider = Empty(make_builtin())
    with pytest.raises(ProviderError, match="NoneType, not SignedIn"):
        drive_sign_in(provider, sign_in_request(provider, "ann", PASSWORD))  # type: ignore[arg-type]


def test_drive_sign_in_stops_a_flow_that_asks_forever(make_builtin: Callable[[], Any]) -> None:
    class Forever(Wrapped):
        def sign_in(self, request: SignInRequest) -> SignInFlow:
            while True:
                yield Prompt("SMS_MFA")
            return SignedIn(RawTokens("", "", None))

    provider = Forever(make_builtin())
    with pytest.raises(AssertionError, match="more than 5 steps"):
        drive_sign_in(
            provider,  # type: ignore[arg-type]
            sign_in_request(provider, "ann", PASSWORD),
            lambda prompt: Answer("123456"),
            max_steps=5,
        )


def test_check_user_pool_provider_accepts_the_builtin(make_builtin: Callable[[], Any]) -> None:
    table = check_user_pool_provider(make_builtin())
    assert "PASSWORD_VERIFIER" in table


def load_spec_mapping() -> dict[str, Any]:
    import yaml

    from fsm_auth.engine import shipped_specs_dir

    loaded: dict[str, Any] = yaml.safe_load((shipped_specs_dir() / "sign_in.yaml").read_text())
    return loaded


def test_the_malformed_spec_above_is_malformed() -> None:
    from fsm_auth.engine import Spec
    from fsm_auth.signin import ChallengeTable

    spec = load_spec_mapping()
    challenged = next(s for s in spec["states"] if s.get("name") == "challenged")
    challenged["x-challenges"]["PIN"] = {"answer": "PIN", "secret": "yes"}
    with pytest.raises(SpecError):
        ChallengeTable.from_spec(Spec.load(spec))


# -- identity pools ---------------------------------------------------------------------------


@pytest.fixture
def id_suite() -> IdentityPoolProviderTests:
    return IdentityPoolProviderTests()


@pytest.fixture
def guest_builtin(pool: Provisioned, clock: FakeClock) -> Any:
    return build("guest", "guest", pool.aws_configuration(), clock)


@pytest.fixture
def federated_logins(
    aws_config: dict[str, Any], clock: FakeClock, emulator: Emulator
) -> tuple[Any, Mapping[str, str]]:
    """``(federated provider, valid logins)``."""
    user_pool = build("user_pool", "userpool", aws_config, clock)
    username = f"broken{next(_names)}"
    user_pool.sign_up(
        username, PASSWORD, attributes=None, validation_data=None, client_metadata=None
    )
    user_pool.confirm_sign_up(
        username, emulator.last_code(username, "sign_up"), client_metadata=None
    )
    signed_in, _ = drive_sign_in(user_pool, sign_in_request(user_pool, username, PASSWORD))
    logins = user_pool.logins(user_pool.verify(signed_in.tokens))
    return build("federated", "federated", aws_config, clock), logins


def test_a_missing_method_fails_the_identity_protocol_test(
    id_suite: IdentityPoolProviderTests, guest_builtin: Any
) -> None:
    class NoCheck(Wrapped):
        lacking = ("check_logins",)

    text = failure(id_suite.test_serves_an_identity_pool_role, provider=NoCheck(guest_builtin))
    assert "check_logins" in text


def test_an_empty_token_taken_fails_the_check_logins_test(
    id_suite: IdentityPoolProviderTests, federated_logins: tuple[Any, Mapping[str, str]]
) -> None:
    class Trusting(Wrapped):
        def check_logins(self, logins: Mapping[str, str], *, identity_id: str | None) -> None:
            pass

    provider, logins = federated_logins
    text = failure(
        id_suite.test_an_empty_token_is_refused_before_any_request,
        provider=Trusting(provider),
        logins=logins,
        service_offline=None,
    )
    assert "took an empty token" in text


def test_a_check_that_asks_the_service_fails_offline(
    id_suite: IdentityPoolProviderTests,
    federated_logins: tuple[Any, Mapping[str, str]],
    offline: Any,
) -> None:
    class Asking(Wrapped):
        def check_logins(self, logins: Mapping[str, str], *, identity_id: str | None) -> None:
            self._inner.get_identity_id({k: v or "x" for k, v in logins.items()}, identity_id=None)
            self._inner.check_logins(logins, identity_id=identity_id)

    provider, logins = federated_logins
    with pytest.raises(NetworkError):
        id_suite.test_an_empty_token_is_refused_before_any_request(
            provider=Asking(provider), logins=logins, service_offline=offline
        )


def test_expired_credentials_fail_the_credentials_test(
    id_suite: IdentityPoolProviderTests, guest_builtin: Any, clock: FakeClock
) -> None:
    class Stale(Wrapped):
        def get_credentials(self, *args: Any, **kwargs: Any) -> tuple[str, AWSCredentials]:
            identity_id, credentials = self._inner.get_credentials(*args, **kwargs)
            past = datetime.fromtimestamp(clock(), timezone.utc) - timedelta(seconds=1)
            return identity_id, attrs.evolve(credentials, expiration=past)

    text = failure(
        id_suite.test_identity_id_and_credentials,
        provider=Stale(guest_builtin),
        logins={},
        provider_clock=clock,
    )
    assert "expired" in text


def test_a_new_id_for_a_given_one_fails_the_kept_id_test(
    id_suite: IdentityPoolProviderTests, guest_builtin: Any
) -> None:
    class Forgetful(Wrapped):
        def get_identity_id(self, logins: Mapping[str, str], *, identity_id: str | None) -> str:
            return self._inner.get_identity_id(logins, identity_id=None)  # type: ignore[no-any-return]

    text = failure(
        id_suite.test_a_given_identity_id_is_kept,
        provider=Forgetful(guest_builtin),
        logins={},
        service_offline=None,
    )
    assert "did not keep" in text


def test_an_error_with_the_token_fails_the_error_test(
    id_suite: IdentityPoolProviderTests, federated_logins: tuple[Any, Mapping[str, str]]
) -> None:
    class Leaky(Wrapped):
        def get_identity_id(self, logins: Mapping[str, str], *, identity_id: str | None) -> str:
            try:
                return self._inner.get_identity_id(logins, identity_id=identity_id)  # type: ignore[no-any-return]
            except NotAuthorizedError:
                raise ValueError(f"refused: {dict(logins)}") from None

    provider, logins = federated_logins
    text = failure(id_suite.test_errors_carry_no_token, provider=Leaky(provider), logins=logins)
    assert "ValueError" in text


def test_a_tampered_token_taken_fails_the_error_test(
    id_suite: IdentityPoolProviderTests, federated_logins: tuple[Any, Mapping[str, str]]
) -> None:
    provider, logins = federated_logins
    real = dict(logins)

    class Gullible(Wrapped):
        def get_identity_id(self, logins: Mapping[str, str], *, identity_id: str | None) -> str:
            return self._inner.get_identity_id(real, identity_id=identity_id)  # type: ignore[no-any-return]

    text = failure(id_suite.test_errors_carry_no_token, provider=Gullible(provider), logins=logins)
    assert "tampered" in text
