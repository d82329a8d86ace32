"""``fsm-auth credentials``: the session's AWS credentials for an AWS CLI or SDK profile; and
``fsm-auth whoami``: who the saved session is, with no network call and no secret.

With ``--json`` it prints the document of AWS's ``credential_process`` protocol, so that a
profile such as::

    [profile app-user]
    credential_process = fsm-auth credentials --json --config /path/awsconfiguration.json

uses the signed-in user's credentials (or the guest's, when guest access is on). It restores
the stored session, never waits for a sign-in, and exits 1 with a one-line error (never a
secret) when there are no credentials to give. Without ``--json`` it prints a summary with no
secret in it.

Both run on every ``aws ...`` command of a profile, so their path imports only what a saved
session needs: no boto3/botocore (the transport is imported by the first network call), no OS
keyring when the store's note says its key is in its key file, no entry-point scan for the
built-in providers, and no thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from fsm_auth._saved_credentials import (
    note_configuration,
    process_document,
    saved_credentials_document,
)
from fsm_auth.errors import AuthError

if TYPE_CHECKING:
    from fsm_auth.client import AuthClient
    from fsm_auth.values import AWSCredentials

__all__ = [
    "CONFIG_ENV",
    "add_credentials_arguments",
    "add_whoami_arguments",
    "config_path",
    "credential_process_document",
    "run_credentials",
    "run_credentials_command",
    "run_whoami",
    "run_whoami_command",
    "whoami_document",
]

CONFIG_ENV = "FSM_AUTH_CONFIG"
"""The environment variable naming the configuration file when ``--config`` is not given."""

_DEFAULT_CONFIG = "awsconfiguration.json"


def credential_process_document(credentials: AWSCredentials) -> dict[str, Any]:
    """The ``credential_process`` document (Version 1) for ``credentials``."""
    return process_document(
        credentials.access_key_id,
        credentials.secret_access_key,
        credentials.session_token,
        credentials.expiration,
    )


def config_path(given: str | os.PathLike[str] | None) -> str | os.PathLike[str]:
    """The configuration a command uses: ``--config`` if given, else ``./awsconfiguration.json``
    if it exists, else ``$FSM_AUTH_CONFIG`` if set, else ``awsconfiguration.json`` (whose
    absence the error then names)."""
    if given:
        return given
    if os.path.exists(_DEFAULT_CONFIG):
        return _DEFAULT_CONFIG
    return os.environ.get(CONFIG_ENV) or _DEFAULT_CONFIG


def add_credentials_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``fsm-auth credentials``."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the AWS credential_process document (Version 1); without it, a summary "
        "with no secret",
    )
    _add_session_arguments(parser)
    parser.add_argument(
        "--endpoint-url", default=None, help="override every Cognito endpoint of the config"
    )


def _add_session_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help=f"the client configuration file (default: ./{_DEFAULT_CONFIG} if it exists, "
        f"else ${CONFIG_ENV})",
    )
    parser.add_argument(
        "--storage-dir",
        default=None,
        help="where the session is stored (default: the platform's user data directory)",
    )


def add_whoami_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``fsm-auth whoami``."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (state, username, expiration, identity_id)",
    )
    _add_session_arguments(parser)


def run_credentials_command(args: argparse.Namespace) -> int:
    """Run ``fsm-auth credentials`` with parsed ``args``; prints to stdout and stderr."""
    return run_credentials(
        config=args.config,
        storage_dir=args.storage_dir,
        endpoint_url=getattr(args, "endpoint_url", None),
        as_json=bool(args.json),
        out=sys.stdout,
        err=sys.stderr,
    )


def run_credentials(
    *,
    config: str | os.PathLike[str] | None,
    storage_dir: str | os.PathLike[str] | None,
    out: TextIO,
    err: TextIO,
    as_json: bool = True,
    endpoint_url: str | None = None,
) -> int:
    """Print the stored session's AWS credentials to ``out``; returns the exit code.

    With ``as_json``, a saved session whose credentials are good is served from the session
    file (:mod:`fsm_auth._saved_credentials`: the same answer, without building a client).
    Otherwise it restores the session (``initialize()``), asks for credentials without waiting
    for a sign-in, and on failure writes one line to ``err`` and returns 1.
    """
    source = config_path(config)
    if as_json:
        saved = saved_credentials_document(source, storage_dir, endpoint_url)
        if saved is not None:
            out.write(json.dumps(saved) + "\n")
            out.flush()
            return 0
    from fsm_auth.client import AuthClient
    from fsm_auth.config import load_config
    from fsm_auth.session import FileSessionStore

    try:
        configuration = load_config(source, endpoint_url=endpoint_url)
        store = FileSessionStore(storage_dir)
        with AuthClient(configuration, store=store) as client:
            client.initialize()
            credentials = client.get_aws_credentials(wait=False)
            identity_id = client.get_identity_id() if not as_json else None
            state = client.current_user_state
        # For the next run's saved-session read path: which session this configuration's is.
        note_configuration(store.directory, source, endpoint_url, configuration)
    except AuthError as exc:
        return _failed("credentials", exc, err)
    if as_json:
        out.write(json.dumps(credential_process_document(credentials)) + "\n")
    else:
        out.write(
            f"state: {state}\nidentity id: {identity_id}\n"
            f"access key id: {credentials.access_key_id[:4]}…\n"
            f"expires: {credentials.expiration.isoformat()}\n"
        )
    out.flush()
    return 0


def whoami_document(client: AuthClient) -> dict[str, Any]:
    """Who ``client``'s restored session is: ``state`` (a :class:`~fsm_auth.UserState` value),
    ``username``, ``expiration`` (the user pool tokens' expiry, ISO 8601 UTC) and
    ``identity_id``; ``None`` where unknown. Read from the session record: no network call,
    and no token, key or credential in it."""
    # The record is read directly (not get_tokens()/get_identity_id()): those may refresh or
    # ask the identity pool, and whoami must never make a request.
    from fsm_auth.session import FederatedSession, UserPoolSession
    from fsm_auth.values import UserState

    record = client._session.record  # a read-only view of the record the machine owns
    state = client.current_user_state
    user = record.user
    expiration: str | None = None
    identity_id: str | None = None
    if isinstance(user, UserPoolSession):
        expiration = user.tokens.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
        identity_id = user.identity.identity_id
    elif isinstance(user, FederatedSession):
        identity_id = user.identity.identity_id or user.identity_id
    elif state is UserState.GUEST:
        identity_id = record.guest.identity_id
    return {
        "state": state.value,
        "username": record.username,
        "expiration": expiration,
        "identity_id": identity_id,
    }


def run_whoami_command(args: argparse.Namespace) -> int:
    """Run ``fsm-auth whoami`` with parsed ``args``; prints to stdout and stderr."""
    return run_whoami(
        config=args.config,
        storage_dir=args.storage_dir,
        as_json=bool(args.json),
        out=sys.stdout,
        err=sys.stderr,
    )


def run_whoami(
    *,
    config: str | os.PathLike[str] | None,
    storage_dir: str | os.PathLike[str] | None,
    out: TextIO,
    err: TextIO,
    as_json: bool = False,
) -> int:
    """Print who the saved session is (see :func:`whoami_document`) to ``out``; returns the exit
    code. Restores the session (``initialize()``, no network call); an error writes one line to
    ``err`` and returns 1. No session is not an error: the state says ``signedOut``."""
    from fsm_auth.client import AuthClient

    source = config_path(config)
    try:
        with AuthClient.from_config(
            source, storage_dir=os.fspath(storage_dir) if storage_dir is not None else None
        ) as client:
            client.initialize()
            document = whoami_document(client)
    except AuthError as exc:
        return _failed("whoami", exc, err)
    if as_json:
        out.write(json.dumps(document) + "\n")
    else:
        out.write(
            "".join(
                f"{label}: {'-' if document[key] is None else document[key]}\n"
                for label, key in (
                    ("state", "state"),
                    ("username", "username"),
                    ("expiration", "expiration"),
                    ("identity id", "identity_id"),
                )
            )
        )
    out.flush()
    return 0


def _failed(command: str, exc: AuthError, err: TextIO) -> int:
    """Write ``exc`` to ``err`` as one line for the calling SDK or terminal; exit code 1.
    (AuthError texts are scrubbed of secrets.)"""
    message = " ".join(str(exc).split())
    err.write(f"fsm-auth {command}: error: {type(exc).__name__}: {message}\n")
    return 1
