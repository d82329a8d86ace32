"""Sessions saved by fsm-auth 0.1 restore after the upgrade.

The stores in ``data/v0_1_*`` were written by 0.1's own code (``make_v0_1_sessions.py``, commit
9c09431): an encrypted ``session.bin`` with its key file, and the configuration it was saved
under. Restoring makes no network call, so the emulator that wrote them need not run; their
tokens are still valid at the fixture's clock.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient, FileSessionStore, UserState
from fsm_auth.config import load_config
from fsm_auth.emulator import FakeClock

DATA = Path(__file__).parent / "data"


def _restored(kind: str, tmp_path: Path) -> tuple[AuthClient, dict[str, Any], Path]:
    source = DATA / f"v0_1_{kind}"
    meta = json.loads((source / "meta.json").read_text())
    directory = tmp_path / "store"
    shutil.copytree(source, directory)
    # A checkout does not keep file modes; the store trusts owner-only files only.
    os.chmod(directory, 0o700)
    for name in ("session.bin", "key"):
        os.chmod(directory / name, 0o600)
    config = meta["config"]
    store = FileSessionStore(directory, use_keyring=False)
    clock = FakeClock(meta["saved_at"] + 60)
    return AuthClient.from_config(config, store=store, clock=clock), meta["expect"], directory


@pytest.mark.parametrize("kind", ["user_pool", "federated", "guest"])
def test_a_v0_1_session_restores(kind: str, tmp_path: Path) -> None:
    client, expect, _ = _restored(kind, tmp_path)
    with client:
        assert client.initialize() is UserState(expect["state"])
        assert client.username == expect.get("username")
        # Served from the saved session: the fixture's emulator is long gone, so any request
        # would fail with NetworkError.
        assert client.get_identity_id() == expect["identity_id"]
        assert client.get_aws_credentials().access_key_id == expect["access_key_id"]
        if kind == "user_pool":
            assert client.get_tokens().username == expect["username"]


def test_the_upgraded_session_is_saved_in_the_new_schema(tmp_path: Path) -> None:
    client, _, directory = _restored("user_pool", tmp_path)
    with client:
        client.initialize()
        client.sign_out(invalidate_tokens=False)  # a change is saved in the new form
    store = FileSessionStore(directory, use_keyring=False).scoped(
        load_config(json.loads((directory / "meta.json").read_text())["config"]).config_key
    )
    saved = store.load()
    assert saved is not None
    assert saved["schema"] == 2
    assert saved["user"] is None
    assert saved["guest"]["access"] is None or isinstance(saved["guest"]["access"], bool)
