"""The PostgreSQL store's schema, one numbered migration at a time, in ``schema_versions``.

Each migration runs once, in its own transaction, under an advisory lock held for that
transaction: two hosts upgrading at once take turns, and the second finds nothing left to do.
A migration is never edited once released; a change is a new one at the end.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["MIGRATIONS", "Migration"]


class Migration(NamedTuple):
    """One step of the schema: its number, what it does, its SQL."""

    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the send ledger: deliveries, editions, subject tests",
        """
        CREATE TABLE IF NOT EXISTS deliveries (
            edition text NOT NULL,
            address text NOT NULL,
            state text NOT NULL,
            detail text NOT NULL DEFAULT '',
            variant text NOT NULL DEFAULT '',
            updated timestamptz NOT NULL,
            run text NOT NULL DEFAULT '',
            PRIMARY KEY (edition, address)
        );
        CREATE INDEX IF NOT EXISTS deliveries_updated ON deliveries (updated);
        CREATE TABLE IF NOT EXISTS editions (
            edition text PRIMARY KEY,
            content text NOT NULL,
            first_run timestamptz NOT NULL
        );
        CREATE TABLE IF NOT EXISTS subject_tests (
            edition text PRIMARY KEY,
            started timestamptz NOT NULL,
            winner text NOT NULL DEFAULT '',
            how text NOT NULL DEFAULT '',
            decided text NOT NULL DEFAULT '',
            counts text NOT NULL DEFAULT '{}',
            metric text NOT NULL DEFAULT ''
        );
        """,
    ),
    Migration(
        2,
        "the suppression list and the reader store: events, suppressions, readers, consents",
        # The same tables and columns as the SQLite file (digest.suppression.store,
        # digest.readers), so that one SQL runs on both; text ordered by its bytes, as there.
        """
        CREATE TABLE IF NOT EXISTS events (
            id text COLLATE "C" PRIMARY KEY,
            address text COLLATE "C" NOT NULL,
            reason text COLLATE "C" NOT NULL,
            source text COLLATE "C" NOT NULL,
            at text COLLATE "C" NOT NULL,
            detail text COLLATE "C" NOT NULL DEFAULT '',
            message text COLLATE "C" NOT NULL DEFAULT '',
            moment bigint NOT NULL DEFAULT 0,
            arrival bigint NOT NULL DEFAULT 0,
            edition text COLLATE "C" NOT NULL DEFAULT '',
            url text COLLATE "C" NOT NULL DEFAULT ''
        );
        CREATE INDEX IF NOT EXISTS events_in_order ON events (address, moment, arrival);
        CREATE INDEX IF NOT EXISTS events_by_arrival ON events (arrival);
        CREATE INDEX IF NOT EXISTS events_by_message ON events (message) WHERE message != '';
        CREATE INDEX IF NOT EXISTS events_by_edition ON events (edition) WHERE edition != '';
        CREATE TABLE IF NOT EXISTS suppressions (
            address text COLLATE "C" PRIMARY KEY,
            reason text COLLATE "C" NOT NULL,
            source text COLLATE "C" NOT NULL,
            at text COLLATE "C" NOT NULL,
            detail text COLLATE "C" NOT NULL DEFAULT ''
        );
        CREATE TABLE IF NOT EXISTS readers (
            key text COLLATE "C" PRIMARY KEY,
            address text COLLATE "C" NOT NULL,
            name text COLLATE "C",
            fields text COLLATE "C" NOT NULL DEFAULT '{}',
            sections text COLLATE "C",
            timezone text COLLATE "C",
            language text COLLATE "C",
            created text COLLATE "C" NOT NULL,
            paused_until text COLLATE "C"
        );
        CREATE TABLE IF NOT EXISTS consents (
            key text COLLATE "C" NOT NULL,
            at text COLLATE "C" NOT NULL,
            method text COLLATE "C" NOT NULL,
            source text COLLATE "C" NOT NULL,
            wording text COLLATE "C" NOT NULL DEFAULT '',
            ip text COLLATE "C",
            PRIMARY KEY (key, at, method, source)
        );
        CREATE TABLE IF NOT EXISTS forgotten (hash text COLLATE "C" PRIMARY KEY);
        CREATE TABLE IF NOT EXISTS signup_uses (
            kind text COLLATE "C" NOT NULL,
            key bytea NOT NULL,
            at double precision NOT NULL
        );
        CREATE INDEX IF NOT EXISTS signup_uses_by_key ON signup_uses (kind, key, at);
        CREATE INDEX IF NOT EXISTS signup_uses_by_time ON signup_uses (at);
        CREATE TABLE IF NOT EXISTS signup_key (secret bytea NOT NULL);
        """,
    ),
    Migration(
        3,
        "the edition history: editions, featured stories, links, plans, approvals, campaigns",
        # The ledger's table of editions' contents makes way for the history's (the same
        # name in the history's SQLite file); the history's tables are as in that file.
        """
        ALTER TABLE IF EXISTS editions RENAME TO ledger_editions;
        CREATE TABLE IF NOT EXISTS editions (
            number integer PRIMARY KEY,
            date text COLLATE "C" NOT NULL UNIQUE,
            subject text COLLATE "C" NOT NULL,
            lead_url text COLLATE "C" NOT NULL,
            quote_text text COLLATE "C",
            quote_author text COLLATE "C"
        );
        CREATE TABLE IF NOT EXISTS featured (
            edition integer NOT NULL REFERENCES editions(number) ON DELETE CASCADE,
            position integer NOT NULL,
            url text COLLATE "C" NOT NULL,
            canonical_url text COLLATE "C" NOT NULL,
            title text COLLATE "C" NOT NULL,
            section text COLLATE "C" NOT NULL,
            PRIMARY KEY (edition, position)
        );
        CREATE INDEX IF NOT EXISTS featured_by_url ON featured (canonical_url);
        CREATE TABLE IF NOT EXISTS links (
            edition integer NOT NULL REFERENCES editions(number) ON DELETE CASCADE,
            key text COLLATE "C" NOT NULL,
            position integer NOT NULL,
            url text COLLATE "C" NOT NULL,
            kind text COLLATE "C" NOT NULL,
            story text COLLATE "C" NOT NULL,
            title text COLLATE "C" NOT NULL,
            section text COLLATE "C" NOT NULL,
            slot integer NOT NULL,
            PRIMARY KEY (edition, position)
        );
        CREATE INDEX IF NOT EXISTS links_by_key ON links (key);
        CREATE TABLE IF NOT EXISTS plans (
            date text COLLATE "C" PRIMARY KEY,
            plan text COLLATE "C" NOT NULL,
            updated text COLLATE "C" NOT NULL
        );
        CREATE TABLE IF NOT EXISTS approvals (
            date text COLLATE "C" PRIMARY KEY,
            approver text COLLATE "C" NOT NULL,
            approved_at text COLLATE "C" NOT NULL,
            subject text COLLATE "C" NOT NULL,
            html text COLLATE "C" NOT NULL,
            text text COLLATE "C" NOT NULL
        );
        CREATE TABLE IF NOT EXISTS campaigns (
            edition text COLLATE "C" NOT NULL,
            tool text COLLATE "C" NOT NULL,
            id text COLLATE "C" NOT NULL,
            url text COLLATE "C",
            status text COLLATE "C" NOT NULL,
            at text COLLATE "C" NOT NULL,
            PRIMARY KEY (edition, tool)
        );
        """,
    ),
    Migration(
        4,
        "a guarded send's guards: each edition's sample, its state and reading",
        """
        CREATE TABLE IF NOT EXISTS guards (
            edition text COLLATE "C" PRIMARY KEY,
            started text COLLATE "C" NOT NULL,
            state text COLLATE "C" NOT NULL DEFAULT 'sampling',
            how text COLLATE "C" NOT NULL DEFAULT '',
            decided text COLLATE "C" NOT NULL DEFAULT '',
            reading text COLLATE "C" NOT NULL DEFAULT '{}'
        );
        """,
    ),
)
