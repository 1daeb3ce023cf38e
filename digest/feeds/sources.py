"""Sources: articles from RSS and Atom (feedparser), JSON Feed, CSV and JSON documents.

Feeds are read the way an editor would read them: the best real picture of each item (never a
tracking pixel or the site's logo), text without mojibake or "read more" trailers, the
article's own link rather than a redirect, and dates in the feed's language and zone. Each
format (``feeds.formats``) reads its document into ``FeedItem``s; here they become
``Article``s. A broken item is skipped with a warning naming it; a source that cannot be
read, or whose every item is skipped, is a ``SourceError`` naming the source.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from digest.errors import DigestError, InputError, SourceError, describe_validation_error
from digest.feeds.data import EditionData, parse_edition_data
from digest.feeds.fetch import MAX_SOURCE_BYTES, Fetcher
from digest.feeds.formats import FORMATS, detect_format
from digest.feeds.formats.feed import is_redirect_link
from digest.feeds.item import FeedItem
from digest.feeds.pictures import MIN_SIDE
from digest.feeds.source import Source
from digest.files import read_limited
from digest.labels import labels_for
from digest.models import Article, Layout, Newsletter, Quote
from digest.select import section_key

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


def read_source(source: Source, newsletter: Newsletter, fetch: Fetch | None = None) -> SourceResult:
    """Read one source into articles (and quotes, from JSON documents)."""
    raw = _load(source, fetch or Fetcher())
    kind = detect_format(source, raw)
    if kind == "json":
        try:
            data: EditionData = parse_edition_data(json.loads(raw), newsletter)
        except (ValueError, RecursionError) as error:
            raise SourceError(f"source {source.label!r}: not valid JSON: {error}") from None
        except InputError as error:
            raise SourceError(f"source {source.label!r}: {error}") from None
        return SourceResult(articles=list(data.articles), quotes=list(data.quotes))
    read = FORMATS[kind](source, raw, newsletter)
    items = read.items
    if source.url is not None:
        items = _probe_pictures(items, fetch or Fetcher())
    try:
        result = _articles(source, items, newsletter, read.base)
    except DigestError as error:
        error.warnings = (*read.warnings, *error.warnings)
        raise
    result.warnings[:0] = read.warnings
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
    source: Source, items: Sequence[FeedItem], newsletter: Newsletter, base: str
) -> SourceResult:
    result = SourceResult()
    if not items:
        result.warnings.append(f"source {source.label!r}: it has no items")
        return result
    from digest.feeds.cleaning import clean_byline, drop_repeated, is_comment, section_name

    default_section = source.section or labels_for(newsletter.locale, newsletter.labels)["news"]
    comments = 0
    seen: set[str] = set()
    valid = [item for item in items if item.invalid is None]
    summaries = [item.summary_html for item in valid]
    drop_repeated(summaries)
    repeated = {id(item): html for item, html in zip(valid, summaries, strict=True)}
    context = dict(newsletter.validation_context)
    context["base_url"] = context.get("base_url") or base or None
    skipped: list[str] = []
    for item in items:
        if item.invalid is not None:
            skipped.append(f"{item.where}: skipped, not an item ({item.invalid})")
            continue
        if item.key in seen:
            continue  # the same item twice in one feed
        seen.add(item.key)
        if is_comment(item.title or "", item.url or ""):
            comments += 1
            continue
        if not item.published_at:
            shown = item.date_text
            line = f" (line {item.date_line})" if item.date_line else ""
            skipped.append(
                f"{item.where}: skipped, its date {shown!r}{line} is not readable"
                if shown
                else f"{item.where}: skipped, it has no date"
            )
            continue
        cleaned = dataclasses.replace(
            item,
            summary_html=repeated[id(item)],
            author=clean_byline(item.author) if item.author is not None else None,
        )
        section = _section([section_name(c) for c in item.categories], newsletter.layout)
        try:
            result.articles.append(
                Article.model_validate(
                    cleaned.article_fields(section or default_section), context=context
                )
            )
        except ValidationError as error:
            skipped.append(f"{item.where}: skipped: {describe_validation_error(error)}")
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


def _section(categories: Sequence[str], layout: Layout) -> str | None:
    """The category that names the item's section: the first that is one of ``layout.sections``.

    A category matches a section as ``select.onto_sections`` puts it there: through
    ``section_map``, ignoring case, accents and a plural s (``Football``, ``Sport`` goes to
    "Sport" when "Sport" is configured). With none matching, the first category; None
    without categories.
    """
    if layout.sections:
        wanted = {section_key(spec.name) for spec in layout.sections}
        renamed = {key.casefold(): value for key, value in layout.section_map.items()}
        for category in categories:
            if section_key(renamed.get(category.casefold(), category)) in wanted:
                return category
    return categories[0] if categories else None


#: The most pictures of one URL source whose size is read from their first bytes, and the
#: seconds all those reads may take together.
MAX_PROBES = 20
PROBE_SECONDS = 15.0
#: The fields of a CSV row's picture, dropped with it when it turns out to be an icon.
_PICTURE_COLUMNS = ("image_url", "image_alt", "image_decorative", "image_credit")


def _probe_pictures(items: list[FeedItem], fetch: Fetch) -> list[FeedItem]:
    """The items, with the size of pictures the feed gives none for read from their first 64 KB.

    Only with a fetcher that can read a part of a file (``Fetcher.head``); a picture that
    turns out to be an icon (a side under 100 px) is dropped, one that cannot be read keeps
    no size. The same schemes and redirect rules as feeds apply.
    """
    head = getattr(fetch, "head", None)
    if head is None:
        return items
    from digest.feeds.fetch import FetchError
    from digest.feeds.probe import image_size

    ends = time.monotonic() + PROBE_SECONDS
    unsized = [n for n, item in enumerate(items) if _unsized_picture(item)][:MAX_PROBES]
    probed = list(items)
    for n in unsized:
        remaining = ends - time.monotonic()
        if remaining <= 0.5:
            break
        url = _unsized_picture(items[n])
        try:
            size = image_size(head(url, 64 * 1024, min(5.0, remaining)))
        except FetchError:
            continue
        if size is not None:
            probed[n] = _sized(items[n], size)
    return probed


def _unsized_picture(item: FeedItem) -> str | None:
    """The address of the item's picture when its size is not known."""
    if item.picture is not None:
        known = item.picture.width and item.picture.height
        return None if known else item.picture.url
    url = item.columns.get("image_url")
    known = item.columns.get("image_width") and item.columns.get("image_height")
    return url if isinstance(url, str) and url and not known else None


def _sized(item: FeedItem, size: tuple[int, int]) -> FeedItem:
    """The item with its picture's size, or without its picture when that is an icon's."""
    icon = min(size) < MIN_SIDE
    if item.picture is not None:
        width, height = size
        shown = None if icon else dataclasses.replace(item.picture, width=width, height=height)
        return dataclasses.replace(item, picture=shown)
    columns = dict(item.columns)
    if icon:
        for name in _PICTURE_COLUMNS:
            columns.pop(name, None)
    else:
        columns["image_width"], columns["image_height"] = size
    return dataclasses.replace(item, columns=columns)
