"""The hosted UI's back-channel endpoints: ``/oauth2/token``, ``/oauth2/revoke`` and
``/oauth2/userInfo``, with the authorization codes the login page issues.

Tokens come from the same machinery as ``InitiateAuth`` (moto's refresh-token sessions, signed
by the pool's own keys by :func:`_moto.patch_pool`): a hosted-UI refresh token is an ordinary
refresh token of the pool, so ``InitiateAuth REFRESH_TOKEN_AUTH`` and ``RevokeToken`` take it,
and the token endpoint takes one ``InitiateAuth`` issued. What the sign-in granted (scopes,
nonce) is kept per sign-in session in :attr:`TokenState.grants`.

Errors follow Cognito's documentation: 400 with ``{"error": ...}`` at the token endpoint
(``invalid_request``, ``invalid_client``, ``invalid_grant``, ``unauthorized_client``,
``unsupported_grant_type``); 400 or 401 (``invalid_client``) at the revocation endpoint; 401
with ``WWW-Authenticate: Bearer error="invalid_token"`` at the userInfo endpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import attrs

from . import _moto
from ._errors import CognitoError
from ._grants import OAuthGrant
from ._rotation import rotate
from ._tokens import TokenState
from ._web import Response, empty, form, json_answer, method, oauth_error

# "The response returns a one time use code that is valid for five minutes."
CODE_SECONDS = 300.0
# Used codes are remembered this long, so that a replay revokes what the code gave.
_USED_CODE_SECONDS = 24 * 3600.0
# The claims each OpenID Connect scope releases at the userInfo endpoint.
_SCOPE_CLAIMS = {
    "email": frozenset({"email", "email_verified"}),
    "phone": frozenset({"phone_number", "phone_number_verified"}),
    "profile": frozenset(
        {
            "name", "family_name", "given_name", "middle_name", "nickname",
            "preferred_username", "profile", "picture", "website", "gender", "birthdate",
            "zoneinfo", "locale", "updated_at", "address",
        }
    ),
}  # fmt: skip
_INVALID_TOKEN = (
    "Access token is expired, disabled, or deleted, or the user has globally signed out."
)


class OAuthError(Exception):
    """An OAuth error answer: HTTP ``status``, ``error`` code, optional description."""

    def __init__(self, error: str, description: str | None = None, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> Response:
        """The JSON error document."""
        return oauth_error(self.status, self.error, self.description)


@attrs.frozen
class OAuthClient:
    """An app client's hosted-UI settings, as moto keeps them (DescribeUserPoolClient)."""

    enabled: bool
    flows: frozenset[str]
    scopes: tuple[str, ...]
    callback_urls: tuple[str, ...]
    logout_urls: tuple[str, ...]
    providers: tuple[str, ...]
    name: str

    @classmethod
    def of(cls, client: _moto.CognitoIdpUserPoolClient) -> OAuthClient:
        """The settings of ``client``."""
        config = client.extended_config
        return cls(
            enabled=bool(config.get("AllowedOAuthFlowsUserPoolClient")),
            flows=frozenset(config.get("AllowedOAuthFlows") or ()),
            scopes=tuple(config.get("AllowedOAuthScopes") or ()),
            callback_urls=tuple(config.get("CallbackURLs") or ()),
            logout_urls=tuple(config.get("LogoutURLs") or ()),
            providers=tuple(config.get("SupportedIdentityProviders") or ()),
            name=str(config.get("ClientName") or ""),
        )

    @property
    def code_flow(self) -> bool:
        """Whether the client may use the authorization code grant."""
        return self.enabled and "code" in self.flows


@attrs.frozen
class AuthorizeRequest:
    """A validated ``/oauth2/authorize`` request: what the code it ends in answers."""

    pool_id: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None = attrs.field(repr=False)
    code_challenge: str | None = attrs.field(repr=False)
    identity_provider: str | None
    lang: str
    login_hint: str
    prompt: frozenset[str]


