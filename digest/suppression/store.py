"""The suppression list: addresses never sent to again, and why, in SQLite beside the ledger.

Every change of a reader's state is an event, recorded once by its id (one occurrence: a
provider's event, a report, a click on an unsubscribe link, a ``digest suppress add`` or
``remove``), so a webhook delivered twice or a report imported again changes nothing, and a
new event always counts. A reader's state is that of their newest event by its time (ties
go to the one that arrived first), whatever order the events arrive in: an old bounce that
arrives late does not undo a newer resubscribe (``events.standing``). A hard bounce, a
complaint, an unsubscribe or an address added by hand suppresses; soft bounces do once an
address has had ``soft_bounce_limit`` of them since it last resubscribed. The table
``suppressions`` holds each suppressed reader's standing, rewritten by ``standing`` whenever
one of their events is recorded, and every send path asks it the one question,
``suppressed``. The database is in WAL mode: the web app records events while ``digest
send`` reads the list before each chunk, each in its own process. Each event keeps the
provider's message id, the edition it is about and a click's link when its source tells
(``Event.message_id``, ``edition``, ``url``): what ``digest report`` counts by.
"""

from __future__ import annotations

import csv
import hashlib
import io
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple, cast

from digest.addresses import address_key, email_address
from digest.errors import DigestError, InputError
from digest.files import StrPath, read_file, spreadsheet_csv, write_file
from digest.store.connection import Connection, Database, open_wal, transaction
from digest.store.url import StoreURL
from digest.suppression.events import (
    ENGAGEMENTS,
    REASONS,
    RESUBSCRIBED,
    Engagement,
    Event,
    Reason,
    Resubscribe,
    standing,
)

__all__ = ["FORMAT", "Suppression", "SuppressionList", "keys_among"]


#: The file's format (``PRAGMA user_version``). 0: events kept as they came, the list changed
#: in place; 1: every change an event with its moment and arrival, the list their standing.
FORMAT = 1

_CHUNK = 900  # addresses per IN (...) query, under SQLite's oldest parameter limit
_CSV_FIELDS = ("address", "reason", "source", "at", "detail")
_MAX_CSV = 200 * 1024 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STATES = ", ".join(f"'{kind}'" for kind in ENGAGEMENTS)


class Suppression(NamedTuple):
    """One suppressed address: why, from where, since when."""

    address: str
    reason: str
    source: str
    at: str
    detail: str


def _utc(when: datetime) -> datetime:
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).astimezone(UTC)


def _moment(when: datetime) -> int:
    """Microseconds since 1970 (UTC): the order of events."""
    return (_utc(when) - _EPOCH) // timedelta(microseconds=1)


def _text(moment: int) -> str:
    return (_EPOCH + timedelta(microseconds=moment)).isoformat(timespec="seconds")


def keys_among(db: Connection, query: str, keys: Sequence[str], *after: object) -> Iterator[str]:
    """The first column of ``query`` over ``keys``, a chunk of them a query.

    ``query`` has ``{marks}`` where a chunk's placeholders go (``key IN ({marks})``), then
    those of ``after``, the same for every chunk.
    """
    for start in range(0, len(keys), _CHUNK):
        part = keys[start : start + _CHUNK]
        for row in db.execute(query.format(marks=",".join("?" * len(part))), [*part, *after]):
            yield row[0]


