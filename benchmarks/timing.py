"""What the benchmark scripts share: timing, the example, a served app, a schema of their own."""

from __future__ import annotations

import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

DIGEST = str(Path(sys.executable).parent / "digest")


def median_ms(action: Callable[[], object], repeat: int) -> float:
    """The median time of ``action`` in milliseconds, after one warm-up call."""
    action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def riverside_digest() -> object:
    """The Riverside example's edition of 30 November 2026, built as ``digest build`` does."""
    from datetime import date
    from pathlib import Path

    from digest import build_digest, load_config
    from digest.feeds.data import load_data

    config = load_config(
        Path(__file__).resolve().parent.parent / "examples" / "riverside" / "newsletter.toml"
    )
    data = load_data(config.data, config.newsletter)
    return build_digest(data.articles, config.newsletter, date(2026, 11, 30), quotes=data.quotes)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_serve(config: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """``digest serve --config config`` on a free port, once ``/health`` answers."""
    port = free_port()
    server = subprocess.Popen(
        [DIGEST, "serve", "--config", str(config), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # a line a request: a pipe nobody reads would fill
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
            return server, port
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("digest serve did not start") from None
            time.sleep(0.1)


def new_schema(base: str, prefix: str = "bench_") -> str:
    """A new schema in the PostgreSQL database ``base`` names: the URL whose sessions use it."""
    import psycopg

    schema = prefix + secrets.token_hex(4)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}".encode())
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


def drop_schema(base: str, url: str) -> None:
    """Drop the schema ``new_schema`` made for ``url``, with everything in it."""
    import psycopg

    schema = url.rsplit("%3D", 1)[1]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())


@contextmanager
def own_schema(base: str) -> Iterator[str]:
    """A schema of its own for a run (``new_schema``), dropped after it."""
    url = new_schema(base)
    try:
        yield url
    finally:
        drop_schema(base, url)
