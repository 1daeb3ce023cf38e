"""The desk's hand-off to Mailchimp as an editor meets it in headless Chromium.

Real parts: the desk served by uvicorn, the TangerangNews example with a history, and the
Mailchimp stand-in, which checks every request against Mailchimp's OpenAPI extract. The editor
types a name and clicks Approve, reaches "Create campaign in Mailchimp" with Tab and presses
Enter, sees the link to the campaign, clicks again to update the draft; a change after the
approval takes the button away until approved again; a refused key shows as one line without
the key; axe-core at 375 and 1280 px, light and dark; screenshots in ``/tmp/shots/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.schedule.desk import Desk
from digest.web.desk import DeskSession, make_desk
from tests.mailservers import free_port
from tests.publish.editions import ON, example_config, loaded
from tests.publish.standins_mailchimp import MailchimpApi
from tests.publish.tools_p1 import MAILCHIMP
from tests.render.test_reference import axe_violations, needs_node
from tests.test_browser import _chromium
from tests.web.served import Served

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")
#: A key of the right shape that the stand-in does not hold (its 401).
WRONG_KEY = "ffffffffffffffffffffffffffffffff-us6"
CAMPAIGN_URL = "https://us6.admin.mailchimp.com/campaigns/edit?id=1001"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from _chromium()


class DeskPage:
    """The desk at its URL in the browser, served over the Mailchimp stand-in."""

    def __init__(self, browser: Any, served: Served, session: DeskSession) -> None:
        self.browser, self.served, self.session = browser, served, session

    def open(self, width: int, scheme: str) -> None:
        """Open the desk from its one-time link at ``width`` px in ``scheme``."""
        self.browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 480},
        )
        self.browser.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
        )
        self.browser.get(f"{self.served.base}/?token={self.session.token}")
        self.wait_for("Ready")

    def element(self, name: str) -> Any:
        """The page's element with id ``name``."""
        return self.browser.find_element("id", name)

    def status(self) -> str:
        """What the desk's status line says."""
        return str(self.element("status").text)

    def wait_for(self, text: str) -> str:
        """The status line once it says ``text`` (an error after 15 s of waiting)."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if text in (said := self.status()):
                return said
            time.sleep(0.05)
        raise AssertionError(f"the desk never said {text!r} (it says {self.status()!r})")

    def approve(self, name: str) -> None:
        """Type who approves and click Approve, as an editor does."""
        field = self.element("approver")
        field.clear()
        field.send_keys(name)
        self.element("approve").click()
        self.wait_for(f"Approved by {name}")

    def tab_to(self, target: Any) -> None:
        """Press Tab until ``target`` has the focus."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        for _ in range(80):
            ActionChains(self.browser).send_keys(Keys.TAB).perform()
            if self.browser.switch_to.active_element == target:
                return
        raise AssertionError(f"{target.text!r} cannot be reached with Tab")

    def press_enter(self) -> None:
        """Press Enter on what has the focus."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        ActionChains(self.browser).send_keys(Keys.ENTER).perform()

    def shot(self, name: str) -> None:
        """A screenshot of the hand-off, in ``/tmp/shots/desk-publish-NAME.png``."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.browser.execute_script(
            "document.getElementById('h-send').parentElement.scrollIntoView({block: 'end'})"
        )
        self.browser.save_screenshot(str(SHOTS / f"desk-publish-{name}.png"))


@pytest.fixture
def mailchimp() -> Iterator[MailchimpApi]:
    with MAILCHIMP.standin() as api:
        assert isinstance(api, MailchimpApi)
        yield api


def serve_desk(
    browser: Any, tmp_path: Path, api: MailchimpApi, key: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DeskPage]:
    """The example's desk with ``[publish.mailchimp]`` at the stand-in, and ``key`` as its key."""
    config = loaded(example_config(tmp_path, MAILCHIMP.table(api.url)))
    monkeypatch.setenv("MAILCHIMP_API_KEY", key)
    session = DeskSession()
    port = free_port()
    served = Served(make_desk(Desk(config, ON), session, port), port=port)
    try:
        yield DeskPage(browser, served, session)
    finally:
        served.stop()


@pytest.fixture
def desk(
    browser: Any, tmp_path: Path, mailchimp: MailchimpApi, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DeskPage]:
    yield from serve_desk(browser, tmp_path, mailchimp, mailchimp.key, monkeypatch)


