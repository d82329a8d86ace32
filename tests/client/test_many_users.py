"""Many users, many apps, one store (issue 10, item 5): clients of different users and different
user pools side by side in one process on one directory or one memory store, each with its own
session id, never reading, overwriting or deleting each other's sessions; and two programs on
one storage directory (two ``fsm-auth credentials`` processes) never signing each other out."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import fsm_auth
from fsm_auth import AuthClient, UserState
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.session import FileSessionStore, MemorySessionStore

from .conftest import PASSWORD, sign_up_confirmed

HOUR = 3600.0

# (user, pool, session id): two users of pool A with their own session ids, and the default
# session of pool A and of pool B (two programs of one OS user on the default directory).
USERS = [
    ("alice", "A", "alice"),
    ("bob", "A", "bob"),
    ("dave", "A", "default"),
    ("carol", "B", "default"),
    ("erin", "B", "erin"),
]


@pytest.fixture
def pools(emulator: Emulator, pool: Provisioned) -> dict[str, dict[str, Any]]:
    """Two user pools (no identity pool): their configurations by name."""
    other = emulator.provision(with_identity_pool=False, bucket=None)
    return {
        "A": pool.aws_configuration(),
        "B": other.aws_configuration(),
    }


def _user_pool_only(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "CredentialsProvider"}


Stores = Callable[[str], Any]


@pytest.fixture(params=["directory", "memory"])
def store_for(request: pytest.FixtureRequest, tmp_path: Path) -> Stores:
    """``store_for(session_id)``: a new store object for that session on the test's one
    backend (one directory, or one memory store), as a restarted program would build it."""
    if request.param == "directory":
        directory = tmp_path / "sessions"
        return lambda session_id: FileSessionStore(
            directory, use_keyring=False, session_id=session_id
        )
    root = MemorySessionStore()
    return lambda session_id: root.with_session_id(session_id)


def _clients(
    make_client: Callable[..., AuthClient],
    pools: dict[str, dict[str, Any]],
    store_for: Stores,
    **kwargs: Any,
) -> dict[str, AuthClient]:
    return {
        user: make_client(
            _user_pool_only(pools[pool]),
            identity_pool=False,
            store=store_for(session_id),
            **kwargs,
        )
        for user, pool, session_id in USERS
    }


def test_users_and_pools_side_by_side_on_one_store(
    make_client: Callable[..., AuthClient],
    emulator: Emulator,
    clock: FakeClock,
    pools: dict[str, dict[str, Any]],
    store_for: Stores,
) -> None:
    clients = _clients(make_client, pools, store_for)
    for user, client in clients.items():
        assert client.initialize() == UserState.SIGNED_OUT
        sign_up_confirmed(client, emulator, user)
        client.sign_in(user, PASSWORD)
    first = {user: client.get_tokens() for user, client in clients.items()}
    assert {user: tokens.username for user, tokens in first.items()} == {u: u for u in clients}

    # A restart of each restores its own session, with no request.
    emulator.stop()
    restarted = _clients(make_client, pools, store_for)
    for user, client in restarted.items():
        assert client.initialize() == UserState.SIGNED_IN, user
        assert client.username == user
        assert client.get_tokens() == first[user]
    emulator.start()

    # Each refreshes its own tokens (and saves them) without touching the others'.
    clock.advance(HOUR + 60)
    refreshed = {user: client.get_tokens() for user, client in restarted.items()}
    for user, tokens in refreshed.items():
        assert tokens.username == user
        assert tokens.id_token != first[user].id_token

    # Alice and carol sign out; everyone else stays signed in, in memory and after a restart.
    restarted["alice"].sign_out()
    restarted["carol"].sign_out()
    emulator.stop()
    again = _clients(make_client, pools, store_for)
    states = {user: client.initialize() for user, client in again.items()}
    assert states == {
        "alice": UserState.SIGNED_OUT,
        "bob": UserState.SIGNED_IN,
        "dave": UserState.SIGNED_IN,
        "carol": UserState.SIGNED_OUT,
        "erin": UserState.SIGNED_IN,
    }
    for user in ("bob", "dave", "erin"):
        assert again[user].username == user
        assert again[user].get_tokens() == refreshed[user]
        assert restarted[user].is_signed_in


def test_two_programs_on_one_storage_dir_keep_their_sessions(
    emulator: Emulator,
    clock: FakeClock,
    pools: dict[str, dict[str, Any]],
    tmp_path: Path,
    no_os_keyring: None,
) -> None:
    """Two apps (two pools) on the same ``storage_dir``, as two programs of one OS user share
    the default directory: neither signs the other out (fsm-auth 0.1 deleted the first's
    session when the second loaded it)."""
    storage = tmp_path / "shared"
    configs = {name: _user_pool_only(config) for name, config in pools.items()}

    def open_client(name: str) -> AuthClient:
        return AuthClient.from_config(configs[name], storage_dir=storage, clock=clock)

    with open_client("A") as a:
        a.initialize()
        sign_up_confirmed(a, emulator, "alice")
        a.sign_in("alice", PASSWORD)
    with open_client("B") as b:
        assert b.initialize() == UserState.SIGNED_OUT  # A's session is not B's
        sign_up_confirmed(b, emulator, "carol")
        b.sign_in("carol", PASSWORD)
    for _ in range(2):
        with open_client("A") as a:
            assert a.initialize() == UserState.SIGNED_IN
            assert a.username == "alice"
        with open_client("B") as b:
            assert b.initialize() == UserState.SIGNED_IN
            assert b.username == "carol"


class OneDocumentStore:
    """A store of one's own, as a third party writes it: one document, no ``scoped``."""

    def __init__(self) -> None:
        self.document: dict[str, Any] | None = None
        self._lock = threading.RLock()

    def load(self) -> dict[str, Any] | None:
        return None if self.document is None else json.loads(json.dumps(self.document))

    def save(self, data: Mapping[str, Any]) -> None:
        self.document = json.loads(json.dumps(dict(data)))

    def clear(self) -> None:
        self.document = None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with self._lock:
            yield

    def version(self) -> object:
        return json.dumps(self.document, sort_keys=True)


