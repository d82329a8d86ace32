"""A refresh that is slow, and one that answers for someone else (issue 9, items 4 and 6).

Item 4: a refresh held by the server for seconds (the emulator's delay fault) must not hold the
store's lock: sign_out() returns at once, the user state and what get_aws_credentials() serves
agree, and get_tokens(timeout=...) / get_aws_credentials(timeout=...) end in time.

Item 6: a refresh answered with another user's valid tokens of the same pool (the emulator's
impostor ``answer``) is refused (OpenID Connect Core 12.2: ``sub`` must match), the session is
kept, nothing is committed, and nobody is told of a change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from auth_testkit import wait_until

from fsm_auth import (
    AuthClient,
    AuthError,
    GuestAccessNotAllowedError,
    NetworkError,
    NotAuthorizedError,
    NotSignedInError,
    Tokens,
    UserState,
)
from fsm_auth.config import load_config
from fsm_auth.emulator import Emulator, FakeClock, Fault
from fsm_auth.session import FileSessionStore, MemorySessionStore

from .conftest import PASSWORD, sign_up_confirmed

pytestmark = pytest.mark.timeout(60)

HOUR = 3600.0
# How long the server holds the refresh. The bounds below are fractions of it: a call that
# waited for the refresh takes all of it, one that did not takes a small part.
DELAY = 3.0
# What a timeout may be overrun by on a loaded machine (thread scheduling, not network).
SLACK = 0.8


class StateLog:
    """Every user-state change a listener hears."""

    def __init__(self) -> None:
        self.changes: list[UserState] = []

    def __call__(self, state: UserState, info: Any) -> None:
        self.changes.append(state)


def _file_store(directory: Path, aws_config: dict[str, Any]) -> FileSessionStore:
    return FileSessionStore(directory, use_keyring=False).scoped(load_config(aws_config).config_key)


class _Call(threading.Thread):
    """``call()`` in a thread, keeping its result or its exception."""

    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self._call = call
        self.outcome: Any = None

    def run(self) -> None:
        try:
            self.outcome = self._call()
        except BaseException as exc:  # examined by the test
            self.outcome = exc


def _signed_in_behind_a_slow_refresh(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    clock: FakeClock,
    store: FileSessionStore,
) -> tuple[AuthClient, _Call]:
    """A signed-in client on ``store`` whose tokens and credentials expired, and whose refresh
    (started by a caller without a timeout, in a thread) the server is holding now."""
    client = make_client(store=store)
    client.initialize()
    sign_up_confirmed(client, emulator, "alice")
    client.sign_in("alice", PASSWORD)
    client.get_aws_credentials()
    clock.advance(HOUR + 60)
    held = emulator.faults.inject(
        Fault(operation="GetTokensFromRefreshToken", delay=DELAY, times=1)
    )
    waiting = _Call(client.get_tokens)
    waiting.start()
    assert wait_until(lambda: held.hits == 1), "the refresh never reached the server"
    return client, waiting


def test_sign_out_does_not_wait_for_a_slow_refresh(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    clock: FakeClock,
    tmp_path: Path,
    aws_config: dict[str, Any],
) -> None:
    store = _file_store(tmp_path / "s", aws_config)
    client, waiting = _signed_in_behind_a_slow_refresh(make_client, emulator, clock, store)
    identity_id = client.get_identity_id()
    log = StateLog()
    client.add_user_state_listener(log)

    started = time.monotonic()
    client.sign_out()
    took = time.monotonic() - started
    assert took < DELAY / 2, f"sign_out() took {took:.1f} s behind a {DELAY:g} s refresh"

    # No lock of the store is held across the exchange: another writer gets it at once.
    started = time.monotonic()
    with store.lock():
        pass
    assert time.monotonic() - started < DELAY / 4

    # The state and what is served agree at once, while the refresh is still held.
    assert waiting.is_alive()
    assert client.is_signed_in is False
    assert log.changes in ([UserState.SIGNED_OUT], [UserState.GUEST])
    with pytest.raises(NotSignedInError):
        client.get_tokens(wait=False)
    try:
        client.get_aws_credentials(timeout=DELAY / 2)
    except (GuestAccessNotAllowedError, NotSignedInError):
        assert client.current_user_state is UserState.SIGNED_OUT
    else:  # a guest's credentials, never the signed-out user's
        assert client.current_user_state is UserState.GUEST
        assert client.get_identity_id() != identity_id

    # The late answer (for a session that ended) changes nothing, and is not saved.
    waiting.join(DELAY + 10)
    assert not waiting.is_alive()
    assert isinstance(waiting.outcome, AuthError), waiting.outcome
    assert client.is_signed_in is False
    assert UserState.SIGNED_IN not in log.changes
    restarted = make_client(store=_file_store(tmp_path / "s", aws_config))
    assert restarted.initialize() in (UserState.SIGNED_OUT, UserState.GUEST)


def test_a_sign_in_during_a_slow_refresh_gets_the_caller_the_new_sessions_tokens(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    clock: FakeClock,
    tmp_path: Path,
    aws_config: dict[str, Any],
) -> None:
    """The user was signed in throughout: the caller whose refresh lost to a new session gets
    that session's tokens, not NotSignedInError (found by the asyncio stateful test)."""
    store = _file_store(tmp_path / "s", aws_config)
    client, waiting = _signed_in_behind_a_slow_refresh(make_client, emulator, clock, store)
    log = StateLog()
    client.add_user_state_listener(log)
    client.sign_in("alice", PASSWORD)  # a new session while the old one's refresh is held
    fresh = client.get_tokens()
    waiting.join(DELAY + 10)
    assert not waiting.is_alive()
    assert isinstance(waiting.outcome, Tokens), waiting.outcome
    assert waiting.outcome.access_token == fresh.access_token
    assert client.current_user_state is UserState.SIGNED_IN
    assert log.changes == []


