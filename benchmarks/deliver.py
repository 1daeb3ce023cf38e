"""Delivery: one process against two workers, ``digest send`` through several connections,
and the driver's memory at a million readers. Nothing here asserts a time.

Run: python benchmarks/deliver.py [--readers 20000] [--rounds 3] [--million]

- one process against two workers, each making *and sending* personalised copies over SMTP
  to a sink in its own process (``sink.py``), in interleaved rounds with the ratio per round;
  the sink's own CPU per message is printed too: on 2 cores the sink shares the machine, and
  a sink that costs as much as the client caps what a second worker can add;
- ``digest send`` (the command, 4 connections) of one edition to 5,000 addresses, into
  aiosmtpd in its own process and into the light sink: messages per second, and every
  address received exactly once (aiosmtpd counts them);
- with ``--million``: a two-worker delivery of 1,000,000 readers to the light sink with a
  ledger, and the driver's peak resident memory (the workers are other processes).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from personalise import mailing, rows

from digest import email_bytes
from digest.delivery.settings import DeliverySettings

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A sink in its own process: the light one (sink.py), or aiosmtpd counting addresses."""

    AIOSMTPD = textwrap.dedent(
        """
        import collections, signal, sys, threading
        from aiosmtpd.controller import Controller
        seen = collections.Counter()
        class Handler:
            async def handle_DATA(self, server, session, envelope):
                seen.update(envelope.rcpt_tos)
                return "250 OK"
        controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
        controller.start()
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        print("ready", flush=True)
        done.wait()
        controller.stop()
        print(sum(seen.values()), len(seen), max(seen.values(), default=0), flush=True)
        """
    )

    def __init__(self, kind: str) -> None:
        self.port = free_port()
        if kind == "aiosmtpd":
            command = [sys.executable, "-c", self.AIOSMTPD, str(self.port)]
        else:
            command = [sys.executable, str(HERE / "sink.py"), str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def cpu(self) -> float:
        """The sink's CPU seconds so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> list[str]:
        self.process.terminate()
        output, _ = self.process.communicate(timeout=60)
        return output.split()


def settings(port: int, connections: int = 4) -> DeliverySettings:
    return DeliverySettings.model_validate(
        {
            "smtp": {"host": "127.0.0.1", "port": port, "security": "none"},
            "connections": connections,
        }
    )


def one_against_two(readers: int, rounds: int) -> None:
    sink = Server("sink")
    mail = mailing()
    with ProcessPoolExecutor(max_workers=2) as pool:
        # Warm the workers (imports, the variants) before the first timed round.
        mail.deliver(rows(2000, 10**8), settings(sink.port), executor=pool, workers=2)
        mail.deliver(rows(200, 10**8 + 5000), settings(sink.port))
        one_rates, two_rates, ratios, sink_costs = [], [], [], []
        for number in range(rounds):
            first = number * 2 * readers
            cpu = sink.cpu()
            start = time.perf_counter()
            mail.deliver(rows(readers, first), settings(sink.port), chunk=1000)
            one = readers / (time.perf_counter() - start)
            sink_costs.append((sink.cpu() - cpu) / readers)
            start = time.perf_counter()
            mail.deliver(
                rows(readers, first + readers),
                settings(sink.port),
                executor=pool,
                workers=2,
                chunk=1000,
            )
            two = readers / (time.perf_counter() - start)
            one_rates.append(one)
            two_rates.append(two)
            ratios.append(two / one)
    sink.stop()
    print(
        f"{'one process making and sending over SMTP (4 connections)':<64} "
        f"{statistics.median(one_rates):>7,.0f}/s"
    )
    print(
        f"{'two worker processes making and sending (4 connections each)':<64} "
        f"{statistics.median(two_rates):>7,.0f}/s  {statistics.median(ratios):.2f}x one "
        f"(rounds {min(ratios):.2f}-{max(ratios):.2f})"
    )
    print(
        f"{'  the sink CPU per message (what a second worker competes with)':<64} "
        f"{statistics.median(sink_costs) * 1e6:>7,.0f} us"
    )


def send_command(kind: str, count: int = 5000) -> None:
    server = Server(kind)
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        digest = mailing().digest
        (base / "edition.eml").write_bytes(email_bytes(digest))
        (base / "list.txt").write_text("".join(f"r{n}@example.org\n" for n in range(count)))
        config = (ROOT / "examples" / "riverside" / "newsletter.toml").read_text()
        config = config.replace(
            'data = "edition.json"', f'data = "{ROOT}/examples/riverside/edition.json"'
        )
        config += (
            f'\n[delivery]\nconnections = 4\n[delivery.smtp]\nhost = "127.0.0.1"\n'
            f'port = {server.port}\nsecurity = "none"\n'
        )
        (base / "newsletter.toml").write_text(config)
        command = [
            str(Path(sys.executable).parent / "digest"),
            "send",
            "--config",
            str(base / "newsletter.toml"),
            str(base / "edition.eml"),
            "--recipients",
            str(base / "list.txt"),
            "-q",
            "--allow-placeholder-links",  # a made-up list: the example's link is a placeholder
        ]
        cpu = server.cpu()
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=base)
        elapsed = time.perf_counter() - start
        sink_cpu = (server.cpu() - cpu) / count
    counts = server.stop()
    exact = ""
    if kind == "aiosmtpd":
        total, distinct, most = map(int, counts)
        once = "once" if most == 1 and total == distinct else "NOT once"
        exact = f"; {distinct:,} addresses, each {once}"
    print(
        f"{f'digest send to {kind}, 4 connections, {count:,} recipients':<64} "
        f"{count / elapsed:>7,.0f}/s  (sink CPU {sink_cpu * 1e6:,.0f} us/message{exact})"
    )


def million() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        from concurrent.futures import ProcessPoolExecutor
        from deliver import settings
        from personalise import mailing, rows
        from digest.delivery.ledger import SendLedger
        port, ledger = int(sys.argv[1]), sys.argv[2]
        mail = mailing()
        with ProcessPoolExecutor(max_workers=2) as pool:
            report = mail.deliver(rows(1_000_000), settings(int(port)), SendLedger(ledger),
                                  executor=pool, workers=2, chunk=1000)
        status = open("/proc/self/status").read()
        print(report.sent, int(status.split("VmHWM:")[1].split()[0]) // 1024)
        """
    )
    sink = Server("sink")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code, str(sink.port), str(Path(folder) / "sends.sqlite3")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        elapsed = time.perf_counter() - start
    sink.stop()
    print(
        f"{'1,000,000 readers, two workers, with the ledger: driver peak memory':<64} "
        f"{int(out[1]):>7} MB  ({int(out[0]):,} sent in {elapsed:.0f} s, "
        f"{int(out[0]) / elapsed:,.0f}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--million", action="store_true")
    args = parser.parse_args()
    print(f"(on {os.cpu_count()} cores; Python {sys.version.split()[0]})")
    one_against_two(args.readers, args.rounds)
    send_command("aiosmtpd")
    send_command("sink")
    if args.million:
        million()


if __name__ == "__main__":
    main()
