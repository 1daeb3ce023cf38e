"""Copies made by two Dask workers, their tasks impure (as digest submits them) or pure.

Run: python benchmarks/dask_chunks.py [--readers 20000] [--rounds 3]

Dask takes a task as pure unless told otherwise and hashes its arguments to name it (the
whole ``Copies`` and 1,000 readers a chunk). digest submits its chunks with ``pure=False``;
the pure way is measured beside it, and a process pool of two, in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from timing import riverside_digest

from digest.mail.copies import Copies
from digest.mail.reader_copies import make_messages


def rows(count: int) -> list[dict[str, object]]:
    return [{"address": f"reader{n}@example.org", "name": f"Reader {n}"} for n in range(count)]


def main() -> None:
    from distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    copies = Copies(riverside_digest())  # type: ignore[arg-type]
    table = rows(args.readers)
    rates: dict[str, list[float]] = {"pool": [], "dask impure": [], "dask pure": []}
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
        client.get_executor() as dask,
        ProcessPoolExecutor(max_workers=2) as pool,
    ):

        def ours(executor: Any) -> int:
            return sum(1 for _ in copies.messages(table, executor=executor, workers=2))

        def pure() -> int:
            chunks = [table[i : i + 1000] for i in range(0, len(table), 1000)]
            futures = [
                dask.submit(make_messages, copies, chunk, 1 + n * 1000)
                for n, chunk in enumerate(chunks)
            ]
            return sum(len(f.result()) for f in futures)

        ours(pool), ours(dask), pure()  # warm up: workers started, variants made
        for _ in range(args.rounds):
            for name, work in (
                ("pool", lambda: ours(pool)),
                ("dask impure", lambda: ours(dask)),
                ("dask pure", pure),
            ):
                start = time.perf_counter()
                work()
                rates[name].append(args.readers / (time.perf_counter() - start))
    for name, values in rates.items():
        print(f"  {name:<12} {statistics.median(values):>9,.0f} copies/s")
    gain = [i / p for i, p in zip(rates["dask impure"], rates["dask pure"], strict=True)]
    print(f"  impure tasks: x{statistics.median(gain):.2f} the pure way")
    against = [i / p for i, p in zip(rates["dask impure"], rates["pool"], strict=True)]
    print(f"  Dask (impure): x{statistics.median(against):.2f} the process pool")


if __name__ == "__main__":
    main()