class SuppressionList(Database):
    """Addresses that must not be sent to, and every event that put them there or took them off."""

    def __init__(self, path: StrPath | StoreURL, soft_bounce_limit: int = 3) -> None:
        """Open (or create) the list at ``path``; a list of an earlier format is upgraded.

        ``path`` may be a store URL: ``postgresql://`` keeps the list in that database (its
        schema upgraded first, if it must be), ``sqlite:`` in the file at ``path`` as before.
        """
        if soft_bounce_limit < 1:
            raise InputError(f"soft_bounce_limit: must be 1 or more, not {soft_bounce_limit}")
        self.soft_bounce_limit = soft_bounce_limit
        if isinstance(path, StoreURL):
            if path.backend == "postgresql":
                self._open_server(path)
                return
            if path.path is None:
                raise InputError(f"store {path}: name the suppression list's file")
            path = path.path
        self.path = Path(path)
        try:
            self.db = open_wal(self.path, threads=True)  # the web app's worker threads
        except (sqlite3.Error, OSError) as error:
            raise DigestError(f"{self.path}: cannot open the suppression list: {error}") from None
        try:
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS suppressions (address TEXT PRIMARY KEY,"
                " reason TEXT NOT NULL, source TEXT NOT NULL, at TEXT NOT NULL,"
                " detail TEXT NOT NULL DEFAULT '') WITHOUT ROWID"
            )
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, address TEXT NOT NULL,"
                " reason TEXT NOT NULL, source TEXT NOT NULL, at TEXT NOT NULL,"
                " detail TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',"
                " moment INTEGER NOT NULL DEFAULT 0, arrival INTEGER NOT NULL DEFAULT 0,"
                " edition TEXT NOT NULL DEFAULT '', url TEXT NOT NULL DEFAULT '')"
            )
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(events)")}
            if "message" not in columns:  # a list of 0.3's first form: opens and clicks since
                self.db.execute("ALTER TABLE events ADD COLUMN message TEXT NOT NULL DEFAULT ''")
            for column in ("edition", "url"):  # reports since: an event's edition, a click's link
                if column not in columns:
                    self.db.execute(
                        f"ALTER TABLE events ADD COLUMN {column} TEXT NOT NULL DEFAULT ''"
                    )
            self._upgrade()
            self.db.execute(
                "CREATE INDEX IF NOT EXISTS events_by_message ON events (message)"
                " WHERE message != ''"
            )
            self.db.execute(
                "CREATE INDEX IF NOT EXISTS events_by_edition ON events (edition)"
                " WHERE edition != ''"
            )
        except (sqlite3.Error, OSError) as error:
            self.db.close()
            raise DigestError(f"{self.path}: cannot open the suppression list: {error}") from None
        except DigestError:
            self.db.close()
            raise

    def _open_server(self, url: StoreURL) -> None:
        """Keep the list in the PostgreSQL store ``url`` (migration 2 has its tables)."""
        from digest.store.postgres import upgraded_connection

        self.path = Path(url.masked())
        self.db = upgraded_connection(url, "suppressions")

    def _upgrade(self) -> None:
        """Bring a list of format 0 to ``FORMAT``, each reader's state as it stood.

        Format 0 changed the list in place: ``remove`` deleted a reader's row (and their soft
        bounces) but kept their other events, ``add`` and ``import`` wrote rows without one.
        Each event gets its moment and arrival; where the events alone would now say
        otherwise than the list did, one event (``migrated:ADDRESS``) says what the list
        said: a row at its own time (after all of the reader's events), a reader taken off
        by hand a resubscribe just after what had suppressed them.
        """
        (version,) = self.db.execute("PRAGMA user_version").fetchone()
        if version > FORMAT:
            raise DigestError(
                f"{self.path}: the suppression list was written by a newer digest "
                f"(format {version}; this one reads up to {FORMAT})"
            )
        if version == FORMAT:
            return
        with transaction(self.db):
            (version,) = self.db.execute("PRAGMA user_version").fetchone()
            if version == FORMAT:  # another process upgraded it meanwhile
                return
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(events)")}
            for column in ("moment", "arrival"):
                if column not in columns:
                    self.db.execute(
                        f"ALTER TABLE events ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
                    )
            times = self.db.execute("SELECT rowid, at FROM events").fetchall()
            self.db.executemany(
                "UPDATE events SET moment = ?, arrival = rowid WHERE rowid = ?",
                [(_moment(_parsed(at) or _EPOCH), rowid) for rowid, at in times],
            )
            self.db.execute(
                "CREATE INDEX IF NOT EXISTS events_in_order ON events (address, moment, arrival)"
            )
            self.db.execute("CREATE INDEX IF NOT EXISTS events_by_arrival ON events (arrival)")
            self.db.execute("DROP INDEX IF EXISTS events_by_address")
            rows = self.db.execute("SELECT * FROM suppressions").fetchall()
            listed = {row[0]: Suppression(*row) for row in rows}
            others = self.db.execute(
                f"SELECT DISTINCT address FROM events WHERE reason NOT IN ({_STATES})"
            ).fetchall()
            for key in sorted(set(listed) | {address for (address,) in others}):
                self._carry_over(key, listed.get(key))
            self.db.execute(f"PRAGMA user_version = {FORMAT}")

    def _carry_over(self, key: str, row: Suppression | None) -> None:
        history = self._history(key)
        now = standing((event for event, _ in history), self.soft_bounce_limit)
        after = max((moment for _, moment in history), default=0) + 1
        reason: Reason | Resubscribe
        if row is not None and (now is None or now.reason != row.reason):
            listed_at = _parsed(row.at)
            moment = max(after, _moment(listed_at) if listed_at is not None else 0)
            known = row.reason in REASONS and row.reason != "soft-bounce"
            reason = cast("Reason", row.reason) if known else "by-hand"
            source, detail = row.source, row.detail
        elif row is None and now is not None:
            # Taken off by hand, which also forgot the soft bounces it had: just after what
            # suppressed it, so those it has had since still count.
            moment = {event.id: moment for event, moment in history}[now.id] + 1
            reason = RESUBSCRIBED
            source, detail = "digest suppress remove", "taken off the list before format 1"
        else:
            self._settle(key)
            return
        self.db.execute(
            "INSERT INTO events (id, address, reason, source, at, detail, moment, arrival)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(arrival), 0) + 1 FROM events))"
            " ON CONFLICT DO NOTHING",
            (f"migrated:{key}", key, reason, source, _text(moment), detail, moment),
        )
        self._settle(key)

    def _history(self, key: str) -> list[tuple[Event, int]]:
        """A reader's events that can change their state, oldest first, with their moments."""
        rows = self.db.execute(
            "SELECT id, reason, source, at, detail, moment FROM events WHERE address = ?"
            f" AND reason NOT IN ({_STATES}) ORDER BY moment, arrival",
            (key,),
        )
        return [
            (
                Event(key, cast("Reason | Resubscribe", reason), source, id, _parsed(at), detail),
                moment,
            )
            for id, reason, source, at, detail, moment in rows
        ]

    def _settle(self, key: str) -> None:
        """Write a reader's standing (``events.standing``) into the list."""
        history = self._history(key)
        now = standing((event for event, _ in history), self.soft_bounce_limit)
        if now is None:
            self.db.execute("DELETE FROM suppressions WHERE address = ?", (key,))
            return
        at = now.at.isoformat(timespec="seconds") if now.at is not None else _text(0)
        self.db.execute(
            "INSERT INTO suppressions VALUES (?, ?, ?, ?, ?) ON CONFLICT (address) DO UPDATE"
            " SET reason = excluded.reason, source = excluded.source, at = excluded.at,"
            " detail = excluded.detail",
            (key, now.reason, now.source, at, now.detail[:1000]),
        )

    def _record(self, event: Event, now: datetime) -> bool:
        """Record ``event`` in the open transaction; False when its id was recorded before."""
        key = address_key(event.address)
        # A time to come is no time yet: an event counts from when it arrives at the latest.
        when = min(_utc(event.at), now) if event.at is not None else now
        cursor = self.db.execute(
            "INSERT INTO events (id, address, reason, source, at, detail, message, moment,"
            " arrival, edition, url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT"
            " coalesce(max(arrival), 0) + 1 FROM events), ?, ?) ON CONFLICT DO NOTHING",
            (
                event.id,
                key,
                event.reason,
                event.source,
                when.isoformat(timespec="seconds"),
                event.detail,
                event.message_id,
                _moment(when),
                event.edition,
                event.url,
            ),
        )
        if cursor.rowcount == 0:
            return False
        if event.reason not in ENGAGEMENTS:  # an open or a click: kept, never suppresses
            self._settle(key)
        return True

    def record(self, event: Event) -> bool:
        """Record ``event``; False when its id was recorded before (nothing changes then)."""
        with transaction(self.db):
            return self._record(event, datetime.now(UTC))

    def forget_engagements(self, before: datetime, source: str) -> int:
        """Forget the opens and clicks ``source`` recorded before ``before``; how many."""
        with transaction(self.db):
            cursor = self.db.execute(
                f"DELETE FROM events WHERE reason IN ({_STATES}) AND source = ? AND moment < ?",
                (source, _moment(before)),
            )
        return cursor.rowcount

    def engaged(self, message_ids: Sequence[str], kind: Engagement) -> set[str]:
        """Those of ``message_ids`` (the providers' ids) a reader ``kind`` (opened or clicked)."""
        query = "SELECT DISTINCT message FROM events WHERE message IN ({marks}) AND reason = ?"
        return set(keys_among(self.db, query, [m for m in message_ids if m], kind))

    def add(
        self, address: str, reason: Reason = "by-hand", source: str = "by hand", detail: str = ""
    ) -> bool:
        """Suppress ``address`` now (an event of its own); False when it already was."""
        try:
            checked = email_address(address)
        except ValueError as error:
            raise InputError(f"address {address!r}: {error}") from None
        if reason not in REASONS or reason == "soft-bounce":
            raise InputError(f"reason: {reason!r} is not one of {', '.join(REASONS)}")
        event = Event(checked, reason, source, f"by-hand:{uuid.uuid4().hex}", None, detail)
        with transaction(self.db):
            if self._listed(address_key(checked)):
                return False  # nothing lifts it but a resubscribe, which is recorded as it comes
            self._record(event, datetime.now(UTC))
        return True

    def remove(self, address: str, source: str = "by hand") -> bool:
        """Let ``address`` be mailed again (a resubscribe, from now on); False if it was not listed.

        Its soft bounces so far no longer count; an unsubscribe, bounce or complaint that
        happens later suppresses it again, and one from before changes nothing, whenever it
        arrives.
        """
        try:
            checked = email_address(address.strip())
        except ValueError:
            return False
        event = Event(checked, RESUBSCRIBED, source, f"by-hand:{uuid.uuid4().hex}")
        with transaction(self.db):
            was = self._listed(address_key(checked))
            self._record(event, datetime.now(UTC))
        return was

    def _listed(self, key: str) -> bool:
        row = self.db.execute("SELECT 1 FROM suppressions WHERE address = ?", (key,)).fetchone()
        return row is not None

    def history(self, address: str) -> list[Event]:
        """Every event of ``address`` that can change its state, oldest first."""
        return [event for event, _ in self._history(address_key(address.strip()))]

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
        return set(
            keys_among(
                self.db, "SELECT address FROM suppressions WHERE address IN ({marks})", addresses
            )
        )

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
        """Add the addresses of a CSV file (an ``address`` column; ``reason``, ``at`` optional).

        Each row is an event (known by its content: importing a file again changes nothing)
        at its ``at`` time when it has one (as ``export_csv`` writes it), else now: a row
        older than a reader's resubscribe does not suppress them again. Returns how many
        addresses it suppressed and how many rows did not. A row whose address, reason or
        time is not valid is an ``InputError`` naming its line, and nothing of the file is
        added then.
        """
        raw = read_file(Path(path), "suppression CSV", _MAX_CSV)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text; save the file as UTF-8") from None
        rows = csv.DictReader(io.StringIO(text, newline=""))
        if rows.fieldnames is None or "address" not in rows.fieldnames:
            raise InputError(f"{path}: no 'address' column in the first line")
        entries: list[Event] = []
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
                stamp = (row.get("at") or "").strip()
                when = _parsed(stamp)
                if stamp and when is None:
                    raise InputError(
                        f"{path}:{line}: at {stamp[:40]!r} is not a time (2026-12-05T11:53:21Z)"
                    )
                detail = (row.get("detail") or "")[:1000]
                named = row.get("source") or ""
                content = "\0".join((address, reason, named, stamp, detail)).encode("utf-8")
                key = "import:" + hashlib.sha256(content).hexdigest()[:32]
                checked = cast("Reason", reason)
                entries.append(Event(address, checked, named or source, key, when, detail))
        except csv.Error as error:
            raise InputError(f"{path}:{rows.line_num}: {error}") from None
        with transaction(self.db):
            before = len(self)
            now = datetime.now(UTC)
            for entry in entries:
                self._record(entry, now)
            added = len(self) - before
        return added, len(entries) - added


def _parsed(text: str) -> datetime | None:
    """An ISO 8601 time (``Z`` too), in UTC when it names no zone; None when it is none."""
    try:
        return _utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError:
        return None
