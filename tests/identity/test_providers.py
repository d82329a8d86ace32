"""The ``guest`` and ``federated`` providers against the emulator's identity pool."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timezone
from typing import Any

import pytest

from fsm_auth.config import AuthConfig, load_config
from fsm_auth.emulator import Emulator, FakeClock, Fault, Provisioned
from fsm_auth.errors import (
    GuestAccessNotAllowedError,
    IdentityPoolNotConfiguredError,
    InvalidParameterError,
    NotAuthorizedError,
)
from fsm_auth.plugins import PluginRegistry, default_registry
from fsm_auth.provider import IdentityPoolProvider, ProviderContext
from fsm_auth.values import IdentityProvider
from fsm_auth_providers.federated import FederatedProvider
from fsm_auth_providers.guest import GuestProvider

pytestmark = pytest.mark.timeout(60)


def test_entry_points_build_the_providers(context: ProviderContext) -> None:
    registry = default_registry()
    assert isinstance(registry, PluginRegistry)
    guest = registry.factory("guest")(context)
    federated = registry.factory("federated")(context)
    assert isinstance(guest, GuestProvider)
    assert isinstance(federated, FederatedProvider)
    assert isinstance(guest, IdentityPoolProvider)
    assert isinstance(federated, IdentityPoolProvider)
    # Built for their roles, checked against the role's protocol (check_logins included).
    assert isinstance(registry.build("guest", "guest", context), GuestProvider)
    assert isinstance(registry.build("federated", "federated", context), FederatedProvider)


def test_reprs_name_the_pool(
    guest: GuestProvider, federated: FederatedProvider, config: AuthConfig
) -> None:
    assert config.identity_pool is not None
    assert config.identity_pool.pool_id in repr(guest)
    assert config.identity_pool.pool_id in repr(federated)


def test_no_identity_pool_is_a_clear_error(
    pool: Provisioned, clock: FakeClock, make_context: Any
) -> None:
    config = load_config({**pool.aws_configuration(), "CredentialsProvider": None})
    with pytest.raises(IdentityPoolNotConfiguredError):
        GuestProvider(make_context(config, clock))
    with pytest.raises(IdentityPoolNotConfiguredError):
        FederatedProvider(make_context(config, clock))


def test_guest_identity_and_credentials(
    guest: GuestProvider, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.reset_requests()
    identity_id = guest.get_identity_id({}, identity_id=None)
    answered, credentials = guest.get_credentials(identity_id, {}, custom_role_arn=None)
    assert answered == identity_id
    assert credentials.access_key_id.startswith("ASIA")
    assert credentials.secret_access_key
    assert credentials.session_token
    assert credentials.expiration.tzinfo == timezone.utc
    assert credentials.expiration.timestamp() == pytest.approx(clock() + 3600, abs=5)
    # A kept id is reused without a request; credentials are new each time.
    assert guest.get_identity_id({}, identity_id=identity_id) == identity_id
    _, again = guest.get_credentials(identity_id, {}, custom_role_arn=None)
    assert again.access_key_id != credentials.access_key_id
    assert emulator.count("GetId") == 1
    assert emulator.count("GetCredentialsForIdentity") == 2


def test_guest_refused_when_the_pool_disallows_it(
    emulator: Emulator, clock: FakeClock, make_context: Any
) -> None:
    pool = emulator.provision(allow_guest=False)
    guest = GuestProvider(make_context(load_config(pool.aws_configuration()), clock))
    with pytest.raises(GuestAccessNotAllowedError) as caught:
        guest.get_identity_id({}, identity_id=None)
    assert caught.value.code == "NotAuthorizedException"


def test_guest_takes_no_logins(guest: GuestProvider, emulator: Emulator) -> None:
    emulator.reset_requests()
    with pytest.raises(InvalidParameterError):
        guest.get_identity_id({"accounts.google.com": "token"}, identity_id=None)
    with pytest.raises(InvalidParameterError):
        guest.check_logins({"accounts.google.com": "token"}, identity_id=None)
    with pytest.raises(InvalidParameterError):
        guest.check_logins({"accounts.google.com": "token"}, identity_id="us-east-1:kept")
    guest.check_logins({}, identity_id=None)  # no logins: accepted
    assert emulator.requests == []


@pytest.mark.parametrize(
    "provider",
    [
        *(p for p in IdentityProvider if p is not IdentityProvider.DEVELOPER),
        "my-oidc.example.com",
        "arn:aws:iam::123456789012:saml-provider/Corp",
    ],
)
def test_federated_logins_of_every_provider(
    federated: FederatedProvider, provider: IdentityProvider | str
) -> None:
    logins = {str(provider): f"token-for-{provider}-alice"}
    identity_id = federated.get_identity_id(logins, identity_id=None)
    # One identity per login: asking again answers the same id.
    assert federated.get_identity_id(logins, identity_id=None) == identity_id
    answered, credentials = federated.get_credentials(identity_id, logins, custom_role_arn=None)
    assert answered == identity_id
    assert credentials.access_key_id.startswith("ASIA")
    other = federated.get_identity_id({str(provider): "token-for-bob"}, identity_id=None)
    assert other != identity_id


def test_enum_keys_are_accepted(federated: FederatedProvider) -> None:
    by_enum = federated.get_identity_id({IdentityProvider.GOOGLE: "g-token"}, identity_id=None)
    by_name = federated.get_identity_id({"accounts.google.com": "g-token"}, identity_id=None)
    assert by_enum == by_name


def test_user_pool_login(
    federated: FederatedProvider,
    sign_in_user: Callable[[], dict[str, Any]],
    user_pool_logins: Callable[[Mapping[str, Any]], Mapping[str, str]],
    pool: Provisioned,
    clock: FakeClock,
) -> None:
    tokens = sign_in_user()
    logins = user_pool_logins(tokens)
    # The user-pool provider names the pool as the identity pool knows it.
    key = f"cognito-idp.{pool.region}.amazonaws.com/{pool.user_pool_id}"
    assert logins == {key: tokens["IdToken"]}
    identity_id = federated.get_identity_id(logins, identity_id=None)
    answered, _ = federated.get_credentials(identity_id, logins, custom_role_arn=None)
    assert answered == identity_id
    # An expired id token is refused by the pool.
    clock.advance(2 * 3600)
    with pytest.raises(NotAuthorizedError):
        federated.get_credentials(identity_id, logins, custom_role_arn=None)


def test_developer_identity(
    federated: FederatedProvider,
    developer_token: Callable[[str], tuple[str, str]],
    emulator: Emulator,
) -> None:
    identity_id, token = developer_token("dev-user-1")
    logins = {IdentityProvider.DEVELOPER.value: token}
    emulator.reset_requests()
    assert federated.get_identity_id(logins, identity_id=identity_id) == identity_id
    assert emulator.count() == 0  # the developer's id is used as given
    answered, credentials = federated.get_credentials(identity_id, logins, custom_role_arn=None)
    assert answered == identity_id
    assert credentials.session_token


def test_developer_identity_needs_its_id(federated: FederatedProvider, emulator: Emulator) -> None:
    logins = {IdentityProvider.DEVELOPER: "some-open-id-token"}
    emulator.reset_requests()
    with pytest.raises(InvalidParameterError, match="identity_id"):
        federated.check_logins(logins, identity_id=None)
    with pytest.raises(InvalidParameterError, match="identity_id"):
        federated.check_logins({IdentityProvider.DEVELOPER.value: "token"}, identity_id="")
    with pytest.raises(InvalidParameterError, match="identity_id"):
        federated.get_identity_id(logins, identity_id=None)
    assert emulator.count() == 0


def test_check_logins_accepts_what_the_pool_can_take(
    federated: FederatedProvider,
    developer_token: Callable[[str], tuple[str, str]],
    emulator: Emulator,
) -> None:
    identity_id, token = developer_token("dev-user-2")
    emulator.reset_requests()
    # Accepted: no error (and the check is never a request).
    federated.check_logins({IdentityProvider.DEVELOPER: token}, identity_id=identity_id)
    federated.check_logins({"accounts.google.com": "g-token"}, identity_id=None)
    assert emulator.requests == []


@pytest.mark.parametrize(
    "logins",
    [{}, {"accounts.google.com": ""}, {"": "token"}],
    ids=["no-login", "empty-token", "empty-provider"],
)
def test_federated_needs_a_login(
    federated: FederatedProvider, emulator: Emulator, logins: dict[str, str]
) -> None:
    emulator.reset_requests()
    with pytest.raises(InvalidParameterError):
        federated.check_logins(logins, identity_id=None)
    with pytest.raises(InvalidParameterError):
        federated.get_identity_id(logins, identity_id=None)
    assert emulator.requests == []


def test_refusal_is_not_authorized_and_scrubbed(
    federated: FederatedProvider, emulator: Emulator
) -> None:
    token = "eyJhbGciOi.secret-federated-token-Zq9xY7wV3uT1sR5pO2nM.sig"
    logins = {"accounts.google.com": token}
    identity_id = federated.get_identity_id(logins, identity_id=None)
    emulator.faults.inject(
        Fault(
            operation="GetCredentialsForIdentity",
            error=("NotAuthorizedException", f"Invalid login token {token}", 400),
        )
    )
    with pytest.raises(NotAuthorizedError) as caught:
        federated.get_credentials(identity_id, logins, custom_role_arn=None)
    assert token not in str(caught.value)
    assert token not in repr(caught.value)
