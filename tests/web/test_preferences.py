"""The preferences page of ``digest serve``: a reader's sections, pause, time zone, leaving.

Through uvicorn and HTTP, and in Chromium as a reader meets it (phone and desktop, light and
dark, by keyboard, axe-core), with screenshots in ``tests/artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.cadence import Cadence
from digest.readers import Consent, ReaderStore
from digest.suppression import UnsubscribeTokens
from digest.web import WebSettings, make_app
from digest.web.preferences import Choices, pause_until

from ..render.test_reference import axe_violations, needs_node
from ..test_browser import ARTIFACTS, _chromium
from .served import Served
from .test_pages_browser import open_at

TOKENS = UnsubscribeTokens("the-secret-of-the-preferences-tests", "weekly.example.org")
JAKARTA = ZoneInfo("Asia/Jakarta")
CHOICES = Choices(
    name="TangerangNews",
    sections=(("banten", "BANTEN"), ("opini", "OPINI"), ("properti", "PROPERTI")),
    cadence=Cadence(every="week", weekday="monday"),
    zone=JAKARTA,
)
KIM = "kim@example.org"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    path = tmp_path / "suppressions.sqlite3"
    with ReaderStore(path) as store:
        store.add(KIM, Consent(datetime.now(UTC), "form", "the sign-up form"), timezone=None)
        store.add("sam@example.org", Consent(datetime.now(UTC), "form", "the sign-up form"))
        store.unsubscribe("sam@example.org")
    settings = WebSettings(
        suppressions=path, name="TangerangNews", tokens=TOKENS, preferences=CHOICES
    )
    server = Served(make_app(settings))
    yield server, path
    server.stop()


def post(server: Served, address: str, fields: list[tuple[str, str]]) -> tuple[int, str]:
    status, body = server.request(
        f"/preferences/{TOKENS.token(address)}",
        urlencode(fields).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    return status, body.decode()


def changes(path: Path, address: str) -> list[tuple[str, str]]:
    with ReaderStore(path) as store:
        return [
            (event.reason, event.source)
            for event in store.reader_history(address)
            if event.reason in ("changed", "paused", "resumed")
        ]


@pytest.mark.parametrize(
    ("today", "editions", "until"),
    [
        # A Wednesday: the next Monday is skipped, the one after is mailed (00:00 in Jakarta).
        (date(2026, 12, 2), 1, datetime(2026, 12, 13, 17, 0, tzinfo=UTC)),
        (date(2026, 12, 2), 2, datetime(2026, 12, 20, 17, 0, tzinfo=UTC)),
        # On a Monday the day's own edition is not the next one.
        (date(2026, 12, 7), 1, datetime(2026, 12, 20, 17, 0, tzinfo=UTC)),
        (date(2026, 12, 2), 8, datetime(2027, 1, 31, 17, 0, tzinfo=UTC)),
    ],
)
def test_a_pause_ends_on_the_day_of_the_first_edition_after_it(
    today: date, editions: int, until: datetime
) -> None:
    assert pause_until(CHOICES.cadence, editions, today, JAKARTA) == until


def test_opening_the_page_shows_the_choices_and_changes_nothing(
    served: tuple[Served, Path],
) -> None:
    server, path = served
    status, body = server.request(f"/preferences/{TOKENS.token(KIM)}")
    page = body.decode()
    assert status == 200
    assert page.count('type="checkbox"') == 3 and page.count(" checked") == 4  # 3 + "keep"
    assert "<option selected>Asia/Jakarta</option>" in page
    assert f'action="/unsubscribe/{TOKENS.token(KIM)}"' in page
    assert changes(path, KIM) == []


def test_a_reader_chooses_sections_then_all_of_them_again(served: tuple[Served, Path]) -> None:
    server, path = served
    status, page = post(server, KIM, [("section", "opini"), ("timezone", "Asia/Jakarta")])
    assert status == 200 and 'role="status">Your choices are saved.' in page
    with ReaderStore(path) as store:
        assert store.get(KIM).sections == ("opini",)  # type: ignore[union-attr]
    assert page.count(" checked") == 2  # OPINI and "keep them coming"
    every = [("section", name) for name, _ in CHOICES.sections]
    post(server, KIM, [*every, ("timezone", "Asia/Jakarta")])
    with ReaderStore(path) as store:
        assert store.get(KIM).sections is None  # type: ignore[union-attr]  # new ones too
    assert changes(path, KIM) == [("changed", "preferences page")] * 2


def test_a_reader_pauses_moves_and_resumes(served: tuple[Served, Path]) -> None:
    server, path = served
    every = [("section", name) for name, _ in CHOICES.sections]
    post(server, KIM, [*every, ("pause", "2"), ("timezone", "Europe/Amsterdam")])
    with ReaderStore(path) as store:
        record = store.get(KIM)
        assert record is not None and record.status == "paused"
        assert record.timezone == "Europe/Amsterdam"
        assert record.paused_until is not None
        assert record.paused_until - datetime.now(UTC) > timedelta(days=7)
        assert store.suppressed([KIM]) == {KIM}  # no send mails a paused reader
    status, page = server.request(f"/preferences/{TOKENS.token(KIM)}")
    assert status == 200
    assert "Paused until" in page.decode() and "Resume now" in page.decode()
    post(server, KIM, [*every, ("pause", "0"), ("timezone", "Europe/Amsterdam")])
    with ReaderStore(path) as store:
        assert store.status(KIM) == "subscribed"
    assert changes(path, KIM) == [
        ("changed", "preferences page"),
        ("paused", "preferences page"),
        ("resumed", "preferences page"),
    ]


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ([("section", "sport")], "section 'sport' is not one of this newsletter's"),
        ([("pause", "3")], "pause '3' is not one of 1, 2, 4, 8"),
        ([("timezone", "Mars/Olympus")], "time zone 'Mars/Olympus' is not an IANA time zone"),
        ([("timezone", "<script>")], "time zone '<script>' is not an IANA time zone"),
    ],
)
def test_a_bad_choice_is_a_400_naming_it_and_changes_nothing(
    served: tuple[Served, Path], fields: list[tuple[str, str]], said: str
) -> None:
    server, path = served
    status, page = post(server, KIM, fields)
    assert status == 400
    assert f'role="alert">{escape(said)}</p>' in page
    assert changes(path, KIM) == []


def test_a_forged_token_is_a_404_and_an_unknown_reader_can_only_leave(
    served: tuple[Served, Path],
) -> None:
    server, _ = served
    status, _ = server.request("/preferences/1.forged.token")
    assert status == 404
    status, body = server.request(f"/preferences/{TOKENS.token('file@example.org')}")
    assert status == 200 and b'type="checkbox"' not in body and b"only leaving" in body
    status, text = post(server, "file@example.org", [("section", "opini")])
    assert status == 200 and "saved" not in text
    status, body = server.request(f"/preferences/{TOKENS.token('sam@example.org')}")
    assert b"gets no more emails" in body and b"<form" not in body


def test_the_unsubscribe_page_links_to_the_preferences(served: tuple[Served, Path]) -> None:
    server, _ = served
    token = TOKENS.token(KIM)
    status, body = server.request(f"/unsubscribe/{token}")
    assert status == 200
    assert f'<a href="/preferences/{token}">Or choose what you get, or pause</a>' in body.decode()


# -- in Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from _chromium()


@pytest.mark.browser
@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_fits_with_targets_a_finger_can_hit(
    browser: Any, served: tuple[Served, Path], width: int, scheme: str
) -> None:
    server, _ = served
    open_at(browser, f"{server.base}/preferences/{TOKENS.token(KIM)}", width, scheme)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"preferences-{width}-{scheme}.png"))
    measured = browser.execute_script(
        """
        const sizes = [...document.querySelectorAll('label, button, select')].map(e => {
            const box = e.getBoundingClientRect(); return [box.width, box.height]; });
        return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, sizes,
                body: getComputedStyle(document.body).backgroundColor};
        """
    )
    assert measured["scroll"] <= measured["inner"]
    assert all(w >= 44 and h >= 44 for w, h in measured["sizes"]), measured["sizes"]
    assert (measured["body"] == "rgb(17, 20, 24)") == (scheme == "dark")


@pytest.mark.browser
def test_a_reader_drops_a_section_and_saves_with_the_keyboard(
    browser: Any, served: tuple[Served, Path]
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    server, path = served
    open_at(browser, f"{server.base}/preferences/{TOKENS.token(KIM)}", 375, "light")
    keys = ActionChains(browser)
    keys.send_keys(Keys.TAB).perform()  # BANTEN
    active = browser.switch_to.active_element
    assert active.get_attribute("value") == "banten"
    assert (
        browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
        != "none"
    )
    ActionChains(browser).send_keys(Keys.SPACE).perform()  # BANTEN off
    # To the Save button: OPINI, PROPERTI, the pause radios (one stop), the time zone.
    ActionChains(browser).send_keys(Keys.TAB * 5).perform()
    assert browser.switch_to.active_element.text == "Save"
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    browser.implicitly_wait(5)
    assert browser.find_element("css selector", "[role=status]").text == "Your choices are saved."
    with ReaderStore(path) as store:
        assert store.get(KIM).sections == ("opini", "properti")  # type: ignore[union-attr]


@pytest.mark.browser
@needs_node
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_core_finds_no_violations_on_the_preferences_page(
    browser: Any, served: tuple[Served, Path], scheme: str
) -> None:
    server, _ = served
    open_at(browser, f"{server.base}/preferences/{TOKENS.token(KIM)}", 375, scheme)
    assert axe_violations(browser) == []


@pytest.mark.parametrize("path", ["/unsubscribe/", "/preferences/", "/confirm/"])
def test_a_readers_token_never_reaches_the_log(path: str) -> None:
    from digest.web.body import redacted_path

    token = TOKENS.token(KIM)
    assert redacted_path(f"{path}{token}") == f"{path}…"


def test_the_preferences_log_lines_cut_the_token(
    served: tuple[Served, Path], caplog: pytest.LogCaptureFixture
) -> None:
    from starlette.testclient import TestClient

    _, path = served
    token = TOKENS.token(KIM)
    app = make_app(WebSettings(suppressions=path, tokens=TOKENS, preferences=CHOICES))
    # In this thread (a served app logs a request after answering it, in its own thread).
    with caplog.at_level("INFO", logger="digest.web"), TestClient(app) as client:
        client.get(f"/preferences/{token}")
        client.post(
            f"/preferences/{token}",
            content=b"section=opini&timezone=Asia%2FJakarta",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert "GET /preferences/… 200" in caplog.text and "POST /preferences/… 200" in caplog.text
    assert token not in caplog.text and KIM not in caplog.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.lists(
        st.tuples(
            st.sampled_from(["section", "pause", "timezone", "other"]),
            st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
        ),
        max_size=8,
    )
)
def test_any_form_is_saved_or_a_400_naming_it_never_an_error(
    tmp_path_factory: pytest.TempPathFactory, fields: list[tuple[str, str]]
) -> None:
    from starlette.testclient import TestClient

    path = tmp_path_factory.mktemp("store") / "suppressions.sqlite3"
    with ReaderStore(path) as store:
        store.add(KIM, Consent(datetime.now(UTC), "form", "the sign-up form"))
    app = make_app(WebSettings(suppressions=path, tokens=TOKENS, preferences=CHOICES))
    with TestClient(app) as client:
        answer = client.post(
            f"/preferences/{TOKENS.token(KIM)}",
            content=urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 400:
        assert 'role="alert"' in answer.text
    with ReaderStore(path) as store:
        record = store.get(KIM)
        assert record is not None and record.status in ("subscribed", "paused")
        known = {name for name, _ in CHOICES.sections}
        assert record.sections is None or set(record.sections) <= known


def test_saving_sections_keeps_a_pause_unless_the_reader_resumes(
    served: tuple[Served, Path],
) -> None:
    server, path = served
    post(server, KIM, [("section", "opini"), ("pause", "4"), ("timezone", "Asia/Jakarta")])
    _, page = server.request(f"/preferences/{TOKENS.token(KIM)}")
    assert b'value="0" checked' not in page  # nothing is chosen for a paused reader
    post(server, KIM, [("section", "banten"), ("timezone", "Asia/Jakarta")])  # as the form sends
    with ReaderStore(path) as store:
        record = store.get(KIM)
        assert record is not None and record.status == "paused"
        assert record.sections == ("banten",)
    assert changes(path, KIM)[-1] == ("changed", "preferences page")


def test_the_time_zones_offered_are_places() -> None:
    from digest.web.preferences import _zones, place_zones

    zones = _zones(place_zones(), "Asia/Jakarta")
    assert "Europe/Amsterdam" in zones and "UTC" in zones
    assert not {"localtime", "Factory", "EST"} & set(zones)


@pytest.fixture
def counting(tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    """The page of a newsletter that counts clicks ([tracking] on): a reader may say no."""
    path = tmp_path / "suppressions.sqlite3"
    with ReaderStore(path) as store:
        store.add(KIM, Consent(datetime.now(UTC), "form", "the sign-up form"))
    settings = WebSettings(
        suppressions=path,
        name="TangerangNews",
        tokens=TOKENS,
        preferences=replace(CHOICES, tracking=True),
    )
    server = Served(make_app(settings))
    yield server, path
    server.stop()


def _fields(path: Path) -> dict[str, str]:
    with ReaderStore(path) as store:
        record = store.get(KIM)
    assert record is not None
    return record.fields


def test_a_reader_says_no_to_counting_and_yes_again(counting: tuple[Served, Path]) -> None:
    server, path = counting
    page = server.request(f"/preferences/{TOKENS.token(KIM)}")[1].decode()
    assert '<input type="checkbox" name="counted" value="1" checked>' in page
    kept = [("section", n) for n, _ in CHOICES.sections] + [("timezone", "Asia/Jakarta")]
    status, page = post(server, KIM, [*kept, ("counting", "shown")])  # the box unticked
    assert status == 200 and _fields(path) == {"tracking": "off"}
    assert '<input type="checkbox" name="counted" value="1">' in page
    post(server, KIM, [*kept, ("counting", "shown")])  # the same again: no change, no event
    assert changes(path, KIM) == [("changed", "preferences page")]
    post(server, KIM, [*kept, ("counting", "shown"), ("counted", "1")])
    assert _fields(path) == {}
    assert changes(path, KIM) == [("changed", "preferences page")] * 2


def test_without_counting_the_page_asks_nothing_and_a_forged_field_changes_nothing(
    served: tuple[Served, Path],
) -> None:
    server, path = served
    page = server.request(f"/preferences/{TOKENS.token(KIM)}")[1].decode()
    assert 'name="counted"' not in page
    kept = [("section", n) for n, _ in CHOICES.sections] + [("timezone", "Asia/Jakarta")]
    post(server, KIM, [*kept, ("counting", "shown")])
    assert _fields(path) == {} and changes(path, KIM) == []


@pytest.mark.browser
@needs_node
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_core_finds_no_violations_with_the_counting_box(
    browser: Any, counting: tuple[Served, Path], scheme: str
) -> None:
    server, _ = counting
    open_at(browser, f"{server.base}/preferences/{TOKENS.token(KIM)}", 375, scheme)
    assert axe_violations(browser) == []
