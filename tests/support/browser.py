"""Real headless Chromium through Selenium (Debian's chromium and chromium-driver).

Where `.ci/run` installed them it sets JUNCTION_REQUIRE_CHROMIUM=1, and a browser that cannot
start fails the tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
)


def _binaries() -> tuple[str | None, str | None]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return browser, driver


def _unavailable(reason: str) -> None:
    if os.environ.get("JUNCTION_REQUIRE_CHROMIUM"):
        pytest.fail(f"chromium was installed by .ci/run but {reason}")
    pytest.skip(reason)


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium with its own profile and the browser log on."""
    browser, driver_path = _binaries()
    if browser is None or driver_path is None:
        _unavailable("chromium and chromium-driver are not installed (apt-get install "
                     "chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="junction-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(browser)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(str(driver_path)), options=options)
    except WebDriverException as exc:
        shutil.rmtree(profile, ignore_errors=True)
        _unavailable(f"chromium did not start: {exc.msg}")
        raise  # unreachable: skip and fail raise
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """The browser log's errors since the last call (it is drained as it is read)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry.get("level") == "SEVERE"]
