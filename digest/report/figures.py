"""What an edition did, read from the send ledger, the events and the history.

Three stores of one config meet here (SQL aggregates, never a list of events in memory, so a
million events take a few megabytes), SQLite files or the PostgreSQL store
(``digest.schedule.clicks.open_events``):

- the **send ledger** (``digest.delivery.ledger``): who the edition was handed over for and
  what became of it (``sent``, ``refused``, ``unknown``, ``pending``);
- the **events** of the suppression list (``digest.suppression.store``): bounces,
  complaints, unsubscribes, opens and clicks. An event belongs to an edition when it names
  it (``Event.edition``, as click tracking and mailed reports record it); else when the
  provider's message id it names is one the ledger recorded for the edition
  (``Event.message_id``, as Postmark, Resend and SES webhooks give it); else, for an event
  that names neither (an unsubscribe on our own page), when its reader was sent the edition
  and it happened between the edition's first send and the next edition's;
- the **history** (``digest.schedule.history``): the edition's number, date and subject,
  and its links with the story each leads to (``links_of``), which a click's URL is matched
  to (``digest.link_map.link_for``).

Clicks an event marks as a link scanner's (``detail = "scanner"``) are counted apart, never
as a reader's. The events of an edition, its clicks per story and the click-through per
section and slot are read by ``digest.schedule.clicks``, which the build shares (``weigh_by =
"clicks"``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from digest.edition import edition_key
from digest.errors import ConfigError, InputError
from digest.schedule.clicks import SCANNER as SCANNER
from digest.schedule.clicks import LinkClicks as LinkClicks
from digest.schedule.clicks import StoryClicks as StoryClicks
from digest.schedule.clicks import StoryTrend as StoryTrend
from digest.schedule.clicks import gather_events, open_events, story_clicks, story_trend
from digest.schedule.config import BuildConfig
from digest.schedule.history import EditionRecord, History

__all__ = [
    "BOUNCE_LIMIT",
    "COMPLAINT_LIMIT",
    "SCANNER",
    "Flag",
    "LinkClicks",
    "Report",
    "StoryClicks",
    "StoryTrend",
    "report",
    "stories",
    "trend",
]

#: A complaint rate above this (0.1 %) is flagged: Gmail's and Yahoo's 2024 rules for bulk
#: senders keep spam complaints under 0.3 % and ask to stay under 0.1 %.
COMPLAINT_LIMIT = 0.001
#: A bounce rate above this (2 %) is flagged: mailbox providers and ESPs read a list that
#: bounces more as a list not kept clean (Gmail and Yahoo ask for a valid, kept list).
BOUNCE_LIMIT = 0.02


@dataclass(frozen=True)
class Flag:
    """A figure over the limit the mailbox providers set, and what it means."""

    figure: str
    value: float
    limit: float
    says: str


@dataclass(frozen=True)
class Report:
    """The figures of one edition."""

    edition: str
    number: int | None
    date: date | None
    subject: str
    #: The ledger: every recipient recorded, and each state.
    recipients: int
    sent: int
    refused: int
    unknown: int
    pending: int
    #: Sent and not bounced.
    delivered: int
    #: Readers who bounced (each counted once, hard before soft).
    hard_bounces: int
    soft_bounces: int
    complaints: int
    unsubscribes: int
    opens: int
    total_opens: int
    clicks: int
    total_clicks: int
    scanner_clicks: int
    bounce_rate: float
    complaint_rate: float
    open_rate: float
    click_rate: float
    links: tuple[LinkClicks, ...] = ()
    stories: tuple[StoryClicks, ...] = ()
    flags: tuple[Flag, ...] = ()
    #: Clicks whose URL is no link of the edition (or of an edition without recorded links).
    unmatched_clicks: int = 0


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@contextmanager
def _sources(config: BuildConfig) -> Iterator[tuple[sqlite3.Connection, History]]:
    """The events (with the ledger attached as ``ledger``) and the history, opened together.

    The history is where the build keeps it (``open_history``: its file, or the store).
    """
    from digest.schedule.build import open_history  # not at import: the build's modules

    if not isinstance(config.history, Path):
        raise ConfigError(
            "history: digest report reads the edition history, and this config keeps none "
            "(history = false); set history to a file"
        )
    opened = open_history(config, create=False)
    if opened is None:
        raise ConfigError(f"{config.history}: no edition built yet (the history does not exist)")
    # No list or ledger yet (nothing recorded): empty ones in memory, never files a report made.
    with opened as history, open_events(config) as db:
        yield db, history


def _key(config: BuildConfig, record: EditionRecord) -> str:
    return edition_key(config.newsletter.name, record.date, record.number)


def _chosen(config: BuildConfig, history: History, edition: str | None) -> list[EditionRecord]:
    """The edition ``edition`` names (a number, ``#12``, a date or a key), newest first."""
    records = history.editions()
    if not records:
        raise InputError("edition: no edition built yet; run digest build first")
    if edition is None:
        return records[:1]
    wanted = edition.strip()
    for record in records:
        if wanted in (
            str(record.number),
            f"#{record.number}",
            record.date.isoformat(),
            _key(config, record),
        ):
            return [record]
    raise InputError(
        f"edition: {wanted[:80]!r} is no edition of the history; give its number (12), "
        f"its date (2026-12-07) or its key; the newest is #{records[0].number} of "
        f"{records[0].date.isoformat()}"
    )


def _edition_report(
    config: BuildConfig, db: sqlite3.Connection, history: History, record: EditionRecord
) -> Report:
    key = _key(config, record)
    states = dict(
        db.execute(
            "SELECT state, count(*) FROM ledger.deliveries WHERE edition = ? GROUP BY state",
            (key,),
        ).fetchall()
    )
    gather_events(db, key)
    row = db.execute(
        "SELECT count(DISTINCT CASE WHEN reason = 'hard-bounce' THEN address END),"
        " count(DISTINCT CASE WHEN reason IN ('hard-bounce', 'soft-bounce') THEN address END),"
        " count(DISTINCT CASE WHEN reason = 'complaint' THEN address END),"
        " count(DISTINCT CASE WHEN reason = 'unsubscribed' THEN address END),"
        " count(DISTINCT CASE WHEN reason = 'opened' THEN address END),"
        " count(CASE WHEN reason = 'opened' THEN 1 END),"
        " count(DISTINCT CASE WHEN reason = 'clicked' AND detail != ? THEN address END),"
        " count(CASE WHEN reason = 'clicked' AND detail != ? THEN 1 END),"
        " count(CASE WHEN reason = 'clicked' AND detail = ? THEN 1 END)"
        " FROM temp.mine",
        (SCANNER, SCANNER, SCANNER),
    ).fetchone()
    hard, bounced, complaints, unsubscribes, opens, total_opens, clicks, total, scanner = row
    sent = int(states.get("sent", 0))
    delivered = max(0, sent - bounced)
    links, stories, unmatched = story_clicks(db, history.links_of(key), delivered)
    bounce_rate = _rate(bounced, sent)
    complaint_rate = _rate(complaints, delivered)
    flags = []
    if complaint_rate > COMPLAINT_LIMIT:
        flags.append(
            Flag(
                "complaint_rate",
                complaint_rate,
                COMPLAINT_LIMIT,
                f"complaints {complaint_rate * 100:.2f} % of delivered, over 0.1 %: Gmail and "
                "Yahoo ask bulk senders to stay under 0.1 % and never reach 0.3 %",
            )
        )
    if bounce_rate > BOUNCE_LIMIT:
        flags.append(
            Flag(
                "bounce_rate",
                bounce_rate,
                BOUNCE_LIMIT,
                f"bounces {bounce_rate * 100:.2f} % of sent, over 2 %: mailbox providers read it "
                "as a list not kept clean; remove the bounced addresses (they are suppressed)",
            )
        )
    return Report(
        edition=key,
        number=record.number,
        date=record.date,
        subject=record.subject,
        recipients=sum(states.values()),
        sent=sent,
        refused=int(states.get("refused", 0)),
        unknown=int(states.get("unknown", 0)),
        pending=int(states.get("pending", 0)),
        delivered=delivered,
        hard_bounces=hard,
        soft_bounces=bounced - hard,
        complaints=complaints,
        unsubscribes=unsubscribes,
        opens=opens,
        total_opens=total_opens,
        clicks=clicks,
        total_clicks=total,
        scanner_clicks=scanner,
        bounce_rate=bounce_rate,
        complaint_rate=complaint_rate,
        open_rate=_rate(opens, delivered),
        click_rate=_rate(clicks, delivered),
        links=links,
        stories=stories,
        flags=tuple(flags),
        unmatched_clicks=unmatched,
    )


def report(config: BuildConfig, edition: str | None = None) -> Report:
    """The figures of one edition of ``config`` (the newest by default).

    ``edition`` is its number (``12`` or ``#12``), its date (``2026-12-07``) or its key
    (``digest.edition.edition_key``); one the history does not know is an ``InputError``.
    """
    with _sources(config) as (db, history):
        (record,) = _chosen(config, history, edition)
        return _edition_report(config, db, history, record)


def trend(config: BuildConfig, editions: int = 8) -> list[Report]:
    """The figures of the last ``editions`` editions of ``config``, newest first."""
    if editions < 1:
        raise InputError(f"editions: must be 1 or more, not {editions}")
    with _sources(config) as (db, history):
        records = history.editions()[:editions]
        return [_edition_report(config, db, history, record) for record in records]


def stories(config: BuildConfig, editions: int = 8) -> list[StoryTrend]:
    """Click-through per section (its teasers) and per slot (0: the lead) across ``editions``.

    A group's click-through is the readers who clicked its stories over the readers each
    story was delivered to: every story weighs as its edition's audience.
    """
    if editions < 1:
        raise InputError(f"editions: must be 1 or more, not {editions}")
    with _sources(config) as (db, history):
        records = history.editions()[:editions]
        return story_trend(db, history, [_key(config, record) for record in records])
