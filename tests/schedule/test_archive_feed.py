"""The archive's Atom feed: read back whole by feedparser, valid RFC 4287, stable, escaped."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from digest import Newsletter
from digest.schedule.archive import FEED_FILE, ArchivedEdition, archive_feed
from digest.schedule.history import History
from digest.text import one_line_text

from .test_schedule import MONDAYS, build, newsletter_dir  # noqa: F401 (the fixture)

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "https://riverside.example/archive/"


def required_elements(feed: bytes) -> None:
    """RFC 4287 4.1.1 and 4.1.2: what a feed and each entry must hold, once each."""
    root = etree.fromstring(feed)
    assert root.tag == f"{ATOM}feed"

    def once(parent: etree._Element, name: str) -> str:
        found = parent.findall(f"{ATOM}{name}")
        assert len(found) == 1, f"{parent.tag}: {len(found)} atom:{name}"
        return str(found[0].text or "")

    for name in ("id", "title", "updated"):
        once(root, name)
    for when in root.iter(f"{ATOM}updated", f"{ATOM}published"):
        datetime.fromisoformat(str(when.text))  # RFC 3339 with its offset
        assert when.text and when.text[-6] in "+-"
    assert root.findall(f"{ATOM}author/{ATOM}name")  # so no entry needs its own author
    alternates = {
        (link.get("type"), link.get("hreflang"))
        for link in root.findall(f"{ATOM}link[@rel='alternate']")
    }
    assert len(alternates) == len(root.findall(f"{ATOM}link[@rel='alternate']"))
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            once(entry, name)
        assert entry.findall(f"{ATOM}link[@rel='alternate']") or entry.findall(f"{ATOM}content")


def test_the_archive_feed_is_read_back_whole(newsletter_dir: Path) -> None:  # noqa: F811
    results = [build(newsletter_dir, monday) for monday in MONDAYS]
    feed_bytes = (newsletter_dir / "archive" / FEED_FILE).read_bytes()
    required_elements(feed_bytes)
    feed = feedparser.parse(feed_bytes)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Riverside Weekly: All editions"
    assert feed.feed.links[0].href == BASE + "index.html"
    assert {link.rel: link.href for link in feed.feed.links}["self"] == BASE + FEED_FILE
    newest_first = list(reversed(results))
    assert [e.title for e in feed.entries] == [r.digest.subject for r in newest_first]
    assert [e.link for e in feed.entries] == [f"{BASE}{m}.html" for m in reversed(MONDAYS)]
    assert [e.summary for e in feed.entries] == ["Edition #3", "Edition #2", "Edition #1"]
    london = ZoneInfo("Europe/London")
    for entry, monday in zip(feed.entries, reversed(MONDAYS), strict=True):
        sent = datetime(monday.year, monday.month, monday.day, 7, tzinfo=london)
        assert entry.published_parsed == time.gmtime(sent.timestamp())
        assert entry.updated_parsed == entry.published_parsed
    assert feed.feed.updated_parsed == feed.entries[0].updated_parsed
    ids = [e.id for e in feed.entries]
    assert len(set(ids)) == 3 and all(i.startswith("urn:uuid:") for i in ids)
    # The history agrees with the feed, and the index links the feed for browsers and people.
    with History(newsletter_dir / "newsletter.history.sqlite3") as history:
        assert [e.subject for e in history.editions()] == [e.title for e in feed.entries]
    index = (newsletter_dir / "archive" / "index.html").read_text()
    assert '<link rel="alternate" type="application/atom+xml"' in index
    assert '<a href="feed.xml" type="application/atom+xml">' in index

    # Building an edition again gives the same feed: the same ids, dates and order.
    build(newsletter_dir, MONDAYS[1])
    assert (newsletter_dir / "archive" / FEED_FILE).read_bytes() == feed_bytes


def newsletter(**links: str) -> Newsletter:
    return Newsletter.model_validate(
        {
            "name": "Riverside Weekly",
            "locale": "en_GB",
            "timezone": "Asia/Jakarta",
            "sender": {"name": "Riverside", "address": "news@riverside.example"},
            "contact": {
                "postal_address": "12 Mill Lane",
                "unsubscribe_url": "https://riverside.example/u",
            },
            "links": links,
        }
    )


def test_without_an_archive_url_the_links_are_relative_to_the_feed() -> None:
    editions = [
        ArchivedEdition(date(2026, 11, 16), "One", 1),
        ArchivedEdition(date(2026, 11, 23), "Two", 2),
    ]
    xml = archive_feed(newsletter(), editions)
    required_elements(xml)
    feed = feedparser.parse(xml)
    assert feed.bozo == 0
    assert [e.link for e in feed.entries] == ["2026-11-23.html", "2026-11-16.html"]
    assert "self" not in {link.rel for link in feed.feed.links}
    resolved = feedparser.parse(xml, response_headers={"content-location": BASE + FEED_FILE})
    assert [e.link for e in resolved.entries] == [
        BASE + "2026-11-23.html",
        BASE + "2026-11-16.html",
    ]
    # The ids name the newsletter and the date, not where the archive is published.
    moved = feedparser.parse(archive_feed(newsletter(archive_url=BASE), editions))
    assert [e.id for e in moved.entries] == [e.id for e in feed.entries]
    assert moved.entries[0].published == "2026-11-23T07:00:00+07:00"


def test_an_empty_archive_is_still_a_valid_feed() -> None:
    xml = archive_feed(newsletter(), [])
    required_elements(xml)
    assert feedparser.parse(xml).bozo == 0


HOSTILE = [
    "<script>alert(1)</script> & friends",
    "]]> <![CDATA[ x ]]>",
    "Quotes \" and ' and &amp; already escaped",
    "NUL\x00 and ESC\x1b and BOM\ufeff and \ufffe",
    "RTL \u202eevil\u202c and emoji 🗞️",
]


@pytest.mark.parametrize("subject", HOSTILE)
def test_hostile_subjects_are_escaped_text(subject: str) -> None:
    xml = archive_feed(
        newsletter(archive_url=BASE), [ArchivedEdition(date(2026, 1, 5), subject, 1)]
    )
    etree.fromstring(xml)  # well-formed XML: no control characters, nothing unescaped
    assert b"<script>" not in xml
    feed = feedparser.parse(xml)
    assert feed.bozo == 0
    assert feed.entries[0].title == one_line_text(subject)


@given(st.text(max_size=200), st.text(min_size=1, max_size=50).filter(lambda s: s.strip()))
def test_any_subject_and_name_give_well_formed_atom(subject: str, name: str) -> None:
    try:
        letter = newsletter().model_copy(update={"name": name})
    except ValueError:
        return
    xml = archive_feed(letter, [ArchivedEdition(date(2026, 1, 5), subject, 7)])
    root = etree.fromstring(xml)
    title = root.find(f"{ATOM}entry/{ATOM}title")
    assert title is not None and (title.text or "") == one_line_text(subject)