def publish_button(page: DeskPage) -> dict[str, Any]:
    """The button as the editor sees it: shown, enabled, its words, size and reason."""
    measured: dict[str, Any] = page.browser.execute_script(
        """
        const b = document.getElementById('publish');
        const box = b.getBoundingClientRect();
        const why = b.getAttribute('aria-describedby');
        return {shown: !b.hidden && box.width > 0, disabled: b.disabled, text: b.innerText,
                width: box.width, height: box.height,
                reason: why ? document.getElementById(why).innerText : ''};
        """
    )
    return measured


def test_the_editor_approves_then_makes_the_campaign_and_updates_it(
    desk: DeskPage, mailchimp: MailchimpApi
) -> None:
    desk.open(1280, "light")
    before = publish_button(desk)
    assert not before["shown"] or (before["disabled"] and "approve" in before["reason"].lower())
    desk.shot("before-approval-1280-light")

    desk.approve("Sari Editor")
    button = desk.element("publish")
    assert publish_button(desk)["text"] == "Create campaign in Mailchimp"
    desk.tab_to(button)
    outline = desk.browser.execute_script(
        "return getComputedStyle(document.activeElement).outlineStyle"
    )
    assert outline != "none"  # the focus is visible
    desk.press_enter()
    said = desk.wait_for("created campaign")
    assert said.startswith("Mailchimp: TangerangNews 2025-09-16 #1: created campaign")
    link = desk.element("campaign")
    assert link.is_displayed() and link.get_attribute("href") == CAMPAIGN_URL
    assert "Mailchimp" in link.text and "draft" in link.text
    assert publish_button(desk)["text"] == "Update draft in Mailchimp"
    assert len(mailchimp.campaigns) == 1
    desk.shot("created-1280-light")

    desk.element("publish").click()
    desk.wait_for("updated draft")
    assert len(mailchimp.campaigns) == 1
    assert [m for m, p, _ in mailchimp.requests if m == "POST" and p.endswith("/campaigns")] == [
        "POST"
    ]
    assert mailchimp.problems == []


def test_a_change_after_approval_takes_the_button_away_until_approved_again(
    desk: DeskPage, mailchimp: MailchimpApi
) -> None:
    desk.open(375, "light")
    desk.approve("Sari Editor")
    assert not publish_button(desk)["disabled"]
    subject = desk.element("subject")
    subject.clear()
    subject.send_keys("Pekan ini: UMKM, sampah dan BSDE")
    desk.element("save-words").click()
    desk.wait_for("Saved the words")
    button = publish_button(desk)
    assert button["shown"] and button["disabled"]
    assert button["reason"] == "Approve the edition as it is now to hand it to Mailchimp."
    assert desk.element("send-said").text == ""  # the approval it said is no longer the news
    desk.shot("changed-375-light")
    desk.approve("Sari Editor")
    desk.element("publish").click()
    desk.wait_for("created campaign")
    (campaign,) = mailchimp.created()
    assert campaign["settings"]["subject_line"] == "Pekan ini: UMKM, sampah dan BSDE"


def test_a_refused_key_shows_as_one_line_without_the_key(
    browser: Any, tmp_path: Path, mailchimp: MailchimpApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    for page in serve_desk(browser, tmp_path, mailchimp, WRONG_KEY, monkeypatch):
        page.open(375, "light")
        page.approve("Sari Editor")
        page.element("publish").click()
        said = page.wait_for("No campaign")
        page.shot("refused-375-light")
        beside = page.element("send-said")  # on a phone the status line is a screen away
        assert beside.is_displayed() and beside.text == said
        assert "\n" not in said and "(401)" in said and "API Key Invalid" in said
        text = page.browser.find_element("tag name", "body").text
        assert WRONG_KEY not in text and WRONG_KEY[:8] not in text
        assert not page.element("campaign").is_displayed()
        assert mailchimp.campaigns == {}


@needs_node
@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_hand_off_is_clean_and_fits_at_each_width_and_scheme(
    desk: DeskPage, width: int, scheme: str
) -> None:
    desk.open(width, scheme)
    if scheme == "dark":  # the email as a reader in dark mode sees it, too
        desk.browser.find_element("css selector", "input[name=scheme][value=dark]").click()
    assert axe_violations(desk.browser) == []
    desk.approve("Sari Editor")
    button = publish_button(desk)
    assert button["shown"] and not button["disabled"]
    if width == 375:
        assert button["width"] >= 44 and button["height"] >= 44
    desk.element("publish").click()
    desk.wait_for("created campaign")
    desk.shot(f"{width}-{scheme}")
    assert axe_violations(desk.browser) == []
    overflow = desk.browser.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0
