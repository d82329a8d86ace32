"""The hosted UI in a real browser: headless Chromium opens the authorization URL the client
made, a user fills the emulator's sign-in form, and the client completes the sign-in from the
loopback redirect Chromium follows. Also: a wrong password shown on the page, the user
cancelling, and federation through a real upstream OIDC provider (``oidc-provider-mock``).

Run them alone with ``pytest tests/browser -s`` (``-s`` prints the screenshots' paths).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from auth_testkit import confirmed_user

from fsm_auth import AuthClient, HostedUIError, HostedUIOptions, UserState
from fsm_auth.emulator import Emulator, FakeClock, Provisioned
from fsm_auth.session import MemorySessionStore

from .conftest import screenshot

PASSWORD = "Correct-Horse-9!"
WAIT = 20.0  # seconds for a page to show what a step needs


@pytest.fixture
def hosted_pool(emulator: Emulator) -> Provisioned:
    return emulator.provision(hosted_ui=True)


@pytest.fixture
def client(hosted_pool: Provisioned, clock: FakeClock) -> Iterator[AuthClient]:
    with AuthClient.from_config(
        hosted_pool.aws_configuration(), store=MemorySessionStore(), clock=clock
    ) as client:
        client.initialize()
        yield client


def element(driver: Any, element_id: str) -> Any:
    """The element ``element_id`` once the page shows it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(
        expected_conditions.visibility_of_element_located((By.ID, element_id))
    )


def page_shows(driver: Any, text: str) -> bool:
    """Whether the page shows ``text`` within WAIT seconds."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    located = expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "body"), text)
    return bool(WebDriverWait(driver, WAIT).until(located))


def user_at_the_sign_in_page(
    driver: Any, shots: Path, *steps: Callable[[Any], None]
) -> Callable[[str], bool]:
    """``open_browser`` for the client: Chromium opens the page, a screenshot of the sign-in
    page is saved, then the user does ``steps`` on it."""

    def open_browser(url: str) -> bool:
        driver.get(url)
        element(driver, "username")
        screenshot(driver, shots, "sign-in-page")
        for step in steps:
            step(driver)
        return True

    return open_browser


def types(username: str, password: str) -> Callable[[Any], None]:
    def step(driver: Any) -> None:
        name = element(driver, "username")
        name.clear()
        name.send_keys(username)
        element(driver, "password").send_keys(password)
        element(driver, "signin").click()

    return step


def test_signs_in_through_the_sign_in_page_in_chromium(
    chromium: Any,
    screenshots: Path,
    emulator: Emulator,
    hosted_pool: Provisioned,
    client: AuthClient,
) -> None:
    name = confirmed_user(emulator, hosted_pool, "chloe", PASSWORD)
    opener = user_at_the_sign_in_page(chromium, screenshots, types(name, PASSWORD))

    client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=opener, timeout=WAIT))

    assert client.current_user_state is UserState.SIGNED_IN
    assert client.username == name
    assert client.get_tokens().id_claims["email"] == f"{name}@example.com"
    # Chromium followed the redirect to the client's listener, which told it to close the tab.
    assert page_shows(chromium, "You can close this tab now.")
    assert (screenshots / "sign-in-page.png").stat().st_size > 1000


def test_a_wrong_password_is_shown_on_the_page_then_the_right_one_signs_in(
    chromium: Any,
    screenshots: Path,
    emulator: Emulator,
    hosted_pool: Provisioned,
    client: AuthClient,
) -> None:
    name = confirmed_user(emulator, hosted_pool, "dario", PASSWORD)

    def shown_the_error(driver: Any) -> None:
        message = element(driver, "loginErrorMessage")
        assert message.text == "Incorrect username or password."
        screenshot(driver, screenshots, "wrong-password")
        assert client.current_user_state is UserState.SIGNED_OUT

    opener = user_at_the_sign_in_page(
        chromium,
        screenshots,
        types(name, "not-the-password-1A!"),
        shown_the_error,
        types(name, PASSWORD),
    )
    client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=opener, timeout=WAIT))
    assert client.is_signed_in
    assert "not-the-password-1A!" not in chromium.current_url


def test_the_user_cancels_on_the_page(chromium: Any, screenshots: Path, client: AuthClient) -> None:
    opener = user_at_the_sign_in_page(
        chromium, screenshots, lambda driver: element(driver, "cancel").click()
    )
    with pytest.raises(HostedUIError) as cancelled:
        client.show_sign_in(hosted_ui=HostedUIOptions(open_browser=opener, timeout=WAIT))
    assert cancelled.value.code == "access_denied"
    assert client.current_user_state is UserState.SIGNED_OUT
    assert page_shows(chromium, "The sign-in was cancelled or refused.")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # oidc-provider-mock's authlib use
def test_signs_in_through_an_upstream_oidc_provider_in_chromium(
    chromium: Any,
    screenshots: Path,
    emulator: Emulator,
    upstream: str,
    clock: FakeClock,
) -> None:
    """``identity_provider="Mock"``: Chromium goes to the real upstream OIDC provider, the user
    picks their subject there, and comes back through the emulator (which creates the
    federated user ``Mock_<sub>``) to the client's listener."""
    from selenium.webdriver.common.by import By

    pool = emulator.provision(hosted_ui=True)
    pool.add_oidc_provider(
        "Mock",
        issuer=upstream,
        client_id="emulator-at-upstream",
        client_secret="upstream-secret-0123",
        attribute_mapping={"email": "email"},
    )

    def at_the_upstream(url: str) -> bool:
        chromium.get(url)
        field = chromium.find_element(By.NAME, "sub")
        screenshot(chromium, screenshots, "upstream-provider-page")
        field.send_keys("fed-chromium")
        chromium.find_element(By.CSS_SELECTOR, "button[type=submit]:not([name])").click()
        return True

    with AuthClient.from_config(
        pool.aws_configuration(), store=MemorySessionStore(), clock=clock
    ) as client:
        client.show_sign_in(
            hosted_ui=HostedUIOptions(
                identity_provider="Mock", open_browser=at_the_upstream, timeout=WAIT
            )
        )
        assert client.current_user_state is UserState.SIGNED_IN
        assert client.username == "Mock_fed-chromium"
        claims = client.get_tokens().id_claims
        assert claims["identities"][0]["providerName"] == "Mock"
        assert claims["identities"][0]["userId"] == "fed-chromium"
        assert client.get_aws_credentials().access_key_id
