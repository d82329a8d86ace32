"""Token state the emulator keeps beside moto's: issue times, revocations, access checks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from . import _moto
from ._errors import CognitoError, not_authorized
from ._grants import OAuthGrant

# The scope an access token needs for the user-pool API (GetUser, ChangePassword...).
ADMIN_SCOPE = "aws.cognito.signin.user.admin"


class TokenState:
    """Refresh-token issue times, revoked sign-in sessions (by ``origin_jti``) and what each
    hosted-UI sign-in session was granted."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.refresh_issued: dict[str, float] = {}
        self.revoked_origins: set[str] = set()
        self.grants: dict[str, OAuthGrant] = {}
        # Refresh tokens rotated out (refresh-token rotation, _rotation): when first rotated.
        self.rotated_at: dict[str, float] = {}

    def patch_pools(self) -> None:
        """Give every pool per-client token lifetimes and refresh issue stamps."""
        _moto.patch_all_pools(self.clock, self.refresh_issued, self.grants)

    def access_user(
        self, token: str | None, *, admin_scope: bool = True
    ) -> tuple[_moto.CognitoIdpUserPool, str, _moto.CognitoIdpUser]:
        """Pool, client id and user of a valid access token; NotAuthorizedException otherwise.

        ``admin_scope``: the token must hold ``aws.cognito.signin.user.admin``, as the user-pool
        API demands (every API sign-in's token does; a hosted-UI token only when asked for).
        """
        if not token:
            raise CognitoError(
                "InvalidParameterException", "Missing required parameter AccessToken"
            )
        claims = _moto.unverified_claims(token)
        pool = _moto.pool_of_token(token)
        if claims.get("origin_jti") in self.revoked_origins:
            raise not_authorized("Access Token has been revoked")
        if pool is None or token not in pool.access_tokens or claims.get("token_use") != "access":
            raise not_authorized("Invalid Access Token")
        if float(claims.get("exp", 0)) <= self.clock():
            raise not_authorized("Access Token has expired")
        if admin_scope and ADMIN_SCOPE not in str(claims.get("scope", "")).split():
            raise not_authorized("Access Token does not have required scopes")
        client_id, username = pool.access_tokens[token]
        user = pool._get_user(username)
        if user is None:
            raise not_authorized("User does not exist.")
        if not user.enabled:
            raise not_authorized("User is disabled.")
        return pool, client_id, user

    def revoke_user(self, pool: _moto.CognitoIdpUserPool, username: str) -> None:
        """Revoke every refresh token (and the tokens issued from it) of a user."""
        for token, entry in list(pool.refresh_tokens.items()):
            if entry is not None and entry[1] == username:
                self.revoked_origins.add(entry[2])
                pool.refresh_tokens[token] = None

    def revoke_refresh_token(self, pool: _moto.CognitoIdpUserPool, token: str) -> None:
        """Revoke one refresh token and the access/id tokens issued from it."""
        entry = pool.refresh_tokens.get(token)
        if entry is not None:
            self.revoked_origins.add(entry[2])
            pool.refresh_tokens[token] = None

    def refresh(
        self,
        pool: _moto.CognitoIdpUserPool,
        client: _moto.CognitoIdpUserPoolClient,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        """REFRESH_TOKEN_AUTH, refusing unknown, expired and revoked refresh tokens."""
        token = params.get("REFRESH_TOKEN")
        if not token:
            raise CognitoError(
                "InvalidParameterException", "Missing required parameter REFRESH_TOKEN"
            )
        user = self.refreshable(pool, client, str(token))
        # The hash is for the internal user name (the access token's ``username``), never the
        # e-mail or alias typed at sign-in: pycognito issue #196, and Cognito's own rule.
        _moto.check_secret_hash(client, params.get("SECRET_HASH"), user.username)
        access, id_token, expires_in = pool.create_tokens_from_refresh_token(token)
        return {
            "ChallengeParameters": {},
            "AuthenticationResult": {
                "AccessToken": access,
                "IdToken": id_token,
                "ExpiresIn": expires_in,
                "TokenType": "Bearer",
            },
        }

    def refreshable(
        self,
        pool: _moto.CognitoIdpUserPool,
        client: _moto.CognitoIdpUserPoolClient,
        token: str,
    ) -> _moto.CognitoIdpUser:
        """The user of a refresh token ``client`` may use now; NotAuthorizedException if it
        is unknown, revoked, expired, another client's, or its user is gone or disabled.

        The client's own authentication (SECRET_HASH, or the token endpoint's client secret)
        is the caller's.
        """
        if token not in pool.refresh_tokens:
            raise not_authorized("Invalid Refresh Token")
        entry = pool.refresh_tokens[token]
        if entry is None or entry[2] in self.revoked_origins:
            raise not_authorized("Refresh Token has been revoked")
        client_id, username, _origin = entry
        if client_id != client.id:
            raise not_authorized("Invalid Refresh Token")
        issued = self.refresh_issued.get(token)
        lifetime = _moto.validity_seconds(client, "RefreshToken")
        if issued is not None and self.clock() >= issued + lifetime:
            raise not_authorized("Invalid Refresh Token")
        user = pool._get_user(username)
        if user is None:
            raise not_authorized("User does not exist.")
        if not user.enabled:
            raise not_authorized("User is disabled.")
        return user
