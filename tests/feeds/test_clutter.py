"""Feed clutter gone by rules that are data (clutter.toml), bylines without addresses,
a feed's repeated paragraphs dropped, category names that read as headings."""

from __future__ import annotations

import pytest

from digest import Newsletter, build_digest
from digest.feeds.cleaning import clean_byline, clean_feed_html, drop_repeated, section_name
from digest.feeds.sources import Source, read_source

from ..helpers import FIXTURES
from ..htmltools import read_page

REAL = FIXTURES / "feeds" / "real"


def test_a_real_reddit_feed_reads_as_posts_not_as_reddit(newsletter: Newsletter) -> None:
    result = read_source(Source(path=REAL / "reddit-ollama.atom", section="AI"), newsletter)
    assert len(result.articles) == 25 and not result.warnings
    for article in result.articles:
        for clutter in ("submitted by", "[link]", "[comments]"):
            assert clutter not in article.summary, (article.title, article.summary[-120:])
    assert {a.section for a in result.articles} == {"Ollama"}  # the category, capitalised
    cli = next(a for a in result.articles if a.title == "New ai cli tools here")
    assert cli.summary.endswith("Awesome List")
    digest = build_digest(
        result.articles, newsletter, max(a.published_at for a in result.articles).date()
    )
    page = read_page(digest.html)
    assert ("h2", "Ollama") in page.headings
    assert "submitted by" not in digest.text


# The closing line WordPress sites write with Yoast SEO, in the site's language; the Italian
# one as Smartworld's feed carries it.
@pytest.mark.parametrize(
    "trailer",
    [
        'The post <a href="https://x.example/a">A title</a> appeared first on <a href="https://x.example">X</a>.',
        "The post Fix: a title. With dots appeared first on News.example.org.",
        'L&#8217;articolo <a href="https://www.smartworld.it/news/prodotti-apple-arrivo.html">Questa settimana potrebbe arrivare una cascata di nuovi dispositivi Apple: ecco quali</a> sembra essere il primo su <a href="https://www.smartworld.it">Smartworld</a>.',
        'L\'article <a href="https://x.example/a">Un titre</a> est apparu en premier sur <a href="https://x.example">X</a>.',
        'Der Beitrag <a href="https://x.example/a">Ein Titel</a> erschien zuerst auf <a href="https://x.example">X</a>.',
        'La entrada <a href="https://x.example/a">Un título</a> se publicó primero en <a href="https://x.example">X</a>.',
        'O post <a href="https://x.example/a">Um título</a> apareceu primeiro em <a href="https://x.example">X</a>.',
        'Het bericht <a href="https://x.example/a">Een titel</a> verscheen eerst op <a href="https://x.example">X</a>.',
    ],
)
def test_wordpress_trailers_in_their_languages_are_cut(trailer: str) -> None:
    html = f"<p>Il testo della notizia, che resta.</p><p>{trailer}</p>"
    assert clean_feed_html(html) == "<p>Il testo della notizia, che resta.</p>"
    # The same line run on after the text, with no paragraph of its own.
    run_on = clean_feed_html(f"Il testo della notizia, che resta. {trailer}")
    assert run_on.strip() == "Il testo della notizia, che resta."


def test_a_sentence_that_only_mentions_a_post_stays() -> None:
    html = "<p>The post office appeared first on our list of closures, then reopened.</p><p>More text.</p>"
    assert clean_feed_html(html) == html


def test_bloggers_jump_link_goes_whatever_it_says() -> None:
    html = (
        '<p>The opening of the story.</p><a href="https://x.blogspot.com/2017/01/post.html#more">'
        "Did You Click to Read the Whole Story?</a>"
    )
    assert clean_feed_html(html) == "<p>The opening of the story.</p>"


@pytest.mark.parametrize(
    ("byline", "expected"),
    [
        # As Readwise and Blogger feeds give them.
        ("Murat (noreply@blogger.com)", "Murat"),
        ("noreply@blogger.com (Jeff)", "Jeff"),
        ("noreply@blogger.com", None),
        ("Ana Lima", "Ana Lima"),
        ("editor@news.example, Sam Reporter", "Sam Reporter"),
    ],
)
def test_bylines_lose_their_addresses(byline: str, expected: str | None) -> None:
    assert clean_byline(byline) == expected


def test_a_paragraph_every_item_repeats_is_dropped() -> None:
    sponsor = "<p>This video is sponsored by Example VPN. Get 20% off at example.com/vpn</p>"
    summaries: list[str | None] = [
        f"<p>Episode {n} is about rivers number {n}.</p>{sponsor}" for n in range(5)
    ]
    summaries += ["<p>A short one, no sponsor.</p>", None]
    assert drop_repeated(summaries) == 5
    assert all("sponsored" not in (summary or "") for summary in summaries)
    assert summaries[0] == "<p>Episode 0 is about rivers number 0.</p>"
    assert summaries[-1] is None
    two: list[str | None] = [f"<p>Own {n}</p>{sponsor}" for n in range(2)]
    assert drop_repeated(two) == 0  # two items are not enough to call it boilerplate


