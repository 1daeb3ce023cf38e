"""The suppression list: addresses never sent to again, and why, in SQLite beside the ledger.

Every event is recorded once by its id, so a webhook delivered twice or a report imported
again changes nothing. A hard bounce, a complaint, an unsubscribe or an address added by
hand suppresses at once; soft bounces do once an address has had ``soft_bounce_limit`` of
them. The database is in WAL mode: the web app records events while ``digest send`` reads
the list before each chunk, each in its own process.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from digest.addresses import address_key, email_address
from digest.errors import DigestError, InputError
from digest.files import (
    Database,
    StrPath,
    open_wal,
    read_file,
    spreadsheet_csv,
    transaction,
    write_file,
)
from digest.suppression.events import ENGAGEMENTS, REASONS, Engagement, Event, Reason

__all__ = ["Suppression", "SuppressionList"]


_CHUNK = 900  # addresses per IN (...) query, under SQLite's oldest parameter limit
_CSV_FIELDS = ("address", "reason", "source", "at", "detail")
_MAX_CSV = 200 * 1024 * 1024


class Suppression(NamedTuple):
    """One suppressed address: why, from where, since when."""

    address: str
    reason: str
    source: str
    at: str
    detail: str


class SuppressionList(Database):
    """Addresses that must not be sent to, and every event that put them there."""

    def __init__(self, path: StrPath, soft_bounce_limit: int = 3) -> None:
        """Open (or create) the list at ``path``."""
        if soft_bounce_limit < 1:
            raise InputError(f"soft_bounce_limit: must be 1 or more, not {soft_bounce_limit}")
        self.path = Path(path)
        self.soft_bounce_limit = soft_bounce_limit
        try:
            self.db = open_wal(self.path, threads=True)  # the web app's worker threads
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS suppressions (address TEXT PRIMARY KEY,"
                " reason TEXT NOT NULL, source TEXT NOT NULL, at TEXT NOT NULL,"
                " detail TEXT NOT NULL DEFAULT '') WITHOUT ROWID"
            )
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, address TEXT NOT NULL,"
                " reason TEXT NOT NULL, source TEXT NOT NULL, at TEXT NOT NULL,"
                " detail TEXT NOT NULL DEFAULT '')"
            )
            self.db.execute("CREATE INDEX IF NOT EXISTS events_by_address ON events (address)")
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(events)")}
            if "message" not in columns:  # a list of 0.3's first form: opens and clicks since
                self.db.execute("ALTER TABLE events ADD COLUMN message TEXT NOT NULL DEFAULT ''")
            self.db.execute(
                "CREATE INDEX IF NOT EXISTS events_by_message ON events (message)"
                " WHERE message != ''"
            )
        except (sqlite3.Error, OSError) as error:
            raise DigestError(f"{self.path}: cannot open the suppression list: {error}") from None

    def record(self, event: Event) -> bool:
        """Record ``event``; False when its id was recorded before (nothing changes then)."""
        key = address_key(event.address)
        when = event.at or datetime.now(UTC)
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        at = when.astimezone(UTC).isoformat(timespec="seconds")
        with transaction(self.db):
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO events (id, address, reason, source, at, detail, message)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (event.id, key, event.reason, event.source, at, event.detail, event.message_id),
            )
            if cursor.rowcount == 0:
                return False
            if event.reason in ENGAGEMENTS:  # an open or a click: kept, never suppresses
                return True
            reason: str = event.reason
            if reason == "soft-bounce":
                (count,) = self.db.execute(
                    "SELECT count(*) FROM events WHERE address = ? AND reason = 'soft-bounce'",
                    (key,),
                ).fetchone()
                if count < self.soft_bounce_limit:
                    return True
                reason = "soft-bounces"
            self.db.execute(
                "INSERT OR IGNORE INTO suppressions VALUES (?, ?, ?, ?, ?)",
                (key, reason, event.source, at, event.detail[:1000]),
            )
        return True

    def engaged(self, message_ids: Sequence[str], kind: Engagement) -> set[str]:
        """Those of ``message_ids`` (the providers' ids) a reader ``kind`` (opened or clicked)."""
        rows = self.db.execute(
            "SELECT DISTINCT message FROM events WHERE reason = ?"
            " AND message IN (SELECT value FROM json_each(?))",
            (kind, json.dumps([m for m in message_ids if m])),
        )
        return {message for (message,) in rows}

    def add(
        self, address: str, reason: Reason = "by-hand", source: str = "by hand", detail: str = ""
    ) -> bool:
        """Suppress ``address`` now; False when it already was."""
        try:
            checked = email_address(address)
        except ValueError as error:
            raise InputError(f"address {address!r}: {error}") from None
        if reason not in REASONS or reason == "soft-bounce":
            raise InputError(f"reason: {reason!r} is not one of {', '.join(REASONS)}")
        at = datetime.now(UTC).isoformat(timespec="seconds")
        with transaction(self.db):
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO suppressions VALUES (?, ?, ?, ?, ?)",
                (address_key(checked), reason, source, at, detail[:1000]),
            )
        return cursor.rowcount == 1

    def remove(self, address: str) -> bool:
        """Take ``address`` off the list (its soft bounces are forgotten too); False if absent."""
        key = address_key(address.strip())
        with transaction(self.db):
            cursor = self.db.execute("DELETE FROM suppressions WHERE address = ?", (key,))
            self.db.execute(
                "DELETE FROM events WHERE address = ? AND reason = 'soft-bounce'", (key,)
            )
        return cursor.rowcount == 1

    def get(self, address: str) -> Suppression | None:
        """Why ``address`` is suppressed, or None when it is not."""
        row = self.db.execute(
            "SELECT * FROM suppressions WHERE address = ?", (address_key(address.strip()),)
        ).fetchone()
        return None if row is None else Suppression(*row)

    def __contains__(self, address: object) -> bool:
        """Whether ``address`` is suppressed."""
        return isinstance(address, str) and self.get(address) is not None

    def suppressed(self, addresses: Sequence[str]) -> set[str]:
        """Which of ``addresses`` (``address_key`` forms) are suppressed: a query a chunk."""
        found: set[str] = set()
        for start in range(0, len(addresses), _CHUNK):
            part = addresses[start : start + _CHUNK]
            marks = ",".join("?" * len(part))
            found.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT address FROM suppressions WHERE address IN ({marks})", part
                )
            )
        return found

    def __iter__(self) -> Iterator[Suppression]:
        """Every suppressed address, oldest first."""
        for row in self.db.execute("SELECT * FROM suppressions ORDER BY at, address"):
            yield Suppression(*row)

    def __len__(self) -> int:
        """How many addresses are suppressed."""
        (count,) = self.db.execute("SELECT count(*) FROM suppressions").fetchone()
        return int(count)

    def counts(self) -> dict[str, int]:
        """How many addresses are suppressed for each reason."""
        rows = self.db.execute("SELECT reason, count(*) FROM suppressions GROUP BY reason")
        return {reason: count for reason, count in rows}

    def export_csv(self, path: StrPath) -> int:
        """Write the list to a CSV file (address, reason, source, at, detail); how many rows.

        Every cell is quoted and lines end in CRLF; a cell a spreadsheet would run as a
        formula gets a leading ``'`` (OWASP's rule): ``spreadsheet_csv``.
        """
        rows = list(self)
        write_file(Path(path), spreadsheet_csv([_CSV_FIELDS, *rows]).encode("utf-8"))
        return len(rows)

    def import_csv(self, path: StrPath, source: str = "import") -> tuple[int, int]:
        """Add the addresses of a CSV file (an ``address`` column; ``reason`` optional).

        Returns how many were added and how many were on the list already. A row whose
        address or reason is not valid is an ``InputError`` naming its line, and nothing of
        the file is added then.
        """
        raw = read_file(Path(path), "suppression CSV", _MAX_CSV)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text; save the file as UTF-8") from None
        rows = csv.DictReader(io.StringIO(text, newline=""))
        if rows.fieldnames is None or "address" not in rows.fieldnames:
            raise InputError(f"{path}: no 'address' column in the first line")
        entries: list[tuple[str, str, str, str, str]] = []
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            for row in rows:
                line = rows.line_num
                value = (row.get("address") or "").strip().removeprefix("'")
                reason = (row.get("reason") or "by-hand").strip() or "by-hand"
                try:
                    address = address_key(email_address(value))
                except ValueError as error:
                    raise InputError(f"{path}:{line}: address {value!r}: {error}") from None
                if reason not in REASONS or reason == "soft-bounce":
                    raise InputError(
                        f"{path}:{line}: reason {reason!r} is not one of {', '.join(REASONS)}"
                    )
                detail = (row.get("detail") or "")[:1000]
                entries.append((address, reason, row.get("source") or source, now, detail))
        except csv.Error as error:
            raise InputError(f"{path}:{rows.line_num}: {error}") from None
        with transaction(self.db):
            before = len(self)
            self.db.executemany(
                "INSERT OR IGNORE INTO suppressions VALUES (?, ?, ?, ?, ?)", entries
            )
            added = len(self) - before
        return added, len(entries) - added
