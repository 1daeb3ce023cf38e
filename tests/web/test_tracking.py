"""Click and open tracking of our own: a send with tracked links, followed through ``digest serve``.

An edition of the TangerangNews example is built with a history (which records its links),
sent through a local SMTP server (aiosmtpd) with ``[tracking]`` on, and each received copy's
``/c/`` links are fetched from the app served by uvicorn: the redirect goes to exactly the
edition's link, the click is recorded with its edition, URL and reader, a scanner that
fetches every link of a copy at once is recorded apart, and forged tokens get 404.
"""

from __future__ import annotations

import re
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import unescape
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest import build_digest
from digest.delivery.eml import read_eml, send_eml
from digest.delivery.mailing import Mailing
from digest.delivery.smtp import SmtpSender
from digest.errors import ConfigError
from digest.feeds.data import load_data
from digest.mail.message import list_id
from digest.mail.tracking import OPEN, LinkTokens, edition_hrefs, link_spans
from digest.models import Reader
from digest.schedule.config import BuildConfig, load_config, suppression_path
from digest.suppression import UnsubscribeTokens
from digest.web.app import make_app
from digest.web.setup import settings_for
from digest.web.tracking import GIF

from ..delivery.test_due import seed_sending_to
from ..delivery.test_send_abtest import build
from ..mailservers import Inbox, start_smtp
from .served import Served

