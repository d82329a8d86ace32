"""Damaged session files: signed out with exactly one warning, never an exception, and the
next save replaces the file."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import UserState
from fsm_auth.emulator import Emulator

from .conftest import (
    PASSWORD,
    MakeClient,
    client_warnings,
    file_mode,
    file_store,
    register,
    session_path,
    signed_in_client,
)

pytestmark = pytest.mark.timeout(60)

Damage = Callable[[Path, dict[str, Any]], None]


def _rewrite(path: Path, data: bytes) -> None:
    # In place, keeping the file's owner and 0600 mode: only the content is damaged.
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(data)


def tampered(path: Path, config: dict[str, Any]) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of ciphertext
    _rewrite(path, bytes(data))


def tampered_tag(path: Path, config: dict[str, Any]) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x80
    _rewrite(path, bytes(data))


def truncated(path: Path, config: dict[str, Any]) -> None:
    _rewrite(path, path.read_bytes()[: len(path.read_bytes()) // 2])


def truncated_to_header(path: Path, config: dict[str, Any]) -> None:
    _rewrite(path, path.read_bytes()[:5])


def empty(path: Path, config: dict[str, Any]) -> None:
    _rewrite(path, b"")


def garbage(path: Path, config: dict[str, Any]) -> None:
    _rewrite(path, os.urandom(len(path.read_bytes())))


def plaintext_json(path: Path, config: dict[str, Any]) -> None:
    _rewrite(path, b'{"schema": 1, "method": "user_pool", "tokens": null}')


def world_readable(path: Path, config: dict[str, Any]) -> None:
    os.chmod(path, 0o644)


def unknown_file_version(path: Path, config: dict[str, Any]) -> None:
    data = bytearray(path.read_bytes())
    data[8] = 0xFE  # the version byte after the 8-byte magic
    _rewrite(path, bytes(data))


def unknown_document_schema(path: Path, config: dict[str, Any]) -> None:
    # A well-encrypted file whose document claims a schema this client does not know.
    store = file_store(path.parent, config)
    doc = store.load()
    assert doc is not None
    doc["schema"] = 999
    store.save(doc)


def lost_key(path: Path, config: dict[str, Any]) -> None:
    (path.parent / "key").unlink()


DAMAGES = [
    tampered,
    tampered_tag,
    truncated,
    truncated_to_header,
    empty,
    garbage,
    plaintext_json,
    world_readable,
    unknown_file_version,
    unknown_document_schema,
    lost_key,
]


@pytest.mark.parametrize("damage", DAMAGES, ids=[d.__name__ for d in DAMAGES])
def test_damaged_session_file(
    damage: Damage,
    make_client: MakeClient,
    emulator: Emulator,
    storage_dir: Path,
    aws_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    signed_in_client(make_client, emulator, identity_pool=False).close()
    user_pool_only = {k: v for k, v in aws_config.items() if k != "CredentialsProvider"}
    path = session_path(storage_dir, user_pool_only)
    damage(path, user_pool_only)

    caplog.set_level(logging.WARNING)
    emulator.stop()
    restored = make_client(identity_pool=False)
    assert restored.initialize() == UserState.SIGNED_OUT
    assert restored.username is None
    warnings = client_warnings(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert restored.initialize() == UserState.SIGNED_OUT  # idempotent: no second warning
    assert len(client_warnings(caplog)) == 1

    # The next save replaces the file: sign in again, and a new client restores it.
    emulator.start()
    restored.sign_in("alice", PASSWORD)
    assert restored.current_user_state == UserState.SIGNED_IN
    assert file_mode(path) == 0o600
    caplog.clear()
    emulator.stop()
    again = make_client(identity_pool=False)
    assert again.initialize() == UserState.SIGNED_IN
    assert again.get_tokens().access_token == restored.get_tokens().access_token
    assert client_warnings(caplog) == []


def test_session_directory_replaced_by_a_file_is_not_an_exception(
    make_client: MakeClient,
    emulator: Emulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A storage_dir that cannot be a directory: restore signs out; saving is only warned."""
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    caplog.set_level(logging.WARNING)
    client = make_client(directory=blocked, identity_pool=False)
    assert client.initialize() == UserState.SIGNED_OUT
    register(client, emulator, "erin")
    client.sign_in("erin", PASSWORD)
    assert client.current_user_state == UserState.SIGNED_IN
    assert client_warnings(caplog)  # "Could not save the session"
