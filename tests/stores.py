"""The store's backends for tests: SQLite files, and PostgreSQL where one is running.

``store_url`` is parametrised over both backends. The PostgreSQL one is a schema of its own
in the database ``DIGEST_TEST_DATABASE_URL`` names (``.ci/run`` starts a server and sets it),
dropped after the test, so tests running at once under xdist never meet. Without that
variable, or without a server answering, the PostgreSQL case is skipped, saying why.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from digest.store import StoreURL, parse_store_url

VARIABLE = "DIGEST_TEST_DATABASE_URL"


def postgres_base() -> str:
    """The test database's URL, or a skip saying how to get one."""
    base = os.environ.get(VARIABLE, "")
    if not base:
        pytest.skip(f"PostgreSQL: set {VARIABLE} (.ci/run starts a server and sets it)")
    psycopg = pytest.importorskip("psycopg", reason="the postgresql extra is not installed")
    try:
        psycopg.connect(base, connect_timeout=5).close()
    except psycopg.Error as error:
        pytest.skip(f"PostgreSQL at {VARIABLE} does not answer: {str(error).splitlines()[0]}")
    return base


def in_schema(base: str, schema: str) -> str:
    """``base`` with every session's search path set to ``schema``."""
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


def run_sql(base: str, sql: str) -> None:
    """Run one statement on the test database, outside any schema of a test."""
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.encode())


@pytest.fixture
def postgres_url() -> Iterator[StoreURL]:
    """A PostgreSQL store in a schema of this test's own (skipped without a server)."""
    base = postgres_base()
    schema = "t_" + secrets.token_hex(6)
    run_sql(base, f"CREATE SCHEMA {schema}")
    try:
        yield parse_store_url(in_schema(base, schema), secret_ok=True)
    finally:
        run_sql(base, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> StoreURL:
    """Each backend in turn: an SQLite ledger file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return parse_store_url(f"sqlite:///{tmp_path / 'weekly.sends.sqlite3'}")
    url: StoreURL = request.getfixturevalue("postgres_url")
    return url


class Closable(Protocol):
    """A store: something to close."""

    def close(self) -> None:
        """Close it."""


C = TypeVar("C", bound=Closable)


class Places:
    """Where a test's suppression lists and reader stores live: files, or PostgreSQL schemas.

    ``place("name.sqlite3")`` is that file in the test's folder on SQLite, and a store URL of
    a schema of its own (one a name, dropped after the test) on PostgreSQL.
    """

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self.base = postgres_base() if backend == "postgresql" else ""
        self.schemas: dict[str, str] = {}
        self.stores: list[Closable] = []

    def opened(self, store: C) -> C:
        """``store``, closed when the test ends (before its schema is dropped)."""
        self.stores.append(store)
        return store

    def __call__(self, name: str = "list.sqlite3") -> Path | StoreURL:
        if self.backend == "sqlite":
            return self.folder / name
        if name not in self.schemas:
            self.schemas[name] = "t_" + secrets.token_hex(6)
            run_sql(self.base, f"CREATE SCHEMA {self.schemas[name]}")
        return parse_store_url(in_schema(self.base, self.schemas[name]), secret_ok=True)

    def drop(self) -> None:
        """Close the stores opened, then drop every schema made."""
        for store in self.stores:
            store.close()
        for schema in self.schemas.values():
            run_sql(self.base, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Places]:
    """Each backend in turn for the suppression list and the reader store (``Places``)."""
    places = Places(request.param, tmp_path)
    try:
        yield places
    finally:
        places.drop()


def held_bytes(places: Places, name: str = "list.sqlite3") -> bytes:
    """What a store holds: the file's bytes on SQLite, every row as text on PostgreSQL."""
    if places.backend == "sqlite":
        return (places.folder / name).read_bytes()
    import psycopg

    schema = places.schemas[name]
    with psycopg.connect(places.base, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchall()
        held = [
            conn.execute(f"SELECT coalesce(string_agg(t::text, ''), '') FROM {schema}.{table} t")
            .fetchone()[0]
            .encode()
            for (table,) in tables
        ]
    return b"".join(held)
