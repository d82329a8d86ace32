"""Provider plugins found through real entry points: a third-party user-pool provider, and a
plugin that fails to load."""

from __future__ import annotations

import copy
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fsm_auth import AuthClient, SignInState, UnableToSignInError, UserState, plugins
from fsm_auth.emulator import Emulator, FakeClock
from fsm_auth.errors import ProviderError

from .conftest import PASSWORD

_PLUGIN = '''
"""A third-party user-pool provider: wraps the built-in one and counts the calls."""

from fsm_auth_providers.userpool import UserPoolProvider as _BuiltIn

CALLS = []


class CountingProvider:
    def __init__(self, context):
        self._inner = _BuiltIn(context)

    def __getattr__(self, name):
        method = getattr(self._inner, name)
        if not callable(method):
            return method

        def call(*args, **kwargs):
            CALLS.append(name)
            return method(*args, **kwargs)

        return call


class PreSessionProvider(CountingProvider):
    """Written before sign-up sessions: the bare result, and no session taken."""

    def sign_up(self, username, password, **kwargs):
        return self._inner.sign_up(username, password, **kwargs).result

    def confirm_sign_up(self, username, code, *, client_metadata):
        return self._inner.confirm_sign_up(username, code, client_metadata=client_metadata).result
'''

_ENTRY_POINTS = """
[fsm_auth.providers]
fsmtest-counting = fsmtest_counting_plugin:CountingProvider
fsmtest-presession = fsmtest_counting_plugin:PreSessionProvider
fsmtest-broken = fsmtest_broken_plugin:Provider
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Install a tiny distribution with two entry points into ``tmp_path`` (on sys.path)."""
    dist = tmp_path / "fsmtest_plugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fsmtest-plugins\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(_ENTRY_POINTS))
    (tmp_path / "fsmtest_counting_plugin.py").write_text(_PLUGIN)
    (tmp_path / "fsmtest_broken_plugin.py").write_text(
        'raise RuntimeError("fsmtest plugin exploded on import")\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.refresh()
    try:
        import fsmtest_counting_plugin  # type: ignore[import-not-found]

        yield fsmtest_counting_plugin
    finally:
        plugins.refresh()
        for name in ("fsmtest_counting_plugin", "fsmtest_broken_plugin"):
            sys.modules.pop(name, None)


def test_a_third_party_user_pool_provider_drives_the_client(
    installed_plugin: Any,
    make_client: Callable[..., AuthClient],
    aws_config: dict[str, Any],
    emulator: Emulator,
    clock: FakeClock,
) -> None:
    assert "fsmtest-counting" in plugins.available()
    config = copy.deepcopy(aws_config)
    config["Auth"]["Default"]["Providers"] = {"user_pool": "fsmtest-counting"}
    client = make_client(config, identity_pool=False)
    calls: list[str] = installed_plugin.CALLS
    client.sign_up("vera", PASSWORD, attributes={"email": "vera@example.com"})
    client.confirm_sign_up("vera", emulator.last_code("vera", "sign_up"))
    assert client.sign_in("vera", PASSWORD).state is SignInState.DONE
    assert client.get_user_attributes()["email"] == "vera@example.com"
    clock.advance(3600)
    client.get_tokens()  # the refresh goes through the plugin too
    client.sign_out()
    assert calls == [
        "sign_up",
        "confirm_sign_up",
        "sign_in",  # the flow: two requests (SRP), the tokens verified, the keys kept
        "perform",
        "perform",
        "verify",
        "keys",
        "get_user_attributes",
        "refresh",
        "verify",
        "revoke_token",
    ]
    assert client.current_user_state is UserState.SIGNED_OUT


def test_a_provider_written_before_sign_up_sessions_still_signs_up(
    installed_plugin: Any,
    make_client: Callable[..., AuthClient],
    aws_config: dict[str, Any],
    emulator: Emulator,
) -> None:
    config = copy.deepcopy(aws_config)
    config["Auth"]["Default"]["Providers"] = {"user_pool": "fsmtest-presession"}
    client = make_client(config, identity_pool=False)

    assert not client.sign_up("vera", PASSWORD, attributes={"email": "v@example.com"}).confirmed
    assert client.confirm_sign_up("vera", emulator.last_code("vera", "sign_up")).confirmed
    client.sign_up("walt", PASSWORD, attributes={"email": "w@example.com"}, auto_sign_in=True)
    result = client.confirm_sign_up("walt", emulator.last_code("walt", "sign_up"))
    # No session from such a provider: confirmed, and told why it is not signed in.
    assert result.confirmed
    assert not result.signed_in
    assert isinstance(result.sign_in_error, UnableToSignInError)


def test_a_broken_plugin_is_reported_by_name_and_spares_the_others(
    installed_plugin: Any, client: AuthClient, emulator: Emulator
) -> None:
    errors = plugins.load_errors()
    assert "fsmtest-broken" in errors
    assert "exploded on import" in errors["fsmtest-broken"]
    assert "fsmtest-counting" not in errors
    with pytest.raises(ProviderError, match="fsmtest-broken"):
        plugins.default_registry().factory("fsmtest-broken")
    assert {"userpool", "fsmtest-counting"} <= set(plugins.available())
    # The built-in provider still works.
    client.sign_up("walt", PASSWORD, attributes={"email": "walt@example.com"})
    client.confirm_sign_up("walt", emulator.last_code("walt", "sign_up"))
    assert client.sign_in("walt", PASSWORD).state is SignInState.DONE


def test_a_client_configured_with_the_broken_plugin_says_so(
    installed_plugin: Any, make_client: Callable[..., AuthClient], aws_config: dict[str, Any]
) -> None:
    config = copy.deepcopy(aws_config)
    config["Auth"]["Default"]["Providers"] = {"user_pool": "fsmtest-broken"}
    client = make_client(config, identity_pool=False)
    with pytest.raises(ProviderError, match="fsmtest-broken"):
        client.sign_in("walt", PASSWORD)
    assert client.current_user_state is UserState.SIGNED_OUT


def test_an_unknown_provider_name_is_a_provider_error(
    make_client: Callable[..., AuthClient], aws_config: dict[str, Any]
) -> None:
    config = copy.deepcopy(aws_config)
    config["Auth"]["Default"]["Providers"] = {"user_pool": "no-such-provider"}
    client = make_client(config, identity_pool=False)
    with pytest.raises(ProviderError, match="no-such-provider"):
        client.sign_up("walt", PASSWORD)
