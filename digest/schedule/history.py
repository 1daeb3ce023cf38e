"""Edition history in SQLite: numbers, dates, what was featured, which quote closed each one.

Selection uses it so that a story featured in an earlier edition is not repeated and the
closing quote does not come back within the last few editions. Recording happens in one
transaction, so a build that fails leaves the history as it was.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, cast

from digest.edition import Edition, edition_key
from digest.errors import ConfigError, InputError, excerpt
from digest.link_map import EditionLink, LinkKind, link_map
from digest.plan import Plan, read_plan
from digest.store.connection import Database, PostgresConnection, transaction
from digest.store.url import StoreURL
from digest.urls import canonical_url

if TYPE_CHECKING:
    from digest.pipeline import Digest
    from digest.schedule.config import BuildConfig

__all__ = [
    "Approval",
    "CampaignRecord",
    "EditionRecord",
    "History",
    "PastEdition",
    "content_hashes",
    "links_of",
    "past_editions",
    "record_built",
]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS editions (
    number INTEGER PRIMARY KEY,
    date TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    lead_url TEXT NOT NULL,
    quote_text TEXT,
    quote_author TEXT
);
CREATE TABLE IF NOT EXISTS featured (
    edition INTEGER NOT NULL REFERENCES editions(number) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    url TEXT NOT NULL,
    canonical_url TEXT NOT NULL,
    title TEXT NOT NULL,
    section TEXT NOT NULL,
    PRIMARY KEY (edition, position)
);
CREATE INDEX IF NOT EXISTS featured_by_url ON featured (canonical_url);
CREATE TABLE IF NOT EXISTS links (
    edition INTEGER NOT NULL REFERENCES editions(number) ON DELETE CASCADE,
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    story TEXT NOT NULL,
    title TEXT NOT NULL,
    section TEXT NOT NULL,
    slot INTEGER NOT NULL,
    PRIMARY KEY (edition, position)
);
CREATE INDEX IF NOT EXISTS links_by_key ON links (key);
CREATE TABLE IF NOT EXISTS plans (
    date TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS approvals (
    date TEXT PRIMARY KEY,
    approver TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    subject TEXT NOT NULL,
    html TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS campaigns (
    edition TEXT NOT NULL,
    tool TEXT NOT NULL,
    id TEXT NOT NULL,
    url TEXT,
    status TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (edition, tool)
);
"""


#: A campaign's row written again: its claim replaced by the campaign, or a newer state.
_REPLACE_CAMPAIGN = (
    "ON CONFLICT (edition, tool) DO UPDATE SET id = excluded.id, url = excluded.url,"
    " status = excluded.status, at = excluded.at"
)

#: The history file's format; a file with a higher number was written by a newer digest.
SCHEMA_VERSION = 2


#: The tables digest keeps in a history file (the build journal lives there too).
_OWN_TABLES = frozenset(
    {"editions", "featured", "links", "journal", "plans", "approvals", "campaigns"}
)


_EDITION_COLUMNS = frozenset({"number", "date", "subject", "lead_url", "quote_text"})


@dataclass(frozen=True)
class EditionRecord:
    """One built edition as the history remembers it."""

    number: int
    date: date
    subject: str
    lead_url: str
    quote_text: str | None
    articles: int


@dataclass(frozen=True)
class Approval:
    """Who approved an edition, when, and the hashes of what they approved."""

    approver: str
    approved_at: str
    #: SHA-256 of the subject, the HTML part and the text part, as approved.
    hashes: tuple[str, str, str]

    def changed(self, hashes: tuple[str, str, str]) -> list[str]:
        """The parts that differ from what was approved ("the subject", "the HTML part")."""
        names = ("the subject", "the HTML part", "the text part")
        return [name for name, a, b in zip(names, self.hashes, hashes, strict=True) if a != b]


@dataclass(frozen=True)
class CampaignRecord:
    """Where an edition went: its campaign in a list manager (``digest publish``)."""

    #: The edition's ``edition_key``.
    edition: str
    #: The list manager (``mailchimp``, ``listmonk``...).
    tool: str
    #: The campaign's id in the tool; "" while a run is creating it (a claim).
    id: str
    #: The campaign's page in the tool, for an editor.
    url: str | None
    #: draft, scheduled, sending, sent, other; ``creating`` for a claim.
    status: str
    #: When it was last written (UTC, ISO 8601).
    at: str


def content_hashes(subject: str, html: str, text: str) -> tuple[str, str, str]:
    """SHA-256 of an edition's subject, HTML and text (CRLF line ends read as LF)."""

    def digest(part: str) -> str:
        return hashlib.sha256(part.replace("\r\n", "\n").encode("utf-8")).hexdigest()

    return digest(subject), digest(html), digest(text)


