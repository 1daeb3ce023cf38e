"""The examples in headless Chromium at phone and desktop widths, light and dark.

Skipped, with the reason, when Chromium or chromedriver is missing. Screenshots are written to
``tests/artifacts/``; ``pytest --update-snapshots`` also refreshes the ones in
``docs/screenshots/`` that the README shows.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest import RenderError
from digest.inline import INLINERS

from .conftest import EXAMPLE_EDITIONS, EXAMPLES, ROOT, build_example

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).parent / "artifacts"
README_SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WIDTHS = [320, 375, 600, 1024]


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
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER)
    )
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each example written once, with its pictures from the example folder."""
    folder = tmp_path_factory.mktemp("pages")
    written = {}
    for example in EXAMPLE_EDITIONS:
        images = (EXAMPLES / example / "images").resolve().as_uri()
        for engine in INLINERS:
            page = folder / f"{example}-{engine}.html"
            try:
                page.write_text(build_example(example, images, engine).html, "utf-8")
            except RenderError:  # css-inline is an optional extra
                continue
            written[f"{example}/{engine}"] = page
    return written


def show(driver: Any, path: Path, width: int, scheme: str, height: int = 900) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": width,
            "height": height,
            "deviceScaleFactor": 1,
            "mobile": width < 480,
        },
    )
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {
            "features": [{"name": "prefers-color-scheme", "value": scheme}],
        },
    )
    driver.get(path.as_uri())


MEASURE = """
const lead = document.querySelector('h1').closest('table').parentElement
    .closest('div[class*="mj-column"]').querySelector('img');
const box = lead.getBoundingClientRect();
const clipped = [...document.querySelectorAll('h1, h2, h3, p')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.slice(0, 40));
const title = getComputedStyle(document.querySelector('h1 a'));
return {
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  leadLeft: box.left, leadRight: box.right, leadWidth: box.width,
  leadLoaded: lead.complete && lead.naturalWidth > 0,
  clipped: clipped,
  titleColour: title.color,
  background: getComputedStyle(document.body).backgroundColor,
};
"""


def brightness(css_colour: str) -> float:
    red, green, blue = (float(v) for v in css_colour[css_colour.index("(") + 1 : -1].split(",")[:3])
    return (red * 299 + green * 587 + blue * 114) / 1000


@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("engine", INLINERS)
def test_example_in_chromium(
    browser: Any,
    pages: dict[str, Path],
    example: str,
    width: int,
    scheme: str,
    engine: str,
    update_snapshots: bool,
) -> None:
    page = pages.get(f"{example}/{engine}")
    if page is None:
        pytest.skip(f"the {engine} inliner is not installed")
    show(browser, page, width, scheme)
    metrics = browser.execute_script(MEASURE)
    assert metrics["scrollWidth"] <= metrics["innerWidth"], "horizontal scrolling"
    assert metrics["leadLoaded"], "the lead picture did not load"
    assert metrics["leadLeft"] >= 0 and metrics["leadRight"] <= metrics["innerWidth"]
    assert metrics["leadWidth"] >= min(width, 600) * 0.8
    assert metrics["clipped"] == []
    if scheme == "dark":
        assert brightness(metrics["background"]) < 60
        assert brightness(metrics["titleColour"]) > 180
    else:
        assert brightness(metrics["background"]) > 200
        assert brightness(metrics["titleColour"]) < 80
    height = browser.execute_script("return document.documentElement.scrollHeight")
    show(browser, page, width, scheme, height=height)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{example}-{width}-{scheme}-{engine}.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if update_snapshots and width in (375, 600) and engine == "premailer":
        # The README shows the top of each: phone and desktop, light and dark.
        show(browser, page, width, scheme, height=1500)
        browser.save_screenshot(str(README_SHOTS / f"{example}-{width}-{scheme}.png"))


@pytest.mark.parametrize("locale", ["de", "ar", "ja", "pt_BR"])
def test_languages_in_chromium(
    browser: Any, tmp_path: Path, locale: str, update_snapshots: bool
) -> None:
    images = (EXAMPLES / "riverside" / "images").resolve().as_uri()
    page = tmp_path / f"riverside-{locale}.html"
    page.write_text(build_example("riverside", images, locale=locale).html, "utf-8")
    show(browser, page, 375, "light")
    seen = browser.execute_script(
        """
        const wrapper = document.querySelector('h1').closest('div[dir]');
        return {
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          direction: getComputedStyle(wrapper).direction,
          button: document.querySelector('td.button a').textContent.trim(),
          align: getComputedStyle(document.querySelector('p.kicker')).textAlign,
        };
        """
    )
    assert seen["scrollWidth"] <= seen["innerWidth"], "horizontal scrolling"
    rtl = locale == "ar"
    assert seen["direction"] == ("rtl" if rtl else "ltr")
    assert (
        seen["button"]
        == {"de": "Weiterlesen", "ar": "اقرأ المزيد", "ja": "続きを読む", "pt_BR": "Leia mais"}[
            locale
        ]
    )
    if update_snapshots:
        show(browser, page, 375, "light", height=1100)
        browser.save_screenshot(str(README_SHOTS / f"locale-{locale}.png"))
