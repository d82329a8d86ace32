"""A real browser for the hosted UI's tests: Debian's ``chromium``, headless, driven through its
``chromedriver`` by selenium (no browser download: Selenium Manager is never asked).

``chromium`` fixture: one browser per test module (starting one costs about a second), with
its cookies cleared before each test so every test starts without a hosted-UI session.
``screenshots``: where a test saves what the browser showed; the path is printed, so a failing
test's output names the picture of the page it failed on.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def _chromium_driver() -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed "
            "(apt-get install chromium chromium-driver; .ci/run installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1024,768",
        "--no-first-run",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def chromium(_chromium_driver: Any) -> Any:
    """The module's headless Chromium, without cookies from earlier tests."""
    # Every site's cookies (delete_all_cookies() clears only the current page's site).
    _chromium_driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    return _chromium_driver


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """A directory for this test's screenshots (kept by pytest's tmp_path retention)."""
    directory = tmp_path / "screenshots"
    directory.mkdir()
    return directory


def screenshot(driver: Any, directory: Path, name: str) -> Path:
    """Save what ``driver`` shows as ``<directory>/<name>.png`` and print its path."""
    path = directory / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot of {name}: {path}")
    return path
