"""``fsm-auth credentials --json`` on a saved session: the read path
(``fsm_auth._saved_credentials``) serves exactly what a client would serve with no request,
or leaves the answer to the client.

The sessions are real (a user signed in against the emulator, saved by a client) and then
changed at random through the store: credentials that expire sooner or later, no user, a
malformed user, a federated user, guest identities known to be allowed or refused, two
configuration formats of the same pools. For each, the read path's answer is compared with a
client's built the full way, counting the emulator's requests.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fsm_auth import AuthClient, AuthError
from fsm_auth._credential_process import credential_process_document, run_credentials
from fsm_auth._saved_credentials import saved_credentials_document
from fsm_auth.config import load_config
from fsm_auth.emulator import Emulator, Provisioned
from fsm_auth.session import FileSessionStore

PASSWORD = "Correct-Horse-9!"
# Seconds of validity left, on both sides of the 30 s a client requires (never within a second
# of it: the two paths read the clock a few milliseconds apart).
# None: no credentials saved. Drawn so that about half the sessions are servable.
LEFT = st.sampled_from([None, -600, -1, 5, 25, 35, 120, 3000, 3000, 3000])


class Session:
    """One user's saved session and the two configuration files naming its pools."""

    def __init__(self, tmp: Path, emulator: Emulator, pool: Provisioned) -> None:
        self.emulator = emulator
        self.storage = tmp / "storage"
        self.aws = tmp / "awsconfiguration.json"
        self.aws.write_text(json.dumps(pool.aws_configuration()), encoding="utf-8")
        # Gen 2: the same pools, guest access declared on, the endpoint given on the command.
        self.gen2 = tmp / "amplify_outputs.json"
        self.gen2.write_text(json.dumps(pool.amplify_outputs()), encoding="utf-8")
        # The same user pool and no identity pool: another configuration, another session.
        self.user_pool_only = tmp / "user-pool-only.json"
        alone = pool.aws_configuration()
        del alone["CredentialsProvider"]
        self.user_pool_only.write_text(json.dumps(alone), encoding="utf-8")
        self.endpoint = pool.endpoint
        with AuthClient.from_config(self.aws, storage_dir=self.storage) as client:
            client.sign_up("saved", PASSWORD, attributes={"email": "saved@example.com"})
            client.confirm_sign_up("saved", emulator.last_code("saved", "sign_up"))
            client.sign_in("saved", PASSWORD)
            client.get_aws_credentials()
        key = load_config(self.aws).config_key
        assert key == load_config(self.gen2, endpoint_url=self.endpoint).config_key
        self.store = FileSessionStore(self.storage).scoped(key)
        saved = self.store.load()
        assert saved is not None
        self.original: dict[str, Any] = saved

    def arguments(self, variant: str) -> tuple[Path, str | None]:
        """The configuration file and ``--endpoint-url`` of ``variant``."""
        return {
            "aws": (self.aws, None),
            "gen2": (self.gen2, self.endpoint),
            "user_pool_only": (self.user_pool_only, None),
        }[variant]

    def store_for(self, variant: str) -> FileSessionStore:
        config, endpoint = self.arguments(variant)
        key = load_config(config, endpoint_url=endpoint).config_key
        return FileSessionStore(self.storage).scoped(key)

    def full_path(self, variant: str) -> tuple[dict[str, Any] | None, int]:
        """What a client built the full way serves without waiting, and its request count."""
        config, endpoint = self.arguments(variant)
        before = len(self.emulator.requests)
        try:
            with AuthClient.from_config(
                config, storage_dir=self.storage, endpoint_url=endpoint
            ) as client:
                client.initialize()
                document = credential_process_document(client.get_aws_credentials(wait=False))
        except AuthError:
            document = None
        return document, len(self.emulator.requests) - before

    def note(self, variant: str) -> None:
        """What a full run of the command leaves: the configuration note."""
        config, endpoint = self.arguments(variant)
        assert run_credentials(
            config=config, storage_dir=self.storage, out=io.StringIO(), err=io.StringIO(),
            endpoint_url=endpoint,
        ) in (0, 1)  # fmt: skip


@pytest.fixture
def session(tmp_path: Path, emulator: Emulator, pool: Provisioned) -> Session:
    return Session(tmp_path, emulator, pool)


def _credentials(left: int | None, tag: str) -> dict[str, str] | None:
    if left is None:
        return None
    expiration = datetime.fromtimestamp(time.time() + left, timezone.utc)
    return {
        "access_key_id": f"ASIA{tag.upper():0<16}",
        "secret_access_key": f"secret-{tag}",
        "session_token": f"token-{tag}",
        "expiration": expiration.isoformat(),
    }


