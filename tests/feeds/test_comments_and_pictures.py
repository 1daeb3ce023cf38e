"""Clutter and pictures, on real feeds and on feeds written as their platforms write them: a
picture shared by its bare address becomes the story's picture and leaves the text; readers'
comments (tDiary's tsukkomi, WordPress's comment feeds) never lead nor take a section; a stray
``<title>`` at the top of an item's content is not what its summary becomes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest import Newsletter, build_digest
from digest.errors import SourceError
from digest.feeds.cleaning import clean_feed_html
from digest.feeds.pictures import linked_pictures, picture, with_linked_picture
from digest.feeds.sources import Source, read_source

from ..helpers import FIXTURES

REAL = FIXTURES / "feeds" / "real"
DOCUMENTED = FIXTURES / "feeds" / "documented"

# r/ollama as Reddit served it on 10 June 2026 (conoro/reddit-rss-proxy, Apache 2.0): a
# post that shares its screen recording as <a href="https://i.redd.it/….gif">https://i.redd.it/….gif</a>
# under a 140 px preview of the same file.
MTOP = "I got tired of juggling nvtop and server logs to see what my local models were doing"


def test_a_reddit_post_s_bare_picture_link_is_its_picture_not_its_text(
    newsletter: Newsletter,
) -> None:
    result = read_source(Source(path=REAL / "reddit-ollama-mtop.atom"), newsletter)
    assert len(result.articles) == 25
    mtop = next(a for a in result.articles if a.title.startswith(MTOP))
    assert mtop.image_url == "https://i.redd.it/9wtvzif52d6h1.gif"  # full size, not the preview
    assert "i.redd.it" not in mtop.summary and "redd.it/9wtvzif52d6h1" not in mtop.summary
    assert "github.com/eladser/mtop" in mtop.summary  # a link to a page stays
    for article in result.articles:  # no post keeps a picture's address as its words
        for address in ("https://i.redd.it/", "https://i.imgur.com/"):
            assert f">{address}" not in article.summary, (article.title, article.summary)
    digest = build_digest(result.articles, newsletter, dt.date(2026, 6, 11))
    assert "https://i.redd.it/9wtvzif52d6h1.gif" not in digest.text.replace(
        "[https://i.redd.it/9wtvzif52d6h1.gif]", ""
    )


def test_a_picture_address_alone_on_a_line_becomes_the_picture_when_it_is_the_only_one() -> None:
    html = "<p>The new bridge at dusk.<br>\nhttps://i.imgur.com/Bridge1.jpg</p><p>More soon.</p>"
    assert [p.url for p in linked_pictures(html)] == ["https://i.imgur.com/Bridge1.jpg"]
    assert clean_feed_html(html) == "<p>The new bridge at dusk.<br></p><p>More soon.</p>"
    # Another picture about: the item keeps its own, and the address still leaves the text.
    other = picture("https://news.example/photo.jpg", 800, 600)
    assert other is not None
    assert with_linked_picture([other], [html]) == [other]
    # Two addresses: neither is the one picture, both leave the text.
    two = (
        '<p><a href="https://i.redd.it/a1.png">https://i.redd.it/a1.png</a></p>'
        "<p>and</p><p>https://i.redd.it/b2.png</p>"
    )
    assert with_linked_picture([], [two]) == []
    assert clean_feed_html(two) == "<p>and</p>"


def test_a_link_to_a_picture_in_words_stays() -> None:
    html = '<p>See <a href="https://i.redd.it/a1.png">the chart</a> for the numbers.</p>'
    assert linked_pictures(html) == []
    assert clean_feed_html(html) == html


def test_a_diary_s_tsukkomi_never_leads_nor_takes_a_section(newsletter: Newsletter) -> None:
    result = read_source(Source(path=DOCUMENTED / "tdiary-makerss.rdf"), newsletter)
    titles = [a.title for a in result.articles]
    assert titles == ["川沿いの紅葉", "朝の市場", "古いカメラの修理"]
    assert any("2 items are readers' comments, not stories" in w for w in result.warnings)
    for article in result.articles:
        assert "ツッコミ" not in article.summary  # the link to the comment form is gone
    digest = build_digest(result.articles, newsletter, dt.date(2026, 11, 29))
    assert digest.edition.lead.title == "川沿いの紅葉"  # not the comment on a post of 2025
    sections = {s.name for s in digest.edition.sections}
    assert sections <= {"散歩", "食べ物", "写真"}, sections
    assert "佐藤" not in digest.text and "一年前の記事" not in digest.text


@pytest.mark.parametrize(
    ("name", "count"), [("wordpress-comments.rss", 2), ("wordpress-post-comments.rss", 1)]
)
def test_a_wordpress_comment_feed_is_named_as_comments(
    newsletter: Newsletter, name: str, count: int
) -> None:
    with pytest.raises(SourceError) as raised:
        read_source(Source(path=DOCUMENTED / name), newsletter)
    message = str(raised.value)
    assert f"all {count} items were skipped" in message
    assert (
        "1 item is a reader's comment," if count == 1 else "2 items are readers' comments,"
    ) in message
    # The site's post feed, whose items carry <wfw:commentRss> and <slash:comments>: marks of a
    # post that has comments, not of a comment.
    posts = read_source(Source(path=DOCUMENTED / "wordpress-posts.rss"), newsletter)
    assert [a.title for a in posts.articles] == [
        "The ferry timetable changes in December",
        "Fish market moves to the old quay",
    ]
    assert not any("comment" in w for w in posts.warnings)


STRAY_TITLE = """<?xml version="1.0"?><rss version="2.0"
 xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>x</title>
