"""The PostgreSQL store's schema: each migration once, from one process or four at once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from digest.errors import StoreError
from digest.store import MIGRATIONS, PostgresStore, StoreURL, parse_store_url

from ..stores import postgres_url

__all__ = ["postgres_url"]


def test_an_upgrade_applies_each_migration_once(postgres_url: StoreURL) -> None:
    store = PostgresStore(postgres_url)
    try:
        assert store.status().version == 0
        assert store.status().pending == list(MIGRATIONS)
        assert store.upgrade() == list(MIGRATIONS)
        assert store.upgrade() == []
        status = store.status()
        assert (status.version, status.pending) == (MIGRATIONS[-1].version, [])
        rows = store.run("SELECT version, name FROM schema_versions ORDER BY version")
        assert rows == [(m.version, m.name) for m in MIGRATIONS]
    finally:
        store.close()


def test_four_processes_upgrading_at_once_apply_it_once(postgres_url: StoreURL) -> None:
    code = (
        "import sys; from digest.store import PostgresStore, parse_store_url;"
        "s = PostgresStore(parse_store_url(sys.argv[1], secret_ok=True));"
        "print(*[m.version for m in s.upgrade()]); s.close()"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, postgres_url.url], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    applied = [int(v) for run in runs for v in run.communicate(timeout=60)[0].split()]
    assert all(run.returncode == 0 for run in runs)
    # Each migration by exactly one of them (one may take the first, another the rest).
    assert sorted(applied) == [m.version for m in MIGRATIONS]
    store = PostgresStore(postgres_url)
    try:
        assert store.run("SELECT count(*) FROM schema_versions") == [(len(MIGRATIONS),)]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://digest:hunter2@127.0.0.1:1/news", "cannot connect: connection failed"),
        ("postgresql://digest:hunter2@127.0.0.1:1/news?connect_timeout=1", "cannot connect"),
    ],
)
def test_a_server_that_does_not_answer_is_one_line_without_the_password(
    url: str, says: str
) -> None:
    with pytest.raises(StoreError, match=says) as raised:
        PostgresStore(parse_store_url(url, secret_ok=True), timeout=2)
    message = str(raised.value)
    assert "hunter2" not in message and "\n" not in message
    assert message.startswith("postgresql://digest:***@127.0.0.1:1/news")
    assert raised.value.exit_code == 11


def test_a_statement_the_server_refuses_is_a_store_error(postgres_url: StoreURL) -> None:
    store = PostgresStore(postgres_url)
    try:
        with pytest.raises(StoreError, match="a statement failed: relation"):
            store.run("SELECT * FROM no_such_table")
    finally:
        store.close()


def test_a_connection_cut_by_the_server_costs_one_retry(postgres_url: StoreURL) -> None:
    """A failover or a restart cuts every connection: the next statement runs on a new one."""
    url = parse_store_url(f"{postgres_url.url}&application_name=digest_cut_test", secret_ok=True)
    store = PostgresStore(url)
    try:
        store.upgrade()
        (before,) = store.run("SELECT pg_backend_pid()")[0]
        other = PostgresStore(postgres_url)
        try:
            cut = other.run(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'digest_cut_test'"
            )
        finally:
            other.close()
        assert cut and all(ok for (ok,) in cut)
        # Safe to repeat: tried once more on a fresh connection.
        (after,) = store.run("SELECT pg_backend_pid()", retry=True)[0]
        assert after != before
    finally:
        store.close()


def test_a_search_path_naming_no_schema_is_one_line(postgres_url: StoreURL) -> None:
    base = postgres_url.url.split("?", 1)[0]
    url = parse_store_url(f"{base}?options=-csearch_path%3Dno_such_schema", secret_ok=True)
    with pytest.raises(StoreError) as raised:
        PostgresStore(url)
    message = str(raised.value)
    assert "no schema of the search_path (no_such_schema) exists: create it" in message
    assert raised.value.exit_code == 11 and "\n" not in message
