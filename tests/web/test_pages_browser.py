"""The unsubscribe pages as a reader meets them in Chromium: phone and desktop, light and dark,
by keyboard, with axe-core; screenshots in ``tests/artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.suppression import SuppressionList, UnsubscribeTokens
from digest.web import WebSettings, make_app

from ..render.test_reference import axe_violations, needs_node
from ..test_browser import ARTIFACTS, _chromium
from .served import Served

pytestmark = pytest.mark.browser
TOKENS = UnsubscribeTokens("the-secret-of-the-browser-tests", "weekly.example.org")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from _chromium()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    store = tmp_path / "suppressions.sqlite3"
    app = make_app(WebSettings(suppressions=store, name="The Riverside Weekly", tokens=TOKENS))
    server = Served(app)
    yield server, store
    server.stop()


def open_at(browser: Any, url: str, width: int, scheme: str) -> None:
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 480},
    )
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )
    browser.get(url)


@pytest.mark.parametrize("width", [320, 375, 1024])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_a_reader_opens_changes_nothing_and_fits(
    browser: Any, served: tuple[Served, Path], width: int, scheme: str
) -> None:
    server, store = served
    address = "a.reader.with.a.rather.long.address@newsroom-of-the-riverside.example.org"
    open_at(browser, f"{server.base}/unsubscribe/{TOKENS.token(address)}", width, scheme)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"unsubscribe-{width}-{scheme}.png"))
    measured = browser.execute_script(
        """
        const button = document.querySelector('button').getBoundingClientRect();
        const style = getComputedStyle(document.querySelector('button'));
        return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
                width: button.width, height: button.height, colour: style.color,
                background: style.backgroundColor, lang: document.documentElement.lang,
                body: getComputedStyle(document.body).backgroundColor,
                text: document.body.innerText};
        """
    )
    assert measured["scroll"] <= measured["inner"]
    assert measured["width"] >= 44 and measured["height"] >= 44
    assert measured["lang"] == "en" and address in measured["text"]
    dark_body = measured["body"] == "rgb(17, 20, 24)"
    assert dark_body == (scheme == "dark")
    with SuppressionList(store) as listed:
        assert len(listed) == 0  # opening the page (as a mail scanner does) changes nothing


def test_a_reader_unsubscribes_with_the_keyboard(browser: Any, served: tuple[Served, Path]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    server, store = served
    open_at(browser, f"{server.base}/unsubscribe/{TOKENS.token('kim@example.org')}", 375, "light")
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.switch_to.active_element.tag_name == "button"
    outline = browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus is visible
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    browser.implicitly_wait(5)
    heading = browser.find_element("tag name", "h1").text
    assert heading == "You are unsubscribed"
    with SuppressionList(store) as listed:
        assert listed.get("kim@example.org").reason == "unsubscribed"  # type: ignore[union-attr]


@needs_node
@pytest.mark.parametrize("page", ["confirm", "done", "invalid"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_core_finds_no_violations(
    browser: Any, served: tuple[Served, Path], page: str, scheme: str
) -> None:
    server, _ = served
    token = TOKENS.token("kim@example.org") if page != "invalid" else "1.forged.token"
    if page == "done":
        server.request(f"/unsubscribe/{token}", b"confirm=1")
    open_at(browser, f"{server.base}/unsubscribe/{token}", 375, scheme)
    if page == "done":
        browser.find_element("tag name", "button").click()
    assert axe_violations(browser) == []