<link>https://site.example/</link>
<item><title>The bridge opens</title><link>https://site.example/bridge</link>
<pubDate>Mon, 23 Nov 2026 09:00:00 +0000</pubDate>
<description>&lt;title&gt;The bridge opens&lt;/title&gt;&lt;p&gt;We walked across at dawn.&lt;/p&gt;</description></item>
<item><title>Market day</title><link>https://site.example/market</link>
<pubDate>Mon, 23 Nov 2026 08:00:00 +0000</pubDate>
<content:encoded><![CDATA[<title>Market day</title>Stalls fill the square from six.]]></content:encoded></item>
</channel></rss>"""


def test_a_stray_title_at_the_top_of_content_is_dropped_not_taken_for_the_summary(
    newsletter: Newsletter, tmp_path: Path
) -> None:
    feed = tmp_path / "stray.xml"
    feed.write_text(STRAY_TITLE, encoding="utf-8")
    result = read_source(Source(path=feed), newsletter)
    summaries = {a.title: a.summary for a in result.articles}
    assert summaries["The bridge opens"] == "We walked across at dawn."
    assert summaries["Market day"] == "Stalls fill the square from six."


@given(
    title=st.text(min_size=1, max_size=40),
    text=st.text(min_size=1, max_size=80).filter(lambda t: t.strip()),
)
def test_a_summary_that_merely_repeats_its_headline_keeps_its_words(title: str, text: str) -> None:
    """Only a headline left on its own, or run on to a new sentence, goes; never other words."""
    plain = clean_feed_html(f"<p>{_escape(text)}</p>")
    with_title = clean_feed_html(f"<p>{_escape(text)}</p>", title=title)
    assert with_title == plain


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_WORDS = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=60
).filter(lambda t: t.strip() and "://" not in t)


@given(before=_WORDS, after=_WORDS, name=st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True))
def test_a_picture_address_leaves_the_text_and_no_other_word_does(
    before: str, after: str, name: str
) -> None:
    address = f"https://i.redd.it/{name}.jpg"
    html = (
        f"<p>{_escape(before)}</p><p>{address}</p>"
        f'<p><a href="{address}">{address}</a></p><p>{_escape(after)}</p>'
    )
    cleaned = clean_feed_html(html)
    assert address not in cleaned
    assert cleaned == clean_feed_html(f"<p>{_escape(before)}</p><p>{_escape(after)}</p>")
    assert [p.url for p in linked_pictures(html)] == [address]
