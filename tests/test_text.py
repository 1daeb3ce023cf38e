"""Plain text: display columns, whole links, cuts at words; on real editions and random text."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest import Newsletter, build_digest
from digest.feeds.cleaning import clean_feed_html
from digest.feeds.sources import Source, read_source
from digest.text import columns, cut_text, wrap

from .helpers import EXAMPLE_EDITIONS, build_example
from .test_properties import QUICK

URL = re.compile(r"https?://\S+")
REAL = Path(__file__).parent / "fixtures" / "feeds" / "real"


def assert_readable(text: str, limit: int = 78) -> None:
    """Lines fit ``limit`` columns, unless the line is one long link."""
    for line in text.splitlines():
        if columns(line) > limit:
            assert URL.fullmatch(line.strip()), f"{columns(line)} columns: {line!r}"


@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
def test_example_text_parts_fit_and_keep_links_whole(example: str) -> None:
    digest = build_example(example)
    assert_readable(digest.text)
    lines = [line.strip() for line in digest.text.splitlines()]
    for article in digest.edition.articles:
        # Every link stands whole, after its label or on a line of its own.
        assert any(line == article.url or line.endswith(f": {article.url}") for line in lines)


def test_chinese_text_is_wrapped_by_display_width(newsletter: Newsletter) -> None:
    china = newsletter.model_copy(update={"locale": "zh_CN", "timezone": "Asia/Shanghai"})
    result = read_source(Source(path=REAL / "encoding-gb2312.xml", timezone="Asia/Shanghai"), china)
    digest = build_digest(result.articles, china, date(2018, 9, 18))
    assert_readable(digest.text, 72)
    widest = max(columns(line) for line in digest.text.splitlines() if not URL.search(line))
    assert widest > 60  # the lines are full, not cut at half the width


def test_a_long_subject_is_cut_at_a_word(newsletter: Newsletter, make_article) -> None:  # type: ignore[no-untyped-def]
    title = "A council meeting that ran far longer than anyone expected " * 3
    digest = build_digest([make_article(title=title)], newsletter, date(2026, 11, 23))
    assert len(digest.subject) <= 78 and digest.subject.endswith("…")
    assert f"{newsletter.name}: {title}".startswith(digest.subject[:-1].rstrip())
    assert len(digest.preheader) <= 110


WORDS = st.lists(
    st.one_of(
        st.text(
            alphabet=st.characters(codec="utf-8", categories=("L", "N", "P")),
            min_size=1,
            max_size=12,
        ),
        st.sampled_from(
            ["https://example.org/a/very/long/path/" + "x" * 60, "新闻国内的崇尚英雄", "ＡＢＣ"]  # noqa: RUF001
        ),
    ),
    max_size=40,
)


@QUICK
@given(words=WORDS, width=st.integers(min_value=10, max_value=80))
def test_wrap_keeps_every_word_and_fits_the_width(words: list[str], width: int) -> None:
    text = " ".join(words)
    wrapped = wrap(text, width, indent="  ")
    lines = wrapped.split("\n")
    for line in lines[1:]:
        assert line.startswith("  ")
    for line in lines:
        body = line.removeprefix("  ") if line is not lines[0] else line
        if columns(body) > width:
            # Only an unbreakable piece may be wider: a link, or a word of narrow letters.
            assert " " not in body.strip()
    # Nothing is lost: the same characters, in the same order, spaces aside.
    assert "".join(wrapped.split()) == "".join(text.split())


@pytest.mark.parametrize(
    ("text", "limit", "cut"),
    [
        ("short", 10, "short"),
        ("The quick brown fox jumps", 15, "The quick…"),
        ("Verylongwordwithoutspaces", 10, "Verylongw…"),
        # Cut just after a sentence: it ends with the sentence, never "here.…" or "here…".
        ("One sentence here. Two sentences there", 20, "One sentence here."),
        ("Is it here? Two sentences there", 14, "Is it here?"),
        ("ここで一文。次の文がつづきます", 8, "ここで一文。次…"),
        ("Wait... then more words come", 9, "Wait…"),
        ("One, two, three, four", 10, "One, two…"),
    ],
)
def test_cut_text(text: str, limit: int, cut: str) -> None:
    assert cut_text(text, limit) == cut


@pytest.mark.parametrize(
    ("html", "limit", "cut"),
    [
        # The cut falls at the start of a paragraph: no lone "T…" after a full sentence.
        (
            "<p>One sentence here.</p><p>Two sentences there and more</p>",
            19,
            "<p>One sentence here.</p>",
        ),
        (
            "<p>One sentence here</p><p>Two sentences there and more</p>",
            19,
            "<p>One sentence here…</p>",
        ),
        # After kept text, whole words only.
        (
            "<p>One sentence here.</p><p>Two sentences there and more</p>",
            25,
            "<p>One sentence here.</p><p>Two…</p>",
        ),
        ("<p>One <b>sentence</b> here and there.</p>", 14, "<p>One <b>sentence</b>…</p>"),
        ("<p>One <b>sentence</b> here and there.</p>", 20, "<p>One <b>sentence</b> here and…</p>"),
        (
            "<p>One.</p><p><img src='a.jpg'></p><p>Two sentences there</p>",
            6,
            '<p>One.</p><p><img src="a.jpg"></p>',
        ),
    ],
)
def test_feed_html_is_cut_at_words_and_sentences(html: str, limit: int, cut: str) -> None:
    assert clean_feed_html(html, limit) == cut
