"""The built-in providers (``userpool``, ``federated``, ``guest``) pass the conformance suite
they ship for third parties (``fsm_auth.testing``), against the local Cognito emulator."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from fsm_auth.config import load_config
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.plugins import default_registry
from fsm_auth.provider import IdentityPoolProvider, ProviderContext, UserPoolProvider
from fsm_auth.testing import (
    IdentityPoolProviderTests,
    NewUser,
    ServiceOffline,
    UserPoolProviderTests,
    drive_sign_in,
    sign_in_request,
)
from fsm_auth.transport import RetryPolicy

PASSWORD = "Correct-Horse-9!"
_names = itertools.count(1)


def build(role: str, name: str, config: Mapping[str, Any], clock: FakeClock) -> Any:
    """Provider ``name`` for ``role`` from the default registry, as the client builds it (no
    retries: an offline emulator fails at once)."""
    context = ProviderContext(load_config(config), clock, RetryPolicy(max_attempts=1))
    return default_registry().build(role, name, context)


def confirmed_user(provider: UserPoolProvider, emulator: Emulator) -> tuple[str, str]:
    """A new user signed up and confirmed through ``provider`` with the emulator's code."""
    username = f"conformance{next(_names)}"
    provider.sign_up(
        username,
        PASSWORD,
        attributes={"email": f"{username}@example.com"},
        validation_data=None,
        client_metadata=None,
    )
    provider.confirm_sign_up(
        username, emulator.last_code(username, "sign_up"), client_metadata=None
    )
    return username, PASSWORD


@pytest.fixture
def emulator_offline(emulator: Emulator) -> ServiceOffline:
    """``emulator_offline()``: the emulator stopped inside the block, started after."""

    @contextlib.contextmanager
    def offline() -> Iterator[None]:
        emulator.stop()
        try:
            yield
        finally:
            emulator.start()

    return offline


class TestUserPoolProvider(UserPoolProviderTests):
    """``userpool`` with SRP (the default flow) on a pool without a client secret."""

    @pytest.fixture
    def make_provider(
        self, aws_config: dict[str, Any], clock: FakeClock
    ) -> Callable[[], UserPoolProvider]:
        return lambda: build("user_pool", "userpool", aws_config, clock)

    @pytest.fixture
    def new_user(self, provider: UserPoolProvider, emulator: Emulator) -> NewUser:
        return lambda: confirmed_user(provider, emulator)

    @pytest.fixture
    def service_offline(self, emulator_offline: ServiceOffline) -> ServiceOffline:
        return emulator_offline

    @pytest.fixture
    def provider_clock(self, clock: FakeClock) -> Callable[[], float]:
        return clock


class TestUserPoolProviderWithSecret(TestUserPoolProvider):
    """``userpool`` with USER_PASSWORD_AUTH on a pool whose app client has a secret."""

    @pytest.fixture
    def make_provider(self, emulator: Emulator, clock: FakeClock) -> Callable[[], UserPoolProvider]:
        pool = emulator.provision(client_secret=True, with_identity_pool=False, bucket=None)
        config = pool.aws_configuration("USER_PASSWORD_AUTH")
        return lambda: build("user_pool", "userpool", config, clock)

    @pytest.fixture
    def sign_in_flow(self) -> str:
        return "USER_PASSWORD_AUTH"


class TestFederatedProvider(IdentityPoolProviderTests):
    """``federated`` with the login of a user signed in to the pool."""

    @pytest.fixture
    def provider(self, aws_config: dict[str, Any], clock: FakeClock) -> IdentityPoolProvider:
        built: IdentityPoolProvider = build("federated", "federated", aws_config, clock)
        return built

    @pytest.fixture
    def logins(
        self, aws_config: dict[str, Any], clock: FakeClock, emulator: Emulator
    ) -> Mapping[str, str]:
        user_pool: UserPoolProvider = build("user_pool", "userpool", aws_config, clock)
        username, password = confirmed_user(user_pool, emulator)
        signed_in, _ = drive_sign_in(user_pool, sign_in_request(user_pool, username, password))
        return user_pool.logins(user_pool.verify(signed_in.tokens))

    @pytest.fixture
    def service_offline(self, emulator_offline: ServiceOffline) -> ServiceOffline:
        return emulator_offline

    @pytest.fixture
    def provider_clock(self, clock: FakeClock) -> Callable[[], float]:
        return clock


class TestGuestProvider(IdentityPoolProviderTests):
    """``guest`` on a pool that allows unauthenticated identities."""

    @pytest.fixture
    def provider(self, pool: Provisioned, clock: FakeClock) -> IdentityPoolProvider:
        built: IdentityPoolProvider = build("guest", "guest", pool.aws_configuration(), clock)
        return built

    @pytest.fixture
    def logins(self) -> Mapping[str, str]:
        return {}

    @pytest.fixture
    def service_offline(self, emulator_offline: ServiceOffline) -> ServiceOffline:
        return emulator_offline

    @pytest.fixture
    def provider_clock(self, clock: FakeClock) -> Callable[[], float]:
        return clock
