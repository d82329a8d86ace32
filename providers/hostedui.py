"""The built-in ``hostedui`` provider: Cognito's hosted UI, in the system browser.

OAuth 2.0 authorization code with PKCE (S256), ``state`` and ``nonce``, and a loopback redirect
(RFC 8252): the flow (:meth:`HostedUIProvider.sign_in`) is free of I/O, like a user pool's; its
two steps are the browser leg (``authorize``: listen on the redirect URI, open the page, wait
for the one redirect) and the code exchange (``token``). Authlib does the protocol's pieces
(the S256 challenge, the authorization URL, the token and revocation requests with client
authentication): no hand-written PKCE, URL or Basic-auth code. The tokens are the user pool's;
the client verifies and refreshes them with the user-pool provider.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import webbrowser
from collections.abc import Callable, Mapping
from typing import Any

from fsm_auth.errors import ConfigError, HostedUIError, NetworkError
from fsm_auth.hosted_ui._config import HostedUIConfig, hosted_ui_config
from fsm_auth.hosted_ui._listener import RedirectListener
from fsm_auth.hosted_ui._protocol import (
    AuthorizationRequest,
    authorization_request,
    code_from_redirect,
    logout_url,
    tokens_from_answer,
)
from fsm_auth.provider import ProviderContext
from fsm_auth.signin import ServiceCall, SignedIn, SignInFlow
from fsm_auth.values import HostedUIOptions

__all__ = ["HostedUIProvider", "default_open_browser"]

_log = logging.getLogger("fsm_auth.hosted_ui")


def default_open_browser(url: str) -> bool:
    """Open ``url`` in the system browser (:func:`webbrowser.open`); where there is none (a
    server over SSH), print it for the user to open elsewhere."""
    opened = False
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        print(f"Open this page in a browser to go on:\n  {url}", file=sys.stderr)
    return opened


class HostedUIProvider:
    """Sign-in, revocation and sign-out through the hosted UI of the configured user pool."""

    def __init__(self, context: ProviderContext) -> None:
        self._context = context
        self._config: HostedUIConfig | None = None
        self._lock = threading.Lock()
        # The page opener and options of the last sign-in: sign_out() opens /logout with them
        # (after a restart, the system browser and no extra parameters).
        self._last_options: HostedUIOptions | None = None

    @property
    def config(self) -> HostedUIConfig:
        """The hosted UI's settings (read from the configuration on first use)."""
        with self._lock:
            if self._config is None:
                self._config = hosted_ui_config(self._context.config)
            return self._config

    # -- sign-in ---------------------------------------------------------------------------

    def sign_in(self, options: HostedUIOptions) -> SignInFlow:
        """See :class:`fsm_auth.provider.HostedUIProvider`."""
        config = self.config
        request = authorization_request(config, options)
        redirect = yield ServiceCall(
            "authorize",
            {"request": request, "options": options},
            secrets=(request.state, request.code_verifier, request.nonce),
        )
        code = code_from_redirect(redirect, request)
        answer = yield ServiceCall(
            "token",
            {"code": code, "request": request, "timeout": options.timeout},
            secrets=(code, request.code_verifier),
        )
        return SignedIn(tokens_from_answer(answer), route="hosted_ui", nonce=request.nonce)

    def perform(self, call: ServiceCall) -> Mapping[str, Any]:
        """See :class:`fsm_auth.provider.HostedUIProvider`."""
        if call.operation == "authorize":
            return self._authorize(call.params["request"], call.params["options"])
        if call.operation == "token":
            return self._exchange(call.params["code"], call.params["request"])
        raise HostedUIError(f"unknown hosted-UI step {call.operation!r}", code="invalid_request")

    def _authorize(
        self, request: AuthorizationRequest, options: HostedUIOptions
    ) -> Mapping[str, str]:
        """Listen on the redirect URI, show the page, and wait for the one redirect."""
        opener = options.open_browser or default_open_browser
        with RedirectListener(request.redirect_uri) as listener:
            _open(opener, request.url, "the hosted UI's sign-in page")
            redirect = listener.wait(options.timeout)
        self._last_options = options
        return redirect

    def _exchange(self, code: str, request: AuthorizationRequest) -> Mapping[str, Any]:
        """The code for tokens at ``/oauth2/token`` (with the PKCE verifier)."""
        with self._session(request.redirect_uri) as session:
            answer: Mapping[str, Any] = _oauth_call(
                "The token endpoint",
                lambda: session.fetch_token(
                    self.config.token_url,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=request.code_verifier,
                    redirect_uri=request.redirect_uri,
                ),
            )
        return answer

    # -- sign-out --------------------------------------------------------------------------

    def revoke_token(self, refresh_token: str) -> None:
        """See :class:`fsm_auth.provider.HostedUIProvider`."""
        with self._session(None) as session:
            response = _oauth_call(
                "The revocation endpoint",
                lambda: session.revoke_token(
                    self.config.revoke_url, token=refresh_token, token_type_hint="refresh_token"
                ),
            )
        if response.status_code != 200:
            error = "invalid_request"
            with contextlib.suppress(ValueError):
                error = str(response.json().get("error") or error)
            raise HostedUIError(
                f"The revocation endpoint refused (HTTP {response.status_code})", code=error
            )

    def end_browser_session(self) -> None:
        """See :class:`fsm_auth.provider.HostedUIProvider`."""
        options = self._last_options
        url = logout_url(self.config, options)
        if url is None:
            raise ConfigError(
                "No sign-out redirect URI is configured (OAuth SignOutRedirectURI / "
                "redirect_sign_out_uri): the browser's hosted-UI session was not ended"
            )
        opener = (options.open_browser if options else None) or default_open_browser
        _open(opener, url, "the hosted UI's logout page")

    # -- requests --------------------------------------------------------------------------

    def _session(self, redirect_uri: str | None) -> Any:
        from authlib.integrations.requests_client import OAuth2Session

        config = self.config
        return OAuth2Session(
            client_id=config.client_id,
            client_secret=config.client_secret,
            redirect_uri=redirect_uri,
            default_timeout=(self._context.retry.connect_timeout, self._context.retry.read_timeout),
        )


def _open(opener: Callable[[str], object], url: str, what: str) -> None:
    try:
        opener(url)
    except Exception as exc:
        raise HostedUIError(
            f"Could not open {what}: {type(exc).__name__}", code="browser_unavailable"
        ) from None


def _oauth_call(what: str, call: Callable[[], Any]) -> Any:
    """``call()``, its failures as the library's errors (no token or code in any text)."""
    import requests
    from authlib.common.errors import AuthlibBaseError

    try:
        return call()
    except AuthlibBaseError as exc:
        code = str(exc.error or "invalid_request")
        raise HostedUIError(f"{what} refused: {code}", code=code) from None
    except requests.Timeout:
        raise NetworkError(f"{what} did not answer in time") from None
    except requests.RequestException as exc:
        response = getattr(exc, "response", None)
        if response is not None:
            raise HostedUIError(
                f"{what} answered HTTP {response.status_code}", code="server_error"
            ) from None
        raise NetworkError(f"{what} could not be reached ({type(exc).__name__})") from None
    except ValueError:
        raise HostedUIError(
            f"{what} answered something that is not JSON", code="server_error"
        ) from None
