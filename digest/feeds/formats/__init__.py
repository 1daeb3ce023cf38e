"""Feed formats: one module each, reading a document into ``FeedItem``s, chosen by a table.

- ``feed``: RSS, RSS 1.0 (RDF) and Atom, through feedparser;
- ``jsonfeed``: JSON Feed;
- ``csv``: a spreadsheet of articles.

A new format is a module with a ``Reader`` and a line in ``FORMATS`` (and ``Source.format``);
``detect_format`` says which format an ``auto`` source is. (A ``json`` source is a data
document of articles and quotes, read by ``feeds.data``, not a feed.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from urllib.parse import urlsplit

from digest.feeds.formats.csv import read_csv
from digest.feeds.formats.feed import read_feed
from digest.feeds.formats.jsonfeed import read_json_feed
from digest.feeds.item import FeedRead
from digest.feeds.source import Source
from digest.models import Newsletter

__all__ = ["FORMATS", "Reader", "detect_format"]

#: Reads one source's bytes into items; raises ``SourceError`` when they are not its format.
Reader = Callable[[Source, bytes, Newsletter], FeedRead]

#: The reader of each feed format, by the name ``Source.format`` gives it.
FORMATS: Mapping[str, Reader] = MappingProxyType(
    {"feed": read_feed, "jsonfeed": read_json_feed, "csv": read_csv}
)


def detect_format(source: Source, raw: bytes) -> str:
    """The source's format: as it says, else from its name (``.csv``) or its first bytes."""
    if source.format != "auto":
        return source.format
    name = str(source.path or urlsplit(source.url or "").path).lower()
    if name.endswith(".csv"):
        return "csv"
    head = raw.lstrip()[:200]
    if head.startswith(b"{"):
        return "jsonfeed" if b"jsonfeed.org" in raw[:2000] else "json"
    return "feed"
