"""The built-in ``guest`` provider: unauthenticated identities of a Cognito identity pool.

A pool that does not allow unauthenticated identities answers ``NotAuthorizedException``;
that refusal comes out as :class:`~fsm_auth.errors.GuestAccessNotAllowedError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from fsm_auth.errors import GuestAccessNotAllowedError, InvalidParameterError, NotAuthorizedError
from fsm_auth.provider import ProviderContext
from fsm_auth.values import AWSCredentials

from ._identity_pool import IdentityPoolCalls

__all__ = ["GuestProvider"]

T = TypeVar("T")


def _guest_call(call: Callable[[], T]) -> T:
    try:
        return call()
    except NotAuthorizedError as exc:
        raise GuestAccessNotAllowedError(
            f"The identity pool refused guest access: {exc.message}", code=exc.code
        ) from None


class GuestProvider:
    """Identity ids and credentials of unauthenticated identities (``IdentityPoolProvider``)."""

    name = "guest"

    def __init__(self, context: ProviderContext) -> None:
        self._calls = IdentityPoolCalls(context)

    def __repr__(self) -> str:
        return f"GuestProvider(pool_id={self._calls.pool.pool_id!r})"

    def check_logins(self, logins: Mapping[str, str], *, identity_id: str | None) -> None:
        """A guest identity has no logins."""
        del identity_id
        _no_logins(logins)

    def get_identity_id(self, logins: Mapping[str, str], *, identity_id: str | None) -> str:
        """``identity_id`` when given (a kept guest identity), else a new one (GetId)."""
        _no_logins(logins)
        if identity_id:
            return identity_id
        return _guest_call(lambda: self._calls.get_id({}))

    def get_credentials(
        self,
        identity_id: str,
        logins: Mapping[str, str],
        *,
        custom_role_arn: str | None,
    ) -> tuple[str, AWSCredentials]:
        """Credentials of the unauthenticated role for ``identity_id``."""
        _no_logins(logins)
        return _guest_call(lambda: self._calls.get_credentials(identity_id, {}, custom_role_arn))


def _no_logins(logins: Mapping[str, str]) -> None:
    if logins:
        raise InvalidParameterError("A guest identity has no logins; use the federated provider")