class History(Database):
    """The edition history of one newsletter, in an SQLite file or the PostgreSQL store."""

    def __init__(self, path: str | PathLike[str] | StoreURL) -> None:
        """Open (or create) the history at ``path``, or in the PostgreSQL store ``path`` names."""
        if isinstance(path, StoreURL) and path.backend == "postgresql":
            self._open_server(path)
            return
        path = self.path = Path(path.path or "" if isinstance(path, StoreURL) else path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=60)
            self.db.execute("PRAGMA foreign_keys = ON")
            (version,) = self.db.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                self.db.close()
                raise ConfigError(
                    f"{path}: the edition history was written by a newer digest "
                    f"(format {version}; this one reads up to {SCHEMA_VERSION})"
                )
            self._refuse_foreign(version)
            self.db.executescript(_SCHEMA)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db.execute("SELECT count(*) FROM editions").fetchone()
        except sqlite3.Error as error:
            raise ConfigError(f"{path}: cannot open the edition history: {error}") from None
        except OSError as error:
            raise ConfigError(
                f"{path}: cannot create the edition history's folder: {error.strerror}"
            ) from None

    def _open_server(self, url: StoreURL) -> None:
        """Keep the history in the PostgreSQL store ``url`` (migration 3 has its tables)."""
        from digest.store.postgres import upgraded_connection

        self.path = Path(url.masked())
        self.db = upgraded_connection(url, "history")

    @property
    def server(self) -> bool:
        """Whether the history is in the PostgreSQL store (its build journal is then a file)."""
        return isinstance(self.db, PostgresConnection)

    def _refuse_foreign(self, version: int) -> None:
        """Refuse a database another program wrote (digest never writes into one)."""
        tables = {
            name
            for (name,) in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(editions)")}
        foreign = tables - _OWN_TABLES if version == 0 else set()
        if foreign or (columns and not columns >= _EDITION_COLUMNS):
            self.db.close()
            shown = ", ".join(sorted(foreign)) or "an editions table of other columns"
            raise ConfigError(
                f"{self.path}: not an edition history (it holds {shown}); "
                "point history at a file of its own"
            )

    def editions(self, before: date | None = None) -> list[EditionRecord]:
        """Past editions, newest first (only those dated before ``before``, when given)."""
        rows = self.db.execute(
            "SELECT e.number, e.date, e.subject, e.lead_url, e.quote_text, count(f.position) "
            "FROM editions e LEFT JOIN featured f ON f.edition = e.number "
            "WHERE CAST(? AS TEXT) IS NULL OR e.date < ? GROUP BY e.number ORDER BY e.date DESC",
            (before and before.isoformat(),) * 2,
        ).fetchall()
        return [EditionRecord(n, self._date(n, d), s, u, q, c) for n, d, s, u, q, c in rows]

    def _date(self, number: int, written: object) -> date:
        """An edition's date as its row holds it; a corrupt one is a ``ConfigError``."""
        try:
            on = date.fromisoformat(written) if isinstance(written, str) else None
        except ValueError:
            on = None
        if on is None or not 1900 <= on.year <= 9000:
            raise ConfigError(
                f"{self.path}: edition #{number} has no usable date (got {excerpt(written)}): "
                "the history is damaged; restore it from a backup"
            )
        return on

    def get(self, on: date) -> EditionRecord | None:
        """The edition dated ``on``, if one was built."""
        return next((e for e in self.editions() if e.date == on), None)

    def featured_before(self, on: date) -> set[str]:
        """Canonical URLs of every story featured in an edition dated before ``on``."""
        rows = self.db.execute(
            "SELECT f.canonical_url FROM featured f JOIN editions e ON e.number = f.edition "
            "WHERE e.date < ?",
            (on.isoformat(),),
        )
        return {url for (url,) in rows}

    def recent_quotes(self, on: date, editions: int) -> set[str]:
        """The texts of the quotes that closed the last ``editions`` editions before ``on``."""
        rows = self.db.execute(
            "SELECT quote_text FROM editions WHERE date < ? AND quote_text IS NOT NULL "
            "ORDER BY date DESC LIMIT ?",
            (on.isoformat(), editions),
        )
        return {text for (text,) in rows}

    def number_for(self, on: date, wanted: int | None = None) -> int:
        """The number of the edition dated ``on``: its own if built before, else the next.

        ``wanted`` is a number asked for: refused if it belongs to another date, or if the
        date already has another number (numbers are never reassigned).
        """
        existing = self.get(on)
        if wanted is not None:
            (owner,) = self.db.execute(
                "SELECT date FROM editions WHERE number = ?", (wanted,)
            ).fetchone() or (None,)
            if owner is not None and owner != on.isoformat():
                raise InputError(
                    f"--number {wanted}: that is the number of the edition of {owner}; "
                    "edition numbers are never reassigned"
                )
            if existing is not None and existing.number != wanted:
                raise InputError(
                    f"--number {wanted}: the edition of {on.isoformat()} is #{existing.number}; "
                    "edition numbers are never reassigned"
                )
            return wanted
        if existing is not None:
            return existing.number
        (highest,) = self.db.execute("SELECT max(number) FROM editions").fetchone()
        return (highest or 0) + 1

    def record(self, edition: Edition, subject: str) -> None:
        """Record ``edition`` inside the caller's transaction (a rebuild replaces its date's)."""
        if edition.number is None:
            raise ValueError("an edition needs its number to be recorded")
        self.db.execute("DELETE FROM editions WHERE date = ?", (edition.date.isoformat(),))
        self.db.execute(
            "INSERT INTO editions (number, date, subject, lead_url, quote_text, quote_author)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                edition.number,
                edition.date.isoformat(),
                subject,
                edition.lead.url,
                edition.quote.text if edition.quote else None,
                edition.quote.author if edition.quote else None,
            ),
        )
        self.db.executemany(
            "INSERT INTO featured (edition, position, url, canonical_url, title, section)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (edition.number, i, a.url, canonical_url(a.url), a.title, a.section)
                for i, a in enumerate(edition.articles)
            ],
        )

    def record_links(self, edition: Edition, key: str, links: Sequence[EditionLink]) -> None:
        """Record the links of ``edition`` (``link_map``) inside the caller's transaction.

        Call it after ``record``: a rebuild's links replace the old ones with its row.
        ``key`` is the edition's ``edition_key``, what the ledger and the events know it by.
        """
        if edition.number is None:
            raise ValueError("an edition needs its number to be recorded")
        self.db.execute("DELETE FROM links WHERE edition = ?", (edition.number,))
        self.db.executemany(
            "INSERT INTO links (edition, key, position, url, kind, story, title, section, slot)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    edition.number,
                    key,
                    link.index,
                    link.url,
                    link.kind,
                    link.story,
                    link.title,
                    link.section,
                    link.slot,
                )
                for link in links
            ],
        )

    def links_of(self, key: str) -> tuple[EditionLink, ...]:
        """The links of the edition known as ``key`` (``edition_key``), in document order.

        Empty for an edition built before links were recorded, or never built.
        """
        rows = self.db.execute(
            "SELECT position, url, kind, story, title, section, slot FROM links WHERE key = ?"
            " ORDER BY position",
            (key,),
        )
        return tuple(
            EditionLink(index, url, cast("LinkKind", kind), story, title, section, slot)
            for index, url, kind, story, title, section, slot in rows
        )

    def plan(self, on: date) -> Plan:
        """The editor's plan for the edition dated ``on`` (an empty one if none was saved)."""
        row = self.db.execute("SELECT plan FROM plans WHERE date = ?", (on.isoformat(),)).fetchone()
        return Plan() if row is None else read_plan(row[0], f"the plan of {on.isoformat()}")

    def save_plan(self, on: date, plan: Plan) -> None:
        """Keep ``plan`` for the edition dated ``on`` (an empty plan removes it)."""
        with transaction(self.db):
            self.db.execute("DELETE FROM plans WHERE date = ?", (on.isoformat(),))
            if not plan.empty:
                self.db.execute(
                    "INSERT INTO plans VALUES (?, ?, ?)",
                    (on.isoformat(), plan.model_dump_json(exclude_defaults=True), _now()),
                )

    def approve(self, on: date, approver: str, hashes: tuple[str, str, str]) -> Approval:
        """Record that ``approver`` approved the edition dated ``on`` with these contents."""
        approval = Approval(approver, _now(), hashes)
        with transaction(self.db):
            self.db.execute(
                "INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (date) DO UPDATE"
                " SET approver = excluded.approver, approved_at = excluded.approved_at,"
                " subject = excluded.subject, html = excluded.html, text = excluded.text",
                (on.isoformat(), approver, approval.approved_at, *hashes),
            )
        return approval

    def campaign(self, edition: str, tool: str) -> CampaignRecord | None:
        """The campaign the edition ``edition`` (its key) has in ``tool``, or its claim."""
        row = self.db.execute(
            "SELECT edition, tool, id, url, status, at FROM campaigns"
            " WHERE edition = ? AND tool = ?",
            (edition, tool),
        ).fetchone()
        return None if row is None else CampaignRecord(*row)

    def campaigns(self, edition: str | None = None) -> list[CampaignRecord]:
        """Every campaign recorded (of one edition, when given), oldest first."""
        rows = self.db.execute(
            "SELECT edition, tool, id, url, status, at FROM campaigns"
            " WHERE CAST(? AS TEXT) IS NULL OR edition = ? ORDER BY at, tool",
            (edition, edition),
        )
        return [CampaignRecord(*row) for row in rows]

    def claim_campaign(self, edition: str, tool: str, stale_after: float = 600) -> bool:
        """Claim the creation of the edition's campaign in ``tool``: False if another run has.

        A claim is a row with no id; one older than ``stale_after`` seconds was left by a run
        that died, and is taken over (the campaign it may have made is found by its title).
        """
        now = datetime.now(UTC)
        with transaction(self.db):
            found = self.campaign(edition, tool)
            if found is not None:
                age = now - datetime.fromisoformat(found.at)
                if found.id or age.total_seconds() < stale_after:
                    return False
            self.db.execute(
                f"INSERT INTO campaigns VALUES (?, ?, '', NULL, 'creating', ?) {_REPLACE_CAMPAIGN}",
                (edition, tool, now.isoformat(timespec="seconds")),
            )
        return True

    def save_campaign(
        self, edition: str, tool: str, campaign_id: str, url: str | None, status: str
    ) -> CampaignRecord:
        """Record the edition's campaign in ``tool`` (replacing its claim or an older state)."""
        record = CampaignRecord(edition, tool, campaign_id, url, status, _now())
        with transaction(self.db):
            self.db.execute(
                f"INSERT INTO campaigns VALUES (?, ?, ?, ?, ?, ?) {_REPLACE_CAMPAIGN}",
                (edition, tool, campaign_id, url, status, record.at),
            )
        return record

    def release_campaign(self, edition: str, tool: str) -> None:
        """Drop a claim that made no campaign (the tool refused it): the next run tries again."""
        with transaction(self.db):
            self.db.execute(
                "DELETE FROM campaigns WHERE edition = ? AND tool = ? AND id = ''",
                (edition, tool),
            )

    def forget_campaign(self, edition: str, tool: str) -> None:
        """Forget the edition's campaign in ``tool`` (it was deleted there)."""
        with transaction(self.db):
            self.db.execute("DELETE FROM campaigns WHERE edition = ? AND tool = ?", (edition, tool))

    def approval(self, on: date) -> Approval | None:
        """The approval of the edition dated ``on``, if it has one."""
        row = self.db.execute(
            "SELECT approver, approved_at, subject, html, text FROM approvals WHERE date = ?",
            (on.isoformat(),),
        ).fetchone()
        return None if row is None else Approval(row[0], row[1], (row[2], row[3], row[4]))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PastEdition:
    """An edition built before, and what its A/B test of subjects decided ("" without one)."""

    record: EditionRecord
    subject_test: str = ""
    #: Where the edition went: its campaigns in list managers (``digest publish``).
    campaigns: tuple[CampaignRecord, ...] = ()


