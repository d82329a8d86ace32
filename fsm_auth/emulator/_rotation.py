"""Refresh-token rotation as Cognito runs it (2025): ``GetTokensFromRefreshToken`` and the app
client's ``RefreshTokenRotation`` setting.

The setting lives where Cognito keeps it, in the app client (moto stores it with the client's
other settings, so ``DescribeUserPoolClient`` shows it): ``{"Feature": "ENABLED" | "DISABLED",
"RetryGracePeriodSeconds": 0..60}``.

- ``GetTokensFromRefreshToken`` answers new id and access tokens on any app client; on a
  rotating one it also answers a new refresh token, valid for the client's whole refresh-token
  lifetime from now (a sliding window), and rotates the submitted token out.
- A rotated-out refresh token keeps working for ``RetryGracePeriodSeconds`` after it was first
  rotated out (judged by the emulator's clock: a retry after a lost answer, or another process
  that has not seen the new token yet), each use answering yet another refresh token; after
  that it is refused with ``RefreshTokenReuseException``, the exception Cognito's API model
  gives for "a refresh token that has been invalidated by refresh-token rotation".
- Every refresh token of one sign-in keeps its ``origin_jti``: ``RevokeToken`` of any of them,
  ``GlobalSignOut`` and ``AdminUserGlobalSignOut`` end the whole family.
- ``REFRESH_TOKEN_AUTH`` (``InitiateAuth``, ``AdminInitiateAuth``) is not compatible with
  rotation: AWS requires the flow to be turned off on a rotating client, so the emulator refuses
  it there as it refuses any flow the client does not allow.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from . import _moto
from ._errors import CognitoError, not_authorized
from ._tokens import TokenState

__all__ = ["RotationBook", "RotationSetting", "rotate", "rotation_config"]

Params = dict[str, Any]
# Cognito's range for RetryGracePeriodSeconds.
MAX_GRACE_SECONDS = 60
_REFRESH_FLOWS = frozenset({"REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"})


@attrs.frozen
class RotationSetting:
    """An app client's ``RefreshTokenRotation``, read from its settings."""

    enabled: bool = False
    grace_seconds: int = 0

    @classmethod
    def of(cls, client: _moto.CognitoIdpUserPoolClient) -> RotationSetting:
        """The setting of ``client`` (off when it has none)."""
        raw = client.extended_config.get("RefreshTokenRotation") or {}
        if not isinstance(raw, dict):
            return cls()
        # Cognito documents the grace period as optional without a default; 0 is the value
        # that disables it, so a client that names none gets no grace.
        grace = raw.get("RetryGracePeriodSeconds") or 0
        return cls(enabled=raw.get("Feature") == "ENABLED", grace_seconds=int(grace))


def rotation_config(enabled: bool, grace_seconds: int) -> dict[str, Any]:
    """The ``RefreshTokenRotation`` app-client setting for ``provision()``'s options."""
    if not 0 <= int(grace_seconds) <= MAX_GRACE_SECONDS:
        raise ValueError(
            f"refresh_grace_seconds must be from 0 to {MAX_GRACE_SECONDS}, not {grace_seconds!r}"
        )
    return {
        "Feature": "ENABLED" if enabled else "DISABLED",
        "RetryGracePeriodSeconds": int(grace_seconds),
    }


class RotationBook:
    """``GetTokensFromRefreshToken``, and the refusal of ``REFRESH_TOKEN_AUTH`` on a rotating
    client. What rotation remembers (when each rotated-out token was first rotated out) lives
    in the :class:`TokenState`, shared with the hosted UI's token endpoint."""

    def __init__(self, tokens: TokenState) -> None:
        self.tokens = tokens

    def handlers(self) -> dict[str, Callable[[Params], dict[str, Any] | None]]:
        """The operations this book answers, for the user-pool layer's table."""
        return {"GetTokensFromRefreshToken": self.get_tokens_from_refresh_token}

    def refuse_refresh_flow(self, operation: str, params: Params) -> None:
        """Refuse ``REFRESH_TOKEN_AUTH`` on a rotating client (before any other handling)."""
        if operation not in ("InitiateAuth", "AdminInitiateAuth"):
            return
        flow = str(params.get("AuthFlow", ""))
        if flow not in _REFRESH_FLOWS:
            return
        try:
            _pool, client = _moto.pool_by_client(str(params.get("ClientId", "")))
        except CognitoError:
            return  # the operation itself says the client does not exist
        if RotationSetting.of(client).enabled:
            # The words of a flow the client does not allow: rotation requires it turned off.
            raise CognitoError(
                "InvalidParameterException", f"{flow} flow not enabled for this client"
            )

    def get_tokens_from_refresh_token(self, params: Params) -> dict[str, Any]:
        """``GetTokensFromRefreshToken``: new id and access tokens, and on a rotating client a
        new refresh token (the submitted one then lasts only the grace period)."""
        self.tokens.patch_pools()
        client_id = params.get("ClientId")
        token = params.get("RefreshToken")
        if not client_id:
            raise CognitoError("InvalidParameterException", "Missing required parameter ClientId")
        if not token:
            raise CognitoError(
                "InvalidParameterException", "Missing required parameter RefreshToken"
            )
        pool, client = _moto.pool_by_client(str(client_id))
        if client.generate_secret and not secrets.compare_digest(
            str(params.get("ClientSecret") or ""), client.secret
        ):
            raise not_authorized(f"Unable to verify secret for client {client.id}")
        token = str(token)
        # Unknown, revoked (the whole family), expired, another client's, user gone/disabled.
        self.tokens.refreshable(pool, client, token)
        rotated = rotate(self.tokens, pool, client, token)
        access, id_token, expires_in = pool.create_tokens_from_refresh_token(token)
        result: dict[str, Any] = {
            "AccessToken": access,
            "ExpiresIn": expires_in,
            "TokenType": "Bearer",
            "IdToken": id_token,
        }
        if rotated is not None:
            result["RefreshToken"] = rotated
        return {"AuthenticationResult": result}


def rotate(
    tokens: TokenState,
    pool: _moto.CognitoIdpUserPool,
    client: _moto.CognitoIdpUserPoolClient,
    token: str,
) -> str | None:
    """For a refresh with ``token`` (which ``refreshable`` accepted): refuse it when it was
    rotated out longer ago than the grace period (``RefreshTokenReuseException``); on a
    rotating client, a new refresh token of the same sign-in (same ``origin_jti``, a fresh
    lifetime) and ``token`` rotated out as of its first rotation (a retry within the grace
    period does not extend it). ``None`` when the client does not rotate."""
    setting = RotationSetting.of(client)
    now = tokens.clock()
    with tokens.lock:
        rotated_at = tokens.rotated_at.get(token)
        if rotated_at is not None and now >= rotated_at + setting.grace_seconds:
            raise CognitoError(
                "RefreshTokenReuseException",
                "The refresh token has been invalidated by refresh token rotation.",
            )
        if not setting.enabled:
            return None
        entry = pool.refresh_tokens[token]
        assert entry is not None  # refreshable() refused a revoked token
        client_id, username, origin = entry
        new = str(uuid.uuid4())
        pool.refresh_tokens[new] = (client_id, username, origin)
        tokens.refresh_issued[new] = now
        tokens.rotated_at.setdefault(token, now)
        return new
