"""The template context: an edition and its newsletter as plain data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from markupsafe import Markup, escape

from digest.colour import dark_theme
from digest.edition import Edition
from digest.errors import InputError
from digest.labels import labels_for
from digest.models import Article, Newsletter
from digest.render.options import RenderOptions


def _single_line(text: str) -> str:
    return " ".join(text.split())


_NOTE_LINK = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def _note(text: str | None) -> list[dict[str, Any]]:
    """An editor's note: its paragraphs, as text and as HTML with its URLs made links."""
    paragraphs = []
    for paragraph in _paragraphs(text):
        pieces, last = [], 0
        for match in _NOTE_LINK.finditer(paragraph):
            url = match.group(0)
            pieces += [
                escape(paragraph[last : match.start()]),
                Markup('<a href="{0}">{0}</a>').format(url),
            ]
            last = match.end()
        pieces.append(escape(paragraph[last:]))
        paragraphs.append({"text": paragraph, "html": Markup("").join(pieces)})
    return paragraphs


def _paragraphs(text: str | None) -> list[str]:
    return [" ".join(p.split()) for p in (text or "").split("\n\n") if p.strip()]


#: A CLDR pattern's time fields (hours, minutes, seconds, day period, zone) with what joins
#: them to the date, left out of the date of an article that has no time.
_TIME_FIELDS = re.compile(
    r"[\s,|·-]*(?:'[^']*'\s*)?[HhKkmsSaBbjJzZvVxXO]+(?:[:.]?[HhKkmsSaBbjJzZvVxXO]+)*"
)


def archive_page_url(newsletter: Newsletter, edition: Edition) -> str | None:
    """The public address of an edition's archive page, when the newsletter has an archive."""
    if newsletter.links.archive_url is None:
        return None
    return urljoin(
        newsletter.links.archive_url.rstrip("/") + "/", f"{edition.date.isoformat()}.html"
    )


DATE_STYLES = ("full", "long", "medium", "short")


def language_tag(locale: Locale) -> str:
    """The BCP 47 tag of a locale, for ``lang`` attributes: ``en-GB``, ``zh-Hans``, ``id``."""
    return "-".join(part for part in (locale.language, locale.script, locale.territory) if part)


def format_moment(
    moment: datetime, newsletter: Newsletter, locale: Locale, time_known: bool = True
) -> str:
    """An article's date and time in the newsletter's zone, as the locale writes them.

    ``date_format`` is a style of the locale (full, long, medium, short), joined with the time
    in ``time_format`` the way the locale joins them, or a CLDR pattern used as it is. Without
    a known time, the day is the one the source gave, written without the pattern's time fields.
    """
    if not time_known:
        pattern = newsletter.layout.date_format
        if pattern not in DATE_STYLES:
            pattern = _TIME_FIELDS.sub("", pattern).strip(" ,|·-\u2013") or "long"
        return format_date(moment.date(), pattern, locale=locale)
    if newsletter.layout.date_format not in DATE_STYLES:
        return format_datetime(
            moment, newsletter.layout.date_format, tzinfo=newsletter.zone, locale=locale
        )
    local = moment.astimezone(newsletter.zone)
    day = format_date(local, newsletter.layout.date_format, locale=locale)
    if newsletter.layout.time_format is None:
        return day
    clock = format_time(local, newsletter.layout.time_format, tzinfo=newsletter.zone, locale=locale)
    joined = str(locale.datetime_formats[newsletter.layout.date_format])
    # CLDR quotes literal words in the joining pattern: "{1} 'at' {0}".
    joined = re.sub(r"'([^']*)'", r"\1", joined)
    return joined.replace("{1}", day).replace("{0}", clock)


def resolve_asset(url: str, base: str | None, where: str) -> str:
    """Resolve a relative image path against the asset base URL."""
    if "://" in url:
        return url
    if base is None:
        raise InputError(
            f"{where}: {url!r} is a relative path but the newsletter has no asset_base_url"
        )
    return urljoin(base if base.endswith("/") else base + "/", url)