def test_a_store_without_scoped_is_held_to_its_configuration(
    make_client: Callable[..., AuthClient], emulator: Emulator, aws_config: dict[str, Any]
) -> None:
    """A third party's store knows nothing of configurations: the client guards it, so a
    client of another configuration (here: the same user pool without the identity pool, which
    could verify the tokens) neither reads nor deletes the session there; its own first save
    replaces it (one document is all such a store holds)."""
    store = OneDocumentStore()
    with_ids, without = aws_config, _user_pool_only(aws_config)
    a = make_client(with_ids, store=store)
    a.initialize()
    sign_up_confirmed(a, emulator, "alice")
    a.sign_in("alice", PASSWORD)
    saved = store.document

    b = make_client(without, identity_pool=False, store=store)
    assert b.initialize() == UserState.SIGNED_OUT  # A's session is not read as B's...
    assert b.username is None
    assert store.document == saved  # ...nor deleted
    assert make_client(with_ids, store=store).initialize() == UserState.SIGNED_IN
    b.sign_out()
    assert store.document is not None
    assert store.document["user"] is None
    assert make_client(with_ids, store=store).initialize() == UserState.SIGNED_OUT


# -- two fsm-auth credentials processes -----------------------------------------------------------


def _credentials(config_file: Path, storage: Path) -> subprocess.CompletedProcess[str]:
    """``fsm-auth credentials --json`` in a new process, on this test's code."""
    # The directory this test imported fsm_auth from (not resolved: it may be a tree of links).
    code_root = str(Path(fsm_auth.__file__).parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [code_root, os.environ.get("PYTHONPATH")])),
        # No OS keyring in the child either: the key is the directory's key file.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "fsm_auth",
            "credentials",
            "--json",
            "--config",
            str(config_file),
            "--storage-dir",
            str(storage),
        ],
        capture_output=True,
        text=True,
        env=env,
        # Not the checkout: `-m` puts the working directory first on the path.
        cwd=storage.parent,
        timeout=60,
        check=False,
    )


def test_two_credential_processes_with_different_configurations_share_a_storage_dir(
    emulator: Emulator, tmp_path: Path, no_os_keyring: None
) -> None:
    storage = tmp_path / "shared"
    # Two apps with an identity pool each, and no guest access: without its session, a
    # program has no credentials to give (exit 1) rather than a guest's.
    apps = {name: emulator.provision(allow_guest=False) for name in ("A", "B")}
    files: dict[str, Path] = {}
    for name, app in apps.items():
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(app.aws_configuration()), encoding="utf-8")

    # App A signs in and gets credentials (saved with its session); the emulator keeps time
    # with the child processes (real time), as the `clock` fixture is not used.
    with AuthClient.from_config(files["A"], storage_dir=storage) as a:
        a.initialize()
        sign_up_confirmed(a, emulator, "alice")
        a.sign_in("alice", PASSWORD)
        key_a = a.get_aws_credentials().access_key_id

    first = _credentials(files["A"], storage)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["AccessKeyId"] == key_a

    # App B has no session there: it says so, and leaves A's alone.
    other = _credentials(files["B"], storage)
    assert other.returncode == 1, other.stdout
    again = _credentials(files["A"], storage)
    assert again.returncode == 0, f"app B's process signed app A out: {again.stderr}"
    assert json.loads(again.stdout)["AccessKeyId"] == key_a

    # Both signed in, taking turns: each serves its own credentials.
    with AuthClient.from_config(files["B"], storage_dir=storage) as b:
        b.initialize()
        sign_up_confirmed(b, emulator, "carol")
        b.sign_in("carol", PASSWORD)
        key_b = b.get_aws_credentials().access_key_id
    assert key_b != key_a
    for _ in range(2):
        for name, key in (("A", key_a), ("B", key_b)):
            served = _credentials(files[name], storage)
            assert served.returncode == 0, f"{name}: {served.stderr}"
            assert json.loads(served.stdout)["AccessKeyId"] == key
