"""Personalised copies with DKIM signing against without, measured in the same run.

Run: python benchmarks/signing.py [--readers 2000] [--rounds 5]

Rounds interleave the measures so that all see the same machine load, and ratios are taken
per round:

- without: ``Mailing.message_bytes`` for each reader (the copy as it is sent unsigned);
- with: the same copy signed by ``digest.delivery.dkim.DkimSigner`` (RSA 2048, the header put
  in front of the bytes as they are);
- re-serialised: the naive way, the copy parsed into an ``email`` message, written out again
  and signed (what signing through the ``email`` package costs);
- dkimpy: the copy signed by ``dkim.sign`` (the same headers, relaxed/relaxed), whose RSA is
  computed in Python.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dkim
from timing import riverside_digest

from digest.delivery.dkim import SIGNED_HEADERS, DkimSigner
from digest.delivery.mailing import Mailing
from digest.delivery.settings import DkimSettings
from digest.models import Reader
from tests.mailservers import DkimKey


def rate(work: Callable[[Reader], object], readers: list[Reader]) -> float:
    start = time.perf_counter()
    for reader in readers:
        work(reader)
    return len(readers) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    digest: Any = riverside_digest()
    mailing = Mailing(digest)
    readers = [
        Reader(address=f"reader{n}@example.org", name=f"Reader {n}", unsubscribe_token=f"t{n}")
        for n in range(args.readers)
    ]
    with tempfile.TemporaryDirectory() as folder:
        key = DkimKey(Path(folder), domain="riverside.example")
        signer = DkimSigner(
            DkimSettings(selector=key.selector, domain=key.domain, key_file=key.path)
        )
        sender = digest.newsletter.sender.address
        signed = signer.sign(mailing.copies.message_bytes(readers[0]), sender)
        assert key.verify(signed), "the benchmark's signature does not verify"

        def plain(reader: Reader) -> bytes:
            return mailing.copies.message_bytes(reader)

        def with_dkim(reader: Reader) -> bytes:
            return signer.sign(mailing.copies.message_bytes(reader), sender)

        def reserialised(reader: Reader) -> bytes:
            message = message_from_bytes(mailing.copies.message_bytes(reader), policy=policy.SMTP)
            return signer.sign(message.as_bytes(), sender)

        headers = [name.encode() for name in SIGNED_HEADERS]
        pem = key.path.read_bytes()

        def with_dkimpy(reader: Reader) -> bytes:
            data = mailing.copies.message_bytes(reader)
            selector, domain = key.selector.encode(), key.domain.encode()
            canonical = (b"relaxed", b"relaxed")
            header = dkim.sign(
                data, selector, domain, pem, canonicalize=canonical, include_headers=headers
            )
            return bytes(header) + data

        assert key.verify(with_dkimpy(readers[0]))
        plain(readers[0]), with_dkim(readers[0]), reserialised(readers[0])  # warm up
        rows: dict[str, list[float]] = {
            "without": [],
            "with": [],
            "re-serialised": [],
            "dkimpy": [],
        }
        few = readers[: max(1, len(readers) // 10)]
        for _ in range(args.rounds):
            rows["without"].append(rate(plain, readers))
            rows["with"].append(rate(with_dkim, readers))
            rows["re-serialised"].append(rate(reserialised, few))
            rows["dkimpy"].append(rate(with_dkimpy, few))
    size = len(signed) / 1024
    print(f"{args.readers:,} readers, {args.rounds} rounds, copies of {size:.0f} KB (median)")
    for name, rates in rows.items():
        print(f"  {name:<14} {statistics.median(rates):>9,.0f} copies/s")
    cost = [w / s for w, s in zip(rows["without"], rows["with"], strict=True)]
    gain = [s / r for s, r in zip(rows["with"], rows["re-serialised"], strict=True)]
    print(f"  signing costs x{statistics.median(cost):.2f} the unsigned time per copy")
    print(f"  signing the bytes as they are: x{statistics.median(gain):.2f} the re-serialising way")
    faster = [s / d for s, d in zip(rows["with"], rows["dkimpy"], strict=True)]
    print(f"  digest's signer: x{statistics.median(faster):.2f} dkimpy's")


if __name__ == "__main__":
    main()