def test_timeouts_are_honoured_behind_a_slow_refresh(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    clock: FakeClock,
    tmp_path: Path,
    aws_config: dict[str, Any],
) -> None:
    store = _file_store(tmp_path / "s", aws_config)
    client, waiting = _signed_in_behind_a_slow_refresh(make_client, emulator, clock, store)
    # The held request is recorded when it is answered: none of the calls below adds one.
    answered = emulator.count("GetTokensFromRefreshToken")

    for call in (client.get_tokens, client.get_aws_credentials):
        started = time.monotonic()
        with pytest.raises(NetworkError, match="did not finish within the timeout"):
            call(timeout=1.0)
        took = time.monotonic() - started
        assert took < 1.0 + SLACK, f"{call.__name__}(timeout=1.0) took {took:.1f} s"
        # Waiting on the refresh is not being signed out: the two agree meanwhile.
        assert client.is_signed_in is True

    # The held refresh goes on and lands; everyone shares it: one request in all.
    waiting.join(DELAY + 10)
    assert isinstance(waiting.outcome, Tokens), waiting.outcome
    assert client.get_tokens(timeout=1.0) == waiting.outcome
    client.get_aws_credentials(timeout=5.0)
    assert emulator.count("GetTokensFromRefreshToken") == answered + 1
    assert client.is_signed_in is True


# -- item 6: a refresh that answers for another user ---------------------------------------------


def test_a_refresh_answered_with_another_users_tokens_is_refused(
    make_client: Callable[..., AuthClient], emulator: Emulator, clock: FakeClock
) -> None:
    store = MemorySessionStore()
    alice = make_client(identity_pool=False, store=store)
    sign_up_confirmed(alice, emulator, "alice")
    alice.sign_in("alice", PASSWORD)
    before = alice.get_tokens()
    clock.advance(HOUR + 60)  # alice's tokens must be refreshed

    # Mallory's own, valid tokens of the same pool, signed by the pool's key.
    mallory = make_client(identity_pool=False)
    sign_up_confirmed(mallory, emulator, "mallory")
    mallory.sign_in("mallory", PASSWORD)
    stolen = mallory.get_tokens()
    assert stolen.id_claims["sub"] != before.id_claims["sub"]

    log = StateLog()
    alice.add_user_state_listener(log)
    saved = store.version()
    emulator.faults.inject(
        Fault(
            operation="GetTokensFromRefreshToken",
            times=1,
            answer={
                "AuthenticationResult": {
                    "IdToken": stolen.id_token,
                    "AccessToken": stolen.access_token,
                    "ExpiresIn": 3600,
                    "TokenType": "Bearer",
                }
            },
        )
    )
    with pytest.raises(NotAuthorizedError, match="another user") as caught:
        alice.get_tokens()
    assert "eyJ" not in str(caught.value)

    # Kept, not switched; nothing committed or saved; nobody told of a change.
    assert alice.current_user_state is UserState.SIGNED_IN
    assert alice.username == "alice"
    assert store.version() == saved
    assert log.changes == []

    # The genuine answer is taken on the next call.
    tokens = alice.get_tokens()
    assert tokens.username == "alice"
    assert tokens.id_claims["sub"] == before.id_claims["sub"]
    assert tokens.access_token not in (before.access_token, stolen.access_token)
    assert log.changes == []
