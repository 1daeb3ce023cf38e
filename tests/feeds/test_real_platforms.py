"""Real feeds of five kinds, read as an editor would: Blogger, YouTube, RDF 1.0, EUC-JP, and
an Atom feed whose links are relative.

- ``blogger-4fsod.atom`` (a Blogger blog's feed) and ``biorxiv.rdf`` (bioRxiv's RSS 1.0 feed)
  come from the test suite of Ranchero-Software/RSParser (MIT, commit 1e73a469);
- ``youtube-google.atom`` (Google's YouTube channel) from feedjira/feedjira (MIT, commit
  c6efa980), with the blank line before its XML declaration that the fixture has, and
  ``samruby.atom`` (intertwingly.net's blog) from the same suite;
- ``euc-jp.rdf`` is the sample RSS 1.0 feed in EUC-JP of XML-RSS-LibXML's test suite
  (gitpan/XML-RSS-LibXML, commit 5db6248b, Perl's licence): a sample written for a test,
  not a site's feed, and the only EUC-JP feed found in a public repository.

Their licences sit beside them. The posts are their authors'.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel import Locale

from digest import Newsletter, SourceError, build_digest
from digest.feeds.cleaning import clean_feed_html
from digest.feeds.sources import Source, SourceResult, read_source
from digest.labels import labels_for
from digest.render.context import language_tag

from ..helpers import FIXTURES, changed
from ..htmltools import read_page

REAL = FIXTURES / "feeds" / "real"


def read(name: str, newsletter: Newsletter, **source: object) -> SourceResult:
    return read_source(Source(path=REAL / name, **source), newsletter)  # type: ignore[arg-type]


def by_title(result: SourceResult, title: str) -> str:
    return next(a.summary for a in result.articles if a.title == title)


# -- Blogger --------------------------------------------------------------------------------


def test_blogger_bylines_are_names_and_line_breaks_keep_words_apart(
    newsletter: Newsletter,
) -> None:
    result = read("blogger-4fsod.atom", newsletter)
    assert len(result.articles) == 25 and not result.warnings
    # Blogger writes every author as "Anthony" with <email>noreply@blogger.com</email>.
    assert {a.author for a in result.articles} == {"Anthony"}
    # "I hope you totally<br />enjoyed it!": the break is the only space between the words.
    assert by_title(result, "Chapter 11: Denoument") == (
        "This is the documentary round up guys, thanks for watching! I hope you totally\n"
        "enjoyed it!"
    )
    assert "confronted\nwith his secret habit" in by_title(result, "Chapter 10: Got Smoke?")
    assert by_title(result, "Special Feature: Jamie's Present").startswith("Synopsis:\nAnthony")
    # The posts are videos in iframes; the 16 px Blogger avatar is no story picture.
    assert {a.image_url for a in result.articles} == {None}


def test_blogger_edition_reads_as_the_blog(newsletter: Newsletter) -> None:
    result = read("blogger-4fsod.atom", newsletter)
    digest = build_digest(result.articles, newsletter, date(2007, 12, 15))
    page = read_page(digest.html)
    assert page.headings[0] == ("h1", "4FSOD Documentary: Bloopers and Stuff")
    for text in (page.text, digest.text):
        assert "noreply" not in text and "blogger.com/profile" not in text
        assert "totallyenjoyed" not in text and "cut,and" not in text
    assert "the final cut, and not because" in " ".join(digest.text.split())


@pytest.mark.parametrize(
    ("html", "kept"),
    [
        (
            "confronted<br />with his secret habit.<br /><br /><iframe src='v'></iframe>",
            "confronted<br>with his secret habit.",
        ),
        ("One<br>two<br>", "One<br>two"),
        ("<p>One<br>two</p><br><br>", "<p>One<br>two</p>"),
    ],
)
def test_a_line_break_with_text_after_it_stays(html: str, kept: str) -> None:
    assert clean_feed_html(html) == kept


# -- YouTube --------------------------------------------------------------------------------


def test_youtube_videos_bring_their_thumbnails_and_descriptions(newsletter: Newsletter) -> None:
    result = read("youtube-google.atom", newsletter)
    # The blank line before <?xml would stop the parser: every video is read, no warning.
    assert len(result.articles) == 15 and not result.warnings
    for article in result.articles:
        video = article.url.removeprefix("http://www.youtube.com/watch?v=")
        assert re.fullmatch(r"[\w-]{11}", video), article.url
        assert article.image_url is not None
        assert re.fullmatch(
            rf"https://i\d\.ytimg\.com/vi/{video}/hqdefault\.jpg", article.image_url
        )
        assert (article.image_width, article.image_height) == (480, 360)
        assert article.summary and article.author == "Google"
    assert by_title(result, "Project Fi: A new way to say hello") == (
        "Introducing Project Fi, a new way to say hello. Find out more at fi.google.com."
    )
    assert by_title(result, ".SOY, un dominio para Latinos").startswith("Presentando .SOY")


def test_a_picture_is_never_drawn_wider_than_it_is(newsletter: Newsletter) -> None:
    result = read("youtube-google.atom", newsletter)
    digest = build_digest(result.articles, newsletter, date(2015, 5, 4))
    lead = re.search(r'<img[^>]*hqdefault\.jpg"[^>]*>', digest.html)
    assert lead is not None and 'width="480"' in lead.group(0)  # not stretched to 552
    assert digest.edition.lead.title == "The Google app: Questions Title"


def test_the_same_feed_without_the_blank_line_reads_the_same(
    newsletter: Newsletter, tmp_path: Path
) -> None:
    raw = (REAL / "youtube-google.atom").read_bytes()
    assert raw.startswith(b"\n<?xml")
    for name, body in {"tight.atom": raw.lstrip(), "bom.atom": b"\xef\xbb\xbf\r\n  " + raw}.items():
        path = tmp_path / name
        path.write_bytes(body)
        again = read_source(Source(path=path), newsletter)
        assert [a.title for a in again.articles] == [
            a.title for a in read("youtube-google.atom", newsletter).articles
        ]
        assert not again.warnings


# -- RDF 1.0: a day without a time ----------------------------------------------------------


def test_biorxiv_rdf_items_are_dated_by_day_without_an_invented_time(
    newsletter: Newsletter,
) -> None:
    result = read("biorxiv.rdf", newsletter)
    # Days alone ("2019-08-27") need no zone: no warning about one.
    assert len(result.articles) == 30 and not result.warnings
    assert {a.time_known for a in result.articles} == {False}
    first = result.articles[0]
    assert first.title.startswith("Wheat inositol pyrophosphate kinase (TaVIH2-3B)")
    assert first.url == "http://biorxiv.org/cgi/content/short/743294v1?rss=1"
    assert first.summary.startswith("Inositol pyrophosphates (PPx-InsPs) are of key interest")
    digest = build_digest(result.articles, newsletter, date(2019, 8, 27))
    page = read_page(digest.html)
    assert "Tuesday, August 27, 2019" in page.text
    for text in (page.text, digest.text):
        assert "12:00" not in text and "AM" not in text.split()


@pytest.mark.parametrize(
    ("date_format", "shown"),
    [
        ("full", "Tuesday, August 27, 2019"),
        ("medium", "Aug 27, 2019"),
        ("EEEE d MMMM y HH:mm", "Tuesday 27 August 2019"),
        ("d.M.y, h:mm a", "27.8.2019"),
    ],
)
def test_a_day_keeps_its_date_in_every_format_and_zone(
    newsletter: Newsletter, date_format: str, shown: str
) -> None:
    # The source's days are New York's; the newsletter is in Tokyo, a day ahead at midnight.
    tokyo = changed(newsletter, timezone="Asia/Tokyo", layout={"date_format": date_format})
    result = read("biorxiv.rdf", tokyo, timezone="America/New_York")
    digest = build_digest(result.articles[:1], tokyo, date(2019, 8, 27))
    assert shown in read_page(digest.html).text
    assert ":" not in shown and "12:00" not in digest.text


# -- EUC-JP ---------------------------------------------------------------------------------


def test_euc_jp_rdf_reads_in_japanese(newsletter: Newsletter) -> None:
    japanese = changed(newsletter, locale="ja", timezone="Asia/Tokyo")
    result = read("euc-jp.rdf", japanese)
    assert result.warnings == [
        f"source '{REAL / 'euc-jp.rdf'}': item 1 '９月２２日のニュース': skipped, it has no date"
    ]
    (article,) = result.articles
    assert article.title == "９がt２１日のニュース"  # noqa: RUF001 (the sample's typo, kept)
    assert article.summary == "それこそいろんな事がおこったもんね"
    assert article.section == "ニュース"
    digest = build_digest(result.articles, japanese, date(2005, 8, 23))
    page = read_page(digest.html)
    assert page.html_lang == "ja"
    assert "2005年8月23日火曜日 16:00" in page.text
    assert "続きを読む" in digest.text and "Read more" not in digest.text


# -- Atom with relative links ---------------------------------------------------------------


def test_relative_links_of_a_saved_atom_feed_resolve_against_its_self_link(
    newsletter: Newsletter,
) -> None:
    # Every entry links to "/blog/…"; the feed's rel="self" is its address.
    result = read("samruby.atom", newsletter)
    assert len(result.articles) == 20 and not result.warnings
    assert result.articles[0].url == "http://intertwingly.net/blog/2013/01/30/Plex"
    assert all(a.url.startswith("http://intertwingly.net/blog/20") for a in result.articles)
    # Atom: entries without an author have the feed's.
    assert {a.author for a in result.articles} == {"Sam Ruby"}


def test_a_relative_link_with_nothing_to_resolve_it_says_so(
    newsletter: Newsletter, tmp_path: Path
) -> None:
    feed = tmp_path / "relative.atom"
    feed.write_text(
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><link href="/blog/"/>'
        '<entry><title>Plex</title><link href="/blog/plex"/>'
        "<updated>2013-01-30T10:12:03-08:00</updated></entry></feed>"
    )
    with pytest.raises(SourceError) as caught:
        read_source(Source(path=feed), newsletter)
    assert str(caught.value) == (
        f"source '{feed}': all 1 items were skipped; the first: item 1 'Plex': skipped: url: "
        "a relative URL needs a base URL; use an absolute URL (got '/blog/plex')"
    )


NESTED_BASE = """<feed xmlns="http://www.w3.org/2005/Atom" xml:base="news/"><title>x</title>
<link rel="self" href="http://example.org/feeds/all.atom"/>
<entry xml:base="2020/"><title>Post one</title><link href="post.html"/>
<updated>2020-01-01T10:00:00Z</updated><content type="html">&lt;p&gt;Text
&lt;a href="other.html"&gt;other&lt;/a&gt; &lt;img src="pic.jpg" width="600" height="400"
alt="A pic"&gt;&lt;/p&gt;</content></entry></feed>"""


@pytest.mark.parametrize("where", ["path", "url"])
def test_nested_relative_xml_base_is_resolved_level_by_level(
    newsletter: Newsletter, tmp_path: Path, where: str
) -> None:
    feed = tmp_path / "nested.atom"
    feed.write_text(NESTED_BASE)
    if where == "path":
        result = read_source(Source(path=feed), newsletter)
    else:
        result = read_source(
            Source(url="http://example.org/feeds/all.atom"),
            newsletter,
            fetch=lambda url, deadline: NESTED_BASE.encode(),
        )
    (article,) = result.articles
    at = "http://example.org/feeds/news/2020/"
    assert article.url == at + "post.html"
    assert article.image_url == at + "pic.jpg"
    assert f'href="{at}other.html"' in (article.summary_html or "")


# -- Every fixture in its edition's language ------------------------------------------------

#: Each real feed with the locale and zone its newsroom would set.
EDITIONS = [
    ("guardian.rss", "en_GB", "Europe/London"),
    ("heise.atom", "de", "Europe/Berlin"),
    ("uolNoticias.rss", "pt_BR", "America/Sao_Paulo"),
    ("encoding-gb2312.xml", "zh_CN", "Asia/Shanghai"),
    ("euc-jp.rdf", "ja", "Asia/Tokyo"),
    ("blogger-4fsod.atom", "en_US", "America/Los_Angeles"),
    ("youtube-google.atom", "en_US", "America/Los_Angeles"),
    ("biorxiv.rdf", "en_US", "America/New_York"),
    ("reddit-ollama.atom", "en", "UTC"),
    ("samruby.atom", "en_US", "America/New_York"),
]
#: The English of the chrome around the stories: none of it belongs in another language.
ENGLISH = ("Read more", "More news", "You are receiving this email", "Unsubscribe", "News")


@pytest.mark.parametrize(("name", "locale", "zone"), EDITIONS)
def test_every_label_and_heading_is_in_the_editions_language(
    newsletter: Newsletter, name: str, locale: str, zone: str
) -> None:
    edition = newsletter.model_copy(
        update={
            "locale": locale,
            "timezone": zone,
            "layout": newsletter.layout.model_copy(update={"sections": ()}),
        }
    )
    result = read(name, edition, timezone=zone)
    day = max(a.published_at for a in result.articles).astimezone(edition.zone).date()
    digest = build_digest(result.articles, edition, day)
    page = read_page(digest.html)
    labels = labels_for(locale, {})
    assert page.html_lang == language_tag(Locale.parse(locale))
    assert labels["read_more"] in digest.text
    assert labels["unsubscribe"] in page.text
    if not locale.startswith("en"):
        chrome = [text for tag, text in page.headings] + [digest.text.split("\n\n")[-1]]
        for english in ENGLISH:
            assert english not in page.text and not any(english in t for t in chrome), english
