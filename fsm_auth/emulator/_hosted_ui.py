"""Cognito's hosted UI, served at the emulator's own URL (its "domain") for every pool.

Endpoints (service ``hosted-ui`` in the records and for faults; the operation is the path):

``GET /oauth2/authorize`` (``oauth2/authorize``)
    Checks the request as Cognito does: an unknown ``client_id`` or a ``redirect_uri`` that is
    not one of the client's ``CallbackURLs`` goes to the error page (never to that URI);
    everything else wrong is redirected to the ``redirect_uri`` with ``error``
    (``invalid_request``, ``unauthorized_client``, ``unsupported_response_type``,
    ``invalid_scope``, ``login_required``) and the ``state``. A browser with a hosted-UI
    session of the pool gets its code at once (unless ``prompt=login``); an upstream
    ``identity_provider`` (or ``idp_identifier``) sends it to that provider; otherwise to
    ``/login`` with the same parameters.
``GET|POST /login`` (``login``)
    The sign-in page, then the new-password and MFA code pages, each form tied to a
    server-side login session by its ``_csrf`` field. A wrong password shows the page again
    with "Incorrect username or password." (HTTP 200, as a browser sees it). Success: a
    hosted-UI session cookie for the pool and ``302 redirect_uri?code=...&state=...``.
    "Cancel" answers ``error=access_denied``.
``GET /logout`` (``logout``)
    Ends the browser's session of the pool: to ``logout_uri`` (one of the ``LogoutURLs``), or
    with ``redirect_uri`` + ``response_type`` back to the sign-in page.
``GET /oauth2/idpresponse`` (``oauth2/idpresponse``)
    The upstream provider's redirect: its code is exchanged, its id token checked, the user
    found or created (``<provider>_<sub>``) and a code issued for the original request.
``GET /error`` (``error``)
    Cognito's error page (HTTP 400).

``POST /oauth2/token``, ``POST /oauth2/revoke`` and ``GET|POST /oauth2/userInfo`` are
:mod:`._oauth_tokens`'.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlencode

import attrs
import pyotp

from . import _login_page as pages
from . import _moto, _upstream_oidc
from ._auth import AuthFlows
from ._codes import CodeBook, mask
from ._errors import CognitoError
from ._oauth_tokens import AuthorizeRequest, OAuthClient, OAuthTokens
from ._tokens import TokenState
from ._web import (
    Response,
    clear_cookie,
    cookies,
    form,
    html,
    method,
    query,
    redirect,
    set_cookie,
    with_query,
)

_WRONG_PASSWORD = "Incorrect username or password."
# How long a hosted-UI browser session lasts (Cognito: one hour), by the emulator's clock.
SESSION_SECONDS = 3600.0
# How long a login page (its _csrf) and an upstream sign-in in flight stay usable.
_LOGIN_SECONDS = 3600.0
_TEMP_PASSWORD_SECONDS = 7 * 86400.0
_PROMPTS = frozenset({"none", "login", "select_account", "consent"})
# The browser's upstream sign-in in flight: a provider that answers an error without the
# state (some do, for a refusal) is still matched to the sign-in it ends.
_UPSTREAM_COOKIE = "cognito-upstream-state"
# What the error page says for each error it is sent.
_ERROR_TEXT = {
    "redirect_mismatch": "The redirect URI is not one of the app client's callback URLs.",
    "logout_mismatch": "The logout URI is not one of the app client's sign-out URLs.",
    "invalid_client": "The app client does not exist.",
    "invalid_request": "The request is missing a parameter or is malformed.",
    "session_expired": "This sign-in page has expired. Start again from the app.",
    "invalid_state": "The identity provider's answer does not belong to a sign-in in progress.",
}

Stage = Literal["password", "new_password", "sms_mfa", "totp"]


class _Refused(Exception):
    """A request answered with ``response`` (an error page or an error redirect)."""

    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


@attrs.define
class _LoginSession:
    """One login page's progress: what it answers, where the user got to."""

    id: str = attrs.field(repr=False)
    request: AuthorizeRequest
    expires_at: float
    stage: Stage = "password"
    username: str = ""


@attrs.frozen
class _BrowserSession:
    pool_id: str
    username: str
    auth_time: float
    expires_at: float


@attrs.frozen
class _UpstreamSignIn:
    request: AuthorizeRequest
    provider: str
    nonce: str = attrs.field(repr=False)
    expires_at: float


