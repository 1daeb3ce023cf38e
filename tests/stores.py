"""The store's backends for tests: SQLite files, and PostgreSQL where one is running.

``store_url`` is parametrised over both backends. The PostgreSQL one is a schema of its own
in the database ``DIGEST_TEST_DATABASE_URL`` names (``.ci/run`` starts a server and sets it),
dropped after the test, so tests running at once under xdist never meet. Without that
variable, or without a server answering, the PostgreSQL case is skipped, saying why.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from digest.store import StoreURL, parse_store_url

VARIABLE = "DIGEST_TEST_DATABASE_URL"


def postgres_base() -> str:
    """The test database's URL, or a skip saying how to get one."""
    base = os.environ.get(VARIABLE, "")
    if not base:
        pytest.skip(f"PostgreSQL: set {VARIABLE} (.ci/run starts a server and sets it)")
    psycopg = pytest.importorskip("psycopg", reason="the postgresql extra is not installed")
    try:
        psycopg.connect(base, connect_timeout=5).close()
    except psycopg.Error as error:
        pytest.skip(f"PostgreSQL at {VARIABLE} does not answer: {str(error).splitlines()[0]}")
    return base


def in_schema(base: str, schema: str) -> str:
    """``base`` with every session's search path set to ``schema``."""
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


def run_sql(base: str, sql: str) -> None:
    """Run one statement on the test database, outside any schema of a test."""
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.encode())


@pytest.fixture
def postgres_url() -> Iterator[StoreURL]:
    """A PostgreSQL store in a schema of this test's own (skipped without a server)."""
    base = postgres_base()
    schema = "t_" + secrets.token_hex(6)
    run_sql(base, f"CREATE SCHEMA {schema}")
    try:
        yield parse_store_url(in_schema(base, schema), secret_ok=True)
    finally:
        run_sql(base, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> StoreURL:
    """Each backend in turn: an SQLite ledger file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return parse_store_url(f"sqlite:///{tmp_path / 'weekly.sends.sqlite3'}")
    url: StoreURL = request.getfixturevalue("postgres_url")
    return url


class Closable(Protocol):
    """A store: something to close."""

    def close(self) -> None:
        """Close it."""


C = TypeVar("C", bound=Closable)


class Places:
    """Where a test's suppression lists and reader stores live: files, or PostgreSQL schemas.

    ``place("name.sqlite3")`` is that file in the test's folder on SQLite, and a store URL of
    a schema of its own (one a name, dropped after the test) on PostgreSQL.
    """

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self.base = postgres_base() if backend == "postgresql" else ""
        self.schemas: dict[str, str] = {}
        self.stores: list[Closable] = []

    def opened(self, store: C) -> C:
        """``store``, closed when the test ends (before its schema is dropped)."""
        self.stores.append(store)
        return store

    def __call__(self, name: str = "list.sqlite3") -> Path | StoreURL:
        if self.backend == "sqlite":
            return self.folder / name
        if name not in self.schemas:
            self.schemas[name] = "t_" + secrets.token_hex(6)
            run_sql(self.base, f"CREATE SCHEMA {self.schemas[name]}")
        return parse_store_url(in_schema(self.base, self.schemas[name]), secret_ok=True)

    def drop(self) -> None:
        """Close the stores opened, then drop every schema made."""
        for store in self.stores:
            store.close()
        for schema in self.schemas.values():
            run_sql(self.base, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Places]:
    """Each backend in turn for the suppression list and the reader store (``Places``)."""
    places = Places(request.param, tmp_path)
    try:
        yield places
    finally:
        places.drop()


def held_bytes(places: Places, name: str = "list.sqlite3") -> bytes:
    """What a store holds: the file's bytes on SQLite, every row as text on PostgreSQL."""
    if places.backend == "sqlite":
        return (places.folder / name).read_bytes()
    import psycopg

    schema = places.schemas[name]
    with psycopg.connect(places.base, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchall()
        held = [
            conn.execute(f"SELECT coalesce(string_agg(t::text, ''), '') FROM {schema}.{table} t")
            .fetchone()[0]
            .encode()
            for (table,) in tables
        ]
    return b"".join(held)


class PrivateServer:
    """A PostgreSQL server of one test's own (``initdb`` in a temporary folder): one to restart.

    The shared test database cannot be restarted without cutting every other test running at
    once; this one can (``restart``: an immediate stop, as a crash or a failover, then a start
    that recovers from the write-ahead log). It listens on a Unix socket in its folder only.
    """

    def __init__(self, bindir: Path, folder: Path, user: str) -> None:
        self.bindir, self.folder, self.user = bindir, folder, user
        self.data = folder / "data"
        self.url = f"postgresql://{user}@/postgres?host={folder}&port=5432"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and the server refuse to run as root
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{args[0]}: {done.stdout}{done.stderr}"

    def start(self) -> None:
        """Start the server; back once it takes connections."""
        options = f"-k {self.folder} -c listen_addresses='' -c fsync=on"
        self._run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.folder / "log"),
                  "-o", options)  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: at once, as a crash)."""
        self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data))

    def restart(self) -> None:
        """Crash the server and start it again: every connection is cut, nothing committed lost."""
        self.stop("immediate")
        self.start()


def postgres_bindir() -> Path | None:
    """Where this machine's PostgreSQL programs are (``pg_config --bindir``, Debian's folders)."""
    found: list[Path] = []
    with contextlib.suppress(OSError):
        done = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            found.append(Path(done.stdout.strip()))
    found += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return next((bindir for bindir in found if (bindir / "initdb").exists()), None)


@pytest.fixture
def private_postgres() -> Iterator[PrivateServer]:
    """A PostgreSQL server of this test's own, or a skip saying what is missing."""
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("a server of its own needs PostgreSQL's programs (Debian: postgresql)")
    pytest.importorskip("psycopg", reason="the postgresql extra is not installed")
    user = pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres").pw_name
        except KeyError:
            pytest.skip("a server of its own, started by root, needs the postgres user")
    folder = Path(tempfile.mkdtemp(prefix="digest-pg-"))
    folder.chmod(0o755)
    server = PrivateServer(bindir, folder, user)
    try:
        server.data.mkdir(mode=0o700)
        shutil.chown(server.data, user)
        server._run("initdb", "-D", str(server.data), "-U", user, "--auth=trust", "-E", "UTF8",
                    "--no-sync")  # fmt: skip
        shutil.chown(folder, user)
        server.start()
        yield server
    finally:
        with contextlib.suppress(AssertionError):
            server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
