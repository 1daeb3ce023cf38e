"""A full disk mid-send: one line, exit 11, nobody sent twice, the rest sent once there is room.

The send ledger lives on a small ``tmpfs`` of its own: on SQLite its file, on PostgreSQL a
tablespace the test's schema keeps its tables in (``default_tablespace``). After a first
small send has made the ledger, the rest of the file system is filled, all but a few pages,
and ``digest send`` to 400 readers meets ``No space left on device`` partway: it stops with one
line naming the store, exit 11, having handed over only readers it could claim. The server
received nobody twice and every reader the ledger holds as sent. With the filler gone, a
second run sends the rest, reports those the first left pending as unknown, and again nobody
twice. Mounting needs root (a container, or CI); elsewhere the test skips, saying so.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from digest.delivery.ledger import open_ledger
from digest.store import ENVIRONMENT, parse_store_url

from ..helpers import run_digest
from ..mailservers import Inbox, start_smtp
from ..stores import postgres_base, run_sql
from .test_due import seed_sending_to
from .test_send_abtest import build

COUNT = 400
ROOM = 64 * 1024  # what is left free on the small disk when the send starts


@contextmanager
def small_disk(owner: str) -> Iterator[Path]:
    """A 2 MiB ``tmpfs`` owned by ``owner``; skipped where mounting is refused.

    Its mount point is in ``/tmp`` itself: PostgreSQL's server, another user, must reach it.
    """
    folder = Path(tempfile.mkdtemp(prefix="digest-disk-"))
    folder.chmod(0o755)
    user = pwd.getpwnam(owner)
    options = f"size=2m,mode=0700,uid={user.pw_uid},gid={user.pw_gid}"
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        failed = mounted.stderr.strip() or f"exit status {mounted.returncode}"
        said = failed if mounted.returncode else ""
    except OSError as error:  # no mount command here
        said = str(error)
    if said:
        folder.rmdir()
        pytest.skip(f"a full disk needs a tmpfs of its own: mount said {said}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


def fill(disk: Path, room: int) -> Path:
    """Fill ``disk`` but for ``room`` bytes; the filler file to remove."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:  # no space left on the device
        pass
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - room))
    return filler


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_full_disk_mid_send_stops_with_one_line_and_sends_nobody_twice(
    tmp_path: Path, backend: str
) -> None:
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a tmpfs of its own: mounting one needs root")
    base, owner = "", "root"
    if backend == "postgresql":
        base, owner = postgres_base(), "postgres"
        import psycopg  # the postgresql extra: postgres_base skips without it

        with psycopg.connect(base) as conn:
            (address,) = conn.execute("SELECT inet_server_addr()").fetchone() or (None,)
        if address is not None:  # a tablespace is a folder on the server's own machine
            pytest.skip("a full disk on PostgreSQL needs the server here, on a Unix socket")
    with small_disk(owner) as disk:
        schema, space = "t_" + secrets.token_hex(6), "s_" + secrets.token_hex(6)
        if backend == "postgresql":
            run_sql(base, f"CREATE TABLESPACE {space} LOCATION '{disk}'")
            run_sql(base, f"CREATE SCHEMA {schema}")
            url = f"{base}?options=-csearch_path%3D{schema}%20-cdefault_tablespace%3D{space}"
        else:
            url = f"sqlite:///{disk / 'ledger.sqlite3'}"
        inbox = Inbox()
        controller, port = start_smtp(inbox)
        try:
            config = seed_sending_to(tmp_path, port, delivery="batch_size = 10\n")
            config.write_text(config.read_text() + "\n[store]\nlease_seconds = 1\n")
            eml = build(config, tmp_path / "out")
            everyone = [f"r{n:03}@example.org" for n in range(COUNT)]
            first, readers = tmp_path / "first.txt", tmp_path / "readers.txt"
            first.write_text("".join(f"{a}\n" for a in everyone[:5]))
            readers.write_text("".join(f"{a}\n" for a in everyone))

            def send(recipients: Path) -> subprocess.CompletedProcess[str]:
                return run_digest(
                    "send", "--allow-placeholder-links", "--config", config, eml,
                    "--recipients", recipients, env={ENVIRONMENT: url},
                )  # fmt: skip

            made = send(first)  # the ledger made, with room to spare
            assert made.returncode == 0, made.stderr
            filler = fill(disk, ROOM)
            full = send(readers)
            during = len(inbox.received)
            filler.unlink()
            time.sleep(1.5)  # the lease of what the stopped run claimed runs out
            rest = send(readers)
            with open_ledger(tmp_path, parse_store_url(url, secret_ok=True)) as ledger:
                (edition,) = {e for (e,) in ledger.db.execute("SELECT edition FROM deliveries")}
                states = {row.address: row.state for row in ledger.rows(edition)}
        finally:
            controller.stop()
            if backend == "postgresql":
                run_sql(base, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                run_sql(base, f"DROP TABLESPACE IF EXISTS {space}")
    assert full.returncode == 11, full.stdout + full.stderr
    (line,) = [x for x in full.stderr.splitlines() if not x.startswith("digest: warning:")]
    says = {
        "sqlite": ": the send ledger cannot be written: database or disk is full",
        "postgresql": ": the database's disk is full: could not extend file",
    }
    assert line.startswith("digest: error: ") and says[backend] in line, line
    assert 5 < during < COUNT  # it stopped partway
    got = Counter(rcpt for _, rcpts, _ in inbox.received for rcpt in rcpts)
    assert max(got.values()) == 1, "a reader got the edition twice"
    assert rest.returncode in (0, 6), rest.stdout + rest.stderr
    sent = {a for a, s in states.items() if s == "sent"}
    pending = {a for a, s in states.items() if s == "pending"}
    assert sent <= set(got) <= sent | pending
    assert set(everyone) == sent | pending
    unknown = re.search(r"^unknown +([\d,]+)$", rest.stdout, re.M)
    assert unknown is not None and int(unknown.group(1)) == len(pending), rest.stdout