def cookie_name(pool_id: str) -> str:
    """The hosted-UI session cookie of a pool (one emulator serves many pools)."""
    return f"cognito-{pool_id}"


def error_location(error: str, client_id: str | None = None) -> str:
    """The error page's URL for ``error``."""
    return with_query("/error", {"error": error, "client_id": client_id or None})


class HostedUILayer:
    """The hosted UI's endpoints; ``handle(operation, environ)`` answers one request."""

    def __init__(
        self,
        tokens: TokenState,
        auth: AuthFlows,
        codes: CodeBook,
        lock: threading.RLock,
        base_url: Callable[[], str],
    ) -> None:
        self.tokens = tokens
        self.auth = auth
        self.codes = codes
        self.lock = lock
        self.base_url = base_url
        self.oauth = OAuthTokens(tokens, lock, tokens.clock)
        self._logins: dict[str, _LoginSession] = {}
        self._browsers: dict[str, _BrowserSession] = {}
        self._upstream: dict[str, _UpstreamSignIn] = {}

    def _now(self) -> float:
        return self.tokens.clock()

    def handle(self, operation: str, environ: dict[str, Any]) -> Response:
        """The answer to one hosted-UI request."""
        with self.lock:
            # Pools made through the admin API sign as Cognito does from their first request.
            self.tokens.patch_pools()
        if operation == "oauth2/token":
            return self.oauth.token(environ)
        if operation == "oauth2/revoke":
            return self.oauth.revoke(environ)
        if operation == "oauth2/userInfo":
            return self.oauth.user_info(environ)
        handlers: dict[str, Callable[[dict[str, Any]], Response]] = {
            "oauth2/authorize": self.authorize,
            "login": self.login,
            "logout": self.logout,
            "oauth2/idpresponse": self.idp_response,
            "error": self.error,
        }
        try:
            return handlers[operation](environ)
        except _Refused as refused:
            return refused.response
        except CognitoError:
            # The pool or client went away during the sign-in (deleted by an administrator).
            return html(400, pages.error_page("invalid_client", _ERROR_TEXT["invalid_client"]))

    # ---- the authorize request ----
    def _client(
        self, params: dict[str, str]
    ) -> tuple[_moto.CognitoIdpUserPool, _moto.CognitoIdpUserPoolClient, OAuthClient]:
        client_id = params.get("client_id", "")
        try:
            pool, client = _moto.pool_by_client(client_id)
        except CognitoError:
            raise _Refused(redirect(error_location("invalid_client"))) from None
        return pool, client, OAuthClient.of(client)

    def _request(self, params: dict[str, str]) -> AuthorizeRequest:
        """The authorize request ``params`` make, checked in Cognito's order."""
        with self.lock:
            pool, client, settings = self._client(params)
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri or redirect_uri not in settings.callback_urls:
            # Never a redirect to an unregistered URI: the error page instead.
            raise _Refused(redirect(error_location("redirect_mismatch", client.id)))
        state = params.get("state")

        def refuse(error: str, description: str | None = None) -> _Refused:
            return _Refused(
                redirect(
                    with_query(
                        redirect_uri,
                        {"error": error, "error_description": description, "state": state},
                    )
                )
            )

        response_type = params.get("response_type", "")
        if not response_type:
            raise refuse("invalid_request", "response_type is required")
        if response_type == "code":
            if not settings.code_flow:
                raise refuse("unauthorized_client")
        elif response_type == "token" and not (settings.enabled and "implicit" in settings.flows):
            raise refuse("unauthorized_client")
        else:
            raise refuse("unsupported_response_type")
        challenge = params.get("code_challenge") or None
        challenge_method = params.get("code_challenge_method") or None
        if (challenge is None) != (challenge_method is None):
            raise refuse("invalid_request", "code_challenge and code_challenge_method go together")
        if challenge_method is not None and challenge_method != "S256":
            raise refuse("invalid_request", "code_challenge_method must be S256")
        scopes = _scopes(params.get("scope"), settings.scopes)
        if scopes is None:
            raise refuse("invalid_scope")
        prompt = frozenset(params.get("prompt", "").split())
        if not prompt <= _PROMPTS or ("none" in prompt and len(prompt) > 1):
            raise refuse("invalid_request", "unsupported prompt")
        provider = self._provider(pool, settings, params)
        if provider is False:
            raise refuse("invalid_request", "unsupported identity provider")
        return AuthorizeRequest(
            pool_id=pool.id,
            client_id=client.id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=state,
            nonce=params.get("nonce") or None,
            code_challenge=challenge,
            identity_provider=provider,
            lang=params.get("lang", "en"),
            login_hint=params.get("login_hint", ""),
            prompt=prompt,
        )

    def _provider(
        self, pool: _moto.CognitoIdpUserPool, settings: OAuthClient, params: dict[str, str]
    ) -> str | Literal[False] | None:
        """The identity provider asked for: ``None`` for none, ``False`` for one the client
        may not use (or the pool does not have)."""
        name = params.get("identity_provider")
        identifier = params.get("idp_identifier")
        if name:
            if name not in settings.providers:
                return False
            if name == "COGNITO":
                return name
            with self.lock:
                known = _upstream_oidc.providers_of(pool)
            return name if name in known else False
        if identifier:
            with self.lock:
                known = _upstream_oidc.providers_of(pool)
            for provider in known.values():
                if identifier in provider.identifiers and provider.name in settings.providers:
                    return provider.name
            return False
        return None

    # ---- /oauth2/authorize ----
    def authorize(self, environ: dict[str, Any]) -> Response:
        """``GET /oauth2/authorize``."""
        request = self._request(query(environ))
        session = self._browser_session(environ, request.pool_id)
        if session is not None and "login" not in request.prompt:
            # The browser signed in to this pool before: Cognito skips the login page.
            return self._issue(request, session.username, session.auth_time)
        if "none" in request.prompt:
            return redirect(
                with_query(
                    request.redirect_uri, {"error": "login_required", "state": request.state}
                )
            )
        if request.identity_provider not in (None, "COGNITO"):
            return self._to_upstream(request, str(request.identity_provider))
        return redirect("/login?" + str(environ.get("QUERY_STRING", "")))

    def _browser_session(self, environ: dict[str, Any], pool_id: str) -> _BrowserSession | None:
        value = cookies(environ).get(cookie_name(pool_id))
        if not value:
            return None
        with self.lock:
            session = self._browsers.get(value)
            if session is None or session.pool_id != pool_id:
                return None
            if self._now() >= session.expires_at:
                del self._browsers[value]
                return None
            pool = _moto.idp().user_pools.get(pool_id)
            user = pool.users.get(session.username) if pool is not None else None
            if user is None or not user.enabled:
                return None
        return session

    def _issue(
        self,
        request: AuthorizeRequest,
        username: str,
        auth_time: float,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        """The redirect that ends a sign-in: the code and the state."""
        code = self.oauth.issue_code(request, username, auth_time)
        return redirect(
            with_query(request.redirect_uri, {"code": code, "state": request.state}), headers
        )

    def _signed_in(self, request: AuthorizeRequest, username: str) -> Response:
        """A new browser session for the pool (its cookie), and the code."""
        now = self._now()
        value = secrets.token_urlsafe(32)
        with self.lock:
            for key in [k for k, v in self._browsers.items() if v.expires_at <= now]:
                del self._browsers[key]
            self._browsers[value] = _BrowserSession(
                request.pool_id, username, now, now + SESSION_SECONDS
            )
        cookie = set_cookie(cookie_name(request.pool_id), value)
        return self._issue(request, username, now, (cookie,))

    # ---- /login ----
    def login(self, environ: dict[str, Any]) -> Response:
        """``GET /login`` shows the sign-in page; ``POST /login`` goes on with it."""
        if method(environ) == "POST":
            return self._login_post(environ)
        request = self._request(query(environ))
        now = self._now()
        session = _LoginSession(secrets.token_urlsafe(32), request, now + _LOGIN_SECONDS)
        with self.lock:
            for key in [k for k, v in self._logins.items() if v.expires_at <= now]:
                del self._logins[key]
            self._logins[session.id] = session
        return self._login_page(session, request.login_hint, None)

    def _login_page(self, session: _LoginSession, username: str, error: str | None) -> Response:
        request = session.request
        with self.lock:
            pool = _moto.pool_by_id(request.pool_id)
            client = pool.clients.get(request.client_id)
            if client is None:
                raise CognitoError("ResourceNotFoundException", "User pool client does not exist.")
            settings = OAuthClient.of(client)
            upstream = _upstream_oidc.providers_of(pool)
        links = []
        for name in settings.providers:
            if name in upstream:
                params = {
                    "client_id": request.client_id,
                    "redirect_uri": request.redirect_uri,
                    "response_type": "code",
                    "scope": " ".join(request.scopes),
                    "identity_provider": name,
                }
                extra = {"state": request.state, "nonce": request.nonce}
                params.update({k: v for k, v in extra.items() if v is not None})
                if request.code_challenge is not None:
                    params["code_challenge"] = request.code_challenge
                    params["code_challenge_method"] = "S256"
                links.append((name, "/oauth2/authorize?" + urlencode(params)))
        markup = pages.login_page(
            csrf=session.id,
            username=username,
            error=error,
            lang=request.lang,
            with_form="COGNITO" in settings.providers,
            providers=links,
            client_name=settings.name,
        )
        return html(200, markup)

    def _login_post(self, environ: dict[str, Any]) -> Response:
        fields = form(environ) or {}
        with self.lock:
            session = self._logins.get(fields.get("_csrf", ""))
            if session is not None and self._now() >= session.expires_at:
                del self._logins[session.id]
                session = None
        if session is None:
            return redirect(error_location("session_expired"))
        request = session.request
        if fields.get("cancel"):
            with self.lock:
                self._logins.pop(session.id, None)
            return redirect(
                with_query(request.redirect_uri, {"error": "access_denied", "state": request.state})
            )
        with self.lock:
            pool = _moto.pool_by_id(request.pool_id)
            if session.stage == "password":
                return self._password(session, pool, fields)
            user = pool.users.get(session.username)
            if user is None or not user.enabled:
                self._logins.pop(session.id, None)
                return html(200, pages.message_page("Sign in", "User does not exist."))
            if session.stage == "new_password":
                return self._new_password(session, pool, user, fields)
            return self._mfa_code(session, pool, user, fields)

    def _password(
        self, session: _LoginSession, pool: _moto.CognitoIdpUserPool, fields: dict[str, str]
    ) -> Response:
        username = fields.get("username", "")
        password = fields.get("password", "")
        user = pool._get_user(username) if username else None
        if (
            user is None
            or user.status == _moto.EXTERNAL_PROVIDER
            # A passwordless user has no password: none signs them in here.
            or not user.password
            or not hmac.compare_digest(str(user.password).encode(), password.encode())
        ):
            return self._login_page(session, username, _WRONG_PASSWORD)
        lang = session.request.lang
        if not user.enabled:
            self._logins.pop(session.id, None)
            return html(200, pages.message_page("Sign in", "User is disabled.", lang))
        status = str(getattr(user.status, "value", user.status))
        if status == "UNCONFIRMED":
            self._logins.pop(session.id, None)
            return html(
                200,
                pages.message_page(
                    "User is not confirmed",
                    "User is not confirmed. Confirm the account with the code that was sent,"
                    " then sign in again.",
                    lang,
                ),
            )
        if status == "RESET_REQUIRED":
            self._logins.pop(session.id, None)
            return html(
                200,
                pages.message_page("Sign in", "Password reset required for the user.", lang),
            )
        session.username = user.username
        if status == "FORCE_CHANGE_PASSWORD":
            issued = self.auth.temp_password_issued.get((pool.id, user.username))
            if issued is not None and self._now() > issued + _TEMP_PASSWORD_SECONDS:
                self._logins.pop(session.id, None)
                return html(
                    200,
                    pages.message_page(
                        "Sign in",
                        "Temporary password has expired and must be reset by an administrator.",
                        lang,
                    ),
                )
            session.stage = "new_password"
            return self._new_password_page(session, None)
        return self._after_password(session, pool, user)

    def _new_password_page(self, session: _LoginSession, error: str | None) -> Response:
        markup = pages.new_password_page(
            csrf=session.id, username=session.username, error=error, lang=session.request.lang
        )
        return html(200, markup)

    def _new_password(
        self,
        session: _LoginSession,
        pool: _moto.CognitoIdpUserPool,
        user: _moto.CognitoIdpUser,
        fields: dict[str, str],
    ) -> Response:
        new = fields.get("new_password", "")
        if not hmac.compare_digest(new.encode(), fields.get("confirm_password", "").encode()):
            return self._new_password_page(session, "Passwords do not match.")
        policy = (pool.extended_config.get("Policies") or {}).get("PasswordPolicy") or {}
        problem = _moto.password_policy_problem(policy, new)
        if problem is not None:
            return self._new_password_page(
                session, f"Password does not conform to policy: {problem}"
            )
        user.password = new
        user.status = _moto.UserStatus.CONFIRMED
        self.auth.temp_password_issued.pop((pool.id, user.username), None)
        return self._after_password(session, pool, user)

    def _after_password(
        self,
        session: _LoginSession,
        pool: _moto.CognitoIdpUserPool,
        user: _moto.CognitoIdpUser,
    ) -> Response:
        """MFA as the user-pool API would ask for it, or the end of the sign-in."""
        mode = pool.mfa_config or "OFF"
        lang = session.request.lang
        if mode in ("ON", "OPTIONAL"):
            phone = user.attribute_lookup.get("phone_number")
            sms_ok = bool(user.sms_mfa_enabled and phone)
            totp_ok = bool(
                user.software_token_mfa_enabled and (pool.id, user.username) in self.auth.totp
            )
            use: Stage | None = None
            if sms_ok and totp_ok:
                use = "sms_mfa" if user.preferred_mfa_setting == "SMS_MFA" else "totp"
            elif totp_ok:
                use = "totp"
            elif sms_ok or (mode == "ON" and phone and pool.sms_mfa_config):
                use = "sms_mfa"
            elif mode == "ON":
                # Setting up an authenticator (a QR code) is not emulated on these pages.
                self._logins.pop(session.id, None)
                return html(
                    200,
                    pages.message_page(
                        "MFA setup required",
                        "This user must set up multi-factor authentication before signing in"
                        " here: sign in once through the app (AssociateSoftwareToken), then"
                        " come back.",
                        lang,
                    ),
                )
            if use is not None:
                session.stage = use
                if use == "sms_mfa":
                    self.codes.issue(pool.id, user.username, "sms_mfa", str(phone))
                return self._code_page(session, user, None)
        self._logins.pop(session.id, None)
        return self._signed_in(session.request, user.username)

    def _code_page(
        self, session: _LoginSession, user: _moto.CognitoIdpUser, error: str | None
    ) -> Response:
        markup = pages.code_page(
            csrf=session.id,
            kind="SMS" if session.stage == "sms_mfa" else "TOTP",
            destination=mask(user.attribute_lookup.get("phone_number", "")),
            error=error,
            lang=session.request.lang,
        )
        return html(200, markup)

    def _mfa_code(
        self,
        session: _LoginSession,
        pool: _moto.CognitoIdpUserPool,
        user: _moto.CognitoIdpUser,
        fields: dict[str, str],
    ) -> Response:
        code = fields.get("code", "").strip()
        if session.stage == "sms_mfa":
            try:
                self.codes.check(pool.id, user.username, "sms_mfa", code)
            except CognitoError as error:
                if error.code != "CodeMismatchException":
                    self._logins.pop(session.id, None)
                    return html(200, pages.message_page("Sign in", error.message))
                return self._code_page(session, user, "Invalid code received for user")
        else:
            secret = self.auth.totp.get((pool.id, user.username), "")
            valid = bool(secret and code) and pyotp.TOTP(secret).verify(
                code, for_time=self._now(), valid_window=1
            )
            if not valid:
                return self._code_page(session, user, "Invalid code received for user")
        self._logins.pop(session.id, None)
        return self._signed_in(session.request, user.username)

    # ---- /logout ----
    def logout(self, environ: dict[str, Any]) -> Response:
        """``GET /logout``: end the browser's session of the client's pool."""
        params = query(environ)
        with self.lock:
            pool, client, settings = self._client(params)
        logout_uri = params.get("logout_uri")
        if logout_uri:
            if logout_uri not in settings.logout_urls:
                return redirect(error_location("logout_mismatch", client.id))
            # Cognito ignores every other parameter when logout_uri is given.
            return redirect(logout_uri, self._end_session(environ, pool.id))
        if params.get("redirect_uri"):
            self._request(params)
            location = "/login?" + str(environ.get("QUERY_STRING", ""))
            return redirect(location, self._end_session(environ, pool.id))
        return redirect(error_location("invalid_request", client.id))

    def _end_session(self, environ: dict[str, Any], pool_id: str) -> tuple[tuple[str, str]]:
        name = cookie_name(pool_id)
        value = cookies(environ).get(name)
        if value:
            with self.lock:
                self._browsers.pop(value, None)
        return (clear_cookie(name),)

    # ---- /error ----
    def error(self, environ: dict[str, Any]) -> Response:
        """``GET /error``: the error page (only known errors are named)."""
        error = query(environ).get("error", "")
        if error not in _ERROR_TEXT:
            error = "invalid_request"
        return html(400, pages.error_page(error, _ERROR_TEXT[error]))

    # ---- upstream identity providers ----
    def _to_upstream(self, request: AuthorizeRequest, name: str) -> Response:
        with self.lock:
            provider = _upstream_oidc.providers_of(_moto.pool_by_id(request.pool_id)).get(name)
        if provider is None:
            return self._upstream_failed(
                request, _upstream_oidc.UpstreamError(f"{name} is not an identity provider")
            )
        try:
            discovery = _upstream_oidc.discover(provider)
        except _upstream_oidc.UpstreamError as error:
            return self._upstream_failed(request, error)
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        now = self._now()
        with self.lock:
            for key in [k for k, v in self._upstream.items() if v.expires_at <= now]:
                del self._upstream[key]
            self._upstream[state] = _UpstreamSignIn(request, name, nonce, now + _LOGIN_SECONDS)
        location = _upstream_oidc.authorize_url(
            provider, discovery, self._idp_response_uri(), state, nonce
        )
        return redirect(location, (set_cookie(_UPSTREAM_COOKIE, state),))

    def _idp_response_uri(self) -> str:
        return f"{self.base_url()}/oauth2/idpresponse"

    def _upstream_failed(
        self, request: AuthorizeRequest, error: _upstream_oidc.UpstreamError
    ) -> Response:
        return redirect(
            with_query(
                request.redirect_uri,
                {
                    "error": error.error,
                    "error_description": error.description,
                    "state": request.state,
                },
            )
        )

    def idp_response(self, environ: dict[str, Any]) -> Response:
        """``GET /oauth2/idpresponse``: the upstream provider's answer."""
        params = query(environ)
        state = params.get("state") or cookies(environ).get(_UPSTREAM_COOKIE, "")
        with self.lock:
            pending = self._upstream.pop(state, None)
        if pending is None or self._now() >= pending.expires_at:
            return redirect(error_location("invalid_state"))
        response = self._upstream_answer(pending, params)
        return attrs.evolve(response, headers=(*response.headers, clear_cookie(_UPSTREAM_COOKIE)))

    def _upstream_answer(self, pending: _UpstreamSignIn, params: dict[str, str]) -> Response:
        request = pending.request
        if params.get("error"):
            # The upstream's refusal (access_denied...) reaches the app with its own state.
            return redirect(
                with_query(
                    request.redirect_uri,
                    {
                        "error": params["error"],
                        "error_description": params.get("error_description") or None,
                        "state": request.state,
                    },
                )
            )
        code = params.get("code", "")
        with self.lock:
            pool = _moto.pool_by_id(request.pool_id)
            provider = _upstream_oidc.providers_of(pool).get(pending.provider)
        if not code or provider is None:
            return self._upstream_failed(
                request, _upstream_oidc.UpstreamError("The identity provider sent no code")
            )
        try:
            discovery = _upstream_oidc.discover(provider)
            answer = _upstream_oidc.exchange(provider, discovery, code, self._idp_response_uri())
            claims = _upstream_oidc.verify_id_token(
                provider, discovery, str(answer["id_token"]), pending.nonce
            )
            access = answer.get("access_token")
            info = _upstream_oidc.user_info(
                provider, discovery, access if isinstance(access, str) else None
            )
        except _upstream_oidc.UpstreamError as error:
            return self._upstream_failed(request, error)
        if info.get("sub", claims["sub"]) != claims["sub"]:
            return self._upstream_failed(
                request, _upstream_oidc.UpstreamError(f"{provider.name} Error - userInfo sub")
            )
        attributes = _upstream_oidc.mapped_attributes(provider, {**claims, **info})
        with self.lock:
            user = _moto.federated_user(
                pool, provider.name, "OIDC", str(claims["sub"]), attributes, self._now()
            )
            if not user.enabled:
                return self._upstream_failed(
                    request, _upstream_oidc.UpstreamError("User is disabled.")
                )
        return self._signed_in(request, user.username)


def _scopes(asked: str | None, allowed: tuple[str, ...]) -> tuple[str, ...] | None:
    """The scopes granted: all the client's when none are asked for; ``None`` when one asked
    for is not the client's, or an OpenID scope comes without ``openid``."""
    if not asked or not asked.strip():
        return allowed
    scopes = tuple(dict.fromkeys(asked.split()))
    if not set(scopes) <= set(allowed):
        return None
    if {"email", "phone", "profile"} & set(scopes) and "openid" not in scopes:
        return None
    return scopes
