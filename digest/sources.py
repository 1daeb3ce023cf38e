"""Sources: articles from RSS and Atom (feedparser), JSON Feed, CSV and JSON documents.

A broken item is skipped with a warning naming it; a source that cannot be read or parsed at
all is a ``SourceError`` naming the source.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from pydantic import ValidationError

from .config import EditionData, Source, parse_edition_data
from .errors import ConfigError, InputError, describe_validation_error
from .models import Article, Newsletter, Quote, html_to_text

__all__ = ["MAX_SOURCE_BYTES", "SourceError", "SourceResult", "read_source", "read_sources"]

MAX_SOURCE_BYTES = 20_000_000
_IMG = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["'][^>]*>""", re.I)
_ALT = re.compile(r"""\balt\s*=\s*["']([^"']*)["']""", re.I)


class SourceError(ConfigError):
    """A source that cannot be read or parsed at all."""


@dataclass
class SourceResult:
    """The articles and quotes read from sources, and the items that were skipped."""

    articles: list[Article] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: SourceResult) -> None:
        """Add another result's articles, quotes and warnings to this one."""
        self.articles += other.articles
        self.quotes += other.quotes
        self.warnings += other.warnings


Fetch = Callable[[str], bytes]


def fetch_url(url: str) -> bytes:
    """Fetch a feed over http(s), with a time limit and a size limit."""
    request = urllib.request.Request(url, headers={"User-Agent": "digest (newsletter builder)"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body: bytes = response.read(MAX_SOURCE_BYTES + 1)
    if len(body) > MAX_SOURCE_BYTES:
        raise OSError(f"larger than {MAX_SOURCE_BYTES:,} bytes")
    return body


def _load(source: Source, fetch: Fetch) -> bytes:
    try:
        if source.path is not None:
            if source.path.stat().st_size > MAX_SOURCE_BYTES:
                raise OSError(f"larger than {MAX_SOURCE_BYTES:,} bytes")
            return source.path.read_bytes()
        assert source.url is not None
        return fetch(source.url)
    except urllib.error.HTTPError as error:
        raise SourceError(
            f"source {source.label!r}: cannot read it: HTTP {error.code} {error.reason}"
        ) from None
    except OSError as error:
        reason = getattr(error, "reason", None) or error.strerror or error
        raise SourceError(f"source {source.label!r}: cannot read it: {reason}") from None


def _detect(source: Source, raw: bytes) -> str:
    if source.format != "auto":
        return source.format
    name = str(source.path or urlsplit(source.url or "").path).lower()
    if name.endswith(".csv"):
        return "csv"
    head = raw.lstrip()[:200]
    if head.startswith(b"{"):
        return "jsonfeed" if b"jsonfeed.org" in raw[:2000] else "json"
    return "feed"


def read_source(source: Source, newsletter: Newsletter, fetch: Fetch = fetch_url) -> SourceResult:
    """Read one source into articles (and quotes, from JSON documents)."""
    raw = _load(source, fetch)
    kind = _detect(source, raw)
    base = source.url or ""
    if kind == "json":
        try:
            data: EditionData = parse_edition_data(json.loads(raw), newsletter)
        except (ValueError, RecursionError) as error:
            raise SourceError(f"source {source.label!r}: not valid JSON: {error}") from None
        except InputError as error:
            raise SourceError(f"source {source.label!r}: {error}") from None
        return SourceResult(articles=list(data.articles), quotes=list(data.quotes))
    if kind == "csv":
        items = _csv_items(source, raw)
    elif kind == "jsonfeed":
        items, base = _json_feed_items(source, raw)
    else:
        items, base = _feed_items(source, raw)
    return _articles(source, items, newsletter, base)


def read_sources(
    sources: Iterable[Source], newsletter: Newsletter, fetch: Fetch = fetch_url
) -> SourceResult:
    """Read and merge several sources."""
    result = SourceResult()
    for source in sources:
        result.extend(read_source(source, newsletter, fetch))
    return result


def _articles(
    source: Source,
    items: Iterable[tuple[str, dict[str, Any]]],
    newsletter: Newsletter,
    base: str,
) -> SourceResult:
    result = SourceResult()
    seen: set[str] = set()
    context = dict(newsletter.validation_context)
    context["base_url"] = context.get("base_url") or base or None
    for where, item in items:
        if item.get("invalid"):
            result.warnings.append(
                f"source {source.label!r}: {where}: skipped, not an item ({item['invalid']})"
            )
            continue
        key = item.get("url") or item.get("title") or where
        if key in seen:
            continue  # the same item twice in one feed
        seen.add(key)
        if not item.get("published_at"):
            result.warnings.append(f"source {source.label!r}: {where}: skipped, it has no date")
            continue
        item.setdefault("section", source.section)
        try:
            result.articles.append(Article.model_validate(item, context=context))
        except ValidationError as error:
            result.warnings.append(
                f"source {source.label!r}: {where}: skipped: {describe_validation_error(error)}"
            )
    return result


def _name(item: Mapping[str, Any], index: int) -> str:
    title = " ".join(str(item.get("title") or "").split())[:60]
    return f"item {index + 1} {title!r}" if title else f"item {index + 1}"


def _date(value: Any) -> str | None:
    """An ISO 8601 date with its zone from RFC 822, ISO 8601 or feedparser's UTC tuple."""
    if not value:
        return None
    if isinstance(value, time.struct_time | tuple):
        year, month, day, hour, minute, second = tuple(value)[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).isoformat()
    text = str(value).strip()
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # RFC 822 "-0000": the zone is unknown, say UTC
    return moment.isoformat()


def _first_image(html: str) -> tuple[str, str] | None:
    match = _IMG.search(html or "")
    if not match:
        return None
    alt = _ALT.search(match.group(0))
    return match.group(1), alt.group(1) if alt else ""


def _image_fields(image: tuple[str, str] | None, base: str) -> dict[str, Any]:
    if not image or not image[0]:
        return {}
    url, alt = image
    fields: dict[str, Any] = {"image_url": urljoin(base, url) if base else url}
    if alt and alt.strip():
        fields["image_alt"] = alt.strip()
    else:
        # Beside its headline, a picture without a description adds nothing for a screen reader.
        fields["image_decorative"] = True
    return fields


def _feed_items(source: Source, raw: bytes) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    parsed = feedparser.parse(raw, response_headers={"content-location": source.url or ""})
    if parsed.bozo and not parsed.entries:
        problem = parsed.get("bozo_exception", "not a feed")
        raise SourceError(f"source {source.label!r}: not an RSS or Atom feed: {problem}")
    base = source.url or parsed.feed.get("link", "") or ""
    items = []
    for index, entry in enumerate(parsed.entries):
        html = ""
        if entry.get("content"):
            html = entry.content[0].get("value", "")
        html = entry.get("summary", "") or html
        image: tuple[str, str] | None = None
        size: dict[str, int] = {}
        for media in entry.get("media_content", []) + entry.get("media_thumbnail", []):
            if media.get("url") and media.get("medium", "image") == "image":
                image = (media["url"], entry.get("media_description", "") or "")
                width, height = str(media.get("width", "")), str(media.get("height", ""))
                if width.isdigit() and height.isdigit() and len(width) < 6 and len(height) < 6:
                    size = {
                        "image_width": int(media["width"]),
                        "image_height": int(media["height"]),
                    }
                break
        if image is None:
            for enclosure in entry.get("enclosures", []):
                if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
                    image = (enclosure["href"], "")
                    break
        image = image or _first_image(html)
        tags = [t.get("term") for t in entry.get("tags", []) if t.get("term")]
        title = entry.get("title")
        if title and "html" in entry.get("title_detail", {}).get("type", ""):
            title = html_to_text(title)
        item: dict[str, Any] = {
            "title": title,
            "url": urljoin(base, entry.get("link", "")) if base else entry.get("link"),
            "published_at": _date(entry.get("published") or entry.get("updated"))
            or _date(entry.get("published_parsed") or entry.get("updated_parsed")),
            "summary_html": html or None,
            "author": entry.get("author") or None,
            **({"section": tags[0]} if tags else {}),
            **_image_fields(image, base),
            **size,
        }
        items.append((_name(item, index), item))
    return items, base


def _json_feed_items(source: Source, raw: bytes) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    try:
        feed = json.loads(raw)
        entries = feed["items"]
        if not isinstance(entries, list):
            raise TypeError("items is not a list")
    except (ValueError, RecursionError, KeyError, TypeError) as error:
        raise SourceError(f"source {source.label!r}: not a JSON Feed: {error}") from None
    home = feed.get("home_page_url") if isinstance(feed, dict) else None
    base = source.url or (home if isinstance(home, str) else "")
    items = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            items.append((f"item {index + 1}", {"invalid": "not an object"}))
            continue
        try:
            item = _json_feed_item(entry, base)
        except (TypeError, AttributeError, ValueError) as error:
            items.append((f"item {index + 1}", {"invalid": f"{type(error).__name__}: {error}"}))
            continue
        items.append((_name(item, index), {k: v for k, v in item.items() if v is not None}))
    return items, base


def _json_feed_item(entry: dict[str, Any], base: str) -> dict[str, Any]:
    """One JSON Feed item as article fields; raises TypeError or ValueError on odd values."""
    authors = entry.get("authors") or ([entry["author"]] if entry.get("author") else [])
    first = authors[0] if isinstance(authors, list) and authors else None
    html = entry.get("content_html") or ""
    summary = entry.get("summary") or ""
    image = entry.get("image") or entry.get("banner_image")
    tags = entry.get("tags") or []
    url = entry.get("url")
    return {
        "title": entry.get("title"),
        "url": urljoin(base, url or "") if base and isinstance(url, str | None) else url,
        "published_at": _date(entry.get("date_published") or entry.get("date_modified")),
        "summary": summary or entry.get("content_text") or None,
        "summary_html": html or None,
        "author": first.get("name") if isinstance(first, dict) else None,
        **(
            {"section": tags[0]}
            if isinstance(tags, list) and tags and isinstance(tags[0], str)
            else {}
        ),
        **_image_fields(
            (image, "") if isinstance(image, str) and image else _first_image(html), base
        ),
    }


def _csv_items(source: Source, raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # spreadsheets still write it
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "title" not in reader.fieldnames:
        raise SourceError(
            f"source {source.label!r}: a CSV source needs a header row with "
            "at least title, url and published_at"
        )
    items = []
    rows = enumerate(reader)
    while True:
        try:
            index, row = next(rows)
        except StopIteration:
            break
        except csv.Error as error:
            raise SourceError(
                f"source {source.label!r}: line {reader.line_num}: not readable as CSV: {error}"
            ) from None
        item: dict[str, Any] = {k.strip(): v for k, v in row.items() if k and v not in (None, "")}
        for flag in ("featured", "image_decorative"):
            if flag in item:
                item[flag] = str(item[flag]).strip().lower() in ("1", "true", "yes", "y")
        items.append(
            (f"row {index + 2}" + (f" {item['title'][:60]!r}" if item.get("title") else ""), item)
        )
    return items