@st.composite
def _documents(draw: st.DrawFn, original: dict[str, Any]) -> dict[str, Any]:
    user_kind = draw(st.sampled_from(["saved", "none", "malformed", "federated"]))
    user_left = draw(LEFT)
    user: dict[str, Any] | None
    if user_kind == "saved":
        user = dict(original["user"])
    elif user_kind == "malformed":
        user = {**original["user"], "tokens": {"id_token": 7}}
    elif user_kind == "federated":
        user = {
            "kind": "federated",
            "provider": "accounts.google.com",
            "token": "google-id-token",
            "identity_id": None,
            "custom_role_arn": None,
        }
    else:
        user = None
    if user is not None:
        user["identity"] = {
            "identity_id": "us-east-1:00000000-0000-4000-8000-000000000001",
            "credentials": _credentials(user_left, "user"),
        }
    guest = {
        "identity_id": draw(
            st.sampled_from([None, "us-east-1:00000000-0000-4000-8000-00000000000g"])
        ),
        "access": draw(st.sampled_from([None, True, False])),
        "credentials": _credentials(draw(LEFT), "guest"),
    }
    return {"schema": 2, "user": user, "guest": guest}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), variant=st.sampled_from(["aws", "gen2", "user_pool_only"]))
def test_the_read_path_serves_what_the_client_would_or_leaves_it(
    session: Session, data: st.DataObject, variant: str
) -> None:
    session.note(variant)
    document = data.draw(_documents(session.original))
    store = session.store_for(variant)
    store.save(document)
    config, endpoint = session.arguments(variant)
    quick = saved_credentials_document(config, session.storage, endpoint)
    full, requests = session.full_path(variant)
    event(
        f"read path: {'left it' if quick is None else 'served'}; client: "
        f"{'nothing' if full is None else 'served'} after {min(requests, 1)}+ requests"
    )
    if quick is None:
        return  # the command builds the client, which answers as it always did
    assert requests == 0
    assert quick == full
    store.save(session.original)


def test_a_signed_in_session_and_a_guest_session_are_served_by_the_read_path(
    session: Session,
) -> None:
    session.note("aws")
    quick = saved_credentials_document(session.aws, session.storage)
    assert quick is not None
    assert quick == session.full_path("aws")[0]
    document = {**session.original, "user": None}
    document["guest"] = {
        "identity_id": "us-east-1:00000000-0000-4000-8000-00000000000g",
        "access": True,
        "credentials": _credentials(900, "g"),
    }
    session.store.save(document)
    quick = saved_credentials_document(session.aws, session.storage)
    assert quick is not None
    assert quick["SecretAccessKey"] == "secret-g"
    assert quick == session.full_path("aws")[0]


def test_without_a_note_the_client_decides_and_leaves_one(session: Session) -> None:
    assert saved_credentials_document(session.aws, session.storage) is None
    session.note("aws")
    notes = sorted(session.storage.glob("config.*.json"))
    assert len(notes) == 1
    if os.name == "posix":
        assert stat.S_IMODE(notes[0].stat().st_mode) == 0o600
    text = notes[0].read_text(encoding="ascii")
    assert "secret" not in text.lower()
    assert "token" not in text.lower()
    assert saved_credentials_document(session.aws, session.storage) is not None


def test_an_edited_configuration_is_never_read_through_a_stale_note(session: Session) -> None:
    session.note("aws")
    edited = json.loads(session.aws.read_text(encoding="utf-8"))
    edited["CognitoUserPool"]["Default"]["AppClientId"] = "another-app-client"
    session.aws.write_text(json.dumps(edited), encoding="utf-8")
    assert saved_credentials_document(session.aws, session.storage) is None


@pytest.mark.skipif(os.name != "posix", reason="owner-only checks are POSIX")
def test_a_note_others_can_write_is_not_obeyed(session: Session) -> None:
    session.note("aws")
    (note,) = session.storage.glob("config.*.json")
    os.chmod(note, 0o622)
    assert saved_credentials_document(session.aws, session.storage) is None


def test_a_note_naming_another_configuration_cannot_open_this_session(
    session: Session, tmp_path: Path
) -> None:
    """A note is a cache, not a key: pointing it at another configuration's session opens
    nothing, since the configuration is bound into each session file's AES-GCM tag."""
    session.note("aws")
    (note,) = session.storage.glob("config.*.json")
    forged = json.loads(note.read_text(encoding="ascii"))
    forged["config_key"] = "0" * 32
    note.write_text(json.dumps(forged), encoding="ascii")
    assert saved_credentials_document(session.aws, session.storage) is None


def test_the_command_serves_from_the_read_path_then_from_the_client_when_it_must(
    session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {"config": session.aws, "storage_dir": session.storage}
    assert run_credentials(out=sys.stdout, err=io.StringIO(), **args) == 0  # type: ignore[arg-type]
    first = json.loads(capsys.readouterr().out)
    before = len(session.emulator.requests)
    assert run_credentials(out=sys.stdout, err=io.StringIO(), **args) == 0  # type: ignore[arg-type]
    assert json.loads(capsys.readouterr().out) == first
    assert len(session.emulator.requests) == before
    # Credentials about to expire: the read path leaves them, the client gets new ones.
    document = json.loads(json.dumps(session.original))
    document["user"]["identity"]["credentials"] = _credentials(10, "old")
    session.store.save(document)
    assert run_credentials(out=sys.stdout, err=io.StringIO(), **args) == 0  # type: ignore[arg-type]
    renewed = json.loads(capsys.readouterr().out)
    assert renewed["AccessKeyId"] != document["user"]["identity"]["credentials"]["access_key_id"]
    assert len(session.emulator.requests) > before
