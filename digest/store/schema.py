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
)
