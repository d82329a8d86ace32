"""The OAuth 2.0 pieces of a hosted-UI sign-in, free of I/O (unit-tested without a server).

Authorization code with PKCE (RFC 7636, S256), ``state`` against cross-site request forgery and
``nonce`` (OpenID Connect) against a replayed id token. The values are random from
:mod:`secrets`; the S256 challenge and the authorization URL are Authlib's
(``create_s256_code_challenge``, ``prepare_grant_uri``), so nothing here hashes or encodes by
hand.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any

import attrs
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from fsm_auth.errors import HostedUIError, InvalidParameterError
from fsm_auth.provider import RawTokens
from fsm_auth.values import HostedUIOptions

from ._config import HostedUIConfig

__all__ = [
    "AuthorizationRequest",
    "authorization_request",
    "code_from_redirect",
    "logout_url",
    "tokens_from_answer",
]

# 64 random bytes, base64url: 86 characters of RFC 7636's unreserved set (43 to 128 allowed).
_VERIFIER_BYTES = 64
_STATE_BYTES = 32


@attrs.frozen(repr=False)
class AuthorizationRequest:
    """One sign-in's authorization request: the URL to open and what checks its answer."""

    url: str
    redirect_uri: str
    state: str
    code_verifier: str
    nonce: str | None

    def __repr__(self) -> str:
        return f"AuthorizationRequest(redirect_uri={self.redirect_uri!r})"


def authorization_request(config: HostedUIConfig, options: HostedUIOptions) -> AuthorizationRequest:
    """A fresh authorization request for ``options`` (new verifier, state and nonce)."""
    scopes = options.scopes if options.scopes is not None else config.scopes
    if "openid" not in scopes:
        # The session is the id token's user (verified, saved, the identity pool's login):
        # Cognito issues one only for the openid scope.
        raise InvalidParameterError(
            "the hosted UI sign-in needs the openid scope (Cognito issues the id token only "
            "with it)"
        )
    verifier = secrets.token_urlsafe(_VERIFIER_BYTES)
    state = secrets.token_urlsafe(_STATE_BYTES)
    nonce = secrets.token_urlsafe(_STATE_BYTES)
    extra: dict[str, str] = {
        "code_challenge": create_s256_code_challenge(verifier),  # type: ignore[no-untyped-call]
        "code_challenge_method": "S256",
        "nonce": nonce,
    }
    if options.identity_provider is not None:
        extra["identity_provider"] = options.identity_provider
    if options.idp_identifier is not None:
        extra["idp_identifier"] = options.idp_identifier
    extra.update(options.sign_in_query_parameters)
    url = prepare_grant_uri(
        config.authorize_url,
        client_id=config.client_id,
        response_type="code",
        redirect_uri=config.redirect_uri,
        scope=" ".join(scopes),
        state=state,
        **extra,
    )
    return AuthorizationRequest(
        url=url,
        redirect_uri=config.redirect_uri,
        state=state,
        code_verifier=verifier,
        nonce=nonce,
    )


def code_from_redirect(params: Mapping[str, str], request: AuthorizationRequest) -> str:
    """The authorization code the redirect carries for ``request``.

    The ``state`` is checked first: a redirect that does not answer this request (forged, or
    from another sign-in) is refused with ``state_mismatch`` even when it carries an error.
    Then an ``error`` is raised with its OAuth code (``access_denied`` when the user cancelled).
    """
    state = params.get("state", "")
    if not hmac.compare_digest(state.encode(), request.state.encode()):
        raise HostedUIError(
            "The sign-in redirect does not answer this sign-in (its state does not match); "
            "it was ignored and nothing changed",
            code="state_mismatch",
        )
    error = params.get("error")
    if error:
        description = params.get("error_description") or "the hosted UI refused the sign-in"
        raise HostedUIError(f"The hosted UI answered {error}: {description}", code=error)
    code = params.get("code")
    if not code:
        raise HostedUIError("The sign-in redirect carries no code", code="invalid_request")
    return code


def tokens_from_answer(answer: Mapping[str, Any]) -> RawTokens:
    """The tokens of a token endpoint's answer (verified by the caller next)."""
    id_token, access_token = answer.get("id_token"), answer.get("access_token")
    if not isinstance(id_token, str) or not isinstance(access_token, str):
        raise HostedUIError(
            "The token endpoint answered without an id token and an access token",
            code="invalid_response",
        )
    refresh = answer.get("refresh_token")
    return RawTokens(id_token, access_token, refresh if isinstance(refresh, str) else None)


def logout_url(config: HostedUIConfig, options: HostedUIOptions | None) -> str | None:
    """``/logout`` with the client id and the configured sign-out redirect URI (``None``
    when none is configured: Cognito's logout needs one)."""
    if config.sign_out_uri is None:
        return None
    params = [("client_id", config.client_id), ("logout_uri", config.sign_out_uri)]
    if options is not None:
        params.extend(options.sign_out_query_parameters.items())
    url: str = add_params_to_uri(config.logout_url, params)
    return url
