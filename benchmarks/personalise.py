"""Personalised messages per second in one process, against the floor and a fair naive way.

Run: python benchmarks/personalise.py [--readers 100000] [--rounds 10]

Every measure runs in interleaved rounds (floor, ours, floor, ours, ...) so that both see the
same machine load, and the ratio is taken per round:

- ours: readers as plain rows (names that need escaping, a token, a choice of sections),
  validated in bulk (``digest.mail.readers.reader_chunks``), then ``Mailing.message_bytes``;
- the floor: the least work that makes the same bytes from already-valid values: join the
  variant's pre-encoded pieces, encode the reader's values (escape, quoted-printable) and
  hash the address for the Message-ID;
- the naive way, made fair: the renderer reused, but each reader rendered, inlined and
  written from scratch (``Mailing.from_scratch`` and ``message_bytes``);
- variant rendering: the time to render the four section variants, counted into a rate
  "including variant rendering" for the given number of readers;
- tracking: ours with ``[tracking] clicks`` (each reader's links signed, ``digest.mail.tracking``)
  and with opens too, against ours without, in interleaved rounds: the ratio of the rates.

Also prints peak memory while streaming 10,000 and 100,000 readers (each in a fresh process).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from digest import build_digest, load_config
from digest.delivery.mailing import Mailing
from digest.feeds.data import load_data
from digest.mail.copies import Copies
from digest.mail.message import message_bytes
from digest.mail.mime import quoted_printable
from digest.mail.placeholders import escape, reader_values
from digest.mail.readers import reader_chunks
from digest.mail.tracking import LinkTokens
from digest.mail.unsubscribe import unsubscribe_url_for
from digest.models import Reader

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "riverside" / "newsletter.toml"
EDITION = date(2026, 11, 30)
SEGMENTS = [None, ("town",), ("business", "culture"), ("town", "business")]


def rows(count: int, start: int = 0) -> Iterator[dict[str, Any]]:
    """Readers as a CSV or a database gives them: names with characters HTML must escape."""
    for n in range(start, start + count):
        yield {
            "address": f"reader{n}@example.org",
            "name": f"O'Neil & <Sons> {n}",
            "sections": SEGMENTS[n % len(SEGMENTS)],
            "unsubscribe_token": f"token-{n:08d}",
        }


def mailing() -> Mailing:
    config = load_config(EXAMPLE)
    data = load_data(config.data, config.newsletter)
    return Mailing(build_digest(data.articles, config.newsletter, EDITION, quotes=data.quotes))


def numbered() -> Mailing:
    """The mailing of an edition with a number, as tracked links need."""
    config = load_config(EXAMPLE)
    data = load_data(config.data, config.newsletter)
    return Mailing(
        build_digest(data.articles, config.newsletter, EDITION, quotes=data.quotes, number=1)
    )


def tracking_ratios(count: int, rounds: int) -> dict[str, list[float]]:
    """Copies per second with clicks (and opens) tracked over copies without, per round."""
    digest = numbered().digest
    secret, base = "a-benchmark-secret-of-length", "https://news.riverside.example"
    makers = {
        "none": Copies(digest),
        "clicks": Copies(digest, clicks=LinkTokens(secret, "riverside", base)),
        "clicks and opens": Copies(
            digest, clicks=LinkTokens(secret, "riverside", base, opens=True)
        ),
    }
    readers = [r for chunk in reader_chunks(rows(count), 1000) for r in chunk]
    for copies in makers.values():
        for reader in readers[: len(SEGMENTS)]:
            copies.message_bytes(reader)  # the variants, rendered before the clock starts
    ratios: dict[str, list[float]] = {"clicks": [], "clicks and opens": [], "none": []}
    for _ in range(rounds):
        rates = {}
        for name, copies in makers.items():
            rates[name] = rate(lambda c=copies: [c.message_bytes(r) for r in readers], count)
        ratios["none"].append(rates["none"])
        for name in ("clicks", "clicks and opens"):
            ratios[name].append(rates[name] / rates["none"])
    return ratios


def ours(mail: Mailing, count: int, start: int) -> int:
    size = 0
    for chunk in reader_chunks(rows(count, start), 1000):
        for reader in chunk:
            size += len(mail.copies.message_bytes(reader))
    return size


def floor(mail: Mailing, count: int, start: int) -> int:
    """The same bytes' least work: pre-encoded pieces, the values encoded, the address hashed."""
    variants = {}
    for index, segment in enumerate(SEGMENTS):
        reader = Reader(address="x@example.org", name="x", sections=segment, unsubscribe_token="t")
        variants[index] = mail.copies._variant(reader, reader_values(reader, mail.copies.links))
    size = 0
    for row in rows(count, start):
        variant = variants[int(row["address"][6:].split("@")[0]) % len(SEGMENTS)]
        values = {"name": row["name"], "unsubscribe_url": row["unsubscribe_token"]}
        out = [hashlib.sha256(row["address"].encode()).hexdigest()[:12].encode()]
        for split in (variant.text, variant.html):
            out.append(split.encoded[0])
            for key, place, piece in zip(split.keys, split.places, split.encoded[1:], strict=True):
                out += (quoted_printable(escape(values.get(key, ""), place)), piece)
        size += len(b"".join(out))
    return size


