"""Never twice across hosts: three ``digest send`` processes share one edition on PostgreSQL.

Three real ``digest send`` commands (each a process of its own, as on three machines) send one
edition to one list through one aiosmtpd server, with their ledger in one PostgreSQL schema.
They are killed (SIGKILL) at random points, and every connection they hold to the database is
cut once mid-send (``pg_terminate_backend``, as a failover does; a restart of the shared server
would cut the other tests' connections too). Then, after the lease, a last clean run. Nobody
got the edition twice; every reader the server received is in the ledger as sent, or as pending
(the kill came between hand-over and record); every reader recorded as sent was received; and
the last run reported every pending reader as unknown, so everyone is reached or reported.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from digest.delivery.ledger import open_ledger
from digest.store import ENVIRONMENT, StoreURL, parse_store_url

from ..helpers import run_digest
from ..mailservers import Inbox, start_smtp
from ..stores import PrivateServer, postgres_url, private_postgres, run_sql
from .test_due import seed_sending_to
from .test_send_abtest import build

__all__ = ["postgres_url", "private_postgres"]

pytestmark = pytest.mark.slow  # processes killed, a database restarted

# About 5 s an example on two cores: not marked slow.
COUNT = 400
LEASE = 1


def sender(config: Path, eml: Path, readers: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    """``digest send`` in a process of its own, as on another host."""
    env = {**os.environ, ENVIRONMENT: url}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "digest", "send", "--allow-placeholder-links", "--config",
             str(config), str(eml), "--recipients", str(readers)],
            stdout=out, stderr=out, env=env,
        )  # fmt: skip


def wait_for_mail(inbox: Inbox, more_than: int, senders: list[subprocess.Popen[bytes]]) -> None:
    """Until the server has received more, or every sender is done."""
    deadline = time.monotonic() + 60
    while len(inbox.received) <= more_than and time.monotonic() < deadline:
        if all(each.poll() is not None for each in senders):
            return
        time.sleep(0.01)


def share_one_edition(tmp_path: Path, url: str, cut: Callable[[], None], seed: int) -> None:
    """Three senders at a time on the store ``url``, killed and ``cut`` off; then a last run."""
    rng = random.Random(seed)
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    logs: list[Path] = []  # what each sender printed

    def said() -> str:
        return "".join(f"{each.name}:\n{each.read_text()}" for each in logs)

    senders: list[subprocess.Popen[bytes]] = []
    try:
        # Batches of 10: the senders meet chunk after chunk, and a kill leaves little pending.
        config = seed_sending_to(tmp_path, port, delivery="batch_size = 10\n")
        config.write_text(config.read_text() + f"\n[store]\nlease_seconds = {LEASE}\n")
        eml = build(config, tmp_path / "out")
        everyone = [f"r{n:03}@example.org" for n in range(COUNT)]
        readers = tmp_path / "readers.txt"
        readers.write_text("".join(f"{a}\n" for a in everyone))
        codes: list[int] = []
        for round_, size in enumerate((COUNT * 5 // 8, COUNT)):  # the list grows between runs
            # Each sender meets the list in an order of its own, as hosts reading it apart would.
            orders = []
            for n in range(3):
                order = everyone[:size]
                rng.shuffle(order)
                orders.append(tmp_path / f"readers-{round_}-{n}.txt")
                orders[-1].write_text("".join(f"{a}\n" for a in order))
            before = len(inbox.received)
            logs += [tmp_path / f"sender-{round_}-{n}.log" for n in range(3)]
            senders = [
                sender(config, eml, o, url, log) for o, log in zip(orders, logs[-3:], strict=True)
            ]
            wait_for_mail(inbox, before, senders)
            faults = ["kill", "kill", "cut"] if round_ == 0 else ["cut", "kill"]
            rng.shuffle(faults)
            for fault in faults:
                time.sleep(rng.uniform(0.02, 0.4))
                if fault == "kill":
                    victim = rng.choice([s for s in senders if s.poll() is None] or senders)
                    victim.kill()
                else:
                    cut()
            for each in senders:
                each.wait(timeout=120)
                codes.append(each.returncode)
                # A sender cut off twice in one statement ends with exit 11, never anything else.
                assert each.returncode in (0, -9, 6, 11), said()
        time.sleep(LEASE + 0.5)  # the dead senders' claims run out: they read as unknown
        last = run_digest(
            "send", "--allow-placeholder-links", "--config", config, eml, "--recipients", readers,
            env={ENVIRONMENT: url},
        )  # fmt: skip
    finally:
        for each in senders:  # a failed assertion leaves none running
            if each.poll() is None:
                each.kill()
                each.wait()
        controller.stop()
    assert last.returncode in (0, 6), last.stderr + said()
    got = Counter(rcpt for _, rcpts, _ in inbox.received for rcpt in rcpts)
    assert max(got.values()) == 1, "a reader got the edition twice"
    with open_ledger(tmp_path, parse_store_url(url, secret_ok=True)) as ledger:
        (edition,) = {e for (e,) in ledger.db.execute("SELECT DISTINCT edition FROM deliveries")}
        states = {row.address: row.state for row in ledger.rows(edition)}
    assert set(states) == set(everyone)
    assert set(states.values()) <= {"sent", "pending"}
    sent = {a for a, s in states.items() if s == "sent"}
    pending = {a for a, s in states.items() if s == "pending"}
    assert sent <= set(got), "the ledger says sent, the server never received it"
    assert set(got) <= sent | pending, "the server received a reader the ledger does not hold"
    assert set(everyone) - set(got) <= pending  # not received: only a reader a kill left pending
    unknown = re.search(r"^unknown +([\d,]+)$", last.stdout, re.M)
    assert unknown is not None, last.stdout
    assert int(unknown.group(1).replace(",", "")) == len(pending)
    assert len(pending) <= 3 * 2 * 10  # at most the batches in flight when a kill came
    assert -9 in codes  # a kill came while a sender was still sending
    assert "error connecting" not in said()  # psycopg's pool's own lines: the error says it once
    for log, code in zip(logs, codes, strict=True):
        if code == 11:  # the store stopped this sender: one line says so
            text = log.read_text()
            assert text.count("digest: error: ") == 1, text


@pytest.mark.parametrize("seed", range(2))
def test_three_senders_killed_and_cut_off_never_send_twice(
    tmp_path: Path, postgres_url: StoreURL, seed: int
) -> None:
    """Each sender's connections cut once a round, as a failover does, on the shared server."""
    url = f"{postgres_url.url}&application_name=digest_{seed}_{tmp_path.name[-12:]}"
    app = url.rsplit("application_name=", 1)[1]
    base = url.split("?", 1)[0]
    query = (
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{app}'"
    )
    share_one_edition(tmp_path, url, lambda: run_sql(base, query), seed)


@pytest.mark.parametrize("seed", range(2))
def test_three_senders_killed_while_the_database_restarts_never_send_twice(
    tmp_path: Path, private_postgres: PrivateServer, seed: int
) -> None:
    """The database itself crashes and starts again mid-send, once a round (a server of its own)."""
    share_one_edition(tmp_path, private_postgres.url, private_postgres.restart, seed)
