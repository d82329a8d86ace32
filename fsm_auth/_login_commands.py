"""``fsm-auth login`` and ``fsm-auth logout``: interactive sign-in and sign-out of the session a
configuration's apps share (the same store ``whoami`` and ``credentials`` read).

``login`` runs the drop-in terminal UI, or the hosted UI in the browser (``--hosted-ui``;
``--provider NAME`` signs in with that identity provider of the user pool); it exits 0 signed
in, 1 refused or cancelled, with one line saying why and no traceback. ``logout`` signs out
(``--global``: on every device) and exits 0; a server-side step that failed is reported on
stderr, since the local session has ended anyway.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, TextIO

from fsm_auth._credential_process import _add_session_arguments, _failed, config_path
from fsm_auth.errors import AuthError, SignInCancelledError

if TYPE_CHECKING:
    from fsm_auth.client import AuthClient

__all__ = [
    "add_login_arguments",
    "add_logout_arguments",
    "run_login",
    "run_login_command",
    "run_logout",
    "run_logout_command",
]


def add_login_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``fsm-auth login``."""
    parser.add_argument(
        "--hosted-ui",
        action="store_true",
        help="sign in through the hosted UI in the browser instead of the terminal",
    )
    parser.add_argument(
        "--provider",
        metavar="NAME",
        default=None,
        help="the hosted UI's identity provider (Google, a SAML or OIDC provider's name); "
        "implies --hosted-ui",
    )
    _add_session_arguments(parser)


def add_logout_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``fsm-auth logout``."""
    parser.add_argument(
        "--global",
        dest="global_sign_out",
        action="store_true",
        help="also end the user's sessions on every other device",
    )
    _add_session_arguments(parser)


def run_login_command(args: argparse.Namespace) -> int:
    """Run ``fsm-auth login`` with parsed ``args``."""
    return run_login(
        config=args.config,
        storage_dir=args.storage_dir,
        hosted_ui=bool(args.hosted_ui),
        provider=args.provider,
        out=sys.stdout,
        err=sys.stderr,
    )


def run_logout_command(args: argparse.Namespace) -> int:
    """Run ``fsm-auth logout`` with parsed ``args``."""
    return run_logout(
        config=args.config,
        storage_dir=args.storage_dir,
        global_sign_out=bool(args.global_sign_out),
        out=sys.stdout,
        err=sys.stderr,
    )


def run_login(
    *,
    config: str | os.PathLike[str] | None,
    storage_dir: str | os.PathLike[str] | None,
    hosted_ui: bool,
    provider: str | None,
    out: TextIO,
    err: TextIO,
) -> int:
    """Sign in interactively; 0 signed in, 1 refused or cancelled (one line on ``err``)."""
    from fsm_auth.values import HostedUIOptions

    options = None
    if hosted_ui or provider is not None:
        options = HostedUIOptions(identity_provider=provider)
    try:
        with _client(config, storage_dir) as client:
            try:
                client.show_sign_in(hosted_ui=options)
            except KeyboardInterrupt:
                # Ctrl-C while the browser is open: the sign-in is abandoned, nothing changed.
                raise SignInCancelledError("The sign-in was cancelled") from None
            if options is not None:  # the terminal UI says it itself
                out.write(f"Signed in as {client.username}.\n")
    except AuthError as exc:
        return _failed("login", exc, err)
    out.flush()
    return 0


def run_logout(
    *,
    config: str | os.PathLike[str] | None,
    storage_dir: str | os.PathLike[str] | None,
    global_sign_out: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """Sign out; 0 once the local session has ended (what the server did not do is reported
    on ``err``), 1 when the configuration or the store cannot be used."""
    try:
        with _client(config, storage_dir) as client:
            # The saved session first (no network call): before it, no user is known, and
            # the line below would not name the user signed out.
            client.initialize()
            who = client.username
            result = client.sign_out(global_sign_out=global_sign_out)
    except AuthError as exc:
        return _failed("logout", exc, err)
    out.write(f"Signed out{f' {who}' if who else ''}.\n")
    out.flush()
    for what, error in (
        ("the sign-out on every device", result.global_sign_out_error),
        ("revoking this session's refresh token", result.revoke_error),
        ("ending the browser's hosted-UI session", result.hosted_ui_error),
        ("saving the signed-out state", result.store_error),
    ):
        if error is not None:
            message = " ".join(str(error).split())
            err.write(f"fsm-auth logout: warning: {what} failed: {message}\n")
    return 0


def _client(
    config: str | os.PathLike[str] | None, storage_dir: str | os.PathLike[str] | None
) -> AuthClient:
    from fsm_auth.client import AuthClient

    return AuthClient.from_config(
        config_path(config),
        storage_dir=os.fspath(storage_dir) if storage_dir is not None else None,
    )
