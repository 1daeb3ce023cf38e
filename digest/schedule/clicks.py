"""Clicks per story, and click-through per section and per slot, from the events and the ledger.

``digest report`` counts an edition's clicks with these (``digest.report.figures``), and the
build reads the click-through of past editions here when ``[newsletter.layout] weigh_by =
"clicks"`` asks for it (``past_click_through``): one query for both, in the schedule's layer
so that the build need not reach up to the report.

Two stores of one config are read (SQL aggregates, never a list of events in memory): the
**send ledger** (``digest.delivery.ledger``) and the **events** of the suppression list
(``digest.suppression.store``), the SQLite files as they are, or on a PostgreSQL store a copy of
the server's ``deliveries`` and ``events`` made for the reading (``digest.store.snapshot``), so
that one SQL serves both. An event belongs to an edition when it names it
(``Event.edition``, as click tracking and mailed reports record it); else when the provider's
message id it names is one the ledger recorded for the edition (``Event.message_id``, as
Postmark, Resend and SES webhooks give it); else, for an event that names neither (an
unsubscribe on our own page), when its reader was sent the edition and it happened between
the edition's first send and the next edition's; so is an event whose message id no ledger
row knows (a copy sent over SMTP, whose ledger rows keep no provider id, reported by a
provider's webhook: Postmark's or SES's SMTP relay). A click is matched to its story through the
links the history recorded for the edition (``digest.link_map.link_for``). Clicks an event
marks as a link scanner's (``detail = "scanner"``) are never counted as a reader's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from digest.click_through import ClickThrough
from digest.edition import edition_key
from digest.errors import ConfigError
from digest.link_map import EditionLink, LinkKind, link_for
from digest.schedule.config import BuildConfig, suppression_path
from digest.schedule.history import History
from digest.store import StoreURL, store_url
from digest.suppression.store import SuppressionList

__all__ = [
    "SCANNER",
    "LinkClicks",
    "StoryClicks",
    "StoryTrend",
    "delivered_readers",
    "gather_events",
    "open_events",
    "past_click_through",
    "story_clicks",
    "story_trend",
]

#: The ``detail`` of a click a link scanner made (counted apart).
SCANNER = "scanner"

# What an event that names no edition nor message can tell of an edition it fell within.
_TIMED = ("hard-bounce", "soft-bounce", "complaint", "unsubscribed", "opened", "clicked")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LinkClicks:
    """The clicks on one URL of an edition, and the link and story it belongs to."""

    url: str
    clicks: int
    readers: int
    #: The first link of the edition to this URL (its index in the HTML), if it is one.
    index: int | None = None
    kind: LinkKind | None = None
    story: str = ""
    section: str = ""
    slot: int = 0


@dataclass(frozen=True)
class StoryClicks:
    """The clicks on one story of an edition (every link to it), and its click-through."""

    story: str
    title: str
    kind: LinkKind
    section: str
    slot: int
    clicks: int
    readers: int
    #: Readers who clicked it, of those delivered.
    click_through: float


@dataclass(frozen=True)
class StoryTrend:
    """Click-through of one section or one slot across editions."""

    #: ``section`` or ``slot``.
    by: str
    #: The section's name, or the slot's number (0: the lead) as text.
    name: str
    stories: int
    #: Readers delivered, summed over the stories (each story counts its edition's).
    delivered: int
    readers: int
    click_through: float = field(default=0.0)


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _moment(when: datetime) -> int:
    """Microseconds since 1970 (UTC), as the events table orders events."""
    zoned = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return (zoned.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)


#: The send ledger's table, as ``digest.delivery.ledger`` keeps it in SQLite.
_DELIVERIES = (
    "CREATE TABLE ledger.deliveries (edition TEXT NOT NULL, address TEXT NOT NULL,"
    " state TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', variant TEXT NOT NULL DEFAULT '',"
    " updated TEXT NOT NULL, run TEXT NOT NULL DEFAULT '', PRIMARY KEY (edition, address))"
    " WITHOUT ROWID"
)
#: The events' columns, as ``digest.suppression.store`` keeps them in SQLite, and the indexes
#: the queries here look events up by, made once the rows are in (faster than row by row).
#: No key on ``id``: the server's rows are one each already, and nothing here looks one up.
_EVENTS = (
    "CREATE TABLE main.events (id TEXT, address TEXT NOT NULL, reason TEXT NOT NULL,"
    " source TEXT NOT NULL, at TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',"
    " message TEXT NOT NULL DEFAULT '', moment INTEGER NOT NULL DEFAULT 0,"
    " arrival INTEGER NOT NULL DEFAULT 0, edition TEXT NOT NULL DEFAULT '',"
    " url TEXT NOT NULL DEFAULT '')"
)
_EVENT_INDEXES = (
    "CREATE INDEX main.events_in_order ON events (address, moment, arrival)",
    "CREATE INDEX main.events_by_message ON events (message) WHERE message != ''",
    "CREATE INDEX main.events_by_edition ON events (edition) WHERE edition != ''",
)


@contextmanager
def open_events(config: BuildConfig) -> Iterator[sqlite3.Connection]:
    """The events of ``config``'s suppression list, with its send ledger attached as ``ledger``.

    On SQLite both are the files as they are (the ledger's at ``[store] url`` when that names
    one), neither made when it does not exist: an empty one in memory stands for it. On a
    PostgreSQL store both are copies of the server's tables (``_server_copy``).
    """
    url = store_url(config.store)
    if url.backend == "postgresql":
        with _server_copy(url) as copy:
            yield copy
        return
    ledger = url.path or config.beside_history(".sends.sqlite3")
    listed = suppression_path(config)
    events_path = listed if listed.exists() else Path(":memory:")
    with SuppressionList(events_path) as events:
        db = events.db
        if not isinstance(db, sqlite3.Connection):  # pragma: no cover (a path is SQLite's)
            raise TypeError(f"{events_path}: the events read here are SQLite's")
        if ledger is not None and ledger.exists():
            db.execute("ATTACH DATABASE ? AS ledger", (str(ledger),))
        else:  # nothing sent yet: an empty ledger of the same shape
            db.execute("ATTACH DATABASE ':memory:' AS ledger")
            db.execute(_DELIVERIES)
        try:
            yield db
        finally:
            db.execute("DROP TABLE IF EXISTS temp.mine")
            db.execute("DROP TABLE IF EXISTS temp.urls")
            db.execute("DETACH DATABASE ledger")


@contextmanager
def _server_copy(url: StoreURL) -> Iterator[sqlite3.Connection]:
    """The PostgreSQL store's events and send ledger, copied into a temporary SQLite database.

    One read of the server, never a write (``digest.store.snapshot``); the copy is an SQLite
    file of its own, deleted when it is closed, so a large list costs disk, not memory.
    """
    # Not at import: psycopg loads only for a PostgreSQL store.
    from digest.store.snapshot import DELIVERIES, EVENTS, copy_tables

    db = sqlite3.connect("", isolation_level=None)  # "": a temporary file, gone on close
    try:
        db.execute(_EVENTS)
        db.execute("ATTACH DATABASE '' AS ledger")
        db.execute(_DELIVERIES)
        copy_tables(url, db, (DELIVERIES, EVENTS))
        for index in _EVENT_INDEXES:
            db.execute(index)
        yield db
    finally:
        db.close()


def _window(db: sqlite3.Connection, key: str) -> tuple[int, int] | None:
    """When the edition was first handed over, and when the next edition was (moments)."""
    (first,) = db.execute(
        "SELECT min(updated) FROM ledger.deliveries WHERE edition = ?", (key,)
    ).fetchone()
    if first is None:
        return None
    (following,) = db.execute(
        "SELECT min(first) FROM (SELECT min(updated) AS first FROM ledger.deliveries"
        " WHERE edition != ? GROUP BY edition) WHERE first > ?",
        (key, first),
    ).fetchone()
    start = _moment(datetime.fromisoformat(first))
    end = _moment(datetime.fromisoformat(following)) if following else 2**62
    return start, end


def gather_events(db: sqlite3.Connection, key: str) -> None:
    """Fill ``temp.mine`` with the edition's events: named, through the ledger, or by time.

    By time: events naming no edition and no message id the ledger knows, of readers the
    edition was sent to, between its first send and the next edition's.
    """
    db.execute("DROP TABLE IF EXISTS temp.mine")
    db.execute("CREATE TEMP TABLE mine (address TEXT, reason TEXT, detail TEXT, url TEXT)")
    db.execute(
        "INSERT INTO temp.mine SELECT address, reason, detail, url FROM main.events"
        " WHERE edition = ? AND edition != ''",
        (key,),
    )
    db.execute(
        "INSERT INTO temp.mine SELECT address, reason, detail, url FROM main.events"
        " WHERE edition = '' AND message != '' AND message IN (SELECT detail FROM"
        " ledger.deliveries WHERE edition = ? AND state = 'sent' AND detail != '')",
        (key,),
    )
    window = _window(db, key)
    if window is not None:
        marks = ",".join("?" * len(_TIMED))
        db.execute(
            "INSERT INTO temp.mine SELECT e.address, e.reason, e.detail, e.url"
            " FROM ledger.deliveries d JOIN main.events e ON e.address = d.address"
            " WHERE d.edition = ? AND d.state IN ('sent', 'unknown') AND e.edition = ''"
            f" AND e.reason IN ({marks}) AND e.moment >= ? AND e.moment < ?"
            " AND (e.message = '' OR e.message NOT IN (SELECT detail FROM ledger.deliveries"
            " WHERE state = 'sent' AND detail != ''))",
            (key, *_TIMED, *window),
        )


def delivered_readers(db: sqlite3.Connection, key: str) -> int:
    """Readers the edition was sent to and did not bounce (after ``gather_events(db, key)``)."""
    (sent,) = db.execute(
        "SELECT count(*) FROM ledger.deliveries WHERE edition = ? AND state = 'sent'", (key,)
    ).fetchone()
    (bounced,) = db.execute(
        "SELECT count(DISTINCT address) FROM temp.mine"
        " WHERE reason IN ('hard-bounce', 'soft-bounce')"
    ).fetchone()
    return max(0, int(sent) - int(bounced))


def story_clicks(
    db: sqlite3.Connection, edition_links: Sequence[EditionLink], delivered: int
) -> tuple[tuple[LinkClicks, ...], tuple[StoryClicks, ...], int]:
    """Clicks per URL and per story of the edition gathered (``gather_events``), readers once.

    Also returns the clicks whose URL is none of ``edition_links``.
    """
    known = tuple(edition_links)
    db.execute("DROP TABLE IF EXISTS temp.urls")
    db.execute("CREATE TEMP TABLE urls (url TEXT PRIMARY KEY, story TEXT NOT NULL)")
    links = []
    unmatched = 0
    rows = db.execute(
        "SELECT url, count(*), count(DISTINCT address) FROM temp.mine"
        " WHERE reason = 'clicked' AND detail != ? GROUP BY url ORDER BY count(*) DESC, url",
        (SCANNER,),
    ).fetchall()
    for url, clicks, readers in rows:
        link = link_for(known, url) if url else None
        if link is None:
            unmatched += clicks
            links.append(LinkClicks(url, clicks, readers))
            continue
        links.append(
            LinkClicks(
                url, clicks, readers, link.index, link.kind, link.story, link.section, link.slot
            )
        )
        if link.story:
            db.execute("INSERT INTO temp.urls VALUES (?, ?)", (url, link.story))
    counted = {
        story: (clicks, readers)
        for story, clicks, readers in db.execute(
            "SELECT u.story, count(*), count(DISTINCT m.address) FROM temp.mine m"
            " JOIN temp.urls u ON u.url = m.url WHERE m.reason = 'clicked' AND m.detail != ?"
            " GROUP BY u.story",
            (SCANNER,),
        )
    }
    stories = []
    seen: set[str] = set()
    for link in known:
        if link.kind == "other" or link.story in seen:
            continue
        seen.add(link.story)
        clicks, readers = counted.get(link.story, (0, 0))
        stories.append(
            StoryClicks(
                link.story,
                link.title,
                link.kind,
                link.section,
                link.slot,
                clicks,
                readers,
                _rate(readers, delivered),
            )
        )
    return tuple(links), tuple(stories), unmatched


def story_trend(db: sqlite3.Connection, history: History, keys: Sequence[str]) -> list[StoryTrend]:
    """Click-through per section (its teasers) and per slot (0: the lead) across editions ``keys``.

    A group's click-through is the readers who clicked its stories over the readers each
    story was delivered to: every story weighs as its edition's audience.
    """
    totals: dict[tuple[str, str], list[int]] = {}
    for key in keys:
        gather_events(db, key)
        delivered = delivered_readers(db, key)
        _, stories, _ = story_clicks(db, history.links_of(key), delivered)
        for story in stories:
            if story.kind not in ("lead", "teaser"):
                continue
            # The lead is slot 0, never its section's: a section counts its teasers.
            groups = [("slot", str(story.slot))]
            if story.kind == "teaser":
                groups.insert(0, ("section", story.section))
            for group in groups:
                counts = totals.setdefault(group, [0, 0, 0])
                counts[0] += 1
                counts[1] += delivered
                counts[2] += story.readers
    ordered = sorted(
        totals.items(),
        key=lambda item: (item[0][0], int(item[0][1]) if item[0][0] == "slot" else 0, item[0][1]),
    )
    return [
        StoryTrend(by, name, count, delivered, readers, _rate(readers, delivered))
        for (by, name), (count, delivered, readers) in ordered
    ]


def past_click_through(
    config: BuildConfig, history: History | None, on: date, editions: int | None = None
) -> ClickThrough | None:
    """What ``weigh_by = "clicks"`` weighs the edition dated ``on`` by; None when it is off.

    The click-through of each section's teasers over the last ``editions`` editions before
    ``on`` (``[newsletter.layout] weigh_editions`` by default); a section none of whose
    stories reached a reader has no figure.
    """
    layout = config.newsletter.layout
    if layout.weigh_by != "clicks":
        return None
    if not isinstance(config.history, Path):
        raise ConfigError(
            "newsletter.layout.weigh_by: 'clicks' reads past editions' clicks from the history, "
            "and this config keeps none (history = false); set history to a file, or "
            "weigh_by = 'none'"
        )
    if history is None:  # no edition built yet
        return ClickThrough()
    records = history.editions(before=on)[: editions or layout.weigh_editions]
    keys = [edition_key(config.newsletter.name, r.date, r.number) for r in records]
    with open_events(config) as db:
        rows = story_trend(db, history, keys)
    rates = {row.name: row.click_through for row in rows if row.by == "section" and row.delivered}
    return ClickThrough(rates, editions=len(keys))
