"""copy_store's refusals: each a one-line InputError naming what is wrong, before any write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from digest.errors import InputError
from digest.store import parse_store_url
from digest.store.copy import HISTORY_TABLES, LEDGER_TABLES, SUPPRESSION_TABLES, Source, copy_store

SERVER = "postgresql://digest@db.invalid/news"


@pytest.mark.parametrize(
    ("target", "options", "said"),
    [
        ("sqlite:", {}, "sqlite: is not a PostgreSQL store"),
        (None, {}, "none named: a copy needs a PostgreSQL store"),
        (None, {"mode": "check"}, "none named: a check needs a PostgreSQL store"),
        (SERVER, {"batch": 0}, "batch: must be 1 or more, not 0"),
        (SERVER, {"mode": "check", "replace": True}, "replace: only a copy writes, not a check"),
        (SERVER, {"mode": "dry-run"}, "no such file (the send ledger to copy)"),
    ],
)
def test_a_copy_refuses_what_cannot_work(
    target: str | None, options: dict[str, Any], said: str, tmp_path: Path
) -> None:
    source = Source("ledger", tmp_path / "missing.sends.sqlite3")
    with pytest.raises(InputError, match=said.replace("(", r"\(").replace(")", r"\)")):
        copy_store([source], parse_store_url(target) if target else None, **options)


def test_a_dry_run_of_an_empty_file_counts_nothing_and_connects_to_nothing(
    tmp_path: Path,
) -> None:
    import sqlite3

    path = tmp_path / "empty.sqlite3"
    sqlite3.connect(path).close()
    sources = [Source(kind, path) for kind in ("ledger", "suppressions", "history")]
    report = copy_store(sources, parse_store_url(SERVER), mode="dry-run")
    every = (*LEDGER_TABLES, *SUPPRESSION_TABLES, *HISTORY_TABLES)
    assert [t.table for t in report.tables] == [t.into for t in every]
    assert all(t.rows == 0 for t in report.tables) and report.ok
    said = f"0 rows to copy, {len(every)} tables of 3 files (dry run: nothing written)"
    assert report.summary().endswith(said)


def test_a_dry_run_needs_no_target(tmp_path: Path) -> None:
    """Without a store named, a dry run counts the files and says no store was named."""
    import sqlite3

    path = tmp_path / "one.sends.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE forgotten (hash TEXT PRIMARY KEY)")
    db.executemany("INSERT INTO forgotten VALUES (?)", [("a",), ("b",)])
    db.commit()
    db.close()
    report = copy_store([Source("suppressions", path)], None, mode="dry-run")
    assert [(t.table, t.rows) for t in report.tables if t.rows] == [("forgotten", 2)]
    assert report.summary() == (
        "no PostgreSQL store named: 2 rows to copy, 7 tables of 1 file (dry run: nothing written)"
    )
