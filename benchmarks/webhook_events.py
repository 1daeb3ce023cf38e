"""Webhook events recorded per second by ``digest serve``: SQLite, PostgreSQL, two servers.

Run: python benchmarks/webhook_events.py [--events 3000] [--clients 8] [--rounds 2]
     [--url postgresql:///db]

``digest serve`` runs as its own process (one uvicorn worker, as ``digest serve`` always
runs), its secrets in the environment, and ``--clients`` threads, each on one kept-alive
connection, post ``--events`` webhooks of as many readers: Postmark hard bounces and Resend
bounces and complaints in turn, the providers' payloads from ``tests/fixtures/webhooks``
(django-anymail's, BSD 3-clause) with each one's id and address its own, Resend's signed
with ``svix`` before the clock starts. Each event is posted once, and each is new: a
transaction a request. The runs, each on a fresh store: one server on the SQLite file beside
the config (the baseline), two servers on that file, then one, two and four servers (past
the two cores) on a schema of their own in the PostgreSQL database ``--url`` (or
``DIGEST_TEST_DATABASE_URL``) names, dropped after; without one the PostgreSQL runs are
skipped, saying so. Several servers take the clients in turns. Rounds are interleaved and
the medians printed: events per second, each run's ratio to the baseline, p50 and p99 of a
post's latency, and where the machine's cores went (``/proc``: the servers, PostgreSQL's
processes, this process's clients, anything else running, idle, waiting for the disk).
Asserts only that every event answered 200 and is in the store once.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import tempfile
import threading
import time
from base64 import b64encode
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import svix.webhooks as svix
from timing import own_schema, start_serve

from digest.schedule.config import load_config, suppression_path
from digest.store import StoreURL, parse_store_url
from digest.suppression import Event, SuppressionList

ROOT = Path(__file__).resolve().parent.parent
PAYLOADS = ROOT / "tests" / "fixtures" / "webhooks"
PASSWORD = "pm-password-for-the-benchmark"
RESEND_SECRET = "whsec_" + b64encode(b"resend-secret-for-the-benchmark").decode()
TICKS = os.sysconf("SC_CLK_TCK")


def prepare(folder: Path) -> Path:
    """The Riverside example's config, copied (its suppression list goes beside it)."""
    shutil.copytree(ROOT / "examples" / "riverside", folder)
    return folder / "newsletter.toml"


def payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return loaded


Request = tuple[str, bytes, dict[str, str]]


def requests(count: int, tag: str) -> list[Request]:
    """``count`` webhooks, each a new event of a reader of its own (``tag`` keeps runs apart)."""
    auth = "Basic " + b64encode(f"postmark:{PASSWORD}".encode()).decode()
    bounce = payload("postmark-bounce")
    kinds = [payload("resend-bounced"), payload("resend-complained")]
    now = datetime.now(UTC)
    made: list[Request] = []
    for n in range(count):
        address = f"reader{n:07}.{tag}@example.org"
        if n % 2 == 0:
            body = {**bounce, "ID": n, "Email": address, "MessageID": f"{tag}-{n}"}
            headers = {"authorization": auth, "content-type": "application/json"}
            made.append(("/webhooks/postmark", json.dumps(body).encode(), headers))
            continue
        event = kinds[(n // 2) % 2]
        data = json.dumps({**event, "data": {**event["data"], "to": [address]}})
        msg_id = f"msg_{tag}_{n}"
        signature = svix.Webhook(RESEND_SECRET).sign(msg_id=msg_id, timestamp=now, data=data)
        headers = {
            "svix-id": msg_id,
            "svix-timestamp": str(int(now.timestamp())),
            "svix-signature": signature,
            "content-type": "application/json",
        }
        made.append(("/webhooks/resend", data.encode(), headers))
    return made


def client(port: int, share: list[Request], latencies: list[float], failed: list[str]) -> None:
    """Post each request on one kept-alive connection; note each latency and any failure."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()
    # http.client writes a request's headers and its body apart: without this, Nagle's
    # algorithm holds the body until the server's delayed ACK, 40 ms a post.
    assert connection.sock is not None
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for path, body, headers in share:
        start = time.perf_counter()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read()
        latencies.append(time.perf_counter() - start)
        if response.status != 200 or json.loads(text) != {"events": 1, "new": 1}:
            failed.append(f"{path} {response.status} {text[:80]!r}")
    connection.close()


def cpu_ticks() -> dict[str, int]:
    """The machine's busy and idle ticks, and PostgreSQL's processes' (``/proc``)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    postgres = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue  # gone meanwhile
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :]
        if name.startswith("postgres"):
            parts = rest.split()
            postgres += int(parts[11]) + int(parts[12])  # utime, stime
    return {"total": sum(fields), "idle": fields[3], "iowait": fields[4], "postgres": postgres}


def process_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        parts = stat.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


@dataclass
class Result:
    """One run: the rate, latencies, CPU a event (ms) and the machine's shares meanwhile."""

    rate: float
    p50: float
    p99: float
    cpu: dict[str, float] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)


