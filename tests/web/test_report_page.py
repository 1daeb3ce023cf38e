"""The desk's report page: SVG charts from numbers, the page from an edition's figures, and the
page in Chromium at 1280 px, light and dark, by keyboard and with axe-core, for two editions
built and sent through aiosmtpd with clicks and opens recorded as click tracking records them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from lxml import html as lxml_html

from digest import load_config
from digest.report import Flag, Report, StoryClicks
from digest.schedule.config import suppression_path
from digest.schedule.desk import Desk
from digest.schedule.history import links_of
from digest.suppression import Event, SuppressionList
from digest.text import one_line_text
from digest.web.charts import Bar, Series, bar_chart, line_chart, nice_ceiling
from digest.web.desk import DeskSession, make_desk
from digest.web.report_page import report_page, unreported_page

from ..helpers import EXAMPLES, run_digest
from ..mailservers import Inbox, free_port, start_smtp
from ..test_browser import ARTIFACTS, _chromium
from .served import Served

SVG = "{http://www.w3.org/2000/svg}"
SHOTS = Path("/tmp/shots")


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (-3, 1), (float("nan"), 1), (1, 1), (3, 5), (7, 10), (12, 20), (0.021, 0.025),
     (0.3, 0.5), (250, 250), (251, 500)],
)  # fmt: skip
def test_the_scale_ends_at_a_round_number(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


def bars_of(svg: str) -> list[float]:
    return [float(r.get("width")) for r in etree.fromstring(svg).iter(f"{SVG}rect")]


def test_bars_are_as_long_as_their_values() -> None:
    svg = bar_chart("Clicks", [Bar("a", 40), Bar("b", 10), Bar("c", 0)], ident="t")
    a, b, c = bars_of(svg)
    assert a == pytest.approx(4 * b) and c == 0
    root = etree.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "t-title t-desc"
    assert root.find(f"{SVG}title").text == "Clicks"
    assert root.find(f"{SVG}desc").text.startswith("3 bars; the largest is a, 40.")


def test_a_chart_of_nothing_says_so() -> None:
    assert "nothing yet" in bar_chart("Clicks", [], ident="t")
    assert "No values yet." in line_chart("Rates", [], [], ident="t")


def test_a_missing_value_breaks_the_line_and_the_second_line_is_marked_apart() -> None:
    svg = line_chart(
        "Rates", ["#1", "#2", "#3", "#4"],
        [Series("Opened", [0.5, 0.4, None, 0.45]), Series("Clicked", [0.1, 0.2, 0.15, 0.12])],
        ident="t",
    )  # fmt: skip
    root = etree.fromstring(svg)
    lines = root.findall(f"{SVG}polyline")
    assert [line.get("class") for line in lines] == ["line first", "line other"]
    assert len(lines[0].get("points").split()) == 2  # #1-#2; #4 stands alone after the gap
    assert len(root.findall(f"{SVG}circle")) == 3 and len(root.findall(f"{SVG}rect")) == 4
    desc = root.find(f"{SVG}desc").text
    assert "Opened: 50 % at #1, 45 % at #4." in desc and "Clicked: 10 % at #1, 12 % at #4." in desc


@given(st.text(max_size=300), st.floats(allow_nan=True, allow_infinity=True))
def test_any_label_and_value_give_well_formed_svg(label: str, value: float) -> None:
    for svg in (
        bar_chart(label, [Bar(label, value)], ident="x"),
        line_chart(label, [label, "b"], [Series(label, [value, None])], ident="x"),
    ):
        root = etree.fromstring(svg)
        assert (root.find(f"{SVG}title").text or "") == one_line_text(label)
        assert not root.findall(".//{*}script") and "<script" not in svg.lower().replace(
            "&lt;script", ""
        )


def story(title: str, clicks: int, readers: int, slot: int, section: str = "Kota") -> StoryClicks:
    kind = "lead" if slot == 0 else "teaser"
    return StoryClicks(title, title, kind, section, slot, clicks, readers, readers / 40)


def figures(number: int, sent: int, opens: int, clicks: int, **more: Any) -> Report:
    values: dict[str, Any] = dict(
        edition=f"key-{number}", number=number, date=date(2099, 1, 5 + 7 * (number - 1)),
        subject=f"Edition {number} <b>&</b>", recipients=sent, sent=sent, refused=0, unknown=0,
        pending=0, delivered=sent, hard_bounces=0, soft_bounces=0, complaints=0,
        unsubscribes=0, opens=opens, total_opens=opens, clicks=clicks, total_clicks=clicks,
        scanner_clicks=0, bounce_rate=0.0, complaint_rate=0.0, open_rate=opens / sent,
        click_rate=clicks / sent,
    )  # fmt: skip
    return Report(**(values | more))


def test_the_page_shows_every_figure_in_a_table_beside_its_chart() -> None:
    stories = (
        story("<script>alert(1)</script> Banjir", 12, 9, 0),
        story("Pasar & harga", 5, 4, 1, "Ekonomi"),
    )
    newest = figures(
        3, 40, 20, 11, stories=stories, complaints=1, complaint_rate=0.025,
        flags=(Flag("complaint rate", 0.025, 0.001, "2.5 % of readers complained: over 0.1 %"),),
    )  # fmt: skip
    trend = [newest, figures(2, 40, 18, 6), figures(1, 38, 15, 4)]
    page = report_page(newest, trend)
    assert "<script>" not in page
    doc = lxml_html.fromstring(page)
    assert doc.findtext(".//h1") == "Report: Edition #3 of 2099-01-19"
    assert doc.findtext(".//p[@class='subject']") == "Edition 3 <b>&</b>"
    (flagged,) = doc.findall(".//div[@class='flags']//li")
    assert flagged.text_content() == "complaint rate: 2.5 % of readers complained: over 0.1 %"
    tables = doc.findall(".//table")
    stories_rows = [[c.text_content() for c in tr] for tr in tables[0].findall("./tbody/tr")]
    assert stories_rows == [
        ["<script>alert(1)</script> Banjir", "Kota", "lead", "12", "9", "22.5 %"],
        ["Pasar & harga", "Ekonomi", "1", "5", "4", "10.0 %"],
    ]
    trend_rows = [[c.text_content() for c in tr] for tr in tables[1].findall("./tbody/tr")]
    assert [row[0] for row in trend_rows] == ["#1", "#2", "#3"]  # oldest first, as drawn
    assert trend_rows[2][4:6] == ["50.0 %", "27.5 %"]
    figures_shown = {
        div.findtext("dt"): div.findtext("dd") for div in doc.findall(".//dl[@class='figures']/div")
    }
    assert figures_shown["Clicked (readers)"] == "11 (27.5 %)"
    assert figures_shown["Complaint rate"] == "2.5 %"
    # Each chart is an image named by its title, beside the table of its numbers.
    charts = doc.findall(".//figure/svg")
    assert [c.get("aria-labelledby") for c in charts] == [
        "chart-stories-title chart-stories-desc", "chart-trend-title chart-trend-desc",
    ]  # fmt: skip


def test_nothing_to_report_says_why() -> None:
    page = unreported_page("no edition built yet <run digest build>")
    assert "Nothing to report yet: no edition built yet &lt;run digest build&gt;" in page


# The browser: three editions of the TangerangNews example, built and sent to 40 readers.


def seed(folder: Path, port: int) -> Path:
    shutil.copytree(EXAMPLES / "tangerangnews", folder / "seed")
    config = folder / "seed" / "newsletter.toml"
    text = config.read_text().replace("history = false", 'history = "weekly.history.sqlite3"')
    config.write_text(
        text + f'\n[delivery]\n[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\n'
        'security = "none"\n'
    )
    return config


def build_and_send(config: Path, folder: Path, on: str) -> str:
    out = folder / f"out-{on}"
    built = run_digest("build", "--config", config, "--date", on, "--out", out, "-q")
    assert built.returncode == 0, built.stderr
    (eml,) = out.glob("*.eml")
    readers = folder / "readers.txt"
    readers.write_text("".join(f"r{n:03}@example.org\n" for n in range(40)))
    sent = run_digest("send", "--allow-placeholder-links", "--config", config, eml,
                      "--recipients", readers)  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr
    header = re.search(rb"X-Digest-Edition: (.+?)\r\n", eml.read_bytes())
    assert header is not None
    return header.group(1).decode()


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Three editions sent to 40 readers, each with opens and clicks on its stories."""
    folder = tmp_path_factory.mktemp("report")
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed(folder, port)
        data = config.with_name("edition.json")
        first = data.read_text()
        keys = []
        for week, on in enumerate(("2099-01-05", "2099-01-12", "2099-01-19")):
            # Each week new stories: the same articles at new addresses.
            data.write_text(first.replace("/read/", f"/read/week-{week}/"))
            keys.append(build_and_send(config, folder, on))
    finally:
        controller.stop()
    loaded = load_config(config)
    with SuppressionList(suppression_path(loaded)) as events:
        for round_, key in enumerate(keys):
            links = [link for link in links_of(loaded, key) if link.kind != "other"]
            for n in range(12 + 6 * round_):
                events.record(Event(f"r{n:03}@example.org", "opened", "tracking", f"o{key}{n}",
                                    edition=key))  # fmt: skip
            for n in range(8 + 4 * round_):
                link = links[(n * 3) % len(links)]
                events.record(Event(f"r{n:03}@example.org", "clicked", "tracking",
                                    f"c{key}{n}", edition=key, url=link.url))  # fmt: skip
    yield config


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from _chromium("--window-size=1280,1000")


