"""Sources: articles from RSS and Atom (feedparser), JSON Feed, CSV and JSON documents.

Feeds are read the way an editor would read them: the best real picture of each item (never a
tracking pixel or the site's logo), text without mojibake or "read more" trailers, the
article's own link rather than a redirect, and dates in the feed's language and zone. A broken
item is skipped with a warning naming it; a source that cannot be read, or whose every item is
skipped, is a ``SourceError`` naming the source.
"""

from __future__ import annotations

import csv
import io
import json
import time
import xml.sax
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dt_time
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from digest.errors import DigestError, InputError, SourceError, describe_validation_error
from digest.feeds.data import EditionData, parse_edition_data
from digest.feeds.dates import DateLines, parse_date
from digest.feeds.fetch import MAX_SOURCE_BYTES, Fetcher
from digest.feeds.pictures import (
    MIN_SIDE,
    Picture,
    best_picture,
    html_pictures,
    looks_like_image,
    picture,
    with_description,
    with_linked_picture,
)
from digest.feeds.source import Source
from digest.files import read_limited
from digest.labels import labels_for
from digest.models import Article, Newsletter, Quote
from digest.text import cut_text
from digest.urls import WEB_SCHEMES, on_domains

__all__ = [
    "MAX_SOURCE_BYTES",
    "Fetch",
    "Source",
    "SourceError",
    "SourceResult",
    "is_redirect_link",
    "read_source",
    "read_sources",
]


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


#: Reads a URL source within a deadline (seconds); ``Fetcher`` is the default.
Fetch = Callable[[str, float], bytes]


def _load(source: Source, fetch: Fetch) -> bytes:
    try:
        if source.path is not None:
            return read_limited(source.path, MAX_SOURCE_BYTES)
        assert source.url is not None
        return fetch(source.url, source.deadline)
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


def read_source(source: Source, newsletter: Newsletter, fetch: Fetch | None = None) -> SourceResult:
    """Read one source into articles (and quotes, from JSON documents)."""
    raw = _load(source, fetch or Fetcher())
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
    warnings: list[str] = []
    if kind == "csv":
        items = _csv_items(source, raw)
    elif kind == "jsonfeed":
        items, base = _json_feed_items(source, raw, newsletter, warnings)
    else:
        items, base = _feed_items(source, raw, newsletter, warnings)
    if source.url is not None:
        _probe_pictures(items, fetch or Fetcher())
    try:
        result = _articles(source, items, newsletter, base)
    except DigestError as error:
        error.warnings = (*warnings, *error.warnings)
        raise
    result.warnings[:0] = warnings
    return result


def read_sources(
    sources: Iterable[Source], newsletter: Newsletter, fetch: Fetch | None = None
) -> SourceResult:
    """Read and merge several sources."""
    result = SourceResult()
    for source in sources:
        try:
            result.extend(read_source(source, newsletter, fetch))
        except DigestError as error:
            error.warnings = (*result.warnings, *error.warnings)
            raise
    return result


