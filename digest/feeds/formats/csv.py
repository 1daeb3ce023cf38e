"""CSV sources: a spreadsheet of articles, one a row, read into ``FeedItem``s.

The header row names ``Article`` fields (at least ``title``, ``url`` and ``published_at``);
``section`` is the item's one category, and any other field is passed on as it is written.
Rows whose times are all midnight, or all one time, are dated with their days, as feeds are.
"""

from __future__ import annotations

import csv
import io

from digest.errors import SourceError
from digest.feeds.item import FeedItem, FeedRead, days_when_times_are_invented
from digest.feeds.source import Source
from digest.models import Newsletter

__all__ = ["read_csv"]

#: Columns that are yes or no: ``1``, ``true``, ``yes`` or ``y`` (any case) say yes.
_FLAGS = ("featured", "image_decorative")
#: Columns that become the typed fields of a ``FeedItem``.
_TYPED = ("title", "url", "published_at", "summary", "summary_html", "author")


def read_csv(source: Source, raw: bytes, newsletter: Newsletter) -> FeedRead:
    """Read a CSV document into items, one a row; a ``SourceError`` when it cannot be read."""
    from digest.feeds.cleaning import feed_summary, feed_text

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
        cells: dict[str, str] = {
            name.strip(): value
            for name, value in row.items()
            if name and isinstance(value, str) and value != ""
        }
        if "title" in cells:
            cells["title"] = feed_text(cells["title"])
        if "summary" in cells:
            cells["summary"] = feed_summary(cells["summary"])
        title = cells.get("title")
        section = cells.pop("section", None)
        columns: dict[str, object] = {k: v for k, v in cells.items() if k not in _TYPED}
        for flag in _FLAGS:
            if flag in columns:
                columns[flag] = str(columns[flag]).strip().lower() in ("1", "true", "yes", "y")
        items.append(
            FeedItem(
                where=f"row {index + 2}" + (f" {title[:60]!r}" if title else ""),
                title=title,
                url=cells.get("url"),
                published_at=cells.get("published_at"),
                summary=cells.get("summary"),
                summary_html=cells.get("summary_html"),
                author=cells.get("author"),
                categories=(section,) if section is not None else (),
                columns=columns,
            )
        )
    return FeedRead(days_when_times_are_invented(items))
