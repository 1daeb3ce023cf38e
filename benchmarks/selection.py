"""Selection's cost per article at 1,000, 3,000 and 10,000 articles (the limit), in one run.

Run: python benchmarks/selection.py [--repeat 5]

Linear selection costs the same per article at every size; the ratio of the per-article
time at 10,000 to that at 1,000 is printed (1.0 is linear). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from timing import median_ms

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digest import Article, Newsletter, select_edition

NEWSLETTER = Newsletter(
    name="Bench",
    locale="en",
    timezone="UTC",
    sender={"name": "Bench", "address": "bench@bench.example"},
    contact={"postal_address": "1 Bench Street", "unsubscribe_url": "https://bench.example/u"},
)
ON = date(2026, 11, 30)


def articles(count: int, offset: int) -> list[Article]:
    start = datetime(2026, 11, 29, tzinfo=UTC)
    return [
        Article(
            title=f"Story {offset + n} about the river and the town",
            url=f"https://bench.example/{offset + n}/a-story?utm_source=x",
            section=f"s{n % 12}",
            published_at=start - timedelta(minutes=n),
        )
        for n in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    per_article = {}
    for count in (1_000, 3_000, 10_000):
        made = articles(count, offset=count * 10)

        def select(made: list[Article] = made) -> None:
            # Nothing is remembered between calls: each selection makes its own canonical URLs.
            select_edition(made, NEWSLETTER, ON)

        ms = median_ms(select, args.repeat)
        per_article[count] = ms * 1000 / count
        print(f"{count:>6,} articles: {ms:8.1f} ms, {per_article[count]:6.1f} µs an article")
    print(f"per-article time at 10,000 / at 1,000: x{per_article[10_000] / per_article[1_000]:.2f}")


if __name__ == "__main__":
    main()
