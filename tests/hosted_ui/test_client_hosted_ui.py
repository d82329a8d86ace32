"""``show_sign_in(hosted_ui=...)`` through ``AuthClient`` against the emulator's hosted UI, with
the emulator's ``HostedUIBrowser`` as the user's browser (the Chromium tests are in
tests/browser): sign-in, identity-pool credentials, refresh, restore, sign-out (revoke and
/logout), and every way it ends without a session, each changing nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from auth_testkit import confirmed_user

from fsm_auth import (
    AuthClient,
    ConfigError,
    HostedUIError,
    HostedUIOptions,
    IllegalTransitionError,
    NetworkError,
    SignInCancelledError,
    SignInState,
    UserState,
)
from fsm_auth.emulator import Emulator, FakeClock, Fault, HostedUIBrowser, Provisioned
from fsm_auth.session import FileSessionStore, MemorySessionStore

PASSWORD = "Correct-Horse-9!"


@pytest.fixture
def hosted_pool(emulator: Emulator) -> Provisioned:
    return emulator.provision(hosted_ui=True)


@pytest.fixture
def new_client(hosted_pool: Provisioned, clock: FakeClock) -> Iterator[Callable[..., AuthClient]]:
    made: list[AuthClient] = []

    def make(pool: Provisioned | None = None, **kwargs: Any) -> AuthClient:
        kwargs.setdefault("store", MemorySessionStore())
        client = AuthClient.from_config(
            (pool or hosted_pool).aws_configuration(), clock=clock, **kwargs
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def user(emulator: Emulator, pool: Provisioned, name: str) -> str:
    """A confirmed user of ``pool`` with PASSWORD."""
    return confirmed_user(emulator, pool, name, PASSWORD)


def opened_urls() -> tuple[list[str], Callable[[str], bool]]:
    urls: list[str] = []

    def opener(url: str) -> bool:
        urls.append(url)
        return True

    return urls, opener


def test_signs_in_through_the_hosted_ui(
    emulator: Emulator, hosted_pool: Provisioned, new_client: Callable[..., AuthClient]
) -> None:
    name = user(emulator, hosted_pool, "hana")
    client = new_client()
    changes: list[tuple[UserState, dict[str, str]]] = []
    client.add_user_state_listener(lambda state, info: changes.append((state, dict(info))))
    browser = HostedUIBrowser(name, PASSWORD)

    result = client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=browser))

    assert result.state is SignInState.DONE
    assert client.current_user_state is UserState.SIGNED_IN
    assert client.username == name
    assert changes[-1] == (UserState.SIGNED_IN, {"username": name})
    tokens = client.get_tokens()
    assert tokens.id_claims["email"] == f"{name}@example.com"
    assert tokens.id_claims["nonce"]  # sent, and checked by the client
    assert tokens.refresh_token
    # The page it opened: PKCE S256, state, nonce, the configured redirect URI.
    params = {k: v[0] for k, v in parse_qs(urlsplit(browser.opened[0]).query).items()}
    assert params["code_challenge_method"] == "S256"
    assert params["redirect_uri"] == hosted_pool.redirect_uri
    assert {"state", "nonce", "code_challenge"} <= set(params)
    assert emulator.count("oauth2/token") >= 1
    # Identity-pool credentials follow, as for a password sign-in.
    credentials = client.get_aws_credentials()
    assert credentials.access_key_id
    assert client.get_identity_id()


def test_hosted_ui_tokens_refresh_through_the_user_pool(
    emulator: Emulator,
    hosted_pool: Provisioned,
    new_client: Callable[..., AuthClient],
    clock: FakeClock,
) -> None:
    client = new_client()
    name = user(emulator, hosted_pool, "ivo")
    client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=HostedUIBrowser(name, PASSWORD)))
    first = client.get_tokens()
    clock.advance(3700)
    refreshed = client.get_tokens()
    assert refreshed.access_token != first.access_token
    assert refreshed.expiration > first.expiration
    assert client.current_user_state is UserState.SIGNED_IN


def test_a_hosted_ui_session_restores_and_signs_out_at_the_hosted_ui(
    emulator: Emulator,
    hosted_pool: Provisioned,
    new_client: Callable[..., AuthClient],
    tmp_path: Path,
    no_os_keyring: None,
) -> None:
    name = user(emulator, hosted_pool, "jun")
    first = new_client(store=FileSessionStore(tmp_path))
    first.show_sign_in(hosted_ui=HostedUIOptions(open_browser=HostedUIBrowser(name, PASSWORD)))
    refresh_token = first.get_tokens().refresh_token
    first.close()

    urls, opener = opened_urls()
    again = new_client(store=FileSessionStore(tmp_path))
    assert again.initialize() is UserState.SIGNED_IN
    assert again.username == name
    revokes = emulator.count("oauth2/revoke")
    # After a restart, /logout goes through the default opener; this test's records it.
    import fsm_auth_providers.hostedui as hostedui

    original = hostedui.default_open_browser
    hostedui.default_open_browser = opener
    try:
        result = again.sign_out()
    finally:
        hostedui.default_open_browser = original
    assert result.complete, result
    assert again.current_user_state in (UserState.SIGNED_OUT, UserState.GUEST)
    assert emulator.count("oauth2/revoke") == revokes + 1
    assert len(urls) == 1
    logout = urlsplit(urls[0])
    assert logout.path == "/logout"
    assert parse_qs(logout.query) == {
        "client_id": [hosted_pool.client_id],
        "logout_uri": [hosted_pool.sign_out_uri],
    }
    # The refresh token is revoked at the server.
    answer = requests.post(
        f"{hosted_pool.endpoint}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": hosted_pool.client_id,
            "refresh_token": refresh_token,
        },
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_sign_out_ends_the_browser_session_so_the_next_sign_in_asks_again(
    emulator: Emulator, hosted_pool: Provisioned, new_client: Callable[..., AuthClient]
) -> None:
    name = user(emulator, hosted_pool, "kai")
    client = new_client()
    browser = HostedUIBrowser(name, PASSWORD)
    options = HostedUIOptions(open_browser=browser)
    client.show_sign_in(hosted_ui=options)
    signed_in_pages = len(browser.pages)
    # The browser keeps the hosted UI's session: a second sign-in needs no form.
    client.show_sign_in(hosted_ui=options)
    assert not any("password" in page.text for page in browser.pages[signed_in_pages:])
    client.sign_out()
    assert urlsplit(browser.opened[-1]).path == "/logout"
    before = len(browser.pages)
    client.show_sign_in(hosted_ui=options)
    assert any('name="password"' in page.text for page in browser.pages[before:])


def test_the_user_cancels_on_the_sign_in_page(
    emulator: Emulator, hosted_pool: Provisioned, new_client: Callable[..., AuthClient]
) -> None:
    client = new_client()
    client.initialize()
    with pytest.raises(HostedUIError) as cancelled:
        client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=HostedUIBrowser(cancel=True)))
    assert cancelled.value.code == "access_denied"
    assert client.current_user_state is UserState.SIGNED_OUT
    # Nothing is pending: a new sign-in can start.
    name = user(emulator, hosted_pool, "lea")
    client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=HostedUIBrowser(name, PASSWORD)))
    assert client.is_signed_in


def deliver(redirect_uri: str, **params: str) -> Callable[[str], bool]:
    """A browser that goes straight to the redirect URI with ``params`` (an attacker's page,
    or a stale tab), from another thread, as a browser would."""

    def opener(url: str) -> bool:
        def visit() -> None:
            requests.get(redirect_uri, params=params, timeout=10)

        threading.Thread(target=visit, daemon=True).start()
        return True

    return opener


def test_a_tampered_state_is_refused_and_changes_nothing(
    hosted_pool: Provisioned, new_client: Callable[..., AuthClient], emulator: Emulator
) -> None:
    client = new_client()
    client.initialize()
    assert hosted_pool.redirect_uri is not None
    tokens_before = emulator.count("oauth2/token")
    with pytest.raises(HostedUIError) as mismatch:
        client.show_sign_in(
            hosted_ui=HostedUIOptions(
                open_browser=deliver(hosted_pool.redirect_uri, code="stolen", state="forged")
            )
        )
    assert mismatch.value.code == "state_mismatch"
    assert emulator.count("oauth2/token") == tokens_before  # never exchanged
    assert client.current_user_state is UserState.SIGNED_OUT


def test_a_replayed_code_is_refused(
    emulator: Emulator, hosted_pool: Provisioned, new_client: Callable[..., AuthClient]
) -> None:
    name = user(emulator, hosted_pool, "mia")
    client = new_client()
    browser = HostedUIBrowser(name, PASSWORD)
    client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=browser))
    assert browser.delivered is not None
    used_code = parse_qs(urlsplit(browser.delivered).query)["code"][0]
    client.sign_out()

    # A second sign-in receives the first one's code, with the right state.
    def replay(url: str) -> bool:
        state = parse_qs(urlsplit(url).query)["state"][0]
        assert hosted_pool.redirect_uri is not None
        return deliver(hosted_pool.redirect_uri, code=used_code, state=state)(url)

    with pytest.raises(HostedUIError) as replayed:
        client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=replay))
    assert replayed.value.code == "invalid_grant"
    assert used_code not in str(replayed.value)
    assert client.current_user_state in (UserState.SIGNED_OUT, UserState.GUEST)


def test_no_redirect_in_time_is_a_timeout(
    hosted_pool: Provisioned, new_client: Callable[..., AuthClient]
) -> None:
    client = new_client()
    client.initialize()
    _urls, opener = opened_urls()
    with pytest.raises(HostedUIError) as timed_out:
        client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=opener, timeout=0.2))
    assert timed_out.value.code == "timeout"
    assert client.current_user_state is UserState.SIGNED_OUT


@pytest.mark.parametrize(
    ("fault", "raised", "code"),
    [
        ({"drop": True}, NetworkError, None),
        ({"status": 500}, HostedUIError, "server_error"),
        (
            {"error": ("invalid_client", "Client authentication failed", 400)},
            HostedUIError,
            "invalid_client",
        ),
    ],
)
def test_a_failing_token_endpoint_changes_nothing(
    emulator: Emulator,
    hosted_pool: Provisioned,
    new_client: Callable[..., AuthClient],
    fault: dict[str, Any],
    raised: type[Exception],
    code: str | None,
) -> None:
    name = user(emulator, hosted_pool, f"noa{len(fault)}{raised.__name__}")
    client = new_client()
    client.initialize()
    emulator.faults.inject(Fault(operation="oauth2/token", times=1, **fault))
    with pytest.raises(raised) as failed:
        client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=HostedUIBrowser(name, PASSWORD)))
    if code is not None:
        assert getattr(failed.value, "code", None) == code
    assert client.current_user_state is UserState.SIGNED_OUT


def test_a_sign_out_during_the_browser_leg_wins(
    emulator: Emulator, hosted_pool: Provisioned, new_client: Callable[..., AuthClient]
) -> None:
    name = user(emulator, hosted_pool, "ode")
    client = new_client()
    client.initialize()
    browser = HostedUIBrowser(name, PASSWORD)
    exchanged = emulator.count("oauth2/token")

    def sign_out_then_finish(url: str) -> bool:
        client.sign_out()
        return browser(url)

    with pytest.raises(SignInCancelledError):
        client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=sign_out_then_finish))
    assert client.current_user_state is UserState.SIGNED_OUT
    assert emulator.count("oauth2/token") == exchanged  # the late code is never exchanged


def test_one_sign_in_at_a_time(
    emulator: Emulator, hosted_pool: Provisioned, new_client: Callable[..., AuthClient]
) -> None:
    client = new_client()
    client.initialize()
    name = user(emulator, hosted_pool, "pia")
    browser = HostedUIBrowser(name, PASSWORD)
    refused: list[BaseException] = []

    def try_another_then_finish(url: str) -> bool:
        try:
            client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=browser))
        except IllegalTransitionError as exc:
            refused.append(exc)
        return browser(url)

    client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=try_another_then_finish))
    assert len(refused) == 1
    assert client.is_signed_in


def test_a_client_secret_is_sent_with_basic_auth(
    emulator: Emulator, new_client: Callable[..., AuthClient]
) -> None:
    pool = emulator.provision(hosted_ui=True, client_secret=True, with_identity_pool=False)
    name = user(emulator, pool, "quinn")
    client = new_client(pool)
    client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=HostedUIBrowser(name, PASSWORD)))
    assert client.is_signed_in
    assert client.sign_out().complete


def test_without_a_hosted_ui_section_the_error_names_the_key(
    pool: Provisioned, make_client: Callable[..., AuthClient]
) -> None:
    client = make_client(pool.aws_configuration())
    with pytest.raises(ConfigError, match="OAuth"):
        client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=lambda url: True))
    assert client.current_user_state is UserState.SIGNED_OUT


def test_an_id_token_without_this_sign_ins_nonce_is_refused(
    emulator: Emulator, hosted_pool: Provisioned, clock: FakeClock
) -> None:
    """A hosted-UI provider plugin whose flow expects another nonce: the tokens verify, but
    are not this sign-in's, so nothing is committed."""
    import attrs

    from fsm_auth import NotAuthorizedError, PluginRegistry
    from fsm_auth.signin import SignedIn, SignInFlow
    from fsm_auth_providers.hostedui import HostedUIProvider

    class ExpectsAnotherNonce(HostedUIProvider):
        def sign_in(self, options: HostedUIOptions) -> SignInFlow:
            outcome: SignedIn = yield from super().sign_in(options)
            return attrs.evolve(outcome, nonce="another sign-in's nonce")

    registry = PluginRegistry()
    registry.register("expects_another_nonce", ExpectsAnotherNonce)
    config = hosted_pool.aws_configuration()
    config["Auth"]["Default"]["Providers"] = {"hosted_ui": "expects_another_nonce"}
    name = user(emulator, hosted_pool, "rae")
    with AuthClient.from_config(
        config, store=MemorySessionStore(), clock=clock, plugins=registry
    ) as client:
        client.initialize()
        with pytest.raises(NotAuthorizedError, match="nonce"):
            client.show_sign_in(
                hosted_ui=HostedUIOptions(open_browser=HostedUIBrowser(name, PASSWORD))
            )
        assert client.current_user_state is UserState.SIGNED_OUT
