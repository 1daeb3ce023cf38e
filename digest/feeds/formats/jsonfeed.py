"""JSON Feed (1.0 and 1.1, https://jsonfeed.org/version/1.1) read into ``FeedItem``s."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urljoin

from digest.errors import SourceError
from digest.feeds.dates import DateLines
from digest.feeds.item import FeedItem, FeedRead, Reading, days_when_times_are_invented, item_name
from digest.feeds.pictures import best_picture, html_pictures, picture
from digest.feeds.source import Source
from digest.models import Newsletter
from digest.text import cut_text

__all__ = ["read_json_feed"]


def read_json_feed(source: Source, raw: bytes, newsletter: Newsletter) -> FeedRead:
    """Read a JSON Feed into items; an entry that is not one is an item marked invalid."""
    try:
        feed = json.loads(raw)
        entries = feed["items"]
        if not isinstance(entries, list):
            raise TypeError("items is not a list")
    except (ValueError, RecursionError, KeyError, TypeError) as error:
        raise SourceError(f"source {source.label!r}: not a JSON Feed: {error}") from None
    home = feed.get("home_page_url")
    base = source.url or (home if isinstance(home, str) else "")
    language = feed.get("language") if isinstance(feed.get("language"), str) else None
    warnings: list[str] = []
    reading = Reading(source, newsletter, language, warnings)
    feed_images = {str(feed.get(key)) for key in ("icon", "favicon") if feed.get(key)}
    items = []
    date_lines = DateLines(raw)
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            items.append(FeedItem(f"item {index + 1}", invalid="not an object"))
            continue
        try:
            item = _item(entry, index, base, reading, feed_images, date_lines)
        except (TypeError, AttributeError, ValueError) as error:
            items.append(FeedItem(f"item {index + 1}", invalid=f"{type(error).__name__}: {error}"))
            continue
        items.append(item)
    return FeedRead(days_when_times_are_invented(items), base, warnings)


def _text(entry: dict[str, Any], name: str) -> str | None:
    """The entry's field ``name`` when it is text; a TypeError when it is something else."""
    value = entry.get(name)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{name} is {type(value).__name__}, not text")


def _item(
    entry: dict[str, Any],
    index: int,
    base: str,
    reading: Reading,
    feed_images: set[str],
    date_lines: DateLines,
) -> FeedItem:
    """One JSON Feed item; raises TypeError or ValueError on odd values."""
    from digest.feeds.cleaning import feed_summary, feed_text

    authors = entry.get("authors") or ([entry["author"]] if entry.get("author") else [])
    first = authors[0] if isinstance(authors, list) and authors else None
    html = entry.get("content_html") or ""
    summary = _text(entry, "summary") or _text(entry, "content_text") or ""
    tags = entry.get("tags") or []
    url = _text(entry, "url")
    given = _text(entry, "title")
    title = None if given is None else feed_text(given)
    candidates = [
        made
        for made in (
            picture(entry.get("image"), base=base),
            picture(entry.get("banner_image"), base=base),
        )
        if made is not None
    ]
    for attachment in entry.get("attachments") or []:
        if isinstance(attachment, dict) and str(attachment.get("mime_type", "")).startswith(
            "image/"
        ):
            made = picture(attachment.get("url"), alt=attachment.get("title"), base=base)
            candidates += [made] if made else []
    candidates += html_pictures(html if isinstance(html, str) else "", base)
    dated = entry.get("date_published") or entry.get("date_modified")
    published_at, time_known = reading.dated(dated)
    author = first.get("name") if isinstance(first, dict) else None
    if author is not None and not isinstance(author, str):
        raise TypeError(f"authors[0].name is {type(author).__name__}, not text")
    return FeedItem(
        where=item_name(title, index),
        title=title,
        url=urljoin(base, url or "") if base else url,
        published_at=published_at,
        time_known=time_known,
        summary=cut_text(feed_summary(summary), reading.newsletter.layout.summary_length) or None,
        summary_html=reading.html(html) if isinstance(html, str) and html else None,
        author=author,
        categories=tuple(tag for tag in tags if isinstance(tag, str))
        if isinstance(tags, list)
        else (),
        picture=best_picture(candidates, feed_images),
        date_text=None if dated is None else str(dated),
        # In the order they come: DateLines finds each date after the one before.
        date_line=date_lines.line(dated),
    )
