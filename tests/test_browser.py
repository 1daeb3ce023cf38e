"""The examples in headless Chromium at phone and desktop widths (skipped without Chromium)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import EXAMPLE_EDITIONS, EXAMPLES, build_example

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "Chromium and chromedriver are not installed "
            "(Debian: apt-get install chromium chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()


def show(driver: Any, path: Path, width: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": width,
            "height": 900,
            "deviceScaleFactor": 1,
            "mobile": width < 480,
        },
    )
    driver.get(path.as_uri())
    driver.execute_script("return document.fonts.ready")


def screenshot(driver: Any, name: str, width: int) -> Path:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": width,
            "height": height,
            "deviceScaleFactor": 1,
            "mobile": width < 480,
        },
    )
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / f"{name}-{width}.png"
    driver.save_screenshot(str(target))
    return target


@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
@pytest.mark.parametrize("width", [375, 600])
def test_example_in_chromium(browser: Any, tmp_path: Path, example: str, width: int) -> None:
    images = (EXAMPLES / example / "images").resolve().as_uri()
    html = tmp_path / f"{example}.html"
    html.write_text(build_example(example, asset_base_url=images).html, encoding="utf-8")
    show(browser, html, width)
    metrics = browser.execute_script("""
        const lead = document.querySelector('img[src*="lead"], img[src*="footbridge"]');
        const box = lead.getBoundingClientRect();
        return {
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          leadLeft: box.left, leadRight: box.right, leadWidth: box.width,
          leadLoaded: lead.complete && lead.naturalWidth > 0,
          h1: document.querySelectorAll('h1').length,
        };
    """)
    assert metrics["scrollWidth"] <= metrics["innerWidth"], "horizontal scrolling"
    assert metrics["leadLoaded"], "the lead picture did not load"
    assert metrics["leadLeft"] >= 0 and metrics["leadRight"] <= metrics["innerWidth"]
    assert metrics["leadWidth"] >= min(width, 600) * 0.8
    assert metrics["h1"] == 1
    assert screenshot(browser, example, width).stat().st_size > 10_000
