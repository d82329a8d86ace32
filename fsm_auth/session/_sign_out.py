"""The server's side of a sign-out: which user-pool calls end a session there, and what
became of each. The local sign-out never depends on them: a call that fails is logged and
reported, never raised."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fsm_auth.errors import AuthError
from fsm_auth.provider import UserPoolProvider
from fsm_auth.values import Tokens

__all__ = ["end_browser_session", "sign_out_at_server"]

_log = logging.getLogger("fsm_auth.session")


def sign_out_at_server(
    user_pool: UserPoolProvider,
    tokens: Tokens,
    access_token: Callable[[], str],
    *,
    global_sign_out: bool,
    invalidate_tokens: bool,
    revoke_token: Callable[[str], None] | None = None,
) -> tuple[AuthError | None, AuthError | None]:
    """End ``tokens``' session at the server as asked; returns the errors of the global
    sign-out and of the revocation (``None`` for a step that worked or was not needed).

    ``global_sign_out`` ends the user's sessions on every device (GlobalSignOut, with a fresh
    ``access_token()``); ``invalidate_tokens`` revokes this session's refresh token, unless a
    global sign-out that worked already did (it revokes every refresh token of the user), with
    ``revoke_token`` when given (a hosted-UI session's ``/oauth2/revoke``), else the user
    pool's RevokeToken.
    """
    revoke = revoke_token or user_pool.revoke_token
    global_error = None
    if global_sign_out:
        global_error = _step(
            "the global sign-out failed", lambda: user_pool.global_sign_out(access_token())
        )
    refresh_token = tokens.refresh_token
    revoke_error = None
    if invalidate_tokens and refresh_token and (not global_sign_out or global_error):
        revoke_error = _step(
            "this session's refresh token was not revoked",
            lambda: revoke(refresh_token),
        )
    return global_error, revoke_error


def _step(what: str, call: Callable[[], None]) -> AuthError | None:
    try:
        call()
    except AuthError as exc:
        _log.warning("Signing out locally; %s at the server: %s", what, exc)
        return exc
    return None


def end_browser_session(end: Callable[[], None]) -> AuthError | None:
    """Open the hosted UI's ``/logout`` (``end``) after a hosted-UI session's local sign-out,
    so the browser's session there ends too; its error, reported, never raised."""
    return _step("the browser's hosted-UI session was not ended", end)