SECRET = "a-secret-for-the-tracking-tests"
BASE = "https://news.tangerangnews.example"
HOST = "https://tangerangnews.example"
ENV = {"DIGEST_UNSUBSCRIBE_SECRET": SECRET}
READERS = ["ana@example.org", "budi@example.org", "citra@example.org"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request, its redirect not followed: the status, the headers and the body."""
    try:
        with _OPENER.open(urllib.request.Request(url, method=method), timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def _config(tmp_path: Path, port: int, tracking: str) -> Path:
    config = seed_sending_to(tmp_path, port)
    text = config.read_text().replace("history = false", 'history = "history.sqlite"')
    text = text.replace(
        f'unsubscribe_url = "{HOST}/newsletter/berhenti"',
        f'unsubscribe_url = "{HOST}/unsubscribe/{{token}}"',
    )
    config.write_text(text + tracking)
    return config


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    yield inbox, port
    controller.stop()


def _send(config: BuildConfig, eml: Path) -> None:
    assert config.delivery is not None and config.delivery.smtp is not None
    sender = SmtpSender(config.delivery.smtp, config.delivery)
    newsletter = config.newsletter
    report = send_eml(
        read_eml(eml),
        READERS,
        sender,
        tokens=UnsubscribeTokens(SECRET, list_id(newsletter)),
        clicks=config.tracking.tokens(list_id(newsletter), ENV),
    )
    sender.close()
    assert report.sent == len(READERS)


def _copies(inbox: Inbox) -> dict[str, str]:
    """Each reader's HTML part."""
    copies = {}
    for _, (address,), data in inbox.received:
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(("html",))
        assert part is not None
        copies[address] = str(part.get_content())
    return copies


def _events(config: BuildConfig) -> list[tuple[str, str, str, str, str]]:
    with sqlite3.connect(suppression_path(config)) as db:
        rows = db.execute(
            "SELECT address, reason, detail, edition, url FROM events ORDER BY arrival"
        ).fetchall()
    return [tuple(row) for row in rows]


TRACKING = f'\n[tracking]\nclicks = true\nopens = true\nbase_url = "{BASE}"\nscanner_seconds = 0\n'


def test_readers_clicks_are_recorded_and_redirected_a_scanners_apart(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    path = _config(tmp_path, port, TRACKING)
    eml = build(path, tmp_path / "out")
    config = load_config(path)
    original = (tmp_path / "out" / eml.name.replace(".eml", ".html")).read_text()
    hrefs = edition_hrefs(original)
    _send(config, eml)
    copies = _copies(inbox)
    assert sorted(copies) == READERS
    clicks = LinkTokens(SECRET, list_id(config.newsletter), BASE)
    tracked = {a: re.findall(rf'href="({BASE}/c/[^"]+)"', html) for a, html in copies.items()}
    for address, html in copies.items():
        # Every web link is tracked; the reader's unsubscribe link is their own, untracked.
        web = [h for h in hrefs if h.startswith("https://") and "{token}" not in h]
        assert [hrefs[_index(clicks, u)] for u in tracked[address]] == web
        unsubscribe = UnsubscribeTokens(SECRET, list_id(config.newsletter)).token(address)
        assert f'href="{HOST}/unsubscribe/{unsubscribe}"' in html
        assert re.search(rf'<img src="{BASE}/o/[^"]+\.gif"', html)
    settings = settings_for(config, ENV)
    assert settings.tracking is not None
    # Ana reads: her clicks come minutes apart (the app's clock says so).
    moments = iter(range(int(time.time()), 10**10, 300))
    reading = replace(settings.tracking, clock=lambda: float(next(moments)))
    first, second = tracked["ana@example.org"][0], tracked["ana@example.org"][3]
    served = Served(make_app(replace(settings, tracking=reading)))
    try:
        for url in (first, second):
            status, headers, _ = _get(url.replace(BASE, served.base))
            click = clicks.read(url.rsplit("/", 1)[1])
            assert click is not None and click.address == "ana@example.org"
            assert status == 302 and headers["location"] == hrefs[click.index]
            assert "no-store" in headers["cache-control"]
        # Tampered, foreign and made-up tokens.
        token = first.rsplit("/", 1)[1]
        foreign = LinkTokens("another-secret-of-sixteen", list_id(config.newsletter), BASE)
        (made,), _ = foreign.urls(1, "ana@example.org", [0])
        for bad in (
            token[:-1] + ("A" if token[-1] != "A" else "B"),
            token.replace(".0.", ".1.", 1),
            made.rsplit("/", 1)[1],
            "1.abc.0.YW5hQGV4YW1wbGUub3Jn.AAAAAAAAAAAA",
            "nothing",
        ):
            assert _get(f"{served.base}/c/{bad}")[0] == 404, bad
        # A valid token of an edition the history does not know.
        (unknown,), _ = clicks.urls(99, "ana@example.org", [0])
        assert _get(unknown.replace(BASE, served.base))[0] == 404
    finally:
        served.stop()
    served = Served(make_app(settings))
    try:
        # A scanner fetches every link of Budi's copy at once.
        with ThreadPoolExecutor(4) as pool:
            answers = list(
                pool.map(lambda u: _get(u.replace(BASE, served.base)), tracked["budi@example.org"])
            )
        assert {status for status, _, _ in answers} == {302}
        assert [h["location"] for _, h, _ in answers] == [
            hrefs[_index(clicks, u)] for u in tracked["budi@example.org"]
        ]
        # Citra's copy is opened: the pixel.
        pixel = re.findall(rf'<img src="({BASE}/o/[^"]+\.gif)"', copies["citra@example.org"])[0]
        status, headers, body = _get(pixel.replace(BASE, served.base))
        assert (status, body, headers["content-type"]) == (200, GIF, "image/gif")
        assert "no-store" in headers["cache-control"]
    finally:
        served.stop()
    events = _events(config)
    key = f"{config.newsletter.name} 2099-01-05 #1"
    ana = [e for e in events if e[0] == "ana@example.org"]
    assert ana == [
        ("ana@example.org", "clicked", "", key, hrefs[_index(clicks, u)]) for u in (first, second)
    ]
    budi = [e for e in events if e[0] == "budi@example.org"]
    assert len(budi) == len(tracked["budi@example.org"])
    assert {(reason, detail) for _, reason, detail, _, _ in budi} == {("clicked", "scanner")}
    assert [e for e in events if e[0] == "citra@example.org"] == [
        ("citra@example.org", "opened", "", key, "")
    ]
    assert len(events) == 2 + len(budi) + 1


def _index(tokens: LinkTokens, url: str) -> int:
    click = tokens.read(url.rsplit("/", 1)[1])
    assert click is not None
    return click.index


def test_clicks_soon_after_sending_or_by_head_are_a_scanners(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    path = _config(tmp_path, port, TRACKING.replace("scanner_seconds = 0", "scanner_seconds = 60"))
    eml = build(path, tmp_path / "out")
    config = load_config(path)
    _send(config, eml)
    html = _copies(inbox)["citra@example.org"]
    link = re.findall(rf'href="({BASE}/c/[^"]+)"', html)[2]
    settings = settings_for(config, ENV)
    assert settings.tracking is not None
    now = settings.tracking.clock

    def clock(later: float) -> Callable[[], float]:
        return lambda: now() + later

    for later, method, detail in (
        (0.0, "GET", "scanner"),
        (120.0, "GET", ""),
        (120.0, "HEAD", "scanner"),
    ):
        tracking = replace(settings.tracking, clock=clock(later))
        served = Served(make_app(replace(settings, tracking=tracking)))
        try:
            assert _get(link.replace(BASE, served.base), method)[0] == 302
        finally:
            served.stop()
        assert _events(config)[-1][2] == detail


def test_no_tracking_by_default(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    path = _config(tmp_path, port, "")
    eml = build(path, tmp_path / "out")
    config = load_config(path)
    assert not config.tracking.clicks and not config.tracking.opens
    assert config.tracking.tokens(list_id(config.newsletter), ENV) is None
    _send(config, eml)
    original = (tmp_path / "out" / eml.name.replace(".eml", ".html")).read_text()
    for html in _copies(inbox).values():
        assert "/c/" not in html and "/o/" not in html
        story = [h for h in edition_hrefs(original) if "unsubscribe" not in h]
        assert [h for h in edition_hrefs(html) if "unsubscribe" not in h] == story
    settings = settings_for(config, ENV)
    assert settings.tracking is None
    served = Served(make_app(settings))
    try:
        (url,), _ = LinkTokens(SECRET, list_id(config.newsletter), BASE).urls(1, READERS[0], [0])
        assert _get(url.replace(BASE, served.base))[0] == 404
    finally:
        served.stop()


def test_opens_only_leave_the_links_as_they_are(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    path = _config(tmp_path, port, f'\n[tracking]\nopens = true\nbase_url = "{BASE}"\n')
    eml = build(path, tmp_path / "out")
    _send(load_config(path), eml)
    for html in _copies(inbox).values():
        assert f"{BASE}/c/" not in html and f'<img src="{BASE}/o/' in html


ADDRESSES = st.emails().map(str.lower).filter(lambda a: len(a) < 200)


@given(st.text(max_size=600))
def test_any_text_is_no_token(text: str) -> None:
    tokens = LinkTokens(SECRET, "list.example", BASE)
    assert tokens.read(text) is None


@given(ADDRESSES, st.integers(0, 9999), st.integers(1, 10**6), st.integers(0, 2**40))
def test_a_token_names_its_link_and_any_change_spoils_it(
    address: str, index: int, edition: int, sent: int
) -> None:
    tokens = LinkTokens(SECRET, "list.example", BASE, clock=lambda: sent)
    (url,), pixel = tokens.urls(edition, address, [index], pixel=True)
    token = url.removeprefix(f"{BASE}/c/")
    assert re.fullmatch(r"[A-Za-z0-9._-]+", token)
    click = tokens.read(token)
    assert click is not None
    assert (click.edition, click.index, click.address, click.sent) == (
        edition,
        index,
        address,
        sent,
    )
    opened = tokens.read(pixel.removeprefix(f"{BASE}/o/").removesuffix(".gif"))
    assert opened is not None and opened.index == OPEN
    for at in range(len(token)):
        for other in {"A", "0", "."} - {token[at]}:
            assert tokens.read(token[:at] + other + token[at + 1 :]) is None
    assert LinkTokens(SECRET, "other.example", BASE).read(token) is None


def test_personalised_copies_are_tracked_and_followed(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    """The reader store's path: each reader's own copy (``Mailing``), their sections kept."""
    inbox, port = smtp
    path = _config(tmp_path, port, TRACKING)
    config = load_config(path)
    data = load_data(config.data, config.newsletter)
    digest = build_digest(data.articles, config.newsletter, "2099-01-05", number=4)
    clicks = config.tracking.tokens(list_id(config.newsletter), ENV)
    assert clicks is not None and config.delivery is not None and config.delivery.smtp
    readers = [
        Reader(address="ana@example.org", sections=("OPINI",)),
        Reader(address="budi@example.org", name="Budi", fields={"tracking": "off"}),
    ]
    sender = SmtpSender(config.delivery.smtp, config.delivery)
    mailing = Mailing(
        digest, tokens=UnsubscribeTokens(SECRET, list_id(config.newsletter)), clicks=clicks
    )
    report = mailing.deliver(readers, sender)
    sender.close()
    assert report.sent == 2
    copies = _copies(inbox)
    assert f"{BASE}/c/" not in copies["budi@example.org"]  # said no
    links = re.findall(rf'href="({BASE}/c/[^"]+)"', copies["ana@example.org"])
    hrefs = edition_hrefs(digest.html)
    settings = settings_for(config, ENV)
    assert settings.tracking is not None
    edition = (digest.edition_key, hrefs)
    tracking = replace(settings.tracking, links=lambda number: edition if number == 4 else None)
    served = Served(make_app(replace(settings, tracking=tracking)))
    try:
        answers = [_get(link.replace(BASE, served.base)) for link in links[:2]]
    finally:
        served.stop()
    assert [h["location"] for _, h, _ in answers] == [hrefs[_index(clicks, u)] for u in links[:2]]
    # Ana chose OPINI: her links are the lead's, OPINI's and the rest, never BANTEN's.
    banten = {str(t.url) for s in digest.edition.sections if s.name == "BANTEN" for t in s.teasers}
    assert banten and not banten & {hrefs[_index(clicks, u)] for u in links}


ANCHOR = st.builds(
    lambda href, quote, before: f"{before}<a class=x href={quote}{href}{quote}>t</a>",
    st.sampled_from(
        [
            "https://a.example/1",
            "https://a.example/2?x=1&amp;y=2",
            "http://b.example/",
            "mailto:x@y",
        ]
    ),
    st.sampled_from(['"', "'"]),
    st.text(alphabet="<>&;ab \n-!", max_size=12),
)


@given(st.lists(ANCHOR, max_size=8), st.text(alphabet="<>&\"'=ab \n", max_size=40))
def test_each_link_found_is_the_editions_link_it_names(anchors: list[str], tail: str) -> None:
    """Whatever HTML surrounds them, each link's place holds the edition's link it maps to."""
    html = "".join(anchors) + tail
    hrefs = edition_hrefs(html)
    for start, end, index in link_spans(html, hrefs, ("https://news.example/",)):
        assert unescape(html[start:end]) == hrefs[index]
        assert hrefs[index].startswith(("http://", "https://"))


def test_serving_tracked_links_needs_a_history(tmp_path: Path) -> None:
    path = _config(tmp_path, 2525, TRACKING)
    path.write_text(path.read_text().replace('history = "history.sqlite"', "history = false"))
    with pytest.raises(ConfigError, match="history"):
        settings_for(load_config(path), ENV)
    with pytest.raises(ConfigError, match="DIGEST_UNSUBSCRIBE_SECRET"):
        settings_for(load_config(path), {})


def test_digest_send_tracks_the_eml_and_each_readers_own_copy_never_a_proof(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    from ..helpers import run_digest

    inbox, port = smtp
    path = _config(tmp_path, port, TRACKING)
    eml = build(path, tmp_path / "out")
    config = load_config(path)
    hrefs = edition_hrefs((tmp_path / "out" / eml.name.replace(".eml", ".html")).read_text())
    clicks = LinkTokens(SECRET, list_id(config.newsletter), BASE)
    proof = run_digest(
        "send", "--config", path, eml, "--to", "editor@example.org", "--allow-placeholder-links",
        env=ENV,
    )  # fmt: skip
    assert proof.returncode == 0, proof.stderr
    assert f"{BASE}/c/" not in _copies(inbox)["editor@example.org"]
    for address, options in (("ana@example.org", ()), ("budi@example.org", ("--section", "OPINI"))):
        added = run_digest("readers", "add", "--config", path, address, *options, env=ENV)
        assert added.returncode == 0, added.stderr
    sent = run_digest("send", "--config", path, eml, "--allow-placeholder-links", env=ENV)
    assert sent.returncode == 0, sent.stderr
    copies = _copies(inbox)
    # Ana chose nothing and gets the .eml; Budi chose OPINI and gets his own copy: both tracked,
    # every tracked link one of the edition's, named by the reader's own token.
    for address in ("ana@example.org", "budi@example.org"):
        tracked = re.findall(rf'href="({BASE}/c/[^"]+)"', copies[address])
        assert tracked, address
        for url in tracked:
            click = clicks.read(url.rsplit("/", 1)[1])
            assert click is not None and click.address == address
            assert hrefs[click.index].startswith("https://")
    assert len(re.findall(rf"{BASE}/c/", copies["budi@example.org"])) < len(
        re.findall(rf"{BASE}/c/", copies["ana@example.org"])
    )
    without = run_digest(
        "send",
        "--config",
        path,
        eml,
        "--allow-placeholder-links",
        env={"DIGEST_UNSUBSCRIBE_SECRET": ""},
    )
    assert without.returncode == 1 and "DIGEST_UNSUBSCRIBE_SECRET" in without.stderr