@pytest.fixture
def desk(sent: Path) -> Iterator[tuple[Served, DeskSession]]:
    loaded = load_config(sent)
    session = DeskSession()
    port = free_port()
    served = Served(make_desk(Desk(loaded, date(2099, 1, 19)), session, port), port=port)
    yield served, session
    served.stop()


def open_report(browser: Any, desk: tuple[Served, DeskSession], scheme: str) -> None:
    served, session = desk
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
    )
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )
    browser.get(f"{served.base}/?token={session.token}")
    browser.get(f"{served.base}/report")


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_report_page_in_chromium(
    browser: Any, desk: tuple[Served, DeskSession], scheme: str
) -> None:
    from ..render.test_reference import HAVE_TOOLS, NODE, axe_violations

    open_report(browser, desk, scheme)
    assert browser.find_element("tag name", "h1").text == "Report: Edition #3 of 2099-01-19"
    SHOTS.mkdir(exist_ok=True)
    ARTIFACTS.mkdir(exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": int(height), "deviceScaleFactor": 1, "mobile": False},
    )
    for folder in (SHOTS, ARTIFACTS):
        browser.save_screenshot(str(folder / f"desk-report-1280-{scheme}.png"))
    measured = browser.execute_script(
        """
        const bar = document.querySelector('svg.bars rect.bar');
        return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
                body: getComputedStyle(document.body).backgroundColor,
                bar: getComputedStyle(bar).fill,
                bars: document.querySelectorAll('svg.bars rect.bar').length,
                points: document.querySelectorAll('svg.lines circle').length};
        """
    )
    assert measured["scroll"] <= measured["inner"]
    assert (measured["body"] == "rgb(18, 22, 28)") == (scheme == "dark")
    assert measured["bar"] == ("rgb(138, 180, 248)" if scheme == "dark" else "rgb(11, 87, 208)")
    assert measured["bars"] >= 3 and measured["points"] == 3
    if not (NODE and HAVE_TOOLS):
        pytest.skip("Node.js and the reference packages are needed (npm ci --prefix tests/node)")
    assert axe_violations(browser) == []


