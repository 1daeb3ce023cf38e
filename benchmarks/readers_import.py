"""Readers imported per second from a Mailchimp-shaped export, against reading it alone.

Run: python benchmarks/readers_import.py [--rows 1000000]

Writes a CSV with the header of Mailchimp's subscribed export, then times, in one run:

- the floor: reading the same file with ``csv.reader`` alone;
- ours: each row as an ``ImportedReader`` into ``ReaderStore.import_readers`` (one
  transaction), streamed row by row.

Prints rows per second for each, their ratio, and peak memory (tracemalloc) of the import.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from digest.readers import ImportedReader, ReaderStore

HEADER = [
    "Email Address", "First Name", "Last Name", "Address", "Phone Number", "Birthday",
    "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE",
    "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID",
    "EUID", "NOTES", "TAGS",
]  # fmt: skip


def write(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(rows):
            writer.writerow(
                [f"Reader{n}@example.org", f"Reader{n}", "Example", "", "", "", "2",
                 "2025-01-02 03:04:05", "", "2025-01-02 03:05:06", "198.51.100.7", "", "", "",
                 "", "Europe/Paris", "FR", "", "2025-01-02 03:05:06", str(n), f"e{n}", "", ""]
            )  # fmt: skip


def rows_of(path: Path) -> Iterator[ImportedReader]:
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        next(reader)
        for line, row in enumerate(reader, start=2):
            yield ImportedReader(
                line=line,
                address=row[0],
                name=row[1],
                timezone=row[15],
                consent_at=datetime.fromisoformat(row[9] + "+00:00"),
            )


def main() -> None:
    """Print the floor's and the import's rows per second, their ratio and peak memory."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "subscribed_members_export.csv"
        write(source, rows)
        start = time.perf_counter()
        with source.open(newline="", encoding="utf-8") as file:
            floor_rows = sum(1 for _ in csv.reader(file)) - 1
        floor = time.perf_counter() - start
        tracemalloc.start()
        start = time.perf_counter()
        with ReaderStore(Path(folder) / "list.sqlite3") as store:
            summary = store.import_readers(rows_of(source), source.name + " (mailchimp)")
        ours = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(f"rows: {rows:,} ({summary.added:,} added)")
    print(f"csv.reader alone: {floor_rows / floor:,.0f} rows/s")
    print(f"import_readers:   {rows / ours:,.0f} rows/s ({ours:.1f} s)")
    print(f"ratio: {floor / ours:.3f}x of reading alone")
    print(f"peak memory (tracemalloc) of the import: {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
