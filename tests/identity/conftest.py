"""Fixtures for the identity-pool tests: providers and users on the emulator."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from fsm_auth.config import AuthConfig, load_config
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.provider import ProviderContext, RawTokens
from fsm_auth.transport import RetryPolicy
from fsm_auth_providers.federated import FederatedProvider
from fsm_auth_providers.guest import GuestProvider
from fsm_auth_providers.userpool import UserPoolProvider

PASSWORD = "Passw0rd!"
DEVELOPER_PROVIDER = "login.fsm-auth.dev"  # what the emulator provisions
_names = itertools.count(1)


def context_for(config: AuthConfig, clock: Callable[[], float]) -> ProviderContext:
    """A provider context that fails fast (no retries) on the emulator."""
    return ProviderContext(config, clock, RetryPolicy(max_attempts=1))


@pytest.fixture
def make_context() -> Callable[[AuthConfig, Callable[[], float]], ProviderContext]:
    """``make_context(config, clock)``: a provider context without retries."""
    return context_for


@pytest.fixture
def config(aws_config: dict[str, Any]) -> AuthConfig:
    return load_config(aws_config)


@pytest.fixture
def context(config: AuthConfig, clock: FakeClock) -> ProviderContext:
    return context_for(config, clock)


@pytest.fixture
def guest(context: ProviderContext) -> GuestProvider:
    return GuestProvider(context)


@pytest.fixture
def federated(context: ProviderContext) -> FederatedProvider:
    return FederatedProvider(context)


@pytest.fixture
def user_pool(context: ProviderContext) -> UserPoolProvider:
    return UserPoolProvider(context)


@pytest.fixture
def idp(emulator: Emulator) -> Any:
    """An unsigned cognito-idp client, as an app would use."""
    return boto3.client(
        "cognito-idp",
        region_name="us-east-1",
        endpoint_url=emulator.url,
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def sign_in_user(emulator: Emulator, idp: Any, pool: Provisioned) -> Callable[[], dict[str, Any]]:
    """``sign_in_user()``: a new confirmed user of ``pool``, signed in with
    USER_PASSWORD_AUTH; returns the AuthenticationResult (``IdToken``, ``RefreshToken``...)."""

    def sign_in(username: str | None = None) -> dict[str, Any]:
        username = username or f"user{next(_names)}"
        idp.sign_up(
            ClientId=pool.client_id,
            Username=username,
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}],
        )
        code = emulator.last_code(username, "sign_up")
        idp.confirm_sign_up(ClientId=pool.client_id, Username=username, ConfirmationCode=code)
        answer = idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )
        result: dict[str, Any] = answer["AuthenticationResult"]
        return result

    return sign_in


@pytest.fixture
def user_pool_logins(
    user_pool: UserPoolProvider,
) -> Callable[[Mapping[str, Any]], Mapping[str, str]]:
    """``user_pool_logins(result)``: the identity pool's ``Logins`` for the user of a
    ``sign_in_user()`` result, as the user-pool provider builds them (its id token under the
    pool's provider name)."""

    def logins(result: Mapping[str, Any]) -> Mapping[str, str]:
        raw = RawTokens(result["IdToken"], result["AccessToken"], result.get("RefreshToken"))
        return dict(user_pool.logins(user_pool.verify(raw)))

    return logins


@pytest.fixture
def developer_token(emulator: Emulator, pool: Provisioned) -> Callable[[str], tuple[str, str]]:
    """``developer_token(user_id)``: ``(identity id, OpenID token)`` as a developer backend
    gets them (GetOpenIdTokenForDeveloperIdentity, a signed call)."""
    admin = emulator.admin_client("cognito-identity")

    def issue(user_id: str) -> tuple[str, str]:
        answer = admin.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool.identity_pool_id, Logins={DEVELOPER_PROVIDER: user_id}
        )
        return str(answer["IdentityId"]), str(answer["Token"])

    return issue
