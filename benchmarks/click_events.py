"""Clicks recorded by ``digest serve``: the rate, nothing lost, and the redirect's latency.

Run: python benchmarks/click_events.py [--clicks 5000] [--clients 8]

The Riverside example is built with a history (which records its links) and ``[tracking]
clicks = true``; ``digest serve`` runs as its own process (one uvicorn worker, as ``digest
serve`` always runs) and ``--clients`` threads, each on one kept-alive connection, follow
tracked links of ``--clicks`` different readers (each reader one link, sent an hour ago: no
scanner). It prints the clicks answered per second, the p50 and p99 of each redirect's
latency as the client saw it, and, once the server has stopped (it writes what it holds
when it stops), the clicked events in the suppression list: the same number as the
redirects answered, or the run says how many were lost. Asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from timing import DIGEST, start_serve

from digest.mail.message import list_id
from digest.mail.tracking import LinkTokens
from digest.schedule.config import load_config, suppression_path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "a-secret-for-the-click-benchmark"
BASE = "https://news.riverside.example"


def prepare(folder: Path) -> Path:
    """The Riverside example with a history and click tracking, built once."""
    shutil.copytree(ROOT / "examples" / "riverside", folder / "riverside")
    config = folder / "riverside" / "newsletter.toml"
    text = config.read_text().replace("history = false", 'history = "history.sqlite"')
    config.write_text(text + f'\n[tracking]\nclicks = true\nbase_url = "{BASE}"\n')
    subprocess.run(
        [
            DIGEST,
            "build",
            "--config",
            str(config),
            "--date",
            "2026-11-30",
            "--out",
            str(folder / "out"),
            "-q",
        ],
        check=True,
        env={**os.environ, "DIGEST_UNSUBSCRIBE_SECRET": SECRET},
    )
    return config


def client(port: int, paths: list[str], latencies: list[float], answered: list[int]) -> None:
    """Follow each path on one kept-alive connection; note each latency and each 302."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for path in paths:
        start = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - start)
        if response.status == 302:
            answered.append(1)
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clicks", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config_path = prepare(Path(folder))
        config = load_config(config_path)
        tokens = LinkTokens(
            SECRET, list_id(config.newsletter), BASE, clock=lambda: time.time() - 3600
        )
        paths = []
        for n in range(args.clicks):
            (url,), _ = tokens.urls(1, f"reader{n}@example.org", [n % 5])
            paths.append(url.removeprefix(BASE))
        env = {**os.environ, "DIGEST_UNSUBSCRIBE_SECRET": SECRET}
        server, port = start_serve(config_path, env)
        latencies: list[float] = []
        answered: list[int] = []
        shares = [paths[i :: args.clients] for i in range(args.clients)]
        threads = [
            threading.Thread(target=client, args=(port, share, latencies, answered))
            for share in shares
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        with sqlite3.connect(suppression_path(config)) as db:
            (recorded,) = db.execute(
                "SELECT count(*) FROM events WHERE reason = 'clicked' AND detail = ''"
            ).fetchone()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"{'measure (digest serve, one uvicorn worker)':<52} {'value':>12}")
    print(f"{'clicks answered (302)':<52} {len(answered):>12,}")
    per_second = len(answered) / elapsed
    label = f"clicks per second, {args.clients} clients kept alive"
    print(f"{label:<52} {per_second:>10,.0f}/s")
    print(f"{'redirect latency p50':<52} {p50:>9.2f} ms")
    print(f"{'redirect latency p99':<52} {p99:>9.2f} ms")
    lost = len(answered) - recorded
    said = "none lost" if not lost else f"{lost} lost"
    print(f"{'clicked events in the store':<52} {recorded:>12,}  ({said})")


if __name__ == "__main__":
    main()
