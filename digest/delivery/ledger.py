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
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from digest.addresses import address_key
from digest.errors import DigestError, SendError
from digest.files import BuildLock, Database, open_wal, spreadsheet_csv, transaction, write_file

if TYPE_CHECKING:
    from digest.delivery.senders import Receipt
    from digest.delivery.subject_test import Decision
    from digest.files import StrPath

__all__ = ["LedgerRow", "SendLedger"]


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
            raise DigestError(f"{self.path}: cannot open the send ledger: {error}") from None

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

    def _transaction(self) -> AbstractContextManager[None]:
        return transaction(self.db)

    def lock(self, edition: str) -> BuildLock:
        """A lock held by the one run sending ``edition``; another run is refused, named.

        The lock files live in a folder beside the ledger, one per edition.
        """
        name = hashlib.sha256(edition.encode()).hexdigest()[:24]
        folder = self.path.with_name(self.path.name + ".locks")
        return BuildLock(
            folder / f"{name}.lock",
            timeout=0,
            busy=f"another run is sending {edition!r} now; let it finish, then run again",
            error=SendError,
        )

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
        if row is None:
            return None
        # Not at import: digest send starts faster.
        from digest.delivery.subject_test import Decision

        winner, how, decided, counts, metric = row
        try:
            shares = {label: (int(a), int(b)) for label, (a, b) in json.loads(counts).items()}
            return Decision(winner, how, datetime.fromisoformat(decided), shares, metric)
        except (TypeError, ValueError, AttributeError) as error:  # a row damaged by hand
            raise DigestError(
                f"{self.path}: the A/B decision of {edition} is damaged ({error}); "
                "restore the send ledger from a backup"
            ) from None

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


def _now(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
