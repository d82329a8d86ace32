"""Shared fixtures: the local Cognito emulator (one per test process / xdist worker)."""

from __future__ import annotations

import copy
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fsm_auth import AuthClient
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.session import MemorySessionStore

# A hosted-UI session's sign-out opens /logout with the system browser (webbrowser) when the
# test gave no opener (a restored session): `true` takes the URL and opens nothing, so no test
# starts a browser, or a console one that would wait for a key.
os.environ["BROWSER"] = "true"


@pytest.fixture(scope="session")
def _emulator_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def emulator(_emulator_clock: FakeClock) -> Iterator[Emulator]:
    """A started emulator shared by the session, driven by a FakeClock (see ``clock``)."""
    emu = Emulator(clock=_emulator_clock)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture(autouse=True)
def _emulator_reset(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the emulator: no faults, no codes, real time, serving again."""
    yield
    if "emulator" not in request.fixturenames:
        return
    emu: Emulator = request.getfixturevalue("emulator")
    clock: FakeClock = request.getfixturevalue("_emulator_clock")
    emu.faults.clear()
    # Codes of earlier tests (same user names, other pools) must not answer this test's asks.
    emu.clear_codes()
    clock.reset()
    emu.clock = clock
    emu.start()


@pytest.fixture
def clock(emulator: Emulator, _emulator_clock: FakeClock) -> FakeClock:
    """The emulator's clock for this test: ``clock.advance(seconds)`` moves time forward."""
    emulator.clock = _emulator_clock
    return _emulator_clock


@pytest.fixture
def pool(emulator: Emulator) -> Provisioned:
    """A fresh user pool, app client, identity pool and bucket for this test."""
    return emulator.provision()


@pytest.fixture
def aws_config(pool: Provisioned) -> dict[str, Any]:
    """``awsconfiguration.json`` content for ``pool``."""
    return pool.aws_configuration()


@pytest.fixture
def make_client(
    aws_config: dict[str, Any], clock: FakeClock
) -> Iterator[Callable[..., AuthClient]]:
    """``make_client(config=None, *, identity_pool=True, **kwargs)``: clients on the test's
    pool and clock, with an in-memory store unless ``store``/``storage_dir`` is given; all are
    closed at the end."""
    made: list[AuthClient] = []

    def make(
        config: dict[str, Any] | None = None, *, identity_pool: bool = True, **kwargs: Any
    ) -> AuthClient:
        config = copy.deepcopy(config or aws_config)
        if not identity_pool:
            config.pop("CredentialsProvider", None)
        kwargs.setdefault("store", MemorySessionStore())
        client = AuthClient.from_config(config, clock=clock, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def no_os_keyring() -> Iterator[None]:
    """No OS keyring, as on CI: the default store keeps its key in a file (and a developer's
    real keyring gets no test keys)."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """A real upstream OpenID Connect provider (``oidc-provider-mock``) on a free loopback port,
    stopped at the end; its issuer URL. Its authorization page takes the user's ``sub``."""
    import werkzeug.serving

    with warnings.catch_warnings():
        # The provider's own dependencies (authlib's old APIs) warn about themselves; not
        # ours. authlib.deprecate installs an "always" filter when imported: import it first.
        pytest.importorskip("authlib.deprecate")
        warnings.simplefilter("ignore", DeprecationWarning)
        oidc_provider_mock = pytest.importorskip("oidc_provider_mock")
    app = oidc_provider_mock.app(require_nonce=True)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
