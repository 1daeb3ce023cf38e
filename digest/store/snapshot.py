"""A read-only copy of tables of the PostgreSQL store into an SQLite connection, for reports.

``digest report``, the desk's report page and ``weigh_by = "clicks"`` join the send ledger
with the events in SQL written for SQLite (``digest.schedule.clicks``). On a PostgreSQL store
they read a copy: each table is streamed from the server (a cursor there, ``BATCH`` rows at a
time, never a whole table in one list) into an SQLite table of the same shape, in one
read-only transaction, so the ledger and the events are one moment's and the server is never
changed. A table the server does not have yet (its schema never upgraded) is copied
as empty.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from digest.errors import StoreError
from digest.store.connection import needs_psycopg
from digest.store.url import StoreURL

if TYPE_CHECKING:
    import psycopg

__all__ = ["DELIVERIES", "EVENTS", "Table", "copy_tables"]

#: How many rows go into SQLite in one ``executemany``.
BATCH = 5000


class Table(NamedTuple):
    """A table to copy: the server's name, each column as read there, and where it goes."""

    source: str
    #: The SQL of each column on the server, in the target's order.
    select: tuple[str, ...]
    #: The SQLite table the rows go to (``schema.table``) and its columns.
    target: str
    columns: tuple[str, ...]


#: The send ledger's rows; ``updated`` as the SQLite ledger writes it: ``2026-12-07T08:00:00+00:00``
#: (UTC, whole seconds), which ``digest.schedule.clicks`` orders and parses.
DELIVERIES = Table(
    "deliveries",
    (
        "edition",
        "address",
        "state",
        "detail",
        "variant",
        "to_char(updated AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')",
        "run",
    ),
    "ledger.deliveries",
    ("edition", "address", "state", "detail", "variant", "updated", "run"),
)

_EVENT_COLUMNS = (
    "id",
    "address",
    "reason",
    "source",
    "at",
    "detail",
    "message",
    "moment",
    "arrival",
    "edition",
    "url",
)
#: The suppression list's events, every column as the SQLite list keeps it.
EVENTS = Table(
    "events",
    _EVENT_COLUMNS,
    "main.events",
    _EVENT_COLUMNS,
)


def copy_tables(
    url: StoreURL, db: sqlite3.Connection, tables: Sequence[Table], *, batch: int = BATCH
) -> dict[str, int]:
    """Copy ``tables`` from the PostgreSQL store ``url`` into ``db``; the rows copied of each.

    The target tables exist in ``db`` already; a row whose key is there is left as it is.
    One read-only, repeatable-read transaction reads every table, one SQLite transaction
    (unless the caller's) writes them; a failure is a one-line ``StoreError`` naming the
    (masked) URL, and leaves ``db`` as it was.
    """
    needs_psycopg(url)
    import psycopg

    if batch < 1:
        raise ValueError(f"batch: must be 1 or more, not {batch}")
    conninfo = url.url.replace("postgres://", "postgresql://", 1)
    copied: dict[str, int] = {}
    doing = "cannot connect"
    began = not db.in_transaction  # every row in one SQLite transaction: a row each is slow
    if began:
        db.execute("BEGIN")
    try:
        with psycopg.connect(conninfo, connect_timeout=10, client_encoding="UTF8") as conn:
            conn.read_only = True
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with conn.transaction(), conn.cursor() as cursor:
                for table in tables:
                    doing = f"cannot read {table.source}"
                    found = cursor.execute("SELECT to_regclass(%s)", (table.source,)).fetchone()
                    if found is None or found[0] is None:  # never upgraded: nothing kept yet
                        copied[table.source] = 0
                        continue
                    copied[table.source] = _copy(conn, db, table, batch)
    except psycopg.Error as error:
        if began:
            db.execute("ROLLBACK")
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise StoreError(f"{url}: {doing}: {first}") from None
    except BaseException:
        if began:
            db.execute("ROLLBACK")
        raise
    if began:
        db.execute("COMMIT")
    return copied


def _copy(conn: psycopg.Connection[Any], db: sqlite3.Connection, table: Table, batch: int) -> int:
    """Stream one table into ``db`` through a cursor on the server, ``batch`` rows at a time.

    How many rows came. (``COPY … TO STDOUT`` is no faster here: psycopg reads its rows one
    network message at a time.)
    """
    columns = ", ".join(table.select)
    marks = ", ".join("?" * len(table.columns))
    insert = f"INSERT OR IGNORE INTO {table.target} ({', '.join(table.columns)}) VALUES ({marks})"
    count = 0
    with conn.cursor(name=f"digest_copy_{table.source}") as cursor:
        cursor.execute(f"SELECT {columns} FROM {table.source}".encode())
        while chunk := cursor.fetchmany(batch):
            db.executemany(insert, chunk)
            count += len(chunk)
    return count
