"""Workers that scale: two worker processes against one, with a sender that discards.

Run: python benchmarks/workers.py [--readers 100000] [--rounds 3] [--million]

Each round delivers personalised copies of the riverside edition to fresh readers (mappings,
as a CSV file or a database gives them) twice, interleaved: in this process, then with a
pool of two worker processes that make *and send* their chunks; the sender accepts each
message and keeps nothing, so what is measured is digest's own work (validation, the
ledger, making each copy, moving chunks and receipts). It prints the rates, the ratio per
round, with and without a send ledger, and the driver's own CPU per reader with two workers
(what caps them: on 2 cores, a driver that needs a whole core leaves none for a second
worker). With ``--million``, the driver's peak memory for 1,000,000 readers and two workers,
with and without a ledger (the workers are other processes). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from personalise import mailing, rows

from digest.delivery.ledger import SendLedger
from digest.delivery.senders import Outgoing, Receipt

HERE = Path(__file__).resolve().parent


class Discard:
    """A sender that accepts every message and keeps nothing."""

    batch_size = 500

    def send(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        return [Receipt(message.address, "sent", "", message.variant) for message in batch]

    def close(self) -> None:
        pass


def driver_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_against_two(readers: int, rounds: int, ledger: bool) -> None:
    mail = mailing()
    with ProcessPoolExecutor(max_workers=2) as pool, tempfile.TemporaryDirectory() as folder:
        book = SendLedger(Path(folder) / "sends.sqlite3") if ledger else None
        # Warm the workers (imports, the variants) before the first timed round.
        mail.deliver(rows(4000, 10**8), Discard, book, executor=pool, workers=2)
        mail.deliver(rows(500, 10**8 + 5000), Discard(), book)
        ones, twos, ratios, driver = [], [], [], []
        for number in range(rounds):
            first = number * 2 * readers
            start = time.perf_counter()
            report = mail.deliver(rows(readers, first), Discard(), book)
            one = readers / (time.perf_counter() - start)
            assert report.sent == readers, report.table()
            cpu, start = driver_cpu(), time.perf_counter()
            report = mail.deliver(
                rows(readers, first + readers), Discard, book, executor=pool, workers=2
            )
            two = readers / (time.perf_counter() - start)
            driver.append((driver_cpu() - cpu) / readers)
            assert report.sent == readers, report.table()
            ones.append(one)
            twos.append(two)
            ratios.append(two / one)
        if book is not None:
            book.close()
    kind = "with a ledger" if ledger else "without a ledger"
    print(f"{f'one process, {kind}':<56} {statistics.median(ones):>8,.0f}/s")
    print(
        f"{f'two worker processes, {kind}':<56} {statistics.median(twos):>8,.0f}/s  "
        f"{statistics.median(ratios):.2f}x one (rounds {min(ratios):.2f}-{max(ratios):.2f})"
    )
    cpu = statistics.median(driver) * 1e6
    print(f"{'  the driver CPU per reader with two workers':<56} {cpu:>8.1f} us")


def dask_against_one(readers: int, rounds: int) -> None:
    """Two Dask workers (a local cluster of processes) against one process, with a ledger."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("(Dask's distributed is not installed: no cluster comparison)")
        return
    mail = mailing()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
        client.get_executor() as executor,
        tempfile.TemporaryDirectory() as folder,
        SendLedger(Path(folder) / "sends.sqlite3") as book,
    ):
        mail.deliver(rows(4000, 10**8), Discard, book, executor=executor, workers=2)
        ratios = []
        for number in range(rounds):
            first = number * 2 * readers
            start = time.perf_counter()
            mail.deliver(rows(readers, first), Discard(), book)
            one = time.perf_counter() - start
            start = time.perf_counter()
            mail.deliver(
                rows(readers, first + readers), Discard, book, executor=executor, workers=2
            )
            ratios.append(one / (time.perf_counter() - start))
    print(
        f"{'two Dask workers, with a ledger':<56} {'':>8}    "
        f"{statistics.median(ratios):.2f}x one (rounds {min(ratios):.2f}-{max(ratios):.2f})"
    )


def million(ledger: bool) -> None:
    code = textwrap.dedent(
        f"""
        import sys, tempfile
        sys.path.insert(0, {str(HERE)!r})
        from concurrent.futures import ProcessPoolExecutor
        from pathlib import Path
        from workers import Discard
        from personalise import mailing, rows
        from digest.delivery.ledger import SendLedger
        mail = mailing()
        with tempfile.TemporaryDirectory() as folder, ProcessPoolExecutor(max_workers=2) as pool:
            book = SendLedger(Path(folder) / "sends.sqlite3") if {ledger} else None
            report = mail.deliver(rows(1_000_000), Discard, book, executor=pool, workers=2)
        status = open("/proc/self/status").read()
        print(report.sent, int(status.split("VmHWM:")[1].split()[0]) // 1024)
        """
    )
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    elapsed = time.perf_counter() - start
    kind = "with a ledger" if ledger else "without a ledger"
    print(
        f"{f'1,000,000 readers, two workers, {kind}: driver peak':<56} {int(out[1]):>8} MB  "
        f"({int(out[0]):,} sent in {elapsed:.0f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--million", action="store_true")
    args = parser.parse_args()
    print(f"(on {os.cpu_count()} cores; Python {sys.version.split()[0]})")
    for ledger in (True, False):
        one_against_two(args.readers, args.rounds, ledger)
    dask_against_one(args.readers, args.rounds)
    if args.million:
        for ledger in (True, False):
            million(ledger)


if __name__ == "__main__":
    main()
