"""One item of a feed, whatever its format: ``FeedItem``, and what reading one needs.

Every format (``feeds.formats``) reads its document into ``FeedItem``s; ``feeds.sources``
turns them into ``Article``s, in one place for all of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dt_time
from typing import Any
from zoneinfo import ZoneInfo

from digest.feeds.dates import parse_date
from digest.feeds.pictures import Picture
from digest.feeds.source import Source
from digest.models import Newsletter

__all__ = ["FeedItem", "FeedRead", "Reading", "days_when_times_are_invented", "item_name"]


@dataclass(frozen=True)
class FeedItem:
    """One item of a feed as its format gives it, before it is validated into an ``Article``."""

    #: How messages name it: ``item 3 'Title'``, ``row 4 'Title'``.
    where: str
    title: str | None = None
    url: str | None = None
    #: When it was published: ISO 8601 (the text of a CSV cell); None when unread or absent.
    published_at: str | None = None
    #: False when the feed gave a day alone, or times that say nothing.
    time_known: bool = True
    summary: str | None = None
    summary_html: str | None = None
    author: str | None = None
    #: Its categories (tags, terms) in the feed's order; the section is chosen from them.
    categories: tuple[str, ...] = ()
    #: The picture chosen for it, already described (alt text, credit).
    picture: Picture | None = None
    #: The date as the feed wrote it and the line it is on, to name a date that is unreadable.
    date_text: str | None = None
    date_line: int | None = None
    #: Why this entry is not an item at all (a JSON Feed entry that is no object); None if it is.
    invalid: str | None = None
    #: Other fields of ``Article`` a CSV row names (``featured``, ``priority``, ``image_url``…).
    columns: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """What tells one item of a feed from another: its link, else its title, else where."""
        return self.url or self.title or self.where

    def article_fields(self, section: str) -> dict[str, Any]:
        """The fields to validate into an ``Article``, in ``section``."""
        fields: dict[str, Any] = {
            "title": self.title,
            "url": self.url,
            "section": section,
            "published_at": self.published_at,
            "summary": self.summary,
            "summary_html": self.summary_html,
            "author": self.author,
        }
        if not self.time_known:
            fields["time_known"] = False
        fields = {name: value for name, value in fields.items() if value is not None}
        return {**fields, **_picture_fields(self.picture), **self.columns}


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


@dataclass
class FeedRead:
    """What a format read from one source: its items, the base of its links, its warnings."""

    items: list[FeedItem]
    #: The address relative links are resolved against ("" when none is known).
    base: str = ""
    warnings: list[str] = field(default_factory=list)


def item_name(title: object, index: int, noun: str = "item") -> str:
    """How messages name the item at ``index`` (from 0): ``item 3 'Its title'``."""
    shown = " ".join(str(title or "").split())[:60]
    return f"{noun} {index + 1} {shown!r}" if shown else f"{noun} {index + 1}"


def _moment(text: str | None) -> datetime | None:
    """The moment an item's ``published_at`` names, when it is ISO 8601 with a zone."""
    try:
        moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def days_when_times_are_invented(items: Sequence[FeedItem]) -> list[FeedItem]:
    """The items, their dates made days when their times say nothing: all at midnight, or alike.

    Static sites (Jekyll, Hugo) write ``T00:00:00+00:00`` for a post dated with a day alone;
    some feeds stamp every entry with the one time they were built. Midnight is read in the
    zone the date was written in; one time shared by two entries or more counts too. A CSV
    row that says ``time_known`` itself is left as it says.
    """
    timed = {
        index: moment
        for index, item in enumerate(items)
        if item.time_known
        and item.invalid is None
        and "time_known" not in item.columns
        and (moment := _moment(item.published_at)) is not None
    }
    times = {moment.time() for moment in timed.values()}
    if not (times == {dt_time(0)} or (len(timed) >= 2 and len(times) == 1)):
        return list(items)
    return [
        dataclasses.replace(item, time_known=False) if index in timed else item
        for index, item in enumerate(items)
    ]


@dataclass
class Reading:
    """What reading one source needs for every item: its zone, languages and limits."""

    source: Source
    newsletter: Newsletter
    #: The language the feed says it is in, if it says.
    language: str | None
    warnings: list[str]
    warned: bool = False

    def __post_init__(self) -> None:
        """Settle the zone and the languages of the source's dates once."""
        self.zone = ZoneInfo(self.source.timezone or self.newsletter.timezone)
        languages = [self.source.language or self.language or "", self.newsletter.locale]
        self.languages = [language.replace("-", "_") for language in languages if language]

    def dated(self, text: object, parsed: object = None) -> tuple[str | None, bool]:
        """An item's ``published_at`` (ISO 8601) and whether it has a time.

        Read from the feed's text, else from feedparser's UTC tuple; None when unreadable.
        """
        read = parse_date(text, self.zone, self.languages) or parse_date(parsed, self.zone)
        if read is None:
            return None, True
        if not read.has_time:
            # A day alone needs no zone to be shown: no warning about one.
            return read.moment.isoformat(), False
        if read.assumed_zone and not self.source.timezone and not self.warned:
            self.warned = True
            self.warnings.append(
                f"source {self.source.label!r}: dates such as {' '.join(str(text).split())!r} "
                f"name no time zone; they are read in the newsletter's timezone "
                f"{self.zone.key} (set timezone in the source to change it)"
            )
        return read.moment.isoformat(), True

    def html(self, value: str, title: str = "") -> str | None:
        """The item's HTML, repaired and cut to the newsletter's summary length."""
        from digest.feeds.cleaning import clean_feed_html

        return clean_feed_html(value, self.newsletter.layout.summary_length, title) or None
