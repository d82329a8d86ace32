"""boto3 sessions whose credentials come from an fsm-auth client and refresh themselves.

Only botocore's public extension points are used: a ``CredentialProvider`` inserted first in
a private botocore session's provider chain, loading refreshable credentials whose refresh
callback asks the client. No monkeypatching, no private attributes, no ambient credentials.

When the credentials are refreshed:

- botocore refreshes by its own windows (advisory 15 minutes, mandatory 10 minutes before
  expiry), measured with the client's clock. Cognito credentials live an hour and the client
  refreshes them about 15 minutes before they expire, so botocore's refresh usually just
  picks up what the client already has. Until then, an advisory refresh may return the
  still-valid current credentials, which botocore accepts.
- Besides, before every request botocore asks whether a refresh is needed; the answer is also
  yes when the client now holds other credentials (a sign-in, a sign-out, a guest switch,
  or a refresh by the client itself). A client built from the session thus follows the user
  at its next request, not an hour later. That check is one cached read of the client.
- If the client cannot give credentials (signed out without guest access, a refused login,
  offline with expired credentials), the AWS call raises the client's error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from fsm_auth.values import AWSCredentials

if TYPE_CHECKING:
    import boto3

__all__ = ["make_boto3_session"]

_METHOD = "fsm-auth"
# botocore asks providers not built into it to prefix their canonical name with "custom".
_CANONICAL_NAME = "custom-fsm-auth"


def make_boto3_session(
    get_credentials: Callable[[], AWSCredentials],
    *,
    region_name: str,
    clock: Callable[[], float] = time.time,
) -> boto3.Session:
    """A ``boto3.Session`` in ``region_name`` whose credentials are ``get_credentials()``.

    ``clock`` (epoch seconds) is the client's clock, used for botocore's expiry decisions.
    """
    import boto3
    import botocore.session

    core = botocore.session.Session()
    resolver = core.get_component("credential_provider")
    resolver.insert_before("env", _provider_class()(get_credentials, clock))
    return boto3.Session(botocore_session=core, region_name=region_name)


_PROVIDER: type[Any] | None = None


def _provider_class() -> type[Any]:
    """The provider and credentials classes, built on first use (botocore is imported late
    to keep ``import fsm_auth`` cheap)."""
    global _PROVIDER
    if _PROVIDER is not None:
        return _PROVIDER
    from botocore.credentials import CredentialProvider, DeferredRefreshableCredentials

    class ClientCredentials(DeferredRefreshableCredentials):  # type: ignore[misc]
        """Refreshable credentials that also refresh when the client's credentials changed."""

        def __init__(
            self, get_credentials: Callable[[], AWSCredentials], clock: Callable[[], float]
        ) -> None:
            self._source = get_credentials
            self._held: AWSCredentials | None = None
            super().__init__(
                refresh_using=self._metadata,
                method=_METHOD,
                time_fetcher=lambda: datetime.fromtimestamp(clock(), timezone.utc),
            )

        def _metadata(self) -> dict[str, str]:
            credentials = self._source()
            self._held = credentials
            return {
                "access_key": credentials.access_key_id,
                "secret_key": credentials.secret_access_key,
                "token": credentials.session_token,
                "expiry_time": credentials.expiration.isoformat(),
            }

        def refresh_needed(self, refresh_in: int | None = None) -> bool:
            """botocore's expiry windows, or the client holds other credentials now."""
            try:
                # The client's hot path: one clock read and a comparison when cached.
                changed = self._source() is not self._held
            except Exception:
                # Let the refresh run: a mandatory refresh raises the client's error.
                changed = True
            return bool(changed or super().refresh_needed(refresh_in))

    class ClientCredentialProvider(CredentialProvider):  # type: ignore[misc]
        """A botocore credential provider backed by an fsm-auth client."""

        METHOD = _METHOD
        CANONICAL_NAME = _CANONICAL_NAME

        def __init__(
            self, get_credentials: Callable[[], AWSCredentials], clock: Callable[[], float]
        ) -> None:
            super().__init__()
            self._get_credentials = get_credentials
            self._clock = clock

        def load(self) -> ClientCredentials:
            return ClientCredentials(self._get_credentials, self._clock)

    _PROVIDER = ClientCredentialProvider
    return _PROVIDER
