"""The editor's desk, clicked through a week in Chromium: steer, proof, approve, send.

Real parts: the desk served by uvicorn, an aiosmtpd inbox for the proof and the send, the
``digest`` command for the build and the send; axe-core on the desk; the same week by
keyboard alone; and every way in without the token, the Host or the CSRF token refused.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from digest.schedule.config import load_config
from digest.schedule.desk import Desk
from digest.web.desk import DeskSession, make_desk, proof_sender

from ..helpers import EXAMPLES, ROOT, run_digest
from ..mailservers import Inbox, free_port, start_smtp
from ..test_browser import ARTIFACTS, _chromium
from .served import Served

ON = "2026-11-30"
SHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture
def week(tmp_path: Path) -> Iterator[dict[str, Any]]:
    folder = tmp_path / "riverside"
    shutil.copytree(EXAMPLES / "riverside", folder)
    inbox = Inbox()
    controller, smtp_port = start_smtp(inbox)
    config = folder / "newsletter.toml"
    text = config.read_text().replace("history = false", 'history = "weekly.history.sqlite3"')
    text += (
        f'\n[delivery]\nprovider = "smtp"\n[delivery.smtp]\nhost = "127.0.0.1"\n'
        f'port = {smtp_port}\nsecurity = "none"\n'
        '\n[desk]\napproval = true\nproof_to = ["editor@riverside.example"]\n'
        'approver = "Sam Editor"\n'
    )
    config.write_text(text)
    (folder / "readers.txt").write_text("a@example.org\nb@example.org\n")
    loaded = load_config(config)
    desk = Desk(loaded, __import__("datetime").date(2026, 11, 30))
    session = DeskSession()
    port = free_port()
    served = Served(make_desk(desk, session, port, proof_sender(loaded)), port=port)
    yield {"config": config, "desk": desk, "session": session, "served": served, "inbox": inbox}
    served.stop()
    controller.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from _chromium("--window-size=1280,1000")


def wait_for(browser: Any, text: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = browser.find_element("id", "status").text
        if text in status:
            return str(status)
        time.sleep(0.05)
    raise AssertionError(f"the desk never said {text!r} (it says {status!r})")


def story_button(browser: Any, action: str, title_part: str) -> Any:
    for button in browser.find_elements("css selector", f'#stories button[data-action="{action}"]'):
        if title_part in button.get_attribute("aria-label"):
            return button
    raise AssertionError(f"no {action} button for {title_part!r}")


def open_desk(browser: Any, week: dict[str, Any]) -> None:
    browser.set_window_size(1280, 1000)
    browser.get(f"{week['served'].base}/?token={week['session'].token}")
    wait_for(browser, "Ready")


@pytest.mark.browser
def test_a_week_at_the_desk(browser: Any, week: dict[str, Any], update_snapshots: bool) -> None:
    open_desk(browser, week)
    titles = [e.text for e in browser.find_elements("css selector", "#stories .title")]
    third = titles[2]
    story_button(browser, "lead", third).click()
    wait_for(browser, "Made the lead")
    story_button(browser, "out", "Library extends").click()
    wait_for(browser, "Left out")
    story_button(browser, "back", "Choir auditions").click()  # the caps left it out
    wait_for(browser, "Brought back")
    story_button(browser, "up", "Choir auditions").click()
    wait_for(browser, "Moved up")
    browser.find_element("id", "subject").send_keys("Lanterns, choirs and a new bus timetable")
    browser.find_element("id", "note").send_keys(
        "Our winter issue. Tell us what you think: https://riverside.example/letters"
    )
    from selenium.webdriver.support.ui import Select

    quotes = Select(browser.find_element("id", "quote"))
    chosen = quotes.options[-1].get_attribute("value")
    quotes.select_by_value(chosen)
    browser.find_element("id", "save-words").click()
    wait_for(browser, "Saved the words")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "desk-1280.png"))
    if update_snapshots:  # the docs' picture, with the snapshots (pytest --update-snapshots)
        browser.save_screenshot(str(SHOTS / "desk-1280.png"))
    browser.find_element("id", "proof").click()
    wait_for(browser, "Sent a proof to editor@riverside.example")
    browser.find_element("id", "approve").click()
    wait_for(browser, "Approved by Sam Editor")

    inbox: Inbox = week["inbox"]
    ((_, proof_to, proof_raw),) = inbox.received
    proof = message_from_bytes(proof_raw, policy=policy.default)
    assert proof_to == ["editor@riverside.example"]
    assert proof["Subject"] == "[Proof] Lanterns, choirs and a new bus timetable"
    assert proof["Message-ID"].startswith("<proof.")

    shown = week["desk"].build()  # what the desk showed, from the plan it saved
    assert shown.edition.lead.title == third
    config = week["config"]
    built = run_digest("build", "--config", config, "--date", ON, "--out", config.parent / "out")
    assert built.returncode == 0, built.stderr
    (eml,) = (config.parent / "out").glob("*.eml")
    sent = run_digest(
        "send", "--config", config, eml, "--recipients", config.parent / "readers.txt",
        "--allow-placeholder-links",  # a test list: the example's unsubscribe link is a placeholder
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    received = message_from_bytes(inbox.received[-1][2], policy=policy.default)
    assert received["Subject"] == shown.subject == "Lanterns, choirs and a new bus timetable"
    assert received.get_body(("html",)).get_content().replace("\r\n", "\n") == shown.html
    assert received.get_body(("plain",)).get_content().replace("\r\n", "\n") == shown.text
    assert "Our winter issue." in shown.text and "Choir auditions" in shown.text
    assert "Library extends" not in shown.text
    assert shown.edition.quote is not None and shown.edition.quote.text == chosen
    assert received["Message-ID"] != proof["Message-ID"]

    # Sent is final: the edition is not built again in place.
    again = run_digest("build", "--config", config, "--date", ON, "--out", config.parent / "out")
    assert again.returncode == 1 and "a sent edition is final" in again.stderr


@pytest.mark.browser
def test_the_same_week_by_keyboard(browser: Any, week: dict[str, Any]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    open_desk(browser, week)
    target = story_button(browser, "out", "Library extends")
    # Tab through the page until the button has the focus, as a keyboard user would.
    for _ in range(60):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.switch_to.active_element == target:
            break
    else:
        raise AssertionError("the Leave out button cannot be reached with Tab")
    assert (
        browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
        != "none"
    )
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait_for(browser, "Left out")
    focused = browser.switch_to.active_element
    assert "Library extends" in focused.get_attribute("aria-label")  # the focus stays put
    ActionChains(browser).send_keys(Keys.ENTER).perform()  # now "Make lead" or "Bring back"
    wait_for(browser, "Made the lead")
    assert week["desk"].plan().lead == "https://riverside.example/town/library-saturday-hours"


@pytest.mark.browser
def test_axe_core_finds_no_violation_on_the_desk(browser: Any, week: dict[str, Any]) -> None:
    from ..render.test_reference import HAVE_TOOLS, NODE, axe_violations

    if not (NODE and HAVE_TOOLS):
        pytest.skip("Node.js and the reference packages are needed (npm ci --prefix tests/node)")
    open_desk(browser, week)
    assert axe_violations(browser) == []


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, headers=headers or {}), timeout=10
        ) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        error.close()
        return int(error.code)


def test_the_desk_refuses_strangers(week: dict[str, Any]) -> None:
    served, session = week["served"], week["session"]
    plan_before = week["desk"].plan()
    base = served.base
    assert request(f"{base}/") == 403  # no session
    assert request(f"{base}/?token=wrong") == 403
    assert request(f"{base}/state") == 403
    assert request(f"{base}/?token={session.token}", headers={"Host": "evil.example:80"}) == 421
    # The token opens one session, once.
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(f"{base}/?token={session.token}", timeout=10) as answer:
        assert answer.status == 200
    assert request(f"{base}/?token={session.token}") == 403
    plan = json.dumps({"lead": "https://riverside.example/culture/choir-auditions"}).encode()
    headers = {"Content-Type": "application/json"}
    for extra in ({}, {"X-CSRF-Token": "guess"}):
        try:
            opener.open(
                urllib.request.Request(f"{base}/plan", data=plan, headers={**headers, **extra}),
                timeout=10,
            )
        except urllib.error.HTTPError as error:
            assert error.code == 403
            error.close()
        else:
            raise AssertionError("a change without the CSRF token was taken")
    good = {**headers, "X-CSRF-Token": session.csrf}
    vanished = json.dumps({"lead": "https://riverside.example/gone"}).encode()
    try:
        opener.open(urllib.request.Request(f"{base}/plan", data=vanished, headers=good), timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 400 and b"not among" in error.read()
        error.close()
    assert week["desk"].plan() == plan_before  # nothing changed on disk
    with opener.open(
        urllib.request.Request(f"{base}/plan", data=plan, headers=good), timeout=10
    ) as answer:
        assert answer.status == 200
    assert week["desk"].plan().lead == "https://riverside.example/culture/choir-auditions"


def test_an_edition_changed_after_approval_is_refused(week: dict[str, Any]) -> None:
    config = week["config"]
    out = config.parent / "out"
    assert run_digest("build", "--config", config, "--date", ON, "--out", out).returncode == 0
    (eml,) = out.glob("*.eml")
    readers = config.parent / "readers.txt"
    # A test list: the example's unsubscribe link is on a placeholder host.
    send = ("send", "--config", config, eml, "--recipients", readers, "--allow-placeholder-links")
    unapproved = run_digest(*send)
    assert unapproved.returncode == 1 and "is not approved (approval = true)" in unapproved.stderr
    assert run_digest("approve", "--config", config, "--date", ON).returncode == 0
    changed = run_digest(
        "plan", "set", "--config", config, "--date", ON, "--subject", "Another subject"
    )
    assert changed.returncode == 0, changed.stderr
    assert run_digest("build", "--config", config, "--date", ON, "--out", out).returncode == 0
    refused = run_digest(*send)
    assert refused.returncode == 1
    assert (
        "changed after Sam Editor approved it" in refused.stderr and "the subject" in refused.stderr
    )
    assert "the text part" not in refused.stderr
    assert week["inbox"].received == []


def test_the_build_says_what_the_caps_left_out(week: dict[str, Any]) -> None:
    config = week["config"]
    built = run_digest("build", "--config", config, "--date", ON, "--out", config.parent / "out")
    assert built.returncode == 0, built.stderr
    assert "not in it: 1 left out by the caps, the size budget or the plan" in built.stdout
    shown = run_digest("plan", "show", "--config", config, "--date", ON, "--json")
    stories = json.loads(shown.stdout)["stories"]
    assert [s["title"] for s in stories if s["place"] == "left out"] == [
        "Choir auditions for the spring concert"
    ]


@pytest.mark.browser
def test_a_story_moves_section_and_the_email_loads_nothing_from_elsewhere(
    browser: Any, week: dict[str, Any]
) -> None:
    from selenium.webdriver.support.ui import Select

    open_desk(browser, week)
    choice = browser.find_element(
        "css selector", 'select[aria-label="Section: Bakery on the quay doubles its kitchen"]'
    )
    Select(choice).select_by_value("culture")
    wait_for(browser, "Moved to culture")
    plan = week["desk"].plan()
    assert plan.sections == {"https://riverside.example/business/quay-bakery": "culture"}
    browser.switch_to.frame(browser.find_element("id", "email"))
    sources = browser.execute_script("return [...document.images].map(i => i.getAttribute('src'))")
    loaded = browser.execute_script(
        "return [...document.images].filter(i => i.complete && i.naturalWidth > 0).length"
    )
    browser.switch_to.default_content()
    assert sources and all(src is None or src.startswith("data:image/") for src in sources)
    assert loaded >= 1  # the pictures come from the config's assets folder, through the desk


def test_the_build_counts_each_reason_a_story_is_not_in_it() -> None:
    from datetime import UTC, datetime

    from digest import Article, build_digest
    from digest.schedule.build import left_out_by_reason

    config = load_config(EXAMPLES / "riverside" / "newsletter.toml")

    def story(n: int, day: int, title: str = "") -> Article:
        return Article(
            title=title or f"Story {n}",
            url=f"https://riverside.example/s{n}",
            section="town",
            published_at=datetime(2026, 11, day, 9, tzinfo=UTC),
        )

    articles = [story(n, 20 + n % 8) for n in range(12)]
    articles.append(story(90, 29, title="Story 1"))  # a copy of story 1 under another address
    articles.append(story(91, 30))  # published on the edition's day: inside
    late = Article(
        **{**story(92, 29).model_dump(), "published_at": datetime(2026, 12, 3, tzinfo=UTC)}
    )
    articles.append(late)  # after the edition: outside
    on = __import__("datetime").date(2026, 11, 30)
    digest = build_digest(
        articles, config.newsletter, on, featured_before={"https://riverside.example/s2"}
    )
    counts = left_out_by_reason(
        config, on, articles, None, {"https://riverside.example/s2"}, digest
    )
    assert counts["outside the window"] == 1
    assert counts["featured before"] == 1
    assert counts["duplicates"] == 1
    assert counts["caps"] == len(articles) - 3 - len(digest.edition.articles)


@pytest.mark.browser
def test_the_email_shows_in_a_sandboxed_frame_that_cannot_reach_the_desk(
    browser: Any, week: dict[str, Any]
) -> None:
    open_desk(browser, week)
    frame = browser.find_element("id", "email")
    assert frame.get_attribute("sandbox") == ""  # no allow-scripts, no allow-same-origin
    deadline = time.monotonic() + 15
    while "/email?" not in (frame.get_attribute("src") or "") and time.monotonic() < deadline:
        time.sleep(0.05)
    # The desk's own script never reaches into the frame, and cannot: its origin is opaque.
    assert browser.execute_script("return document.getElementById('email').contentDocument") is None
    browser.switch_to.frame(frame)
    try:
        origin = browser.execute_script("return window.origin")
        text = browser.find_element("tag name", "body").text
        cookie = browser.execute_script(
            "return (() => { try { return document.cookie } catch (e) { return 'blocked' } })()"
        )
    finally:
        browser.switch_to.default_content()
    assert origin == "null"
    assert cookie in ("", "blocked")  # the session cookie is out of the email's reach
    lead = week["desk"].build().edition.lead.title
    assert lead in text  # the email is still shown
