"""Each user pool of the emulator signs with its own keys, so fsm-auth refuses a token of
another pool on the key itself (unknown ``kid``), not only on the issuer (issue 9, item 13)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fsm_auth import (
    AuthClient,
    NotAuthorizedError,
    NotSignedInError,
    PluginRegistry,
    ProviderContext,
    RetryPolicy,
    UserState,
)
from fsm_auth.config import load_config
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.provider import RawTokens
from fsm_auth.signin import SignedIn, SignInFlow, SignInRequest

from .conftest import PASSWORD, sign_up_confirmed

_UNKNOWN_KEY = "signing key id is not in the pool's JWKS"


def _tokens_of(admin_idp: Any, pool: Provisioned, username: str) -> RawTokens:
    """Genuine tokens, signed by the emulator, for a new user of ``pool``."""
    admin_idp.admin_create_user(UserPoolId=pool.user_pool_id, Username=username)
    admin_idp.admin_set_user_password(
        UserPoolId=pool.user_pool_id, Username=username, Password=PASSWORD, Permanent=True
    )
    result = admin_idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return RawTokens(result["IdToken"], result["AccessToken"], result["RefreshToken"])


@pytest.fixture
def other_pool(emulator: Emulator) -> Provisioned:
    return emulator.provision(with_identity_pool=False, bucket=None)


def test_the_provider_refuses_another_pools_token_on_the_key(
    pool: Provisioned, other_pool: Provisioned, admin_idp: Any, clock: FakeClock
) -> None:
    registry = PluginRegistry()
    config = load_config(pool.aws_configuration())
    provider = registry.factory("userpool")(ProviderContext(config, clock, RetryPolicy(), registry))
    own = provider.verify(_tokens_of(admin_idp, pool, "alice"))
    assert own.username == "alice"
    # The other pool's id token names a kid this pool's JWKS does not have.
    with pytest.raises(NotAuthorizedError, match=_UNKNOWN_KEY):
        provider.verify(_tokens_of(admin_idp, other_pool, "mallory"))
    keys = provider.keys()
    assert keys is not None
    assert "dummy" not in {key["kid"] for key in keys["keys"]}


class _ForeignTokens:
    """The built-in provider, except that a sign-in answers with ``foreign`` tokens."""

    foreign: RawTokens | None = None

    def __init__(self, context: ProviderContext) -> None:
        self._inner = PluginRegistry().factory("userpool")(context)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def sign_in(self, request: SignInRequest) -> SignInFlow:
        outcome = yield from self._inner.sign_in(request)
        foreign = type(self).foreign
        return outcome if foreign is None else SignedIn(foreign)


def test_a_client_refuses_a_sign_in_answered_with_another_pools_tokens(
    make_client: Callable[..., AuthClient],
    aws_config: dict[str, Any],
    emulator: Emulator,
    other_pool: Provisioned,
    admin_idp: Any,
) -> None:
    registry = PluginRegistry()
    registry.register("foreign-tokens", _ForeignTokens)
    config = {**aws_config, "Auth": {"Default": {"Providers": {"user_pool": "foreign-tokens"}}}}
    client = make_client(config, identity_pool=False, plugins=registry)
    sign_up_confirmed(client, emulator, "alice")
    _ForeignTokens.foreign = _tokens_of(admin_idp, other_pool, "mallory")
    try:
        with pytest.raises(NotAuthorizedError, match=_UNKNOWN_KEY):
            client.sign_in("alice", PASSWORD)
    finally:
        _ForeignTokens.foreign = None
    assert client.current_user_state is UserState.SIGNED_OUT
    with pytest.raises(NotSignedInError):
        client.get_tokens(wait=False)
    client.sign_in("alice", PASSWORD)
    assert client.is_signed_in
