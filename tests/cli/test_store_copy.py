"""digest store copy: a config's SQLite files into PostgreSQL, resumable, verified, checked.

The SQLite files are written by digest itself (a send's claims and receipts, A/B starts and
winners, webhook-like events, readers added and imported, a reader forgotten, sign-up rate
limits; an edition built, a plan, an approval, campaigns), then copied through the real entry point into a PostgreSQL schema of
the test's own. Each copy is compared with the source row by row by a query of its own,
not only by the command's checksums.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.delivery.guard import GuardSettings, guard_phase
from digest.delivery.ledger import SendLedger
from digest.delivery.senders import Receipt
from digest.delivery.subject_test import Decision
from digest.plan import Plan
from digest.readers.records import Consent, ImportedReader
from digest.readers.signup import take_use
from digest.readers.store import ReaderStore
from digest.schedule.config import load_config, suppression_path
from digest.schedule.history import History
from digest.store import ENVIRONMENT, StoreURL
from digest.store.copy import HISTORY_TABLES, LEDGER_TABLES, SUPPRESSION_TABLES, Table
from digest.suppression.events import Event

from ..helpers import EXAMPLES, digest_command, run_digest
from ..stores import postgres_url

__all__ = ["postgres_url"]

WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
EXAMPLE = EXAMPLES / "tangerangnews"
ALL_TABLES = (*LEDGER_TABLES, *SUPPRESSION_TABLES, *HISTORY_TABLES)
SECRET = b"a secret of thirty-two bytes ..."


@dataclass(frozen=True)
class Stores:
    """A config and the three SQLite files it uses, filled by digest."""

    config: Path
    ledger: Path
    suppressions: Path
    history: Path

    @property
    def files(self) -> tuple[Path, Path, Path]:
        """The three files."""
        return self.ledger, self.suppressions, self.history


def fill_ledger(path: Path, editions: int = 2, readers: int = 40) -> None:
    """A send ledger as sends leave it: claims, receipts, a deferral, an A/B test decided."""
    with SendLedger(path) as ledger:
        for number in range(editions):
            edition = f"weekly:2026-12-0{number + 1}:{number + 1}"
            addresses = [f"Reader{i}@Example.org" for i in range(readers)]
            variants = ["A" if i % 2 else "B" for i in range(readers)]
            run = ledger.new_run()
            ledger.content_changed(edition, f"sha256:{number}")
            ledger.test_started(edition, WHEN + timedelta(days=number))
            ledger.claim(edition, addresses, variants, run, when=WHEN + timedelta(days=number))
            receipts = [
                Receipt(address, "sent", f"<{i}.{number}@mail.example.org>")
                if i % 5
                else Receipt(address, "refused", "550 5.1.1 no such user\nsecond line")
                for i, address in enumerate(addresses[:-3])
            ]
            receipts.append(Receipt(addresses[-3], "deferred", "451 later"))
            receipts.append(Receipt(addresses[-2], "unknown", "connection lost"))
            ledger.record(edition, receipts, WHEN + timedelta(days=number, minutes=5))
            decided = WHEN + timedelta(days=number, hours=4)
            ledger.record_decision(edition, Decision("A", "rule", decided, {"A": (9, 3)}))
            # A guarded send: started, and the first edition's released by hand.
            guard_phase(GuardSettings(), edition, ledger, None, decided, release=number == 0)


def fill_suppressions(path: Path) -> None:
    """A suppression list with the reader store's tables, as webhooks and readers leave it."""
    with ReaderStore(path, keep_ip=True, secret=SECRET) as store:
        consent = Consent(WHEN, "form", "sign-up form", "v2", "198.51.100.7")
        store.add("ana@example.org", consent, name="Ana", fields={"city": "Oslo"})
        store.add("bo@example.org", sections=("News",), timezone="Europe/Paris", language="fr")
        store.add("elodie@bücher.example", consent, name="Élodie ☂")
        rows = [
            ImportedReader(line, f"imported{line}@example.org", name=None if line % 2 else "Im")
            for line in range(2, 12)
        ]
        store.import_readers(rows, "mailchimp export members.csv")
        events = [
            Event("ana@example.org", "opened", "postmark", "pm-1", WHEN, message_id="<1.0@m>"),
            Event(
                "ana@example.org",
                "clicked",
                "resend",
                "svix-2",
                WHEN,
                message_id="<1.0@m>",
                edition="weekly:2026-12-01:1",
                url="https://example.org/story?a=1&b=ü",
            ),
            # Dated when they arrive: after the sign-ups and imports above.
            Event("bo@example.org", "hard-bounce", "ses", "sns-3", None, "550 5.1.1"),
            Event("imported3@example.org", "complaint", "postmark", "pm-4"),
            Event("imported4@example.org", "soft-bounce", "ses", "sns-5", None, "452"),
            Event("gone@example.org", "unsubscribed", "link", "unsub-6"),
        ]
        for event in events:
            store.record(event)
        store.record(events[0])  # a webhook delivered twice
        store.add("ana@example.org")  # a reader's change without consent: an event of its own
        store.remove("bo@example.org")
        store.forget("gone@example.org", SECRET)
        for use in range(5):
            take_use(store, "ip", "198.51.100.7", 10, 3600.0, 1_765_000_000.125 + use)
        take_use(store, "address", "ana@example.org", 10, 3600.0, 1_765_000_001.5)


