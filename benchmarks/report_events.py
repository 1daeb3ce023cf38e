"""``digest report`` over a million events: the time it takes and the memory it needs.

Run: python benchmarks/report_events.py [--readers 100000] [--events 1000000]
[--url postgresql:///digest_test]

The Riverside edition is built and recorded in a history with its links; a ledger records
it sent to ``--readers`` readers (each with a provider's message id); ``--events`` events are
written into the suppression list: opens, clicks on the edition's links (a tenth of them a
link scanner's), bounces, complaints and unsubscribes, half naming the edition (as click
tracking does) and half only a message id (as provider webhooks do), and a share about
another edition. The report runs in a fresh process, so its peak memory (max RSS) is its
own; the Python heap's peak (tracemalloc, in a second run: it slows the timed one) is printed
too. With ``--url``, the same ledger and
events are written to a schema of their own in that PostgreSQL database (dropped after), and
the report runs again on that store: its time, its memory, and the same figures.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from timing import drop_schema, new_schema, riverside_digest

ROOT = Path(__file__).resolve().parent.parent


def prepare(folder: Path, readers: int, events: int) -> Path:
    """A config with a history, a ledger and a suppression list full of events; its path."""
    from digest import load_config
    from digest.delivery.ledger import SendLedger
    from digest.link_map import link_map
    from digest.pipeline import Digest
    from digest.schedule.config import suppression_path
    from digest.schedule.history import History, record_built
    from digest.store.connection import transaction
    from digest.suppression import SuppressionList

    shutil.copytree(ROOT / "examples" / "riverside", folder / "riverside")
    config_path = folder / "riverside" / "newsletter.toml"
    text = config_path.read_text().replace("history = false", 'history = "weekly.history.sqlite3"')
    config_path.write_text(text)
    config = load_config(config_path)
    digest = riverside_digest()
    assert isinstance(digest, Digest)
    digest = Digest(
        **{**digest.__dict__, "edition": digest.edition.model_copy(update={"number": 48})}
    )
    assert isinstance(config.history, Path)
    with History(config.history) as history, transaction(history.db):
        record_built(history, digest)
    key = digest.edition_key
    links = [link.url for link in link_map(digest.edition, digest.html)]
    sent = datetime(2026, 11, 30, 7, tzinfo=UTC)
    ledger_file = config.beside_history(".sends.sqlite3")
    assert ledger_file is not None
    with SendLedger(ledger_file) as ledger, transaction(ledger.db):
        ledger.db.executemany(
            "INSERT INTO deliveries VALUES (?, ?, 'sent', ?, '', ?, '')",
            (
                (key, f"r{n}@example.org", f"pm-{n}", sent.isoformat(timespec="seconds"))
                for n in range(readers)
            ),
        )
    rng = random.Random(48)
    kinds = ["opened"] * 40 + ["clicked"] * 54 + ["soft-bounce"] * 2 + ["hard-bounce"] * 2
    kinds += ["complaint", "unsubscribed"]
    moment0 = (sent - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)

    def rows():  # type: ignore[no-untyped-def]
        for n in range(events):
            reader = rng.randrange(readers)
            reason = rng.choice(kinds)
            url = rng.choice(links) if reason == "clicked" else ""
            detail = "scanner" if reason == "clicked" and n % 10 == 0 else ""
            other = n % 20 == 0  # another edition's
            edition = ("Riverside Weekly 2026-11-23 #47" if other else key) if n % 2 else ""
            message = "" if n % 2 else f"pm-{reader}"
            moment = moment0 + n * 1000
            at = (sent + timedelta(microseconds=n * 1000)).isoformat(timespec="seconds")
            yield (f"e{n}", f"r{reader}@example.org", reason, "bench", at, detail, message,
                   moment, n + 1, edition, url)  # fmt: skip

    with SuppressionList(suppression_path(config)) as listed, transaction(listed.db):
        listed.db.executemany(
            "INSERT INTO events (id, address, reason, source, at, detail, message, moment,"
            " arrival, edition, url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
    return config_path


def to_server(config_path: Path, base: str) -> str:
    """The config's history, ledger and events copied to a new schema of ``base``; its URL."""
    import sqlite3

    import psycopg

    from digest import load_config
    from digest.schedule.config import suppression_path
    from digest.store import parse_store_url
    from digest.store.copy import Source, copy_store

    url = new_schema(base, "bench_report_")
    config = load_config(config_path)
    # The history (the report finds the edition and its links there) as `digest store copy`
    # copies it, which upgrades the schema first; the big tables below with COPY.
    assert isinstance(config.history, Path)
    copied = copy_store([Source("history", config.history)], parse_store_url(url, secret_ok=True))
    assert copied.error() is None, copied.error()
    ledger_file = config.beside_history(".sends.sqlite3")
    assert ledger_file is not None
    copies = [
        (ledger_file, "deliveries", "edition, address, state, detail, variant, updated, run"),
        (suppression_path(config), "events", "id, address, reason, source, at, detail, message,"
         " moment, arrival, edition, url"),
    ]  # fmt: skip
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        for path, table, columns in copies:
            db = sqlite3.connect(path)
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN".encode()) as copy:
                for row in db.execute(f"SELECT {columns} FROM {table}"):
                    copy.write_row(row)
            db.close()
    return url


def measure(config_path: Path, url: str = "") -> tuple[float, int, int, dict[str, int]]:
    """Run the report in this (fresh) process: seconds, heap peak, max RSS (KiB), figures."""
    import os

    from digest import load_config
    from digest.report import report
    from digest.store import ENVIRONMENT

    os.environ[ENVIRONMENT] = url
    config = load_config(config_path)
    # Timed without tracemalloc, which slows every allocation (the copy from a server makes
    # a tuple a row); then once more under it for the heap's peak.
    start = time.perf_counter()
    figures = report(config)
    elapsed = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    report(config)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    counts = {
        name: getattr(figures, name)
        for name in ("sent", "delivered", "hard_bounces", "complaints", "opens", "clicks")
    }
    counts |= {"total_clicks": figures.total_clicks, "scanner_clicks": figures.scanner_clicks}
    return elapsed, peak, rss, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--url", default="", help="also on this PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        start = time.perf_counter()
        config_path = prepare(Path(temporary), args.readers, args.events)
        print(f"prepared {args.events:,} events for {args.readers:,} readers "
              f"in {time.perf_counter() - start:.1f} s")  # fmt: skip
        runs = [("SQLite", "")]
        if args.url:
            start = time.perf_counter()
            runs.append(("PostgreSQL", to_server(config_path, args.url)))
            print(f"copied to PostgreSQL in {time.perf_counter() - start:.1f} s")
        figures = []
        try:
            for name, url in runs:
                with ProcessPoolExecutor(1) as fresh:
                    elapsed, peak, rss, counts = fresh.submit(measure, config_path, url).result()
                print(f"digest report on {name}: {elapsed:.2f} s, Python heap peak "
                      f"{peak / 1024:.0f} KiB, max RSS {rss / 1024:.0f} MiB")  # fmt: skip
                print(", ".join(f"{name} {value:,}" for name, value in counts.items()))
                figures.append(counts)
        finally:
            if args.url:
                drop_schema(args.url, runs[1][1])
    if len(figures) == 2:
        print("the same figures on both" if figures[0] == figures[1] else "FIGURES DIFFER")
        if figures[0] != figures[1]:
            raise SystemExit(1)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
