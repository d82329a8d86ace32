"""The conformance tests of a ``federated`` or ``guest`` provider (see the package docstring)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping

import pytest

from fsm_auth.errors import AuthError, InvalidParameterError
from fsm_auth.provider import IdentityPoolProvider
from fsm_auth.values import AWSCredentials

from ._checks import (
    assert_no_secrets,
    check_identity_pool_provider,
    error_texts,
    maybe_offline,
    raised,
)
from ._user_pool import ServiceOffline

__all__ = ["IdentityPoolProviderTests"]

# A provider name for a login when the fixture gives none (a guest provider).
_SOME_PROVIDER = "accounts.google.com"
_UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def _named(provider: object) -> str:
    return type(provider).__name__


def _secrets(
    logins: Mapping[str, str], credentials: AWSCredentials | None = None
) -> dict[str, str | None]:
    found: dict[str, str | None] = {f"login token of {key}": token for key, token in logins.items()}
    if credentials is not None:
        found["secret access key"] = credentials.secret_access_key
        found["session token"] = credentials.session_token
    return found


def _tampered(token: str) -> str:
    """``token`` with its last characters changed (a JWT's signature no longer matches)."""
    tail = "AAAAAAAA" if not token.endswith("AAAAAAAA") else "BBBBBBBB"
    return token[: -len(tail)] + tail if len(token) > len(tail) else token + tail


class IdentityPoolProviderTests:
    """Conformance tests for a provider of the ``federated`` or ``guest`` role
    (:class:`~fsm_auth.provider.IdentityPoolProvider`): subclass it in a ``Test...`` class and
    supply the fixtures.

    Required: ``provider`` (a built provider) and ``logins`` (valid logins of an authenticated
    identity, provider name to token; ``{}`` for a guest provider). Optional:
    ``service_offline`` (``() -> context manager`` inside which the service cannot be reached;
    it makes "before any request" and "without a new id" checked, not assumed) and
    ``provider_clock`` (the provider's clock; default ``time.time``).
    """

    @pytest.fixture
    def provider(self) -> IdentityPoolProvider:
        """The provider under test (supply it)."""
        pytest.fail("Supply a `provider` fixture: your built identity-pool provider")

    @pytest.fixture
    def logins(self) -> Mapping[str, str]:
        """Valid logins for the provider (supply them; ``{}`` for a guest provider)."""
        pytest.fail("Supply a `logins` fixture: valid logins, or {} for a guest provider")

    @pytest.fixture
    def service_offline(self) -> ServiceOffline | None:
        """``() -> context manager`` that takes the service offline; ``None``: not given."""
        return None

    @pytest.fixture
    def provider_clock(self) -> Callable[[], float]:
        """The clock the provider was built with (epoch seconds)."""
        return time.time

    def test_serves_an_identity_pool_role(self, provider: IdentityPoolProvider) -> None:
        """Every method of IdentityPoolProvider is callable."""
        check_identity_pool_provider(provider)

    def test_an_empty_token_is_refused_before_any_request(
        self,
        provider: IdentityPoolProvider,
        logins: Mapping[str, str],
        service_offline: ServiceOffline | None,
    ) -> None:
        """``check_logins`` takes the valid logins and refuses an empty token with
        InvalidParameterError, without a request."""
        key = next(iter(logins), _SOME_PROVIDER)
        empty = {**logins, key: ""}
        with maybe_offline(service_offline):
            provider.check_logins(logins, identity_id=None)
            error = raised(lambda: provider.check_logins(empty, identity_id=None))
        if error is None:
            pytest.fail(f"{_named(provider)}.check_logins took an empty token for {key!r}")
        if not isinstance(error, InvalidParameterError):
            pytest.fail(f"an empty token raised {type(error).__name__}, not InvalidParameterError")
        assert_no_secrets("the error of an empty token", error_texts(error), _secrets(logins))

    def test_identity_id_and_credentials(
        self,
        provider: IdentityPoolProvider,
        logins: Mapping[str, str],
        provider_clock: Callable[[], float],
    ) -> None:
        """``get_identity_id`` then ``get_credentials`` give an identity id and AWSCredentials
        with an aware expiration in the future."""
        identity_id = provider.get_identity_id(logins, identity_id=None)
        assert isinstance(identity_id, str), "get_identity_id gave no id"
        assert identity_id, "get_identity_id gave an empty id"
        answered, credentials = provider.get_credentials(identity_id, logins, custom_role_arn=None)
        assert isinstance(answered, str), "get_credentials answered no identity id"
        assert answered, "get_credentials answered an empty identity id"
        assert isinstance(credentials, AWSCredentials), (
            f"get_credentials gave {type(credentials).__name__}, not AWSCredentials"
        )
        for field in ("access_key_id", "secret_access_key", "session_token"):
            assert getattr(credentials, field), f"the credentials have no {field}"
        expiration = credentials.expiration
        assert expiration.utcoffset() is not None, "the credentials' expiration is naive"
        assert expiration.timestamp() > provider_clock(), "the credentials expired on arrival"
        secrets = _secrets(logins, credentials)
        assert_no_secrets(f"repr({_named(provider)})", [repr(provider)], secrets)
        assert_no_secrets("the credentials' repr", [repr(credentials), str(credentials)], secrets)

    def test_a_given_identity_id_is_kept(
        self,
        provider: IdentityPoolProvider,
        logins: Mapping[str, str],
        service_offline: ServiceOffline | None,
    ) -> None:
        """An identity id given to ``get_identity_id`` comes back, with no new id asked for
        (offline, when ``service_offline`` is given)."""
        identity_id = provider.get_identity_id(logins, identity_id=None)
        with maybe_offline(service_offline):
            again = provider.get_identity_id(logins, identity_id=identity_id)
        assert again == identity_id, "get_identity_id did not keep the identity id it was given"

    def test_errors_carry_no_token(
        self, provider: IdentityPoolProvider, logins: Mapping[str, str]
    ) -> None:
        """Refusals (an unknown identity, a tampered token) are AuthErrors whose text shows no
        token and no credential."""
        identity_id = provider.get_identity_id(logins, identity_id=None)
        _, credentials = provider.get_credentials(identity_id, logins, custom_role_arn=None)
        secrets = _secrets(logins, credentials)
        region, colon, _ = identity_id.partition(":")
        unknown = f"{region}:{_UNKNOWN_ID}" if colon else _UNKNOWN_ID
        attempts: list[tuple[str, Callable[[], object]]] = [
            (
                "credentials of an unknown identity",
                lambda: provider.get_credentials(unknown, logins, custom_role_arn=None),
            )
        ]
        for key, token in logins.items():
            forged = {**logins, key: _tampered(token)}
            secrets[f"tampered token of {key}"] = forged[key]
            attempts.append(
                (
                    f"an identity id for a tampered {key} token",
                    functools.partial(provider.get_identity_id, forged, identity_id=None),
                )
            )
        for what, attempt in attempts:
            error = raised(attempt)
            if error is None:
                pytest.fail(f"{_named(provider)} gave {what}")
            if not isinstance(error, AuthError):
                pytest.fail(
                    f"{what} raised {type(error).__name__}, not an fsm_auth.errors.AuthError"
                )
            assert_no_secrets(f"the error of {what}", error_texts(error), secrets)
