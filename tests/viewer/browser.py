"""Headless Chromium from Debian's packages (/usr/bin/chromium), driven by Selenium through
Debian's chromedriver: nothing downloads a browser. Under CI (CI=true) a missing browser is a
failure; elsewhere the browser tests are skipped without one."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,800",
)  # fmt: skip


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def start_chromium(profile: Path) -> Iterator[Any]:
    """A fresh headless Chromium with its own profile directory; quit at the end."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        message = f"the browser tests need {CHROMIUM} and {CHROMEDRIVER} (apt-get install " \
                  "chromium chromium-driver; .ci/run does)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    # Selenium must not look for (or fetch) a driver or browser of its own.
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def embedded_data(page: Path) -> dict[str, Any]:
    """The diagram the page embeds (what the DOM must show)."""
    found = re.search(r'id="trace-data">(.*?)</script>', page.read_text(encoding="utf-8"), re.S)
    assert found is not None, f"{page} embeds no diagram"
    data: dict[str, Any] = json.loads(found.group(1))
    return data
