"""The built-in ``federated`` provider: authenticated identities of a Cognito identity pool.

``logins`` map a provider name to its token:

- an :class:`~fsm_auth.values.IdentityProvider` value (``accounts.google.com``, ...);
- an OIDC or SAML provider name, as configured on the identity pool;
- the user pool login ``cognito-idp.<region>.amazonaws.com/<pool id>`` with the id token
  (the user-pool provider's ``logins(tokens)`` builds it);
- ``cognito-identity.amazonaws.com`` (``DEVELOPER``) with the OpenID token of a
  developer-authenticated identity, which needs that identity's id as well.
"""

from __future__ import annotations

from collections.abc import Mapping

from fsm_auth.errors import InvalidParameterError
from fsm_auth.provider import ProviderContext
from fsm_auth.values import AWSCredentials, IdentityProvider

from ._identity_pool import IdentityPoolCalls, login_key

__all__ = ["FederatedProvider"]


def _checked(logins: Mapping[str, str], identity_id: str | None) -> dict[str, str]:
    checked = {login_key(provider): token for provider, token in logins.items()}
    if not checked:
        raise InvalidParameterError("An authenticated identity needs at least one login")
    if any(not token for token in checked.values()):
        raise InvalidParameterError("A login token must not be empty")
    if IdentityProvider.DEVELOPER.value in checked and not identity_id:
        raise InvalidParameterError(
            "A developer-authenticated login (cognito-identity.amazonaws.com) needs the "
            "identity_id your backend received with its token"
        )
    return checked


class FederatedProvider:
    """Identity ids and credentials of authenticated identities (``IdentityPoolProvider``)."""

    name = "federated"

    def __init__(self, context: ProviderContext) -> None:
        self._calls = IdentityPoolCalls(context)

    def __repr__(self) -> str:
        return f"FederatedProvider(pool_id={self._calls.pool.pool_id!r})"

    def check_logins(self, logins: Mapping[str, str], *, identity_id: str | None) -> None:
        """Refuse logins the pool cannot take, before any request (see ``_checked``)."""
        _checked(logins, identity_id)

    def get_identity_id(self, logins: Mapping[str, str], *, identity_id: str | None) -> str:
        """``identity_id`` when given (a developer-authenticated identity passes its own), else
        the identity the pool keeps for ``logins`` (GetId)."""
        checked = _checked(logins, identity_id)
        if identity_id:
            return identity_id
        return self._calls.get_id(checked)

    def get_credentials(
        self,
        identity_id: str,
        logins: Mapping[str, str],
        *,
        custom_role_arn: str | None,
    ) -> tuple[str, AWSCredentials]:
        """Credentials for ``identity_id`` proved by ``logins``; the service's identity id wins."""
        checked = _checked(logins, identity_id)
        return self._calls.get_credentials(identity_id, checked, custom_role_arn)
