"""One text path for every feed format, and days that a feed gave times for.

Titles and summaries of RSS, Atom, JSON Feed and CSV are decoded by one function
(``digest.feeds.cleaning.feed_text``): character references once, never twice. A feed whose
every entry is at midnight, or whose entries all share one time, dates them with days alone.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digest import Newsletter, build_digest
from digest.feeds.cleaning import feed_text
from digest.feeds.sources import Source, SourceResult, read_source
from digest.render import Renderer

from ..helpers import FIXTURES, changed
from ..htmltools import read_page

DOCUMENTED = FIXTURES / "feeds" / "documented"


def read(path: Path, newsletter: Newsletter) -> SourceResult:
    return read_source(Source(path=path), newsletter)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Add Task &amp; Sub Tasks", "Add Task & Sub Tasks"),
        ("escaped twice: &amp;amp;", "escaped twice: &amp;"),
        ("AT&T and Q&A", "AT&T and Q&A"),
        ("caf&eacute; &#8211; &#x2014;", "café \u2013 \u2014"),
        ("3 &lt; 5 &gt; 2", "3 < 5 > 2"),
        ("a <em>marked</em> title &amp; more", "a marked title & more"),
        ("Â£5 off", "£5 off"),
        ("&amp;#233;", "&#233;"),
    ],
)
def test_feed_text_decodes_references_once(value: str, shown: str) -> None:
    assert feed_text(value) == shown


def test_jekyll_json_feed_titles_show_no_entities(newsletter: Newsletter) -> None:
    result = read(DOCUMENTED / "jekyll-feed.json", newsletter)
    assert [a.title for a in result.articles] == [
        "Add Task & Sub Tasks",
        "Q&A: Why AT&T numbers failed to import",
        "Keyboard shortcuts",
    ]
    first = result.articles[0]
    assert first.summary.startswith("A task now holds sub tasks & a checklist;")
    digest = build_digest(result.articles, newsletter, date(2024, 3, 4), check=False)
    assert "&amp;" not in digest.subject and "&amp;" not in digest.text
    assert "Add Task & Sub Tasks" in digest.text
    page = read_page(digest.html)
    assert "Add Task & Sub Tasks" in page.text and "&amp;" not in page.text


def test_jekyll_atom_and_json_feed_give_the_same_articles(newsletter: Newsletter) -> None:
    atom = read(DOCUMENTED / "jekyll-feed.atom", newsletter).articles
    feed = read(DOCUMENTED / "jekyll-feed.json", newsletter).articles
    fields = ("title", "summary", "url", "published_at", "time_known", "section", "author")
    assert [a.model_dump(include=set(fields)) for a in atom] == [
        a.model_dump(include=set(fields)) for a in feed
    ]


# -- days without times ------------------------------------------------------------------------

STYLES = ["full", "long", "medium", "short", "d MMM y, HH:mm", "EEEE d MMMM y 'at' h:mm a"]


@pytest.mark.parametrize("name", ["jekyll-feed.atom", "jekyll-feed.json"])
def test_a_static_site_feed_at_midnight_gives_days(newsletter: Newsletter, name: str) -> None:
    # New York: the day written (4 March) is kept, never turned into the evening before.
    newsletter = changed(newsletter, timezone="America/New_York")
    result = read(DOCUMENTED / name, newsletter)
    assert [a.time_known for a in result.articles] == [False, False, False]
    renderer = Renderer()
    for style in STYLES:
        styled = changed(newsletter, layout={"date_format": style, "time_format": "short"})
        digest = build_digest(
            result.articles, styled, date(2024, 3, 5), renderer=renderer, check=False
        )
        for shown in (digest.text, read_page(digest.html).text):
            assert "12:00" not in shown and "00:00" not in shown and "AM" not in shown, style
            assert "Mar" in shown and "4" in shown and "3 Mar" not in shown, style


def _rss(tmp_path: Path, dates: list[str]) -> Path:
    items = "".join(
        f"<item><title>Post {n}</title><link>https://site.example/{n}</link>"
        f"<pubDate>{when}</pubDate></item>"
        for n, when in enumerate(dates, start=1)
    )
    path = tmp_path / "feed.rss"
    path.write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Site</title>'
        f"<link>https://site.example/</link>{items}</channel></rss>",
        encoding="utf-8",
    )
    return path


def test_entries_all_at_one_time_are_days(newsletter: Newsletter, tmp_path: Path) -> None:
    path = _rss(
        tmp_path,
        [
            "Wed, 06 Mar 2024 09:30:00 +0100",
            "Tue, 05 Mar 2024 09:30:00 +0100",
            "Mon, 04 Mar 2024 09:30:00 +0100",
        ],
    )
    articles = read(path, newsletter).articles
    assert [a.time_known for a in articles] == [False, False, False]
    assert [a.published_at.date().day for a in articles] == [6, 5, 4]


def test_midnight_in_the_zone_written_is_a_day(newsletter: Newsletter, tmp_path: Path) -> None:
    path = _rss(tmp_path, ["Wed, 06 Mar 2024 00:00:00 +0900", "Sat, 02 Mar 2024 00:00:00 +0900"])
    articles = read(path, newsletter).articles
    assert [a.time_known for a in articles] == [False, False]
    assert [a.published_at.date().day for a in articles] == [6, 2]


def test_days_only_when_no_entry_has_a_time_of_its_own(
    newsletter: Newsletter, tmp_path: Path
) -> None:
    days = _rss(tmp_path, ["Wed, 06 Mar 2024 00:00:00 +0000", "Mon, 04 Mar 2024 00:00:00 +0000"])
    assert [a.time_known for a in read(days, newsletter).articles] == [False, False]
    # One entry at another time: the midnights are times too, and are shown.
    path = _rss(
        tmp_path,
        [
            "Wed, 06 Mar 2024 00:00:00 +0000",
            "Tue, 05 Mar 2024 14:05:00 +0000",
            "Mon, 04 Mar 2024 00:00:00 +0000",
        ],
    )
    articles = read(path, newsletter).articles
    assert [a.time_known for a in articles] == [True, True, True]
    digest = build_digest(articles, newsletter, date(2024, 3, 6), check=False)
    assert "2:05" in digest.text and "12:00" in digest.text
    # A single entry at a time other than midnight is one time, not a pattern.
    articles = read(_rss(tmp_path, ["Wed, 06 Mar 2024 09:30:00 +0100"]), newsletter).articles
    assert [a.time_known for a in articles] == [True]


# -- the same item in every format ---------------------------------------------------------------

# Words, references (once and twice escaped), bare ampersands, quotes and the signs that need
# escaping in XML, in several scripts.
_TOKENS = st.sampled_from(
    [
        "Add", "Task", "&", "&amp;", "&amp;amp;", "AT&T", "Q&A", "&lt;", "&gt;", "&quot;",
        "&#39;", "&#233;", "&eacute;", "&#x2014;", "&nbsp;x", "café", "“quoted”", "'", '"',
        "3 < 5", ">", "Ünïcödé", "中文", "—", "&copy", "&amp", "R&D"
    ]
)  # fmt: skip
_WORDS = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=8)
_TEXT = st.lists(st.one_of(_TOKENS, _WORDS), min_size=1, max_size=8).map(" ".join)

_WHEN = "2024-03-04T09:30:00+00:00"
_URL = "https://site.example/posts/one"


def _as_rss(title: str, summary: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Site</title>'
        f"<link>https://site.example/</link><item><title>{escape(title)}</title>"
        f"<link>{_URL}</link><description>{escape(summary)}</description>"
        "<pubDate>Mon, 04 Mar 2024 09:30:00 +0000</pubDate></item></channel></rss>"
    )


def _as_atom(title: str, summary: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Site</title><id>https://site.example/</id>"
        f'<entry><title type="html">{escape(title)}</title><id>{_URL}</id>'
        f"<link href={quoteattr(_URL)}/><published>{_WHEN}</published>"
        f'<summary type="html">{escape(summary)}</summary></entry></feed>'
    )


def _as_json_feed(title: str, summary: str) -> str:
    item = {
        "id": _URL,
        "url": _URL,
        "title": title,
        "content_html": summary,
        "summary": summary,
        "date_published": _WHEN,
    }
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Site", "items": [item]}
    return json.dumps(feed, ensure_ascii=False)


def _as_csv(title: str, summary: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["title", "url", "published_at", "summary"])
    writer.writerow([title, _URL, _WHEN, summary])
    return out.getvalue()


_FORMS = {
    "feed.rss": _as_rss,
    "feed.atom": _as_atom,
    "feed.json": _as_json_feed,
    "articles.csv": _as_csv,
}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(title=_TEXT, summary=_TEXT)
@example(title="Add", summary="阅读全文")  # a summary that is only a "Read more" trailer
def test_the_json_feed_rss_and_atom_forms_of_one_item_give_the_same_edition(
    newsletter: Newsletter, tmp_path_factory: pytest.TempPathFactory, title: str, summary: str
) -> None:
    folder = tmp_path_factory.mktemp("forms")
    articles = {}
    for name, write in _FORMS.items():
        path = folder / name
        path.write_text(write(title, summary), encoding="utf-8")
        result = read(path, newsletter)
        assert not result.warnings, (name, result.warnings)
        (articles[name],) = result.articles
    rss = articles["feed.rss"]
    for name, article in articles.items():
        assert (article.title, article.summary) == (rss.title, rss.summary), name
    renderer = Renderer()
    editions = {
        name: build_digest([articles[name]], newsletter, date(2024, 3, 4), renderer=renderer)
        for name in ("feed.rss", "feed.atom", "feed.json")
    }
    first = editions["feed.rss"]
    for name, digest in editions.items():
        assert (digest.subject, digest.text, digest.html) == (
            first.subject,
            first.text,
            first.html,
        ), name