@attrs.frozen
class _IssuedCode:
    pool_id: str
    client_id: str
    username: str
    request: AuthorizeRequest
    auth_time: float
    expires_at: float


def s256(verifier: str) -> str:
    """RFC 7636's S256 challenge of ``verifier``: BASE64URL(SHA256(ASCII(verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class OAuthTokens:
    """Authorization codes and the token, revocation and userInfo endpoints."""

    def __init__(
        self, tokens: TokenState, lock: threading.RLock, clock: Callable[[], float]
    ) -> None:
        self.tokens = tokens
        self.lock = lock
        self.clock = clock
        self._codes: dict[str, _IssuedCode] = {}
        # Exchanged codes: (pool id, the refresh token they gave, forget after).
        self._used: dict[str, tuple[str, str, float]] = {}

    # ---- codes ----
    def issue_code(self, request: AuthorizeRequest, username: str, auth_time: float) -> str:
        """A one-time code for ``username``, answering ``request`` (valid 5 minutes)."""
        code = str(uuid.uuid4())
        now = self.clock()
        with self.lock:
            self._forget_old(now)
            self._codes[code] = _IssuedCode(
                request.pool_id,
                request.client_id,
                username,
                request,
                auth_time,
                now + CODE_SECONDS,
            )
        return code

    def _forget_old(self, now: float) -> None:
        for code in [c for c, v in self._codes.items() if v.expires_at + CODE_SECONDS < now]:
            del self._codes[code]
        for code in [c for c, v in self._used.items() if v[2] < now]:
            del self._used[code]

    # ---- client authentication ----
    def authenticate(
        self, environ: Mapping[str, Any], params: Mapping[str, str], status: int = 400
    ) -> tuple[_moto.CognitoIdpUserPool, _moto.CognitoIdpUserPoolClient]:
        """The app client of a back-channel request: HTTP Basic ``client_id:client_secret``
        (client_secret_basic) or ``client_id`` + ``client_secret`` in the body
        (client_secret_post); a client with a secret must give it. ``invalid_client`` with
        ``status`` otherwise."""
        basic = _basic_credentials(str(environ.get("HTTP_AUTHORIZATION", "")))
        body_id = params.get("client_id") or None
        client_id: str | None
        secret: str | None
        if basic is not None:
            client_id, secret = basic
            if body_id is not None and body_id != client_id:
                raise OAuthError("invalid_client", "Client ids do not match.", status)
        else:
            client_id, secret = body_id, params.get("client_secret")
        if not client_id:
            raise OAuthError("invalid_request", "Missing client_id.")
        try:
            pool, client = _moto.pool_by_client(client_id)
        except CognitoError:
            raise OAuthError("invalid_client", "Client does not exist.", status) from None
        if client.generate_secret and (secret is None or not _same(secret, client.secret)):
            raise OAuthError("invalid_client", "Client authentication failed.", status)
        return pool, client

    # ---- /oauth2/token ----
    def token(self, environ: dict[str, Any]) -> Response:
        """``POST /oauth2/token``: the authorization code and refresh token grants."""
        try:
            return self._token(environ)
        except OAuthError as error:
            return error.response()

    def _token(self, environ: dict[str, Any]) -> Response:
        if method(environ) != "POST":
            raise OAuthError("invalid_request", "The token endpoint takes POST requests.", 405)
        params = form(environ)
        if params is None:
            raise OAuthError(
                "invalid_request", "Content-Type must be application/x-www-form-urlencoded."
            )
        grant_type = params.get("grant_type", "")
        if not grant_type:
            raise OAuthError("invalid_request", "Missing grant_type.")
        if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
            raise OAuthError("unsupported_grant_type")
        pool, client = self.authenticate(environ, params)
        settings = OAuthClient.of(client)
        if grant_type == "client_credentials":
            if not (settings.enabled and "client_credentials" in settings.flows):
                raise OAuthError("unauthorized_client")
            # Resource servers and custom scopes are not emulated.
            raise OAuthError("unsupported_grant_type", "client_credentials is not emulated.")
        if not settings.enabled:
            raise OAuthError("unauthorized_client")
        if grant_type == "refresh_token":
            return self._refresh(pool, client, params)
        if "code" not in settings.flows:
            raise OAuthError("unauthorized_client")
        return self._exchange(pool, client, settings, params)

    def _exchange(
        self,
        pool: _moto.CognitoIdpUserPool,
        client: _moto.CognitoIdpUserPoolClient,
        settings: OAuthClient,
        params: Mapping[str, str],
    ) -> Response:
        code = params.get("code", "")
        redirect_uri = params.get("redirect_uri", "")
        if not code:
            raise OAuthError("invalid_request", "Missing code.")
        if not redirect_uri:
            raise OAuthError("invalid_request", "Missing redirect_uri.")
        now = self.clock()
        with self.lock:
            # Any attempt spends the code: a wrong verifier cannot be retried against it.
            issued = self._codes.pop(code, None)
            if issued is None:
                used = self._used.get(code)
                if used is not None:
                    # A replayed code: what it gave may be in the wrong hands (RFC 6749 4.1.2).
                    self._revoke(used[0], used[1])
                raise OAuthError("invalid_grant")
            if issued.client_id != client.id or issued.pool_id != pool.id:
                raise OAuthError("invalid_grant")
            if now > issued.expires_at:
                raise OAuthError("invalid_grant", "Authorization code has expired.")
            if redirect_uri not in settings.callback_urls:
                # What Cognito answers for a redirect URI the client does not have.
                raise OAuthError("unauthorized_client")
            if redirect_uri != issued.request.redirect_uri:
                raise OAuthError("invalid_grant")
            challenge = issued.request.code_challenge
            if challenge is not None:
                verifier = params.get("code_verifier", "")
                if not verifier:
                    raise OAuthError("invalid_request", "Missing code_verifier.")
                if not _same(s256(verifier), challenge):
                    raise OAuthError("invalid_grant")
            user = pool._get_user(issued.username)
            if user is None or not user.enabled:
                raise OAuthError("invalid_grant")
            refresh_token, origin = pool.create_refresh_token(client.id, user.username)
            grant = OAuthGrant(issued.request.scopes, issued.request.nonce)
            self.tokens.grants[origin] = grant
            _moto.note_sign_in(origin, issued.auth_time)
            access, id_token, expires_in = pool.create_tokens_from_refresh_token(refresh_token)
            # The nonce answers this sign-in's first id token only; refreshes carry none.
            self.tokens.grants[origin] = attrs.evolve(grant, nonce=None)
            self._used[code] = (pool.id, refresh_token, now + _USED_CODE_SECONDS)
        answer: dict[str, Any] = {"access_token": access, "refresh_token": refresh_token}
        if grant.has_id_token:
            answer["id_token"] = id_token
        answer.update(expires_in=expires_in, token_type="Bearer")
        return json_answer(200, answer)

    def _revoke(self, pool_id: str, refresh_token: str) -> None:
        pool = _moto.idp().user_pools.get(pool_id)
        if pool is not None:
            self.tokens.revoke_refresh_token(pool, refresh_token)

    def _refresh(
        self,
        pool: _moto.CognitoIdpUserPool,
        client: _moto.CognitoIdpUserPoolClient,
        params: Mapping[str, str],
    ) -> Response:
        token = params.get("refresh_token", "")
        if not token:
            raise OAuthError("invalid_request", "Missing refresh_token.")
        with self.lock:
            try:
                self.tokens.refreshable(pool, client, token)
            except CognitoError as error:
                raise OAuthError("invalid_grant", error.message) from None
            entry = pool.refresh_tokens[token]
            grant = self.tokens.grants.get(entry[2]) if entry is not None else None
            try:
                # A rotating app client rotates here too (the grace period as for the API).
                rotated = rotate(self.tokens, pool, client, token)
            except CognitoError as error:
                raise OAuthError("invalid_grant", error.message) from None
            access, id_token, expires_in = pool.create_tokens_from_refresh_token(token)
        answer: dict[str, Any] = {"access_token": access}
        # A sign-in of the user-pool API was not an OAuth grant: its id token comes too.
        if grant is None or grant.has_id_token:
            answer["id_token"] = id_token
        if rotated is not None:
            answer["refresh_token"] = rotated
        answer.update(expires_in=expires_in, token_type="Bearer")
        return json_answer(200, answer)

    # ---- /oauth2/revoke ----
    def revoke(self, environ: dict[str, Any]) -> Response:
        """``POST /oauth2/revoke``: a refresh token and every token issued from it."""
        try:
            return self._revoke_request(environ)
        except OAuthError as error:
            return error.response()

    def _revoke_request(self, environ: dict[str, Any]) -> Response:
        if method(environ) != "POST":
            raise OAuthError("invalid_request", "The revocation endpoint takes POST requests.", 405)
        params = form(environ)
        if params is None:
            raise OAuthError(
                "invalid_request", "Content-Type must be application/x-www-form-urlencoded."
            )
        token = params.get("token", "")
        if not token:
            raise OAuthError("invalid_request", "Missing token.")
        pool, client = self.authenticate(environ, params, status=401)
        if not client.extended_config.get("EnableTokenRevocation", True):
            raise OAuthError("invalid_request", "Token revocation is disabled for this client.")
        if _moto.unverified_claims(token).get("token_use") in ("access", "id"):
            raise OAuthError("unsupported_token_type")
        with self.lock:
            entry = pool.refresh_tokens.get(token)
            if entry is not None and entry[0] != client.id:
                raise OAuthError("unauthorized_client", "The token was issued to another client.")
            # An unknown token is answered like a revoked one (RFC 7009 section 2.2).
            self.tokens.revoke_refresh_token(pool, token)
        return empty(200)

    # ---- /oauth2/userInfo ----
    def user_info(self, environ: dict[str, Any]) -> Response:
        """``GET|POST /oauth2/userInfo``: the user's attributes that the scopes release."""
        header = str(environ.get("HTTP_AUTHORIZATION", ""))
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return oauth_error(
                400,
                "invalid_request",
                "Bad OAuth2 request at UserInfo Endpoint",
                (("WWW-Authenticate", 'Bearer error="invalid_request"'),),
            )
        token = token.strip()
        with self.lock:
            try:
                pool, client_id, user = self.tokens.access_user(token, admin_scope=False)
            except CognitoError:
                return _invalid_token()
            scopes = set(str(_moto.unverified_claims(token).get("scope", "")).split())
            if "openid" not in scopes:
                # The user-pool API's tokens carry no openid scope: Cognito refuses them here.
                challenge = 'Bearer error="insufficient_scope", scope="openid"'
                return oauth_error(
                    403,
                    "insufficient_scope",
                    "The access token has no openid scope.",
                    (("WWW-Authenticate", challenge),),
                )
            client = pool.clients.get(client_id)
            readable = set(client.get_readable_fields()) if client is not None else set()
            released: set[str] | None = None
            if scopes & set(_SCOPE_CLAIMS):
                released = set().union(*(_SCOPE_CLAIMS[s] for s in scopes & set(_SCOPE_CLAIMS)))
            claims: dict[str, Any] = {"sub": user.id}
            for attribute in user.attributes:
                name = str(attribute.get("Name"))
                if name == "sub":
                    continue
                custom = name.startswith("custom:")
                if name != "identities" and not custom and name not in readable:
                    continue
                if released is not None and name not in released and not custom:
                    continue
                claims[name] = attribute.get("Value")
            claims["username"] = user.username
        return json_answer(200, claims)


def _invalid_token() -> Response:
    challenge = f'Bearer error="invalid_token", error_description="{_INVALID_TOKEN}"'
    return oauth_error(401, "invalid_token", _INVALID_TOKEN, (("WWW-Authenticate", challenge),))


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` of an HTTP Basic header, form-decoded as RFC 6749
    section 2.3.1 asks; ``None`` when there is no usable one."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))
