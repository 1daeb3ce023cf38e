"""Property tests: any text in any field gives an email with the same structure, or a clear error.

``HYPOTHESIS_PROFILE=ci`` (as ``.ci/run`` sets) runs 1,000 examples per field through
selection, Jinja2 and MJML, and 150 through the whole pipeline with every field random at once.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digest import DigestError, Newsletter, Renderer, build_digest, email_bytes
from digest.feeds.data import parse_edition_data
from digest.select import select_edition

from .htmltools import read_page

CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
PER_FIELD = 1000 if CI else 50
WHOLE = 150 if CI else 15
QUICK = settings(max_examples=PER_FIELD, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=WHOLE, deadline=None, suppress_health_check=list(HealthCheck))

ON = date(2026, 11, 23)
NEWSLETTER = Newsletter(
    name="Property Weekly",
    sender={"name": "Property Weekly", "address": "news@example.org"},
    contact={
        "postal_address": "1 Example Street",
        "unsubscribe_url": "https://example.org/unsubscribe",
    },
)
RENDERER = Renderer()
HOSTILE = st.sampled_from(
    [
        "</mj-text><mj-raw><script>alert(1)</script></mj-raw><mj-text>",
        '" onmouseover="alert(1)',
        "' onfocus='alert(1)",
        "{{ 7*7 }}",
        "{% raw %}",
        "{# x",
        "<!--[if mso]>",
        "]]>",
        "&amp;",
        "&#0;",
        "<mjml>",
        "\x00\x1b[31m",
        "\r\nBcc: victim@example.org",
        "\ud800",
        "\ufffe",
        "مرحبا بالعالم",
        "e\u0301\u0301",
        "👩‍👩‍👧‍👦",
        "\u202egnp.exe",
        "<style>@import url(http://x/)</style>",
        "<img src=x onerror=alert(1)>",
        "javascript:alert(1)",
    ]
)
TEXT = st.one_of(
    st.text(max_size=300), HOSTILE, st.lists(HOSTILE | st.text(max_size=20)).map("".join)
)
FIELDS = [
    "title",
    "section",
    "author",
    "summary",
    "summary_html",
    "image_alt",
    "image_caption",
    "quote.text",
    "quote.author",
]

BASE_ARTICLE: dict[str, Any] = {
    "title": "Title",
    "url": "https://example.org/a",
    "section": "news",
    "published_at": datetime(2026, 11, 20, tzinfo=UTC).isoformat(),
    "summary": "Summary",
    "author": "Author",
    "image_url": "https://example.org/a.png",
    "image_alt": "Alt",
    "image_caption": "Caption",
}
BASE_QUOTE = {"text": "Quote", "author": "Someone"}


def document(article: dict[str, Any], quote: dict[str, str]) -> dict[str, Any]:
    teaser = {
        **BASE_ARTICLE,
        "url": "https://example.org/b",
        "title": "Teaser",
        "published_at": datetime(2026, 11, 19, tzinfo=UTC).isoformat(),
    }
    return {"articles": [article, teaser], "quotes": [quote]}


def compiled(article: dict[str, Any], quote: dict[str, str]) -> str:
    data = parse_edition_data(document(article, quote), NEWSLETTER)
    edition = select_edition(data.articles, NEWSLETTER, ON, quotes=data.quotes)
    return RENDERER.render(edition, NEWSLETTER).html


def structure(html: str) -> tuple[list[str], list[tuple[str, str]]]:
    page = read_page(html)
    return page.tags, page.attributes


def expected_structure(article: dict[str, Any], quote: dict[str, str], key: str) -> str:
    """The structure for a plain placeholder with as many paragraphs as the value has."""
    data = parse_edition_data(document(article, quote), NEWSLETTER)
    lead = data.articles[0]
    placeholder = dict(BASE_ARTICLE)
    if key in ("summary", "image_caption", "summary_html"):
        placeholder["summary"] = "\n\n".join("x" for p in lead.summary.split("\n\n") if p.strip())
        if not lead.image_caption:
            placeholder.pop("image_caption")
    if key == "summary_html" and lead.summary_html is not None:
        placeholder["summary_html"] = lead.summary_html  # sanitised markup is kept, by design
    return compiled(placeholder, BASE_QUOTE)


@pytest.mark.parametrize("field", FIELDS)
@QUICK
@given(value=TEXT)
def test_any_text_keeps_the_structure(field: str, value: str) -> None:
    article, quote = dict(BASE_ARTICLE), dict(BASE_QUOTE)
    target, key = (quote, field.split(".")[1]) if field.startswith("quote.") else (article, field)
    target[key] = value
    try:
        html = compiled(article, quote)
    except DigestError as error:
        # A value the models refuse is refused with the field's name.
        assert key in str(error)
        return
    assert structure(html) == structure(expected_structure(article, quote, key))
    if key == "summary_html":
        page = read_page(html)
        assert not {"script", "style", "form", "base", "meta", "svg", "math", "iframe"} & set(
            t for t in page.tags[page.tags.index("body") :]
        )
        assert not [a for a in page.attributes if a[1].startswith("on")]


@SLOW
@given(values=st.fixed_dictionaries({field: TEXT for field in FIELDS}))
def test_the_whole_build_raises_only_digest_errors(values: dict[str, str]) -> None:
    article = dict(BASE_ARTICLE)
    quote = dict(BASE_QUOTE)
    for field, value in values.items():
        if field.startswith("quote."):
            quote[field.split(".")[1]] = value
        else:
            article[field] = value
    try:
        data = parse_edition_data(document(article, quote), NEWSLETTER)
        digest = build_digest(data.articles, NEWSLETTER, ON, quotes=data.quotes)
    except DigestError:
        return
    page = read_page(digest.html)
    assert "script" not in page.tags
    assert not [a for a in page.attributes if a[1].startswith("on")]
    assert email_bytes(digest)


FEED_HTML = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            [
                "<p>",
                "</p>",
                "<li>",
                "</li>",
                "<ul>",
                "</ul>",
                "<br>",
                "<a href='/x'>",
                "</a>",
                "<img src='https://x.example/a.jpg' width='1' height='1'>",
                "<div>",
                "</div>",
                "Continue reading…",
                "Lâ€™OrÃ©al",
                "<script>",
                "&amp;",
                "<![CDATA[",
                "<!--",
                "<table><tr><td>",
                "\x00",
                "\u202e",
                "[…]",
            ]
        ),
    ),
    max_size=30,
).map("".join)


@QUICK
@given(html=FEED_HTML, limit=st.integers(min_value=1, max_value=500))
@example(html="<!0><A>0", limit=1)  # a comment left last by the cut (found in CI)
def test_feed_html_is_cleaned_cut_and_sanitised_without_error(html: str, limit: int) -> None:
    import lxml.html

    from digest.feeds.cleaning import clean_feed_html
    from digest.markup import html_to_text, sanitise_html

    cleaned = clean_feed_html(html, limit)
    safe = sanitise_html(cleaned, base="https://x.example/")
    text = html_to_text(safe)
    assert "<script" not in safe.lower() and "\x00" not in text
    # The cut keeps at most ``limit`` characters of text (its words' spacing normalised).
    if cleaned:
        kept = lxml.html.fragment_fromstring(cleaned, create_parent="div").text_content()
        assert len(" ".join(kept.split())) <= limit + 1


@QUICK
@given(
    moment=st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2099, 12, 31),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=7)), timezone(-timedelta(hours=5, minutes=30))]
        ),
    ).map(lambda m: m.replace(microsecond=0)),
    form=st.sampled_from(["rfc2822", "iso", "iso-z"]),
)
def test_any_feed_date_reads_back_as_the_moment_it_names(moment: datetime, form: str) -> None:
    from email.utils import format_datetime

    from digest.feeds.dates import parse_date

    text = {
        "rfc2822": format_datetime(moment),
        "iso": moment.isoformat(),
        "iso-z": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }[form]
    read = parse_date(text, languages=["pt", "de"])
    assert read is not None, text
    assert read.moment == moment and not read.assumed_zone, text
