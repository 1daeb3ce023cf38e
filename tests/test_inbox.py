"""Accessibility, dark mode, right-to-left and layout rules of the rendered examples."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from digest import Article, Newsletter, build_digest

from .helpers import DEFAULT_DESIGN, EXAMPLE_EDITIONS, build_example, changed, validated_with
from .htmltools import read_page


@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
def test_accessibility_rules(example: str) -> None:
    digest = build_example(example)
    html = digest.html
    page = read_page(html)
    # Every layout table is presentational.
    tables = re.findall(r"<table\b[^>]*>", html)
    assert tables and all('role="presentation"' in t for t in tables)
    # One h1, and no heading level skipped.
    levels = [int(tag[1]) for tag, _ in page.headings]
    assert levels.count(1) == 1
    assert all(b <= a + 1 for a, b in zip([0, *levels], levels, strict=False))
    # A title, a language and a direction.
    assert re.search(r"<title>[^<]+</title>", html)
    assert re.search(
        r'<html[^>]* lang="[a-z]{2}(-[A-Z][a-z]{3})?(-[A-Z]{2})?"[^>]* dir="ltr"', html
    )
    # Every image has alt text, a pixel width for Outlook, and an automatic height, so its
    # shape is its own at any width (the browser tests measure the rendered ratios).
    for image in page.images:
        assert image.get("alt"), image
        assert (image.get("width") or "").isdigit(), image
        assert "height:auto" in (image.get("style") or "").replace(" ", ""), image
    # Links say where they lead: a generic "read more" carries an aria-label.
    for anchor in re.findall(r"<a\b[^>]*>(?:(?!</a>).)*</a>", html, re.S):
        text = re.sub(r"<[^>]+>", "", anchor).strip()
        if text.casefold().startswith(("read more", "baca selengkapnya")):
            assert "aria-label=" in anchor


@pytest.mark.parametrize("example", DEFAULT_DESIGN)
def test_dark_mode_is_declared_and_styled(example: str) -> None:
    html = build_example(example).html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html
    dark = html[html.index("@media (prefers-color-scheme: dark)") :]
    assert "background-color: #111418 !important" in dark
    assert ".card a { color:" in dark


def test_dark_mode_brand_colours_stay_legible() -> None:
    from digest.colour import contrast_ratio, dark_theme
    from digest.models import Theme

    for brand in ("#c8102e", "#0f6b5c", "#000000", "#1a1a80"):
        dark = dark_theme(Theme(brand=brand, accent=brand))
        assert contrast_ratio(dark["brand"], dark["surface"]) >= 4.5
        assert contrast_ratio(dark["text"], dark["surface"]) >= 4.5
        assert contrast_ratio(dark["muted"], dark["surface"]) >= 4.5


def test_right_to_left_locales() -> None:
    newsletter = Newsletter(
        name="النشرة الأسبوعية",
        locale="ar",
        timezone="Asia/Riyadh",
        sender={"name": "النشرة", "address": "news@example.org"},
        contact={"postal_address": "الرياض", "unsubscribe_url": "https://example.org/unsubscribe"},
    )
    articles = [
        Article(
            title=f"خبر رقم {n}",
            url=f"https://example.org/{n}",
            section="محلي",
            published_at=datetime(2026, 11, 20 - n, tzinfo=UTC),
            summary="نص الخبر",
            featured=n == 0,
        )
        for n in range(3)
    ]
    html = build_digest(articles, newsletter, date(2026, 11, 23)).html
    assert re.search(r'<html[^>]* lang="ar"[^>]* dir="rtl"', html)
    assert re.search(r'<div[^>]*role="article"[^>]* dir="rtl"', html)
    assert "text-align:right" in html
    assert "direction:ltr" not in html
    assert "اقرأ المزيد" in html and "إلغاء الاشتراك" in html


def test_teasers_sit_two_across_in_order(make_article, newsletter: Newsletter) -> None:  # type: ignore[no-untyped-def]
    articles = [make_article(featured=True)] + [
        make_article(title=f"Teaser {n}", published_at=datetime(2026, 11, 20, 12 - n, tzinfo=UTC))
        for n in range(5)
    ]
    wide = changed(newsletter, teasers_per_section=5)
    html = build_digest(articles, wide, date(2026, 11, 23)).html
    assert html.count('class="mj-outlook-group-fix mj-column-per-50"') == 2
    positions = [html.index(f"Teaser {n}</a>") for n in range(5)]
    assert positions == sorted(positions)


def test_no_web_fonts_unless_configured(make_article, newsletter: Newsletter) -> None:  # type: ignore[no-untyped-def]
    plain = build_digest([make_article()], newsletter, date(2026, 11, 23)).html
    assert "<link" not in plain and "@import" not in plain
    themed = validated_with(
        newsletter,
        **{
            "theme": {
                "font_family": "Inter, Arial, sans-serif",
                "web_fonts": {"Inter": "https://fonts.example.org/inter.css"},
            },
            "footer_text": "Written in Riverside.",
        },
    )
    html = build_digest([make_article()], themed, date(2026, 11, 23)).html
    assert '<link href="https://fonts.example.org/inter.css" rel="stylesheet"' in html
    assert "font-family:Inter, Arial, sans-serif" in html
    assert "Written in Riverside." in html
