"""One connection to the PostgreSQL store, shaped as ``sqlite3``'s: the stores' SQL runs on both.

The suppression list and the reader store (``digest.suppression.store``,
``digest.readers``) write their statements once, in the SQL both databases speak
(``INSERT … ON CONFLICT``, ``?`` marks), and run them on an ``sqlite3.Connection`` or on this.
Two things are translated, no more: each ``?`` becomes psycopg's ``%s``, and ``BEGIN
IMMEDIATE`` (SQLite's one writer at a time) becomes ``BEGIN`` with a transaction-level
advisory lock named for the store, so writers on every host take turns exactly as the
processes of one host do on a file. A lost connection is a one-line ``StoreError`` (the
statement's transaction rolled back by the server), and the next statement connects again.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self

from digest.errors import StoreError
from digest.store.url import StoreURL

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "Connection",
    "Database",
    "PostgresConnection",
    "Rows",
    "is_sqlite",
    "needs_psycopg",
    "open_wal",
    "transaction",
    "went_wrong",
]

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || %s, 0))"


class Rows(Protocol):
    """What a statement gives back: ``sqlite3.Cursor`` and psycopg's cursor alike."""

    @property
    def rowcount(self) -> int:
        """How many rows the statement changed."""
        ...

    def fetchone(self) -> Any:
        """The next row, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """The rows left."""
        ...

    def __iter__(self) -> Iterator[Any]:
        """The rows left, one at a time."""
        ...


class Connection(Protocol):
    """A store's connection: ``sqlite3.Connection`` or ``PostgresConnection``."""

    def execute(self, sql: str, parameters: Any = (), /) -> Rows:
        """Run one statement."""
        ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Rows:
        """Run one statement for each set of parameters."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


def needs_psycopg(url: StoreURL) -> None:
    """Check that psycopg 3 and its pool are installed: a ``StoreError`` naming the extra."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        raise StoreError(
            f"{url}: PostgreSQL needs the postgresql extra: "
            "pip install 'newsletter-digest[postgresql]'"
        ) from None


def went_wrong(error: BaseException) -> str:
    """What a psycopg ``OperationalError`` says happened: a full disk, or a server away.

    A full disk (SQLSTATE 53100) and the server's other lacks of resources (class 53) come
    as ``OperationalError`` too, with the connection still there: named, not "stopped".
    """
    state = getattr(error, "sqlstate", None) or ""
    if state == "53100":
        return "the database's disk is full"
    if state.startswith("53"):
        return "the database server is out of resources"
    return "the database stopped answering"


def is_sqlite(db: Connection) -> bool:
    """Whether ``db`` is an SQLite file's connection (its own schema steps apply then)."""
    return not isinstance(db, PostgresConnection)


class PostgresConnection:
    """A connection to the PostgreSQL store with ``sqlite3``'s shape (``Connection``)."""

    def __init__(self, url: StoreURL, lock: str, *, timeout: float = 10.0) -> None:
        """Connect to ``url``; ``lock`` names the advisory lock its write transactions take."""
        needs_psycopg(url)
        self.url = url
        self.lock = lock
        self.timeout = timeout
        self.conn: psycopg.Connection[Any] | None = None
        self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        if self.conn is not None and not self.conn.closed:
            return self.conn
        conninfo = self.url.url.replace("postgres://", "postgresql://", 1)
        try:
            self.conn = psycopg.connect(
                conninfo, autocommit=True, connect_timeout=max(1, int(self.timeout))
            )
        except psycopg.Error as error:
            raise self._error("cannot connect", error) from None
        return self.conn

    def _error(self, doing: str, error: BaseException) -> StoreError:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return StoreError(f"{self.url}: {doing}: {first}")

    def _lost(self) -> None:
        """Forget a connection that broke: the next statement makes a new one."""
        if self.conn is not None:
            with contextlib.suppress(Exception):  # closing what is already gone
                self.conn.close()
        self.conn = None

    def execute(self, sql: str, parameters: Any = (), /) -> Rows:
        """Run one statement (``?`` marks); ``BEGIN IMMEDIATE`` takes the store's write lock."""
        import psycopg

        word = sql.strip().upper()
        if word in ("ROLLBACK", "COMMIT") and self.conn is None:
            if word == "COMMIT":  # the transaction went with the connection
                raise StoreError(f"{self.url}: the database stopped answering mid-transaction")
            return _NO_ROWS  # nothing to roll back: the server did it when the connection broke
        conn = self._connect()
        try:
            if word == "BEGIN IMMEDIATE":
                conn.execute("BEGIN")
                return conn.execute(_LOCK, (self.lock,))
            return conn.execute(_marks(sql), parameters)
        except psycopg.OperationalError as error:
            self._lost()
            raise self._error(went_wrong(error), error) from None
        except psycopg.Error as error:
            raise self._error("a statement failed", error) from None

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Rows:
        """Run one statement (``?`` marks) for each set of parameters."""
        import psycopg

        conn = self._connect()
        try:
            cursor = conn.cursor()
            cursor.executemany(_marks(sql), list(parameters))
        except psycopg.OperationalError as error:
            self._lost()
            raise self._error(went_wrong(error), error) from None
        except psycopg.Error as error:
            raise self._error("a statement failed", error) from None
        return cursor

    def close(self) -> None:
        """Close the connection."""
        self._lost()


def _marks(sql: str) -> str:
    """``sql`` with psycopg's marks: ``%`` doubled, each ``?`` a ``%s``."""
    return sql.replace("%", "%%").replace("?", "%s")


class _NoRows:
    rowcount = 0

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


_NO_ROWS = _NoRows()


@contextlib.contextmanager
def transaction(db: Connection) -> Iterator[None]:
    """One write transaction (taken at once): committed after the block, rolled back on error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        # SQLite may have rolled back already (a full disk): the first error is the one to tell.
        with contextlib.suppress(Exception):
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def open_wal(path: Path, threads: bool = False) -> sqlite3.Connection:
    """An SQLite file in WAL mode (readers and one writer at once, across processes).

    Its folder is made if need be. ``threads`` lets the connection move between threads
    (the caller takes turns on it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=60, check_same_thread=not threads)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    return db


class Database:
    """A store's database kept open (a file, or the PostgreSQL store): ``close`` or ``with``."""

    db: Connection

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def __enter__(self) -> Self:
        """The store itself, closed when the ``with`` block ends."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the database."""
        self.close()
