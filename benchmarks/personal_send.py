"""What each reader's own copy costs ``digest send``, against the one ``.eml`` for everyone.

Run: python benchmarks/personal_send.py [--readers 20000] [--rounds 3]

The Riverside edition goes over 4 connections to the light sink (``sink.py``, its own
process), with a fresh ledger and the reader store as the suppression list each time, to
``--readers`` readers, in the two ways ``digest send`` has (``schedule.sending``):

- the built ``.eml`` to everyone (``send_eml``), each copy with its own ``To`` and token;
- each reader's own copy (``Mailing(Copies(digest))``, what a send to store readers who chose
  sections makes), the readers spread over four choices (all sections, and three others).

Interleaved, each round in turns first and second. It prints each way's rate and the copies'
time as a ratio of the ``.eml``'s. Nothing here asserts a time.
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
from digest.delivery.eml import send_eml
from digest.delivery.ledger import SendLedger
from digest.delivery.mailing import Mailing
from digest.delivery.providers import make_sender
from digest.delivery.send import SendOptions
from digest.mail.copies import Copies
from digest.models import Reader
from digest.pipeline import Digest
from digest.readers import ImportedReader, ReaderStore
from digest.suppression import UnsubscribeTokens

CHOICES: tuple[tuple[str, ...] | None, ...] = (None, ("town",), ("business", "culture"), ())


def store_of(folder: Path, count: int) -> tuple[ReaderStore, list[Reader]]:
    """A store of ``count`` subscribed readers, a quarter on each of ``CHOICES``."""
    readers = [
        Reader(address=f"reader{n:06}@example.org", sections=CHOICES[n % len(CHOICES)])
        for n in range(count)
    ]
    store = ReaderStore(folder / "store.sqlite3")
    now = datetime.now(UTC)
    store.import_readers(
        (
            ImportedReader(line=n + 2, address=r.address, sections=r.sections, consent_at=now)
            for n, r in enumerate(readers)
        ),
        "benchmark.csv",
    )
    return store, readers


def timed(send: object) -> float:
    """Seconds ``send`` (given a fresh ledger) takes."""
    with tempfile.TemporaryDirectory() as folder:
        ledger = SendLedger(Path(folder) / "sends.sqlite3")
        start = time.perf_counter()
        send(ledger)  # type: ignore[operator]
        took = time.perf_counter() - start
        ledger.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    digest = riverside_digest()
    assert isinstance(digest, Digest)
    tokens = UnsubscribeTokens("a benchmark secret of some length", "riverside")
    raw = email_bytes(digest, to=["reader@example.org"])
    sink = Server("sink")
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        store, readers = store_of(Path(folder), options.readers)
        addresses = [r.address for r in readers]
        check = SendOptions(suppressions=store, tokens=tokens)

        def eml(ledger: SendLedger) -> None:
            sender = make_sender(settings(sink.port))
            report = send_eml(raw, addresses, sender, ledger, check)
            sender.close()
            assert report.sent == len(readers), report.sent

        def copies(ledger: SendLedger) -> None:
            sender = make_sender(settings(sink.port))
            mailing = Mailing(Copies(digest, tokens=tokens))
            report = mailing.deliver(readers, sender, ledger, check)
            sender.close()
            assert report.sent == len(readers), report.sent

        try:
            for round_ in range(1, options.rounds + 1):
                if round_ % 2:  # the order alternates, so a drift of the machine cancels
                    before, after = timed(eml), timed(copies)
                else:
                    after, before = timed(copies), timed(eml)
                ratios.append(after / before)
                print(
                    f"round {round_}: the .eml {options.readers / before:,.0f}/s, "
                    f"own copies {options.readers / after:,.0f}/s: "
                    f"own copies take {after / before:.2f}x the .eml's time"
                )
        finally:
            sink.stop()
            store.close()
    print(
        f"median: own copies take {statistics.median(ratios):.2f}x the .eml's time "
        f"(rounds {min(ratios):.2f}-{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
