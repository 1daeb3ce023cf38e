"""``digest send`` into Postfix's ``smtp-sink`` against the least-work client, same connections.

Run: python benchmarks/smtp_sink.py [--recipients 5000] [--connections 4] [--rounds 3]

``smtp-sink`` (Debian package ``postfix``) is the standard fast test sink: it accepts
every message and keeps nothing. Each round, interleaved:

- ``digest send`` (the command, as cron runs it: start-up, config, ledger, suppression list
  and all) of one built edition to fresh recipients over ``--connections`` connections;
- the least-work client: a process of its own that sends the same bytes, each recipient's
  ``To`` line put in, over as many raw sockets with pipelined envelopes, and nothing else.

It prints both rates and their ratio per round, then runs ``digest send`` once more into a
sink that dumps every transaction and checks that every address arrived exactly once. With
Dask's ``distributed`` installed, it also compares personalised copies delivered through a
Dask cluster (a scheduler and two workers as processes) with a process pool of two. Nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

#: The least-work client, run as its own process: pre-built bytes over pipelined sockets.
LEAST_WORK = textwrap.dedent(
    r"""
    import socket, sys, threading
    port, connections, eml, first, count = sys.argv[1:]
    port, connections, first, count = int(port), int(connections), int(first), int(count)
    data = open(eml, "rb").read()
    head, rest = data.split(b"\r\nTo: ", 1)
    tail = rest[rest.index(b"\r\n"):]
    if not tail.endswith(b"\r\n"):
        tail += b"\r\n"
    head = head.replace(b"\r\n.", b"\r\n..")
    tail = tail.replace(b"\r\n.", b"\r\n..") + b".\r\n"
    from_line = (b"\r\n" + data).split(b"\r\nFrom: ", 1)[1].split(b"\r\n", 1)[0]
    sender = from_line.rsplit(b"<", 1)[-1].rstrip(b">")

    def replies(sock, wanted, buffer=b""):
        while buffer.count(b"\r\n") < wanted:
            buffer += sock.recv(65536)
        return buffer

    def work(part):
        sock = socket.create_connection(("127.0.0.1", port))
        replies(sock, 1)
        sock.sendall(b"EHLO client\r\n")
        buffer = b""
        while not buffer.endswith(b"\r\n") or b"\r\n250 " not in b"\r\n" + buffer:
            buffer += sock.recv(65536)
        for n in part:
            address = b"r%d@example.org" % n
            sock.sendall(b"MAIL FROM:<" + sender + b">\r\nRCPT TO:<" + address + b">\r\nDATA\r\n")
            got = replies(sock, 3)
            assert got.startswith(b"250") and b"\r\n354" in got, got
            sock.sendall(head + b"\r\nTo: " + address + tail)
            assert replies(sock, 1).startswith(b"250")
        sock.sendall(b"QUIT\r\n")
        sock.close()

    numbers = range(first, first + count)
    threads = [threading.Thread(target=work, args=(numbers[i::connections],))
               for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Sink:
    """Postfix's smtp-sink on a free port; with ``dump``, every transaction kept as a file."""

    def __init__(self, dump: Path | None = None) -> None:
        self.port = free_port()
        command = ["smtp-sink", "-u", "nobody"] if os.geteuid() == 0 else ["smtp-sink"]
        if dump is not None:
            command += ["-d", f"{dump}/%M."]
        self.process = subprocess.Popen([*command, f"127.0.0.1:{self.port}", "1024"])
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port)).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("smtp-sink did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def setup(folder: Path, port: int, connections: int) -> tuple[Path, Path]:
    """A copy of the riverside example sending to ``port``, and its built edition."""
    shutil.copytree(ROOT / "examples" / "riverside", folder, dirs_exist_ok=True)
    config = (folder / "newsletter.toml").read_text()
    config += (
        f'\n[delivery]\nconnections = {connections}\n[delivery.smtp]\nhost = "127.0.0.1"\n'
        f'port = {port}\nsecurity = "none"\n'
    )
    (folder / "newsletter.toml").write_text(config)
    out = folder / "out"
    digest = str(Path(sys.executable).parent / "digest")
    subprocess.run(
        [digest, "build", "--config", "newsletter.toml", "--date", "2026-11-30", "--out", out],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=folder,
    )
    (eml,) = out.glob("*.eml")
    return folder / "newsletter.toml", eml


def digest_send(config: Path, eml: Path, first: int, count: int) -> float:
    recipients = config.parent / f"list-{first}.txt"
    recipients.write_text("".join(f"r{n}@example.org\n" for n in range(first, first + count)))
    digest = str(Path(sys.executable).parent / "digest")
    # A made-up list: the example's unsubscribe link is a placeholder.
    command = [digest, "send", "--config", config, eml, "--recipients", recipients, "-q"]
    command += ["--allow-placeholder-links"]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=config.parent)
    return time.perf_counter() - start


def in_process(config: Path, eml: Path, first: int, count: int) -> float:
    """``send_eml`` in this process (the ledger and all, no start-up), as the command runs it."""
    from digest.delivery.eml import read_eml, send_eml
    from digest.delivery.ledger import SendLedger
    from digest.delivery.providers import make_sender
    from digest.schedule.config import load_config

    settings = load_config(config).delivery
    assert settings is not None
    raw = read_eml(eml)
    recipients = [f"r{n}@example.org" for n in range(first, first + count)]
    with SendLedger(config.parent / "in-process.sends.sqlite3") as ledger:
        sender = make_sender(settings)
        start = time.perf_counter()
        report = send_eml(raw, recipients, sender, ledger)
        elapsed = time.perf_counter() - start
        sender.close()
    assert report.sent == count, report.table()
    return elapsed