def past_editions(config: BuildConfig) -> list[PastEdition]:
    """The editions built so far, newest first, each with its A/B test's decision."""
    from digest.delivery.ledger import SendLedger  # only digest history reads the ledger
    from digest.schedule.config import history_kept, history_store, server_ledger

    where = history_store(config)
    if where is None:
        raise ConfigError("this config keeps no history (history = false)")
    if not history_kept(where):
        return []

    shared = server_ledger(config)
    sends = config.beside_history(".sends.sqlite3")
    with History(where) as history:
        records = history.editions()
        campaigns: dict[str, list[CampaignRecord]] = {}
        for campaign in history.campaigns():
            campaigns.setdefault(campaign.edition, []).append(campaign)
    keys = [edition_key(config.newsletter.name, r.date, r.number) for r in records]
    if shared is None and (sends is None or not sends.exists()):
        return [
            PastEdition(record, "", tuple(campaigns.get(key, ())))
            for record, key in zip(records, keys, strict=True)
        ]
    with shared or SendLedger(sends or Path()) as ledger:
        past = []
        for record, key in zip(records, keys, strict=True):
            decision = ledger.decision(key)
            described = decision.describe() if decision else ""
            past.append(PastEdition(record, described, tuple(campaigns.get(key, ()))))
    return past


def links_of(config: BuildConfig, key: str) -> tuple[EditionLink, ...]:
    """The links the history recorded for the edition ``key`` (``edition_key``) of ``config``."""
    from digest.schedule.config import history_kept, history_store

    where = history_store(config)
    if where is None or not history_kept(where):
        return ()
    with History(where) as history:
        return history.links_of(key)


def record_built(history: History, digest: Digest) -> None:
    """Record a built edition and its links (``link_map``) inside the caller's transaction."""
    history.record(digest.edition, digest.subject)
    history.record_links(digest.edition, digest.edition_key, link_map(digest.edition, digest.html))
