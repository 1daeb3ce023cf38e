"""Personalised messages per second, against the naive per-reader pipeline in the same run.

Run: python benchmarks/personalise.py [--readers 10000]
Also measures peak memory while streaming 10,000 and 100,000 readers (each in a fresh process).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

from digest import build_digest, load_config
from digest.config import load_data
from digest.message import build_message
from digest.models import Reader
from digest.personal import Mailing, unsubscribe_url_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "riverside" / "newsletter.toml"
EDITION = date(2026, 11, 30)
SEGMENTS = [None, ("town",), ("business", "culture"), ("town", "business")]


def readers(count: int) -> Iterator[Reader]:
    for n in range(count):
        yield Reader(
            address=f"reader{n}@example.org",
            name=f"Reader Number {n}",
            sections=SEGMENTS[n % len(SEGMENTS)],
            unsubscribe_token=f"token-{n:08d}",
        )


def mailing() -> Mailing:
    config = load_config(EXAMPLE)
    data = load_data(config.data, config.newsletter)
    return Mailing(build_digest(data.articles, config.newsletter, EDITION, quotes=data.quotes))


def naive_message(reader: Reader) -> bytes:
    """Everything again for one reader: select, Jinja2, MJML, premailer, EmailMessage."""
    config = load_config(EXAMPLE)
    data = load_data(config.data, config.newsletter)
    digest = build_digest(data.articles, config.newsletter, EDITION, quotes=data.quotes)
    one = Mailing(digest)
    subject, html, text = one.from_scratch(reader)
    return build_message(
        newsletter=digest.newsletter,
        subject=subject,
        html=html,
        text=text,
        sent_at=digest.sent_at,
        to=[reader.address],
        unsubscribe_url=unsubscribe_url_for(reader, digest.newsletter),
    ).as_bytes()


def peak_memory(count: int) -> None:
    """Stream ``count`` readers and print the peak resident memory in MB."""
    total = 0
    for message in mailing().messages(readers(count)):
        total += len(message.data)
    # VmHWM: the peak resident size of this process (ru_maxrss would include the parent's).
    status = Path("/proc/self/status").read_text()
    peak_kb = (
        int(status.split("VmHWM:")[1].split()[0])
        if "VmHWM:" in status
        else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    )
    print(f"{peak_kb / 1024:.1f} {total}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        peak_memory(args.memory)
        return

    sample = list(readers(20))
    start = time.perf_counter()
    for reader in sample:
        naive_message(reader)
    naive_rate = len(sample) / (time.perf_counter() - start)

    fast = mailing()
    for reader in readers(len(SEGMENTS)):  # render the four variants first, as a send would
        fast.message_bytes(reader)
    start = time.perf_counter()
    size = sum(len(m.data) for m in fast.messages(readers(args.readers)))
    one_core = args.readers / (time.perf_counter() - start)

    start = time.perf_counter()
    with ProcessPoolExecutor() as pool:
        sent = sum(1 for _ in mailing().messages(readers(args.readers), executor=pool))
    all_cores = sent / (time.perf_counter() - start)

    print(f"{'measure':<58} {'value':>14}  ratio to naive")
    print(f"{'naive per-reader pipeline (20 readers)':<58} {naive_rate:>9.1f} msg/s  1x")
    print(
        f"{f'personalised, one process ({args.readers:,} readers, 4 segments)':<58} "
        f"{one_core:>9.0f} msg/s  {one_core / naive_rate:,.0f}x"
    )
    print(
        f"{'personalised, all cores (process pool, incl. start-up)':<58} "
        f"{all_cores:>9.0f} msg/s  {all_cores / naive_rate:,.0f}x"
    )
    print(f"{'average message size':<58} {size / args.readers / 1024:>10.1f} KB")
    for count in (10_000, 100_000):
        output = subprocess.run(
            [sys.executable, __file__, "--memory", str(count)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        print(
            f"{f'peak memory streaming {count:,} readers (whole process)':<58} "
            f"{float(output[0]):>10.1f} MB"
        )


if __name__ == "__main__":
    main()