def least_work(port: int, connections: int, eml: Path, first: int, count: int) -> float:
    command = [sys.executable, "-c", LEAST_WORK, str(port), str(connections), str(eml)]
    start = time.perf_counter()
    subprocess.run([*command, str(first), str(count)], check=True)
    return time.perf_counter() - start


def exactly_once(config: Path, eml: Path, count: int) -> str:
    """``digest send`` into a dumping sink: every address once, and how many."""
    with tempfile.TemporaryDirectory() as dump:
        os.chmod(dump, 0o777)  # smtp-sink writes as nobody
        sink = Sink(Path(dump))
        text = config.read_text().replace(f"port = {current_port(config)}", f"port = {sink.port}")
        config.write_text(text)
        try:
            digest_send(config, eml, 10**7, count)
        finally:
            sink.stop()
        seen: Counter[str] = Counter()
        for path in Path(dump).iterdir():
            for line in path.read_bytes().split(b"\n", 40):
                if line.startswith(b"X-Rcpt-Args: <"):
                    seen[line.split(b"<", 1)[1].split(b">", 1)[0].decode()] += 1
    wanted = {f"r{n}@example.org" for n in range(10**7, 10**7 + count)}
    once = set(seen) == wanted and set(seen.values()) == {1}
    return f"{len(seen):,} addresses received, {'each exactly once' if once else 'NOT each once'}"


def current_port(config: Path) -> int:
    return int(config.read_text().rsplit("port = ", 1)[1].split()[0])


def dask_against_pool(readers: int) -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("(Dask's distributed is not installed: no cluster comparison)")
        return
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(HERE)!r})
        from concurrent.futures import ProcessPoolExecutor
        from distributed import Client, LocalCluster
        from personalise import mailing, rows
        from smtp_sink import Sink
        from deliver import settings
        sink = Sink()
        mail = mailing()
        rates = {{"pool": [], "dask": []}}
        with ProcessPoolExecutor(max_workers=2) as pool, \
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                             dashboard_address=":0") as cluster, Client(cluster) as client, \
                client.get_executor() as executor:
            executors = {{"pool": pool, "dask": executor}}
            for number, where in enumerate(executors.values()):  # warm both
                mail.deliver(rows(2000, 10**8 + 10**4 * number), settings(sink.port),
                             executor=where, workers=2)
            for round in range(3):  # interleaved rounds
                for number, (name, where) in enumerate(executors.items()):
                    first = (2 * round + number) * {readers}
                    start = time.perf_counter()
                    mail.deliver(rows({readers}, first), settings(sink.port), executor=where,
                                 workers=2)
                    rates[name].append({readers} / (time.perf_counter() - start))
        sink.stop()
        import statistics
        ratios = sorted(d / p for p, d in zip(rates["pool"], rates["dask"]))
        rates = {{k: statistics.median(v) for k, v in rates.items()}}
        print(rates["pool"], rates["dask"], ratios[0], ratios[-1])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    pool, dask, low, high = map(float, out[-4:])
    print(f"{'personalised copies, a process pool of two, into smtp-sink':<62} {pool:>7,.0f}/s")
    print(
        f"{'personalised copies, a Dask cluster of two workers':<62} {dask:>7,.0f}/s  "
        f"{dask / pool:.2f}x the pool (rounds {low:.2f}-{high:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--readers", type=int, default=20_000, help="for the Dask comparison")
    args = parser.parse_args()
    if shutil.which("smtp-sink") is None:
        sys.exit("smtp-sink is not installed (Debian: apt install postfix)")
    print(f"(on {os.cpu_count()} cores; Python {sys.version.split()[0]})")
    count, connections = args.recipients, args.connections
    with tempfile.TemporaryDirectory() as folder:
        sink = Sink()
        ours, floor, ratios, inside = [], [], [], []
        try:
            config, eml = setup(Path(folder), sink.port, connections)
            least_work(sink.port, connections, eml, 10**8, 200)  # warm the page cache
            for number in range(args.rounds):
                first = number * 2 * count
                digest_rate = count / digest_send(config, eml, first, count)
                floor_rate = count / least_work(sink.port, connections, eml, first + count, count)
                ours.append(digest_rate)
                floor.append(floor_rate)
                ratios.append(digest_rate / floor_rate)
                inside.append(count / in_process(config, eml, first + 10**6, count) / floor_rate)
        finally:
            sink.stop()
        label = f"{count:,} recipients, {connections} connections"
        print(f"{f'the least-work client, {label}':<62} {statistics.median(floor):>7,.0f}/s")
        print(
            f"{f'digest send (the command), {label}':<62} {statistics.median(ours):>7,.0f}/s  "
            f"{statistics.median(ratios):.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f})"
        )
        print(
            f"{'  send_eml in this process (no start-up), against the same':<62} "
            f"{statistics.median(inside):>7.2f}x"
        )
        print(f"{'  digest send into a dumping smtp-sink':<62} {exactly_once(config, eml, count)}")
    dask_against_pool(args.readers)


if __name__ == "__main__":
    main()