@pytest.mark.parametrize(
    ("category", "heading"),
    [
        ("Раздел Новости/", "Новости"),
        ("Technology/Web", "Web"),
        ("News » World", "World"),
        ("ai", "AI"),
        ("eu", "EU"),
        ("technology", "Technology"),
        ("BANTEN", "BANTEN"),
        ("OPINI", "OPINI"),
        ("Around town", "Around town"),
        ("国内", "国内"),
    ],
)
def test_category_names_become_headings(category: str, heading: str) -> None:
    assert section_name(category) == heading


@pytest.mark.parametrize(
    ("written", "languages", "hour", "minute"),
    [
        ("Mon, 05 Jun 2017 04:42 PM", ["en"], 16, 42),
        ("Mon, 05 Jun 2017 04:42:10 pm", ["en"], 16, 42),
        ("Monday, June 5, 2017 4:42 PM", ["en"], 16, 42),
        ("Mon, 05 Jun 2017 12:05 AM", ["en"], 0, 5),
        ("Mon, 05 Jun 2017 12:30 PM", ["en"], 12, 30),
        ("lun, 05 giu 2017 04:42 PM", ["it"], 16, 42),
        ("5 jun 2017 4:42 p. m.", ["es"], 16, 42),
        ("5 jun 2017 9:15 a.m.", ["es"], 9, 15),
        ("Mon, 05 Jun 2017 16:42 +0200", ["en"], 16, 42),  # 24 hours stay as they are
    ],
)
def test_twelve_hour_times_in_their_languages(
    written: str, languages: list[str], hour: int, minute: int
) -> None:
    from zoneinfo import ZoneInfo

    from digest.feeds.dates import parse_date

    read = parse_date(written, ZoneInfo("Europe/Rome"), languages)
    assert read is not None
    assert (read.moment.hour, read.moment.minute) == (hour, minute)


@pytest.mark.parametrize(
    ("locale", "heading"),
    [
        ("fr", "Actualités"),
        ("ja", "ニュース"),
        ("ru", "Новости"),
        ("id", "Berita"),
        ("en_GB", "News"),
    ],
)
def test_the_default_section_is_in_the_edition_s_language(
    newsletter: Newsletter, locale: str, heading: str
) -> None:
    from ..helpers import changed

    local = changed(newsletter, locale=locale)
    result = read_source(Source(path=FIXTURES / "feeds" / "rss.xml"), local)
    unnamed = [a for a in result.articles if a.section == heading]
    assert unnamed, {a.section for a in result.articles}
    own = read_source(Source(path=FIXTURES / "feeds" / "rss.xml", section="Kota"), local)
    assert "Kota" in {a.section for a in own.articles}


def test_readers_comments_in_a_feed_are_not_stories(newsletter: Newsletter, tmp_path) -> None:  # type: ignore[no-untyped-def]
    feed = tmp_path / "diary.xml"
    feed.write_text(
        """<?xml version="1.0"?><rss version="2.0"><channel><title>A diary</title>
<item><title>The bridge opens</title><link>https://diary.example/2026/11/bridge</link>
<pubDate>Mon, 23 Nov 2026 09:00:00 +0000</pubDate><description>We walked across.</description></item>
<item><title>Comment on The bridge opens by Kim</title><link>https://diary.example/2026/11/bridge#comment-12</link>
<pubDate>Mon, 23 Nov 2026 18:00:00 +0000</pubDate><description>Lovely!</description></item>
<item><title>Re: The bridge opens</title><link>https://diary.example/2026/11/bridge?reply=3</link>
<pubDate>Mon, 23 Nov 2026 19:00:00 +0000</pubDate><description>Agreed.</description></item>
</channel></rss>"""
    )
    result = read_source(Source(path=feed), newsletter)
    assert [a.title for a in result.articles] == ["The bridge opens"]
    assert any("2 items are readers' comments, not stories" in w for w in result.warnings)
    digest = build_digest(result.articles, newsletter, __import__("datetime").date(2026, 11, 30))
    assert digest.edition.lead.title == "The bridge opens"


def test_a_stray_title_at_the_top_of_an_item_is_not_its_summary() -> None:
    html = "<title>The headline again</title><p>The real summary of the story.</p>"
    assert clean_feed_html(html) == "<p>The real summary of the story.</p>"
