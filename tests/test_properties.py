"""Property tests: any text in any field gives an email with the same structure, or a clear error."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from digest import Article, DigestError, Newsletter, Quote, build_digest
from digest.render import _paragraphs

from .htmltools import read_page

settings.register_profile(
    "default", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ON = date(2026, 11, 23)
NEWSLETTER = Newsletter(
    name="Property Weekly",
    sender={"name": "Property Weekly", "address": "news@example.org"},
    postal_address="1 Example Street",
    unsubscribe_url="https://example.org/unsubscribe",
)
HOSTILE = st.sampled_from(
    [
        "</mj-text><mj-raw><script>alert(1)</script></mj-raw><mj-text>",
        '" onmouseover="alert(1)',
        "{{ 7*7 }}",
        "{% raw %}",
        "<!--[if mso]>",
        "]]>",
        "&amp;",
        "&#0;",
        "<mjml>",
        "\x00\x1b[31m",
        "\ud800",
        "\ufffe",
        "مرحبا بالعالم",
        "e\u0301\u0301",
        "👩‍👩‍👧‍👦",
        "\u202egnp.exe",
    ]
)
TEXT = st.one_of(
    st.text(max_size=300), HOSTILE, st.lists(HOSTILE | st.text(max_size=20)).map("".join)
)


def structure(html: str) -> tuple[list[str], list[tuple[str, str]]]:
    page = read_page(html)
    return page.tags, page.attributes


def build(article: dict[str, Any], quote: dict[str, Any]) -> str:
    lead = Article(**article)
    teaser = Article(
        **{
            **article,
            "url": "https://example.org/b",
            "title": "Teaser",
            "published_at": datetime(2026, 11, 19, tzinfo=UTC),
        }
    )
    return build_digest([lead, teaser], NEWSLETTER, ON, quotes=[Quote(**quote)]).html


BASE_ARTICLE: dict[str, Any] = {
    "title": "Title",
    "url": "https://example.org/a",
    "section": "news",
    "published_at": datetime(2026, 11, 20, tzinfo=UTC),
    "summary": "Summary",
    "author": "Author",
    "image_url": "https://example.org/a.png",
    "image_alt": "Alt",
    "image_caption": "Caption",
}
BASE_QUOTE = {"text": "Quote", "author": "Someone"}
PLACEHOLDER_HTML = build(BASE_ARTICLE, BASE_QUOTE)


@pytest.mark.parametrize(
    "field",
    [
        "title",
        "section",
        "author",
        "image_alt",
        "image_caption",
        "summary",
        "quote.text",
        "quote.author",
    ],
)
@given(value=TEXT)
def test_any_text_keeps_the_structure(field: str, value: str) -> None:
    article, quote = dict(BASE_ARTICLE), dict(BASE_QUOTE)
    target, key = (quote, field.split(".")[1]) if field.startswith("quote.") else (article, field)
    target[key] = value
    try:
        html = build(article, quote)
    except ValidationError as error:
        # A value the models refuse must be refused with the field's name.
        assert key in str(error)
        return
    except DigestError:
        return
    expected = PLACEHOLDER_HTML
    if key in ("summary", "image_caption"):
        cleaned = Article(**article).model_dump()[key] or ""
        paragraphs = _paragraphs(cleaned)
        if key == "summary" or not paragraphs:
            # Summaries render one <p> a paragraph; an empty caption renders none.
            placeholder = "\n\n".join("x" for _ in paragraphs)
            expected = build({**BASE_ARTICLE, key: placeholder}, BASE_QUOTE)
    assert structure(html) == structure(expected)
