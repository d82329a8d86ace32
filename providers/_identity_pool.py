"""What the ``federated`` and ``guest`` providers share: calls to a Cognito identity pool.

Both operations are Cognito's public, unsigned ones: ``GetId`` and
``GetCredentialsForIdentity``. Every login token goes to the transport as a secret, so an
error message that echoes one never carries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from fsm_auth.errors import IdentityPoolNotConfiguredError, InvalidParameterError
from fsm_auth.provider import ProviderContext
from fsm_auth.values import AWSCredentials, IdentityProvider

if TYPE_CHECKING:
    from fsm_auth.config import IdentityPoolConfig

__all__ = ["IdentityPoolCalls", "credentials_from_service", "login_key"]


def login_key(provider: IdentityProvider | str) -> str:
    """The ``Logins`` key for ``provider``: an :class:`IdentityProvider`'s value, or the
    OIDC / SAML / user-pool provider name as given."""
    key = provider.value if isinstance(provider, IdentityProvider) else str(provider)
    if not key.strip():
        raise InvalidParameterError("A login provider name must not be empty")
    return key


def credentials_from_service(raw: Mapping[str, Any] | None) -> AWSCredentials:
    """Build :class:`AWSCredentials` from the ``Credentials`` of GetCredentialsForIdentity."""
    if not raw:
        raise InvalidParameterError("The identity pool answered without credentials")
    try:
        expiration = raw["Expiration"]
        if isinstance(expiration, (int, float)):  # the wire format, should a parser pass it
            expiration = datetime.fromtimestamp(expiration, timezone.utc)
        elif isinstance(expiration, datetime) and expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=timezone.utc)
        return AWSCredentials(
            access_key_id=str(raw["AccessKeyId"]),
            secret_access_key=str(raw["SecretKey"]),
            session_token=str(raw["SessionToken"]),
            expiration=expiration,
        )
    except (KeyError, TypeError, ValueError):
        # Never echo the document: it holds the secret key.
        raise InvalidParameterError("The identity pool answered malformed credentials") from None


class IdentityPoolCalls:
    """GetId and GetCredentialsForIdentity against the configured identity pool."""

    def __init__(self, context: ProviderContext) -> None:
        pool = context.config.identity_pool
        if pool is None:
            raise IdentityPoolNotConfiguredError("The configuration has no Cognito identity pool")
        self.pool: IdentityPoolConfig = pool
        self._transport = context.transport("cognito-identity", pool.region, pool.endpoint)

    def get_id(self, logins: Mapping[str, str]) -> str:
        """GetId: the identity of ``logins`` (a new unauthenticated one when empty)."""
        params: dict[str, Any] = {"IdentityPoolId": self.pool.pool_id}
        if logins:
            params["Logins"] = dict(logins)
        answer = self._transport.call("get_id", params, *logins.values())
        identity_id = answer.get("IdentityId")
        if not identity_id:
            raise InvalidParameterError("The identity pool answered GetId without an IdentityId")
        return str(identity_id)

    def get_credentials(
        self, identity_id: str, logins: Mapping[str, str], custom_role_arn: str | None
    ) -> tuple[str, AWSCredentials]:
        """GetCredentialsForIdentity: ``(the identity id answered, credentials)``."""
        params: dict[str, Any] = {"IdentityId": identity_id}
        if logins:
            params["Logins"] = dict(logins)
        if custom_role_arn:
            params["CustomRoleArn"] = custom_role_arn
        answer = self._transport.call("get_credentials_for_identity", params, *logins.values())
        credentials = credentials_from_service(answer.get("Credentials"))
        # The service may answer another identity (a guest identity merged into the user's).
        return str(answer.get("IdentityId") or identity_id), credentials
