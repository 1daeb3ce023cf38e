"""Time a weekly build from a 200-item RSS feed, against the seed edition built in memory.

Run: python benchmarks/weekly.py [--repeat N]
The weekly build reads the feed, consults and updates the edition history, renders the email
and its archive page and writes the files: everything `digest build` does from cron.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from timing import median_ms

from digest import build_digest, load_config, run_build
from digest.feeds.data import load_data
from digest.feeds.sources import Source, read_source

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "tangerangnews" / "newsletter.toml"
EDITION = date(2026, 11, 30)

CONFIG = """
out = "out"
archive = "archive"
[[sources]]
path = "feed.xml"
[newsletter]
name = "Benchmark Weekly"
timezone = "UTC"

[newsletter.contact]
postal_address = "1 Example Street"
unsubscribe_url = "https://example.org/unsubscribe"

[newsletter.layout]
sections = ["Town", "Sport", "Business", "Culture"]
teasers_per_section = 4

[newsletter.links]
archive_url = "https://example.org/archive/"

[newsletter.schedule.cadence]
every = "week"
[newsletter.sender]
name = "Benchmark Weekly"
address = "news@example.org"
[newsletter.links.tracking]
"""


def write_feed(folder: Path, items: int = 200) -> None:
    sections = ["Town", "Sport", "Business", "Culture"]
    start = datetime.combine(EDITION, datetime.min.time(), tzinfo=UTC) - timedelta(days=14)
    entries = []
    for n in range(items):
        when = start + timedelta(hours=n * 336 // items)
        entries.append(
            f"<item><title>Story {n}: a headline of an ordinary length for local news</title>"
            f"<link>https://example.org/news/{n}</link><pubDate>{format_datetime(when)}</pubDate>"
            f"<category>{sections[n % 4]}</category><description><![CDATA[<p>Summary of story "
            f"{n}, with <b>some</b> markup.</p><img src='https://example.org/img/{n}.jpg' "
            "alt='A picture'>]]></description></item>"
        )
    (folder / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        "<link>https://example.org/</link>" + "".join(entries) + "</channel></rss>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    repeat = parser.parse_args().repeat
    seed = load_config(SEED)
    seed_data = load_data(seed.data, seed.newsletter)

    def seed_build() -> object:
        return build_digest(
            seed_data.articles, seed.newsletter, date(2025, 9, 16), quotes=seed_data.quotes
        )

    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        (folder / "newsletter.toml").write_text(CONFIG)
        write_feed(folder)
        config = load_config(folder / "newsletter.toml")
        baseline = median_ms(seed_build, repeat)
        feed = median_ms(
            lambda: read_source(Source(path=folder / "feed.xml"), config.newsletter), repeat
        )
        # The same edition each time: a rebuild, as a cron retry would be.
        weekly = median_ms(lambda: run_build(config, folder / "out", on=EDITION), repeat)
        result = run_build(config, folder / "out", on=EDITION)
    print(f"{'measure':<52} {'median':>10}  ratio to seed build")
    print(f"{'seed edition, built in memory (baseline)':<52} {baseline:>7.1f} ms  1.00x")
    print(f"{'read the 200-item RSS feed':<52} {feed:>7.1f} ms  {feed / baseline:.2f}x")
    print(
        f"{'weekly build from it (files, archive, history)':<52} {weekly:>7.1f} ms  "
        f"{weekly / baseline:.2f}x"
    )
    print(f"({len(result.digest.edition.articles)} articles featured; median of {repeat} runs)")


if __name__ == "__main__":
    main()
