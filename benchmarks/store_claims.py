"""Readers claimed and recorded per second: 1, 2 and 4 senders on PostgreSQL, one on SQLite.

Run: python benchmarks/store_claims.py [--readers 100000] [--chunk 500] [--url postgresql:///db]

Each sender is a process of its own (as on a host of its own) that walks one edition's list in
chunks, as ``digest send`` does, claiming each chunk (``SendLedger.claim``: one statement) and
recording its receipts as sent (``SendLedger.record``: one statement), with no mail server in
between: what is measured is the ledger alone. The senders read the list in the same order, as
``digest send`` processes given one file do, so they leapfrog: a chunk another sender holds
comes back unclaimed at once. The PostgreSQL runs use a schema of their own, dropped after;
``--url`` (or ``DIGEST_TEST_DATABASE_URL``) names the database. Prints readers per second and
each run's ratio to one SQLite process; asserts only that every reader was claimed once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import own_schema

from digest.delivery.ledger import open_ledger
from digest.delivery.senders import Receipt
from digest.store import parse_store_url

EDITION = "bench:2026-12-06:1"


def sender(url: str, path: str, readers: int, chunk: int, start: float) -> None:
    """One sender: claim and record every chunk it can, then print what it claimed."""
    ledger = open_ledger(path, parse_store_url(url, secret_ok=True))
    addresses = [f"reader{n:07}@example.org" for n in range(readers)]
    run = ledger.new_run()
    time.sleep(max(0.0, start - time.time()))  # every sender starts at once
    began = time.perf_counter()
    claimed = 0
    for at in range(0, readers, chunk):
        batch = addresses[at : at + chunk]
        others = ledger.claim(EDITION, batch, [""] * len(batch), run)
        mine = [a for a in batch if a not in others]
        if mine:
            ledger.record(EDITION, [Receipt(a, "sent", f"<{a}>") for a in mine])
        claimed += len(mine)
    print(json.dumps({"claimed": claimed, "seconds": time.perf_counter() - began}))
    ledger.close()


def run(url: str, path: Path, senders: int, readers: int, chunk: int) -> float:
    """Readers per second for ``senders`` processes on the store ``url``."""
    start = time.time() + 2.0  # time enough for every process to import and connect
    command = [sys.executable, __file__, "--sender", url, str(path), str(readers), str(chunk)]
    processes = [
        subprocess.Popen([*command, str(start)], stdout=subprocess.PIPE, text=True)
        for _ in range(senders)
    ]
    results = [json.loads(p.communicate()[0]) for p in processes]
    claimed = sum(r["claimed"] for r in results)
    assert claimed == readers, f"{claimed} claims for {readers} readers"
    return readers / max(r["seconds"] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--url", default=os.environ.get("DIGEST_TEST_DATABASE_URL", ""))
    parser.add_argument("--sender", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sender:
        url, path, readers, chunk, start = args.sender
        sender(url, path, int(readers), int(chunk), float(start))
        return
    if not args.url:
        sys.exit("name a PostgreSQL database: --url postgresql:///digest_test")

    print(f"{args.readers:,} readers in chunks of {args.chunk}, on {os.cpu_count()} cores")
    rates: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        rates.append(
            (
                "SQLite, 1 sender",
                run("sqlite:", Path(folder) / "a.sqlite3", 1, args.readers, args.chunk),
            )
        )
        for senders in (1, 2, 4):
            with own_schema(args.url) as url:
                rate = run(url, Path(folder) / "unused", senders, args.readers, args.chunk)
            rates.append((f"PostgreSQL, {senders} sender{'s' * (senders > 1)}", rate))
    base = rates[0][1]
    for name, rate in rates:
        print(f"{name:<24} {rate:>10,.0f} readers/s  {rate / base:>5.2f}x SQLite")


if __name__ == "__main__":
    main()