def fill_history(path: Path) -> None:
    """Beside the edition ``digest build`` recorded: a plan, an approval, two campaigns."""
    with History(path) as history:
        history.save_plan(date(2025, 9, 23), Plan(subject="Next week", note="Ünïcode ☂"))
        history.approve(date(2025, 9, 16), "editor@example.org", ("s1", "h1", "t1"))
        key = "TangerangNews 2025-09-16 #1"
        history.claim_campaign(key, "mailchimp")
        history.save_campaign(key, "mailchimp", "c-1", "https://mc.example/c-1", "scheduled")
        history.claim_campaign(key, "listmonk")  # a claim: no id, no URL yet


@pytest.fixture
def stores(tmp_path: Path) -> Stores:
    """An example's config with a history, an edition built, and each file filled."""
    config = tmp_path / "newsletter.toml"
    text = (EXAMPLE / "newsletter.toml").read_text()
    config.write_text(
        text.replace('data = "edition.json"', f'data = "{EXAMPLE / "edition.json"}"').replace(
            "history = false", 'history = "weekly.history.sqlite3"'
        )
    )
    out = tmp_path / "out"
    built = run_digest("build", "--config", config, "--date", "2025-09-16", "--out", out, env={})
    assert built.returncode == 0, built.stderr
    loaded = load_config(config)
    ledger = loaded.beside_history(".sends.sqlite3")
    assert ledger is not None and isinstance(loaded.history, Path)
    fill_ledger(ledger)
    fill_suppressions(suppression_path(loaded))
    fill_history(loaded.history)
    return Stores(config, ledger, suppression_path(loaded), loaded.history)


def copy(*args: str | Path, url: StoreURL | None = None) -> subprocess.CompletedProcess[str]:
    """``digest store copy ARGS`` in this process, the target in the environment."""
    env = {ENVIRONMENT: url.url if url is not None else ""}
    return run_digest("store", "copy", *args, env=env)


def tables(source: Path) -> tuple[Table, ...]:
    if ".sends." in source.name:
        return LEDGER_TABLES
    return HISTORY_TABLES if ".history." in source.name else SUPPRESSION_TABLES


def as_text(value: Any) -> Any:
    """A value as SQLite holds it: a time as the ledger writes it, bytes as bytes."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def sqlite_rows(path: Path, table: Table) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        have = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table.name,)).fetchone()
        if have is None:
            return []
        rows = db.execute(f"SELECT {', '.join(table.names)} FROM {table.name}").fetchall()
    finally:
        db.close()
    return sorted(set(rows), key=repr)


def pg_rows(url: StoreURL, table: Table) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url.url) as conn:
        rows = conn.execute(f"SELECT {', '.join(table.names)} FROM {table.into}").fetchall()
    return sorted((tuple(map(as_text, row)) for row in rows), key=repr)


def pg(url: StoreURL, sql: str, *params: object) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url.url, autocommit=True) as conn:
        cursor = conn.execute(sql.encode(), params or None)
        return cursor.fetchall() if cursor.description is not None else []


def same_everywhere(stores: Stores, url: StoreURL) -> None:
    """Every table of the files, row for row, equal to the target's."""
    for source in stores.files:
        for table in tables(source):
            assert pg_rows(url, table) == sqlite_rows(source, table), table.name


def rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def line_of(output: str, table: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(f"{table} ("))


def test_the_config_s_files_are_copied_whole_and_a_rerun_copies_nothing(
    stores: Stores, postgres_url: StoreURL
) -> None:
    first = copy("--config", stores.config, url=postgres_url)
    assert first.returncode == 0, first.stderr
    assert "applied 2 (the suppression list" in first.stdout
    assert "applied 3 (the edition history" in first.stdout
    for source in stores.files:
        for table in tables(source):
            count = len(sqlite_rows(source, table))
            assert count > 0, f"the fixture leaves {table.name} empty"
            line = line_of(first.stdout, table.into)
            assert f": {rows(count)}: {count} copied, 0 already there; checksum ok" in line
    assert "every table's count and checksum match" in first.stdout.splitlines()[-1]
    same_everywhere(stores, postgres_url)

    again = copy("--config", stores.config, url=postgres_url)
    assert again.returncode == 0, again.stderr
    assert "applied" not in again.stdout
    assert re.findall(r": 0 copied", again.stdout) and not re.search(
        r": [1-9][\d,]* copied", again.stdout
    )
    assert re.search(r": 0 of \d+ rows copied", again.stdout.splitlines()[-1])
    same_everywhere(stores, postgres_url)
    check = copy("--config", stores.config, "--check", url=postgres_url)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "every table matches the source" in check.stdout


def test_times_become_timestamptz_and_the_readers_read_the_same(
    stores: Stores, postgres_url: StoreURL
) -> None:
    assert copy("--config", stores.config, url=postgres_url).returncode == 0
    kinds = dict(
        pg(
            postgres_url,
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'deliveries'",
        )
    )
    assert kinds["updated"] == "timestamp with time zone"
    ((first_run,),) = pg(postgres_url, "SELECT min(first_run) FROM ledger_editions")
    assert first_run.tzinfo is not None
    ((updated,),) = pg(
        postgres_url,
        "SELECT updated FROM deliveries WHERE address = 'reader1@example.org' ORDER BY edition"
        " LIMIT 1",
    )
    assert updated == WHEN + timedelta(minutes=5)
    ((secret,),) = pg(postgres_url, "SELECT secret FROM signup_key")
    assert isinstance(secret, bytes) and len(secret) == 32
    # The ledger read through PostgresLedger says what the file says.
    from digest.delivery.ledger import open_ledger

    shared = open_ledger(Path(), postgres_url)
    try:
        with SendLedger(stores.ledger) as own:
            edition = "weekly:2026-12-02:2"
            assert shared.summary(edition) == own.summary(edition)
            assert list(shared.rows(edition)) == list(own.rows(edition))
            assert shared.decision(edition) == own.decision(edition)
    finally:
        shared.close()


def test_explicit_files_and_to_without_a_config(stores: Stores, postgres_url: StoreURL) -> None:
    result = run_digest(
        "store",
        "copy",
        "--ledger",
        stores.ledger,
        "--to",
        postgres_url.url,
        "--batch",
        "7",
        env={ENVIRONMENT: ""},
    )
    assert result.returncode == 0, result.stderr
    assert "events (" not in result.stdout  # only the file named
    for table in LEDGER_TABLES:
        assert pg_rows(postgres_url, table) == sqlite_rows(stores.ledger, table)
    assert pg(postgres_url, "SELECT count(*) FROM events") == [(0,)]