def _articles(
    source: Source,
    items: list[tuple[str, dict[str, Any]]],
    newsletter: Newsletter,
    base: str,
) -> SourceResult:
    result = SourceResult()
    if not items:
        result.warnings.append(f"source {source.label!r}: it has no items")
        return result
    from digest.feeds.cleaning import clean_byline, drop_repeated, is_comment, section_name

    default_section = source.section or labels_for(newsletter.locale, newsletter.labels)["news"]
    comments = 0
    seen: set[str] = set()
    drop_repeated([item for _, item in items if not item.get("invalid")])
    context = dict(newsletter.validation_context)
    context["base_url"] = context.get("base_url") or base or None
    skipped: list[str] = []
    for where, item in items:
        if item.get("invalid"):
            skipped.append(f"{where}: skipped, not an item ({item['invalid']})")
            continue
        key = item.get("url") or item.get("title") or where
        if key in seen:
            continue  # the same item twice in one feed
        seen.add(key)
        if is_comment(str(item.get("title") or ""), str(item.get("url") or "")):
            comments += 1
            continue
        if not item.get("published_at"):
            shown = item.get("date_text")
            line = f" (line {item['date_line']})" if item.get("date_line") else ""
            skipped.append(
                f"{where}: skipped, its date {shown!r}{line} is not readable"
                if shown
                else f"{where}: skipped, it has no date"
            )
            continue
        item.pop("date_text", None)
        item.pop("date_line", None)
        if isinstance(item.get("author"), str):
            item["author"] = clean_byline(item["author"])
        if isinstance(item.get("section"), str):
            item["section"] = section_name(item["section"])
        item.setdefault("section", default_section)
        try:
            result.articles.append(Article.model_validate(item, context=context))
        except ValidationError as error:
            skipped.append(f"{where}: skipped: {describe_validation_error(error)}")
    if comments:
        skipped.append(
            f"{comments} {'item is a reader' if comments == 1 else 'items are readers'}'"
            f"{'s comment' if comments == 1 else ' comments'}, not stories: skipped"
        )
    if skipped and not result.articles:
        raise SourceError(
            f"source {source.label!r}: all {len(skipped) - bool(comments) + comments} items "
            f"were skipped; the first: {skipped[0]}"
        )
    result.warnings += [f"source {source.label!r}: {line}" for line in skipped]
    return result


def _name(item: Mapping[str, Any], index: int) -> str:
    title = " ".join(str(item.get("title") or "").split())[:60]
    return f"item {index + 1} {title!r}" if title else f"item {index + 1}"


def _feed_pictures(entry: Mapping[str, Any], base: str) -> list[Picture]:
    """Every picture a feed entry offers, Media RSS first, then enclosures, then ``<img>``."""
    found: list[Picture] = []
    for media in [*entry.get("media_content", []), *entry.get("media_thumbnail", [])]:
        url = media.get("url")
        if url and looks_like_image(url, media.get("type", ""), media.get("medium", "")):
            made = picture(url, media.get("width"), media.get("height"), base=base)
            found += [made] if made else []
    for enclosure in entry.get("enclosures", []):
        if str(enclosure.get("type", "")).startswith("image/"):
            made = picture(enclosure.get("href"), base=base)
            found += [made] if made else []
    contents = [*entry.get("content", []), {"value": entry.get("summary", "")}]
    for content in contents:
        found += html_pictures(content.get("value") or "", base)
    return with_linked_picture(found, [c.get("value") or "" for c in contents], base)


def _feed_link(entry: Mapping[str, Any]) -> str | None:
    """The article's own address: FeedBurner's original link, or the permalink over a redirect."""
    original = entry.get("feedburner_origlink")
    if isinstance(original, str) and original.strip():
        return original.strip()
    link = entry.get("link") or None
    guid = entry.get("id") or ""
    if link and is_redirect_link(link) and urlsplit(guid).scheme in WEB_SCHEMES:
        return str(guid)
    return link


# Feed services that count clicks by redirecting through their own hosts.
_REDIRECT_HOSTS = (
    "feedproxy.google.com",
    "feeds.feedburner.com",
    "feeds.feedblitz.com",
    "feedsportal.com",
)


def is_redirect_link(url: str) -> bool:
    """A feed service's click-counting redirect rather than the article's address."""
    return on_domains(url, _REDIRECT_HOSTS) or "/~r/" in urlsplit(url).path


_BOM = b"\xef\xbb\xbf"


def _relative(link: object) -> bool:
    """Whether a link is a relative reference (no scheme)."""
    return bool(link) and not urlsplit(str(link)).scheme


