"""Fixtures for the session store tests: a store directory, secret-laden documents, and an
in-memory keyring backend installed through keyring's public ``set_keyring``."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import pytest
from keyring.compat import properties

from fsm_auth.session._store import FileSessionStore

CONFIG_KEY = "us-east-1_abc|client123|us-east-1:pool"


def secret_document() -> tuple[dict[str, Any], list[str]]:
    """A session document shaped like the client's, and every secret value in it."""
    jwt = (
        "eyJ"
        + secrets.token_urlsafe(24)
        + "."
        + secrets.token_urlsafe(64)
        + "."
        + secrets.token_urlsafe(32)
    )
    refresh = secrets.token_urlsafe(96)
    access = (
        "eyJ"
        + secrets.token_urlsafe(24)
        + "."
        + secrets.token_urlsafe(64)
        + ".sig"
        + secrets.token_hex(8)
    )
    secret_key = base64.b64encode(os.urandom(30)).decode()
    session_token = secrets.token_urlsafe(120)
    password = "Pw-" + secrets.token_hex(10)
    doc = {
        "schema": 1,
        "username": "alice",
        "provider": "userpool",
        "user_state": "SIGNED_IN",
        "tokens": {"id_token": jwt, "access_token": access, "refresh_token": refresh},
        "credentials": {
            "access_key_id": "ASIA" + secrets.token_hex(8).upper(),
            "secret_access_key": secret_key,
            "session_token": session_token,
            "expiration": 1_900_000_000.0,
        },
        "identity_id": "us-east-1:" + secrets.token_hex(16),
        "remembered": password,
        "unicode": "clé ✓",
    }
    return doc, [jwt, refresh, access, secret_key, session_token, password]


@pytest.fixture
def config_key() -> str:
    return CONFIG_KEY


@pytest.fixture
def new_secret_document() -> Callable[[], tuple[dict[str, Any], list[str]]]:
    return secret_document


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "sessions"


@pytest.fixture
def make_store(store_dir: Path) -> Callable[..., FileSessionStore]:
    def make(config_key: str = CONFIG_KEY, **kwargs: Any) -> FileSessionStore:
        kwargs.setdefault("use_keyring", False)
        return FileSessionStore(store_dir, **kwargs).scoped(config_key)

    return make


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend object that keeps passwords in a dict.

    keyring registers every backend class globally; the priority raises unless a test has
    installed it, so keyring's own discovery never picks it for anyone else.
    """

    installed = False

    @properties.classproperty
    def priority(cls) -> float:
        if not cls.installed:
            raise RuntimeError("test backend: only while a test installs it")
        return 1.0

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.passwords: dict[tuple[str, str], str] = {}
        self.fail_with: Exception | None = None

    def get_password(self, service: str, username: str) -> str | None:
        if self.fail_with is not None:
            raise self.fail_with
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.passwords[(service, username)]


@pytest.fixture
def restore_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    try:
        yield
    finally:
        MemoryKeyring.installed = False
        keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring(restore_keyring: None) -> MemoryKeyring:
    MemoryKeyring.installed = True
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend
