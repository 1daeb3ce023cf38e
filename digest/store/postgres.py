"""The PostgreSQL store: a small connection pool, its schema's versions, advisory locks.

psycopg 3 (the ``postgresql`` extra) is imported only when a store URL names PostgreSQL.
Every statement runs on a connection from the pool, checked before it is handed out, so a
restarted server costs one failed statement at most; a statement the connection lost on its
way is tried once more where that is safe (``run(..., retry=True)``). Every failure is a
one-line ``StoreError`` with the URL's password masked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from digest.errors import DigestError, StoreError
from digest.store.connection import PostgresConnection, needs_psycopg, went_wrong
from digest.store.schema import MIGRATIONS, Migration
from digest.store.url import StoreURL

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresStore", "SchemaStatus", "upgraded_connection"]

#: The advisory lock (with the schema's name) that migrations take turns on.
_SCHEMA_LOCK = "digest:schema"


@dataclass(frozen=True)
class SchemaStatus:
    """The migrations a database has applied, and those still to run."""

    applied: list[Migration]
    pending: list[Migration]

    @property
    def version(self) -> int:
        """The newest applied migration's number (0 for an empty database)."""
        return self.applied[-1].version if self.applied else 0


class PostgresStore:
    """A PostgreSQL database digest keeps its store in: a pool of connections to it."""

    def __init__(self, url: StoreURL, *, size: int = 2, timeout: float = 10.0) -> None:
        """Connect to ``url`` (a one-line ``StoreError`` if it cannot be reached)."""
        needs_psycopg(url)
        import psycopg
        from psycopg_pool import ConnectionPool

        self.url = url
        self.timeout = timeout
        conninfo = url.url.replace("postgres://", "postgresql://", 1)
        # A first connection of our own, for the error libpq gives (a pool only times out).
        try:
            with psycopg.connect(conninfo, connect_timeout=max(1, int(timeout))) as first:
                row = first.execute("SELECT current_schema(), current_setting('search_path')")
                schema, path = row.fetchone() or (None, "")
        except psycopg.Error as error:
            raise self.error("cannot connect", error) from None
        if schema is None:  # a search_path naming no schema that exists (a typo, say)
            raise StoreError(
                f"{url}: no schema of the search_path ({path}) exists: create it (CREATE"
                " SCHEMA name) or name one that does (options=-csearch_path%3Dname)"
            )
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=size,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout))},
            check=ConnectionPool.check_connection,
            timeout=timeout,
            open=False,
            name="digest-store",
        )
        try:
            self.pool.open(wait=True, timeout=timeout)
        except Exception as error:  # PoolTimeout: the server went away just now
            self.pool.close()
            raise self.error("cannot connect", error) from None

    def error(self, doing: str, error: BaseException) -> StoreError:
        """A one-line ``StoreError``: the masked URL, what failed and libpq's first line."""
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return StoreError(f"{self.url}: {doing}: {first}")

    def run(
        self, sql: str, params: Sequence[object] | dict[str, object] = (), *, retry: bool = False
    ) -> list[tuple[Any, ...]]:
        """Run one statement (its own transaction) and return its rows.

        With ``retry``, a statement whose connection broke is run once more on a fresh one:
        only for statements whose second run changes nothing the first one did.
        """
        import psycopg
        from psycopg.errors import TransactionRollback

        for attempt in (1, 2):
            try:
                with self.pool.connection() as conn, conn.cursor() as cursor:
                    cursor.execute(sql, params)
                    return cursor.fetchall() if cursor.description is not None else []
            except TransactionRollback as error:  # a deadlock, a conflict
                if not retry or attempt == 2:
                    raise self.error("a statement was rolled back", error) from None
            except psycopg.OperationalError as error:
                if not retry or attempt == 2:
                    raise self.error(went_wrong(error), error) from None
            except psycopg.Error as error:
                raise self.error("a statement failed", error) from None
            except Exception as error:  # PoolTimeout: no connection came back in time
                raise self.error("cannot connect", error) from None
        raise AssertionError("unreachable")

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection inside one transaction, committed when the block ends."""
        import psycopg

        try:
            with self.pool.connection() as conn, conn.transaction():
                yield conn
        except psycopg.Error as error:
            raise self.error("a transaction failed", error) from None

    @contextmanager
    def advisory_lock(
        self, name: str, *, wait: bool, busy: str = "", error: type[DigestError] = StoreError
    ) -> Iterator[None]:
        """Hold the advisory lock ``name`` (within this schema) for the block.

        Without ``wait``, a lock another session holds raises ``error`` saying ``busy``.
        The lock is the session's: a process that dies releases it with its connection,
        however it ends.
        """
        import psycopg

        key = "SELECT hashtextextended(current_schema() || ':' || %s, 0)"
        try:
            with self.pool.connection() as conn:
                if wait:
                    conn.execute(f"SELECT pg_advisory_lock(({key}))", (name,))
                else:
                    row = conn.execute(f"SELECT pg_try_advisory_lock(({key}))", (name,))
                    got = row.fetchone()
                    if got is None or not got[0]:
                        raise error(busy or f"{self.url}: {name} is locked by another run")
                try:
                    yield
                finally:
                    if not conn.closed:
                        conn.execute(f"SELECT pg_advisory_unlock(({key}))", (name,))
        except psycopg.Error as failure:
            raise self.error(f"the lock {name!r} failed", failure) from None

    def status(self) -> SchemaStatus:
        """Which migrations the database has applied, and which are still to run."""
        rows = self.run(
            "SELECT version FROM schema_versions ORDER BY version"
            if self._has_versions()
            else "SELECT 0 WHERE false"
        )
        done = {version for (version,) in rows}
        return SchemaStatus(
            [m for m in MIGRATIONS if m.version in done],
            [m for m in MIGRATIONS if m.version not in done],
        )

    def _has_versions(self) -> bool:
        rows = self.run("SELECT to_regclass('schema_versions') IS NOT NULL")
        return bool(rows[0][0])

    def upgrade(self) -> list[Migration]:
        """Apply the migrations not applied yet, each once; the ones this call applied.

        Safe to run twice, or at once from two hosts: each transaction first takes an
        advisory lock, then reads what is applied.
        """
        applied: list[Migration] = []
        for migration in MIGRATIONS:
            with self.transaction() as conn:
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || %s,"
                    " 0))",
                    (_SCHEMA_LOCK,),
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_versions (version integer PRIMARY KEY,"
                    " name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())"
                )
                done = conn.execute(
                    "SELECT 1 FROM schema_versions WHERE version = %s", (migration.version,)
                ).fetchone()
                if done is not None:
                    continue
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_versions (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
                applied.append(migration)
        return applied

    def close(self) -> None:
        """Close every connection of the pool."""
        self.pool.close()


def upgraded_connection(url: StoreURL, lock: str) -> PostgresConnection:
    """A connection to the store ``url``, its schema brought up to date first.

    ``lock`` names the advisory lock its write transactions take (``PostgresConnection``).
    """
    store = PostgresStore(url, size=1)
    try:
        store.upgrade()
    finally:
        store.close()
    return PostgresConnection(url, lock)