def _document_base(parsed: Any) -> str:
    """Where a feed read from a file says it lives, to resolve its relative links against.

    Atom resolves them against the feed document, so its absolute ``rel="self"`` link comes
    first; RSS readers resolve them against the channel's site link. "" when neither is an
    absolute web address.
    """
    site = str(parsed.feed.get("link") or "")
    own = [
        str(link.get("href") or "")
        for link in parsed.feed.get("links", [])
        if link.get("rel") == "self"
    ]
    order = [*own, site] if str(parsed.get("version", "")).startswith("atom") else [site, *own]
    for candidate in order:
        if urlsplit(candidate).scheme in WEB_SCHEMES and urlsplit(candidate).hostname:
            return candidate
    return ""


def _declaration_first(raw: bytes) -> bytes:
    """The feed without the blank lines some servers send before its ``<?xml`` declaration.

    XML allows nothing before the declaration, so the parser would stop there and keep only
    what it had read; a stray newline printed by a server-side script is the usual cause.
    """
    bom = _BOM if raw.startswith(_BOM) else b""
    body = raw[len(bom) :]
    declared = body.lstrip(b" \t\r\n")
    if len(declared) < len(body) and declared.startswith(b"<?xml"):
        return bom + declared
    return raw


def _feed_items(
    source: Source, raw: bytes, newsletter: Newsletter, warnings: list[str]
) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    import feedparser  # here: only feeds need it, and it is slow to import

    from digest.feeds.cleaning import feed_text, fix_text

    def parse(base: str) -> Any:
        # With the document's address, feedparser resolves xml:base (nested and relative ones
        # too) and the relative links of the content; without one it loses a level.
        headers = {"content-location": base} if base else None
        # A file object, never bytes: feedparser opens bytes that name a file (b"/etc/passwd").
        return feedparser.parse(io.BytesIO(_declaration_first(raw)), response_headers=headers)

    parsed = parse(source.url or "")
    if not source.url and parsed.get("version"):
        found = _document_base(parsed)
        if found and (b"xml:base" in raw or any(_relative(e.get("link")) for e in parsed.entries)):
            parsed = parse(found)  # read again, knowing where the feed lives
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception") or "no RSS, RDF or Atom root element"
        raise SourceError(f"source {source.label!r}: not an RSS or Atom feed: {problem}")
    problem = parsed.get("bozo_exception")
    if parsed.bozo and isinstance(problem, xml.sax.SAXParseException):
        warnings.append(
            f"source {source.label!r}: the feed is malformed at line {problem.getLineNumber()}, "
            f"column {problem.getColumnNumber()} ({problem.getMessage()}); "
            f"{len(parsed.entries)} items were read before it"
        )
    base = source.url or _document_base(parsed)
    feed_images = {
        str(value)
        for value in (
            (parsed.feed.get("image") or {}).get("href"),
            parsed.feed.get("icon"),
            parsed.feed.get("logo"),
        )
        if value
    }
    reading = _Reading(source, newsletter, parsed.feed.get("language"), warnings)
    # Atom: an entry without an author has the feed's (RFC 4287, 4.2.1).
    atom = str(parsed.get("version", "")).startswith("atom")
    feed_author = str(parsed.feed.get("author") or "") if atom else ""
    items = []
    date_lines = DateLines(raw, parsed.get("encoding"))
    for index, entry in enumerate(parsed.entries):
        html = ""
        if entry.get("content"):
            html = entry.content[0].get("value", "")
        html = entry.get("summary", "") or html
        chosen = best_picture(_feed_pictures(entry, base), feed_images)
        if chosen is not None:
            credits = entry.get("media_credit") or [{}]
            chosen = with_description(
                chosen,
                entry.get("media_description") or entry.get("media_title") or "",
                str(credits[0].get("content") or ""),
            )
        tags = [t.get("term") for t in entry.get("tags", []) if t.get("term")]
        title_html = "html" in entry.get("title_detail", {}).get("type", "")
        title = feed_text(entry.get("title") or "", title_html)
        link = _feed_link(entry)
        # dict.get: feedparser's own get() maps updated to published with a warning.
        dated = dict.get(entry, "published") or dict.get(entry, "updated")
        item: dict[str, Any] = {
            "date_text": dated,
            "date_line": date_lines.line(dated),
            "title": title or None,
            "url": urljoin(base, link or "") if base else link,
            **reading.dated(
                dated,
                dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed"),
            ),
            "summary_html": reading.html(html, title),
            "author": fix_text(entry.get("author") or feed_author) or None,
            **({"section": fix_text(tags[0])} if tags else {}),
            **_picture_fields(chosen),
        }
        items.append((_name(item, index), item))
    _days_when_times_are_invented(items)
    return items, base


