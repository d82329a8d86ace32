"""Fixtures for the persistence tests: clients on encrypted file stores against the emulator."""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from async_blocking import BlockingAsyncClient

from fsm_auth import AsyncAuthClient, AuthClient, UserState
from fsm_auth.config import load_config
from fsm_auth.emulator import Emulator, FakeClock
from fsm_auth.session import FileSessionStore

PASSWORD = "Correct-Horse-9!"
# Server-side loggers: the emulator runs in the test process, but it is not the client.
SERVER_LOGGERS = ("moto", "werkzeug", "fsm_auth.emulator")


def file_store(directory: Path, config: dict[str, Any]) -> FileSessionStore:
    """The encrypted store a client of ``config`` uses in ``directory`` (key file, no keyring)."""
    return FileSessionStore(directory, use_keyring=False).scoped(load_config(config).config_key)


MakeClient = Callable[..., AuthClient]


@pytest.fixture
def storage_dir(tmp_path: Path) -> Path:
    """The session directory shared by the clients of a test (created by the first save)."""
    return tmp_path / "s"


@pytest.fixture
def client_kind() -> str:
    """Which client ``make_client`` builds: ``AuthClient``; a module that overrides this
    fixture with ``AsyncAuthClient`` too runs its tests against the asyncio client, behind
    ``AuthClient``'s synchronous face (:class:`async_blocking.BlockingAsyncClient`)."""
    return "AuthClient"


@pytest.fixture
def make_client(
    aws_config: dict[str, Any], clock: FakeClock, storage_dir: Path, client_kind: str
) -> Iterator[MakeClient]:
    """``make_client(config=None, *, directory=None, identity_pool=True, min_validity=30)``:
    a client on the test's clock over a :class:`FileSessionStore` in ``storage_dir``.

    Each call is a new client, as after a restart; all are closed at the end.
    """
    made: list[AuthClient] = []

    def make(
        config: dict[str, Any] | None = None,
        *,
        directory: Path | None = None,
        identity_pool: bool = True,
        min_validity: float = 30.0,
    ) -> AuthClient:
        config = copy.deepcopy(config or aws_config)
        if not identity_pool:
            config.pop("CredentialsProvider", None)
        kind = AsyncAuthClient if client_kind == "AsyncAuthClient" else AuthClient
        built = kind(
            load_config(config),
            store=file_store(directory or storage_dir, config),
            clock=clock,
            min_validity=min_validity,
        )
        client: Any = built if isinstance(built, AuthClient) else BlockingAsyncClient(built)
        made.append(client)
        return client  # type: ignore[no-any-return]

    yield make
    for client in made:
        client.close()


def register(client: AuthClient, emulator: Emulator, username: str) -> None:
    """Sign ``username`` up and confirm it through ``client``, with the emulator's code."""
    client.sign_up(username, PASSWORD, attributes={"email": f"{username}@example.com"})
    client.confirm_sign_up(username, emulator.last_code(username, "sign_up"))


def signed_in_client(
    make_client: MakeClient, emulator: Emulator, username: str = "alice", **kwargs: Any
) -> AuthClient:
    """A new client with ``username`` registered and signed in (the session is saved)."""
    client = make_client(**kwargs)
    assert client.initialize() == UserState.SIGNED_OUT
    register(client, emulator, username)
    client.sign_in(username, PASSWORD)
    assert client.current_user_state == UserState.SIGNED_IN
    return client


class StateLog:
    """A user-state listener that records every change it is told about."""

    def __init__(self) -> None:
        self.changes: list[tuple[UserState, dict[str, str]]] = []

    def __call__(self, state: UserState, info: Any) -> None:
        self.changes.append((state, dict(info)))


def state_of(client: AuthClient) -> UserState:
    """The client's user state now (a call, so type checkers do not narrow it across calls)."""
    return client.current_user_state


def client_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """WARNING-or-worse records from the client side (not the emulator's own loggers)."""
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and not r.name.startswith(SERVER_LOGGERS)
    ]


def session_path(directory: Path, config: dict[str, Any]) -> Path:
    """The encrypted session file of ``config``'s client in ``directory``."""
    return file_store(directory, config).session_path


def file_mode(path: Path) -> int:
    """Permission bits of ``path``."""
    return os.stat(path).st_mode & 0o777
