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