def _days_when_times_are_invented(items: list[tuple[str, dict[str, Any]]]) -> None:
    """Mark a feed's dates as days when its times say nothing: all at midnight, or all alike.

    Static sites (Jekyll, Hugo) write ``T00:00:00+00:00`` for a post dated with a day alone;
    some feeds stamp every entry with the one time they were built. Midnight is read in the
    zone the date was written in; one time shared by two entries or more counts too.
    """
    timed = [
        item
        for _, item in items
        if item.get("published_at") and item.get("time_known", True) and not item.get("invalid")
    ]
    moments = [datetime.fromisoformat(str(item["published_at"])) for item in timed]
    times = {moment.time() for moment in moments}
    if times == {dt_time(0)} or (len(moments) >= 2 and len(times) == 1):
        for item in timed:
            item["time_known"] = False


@dataclass
class _Reading:
    """What reading one source needs for every item: its zone, languages and limits."""

    source: Source
    newsletter: Newsletter
    language: str | None
    warnings: list[str]
    warned: bool = False

    def __post_init__(self) -> None:
        """Settle the zone and the languages of the source's dates once."""
        self.zone = ZoneInfo(self.source.timezone or self.newsletter.timezone)
        languages = [self.source.language or self.language or "", self.newsletter.locale]
        self.languages = [language.replace("-", "_") for language in languages if language]

    def dated(self, text: Any, parsed: Any = None) -> dict[str, Any]:
        """An item's ``published_at`` (ISO 8601) from the feed's text or feedparser's UTC tuple.

        A day without a time also gives ``time_known: False``; nothing when it is unreadable.
        """
        read = parse_date(text, self.zone, self.languages) or parse_date(parsed, self.zone)
        if read is None:
            return {}
        if not read.has_time:
            # A day alone needs no zone to be shown: no warning about one.
            return {"published_at": read.moment.isoformat(), "time_known": False}
        if read.assumed_zone and not self.source.timezone and not self.warned:
            self.warned = True
            self.warnings.append(
                f"source {self.source.label!r}: dates such as {' '.join(str(text).split())!r} "
                f"name no time zone; they are read in the newsletter's timezone "
                f"{self.zone.key} (set timezone in the source to change it)"
            )
        return {"published_at": read.moment.isoformat()}

    def html(self, value: str, title: str = "") -> str | None:
        """The item's HTML, repaired and cut to the newsletter's summary length."""
        from digest.feeds.cleaning import clean_feed_html

        return clean_feed_html(value, self.newsletter.layout.summary_length, title) or None


#: The most pictures of one URL source whose size is read from their first bytes, and the
#: seconds all those reads may take together.
MAX_PROBES = 20
PROBE_SECONDS = 15.0


def _probe_pictures(items: list[tuple[str, dict[str, Any]]], fetch: Fetch) -> None:
    """Read the size of pictures the feed gives none for, from their first 64 KB.

    Only with a fetcher that can read a part of a file (``Fetcher.head``); a picture that
    turns out to be an icon (a side under 100 px) is dropped, one that cannot be read keeps
    no size. The same schemes and redirect rules as feeds apply.
    """
    head = getattr(fetch, "head", None)
    if head is None:
        return
    from digest.feeds.fetch import FetchError
    from digest.feeds.probe import image_size

    ends = time.monotonic() + PROBE_SECONDS
    unsized = [
        item for _, item in items
        if item.get("image_url") and not (item.get("image_width") and item.get("image_height"))
    ][:MAX_PROBES]  # fmt: skip
    for item in unsized:
        remaining = ends - time.monotonic()
        if remaining <= 0.5:
            return
        try:
            size = image_size(head(item["image_url"], 64 * 1024, min(5.0, remaining)))
        except FetchError:
            continue
        if size is None:
            continue
        if min(size) < MIN_SIDE:
            for key in ("image_url", "image_alt", "image_decorative", "image_credit"):
                item.pop(key, None)
        else:
            item["image_width"], item["image_height"] = size