class Meter:
    """CPU ticks of the servers, PostgreSQL and this process, and the machine's, over a run."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.machine, self.own = cpu_ticks(), os.times()
        self.served = sum(process_ticks(pid) for pid in pids)
        self.start = time.perf_counter()

    def result(self, events: int, latencies: list[float]) -> Result:
        """The run's ``Result``, ``events`` done by now."""
        elapsed = time.perf_counter() - self.start
        after, own = cpu_ticks(), os.times()
        served = sum(process_ticks(pid) for pid in self.pids) - self.served
        total = after["total"] - self.machine["total"]
        mine = (own.user + own.system - self.own.user - self.own.system) * TICKS
        postgres = after["postgres"] - self.machine["postgres"]
        idle = after["idle"] - self.machine["idle"]
        iowait = after["iowait"] - self.machine["iowait"]
        ms = 1000 / TICKS / events
        latencies.sort()
        return Result(
            events / elapsed,
            statistics.median(latencies) * 1000,
            latencies[int(len(latencies) * 0.99) - 1] * 1000,
            {"servers": served * ms, "postgres": postgres * ms, "clients": mine * ms},
            {
                "other": max(0.0, total - served - postgres - mine - idle - iowait) / total,
                "idle": idle / total,
                "iowait": iowait / total,
            },
        )


def run(config: Path, env: dict[str, str], servers: int, events: int, clients: int) -> Result:
    """Events per second for ``servers`` processes on the store ``env`` names."""
    posts = requests(events, secrets.token_hex(3))
    started = [start_serve(config, env) for _ in range(servers)]
    try:
        shares = [posts[i::clients] for i in range(clients)]
        latencies: list[float] = []
        failed: list[str] = []
        threads = [
            threading.Thread(
                target=client, args=(started[i % servers][1], share, latencies, failed)
            )
            for i, share in enumerate(shares)
        ]
        meter = Meter([server.pid for server, _ in started])
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result = meter.result(events, latencies)
    finally:
        for server, _ in started:
            server.send_signal(signal.SIGINT)
        for server, _ in started:
            server.wait(timeout=60)
    if failed:
        raise SystemExit(f"{len(failed)} posts failed, the first: {failed[0]}")
    return result


