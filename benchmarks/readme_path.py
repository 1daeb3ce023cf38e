"""The README's way of making copies against the fastest path, in one run.

Run: python benchmarks/readme_path.py [--readers 20000] [--rounds 5]

- the README's way: ``reader_messages(digest, rows)`` with plain rows (dicts);
- the fastest path: ``reader_chunks(rows)`` and ``Copies.message_bytes`` for each reader;
- Reader objects made one by one and passed to ``digest.messages`` (the old README's way).

Rounds interleave the three; the ratios are per round, medians printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from timing import riverside_digest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digest import Reader, reader_messages
from digest.mail.copies import Copies
from digest.mail.readers import reader_chunks


def rows(count: int) -> list[dict[str, object]]:
    return [
        {
            "address": f"reader{n}@example.org",
            "name": f"O'Neil & <Sons> {n}",
            "unsubscribe_token": f"t-{n}",
        }
        for n in range(count)
    ]


def rate(work: Callable[[], int], count: int) -> float:
    start = time.perf_counter()
    work()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    digest: Any = riverside_digest()
    copies = Copies(digest)
    table = rows(args.readers)

    def readme() -> int:
        return sum(len(m.data) for m in reader_messages(digest, table))

    def fastest() -> int:
        return sum(len(copies.message_bytes(r)) for chunk in reader_chunks(table) for r in chunk)

    def objects() -> int:
        return sum(len(m.data) for m in reader_messages(digest, [Reader(**row) for row in table]))

    readme(), fastest(), objects()  # warm up: variants rendered, caches filled
    rates: dict[str, list[float]] = {"readme": [], "fastest": [], "objects": []}
    for _ in range(args.rounds):
        rates["readme"].append(rate(readme, args.readers))
        rates["fastest"].append(rate(fastest, args.readers))
        rates["objects"].append(rate(objects, args.readers))
    for name, values in rates.items():
        print(f"  {name:<8} {statistics.median(values):>9,.0f} copies/s")
    ratio = [f / r for f, r in zip(rates["fastest"], rates["readme"], strict=True)]
    print(
        f"  the fastest path is x{statistics.median(ratio):.2f} the README's way (target: <= 1.2)"
    )


if __name__ == "__main__":
    main()