def _picture_fields(chosen: Picture | None) -> dict[str, Any]:
    if chosen is None:
        return {}
    fields: dict[str, Any] = {"image_url": chosen.url}
    if chosen.alt:
        fields["image_alt"] = chosen.alt
    else:
        # Beside its headline, a picture without a description adds nothing for a screen reader.
        fields["image_decorative"] = True
    if chosen.credit:
        fields["image_credit"] = chosen.credit
    if chosen.width and chosen.height:
        fields |= {"image_width": chosen.width, "image_height": chosen.height}
    return fields


def _json_feed_items(
    source: Source, raw: bytes, newsletter: Newsletter, warnings: list[str]
) -> tuple[list[tuple[str, dict[str, Any]]], str]:
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
    reading = _Reading(source, newsletter, language, warnings)
    feed_images = {str(feed.get(key)) for key in ("icon", "favicon") if feed.get(key)}
    items = []
    date_lines = DateLines(raw)
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            items.append((f"item {index + 1}", {"invalid": "not an object"}))
            continue
        try:
            item = _json_feed_item(entry, base, reading, feed_images)
            item["date_line"] = date_lines.line(item.get("date_text"))
        except (TypeError, AttributeError, ValueError) as error:
            items.append((f"item {index + 1}", {"invalid": f"{type(error).__name__}: {error}"}))
            continue
        items.append((_name(item, index), {k: v for k, v in item.items() if v is not None}))
    _days_when_times_are_invented(items)
    return items, base


def _json_feed_item(
    entry: dict[str, Any], base: str, reading: _Reading, feed_images: set[str]
) -> dict[str, Any]:
    """One JSON Feed item as article fields; raises TypeError or ValueError on odd values."""
    from digest.feeds.cleaning import feed_text

    authors = entry.get("authors") or ([entry["author"]] if entry.get("author") else [])
    first = authors[0] if isinstance(authors, list) and authors else None
    html = entry.get("content_html") or ""
    summary = entry.get("summary") or ""
    tags = entry.get("tags") or []
    url = entry.get("url")
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
    text = entry.get("content_text")
    return {
        "date_text": entry.get("date_published") or entry.get("date_modified"),
        "title": feed_text(entry["title"])
        if isinstance(entry.get("title"), str)
        else entry.get("title"),
        "url": urljoin(base, url or "") if base and isinstance(url, str | None) else url,
        **reading.dated(entry.get("date_published") or entry.get("date_modified")),
        "summary": cut_text(
            feed_text(summary or text or ""), reading.newsletter.layout.summary_length
        )
        if isinstance(summary or text or "", str)
        else summary,
        "summary_html": reading.html(html) if isinstance(html, str) and html else None,
        "author": first.get("name") if isinstance(first, dict) else None,
        **(
            {"section": tags[0]}
            if isinstance(tags, list) and tags and isinstance(tags[0], str)
            else {}
        ),
        **_picture_fields(best_picture(candidates, feed_images)),
    }


def _csv_items(source: Source, raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    from digest.feeds.cleaning import feed_text

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
        for key in ("title", "summary"):
            if isinstance(item.get(key), str):
                item[key] = feed_text(item[key])
        for flag in ("featured", "image_decorative"):
            if flag in item:
                item[flag] = str(item[flag]).strip().lower() in ("1", "true", "yes", "y")
        items.append(
            (f"row {index + 2}" + (f" {item['title'][:60]!r}" if item.get("title") else ""), item)
        )
    return items
