"""What an OAuth sign-in granted, kept per sign-in session so that its tokens carry it.

The hosted UI issues tokens through the same moto machinery as ``InitiateAuth`` (one refresh
token per sign-in session, named by its ``origin_jti``); what differs is the access token's
``scope`` claim and, in the first id token only, the ``nonce`` of the authorization request.
Refreshes (at ``/oauth2/token`` or through ``InitiateAuth``) keep the scopes, as Cognito does.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class OAuthGrant:
    """The scopes of one hosted-UI sign-in, and the nonce its first id token answers."""

    scopes: tuple[str, ...]
    nonce: str | None = attrs.field(default=None, repr=False)

    @property
    def scope_claim(self) -> str:
        """The access token's ``scope`` claim: the granted scopes, space-separated."""
        return " ".join(self.scopes)

    @property
    def has_id_token(self) -> bool:
        """Whether the token endpoint answers with an id token (only for ``openid``)."""
        return "openid" in self.scopes
