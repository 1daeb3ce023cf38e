"""What asking the reader store costs a send, against asking the suppression list alone.

Run: python benchmarks/store_check.py [--readers 100000] [--rounds 3]

One built edition (the Riverside example's) is sent in this process with ``send_eml`` over
4 connections to the light sink (``sink.py``, its own process), with a fresh ledger each
time, to ``--readers`` addresses of which 2 % are suppressed. Interleaved, each round (in
turns first and second):

- the suppression list (``SuppressionList``, what every send asked before the store) as the
  send's ``suppressions``;
- the reader store (``ReaderStore``) in its place, holding every reader as subscribed with a
  consent record, the same 2 % suppressed, and the secret that finds forgotten addresses set.

It prints each send's rate and the store's time as a ratio of the list's, per round, and
the check alone (``suppressed`` over every address) for both. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from deliver import Server, settings
from timing import riverside_digest

from digest import email_bytes
from digest.addresses import address_key
from digest.delivery.eml import send_eml
from digest.delivery.ledger import SendLedger
from digest.delivery.providers import make_sender
from digest.delivery.send import SendOptions
from digest.readers import ImportedReader, ReaderStore
from digest.suppression import SuppressionList

SECRET = b"a benchmark secret of some length"


def stores(folder: Path, count: int) -> tuple[SuppressionList, ReaderStore, list[str]]:
    """The list and the store, each with 2 % of ``count`` readers suppressed."""
    addresses = [f"reader{n:06}@example.org" for n in range(count)]
    listed = SuppressionList(folder / "list.sqlite3")
    store = ReaderStore(folder / "store.sqlite3", secret=SECRET)
    now = datetime.now(UTC)
    store.import_readers(
        (
            ImportedReader(line=n + 2, address=address, consent_at=now)
            for n, address in enumerate(addresses)
        ),
        "benchmark.csv",
    )
    for address in addresses[::50]:
        listed.add(address, "unsubscribed", "benchmark")
        store.unsubscribe(address, source="benchmark")
    return listed, store, addresses


def send(raw: bytes, addresses: list[str], port: int, checker: SuppressionList) -> float:
    """Seconds to send ``raw`` to ``addresses`` asking ``checker``, with a fresh ledger."""
    with tempfile.TemporaryDirectory() as folder:
        ledger = SendLedger(Path(folder) / "sends.sqlite3")
        sender = make_sender(settings(port))
        start = time.perf_counter()
        report = send_eml(raw, addresses, sender, ledger, SendOptions(suppressions=checker))
        took = time.perf_counter() - start
        sender.close()
        ledger.close()
    assert report.sent == len(addresses) - len(addresses[::50]), report.sent
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    raw = email_bytes(riverside_digest(), to=["reader@example.org"])  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        listed, store, addresses = stores(Path(folder), options.readers)
        print(f"{options.readers:,} readers in the store in {time.perf_counter() - started:.1f} s")
        keys = [address_key(a) for a in addresses]
        for name, checker in (("suppression list", listed), ("reader store", store)):
            began = time.perf_counter()
            found = checker.suppressed(keys)
            took = time.perf_counter() - began
            print(f"check alone, {name}: {took * 1000:.0f} ms, {len(found):,} left out")
        sink = Server("sink")
        ratios = []
        try:
            for round_ in range(1, options.rounds + 1):
                if round_ % 2:  # the order alternates, so a drift of the machine cancels
                    before = send(raw, addresses, sink.port, listed)
                    after = send(raw, addresses, sink.port, store)
                else:
                    after = send(raw, addresses, sink.port, store)
                    before = send(raw, addresses, sink.port, listed)
                ratios.append(after / before)
                print(
                    f"round {round_}: suppression list {options.readers / before:,.0f}/s, "
                    f"reader store {options.readers / after:,.0f}/s: "
                    f"the store's send takes {after / before:.3f}x the list's"
                )
        finally:
            sink.stop()
            listed.close()
            store.close()
    print(
        f"median: the store's send takes {statistics.median(ratios):.3f}x the list's "
        f"(rounds {min(ratios):.3f}-{max(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
