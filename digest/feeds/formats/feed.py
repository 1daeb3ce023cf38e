"""RSS (0.9x, 2.0), RSS 1.0 (RDF) and Atom feeds, read by feedparser into ``FeedItem``s.

One reader for the three: feedparser parses each into the same entries. Where Atom differs
(an entry without an author has the feed's; relative links resolve against the document),
the reader says so.
"""

from __future__ import annotations

import io
import xml.sax
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from digest.errors import SourceError
from digest.feeds.dates import DateLines
from digest.feeds.item import FeedItem, FeedRead, Reading, days_when_times_are_invented, item_name
from digest.feeds.pictures import (
    Picture,
    best_picture,
    html_pictures,
    looks_like_image,
    picture,
    with_description,
    with_linked_picture,
)
from digest.feeds.source import Source
from digest.models import Newsletter
from digest.urls import WEB_SCHEMES, on_domains

__all__ = ["is_redirect_link", "read_feed"]


def read_feed(source: Source, raw: bytes, newsletter: Newsletter) -> FeedRead:
    """Read an RSS, RDF or Atom document into items; a ``SourceError`` when it is none."""
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
    warnings: list[str] = []
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
    reading = Reading(source, newsletter, parsed.feed.get("language"), warnings)
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
        title_html = "html" in entry.get("title_detail", {}).get("type", "")
        title = feed_text(entry.get("title") or "", title_html)
        link = _feed_link(entry)
        # dict.get: feedparser's own get() maps updated to published with a warning.
        dated = dict.get(entry, "published") or dict.get(entry, "updated")
        published_at, time_known = reading.dated(
            dated, dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
        )
        items.append(
            FeedItem(
                where=item_name(title, index),
                title=title or None,
                url=urljoin(base, link or "") if base else link,
                published_at=published_at,
                time_known=time_known,
                summary_html=reading.html(html, title),
                author=fix_text(entry.get("author") or feed_author) or None,
                categories=tuple(
                    fix_text(str(tag.get("term")))
                    for tag in entry.get("tags", [])
                    if tag.get("term")
                ),
                picture=chosen,
                date_text=str(dated) if dated else None,
                date_line=date_lines.line(dated),
            )
        )
    return FeedRead(days_when_times_are_invented(items), base, warnings)


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