def test_a_dry_run_counts_and_writes_nothing(stores: Stores, postgres_url: StoreURL) -> None:
    result = copy("--config", stores.config, "--dry-run", url=postgres_url)
    assert result.returncode == 0, result.stderr
    events = len(sqlite_rows(stores.suppressions, SUPPRESSION_TABLES[0]))
    assert f"events ({stores.suppressions.name}): {events} rows: to copy," in result.stdout
    assert "dry run: nothing written" in result.stdout
    assert pg(postgres_url, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
    assert pg(
        postgres_url, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
    ) == [(0,)]


CHANGES = {
    "a state changed": (
        "UPDATE deliveries SET state = 'sent' WHERE state = 'refused'"
        " AND address = 'reader0@example.org' AND edition LIKE '%:1'",
        "deliveries",
        "1 differs in the target",
    ),
    "a time moved by a second": (
        "UPDATE deliveries SET updated = updated + interval '1 second'"
        " WHERE address = 'reader7@example.org' AND edition LIKE '%:2'",
        "deliveries",
        "1 differs in the target",
    ),
    "an event deleted": ("DELETE FROM events WHERE id = 'svix-2'", "events", "1 missing"),
    "a consent's IP forgotten": ("UPDATE consents SET ip = NULL", "consents", "differ"),
    "another signup secret": (
        "UPDATE signup_key SET secret = '\\x00'::bytea",
        "signup_key",
        "1 missing",
    ),
    "a campaign's state": (
        "UPDATE campaigns SET status = 'sent' WHERE tool = 'mailchimp'",
        "campaigns",
        "1 differs in the target",
    ),
    "a featured story's title": (
        "UPDATE featured SET title = upper(title) WHERE position = 0",
        "featured",
        "1 differs in the target",
    ),
    "a use's time nudged": (
        "UPDATE signup_uses SET at = at + 1e-6 WHERE kind = 'address'",
        "signup_uses",
        "1 missing",
    ),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_check_finds_a_row_changed_in_the_target(
    change: str, stores: Stores, postgres_url: StoreURL
) -> None:
    sql, table, said = CHANGES[change]
    assert copy("--config", stores.config, url=postgres_url).returncode == 0
    pg(postgres_url, sql)
    check = copy("--config", stores.config, "--check", url=postgres_url)
    assert check.returncode == 11, check.stdout + check.stderr
    line = line_of(check.stdout, table)
    assert said in line and "checksum differs" in line
    others = [t.into for t in ALL_TABLES if t.into != table]
    assert all("checksum ok" in line_of(check.stdout, name) for name in others)
    assert len(check.stderr.strip().splitlines()) == 1
    assert f"1 table of {len(ALL_TABLES)} differs from the source: {table}" in check.stderr


def test_a_conflicting_row_is_reported_and_never_overwritten(
    stores: Stores, postgres_url: StoreURL
) -> None:
    assert copy("--config", stores.config, "--batch", "3", url=postgres_url).returncode == 0
    pg(postgres_url, "UPDATE suppressions SET detail = 'edited on the server'")
    pg(postgres_url, "DELETE FROM deliveries WHERE address LIKE 'reader1%'")
    again = copy("--config", stores.config, url=postgres_url)
    assert again.returncode == 11
    assert "1 differs in the target (first: 'imported3@example.org')" in line_of(
        again.stdout, "suppressions"
    )
    # The rows deleted came back, the edited one stayed as the server had it.
    assert "checksum ok" in line_of(again.stdout, "deliveries")
    assert pg(postgres_url, "SELECT DISTINCT detail FROM suppressions") == [
        ("edited on the server",)
    ]


@pytest.mark.parametrize("change", [name for name in CHANGES if CHANGES[name][1] != "signup_uses"])
def test_replace_gives_the_target_the_source_s_rows(
    change: str, stores: Stores, postgres_url: StoreURL
) -> None:
    sql, table, _ = CHANGES[change]
    assert copy("--config", stores.config, url=postgres_url).returncode == 0
    pg(postgres_url, sql)
    fixed = copy("--config", stores.config, "--replace", url=postgres_url)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    line = line_of(fixed.stdout, table)
    assert "checksum ok" in line
    replaced = re.search(r"[1-9]\d* replaced with the source's", line) is not None
    assert replaced == ("UPDATE" in sql and table != "signup_key")
    same_everywhere(stores, postgres_url)
    assert copy("--config", stores.config, "--check", url=postgres_url).returncode == 0


def test_a_use_the_source_lacks_stays_and_is_counted(
    stores: Stores, postgres_url: StoreURL
) -> None:
    """signup_uses has no key: a row is its values, so a changed one is another row."""
    assert copy("--config", stores.config, url=postgres_url).returncode == 0
    pg(postgres_url, CHANGES["a use's time nudged"][0])
    again = copy("--config", stores.config, "--replace", url=postgres_url)
    assert again.returncode == 0
    line = line_of(again.stdout, "signup_uses")
    assert "1 copied, 5 already there; checksum ok" in line
    assert "1 more in the target only" in line


def test_a_check_of_an_empty_target_says_to_copy_first(
    stores: Stores, postgres_url: StoreURL
) -> None:
    check = copy("--config", stores.config, "--check", url=postgres_url)
    assert check.returncode == 11
    assert "lacks migration 1" in check.stderr and "copy first" in check.stderr


def test_the_password_is_never_printed(stores: Stores) -> None:
    url = "postgresql://digest:hunter2@127.0.0.1:1/news?connect_timeout=2"
    result = run_digest("store", "copy", "--config", stores.config, "--to", url, env={})
    assert result.returncode == 11
    assert "postgresql://digest:***@127.0.0.1:1/news" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--check", "--dry-run"), "choose one"),
        (("--check", "--replace"), "--replace writes"),
        ((), "not PostgreSQL"),
        (("--to", "sqlite:"), "not PostgreSQL"),
        (("--check",), "not PostgreSQL"),
        (("--dry-run", "--to", "sqlite:"), "not PostgreSQL"),
    ],
)
def test_usage_mistakes_exit_2(stores: Stores, args: tuple[str, ...], said: str) -> None:
    result = copy("--config", stores.config, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert said in result.stderr


def test_nothing_to_copy_is_said(tmp_path: Path) -> None:
    result = copy("--to", "postgresql:///nowhere")
    assert result.returncode == 2 and "no SQLite file to copy" in result.stderr


def test_a_time_that_is_no_time_is_named(stores: Stores, postgres_url: StoreURL) -> None:
    db = sqlite3.connect(stores.ledger)
    db.execute("UPDATE editions SET first_run = 'last tuesday' WHERE edition LIKE '%:2'")
    db.commit()
    db.close()
    result = copy("--config", stores.config, url=postgres_url)
    assert result.returncode == 1
    assert (
        "weekly.sends.sqlite3: editions (weekly:2026-12-02:2): first_run 'last tuesday' is not an ISO 8601 time"
        in (result.stderr)
    )


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("2026-12-01T09:30:00+00:00", WHEN),
        ("2026-12-01T09:30:00Z", WHEN),
        ("2026-12-01T10:30:00+01:00", WHEN),
        ("2026-12-01T09:30:00", WHEN),
        ("2026-12-01T09:30:00.250000+00:00", WHEN + timedelta(milliseconds=250)),
    ],
)
def test_each_way_of_writing_a_time_is_the_same_instant(
    written: str, instant: datetime, tmp_path: Path, postgres_url: StoreURL
) -> None:
    path = tmp_path / "one.sends.sqlite3"
    SendLedger(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO editions VALUES ('e', 'c', ?)", (written,))
    db.commit()
    db.close()
    result = copy("--ledger", path, "--to", postgres_url.url)
    assert result.returncode == 0, result.stderr
    assert pg(postgres_url, "SELECT first_run FROM ledger_editions") == [(instant,)]
    assert copy("--ledger", path, "--check", "--to", postgres_url.url).returncode == 0


def test_a_copy_killed_mid_way_finishes_when_run_again(
    tmp_path: Path, postgres_url: StoreURL
) -> None:
    """SIGKILL after the first batches committed; the second run adds exactly the rest."""
    import psycopg

    ledger = tmp_path / "big.sends.sqlite3"
    fill_ledger(ledger, editions=4, readers=5000)
    total = len(sqlite_rows(ledger, LEDGER_TABLES[0]))
    command = [*digest_command(), "store", "copy", "--ledger", str(ledger), "--batch", "50"]
    said = (tmp_path / "stderr").open("wb")
    process = subprocess.Popen(
        [*command, "--to", postgres_url.url],
        stdout=subprocess.DEVNULL,
        stderr=said,
        env={**os.environ, ENVIRONMENT: ""},
    )
    try:
        deadline = time.monotonic() + 60
        with psycopg.connect(postgres_url.url, autocommit=True) as conn:
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    (count,) = conn.execute("SELECT count(*) FROM deliveries").fetchone() or (0,)
                except psycopg.errors.UndefinedTable:
                    count = 0
                if count:
                    break
                time.sleep(0.002)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        said.close()
    ended = (tmp_path / "stderr").read_text()
    assert process.returncode == -signal.SIGKILL, f"the copy ended before it was killed: {ended}"
    ((left,),) = pg(postgres_url, "SELECT count(*) FROM deliveries")
    assert 0 < left < total, (left, total)

    again = copy("--ledger", ledger, "--to", postgres_url.url)
    assert again.returncode == 0, again.stderr
    line = line_of(again.stdout, "deliveries")
    assert f": {total:,} rows: {total - left:,} copied, {left:,} already there" in line
    assert "checksum ok" in line
    for table in LEDGER_TABLES:
        assert pg_rows(postgres_url, table) == sqlite_rows(ledger, table)
    assert copy("--ledger", ledger, "--check", "--to", postgres_url.url).returncode == 0


def test_the_tables_copied_are_every_table_of_the_schema(postgres_url: StoreURL) -> None:
    """A migration that adds a table or a column fails here until the copy knows it."""
    from digest.store.admin import upgrade_store

    upgrade_store(postgres_url)
    kinds = {
        "text": "text",
        "time": "timestamp with time zone",
        "int": "integer",
        "bigint": "bigint",
        "real": "double precision",
        "bytes": "bytea",
    }
    columns = pg(
        postgres_url,
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name != 'schema_versions'"
        " ORDER BY table_name, ordinal_position",
    )
    known = {
        (table.into, name, kinds[kind]) for table in ALL_TABLES for name, kind in table.columns
    }
    assert set(columns) == known
    keys = pg(
        postgres_url,
        "SELECT c.relname, array_agg(a.attname ORDER BY k.n) FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indrelid"
        " JOIN pg_namespace s ON s.oid = c.relnamespace AND s.nspname = current_schema()"
        " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
        " WHERE i.indisprimary AND c.relname != 'schema_versions' GROUP BY c.relname",
    )
    assert dict((name, tuple(key)) for name, key in keys) == {
        table.into: table.key for table in ALL_TABLES if table.key
    }


def test_the_history_on_the_server_reads_as_the_file(
    stores: Stores, postgres_url: StoreURL
) -> None:
    assert copy("--config", stores.config, url=postgres_url).returncode == 0
    with History(stores.history) as own, History(postgres_url) as shared:
        assert shared.editions() == own.editions()
        assert shared.campaigns() == own.campaigns()
        on = date(2025, 9, 16)
        assert shared.approval(on) == own.approval(on)
        assert shared.plan(date(2025, 9, 23)) == own.plan(date(2025, 9, 23))
        key = "TangerangNews 2025-09-16 #1"
        assert shared.links_of(key) == own.links_of(key) != ()


CLASHES = {
    "its date under another number": (
        "2025-09-16",
        47,
        "2025-09-16 is edition #1 in the file, #47 on the server: not copied",
    ),
    "its number for another date": (
        "2025-09-09",
        1,
        "edition #1 is of 2025-09-16 in the file, of 2025-09-09 on the server: not copied",
    ),
}


@pytest.mark.parametrize("clash", CLASHES, ids=list(CLASHES))
def test_an_edition_the_server_holds_otherwise_is_named(
    clash: str, stores: Stores, postgres_url: StoreURL, tmp_path: Path
) -> None:
    """The server built an edition of the file's date or number: it stays the server's.

    Neither the file's edition nor what hangs off it (its stories, links, approval,
    campaigns) is copied, even with --replace (that would renumber a published edition); one
    line names the date and both numbers (or the number and both dates), every table still
    gets its line, and the rest is copied (exit 11).
    """
    on, number, named = CLASHES[clash]
    env = {ENVIRONMENT: postgres_url.url}
    out = tmp_path / "server-out"
    args = ("--config", stores.config, "--date", on, "--number", str(number), "--out", out)
    built = run_digest("build", *args, env=env)
    assert built.returncode == 0, built.stderr
    server_before = {t.into: pg_rows(postgres_url, t) for t in HISTORY_TABLES}
    assert [row[:2] for row in server_before["editions"]] == [(number, on)]
    said = f"editions (weekly.history.sqlite3): {named}"
    for extra in ((), ("--replace",), ("--check",)):
        result = copy("--config", stores.config, *extra, url=postgres_url)
        assert result.returncode == 11, (extra, result.stdout + result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "violates" not in result.stderr and "transaction failed" not in result.stderr
        shown = said if extra != ("--check",) else said.replace("not copied", "a copy leaves")
        assert [line for line in result.stdout.splitlines() if line.startswith(shown)], (
            result.stdout
        )
        for table in ALL_TABLES:
            line_of(result.stdout, table.into)  # every table has its line
        assert "1 held back: the server has another" in line_of(result.stdout, "editions")
        assert "2 held back" in line_of(result.stdout, "campaigns")
        assert "1 held back" in line_of(result.stdout, "approvals")
        featured = len(sqlite_rows(stores.history, HISTORY_TABLES[1]))
        assert f"{featured} held back" in line_of(result.stdout, "featured")
        assert "checksum ok" in line_of(result.stdout, "plans")  # another date's: copied
        for table in (*LEDGER_TABLES, *SUPPRESSION_TABLES):
            assert "checksum ok" in line_of(result.stdout, table.into)
        assert "editions, featured, links, approvals, campaigns" in result.stderr
    # The server's edition, its stories and links as they were; the file's plan arrived.
    for table in HISTORY_TABLES:
        if table.name != "plans":
            assert pg_rows(postgres_url, table) == server_before[table.into], table.name
    assert pg_rows(postgres_url, HISTORY_TABLES[3]) == sqlite_rows(
        stores.history, HISTORY_TABLES[3]
    )


def test_check_names_a_missing_row_as_missing(stores: Stores, postgres_url: StoreURL) -> None:
    """The first row that differs and the first one missing are each their own."""
    assert copy("--config", stores.config, url=postgres_url).returncode == 0
    pg(postgres_url, "UPDATE readers SET name = 'Anna' WHERE key = 'ana@example.org'")
    pg(
        postgres_url,
        "DELETE FROM readers WHERE key IN ('imported2@example.org', 'imported3@example.org')",
    )
    check = copy("--config", stores.config, "--check", url=postgres_url)
    assert check.returncode == 11
    line = line_of(check.stdout, "readers")
    assert "1 differs in the target (first: 'ana@example.org')" in line
    assert "2 missing from the target (first: 'imported2@example.org')" in line


def test_a_dry_run_needs_no_postgresql(stores: Stores) -> None:
    """No --to, no DIGEST_DATABASE_URL, the config's store SQLite: it counts the files."""
    result = copy("--config", stores.config, "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    events = len(sqlite_rows(stores.suppressions, SUPPRESSION_TABLES[0]))
    assert f"events ({stores.suppressions.name}): {events} rows: to copy," in result.stdout
    last = result.stdout.splitlines()[-1]
    assert "dry run: nothing written" in last and "no PostgreSQL store named" in last
    # A server named is not connected to (nothing listens on port 1).
    named = copy("--config", stores.config, "--dry-run", "--to", "postgresql://x@127.0.0.1:1/n")
    assert named.returncode == 0, named.stderr
    assert named.stdout.splitlines()[-1].startswith("postgresql://x@127.0.0.1:1/n: ")


def test_replaced_rows_are_counted_apart_from_copied_ones(
    stores: Stores, postgres_url: StoreURL
) -> None:
    assert copy("--config", stores.config, url=postgres_url).returncode == 0
    (count,) = pg(postgres_url, "SELECT count(*) FROM suppressions")[0]
    pg(postgres_url, "UPDATE suppressions SET detail = 'edited on the server'")
    pg(postgres_url, "DELETE FROM forgotten")
    fixed = copy("--config", stores.config, "--replace", url=postgres_url)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert f"0 copied, 0 already there, {count} replaced" in line_of(fixed.stdout, "suppressions")
    assert re.search(
        rf": 1 of [\d,]+ rows copied, {count} replaced with the source's \(",
        fixed.stdout.splitlines()[-1],
    ), fixed.stdout


def test_the_status_hint_is_a_command_that_works(tmp_path: Path, postgres_url: StoreURL) -> None:
    """``run: …`` names the config it was given, quoted for a shell, and runs as printed."""
    import shlex

    config = tmp_path / "my news" / "newsletter.toml"
    config.parent.mkdir()
    assert run_digest("init", config).returncode == 0
    env = {ENVIRONMENT: postgres_url.url}
    status = run_digest("store", "status", "--config", config, env=env)
    assert status.returncode == 0, status.stderr
    hint = next(line for line in status.stdout.splitlines() if line.startswith("run: "))
    assert hint == f"run: digest store upgrade --config {shlex.quote(str(config))}"
    upgrade = run_digest(*shlex.split(hint.removeprefix("run: digest ")), env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    after = run_digest("store", "status", "--config", config, env=env)
    assert "run: " not in after.stdout and "version 4 of 4" in after.stdout