def naive(mail: Mailing, reader: Reader) -> bytes:
    """Render, inline and write one reader from scratch, with the renderer reused."""
    subject, html, text = mail.copies.from_scratch(reader)
    return message_bytes(
        newsletter=mail.digest.newsletter,
        subject=subject,
        html=html,
        text=text,
        sent_at=mail.digest.sent_at,
        to=[reader.address],
        unsubscribe_url=unsubscribe_url_for(reader, mail.digest.newsletter),
    )


def rate(action: Any, count: int) -> float:
    start = time.perf_counter()
    action()
    return count / (time.perf_counter() - start)


def peak_memory(count: int) -> None:
    """Stream ``count`` readers and print the peak resident memory in MB."""
    total = 0
    mail = mailing()
    for chunk in reader_chunks(rows(count), 1000):
        for message in mail.copies.messages(chunk):
            total += len(message.data)
    status = Path("/proc/self/status").read_text()
    print(f"{int(status.split('VmHWM:')[1].split()[0]) / 1024:.1f} {total}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        peak_memory(args.memory)
        return

    # Variant rendering, counted: a fresh mailing renders each of the four variants once.
    start = time.perf_counter()
    mail = mailing()
    build_time = time.perf_counter() - start
    start = time.perf_counter()
    for chunk in reader_chunks(rows(len(SEGMENTS)), 100):
        for reader in chunk:
            mail.copies.message_bytes(reader)
    variants_time = time.perf_counter() - start

    per_round = max(args.readers // args.rounds, 1000)
    ours_rates, floor_rates, ratios = [], [], []
    for number in range(args.rounds):
        first = number * per_round
        floor_rate = rate(lambda first=first: floor(mail, per_round, first), per_round)
        our_rate = rate(lambda first=first: ours(mail, per_round, first), per_round)
        floor_rates.append(floor_rate)
        ours_rates.append(our_rate)
        ratios.append(floor_rate / our_rate)

    naive_readers = [Reader.model_validate(row) for row in rows(10, start=args.readers + 1)]
    fast_readers = next(iter(reader_chunks(rows(2000, start=args.readers + 100))))
    naive_gains = []
    for reader in naive_readers:
        naive_rate = rate(lambda reader=reader: naive(mail, reader), 1)
        fast_rate = rate(
            lambda: [mail.copies.message_bytes(r) for r in fast_readers], len(fast_readers)
        )
        naive_gains.append((naive_rate, fast_rate / naive_rate))

    our_median = statistics.median(ours_rates)
    total = args.readers / (args.readers / our_median + variants_time)
    print(f"{'measure (one process)':<62} {'value':>12}  ratio")
    print(
        f"{'floor: join pieces, encode values, hash address':<62} "
        f"{statistics.median(floor_rates):>8,.0f}/s"
    )
    print(
        f"{f'ours: {args.readers:,} readers validated + written':<62} {our_median:>8,.0f}/s  "
        f"floor is {statistics.median(ratios):.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f})"
    )
    print(
        f"{'rendering the 4 section variants (once per mailing)':<62} "
        f"{variants_time * 1000:>8.0f} ms"
    )
    print(f"{f'ours including variant rendering, {args.readers:,} readers':<62} {total:>8,.0f}/s")
    print(
        f"{'naive, fair: renderer reused, each reader from scratch':<62} "
        f"{statistics.median(g[0] for g in naive_gains):>8,.1f}/s  ours is "
        f"{statistics.median(g[1] for g in naive_gains):,.0f}x"
    )
    print(f"{'building the digest before any copy':<62} {build_time * 1000:>8.0f} ms")
    tracked = tracking_ratios(min(per_round, 20_000), max(3, args.rounds // 2))
    base_rate = statistics.median(tracked["none"])
    for name in ("clicks", "clicks and opens"):
        ratio = statistics.median(tracked[name])
        print(
            f"{f'ours with [tracking] {name} (every link signed)':<62} "
            f"{base_rate * ratio:>8,.0f}/s  {ratio:.2f}x of ours without "
            f"(rounds {min(tracked[name]):.2f}-{max(tracked[name]):.2f})"
        )
    for count in (10_000, 100_000):
        output = subprocess.run(
            [sys.executable, __file__, "--memory", str(count)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        print(
            f"{f'peak memory streaming {count:,} readers (whole process)':<62} "
            f"{float(output[0]):>8.1f} MB"
        )


if __name__ == "__main__":
    main()