def edition_context(
    edition: Edition, newsletter: Newsletter, options: RenderOptions | None = None
) -> dict[str, Any]:
    """Build the template context of an edition as plain, JSON-like data."""
    options = options or RenderOptions()
    locale = Locale.parse(newsletter.locale)
    base = options.asset_base_url or newsletter.links.asset_base_url
    labels = labels_for(newsletter.locale, newsletter.labels)
    labels["why"] = labels["why"].replace("{name}", newsletter.name)
    return {
        **_document_context(newsletter, locale, labels, options),
        "view_online_url": archive_page_url(newsletter, edition) or "",
        "newsletter": _brand_context(newsletter, base),
        "edition": _stories_context(edition, newsletter, locale, base, labels),
    }


def _document_context(
    newsletter: Newsletter, locale: Locale, labels: dict[str, str], options: RenderOptions
) -> dict[str, Any]:
    """The whole document's part: language, direction, words, colours, layout switches."""
    return {
        "text_width": options.text_width,
        "web": options.web,
        "reader": None,
        "lang": language_tag(locale),
        "locale": str(locale),
        "dir": "rtl" if locale.character_order == "right-to-left" else "ltr",
        "labels": labels,
        "theme": newsletter.brand.theme.model_dump(),
        "theme_dark": dark_theme(newsletter.brand.theme),
    }


def _brand_context(newsletter: Newsletter, base: str | None) -> dict[str, Any]:
    """The masthead's and the footer's part: name, logo, sender, address, links."""
    logo = newsletter.brand.logo
    return {
        "name": newsletter.name,
        "tagline": newsletter.tagline or "",
        "footer_text": newsletter.brand.footer_text or "",
        "url": newsletter.url or "",
        "logo": None
        if logo is None
        else {
            "url": resolve_asset(logo.url, base, "newsletter.brand.logo.url"),
            "dark_url": resolve_asset(logo.dark_url, base, "newsletter.brand.logo.dark_url")
            if logo.dark_url
            else "",
            "alt": logo.alt,
            "width": logo.width,
            "height": logo.height,
        },
        "sender": newsletter.sender.model_dump(),
        "postal_address": [line for line in newsletter.contact.postal_address.split("\n") if line],
        "unsubscribe_url": newsletter.contact.unsubscribe_url or "",
        "preferences_url": newsletter.contact.preferences_url or "",
        "social": [link.model_dump() for link in newsletter.brand.social],
    }


def _stories_context(
    edition: Edition,
    newsletter: Newsletter,
    locale: Locale,
    base: str | None,
    labels: dict[str, str],
) -> dict[str, Any]:
    """The stories' part: the date, the lead, the sections of teasers and the quote."""
    section_labels = {
        spec.name.casefold(): spec.label or spec.name for spec in newsletter.layout.sections
    }

    def article(item: Article) -> dict[str, Any]:
        return _article_context(item, newsletter, locale, base, section_labels)

    return {
        "date": format_date(edition.date, "full", locale=locale),
        "date_iso": edition.date.isoformat(),
        "number": edition.number,
        "lead": article(edition.lead),
        "sections": [
            {
                "name": section.name,
                "label": labels["more_news"] if section.gathered else section.label,
                "teasers": [article(teaser) for teaser in section.teasers],
            }
            for section in edition.sections
        ],
        "quote": None if edition.quote is None else edition.quote.model_dump(),
        "note": _note(edition.note),
    }


def _article_context(
    item: Article,
    newsletter: Newsletter,
    locale: Locale,
    base: str | None,
    section_labels: Mapping[str, str],
) -> dict[str, Any]:
    """One story: the lead or a teaser, with its picture."""
    image = None
    if item.image_url is not None:
        image = {
            "url": resolve_asset(item.image_url, base, f"image_url of {item.url}"),
            "alt": item.image_alt or "",
            "caption": item.image_caption or "",
            "credit": item.image_credit or "",
            "width": item.image_width,
            # Height over width, when the article gives the picture's size.
            "ratio": item.image_height / item.image_width
            if item.image_width and item.image_height
            else None,
        }
    return {
        "title": item.title,
        "url": item.url,
        "section": section_labels.get(item.section.casefold(), item.section),
        "author": item.author or "",
        "published": format_moment(item.published_at, newsletter, locale, item.time_known),
        "published_iso": item.published_at.isoformat(),
        "summary": _paragraphs(item.summary),
        # Sanitised by the model (nh3): only paragraphs, emphasis, breaks and safe links.
        "summary_html": Markup(item.summary_html) if item.summary_html else "",
        "image": image,
    }