def alone(store: Path | StoreURL, events: int) -> Result:
    """The suppression list alone: ``events`` recorded one after another in this process."""
    tag = secrets.token_hex(3)
    made = [
        Event(f"reader{n:07}.{tag}@example.org", "hard-bounce", "postmark", f"alone:{tag}:{n}")
        for n in range(events)
    ]
    latencies = []
    with SuppressionList(store) as listed:
        meter = Meter([])
        for event in made:
            start = time.perf_counter()
            assert listed.record(event)
            latencies.append(time.perf_counter() - start)
        return meter.result(events, latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--url", default=os.environ.get("DIGEST_TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    env = {
        **os.environ,
        "DIGEST_UNSUBSCRIBE_SECRET": "a-secret-for-the-webhook-benchmark",
        "DIGEST_POSTMARK_WEBHOOK_PASSWORD": PASSWORD,
        "DIGEST_RESEND_WEBHOOK_SECRET": RESEND_SECRET,
    }
    env.pop("DIGEST_DATABASE_URL", None)
    psycopg: Any = None
    if not args.url:
        print("PostgreSQL skipped: name a database with --url or DIGEST_TEST_DATABASE_URL")
    else:
        try:
            import psycopg

            psycopg.connect(args.url, connect_timeout=5).close()
        except ImportError:
            print("PostgreSQL skipped: the postgresql extra (psycopg) is not installed")
            args.url = ""
        except psycopg.Error as error:
            print(f"PostgreSQL skipped: {args.url} does not answer: {str(error).splitlines()[0]}")
            args.url = ""
    plans = [
        ("SQLite, 1 server", "sqlite", 1),
        ("SQLite, 2 servers", "sqlite", 2),
        ("SQLite, the list alone", "sqlite", 0),
    ]
    if args.url:
        with psycopg.connect(args.url, autocommit=True) as conn:
            settings = [
                f"{name} = {conn.execute(f'SHOW {name}'.encode()).fetchone()[0]}"
                for name in ("synchronous_commit", "fsync", "wal_sync_method")
            ]
        print("PostgreSQL:", ", ".join(settings))
        plans += [
            ("PostgreSQL, 1 server", "postgresql", 1),
            ("PostgreSQL, 2 servers", "postgresql", 2),
            ("PostgreSQL, 4 servers", "postgresql", 4),
            ("PostgreSQL, the list alone", "postgresql", 0),
        ]
    print(
        f"{args.events:,} webhook events (Postmark and Resend in turn), {args.clients} clients"
        f" kept alive, {args.rounds} rounds, on {os.cpu_count()} cores"
    )
    results: dict[str, list[Result]] = {name: [] for name, _, _ in plans}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for number, (name, backend, servers) in enumerate(plans):
                config = prepare(Path(folder) / f"{round_}-{number}")
                if backend == "sqlite":
                    store: Path | StoreURL = suppression_path(load_config(config))
                    if servers:
                        results[name].append(run(config, env, servers, args.events, args.clients))
                    else:
                        results[name].append(alone(store, args.events))
                    with sqlite3.connect(store) as db:
                        (recorded,) = db.execute("SELECT count(*) FROM events").fetchone()
                else:
                    with own_schema(args.url) as url:
                        on = {**env, "DIGEST_DATABASE_URL": url}
                        if servers:
                            result = run(config, on, servers, args.events, args.clients)
                        else:
                            result = alone(parse_store_url(url, secret_ok=True), args.events)
                        results[name].append(result)
                        with psycopg.connect(url, autocommit=True) as conn:
                            (recorded,) = conn.execute(b"SELECT count(*) FROM events").fetchone()
                assert recorded == args.events, f"{name}: {recorded} of {args.events} recorded"
    base = statistics.median(r.rate for r in results[plans[0][0]])
    print(
        f"{'run':<26} {'events/s':>8} {'ratio':>6} {'p50 ms':>6} {'p99 ms':>6}"
        f" | CPU ms an event: {'serve':>5} {'pg':>5} {'here':>5}"
        f" | machine: {'other':>5} {'idle':>5} {'iowait':>6}"
    )
    for name, runs in results.items():
        rate = statistics.median(r.rate for r in runs)
        p50 = statistics.median(r.p50 for r in runs)
        p99 = statistics.median(r.p99 for r in runs)
        cpu = {k: statistics.median(r.cpu[k] for r in runs) for k in runs[0].cpu}
        share = {k: statistics.median(r.shares[k] for r in runs) for k in runs[0].shares}
        rounds = ", ".join(f"{r.rate / base:.2f}" for r in runs)
        print(
            f"{name:<26} {rate:>8,.0f} {rate / base:>5.2f}x {p50:>6.2f} {p99:>6.2f}"
            f" |                  {cpu['servers']:>5.2f} {cpu['postgres']:>5.2f}"
            f" {cpu['clients']:>5.2f} |          {share['other']:>5.0%} {share['idle']:>5.0%}"
            f" {share['iowait']:>6.0%}   (rounds {rounds})"
        )


if __name__ == "__main__":
    main()
