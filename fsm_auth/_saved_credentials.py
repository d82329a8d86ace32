"""The saved-session read path of ``fsm-auth credentials --json``.

The AWS CLI and every AWS SDK run a profile's ``credential_process`` on every command, so what
that process costs is added to each ``aws ...`` call. On a saved session whose AWS credentials
are still good, the answer is in the session file: this module reads it there without building
a client, that is without attrs, the ``transitions`` engine, PyJWT or boto3 (about a third of a
full client's start). It never writes the session, never makes a request and never decides
anything the full client would decide differently: whenever it is not certain, it answers
``None`` and the command builds the client as before.

What it reads, and why each is enough:

- **Which session.** The store scopes sessions by a key derived from the parsed configuration
  (``AuthConfig.config_key``). Parsing a configuration needs the configuration module (attrs),
  so the full path leaves a *configuration note* in the session directory,
  ``config.<hash>.json`` (owner-only, atomic, like the store's key-source note): the key and the
  two facts about the identity pool the restore depends on, named by the SHA-256 of the
  configuration file's bytes (and of ``--endpoint-url``). A note is a cache of what the parser
  made of those exact bytes: an edited file has another hash, so a note is never read stale.
  No note (the first run, another storage directory): the full path, which writes it.
- **The file.** The same :class:`~fsm_auth.session.FileSessionStore` read as the client's:
  AES-GCM, the configuration bound in the associated data, owner checks, no keyring probe when
  the store's note says its key is in its key file.
- **The decision.** The spec decides, as in the client: the state ``restore`` reaches from
  ``unknown`` with the guards ``has_user`` and ``guest_access_enabled`` evaluated on the saved
  document, and that state's ``credentials`` policy, read from the spec's compiled twin
  (:mod:`fsm_auth.engine._twin`). ``serve_user`` serves the user's saved credentials,
  ``serve_guest`` the guest's; any other answer, a spec it cannot read, or credentials that
  :func:`~fsm_auth.session._validity.servable` refuses send the command to the full path.
- **The tokens.** The client re-verifies saved tokens' signatures on restore, against the keys
  saved with them; those tokens were verified before they were saved, and the record cannot
  be changed without the AES-GCM tag failing, so the outcome is the same and this path does not
  repeat it. ``tests/cli/test_saved_credentials.py`` checks that both paths give the same
  answer for sessions drawn at random.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsm_auth.session._guest_rules import (
    guest_access_enabled,
    keeps_guest_credentials,
    saved_guest_access,
)
from fsm_auth.session._keys import UntrustedFileError, read_owner_only, write_atomic
from fsm_auth.session._store import FileSessionStore, read_quietly
from fsm_auth.session._validity import DEFAULT_MIN_VALIDITY, servable

if TYPE_CHECKING:
    from fsm_auth.config import AuthConfig

__all__ = ["note_configuration", "process_document", "saved_credentials_document"]

_log = logging.getLogger("fsm_auth.session")

_NOTE_FORMAT = 1
_NOTE_MAX_BYTES = 4096
# A configuration file larger than this is not noted (the full path reads it every time);
# real ones are a few KiB.
_CONFIG_MAX_BYTES = 1024 * 1024
_SPEC = "user_state"


def _note_path(directory: Path, config_bytes: bytes, endpoint_url: str | None) -> Path:
    digest = hashlib.sha256()
    digest.update(b"fsm-auth configuration note 1\0")
    digest.update(hashlib.sha256(config_bytes).digest())
    digest.update((endpoint_url or "").encode("utf-8", "surrogatepass"))
    return directory / f"config.{digest.hexdigest()[:32]}.json"


def _read_config_bytes(config_file: str | os.PathLike[str]) -> bytes | None:
    try:
        with open(config_file, "rb") as stream:
            raw = stream.read(_CONFIG_MAX_BYTES + 1)
    except OSError:
        return None
    return raw if len(raw) <= _CONFIG_MAX_BYTES else None


def note_configuration(
    directory: Path,
    config_file: str | os.PathLike[str],
    endpoint_url: str | None,
    config: AuthConfig,
) -> None:
    """Leave the configuration note for ``config``, which the full path parsed from
    ``config_file`` (with ``endpoint_url``), in the session directory ``directory``. Best
    effort: a directory that cannot take it (read-only, missing) only makes the next run take
    the full path again."""
    raw = _read_config_bytes(config_file)
    if raw is None or not directory.is_dir():
        return
    pool = config.identity_pool
    note = {
        "format": _NOTE_FORMAT,
        "config_key": config.config_key,
        "identity_pool": pool is not None,
        "guest_access": bool(pool is not None and pool.unauthenticated_identities_enabled),
    }
    path = _note_path(directory, raw, endpoint_url)
    text = json.dumps(note, separators=(",", ":")).encode("ascii")
    try:
        if read_owner_only(path, _NOTE_MAX_BYTES).data == text:
            return  # already noted: no write on the hot path
    except (FileNotFoundError, UntrustedFileError):
        pass
    try:
        write_atomic(path, text)
    except OSError as exc:
        _log.debug("Cannot note the configuration in %s: %s", directory, exc.strerror)


def _read_note(path: Path) -> Mapping[str, Any] | None:
    try:
        note = json.loads(read_owner_only(path, _NOTE_MAX_BYTES).data)
    except (FileNotFoundError, UntrustedFileError, ValueError):
        return None
    if (
        not isinstance(note, dict)
        or note.get("format") != _NOTE_FORMAT
        or not isinstance(note.get("config_key"), str)
        or not isinstance(note.get("identity_pool"), bool)
        or not isinstance(note.get("guest_access"), bool)
    ):
        return None
    return note


def saved_credentials_document(
    config_file: str | os.PathLike[str],
    storage_dir: str | os.PathLike[str] | None,
    endpoint_url: str | None = None,
    *,
    now: float | None = None,
) -> dict[str, Any] | None:
    """The ``credential_process`` document (Version 1) that a client built from
    ``config_file`` with the session in ``storage_dir`` (``None``: the default directory)
    would serve without a request, read from the saved session; ``None`` when this path cannot
    be certain of that answer (the caller then builds the client)."""
    raw = _read_config_bytes(config_file)
    if raw is None:
        return None
    store = FileSessionStore(storage_dir)
    note = _read_note(_note_path(store.directory, raw, endpoint_url))
    if note is None:
        return None
    document = read_quietly(store.scoped(note["config_key"]))
    if document is None or document.get("schema") != 2:
        return None  # nothing saved, or a document the client must migrate first
    from fsm_auth.engine._twin import destination, policy_value, shipped_spec_data

    spec = shipped_spec_data(_SPEC)
    if spec is None:
        return None
    guards = _guards(document, note)
    if guards is None:
        return None
    state = destination(spec, "unknown", "restore", guards)
    policy = policy_value(spec, state, "credentials") if state is not None else None
    user = document.get("user")
    if policy == "serve_user" and isinstance(user, Mapping):
        part = user.get("identity")
    elif policy == "serve_guest":
        part = _guest(document)
        access = saved_guest_access(part["identity_id"], part.get("access"))
        if not keeps_guest_credentials(part["identity_id"], access):
            return None  # the client drops these credentials on restore
    else:
        return None
    credentials = part.get("credentials") if isinstance(part, Mapping) else None
    return _credential_process_document(credentials, time.time() if now is None else now)


def _guards(document: Mapping[str, Any], note: Mapping[str, Any]) -> dict[str, bool] | None:
    """The restore guards on the saved ``document``, as the client's would find them on the
    record it restores; ``None`` when the saved user is one the client might drop (only the
    client may then decide)."""
    user = document.get("user")
    if user is None:
        has_user = False
    elif not _well_formed_user(user):
        return None
    elif user["kind"] == "federated" and not note["identity_pool"]:
        # The client drops a federated user when there is no identity pool to serve it.
        has_user = False
    else:
        has_user = True
    guest = _guest(document)
    enabled = guest_access_enabled(
        note["identity_pool"],
        saved_guest_access(guest["identity_id"], guest.get("access")),
        note["guest_access"],
    )
    return {"has_user": has_user, "guest_access_enabled": enabled}


def _guest(document: Mapping[str, Any]) -> dict[str, Any]:
    """The saved guest part, its identity id read as the client reads it (text or None)."""
    guest = document.get("guest")
    part = dict(guest) if isinstance(guest, Mapping) else {}
    identity_id = part.get("identity_id")
    part["identity_id"] = identity_id if _text(identity_id) else None
    return part


def _well_formed_user(user: Any) -> bool:
    """A saved user the client restores as it is (the same fields it requires)."""
    if not isinstance(user, Mapping):
        return False
    if user.get("kind") == "user_pool":
        tokens = user.get("tokens")
        keys = user.get("keys")
        return (
            isinstance(tokens, Mapping)
            and isinstance(tokens.get("id_token"), str)
            and isinstance(tokens.get("access_token"), str)
            and (keys is None or isinstance(keys, Mapping))
            and _text(user.get("username"))
        )
    if user.get("kind") == "federated":
        return _text(user.get("provider")) and _text(user.get("token"))
    return False


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _credential_process_document(credentials: Any, now: float) -> dict[str, Any] | None:
    if not isinstance(credentials, Mapping):
        return None
    fields = ("access_key_id", "secret_access_key", "session_token", "expiration")
    if not all(isinstance(credentials.get(name), str) for name in fields):
        return None
    try:
        expiration = datetime.fromisoformat(credentials["expiration"]).astimezone(timezone.utc)
    except ValueError:
        return None
    if not servable(expiration.timestamp(), now, DEFAULT_MIN_VALIDITY):
        return None
    return process_document(
        credentials["access_key_id"],
        credentials["secret_access_key"],
        credentials["session_token"],
        expiration,
    )


def process_document(
    access_key_id: str, secret_access_key: str, session_token: str, expiration: datetime
) -> dict[str, Any]:
    """The ``credential_process`` document (Version 1) of these credentials."""
    return {
        "Version": 1,
        "AccessKeyId": access_key_id,
        "SecretAccessKey": secret_access_key,
        "SessionToken": session_token,
        "Expiration": expiration.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
