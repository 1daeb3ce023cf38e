"""The send ledger: every recipient's state for every edition, in SQLite beside the history.

Each address of an edition is recorded *before* its batch is handed to a sender (``pending``)
and again when the receipt comes back (``sent`` with the provider's id, ``refused`` with the
reason, ``unknown`` when the answer was lost). A message never handed over (``deferred``) is
removed again, so it goes out on the next run. An address still ``pending`` when a run starts
was being sent when the last one stopped (a crash, ``kill -9``): its outcome is unknown, and
it is reported, never resent unless asked.

Rows are written a chunk per transaction, each chunk's rows in one statement (the addresses
travel as one JSON array, read by ``json_each``); reading what is known of the next chunk is
one indexed query, so a send of a million addresses keeps only a chunk in memory.

An edition is known by its newsletter, date and number (``digest.mail.message.edition_key``),
never by its content: a rebuilt edition is the same edition, and its send resumes the first
one (the ledger keeps a hash of the content each edition was first sent with, so the report
can say it changed). One run at a time sends an edition: ``lock`` takes a lock that the
kernel releases when the process ends, however it ends.

``PostgresLedger`` keeps the same rows in PostgreSQL (``[store] url``, ``digest.store``), so
senders on several hosts share one edition: a claim is one ``INSERT ... ON CONFLICT DO UPDATE
... WHERE ... RETURNING`` and only the addresses it returns are sent, so two senders never
both hand over one reader. A claim holds for a lease (``[store] lease_seconds``): a reader
pending longer than that was claimed by a sender that died, and reads as unknown, as after a
crash on SQLite. ``open_ledger`` picks the backend from the store's URL.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from digest.addresses import address_key
from digest.errors import DigestError, SendError, StoreError
from digest.files import BuildLock, spreadsheet_csv, write_file
from digest.store.connection import Connection, Database, PostgresConnection, open_wal, transaction

if TYPE_CHECKING:
    from digest.delivery.senders import Receipt
    from digest.delivery.subject_test import Decision
    from digest.files import StrPath
    from digest.store import PostgresStore, StoreURL

__all__ = ["LedgerRow", "PostgresLedger", "SendLedger", "open_ledger"]


class LedgerRow(NamedTuple):
    """One recipient of one edition as the ledger has it."""

    address: str
    state: str
    detail: str
    variant: str
    updated: str


class SendLedger(Database):
    """Recipients' states per edition, in SQLite (WAL, safe for several processes)."""

    def __init__(self, path: StrPath) -> None:
        """Open (or create) the ledger at ``path``."""
        self.path = Path(path)
        try:
            self.db = open_wal(self.path)
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS deliveries (edition TEXT NOT NULL,"
                " address TEXT NOT NULL, state TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',"
                " variant TEXT NOT NULL DEFAULT '', updated TEXT NOT NULL,"
                " run TEXT NOT NULL DEFAULT '',"
                " PRIMARY KEY (edition, address)) WITHOUT ROWID"
            )
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS editions (edition TEXT PRIMARY KEY,"
                " content TEXT NOT NULL, first_run TEXT NOT NULL)"
            )
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS subject_tests (edition TEXT PRIMARY KEY,"
                " started TEXT NOT NULL, winner TEXT NOT NULL DEFAULT '',"
                " how TEXT NOT NULL DEFAULT '', decided TEXT NOT NULL DEFAULT '',"
                " counts TEXT NOT NULL DEFAULT '{}', metric TEXT NOT NULL DEFAULT '')"
            )
            self._upgrade()
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"{self.path}: cannot open the send ledger: {error}") from None

    def _upgrade(self) -> None:
        """Carry over the rows of the 0.2 ledger (table ``sends``; ``sending`` is pending).

        Rows are keyed by ``address_key`` (format 1): a ledger written before has its
        addresses folded once, so that a reader it reached is still known.
        """
        (version,) = self.db.execute("PRAGMA user_version").fetchone()
        if version < 1:
            with self._transaction():
                self.db.execute("UPDATE OR IGNORE deliveries SET address = lower(address)")
                self.db.execute("PRAGMA user_version = 1")
        old = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sends'"
        ).fetchone()
        if old is None:
            return
        with self._transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO deliveries SELECT edition, address,"
                " CASE state WHEN 'sending' THEN 'pending' ELSE state END, detail, '', ?, ''"
                " FROM sends",
                (_now(),),
            )
            self.db.execute("DROP TABLE sends")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction; a file that cannot be written (a full disk) is a StoreError."""
        try:
            with transaction(self.db):
                yield
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: the send ledger cannot be written: {error}") from None

    def lock(self, edition: str, *, paced: bool = False) -> AbstractContextManager[object]:
        """A lock held by the one run sending ``edition``; another run is refused, named.

        The lock files live in a folder beside the ledger, one per edition (``paced``, a
        run counted by the pace, changes nothing here: one run sends at a time anyway).
        """
        name = hashlib.sha256(edition.encode()).hexdigest()[:24]
        folder = self.path.with_name(self.path.name + ".locks")
        return BuildLock(
            folder / f"{name}.lock",
            timeout=0,
            busy=f"another run is sending {edition!r} now; let it finish, then run again",
            error=SendError,
        )

    def deciding(self, edition: str) -> AbstractContextManager[object]:
        """Held while a run decides ``edition``'s A/B winner (nothing to hold on SQLite)."""
        return nullcontext()

    def content_changed(self, edition: str, content: str) -> bool:
        """Note the content ``edition`` is sent with; whether its first run had another."""
        with self._transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO editions VALUES (?, ?, ?)", (edition, content, _now())
            )
            (first,) = self.db.execute(
                "SELECT content FROM editions WHERE edition = ?", (edition,)
            ).fetchone()
        return bool(content) and first != content

    def states(self, edition: str, addresses: Iterable[str], run: str = "") -> dict[str, str]:
        """The recorded state of each of ``addresses`` that the ledger knows for ``edition``.

        An address claimed by ``run`` (see ``claim``) reads as ``this-run``.
        """
        wanted = json.dumps([address_key(address) for address in addresses])
        rows = self.db.execute(
            "SELECT address, CASE run WHEN ? THEN 'this-run' ELSE state END FROM deliveries"
            " WHERE edition = ? AND address IN (SELECT value FROM json_each(?))",
            (run or None, edition, wanted),
        )
        return dict(rows)

    def went_to(self, edition: str, address: str) -> bool:
        """Whether ``edition`` was handed over for ``address`` (sent, unknown or pending).

        A returned report answers only such a message: a refused one never left.
        """
        row = self.db.execute(
            "SELECT 1 FROM deliveries WHERE edition = ? AND address = ?"
            " AND state IN ('sent', 'unknown', 'pending')",
            (edition, address_key(address)),
        ).fetchone()
        return row is not None

    def claim(
        self,
        edition: str,
        addresses: Sequence[str],
        variants: Sequence[str],
        run: str,
        take_unknown: bool = False,
        take_refused: bool = False,
        *,
        limit: int | None = None,
        when: datetime | None = None,
    ) -> dict[str, str]:
        """Record as pending those of ``addresses`` that no run has recorded; return the others.

        Reading and recording are one transaction, so two runs of one edition at once never
        both claim an address. With ``take_unknown``, addresses an earlier run left pending or
        unknown are claimed too; with ``take_refused``, refused ones (an address fixed, a
        provider's suppression lifted). ``run`` names the run (``new_run``); the result maps each
        address not claimed to its state (``this-run`` for one this run claimed before). With
        ``limit``, at most that many are claimed, in order; the rest read as ``held``. Rows
        are dated ``when`` (now by default).
        """
        now = _now(when)
        with self._transaction():
            known = self.states(edition, addresses, run)
            taken = (("pending", "unknown") if take_unknown else ()) + (
                ("refused",) if take_refused else ()
            )
            claimed = [
                (key, variant)
                for key, variant in zip(map(address_key, addresses), variants, strict=True)
                if key not in known or known[key] in taken
            ]
            if limit is not None and len(claimed) > limit:
                known.update((key, "held") for key, _ in claimed[limit:])
                del claimed[limit:]
            self.db.execute(
                "INSERT INTO deliveries (edition, address, state, detail, variant, updated, run)"
                " SELECT ?, json_extract(value, '$[0]'), 'pending', '',"
                " json_extract(value, '$[1]'), ?, ? FROM json_each(?) WHERE true"
                " ON CONFLICT (edition, address) DO UPDATE SET state = 'pending', detail = '',"
                " variant = excluded.variant, updated = excluded.updated, run = excluded.run",
                (edition, now, run, json.dumps(claimed)),
            )
        return {a: state for a, state in known.items() if state not in taken}

    @staticmethod
    def new_run() -> str:
        """A name for one run of a send: its claims tell its own repeats from other runs'."""
        return secrets.token_hex(8)

    def record(
        self, edition: str, receipts: Iterable[Receipt], when: datetime | None = None
    ) -> None:
        """Record what became of each message; deferred ones are forgotten (not handed over)."""
        now = _now(when)
        kept, dropped = [], []
        for receipt in receipts:
            key = address_key(receipt.address)
            if receipt.state == "deferred":
                dropped.append(key)
            else:
                kept.append((key, receipt.state, receipt.detail))
        with self._transaction():
            self.db.execute(
                "INSERT INTO deliveries (edition, address, state, detail, variant, updated, run)"
                " SELECT ?, json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
                " json_extract(value, '$[2]'), '', ?, '' FROM json_each(?) WHERE true"
                " ON CONFLICT (edition, address) DO UPDATE SET state = excluded.state,"
                " detail = excluded.detail, updated = excluded.updated",
                (edition, now, json.dumps(kept)),
            )
            self.db.execute(
                "DELETE FROM deliveries WHERE edition = ?"
                " AND address IN (SELECT value FROM json_each(?))",
                (edition, json.dumps(dropped)),
            )

    def test_started(self, edition: str, when: datetime) -> datetime:
        """When the subject test of ``edition`` started: ``when``, unless a run started it."""
        with self._transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO subject_tests (edition, started) VALUES (?, ?)",
                (edition, _now(when)),
            )
            (started,) = self.db.execute(
                "SELECT started FROM subject_tests WHERE edition = ?", (edition,)
            ).fetchone()
        return datetime.fromisoformat(started)

    def decision(self, edition: str) -> Decision | None:
        """The recorded winner of ``edition``'s subject test, if one was decided."""
        row = self.db.execute(
            "SELECT winner, how, decided, counts, metric FROM subject_tests"
            " WHERE edition = ? AND winner != ''",
            (edition,),
        ).fetchone()
        return None if row is None else _decision(self.path, edition, row)

    def record_decision(self, edition: str, decision: Decision) -> None:
        """Record the winner of ``edition``'s subject test (a later choice by hand replaces it)."""
        counts = json.dumps({label: list(pair) for label, pair in decision.counts.items()})
        with self._transaction():
            self.db.execute(
                "INSERT INTO subject_tests VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (edition)"
                " DO UPDATE SET winner = excluded.winner, how = excluded.how,"
                " decided = excluded.decided, counts = excluded.counts, metric = excluded.metric",
                (
                    edition,
                    _now(decision.decided),
                    decision.winner,
                    decision.how,
                    _now(decision.decided),
                    counts,
                    decision.metric,
                ),
            )

    def sent_variants(self, edition: str) -> list[tuple[str, str]]:
        """Each reader of ``edition`` sent so far: their variant and the provider's id."""
        rows = self.db.execute(
            "SELECT variant, detail FROM deliveries WHERE edition = ? AND state = 'sent'",
            (edition,),
        )
        return [(variant, detail) for variant, detail in rows]

    def handed_over(self, since: datetime) -> int:
        """How many messages of every edition were handed over (or claimed) since ``since``.

        The hourly cap and the warm-up count with it; it reads every row, once a run.
        """
        (count,) = self.db.execute(
            "SELECT count(*) FROM deliveries WHERE updated >= ?", (_now(since),)
        ).fetchone()
        return int(count)

    def rows(self, edition: str, states: Sequence[str] = ()) -> Iterator[LedgerRow]:
        """The recorded recipients of ``edition`` (only those in ``states``, when given)."""
        query = "SELECT address, state, detail, variant, updated FROM deliveries WHERE edition = ?"
        params: list[str] = [edition]
        if states:
            query += f" AND state IN ({','.join('?' * len(states))})"
            params += states
        for row in self.db.execute(query + " ORDER BY address", params):
            yield LedgerRow(*row)

    def summary(self, edition: str) -> dict[tuple[str, str], int]:
        """How many recipients of ``edition`` are in each (variant, state)."""
        rows = self.db.execute(
            "SELECT variant, state, count(*) FROM deliveries WHERE edition = ?"
            " GROUP BY variant, state ORDER BY variant, state",
            (edition,),
        )
        return {(variant, state): count for variant, state, count in rows}

    def write_report(self, edition: str, path: StrPath) -> int:
        """Write every refused, unknown and pending recipient to ``path`` (.csv or .json).

        A CSV cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``,
        ``-``, ``@``, a tab or a carriage return: an address such as ``=cmd|…@example.org``
        or a provider's reason) is written with a leading ``'``, as OWASP advises; every cell
        is quoted and lines end in CRLF, so a line break inside a reason starts no row
        (``spreadsheet_csv``).
        """
        target = Path(path)
        rows = list(self.rows(edition, ("refused", "unknown", "pending")))
        fields = list(LedgerRow._fields)
        if target.suffix.lower() == ".json":
            text = json.dumps([row._asdict() for row in rows], ensure_ascii=False, indent=1) + "\n"
        else:
            text = spreadsheet_csv([fields, *rows])
        write_file(target, text.encode("utf-8"))
        return len(rows)