@pytest.mark.browser
def test_the_report_page_by_keyboard(browser: Any, desk: tuple[Served, DeskSession]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    open_report(browser, desk, "light")
    reached = []
    for _ in range(4):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        focused = browser.switch_to.active_element
        reached.append(focused.get_attribute("aria-labelledby") or focused.text)
    # The two links of the desk, then each table, scrollable by the arrow keys.
    assert reached == ["The edition", "Report", "table-stories", "table-trend"]


def test_the_report_needs_the_desk_session(desk: tuple[Served, DeskSession]) -> None:
    served, _ = desk
    status, body = served.request("/report")
    assert status == 403 and b"open the desk from the link" in body


def test_before_any_edition_the_report_says_so(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    config = seed(tmp_path, free_port())
    session, port = DeskSession(), free_port()
    app = make_desk(Desk(load_config(config)), session, port)
    with TestClient(app, base_url=f"http://127.0.0.1:{port}") as client:
        assert client.get(f"/?token={session.token}").status_code == 200
        answer = client.get("/report")
    assert answer.status_code == 200
    assert "Nothing to report yet: " in answer.text and "no edition built yet" in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")


@given(st.text(max_size=200), st.text(max_size=200))
def test_any_subject_and_story_title_are_text_on_the_page(subject: str, title: str) -> None:
    one = figures(1, 10, 5, 2, subject=subject, stories=(story(title, 2, 2, 0),))
    doc = lxml_html.fromstring(report_page(one, [one]))
    assert not doc.findall(".//script")
    assert (doc.findtext(".//p[@class='subject']") or "") == one_line_text(subject)
    cell = doc.find(".//table//tbody/tr/th")
    assert cell is not None and cell.text_content() == one_line_text(title)
