"""Reading articles from RSS, Atom, JSON Feed, CSV and JSON sources, messy ones included."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest

from digest import Newsletter
from digest.errors import SourceError
from digest.feeds.fetch import Fetcher
from digest.feeds.formats import FORMATS, detect_format
from digest.feeds.sources import Source, read_source, read_sources

from ..helpers import FIXTURES

FEEDS = FIXTURES / "feeds"


def read(name: str, newsletter: Newsletter, **fields: str):  # type: ignore[no-untyped-def]
    return read_source(Source(path=FEEDS / name, **fields), newsletter)


def test_rss_with_the_usual_mess(newsletter: Newsletter) -> None:
    result = read("rss.xml", newsletter)
    by_title = {a.title: a for a in result.articles}
    cafe = next(a for a in result.articles if a.url == "https://gazette.example/news/cafe-wins")
    # ISO-8859-1 and entities decoded; the relative link resolved against the channel link.
    assert cafe.title == "Café on the quay wins & celebrates"
    assert cafe.section == "Business" and cafe.author == "Ana Lima"
    assert cafe.published_at.isoformat() == "2026-11-24T09:30:00+00:00"
    # media:content gives the picture and its size; with no description it is decorative.
    assert cafe.image_url == "https://gazette.example/img/cafe.jpg"
    assert (cafe.image_width, cafe.image_height, cafe.image_alt) == (800, 600, "")
    # The HTML description is cleaned: no script, no handler, no javascript: link.
    assert cafe.summary_html is not None
    assert "<script" not in cafe.summary_html and "onclick" not in cafe.summary_html
    assert "javascript" not in cafe.summary_html
    assert '<a href="https://gazette.example/news/more"' in cafe.summary_html
    assert cafe.summary.startswith("The café won best breakfast.")
    # The first <img> of a description, with its alt text; an image enclosure.
    council = by_title["Council meeting moved to Thursday"]
    assert (council.image_url, council.image_alt) == (
        "https://gazette.example/img/hall.jpg",
        "The town hall",
    )
    ferry = by_title["Ferry timetable changes"]
    assert ferry.image_url == "https://gazette.example/img/ferry.png"
    assert ferry.section == "News"  # no category: the source's default section
    assert ferry.published_at.isoformat() == "2026-11-22T12:00:00+01:00"
    assert result.warnings == [
        f"source '{FEEDS / 'rss.xml'}': item 5 'Undated notice': skipped, it has no date",
        f"source '{FEEDS / 'rss.xml'}': item 6 'Bad link item': skipped: url: the javascript: "
        "scheme is not allowed (allowed: http, https, mailto) (got 'javascript:alert(1)')",
    ]


def test_atom_with_xml_base_and_html_titles(newsletter: Newsletter) -> None:
    result = read("atom.xml", newsletter, section="Harbour news")
    boats, tides = result.articles
    assert boats.title == "Boats & bells"
    assert boats.url == "https://blog.example/posts/boats-and-bells"
    assert boats.image_url == "https://blog.example/img/bell.jpg"
    assert boats.image_alt == "The old harbour bell"
    assert boats.summary_html == "<p>The harbour bell rang for the first time since 1990.</p>"
    assert boats.section == "Harbour" and tides.section == "Harbour news"
    # published wins over updated.
    assert tides.published_at.isoformat() == "2026-11-24T08:00:00+00:00"
    assert result.warnings == []


def test_json_feed(newsletter: Newsletter) -> None:
    result = read("feed.json", newsletter)
    morning, roads = result.articles
    assert morning.url == "https://radio.example/shows/morning-special"
    assert morning.summary == "Live from the market on Saturday."
    assert morning.summary_html == "<p>Tune in from <em>7 am</em>.</p>"
    assert morning.section == "Culture" and morning.author == "Valley Radio"
    assert roads.summary == "Expect delays."
    assert roads.published_at.isoformat() == "2026-11-25T16:00:00+00:00"
    assert [w.split(": ", 1)[1] for w in result.warnings] == [
        "item 3 'No date, no link': skipped, it has no date",
        "item 4: skipped, not an item (not an object)",
    ]


def test_csv(newsletter: Newsletter) -> None:
    result = read("articles.csv", newsletter)
    library, sale = result.articles
    assert library.featured and not sale.featured
    assert sale.title == 'Book sale, with "rare" finds'
    assert "row 4 'Row with a bad date': skipped: published_at" in result.warnings[0]


def test_several_sources_merge(newsletter: Newsletter) -> None:
    result = read_sources(
        [Source(path=FEEDS / n) for n in ("rss.xml", "atom.xml", "feed.json", "articles.csv")],
        newsletter,
    )
    assert len(result.articles) == 4 + 2 + 2 + 2
    assert len(result.warnings) == 2 + 0 + 2 + 1


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"<html><body>not a feed</body>", "page.xml", "not an RSS or Atom feed"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "title": "x"}',
            "f.json",
            "not a JSON Feed: 'items'",
        ),
        (b"name,link\nx,y\n", "bad.csv", "needs a header row with at least title"),
        (b'{"articles": [{"title": 1}]}', "data.json", "articles[0].title"),
    ],
)
def test_broken_sources_are_errors_naming_the_source(
    tmp_path: Path, newsletter: Newsletter, content: bytes, name: str, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError) as caught:
        read_source(Source(path=path, name="Partner feed"), newsletter)
    assert str(caught.value).startswith("source 'Partner feed': ")
    assert message in str(caught.value)


def test_a_missing_file(tmp_path: Path, newsletter: Newsletter) -> None:
    with pytest.raises(SourceError, match="cannot read it: No such file"):
        read_source(Source(path=tmp_path / "absent.xml"), newsletter)


@pytest.fixture
def feed_server() -> Iterator[str]:
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(FEEDS))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_sources_over_http(feed_server: str, newsletter: Newsletter) -> None:
    fetch = Fetcher(allow_hosts=frozenset({"127.0.0.1"}))  # the server is on loopback
    result = read_source(Source(url=feed_server + "atom.xml"), newsletter, fetch)
    assert [a.title for a in result.articles] == ["Boats & bells", "Tide tables for December"]
    with pytest.raises(SourceError, match="cannot read it: HTTP 404"):
        read_source(Source(url=feed_server + "absent.xml"), newsletter, fetch)


def test_a_source_needs_one_location() -> None:
    with pytest.raises(ValueError, match="exactly one of path or url"):
        Source(path=Path("a.xml"), url="https://example.org/feed")
    with pytest.raises(ValueError, match="url must be http"):
        Source(url="file:///etc/passwd")


def test_every_feed_format_a_source_can_name_has_a_reader() -> None:
    named = set(get_args(Source.model_fields["format"].annotation))
    # "auto" is told apart by detect_format; "json" is a data document, not a feed.
    assert set(FORMATS) == named - {"auto", "json"}


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("a.csv", b"title,url\n", "csv"),
        ("a.xml", b'{"version": "https://jsonfeed.org/version/1.1"}', "jsonfeed"),
        ("a.json", b'{"articles": []}', "json"),
        ("a.json", b"<rss version='2.0'/>", "feed"),
    ],
)
def test_an_auto_source_s_format_comes_from_its_name_or_first_bytes(
    name: str, content: bytes, kind: str
) -> None:
    assert detect_format(Source(path=Path(name)), content) == kind
    assert detect_format(Source(path=Path(name), format="csv"), content) == "csv"


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"title": 7, "url": "https://radio.example/7"}, "TypeError: title is int, not text"),
        (
            {"title": "Seven", "url": ["https://radio.example/7"]},
            "TypeError: url is list, not text",
        ),
        (
            {"title": "Seven", "authors": [{"name": 7}]},
            "TypeError: authors[0].name is int, not text",
        ),
    ],
)
def test_a_json_feed_entry_with_a_field_of_the_wrong_kind_is_named(
    tmp_path: Path, newsletter: Newsletter, entry: dict[str, object], reason: str
) -> None:
    good = {"title": "Fine", "url": "https://radio.example/1", "date_published": "2026-11-20"}
    feed = {"version": "https://jsonfeed.org/version/1.1", "items": [good, entry]}
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(feed))
    result = read_source(Source(path=path), newsletter)
    assert [a.title for a in result.articles] == ["Fine"]
    assert result.warnings == [f"source '{path}': item 2: skipped, not an item ({reason})"]