def open_ledger(path: StrPath, url: StoreURL | None = None, lease_seconds: int = 900) -> SendLedger:
    """The send ledger the store's ``url`` names: PostgreSQL, or the SQLite file at ``path``.

    ``sqlite:////abs/file`` puts the SQLite ledger at ``/abs/file`` instead of ``path``.
    """
    if url is None or url.backend == "sqlite":
        return SendLedger(url.path if url is not None and url.path is not None else path)
    # Not at import: psycopg loads only for a PostgreSQL store.
    from digest.store import PostgresStore

    return PostgresLedger(PostgresStore(url), lease_seconds)


#: A claim's reading of each address it did not claim, in one statement: claimed now (''),
#: claimed earlier by this run, claimed by another live sender, held by the limit, or as stored.
_CLAIM = """
WITH wanted AS (
    SELECT w.address, w.variant, w.ord
    FROM unnest(%(addresses)s::text[], %(variants)s::text[]) WITH ORDINALITY
        AS w(address, variant, ord)
), known AS (
    SELECT w.address, w.variant, w.ord, d.state, d.run, d.updated,
        (d.state IS NULL OR (d.run <> %(run)s AND (
            (%(unknown)s AND d.state = 'unknown')
            OR (%(unknown)s AND d.state = 'pending' AND d.updated < %(expired)s)
            OR (%(refused)s AND d.state = 'refused')))) AS open
    -- One index look-up an address (a join could read the whole edition's rows each chunk).
    FROM wanted w LEFT JOIN LATERAL (
        SELECT state, run, updated FROM deliveries
        WHERE edition = %(edition)s AND address = w.address
        LIMIT 1  -- kept a subquery: the planner would make it a join again
    ) d ON true
), ranked AS (
    SELECT *, CASE WHEN open THEN row_number() OVER (PARTITION BY open ORDER BY ord) END AS rank
    FROM known
), claimed AS (
    INSERT INTO deliveries AS d (edition, address, state, detail, variant, updated, run)
    SELECT %(edition)s, address, 'pending', '', variant, %(now)s, %(run)s
    FROM ranked WHERE open AND (%(limit)s::bigint IS NULL OR rank <= %(limit)s::bigint)
    -- Rows are locked in one order by every sender (an address's), or two senders meeting a
    -- list in different orders would deadlock.
    ORDER BY address COLLATE "C"
    ON CONFLICT (edition, address) DO UPDATE SET state = 'pending', detail = '',
        variant = excluded.variant, updated = excluded.updated, run = excluded.run
    -- Checked again on the row as it is now: another sender may have claimed it since.
    WHERE d.run <> %(run)s AND (
        (%(unknown)s AND d.state = 'unknown')
        OR (%(unknown)s AND d.state = 'pending' AND d.updated < %(expired)s)
        OR (%(refused)s AND d.state = 'refused'))
    RETURNING d.address
)
SELECT r.address, CASE
    WHEN c.address IS NOT NULL THEN ''
    WHEN r.run = %(run)s THEN 'this-run'
    WHEN r.open AND %(limit)s::bigint IS NOT NULL AND r.rank > %(limit)s::bigint THEN 'held'
    WHEN r.open THEN 'claimed'
    WHEN r.state = 'pending' AND r.updated >= %(expired)s THEN 'claimed'
    ELSE r.state END
FROM ranked r LEFT JOIN claimed c ON c.address = r.address
"""

#: What a chunk's receipts did, in one statement: deferred rows deleted, the others recorded.
_RECORD = """
WITH dropped AS (
    DELETE FROM deliveries WHERE edition = %(edition)s AND address = ANY(%(dropped)s::text[])
)
INSERT INTO deliveries (edition, address, state, detail, variant, updated, run)
SELECT %(edition)s, r.address, r.state, r.detail, '', %(now)s, ''
FROM unnest(%(addresses)s::text[], %(states)s::text[], %(details)s::text[])
    AS r(address, state, detail)
ON CONFLICT (edition, address) DO UPDATE SET state = excluded.state,
    detail = excluded.detail, updated = excluded.updated
"""


class PostgresLedger(SendLedger):
    """The send ledger in PostgreSQL: senders on any number of hosts share an edition."""

    def __init__(self, store: PostgresStore, lease_seconds: int = 900) -> None:
        """Keep the ledger in ``store`` (its schema upgraded first, if it must be)."""
        self.store = store
        self.path = Path(store.url.masked())
        self.lease = timedelta(seconds=lease_seconds)
        self._db: PostgresConnection | None = None
        store.upgrade()

    def close(self) -> None:
        """Close the store's connections."""
        if self._db is not None:
            self._db.close()
        self.store.close()

    @property
    def db(self) -> Connection:  # type: ignore[override]
        """A connection to the store for the ledger's other records (a guarded send's)."""
        if self._db is None:
            self._db = PostgresConnection(self.store.url, "ledger")
        return self._db

    def lock(self, edition: str, *, paced: bool = False) -> AbstractContextManager[object]:
        """Nothing for a run of its own: senders share an edition, claim by claim.

        A ``paced`` run counts what every edition handed over this hour, so paced runs
        take turns: another one at the same time is refused, named.
        """
        if not paced:
            return nullcontext()
        return self.store.advisory_lock(
            "pace",
            wait=False,
            busy=f"another paced run is sending now ({edition!r} waits for it); "
            "let it finish, then run again",
            error=SendError,
        )

    def deciding(self, edition: str) -> AbstractContextManager[object]:
        """Held while one sender decides ``edition``'s A/B winner; the others wait for it."""
        return self.store.advisory_lock(f"decision:{edition}", wait=True)

    def content_changed(self, edition: str, content: str) -> bool:
        """Note the content ``edition`` is sent with; whether its first run had another."""
        rows = self.store.run(
            "WITH new AS (INSERT INTO ledger_editions VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
            " RETURNING content) SELECT content FROM new UNION ALL"
            " SELECT content FROM ledger_editions WHERE edition = %s",
            (edition, content, datetime.now(UTC), edition),
            retry=True,
        )
        # Another sender's row committed after this statement began is in neither part.
        rows = rows or self.store.run(
            "SELECT content FROM ledger_editions WHERE edition = %s", (edition,), retry=True
        )
        return bool(content) and rows[0][0] != content

    def states(self, edition: str, addresses: Iterable[str], run: str = "") -> dict[str, str]:
        """The recorded state of each of ``addresses`` that the ledger knows for ``edition``.

        An address claimed by ``run`` (see ``claim``) reads as ``this-run``.
        """
        rows = self.store.run(
            "SELECT address, CASE run WHEN %s THEN 'this-run' ELSE state END FROM deliveries"
            " WHERE edition = %s AND address = ANY(%s::text[])",
            (run or None, edition, [address_key(address) for address in addresses]),
            retry=True,
        )
        return dict(rows)

    def went_to(self, edition: str, address: str) -> bool:
        """Whether ``edition`` was handed over for ``address`` (sent, unknown or pending)."""
        rows = self.store.run(
            "SELECT 1 FROM deliveries WHERE edition = %s AND address = %s"
            " AND state IN ('sent', 'unknown', 'pending')",
            (edition, address_key(address)),
            retry=True,
        )
        return bool(rows)

    def claim(
        self,
        edition: str,
        addresses: Sequence[str],
        variants: Sequence[str],
        run: str,
        take_unknown: bool = False,
        take_refused: bool = False,
        *,
        limit: int | None = None,
        when: datetime | None = None,
    ) -> dict[str, str]:
        """Record as pending those of ``addresses`` no sender holds; return the others.

        One statement: only the addresses its ``RETURNING`` names are claimed, so two
        senders never both claim one. An address another sender claimed within the lease
        reads as ``claimed``; one pending for longer (its sender died) reads as ``pending``,
        reported unknown, and is claimed again with ``take_unknown``.
        """
        moment = (when or datetime.now(UTC)).astimezone(UTC)
        keys = list(map(address_key, addresses))
        if len(variants) != len(keys):
            raise ValueError("claim: one variant an address")
        # Safe to run twice: a row the lost first run claimed reads as this run's.
        rows = self.store.run(
            _CLAIM,
            {
                "addresses": keys,
                "variants": list(variants),
                "edition": edition,
                "run": run,
                "now": moment,
                "expired": moment - self.lease,
                "unknown": take_unknown,
                "refused": take_refused,
                "limit": limit,
            },
            retry=True,
        )
        return {address: state for address, state in rows if state}

    def record(
        self, edition: str, receipts: Iterable[Receipt], when: datetime | None = None
    ) -> None:
        """Record what became of each message; deferred ones are forgotten (not handed over)."""
        addresses, states, details, dropped = [], [], [], []
        # In the claims' order of rows (an address's), so two senders never wait on each other.
        for receipt in sorted(receipts, key=lambda receipt: address_key(receipt.address)):
            key = address_key(receipt.address)
            if receipt.state == "deferred":
                dropped.append(key)
            else:
                addresses.append(key)
                states.append(receipt.state)
                details.append(receipt.detail)
        self.store.run(
            _RECORD,
            {
                "edition": edition,
                "now": (when or datetime.now(UTC)).astimezone(UTC),
                "addresses": addresses,
                "states": states,
                "details": details,
                "dropped": dropped,
            },
            retry=True,
        )

    def test_started(self, edition: str, when: datetime) -> datetime:
        """When the subject test of ``edition`` started: ``when``, unless a run started it."""
        rows = self.store.run(
            "WITH new AS (INSERT INTO subject_tests (edition, started) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING RETURNING started) SELECT started FROM new UNION ALL"
            " SELECT started FROM subject_tests WHERE edition = %s",
            (edition, _moment(when), edition),
            retry=True,
        )
        rows = rows or self.store.run(  # another sender's, committed after this one began
            "SELECT started FROM subject_tests WHERE edition = %s", (edition,), retry=True
        )
        started: datetime = rows[0][0]
        return started

    def decision(self, edition: str) -> Decision | None:
        """The recorded winner of ``edition``'s subject test, if one was decided."""
        rows = self.store.run(
            "SELECT winner, how, decided, counts, metric FROM subject_tests"
            " WHERE edition = %s AND winner != ''",
            (edition,),
            retry=True,
        )
        return _decision(self.path, edition, rows[0]) if rows else None

    def record_decision(self, edition: str, decision: Decision) -> None:
        """Record the winner of ``edition``'s subject test (a later choice by hand replaces it)."""
        counts = json.dumps({label: list(pair) for label, pair in decision.counts.items()})
        self.store.run(
            "INSERT INTO subject_tests VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (edition)"
            " DO UPDATE SET winner = excluded.winner, how = excluded.how,"
            " decided = excluded.decided, counts = excluded.counts, metric = excluded.metric",
            (
                edition,
                _moment(decision.decided),
                decision.winner,
                decision.how,
                _now(decision.decided),
                counts,
                decision.metric,
            ),
            retry=True,
        )

    def sent_variants(self, edition: str) -> list[tuple[str, str]]:
        """Each reader of ``edition`` sent so far: their variant and the provider's id."""
        rows = self.store.run(
            "SELECT variant, detail FROM deliveries WHERE edition = %s AND state = 'sent'",
            (edition,),
            retry=True,
        )
        return [(variant, detail) for variant, detail in rows]

    def handed_over(self, since: datetime) -> int:
        """How many messages of every edition were handed over (or claimed) since ``since``."""
        rows = self.store.run(
            "SELECT count(*) FROM deliveries WHERE updated >= %s", (_moment(since),), retry=True
        )
        return int(rows[0][0])

    def rows(self, edition: str, states: Sequence[str] = ()) -> Iterator[LedgerRow]:
        """The recorded recipients of ``edition`` (only those in ``states``, when given)."""
        query = "SELECT address, state, detail, variant, updated FROM deliveries WHERE edition = %s"
        params: list[object] = [edition]
        if states:
            query += " AND state = ANY(%s::text[])"
            params.append(list(states))
        for address, state, detail, variant, updated in self.store.run(
            query + ' ORDER BY address COLLATE "C"', params, retry=True
        ):
            yield LedgerRow(address, state, detail, variant, _now(updated))

    def summary(self, edition: str) -> dict[tuple[str, str], int]:
        """How many recipients of ``edition`` are in each (variant, state)."""
        rows = self.store.run(
            "SELECT variant, state, count(*) FROM deliveries WHERE edition = %s"
            ' GROUP BY variant, state ORDER BY variant COLLATE "C", state COLLATE "C"',
            (edition,),
            retry=True,
        )
        return {(variant, state): int(count) for variant, state, count in rows}


def _decision(where: Path, edition: str, row: Sequence[str]) -> Decision:
    """The ``Decision`` a row of ``subject_tests`` holds; a ``DigestError`` if it is damaged."""
    # Not at import: digest send starts faster.
    from digest.delivery.subject_test import Decision

    winner, how, decided, counts, metric = row
    try:
        shares = {label: (int(a), int(b)) for label, (a, b) in json.loads(counts).items()}
        return Decision(winner, how, datetime.fromisoformat(decided), shares, metric)
    except (TypeError, ValueError, AttributeError) as error:  # a row damaged by hand
        raise DigestError(
            f"{where}: the A/B decision of {edition} is damaged ({error}); "
            "restore the send ledger from a backup"
        ) from None


def _moment(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(microsecond=0)


def _now(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
