"""Every row of the SQLite files into the PostgreSQL store, resumable and verified.

``copy_store`` reads each source file (a send ledger, the suppression list's file with the
reader store's tables, an edition history) a batch of rows at a time, in its key's order, and
writes each batch in one transaction of its own with ``INSERT … ON CONFLICT DO NOTHING``: a
copy killed at any moment leaves whole batches behind, and a second run writes only what is
missing, never a row twice. In the same transaction it reads the batch's rows back from the
target, so each table ends with its counts and two checksums: a SHA-256 over the source's
rows and one over the target's rows of the same keys, each value written the same canonical
way on both sides. A row the target already held with other values is a conflict: counted,
named, never overwritten (unless ``replace``). ``mode="check"`` compares without writing;
``"dry-run"`` only counts the source.

A history's edition whose date the target holds under another number (or whose number it
holds for another date) is a clash: it is not written, nor are the rows that hang off it
(its stories, links, plan, approval and campaigns), not even with ``replace`` (edition
numbers are never reassigned); each one is named, and its rows are counted as held back.

Two tables have no key: ``signup_uses`` (the sign-up rate limit's recent uses) is matched on
all its columns, two equal rows being one; ``signup_key`` (the secret those uses are hashed
with) is copied only into a target that has none, and a different one there is a conflict.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from digest.errors import InputError, StoreError
from digest.store.schema import Migration
from digest.store.url import StoreURL

if TYPE_CHECKING:
    import psycopg

    from digest.store.postgres import PostgresStore

__all__ = [
    "BATCH",
    "HISTORY_TABLES",
    "LEDGER_TABLES",
    "SUPPRESSION_TABLES",
    "By",
    "Clash",
    "CopyReport",
    "Kind",
    "Mode",
    "Source",
    "Table",
    "TableReport",
    "copy_store",
]

#: Rows a batch (one transaction on the target) by default.
BATCH = 5000

#: What a column holds: text as it is; ``time`` is ISO 8601 text in SQLite and
#: ``timestamptz`` on PostgreSQL; ``int`` integer, ``bigint``; ``real`` double precision;
#: ``bytes`` bytea.
Kind = Literal["text", "time", "int", "bigint", "real", "bytes"]
Mode = Literal["copy", "check", "dry-run"]
#: How a history table's row names its edition: by its number, its date, or its key
#: (``edition_key``: the newsletter's name, the date and ``#number``).
By = Literal["number", "date", "key"]

_SQL_TYPES: dict[str, str] = {
    "text": "text",
    "time": "timestamptz",
    "int": "integer",
    "bigint": "bigint",
    "real": "double precision",
    "bytes": "bytea",
}


@dataclass(frozen=True)
class Table:
    """One table to copy: its columns (name, kind), its key, and how rows meet rows there."""

    name: str
    columns: tuple[tuple[str, Kind], ...]
    #: The primary key's columns; empty for a table without one (matched on all columns).
    key: tuple[str, ...] = ()
    #: At most one row (``signup_key``): copied only into a target with none.
    single: bool = False
    #: The table's name on PostgreSQL, when it is not the file's.
    target: str = ""
    #: A history table's column naming the edition a row belongs to, and how it names it.
    edition: tuple[str, By] | None = None

    @property
    def into(self) -> str:
        """The table's name on PostgreSQL."""
        return self.target or self.name

    @cached_property
    def names(self) -> tuple[str, ...]:
        """The column names, in the PostgreSQL table's order."""
        return tuple(name for name, _ in self.columns)

    @cached_property
    def kinds(self) -> dict[str, Kind]:
        """Each column's kind, by its name."""
        return dict(self.columns)

    @cached_property
    def matched_on(self) -> tuple[str, ...]:
        """The columns a source row is found by in the target: its key, or all of them."""
        return self.key or self.names

    @cached_property
    def key_at(self) -> tuple[int, ...]:
        """Where the columns ``matched_on`` are in a row."""
        return self.positions(self.matched_on)

    def positions(self, names: Sequence[str]) -> tuple[int, ...]:
        """Where the columns ``names`` are in a row."""
        return tuple(self.names.index(name) for name in names)


def _columns_of(spec: str) -> tuple[tuple[str, Kind], ...]:
    """``"id at:time"``: each column's name, and its kind after a colon (text without one)."""
    out: list[tuple[str, Kind]] = []
    for word in spec.split():
        name, _, kind = word.partition(":")
        out.append((name, cast("Kind", kind or "text")))
    return tuple(out)


#: The send ledger's tables (``digest.delivery.ledger``; migrations 1 and 4).
LEDGER_TABLES: tuple[Table, ...] = (
    Table(
        "deliveries",
        _columns_of("edition address state detail variant updated:time run"),
        ("edition", "address"),
    ),
    # On the server beside the history's editions (migration 3).
    Table(
        "editions",
        _columns_of("edition content first_run:time"),
        ("edition",),
        target="ledger_editions",
    ),
    Table(
        "subject_tests",
        _columns_of("edition started:time winner how decided counts metric"),
        ("edition",),
    ),
    # A guarded send's records (``digest.delivery.guard``; migration 4), times kept as text.
    Table("guards", _columns_of("edition started state how decided reading"), ("edition",)),
)

#: The suppression list's and the reader store's tables, one file (migration 2).
SUPPRESSION_TABLES: tuple[Table, ...] = (
    Table(
        "events",
        _columns_of(
            "id address reason source at detail message moment:bigint arrival:bigint edition url"
        ),
        ("id",),
    ),
    Table("suppressions", _columns_of("address reason source at detail"), ("address",)),
    Table(
        "readers",
        _columns_of("key address name fields sections timezone language created paused_until"),
        ("key",),
    ),
    Table(
        "consents",
        _columns_of("key at method source wording ip"),
        ("key", "at", "method", "source"),
    ),
    Table("forgotten", _columns_of("hash"), ("hash",)),
    Table("signup_uses", _columns_of("kind key:bytes at:real")),
    Table("signup_key", _columns_of("secret:bytes"), single=True),
)

#: The edition history's tables (``digest.schedule.history``; migration 3), an edition's
#: before the stories and links that refer to it. Its build journal stays a file.
HISTORY_TABLES: tuple[Table, ...] = (
    Table(
        "editions",
        _columns_of("number:int date subject lead_url quote_text quote_author"),
        ("number",),
        edition=("number", "number"),
    ),
    Table(
        "featured",
        _columns_of("edition:int position:int url canonical_url title section"),
        ("edition", "position"),
        edition=("edition", "number"),
    ),
    Table(
        "links",
        _columns_of("edition:int key position:int url kind story title section slot:int"),
        ("edition", "position"),
        edition=("edition", "number"),
    ),
    Table("plans", _columns_of("date plan updated"), ("date",), edition=("date", "date")),
    Table(
        "approvals",
        _columns_of("date approver approved_at subject html text"),
        ("date",),
        edition=("date", "date"),
    ),
    Table(
        "campaigns",
        _columns_of("edition tool id url status at"),
        ("edition", "tool"),
        edition=("edition", "key"),
    ),
)

_TABLES = {"ledger": LEDGER_TABLES, "suppressions": SUPPRESSION_TABLES, "history": HISTORY_TABLES}


@dataclass(frozen=True)
class Source:
    """One SQLite file to copy: a send ledger, a suppression list's file or a history."""

    kind: Literal["ledger", "suppressions", "history"]
    path: Path

    @property
    def tables(self) -> tuple[Table, ...]:
        """The tables this kind of file holds."""
        return _TABLES[self.kind]


@dataclass(frozen=True)
class Clash:
    """A history's edition whose date or number the target holds for another edition."""

    #: The edition's number and date in the file.
    number: int
    date: str
    #: The target's number for the date, when it is another.
    their_number: int | None = None
    #: The target's date for the number, when it is another.
    their_date: str | None = None

    def line(self, table: TableReport, mode: Mode) -> str:
        """The clash's line for a terminal: the date, the file's number and the server's."""
        what = []
        if self.their_number is not None:
            what.append(
                f"{self.date} is edition #{self.number} in the file, #{self.their_number} "
                "on the server"
            )
        if self.their_date is not None:
            what.append(
                f"edition #{self.number} is of {self.date} in the file, of {self.their_date} "
                "on the server"
            )
        done = (
            "not copied, nor its stories, links, plan, approval and campaigns (the server's "
            "stays: edition numbers are never reassigned, not even by --replace)"
            if mode == "copy"
            else "a copy leaves it out, with its stories, links, plan, approval and campaigns "
            "(edition numbers are never reassigned)"
        )
        return f"{table.table} ({table.source.path.name}): {' and '.join(what)}: {done}"


@dataclass
class TableReport:
    """What became of one table of one source: counts, conflicts and both checksums."""

    source: Source
    table: str
    #: Rows in the source (distinct rows for a table without a key).
    rows: int = 0
    #: Rows this run wrote into the target.
    copied: int = 0
    #: Source rows the target held already, the same.
    present: int = 0
    #: Source rows the target held with other values, given the source's (``replace``).
    replaced: int = 0
    #: Source rows the target holds a row of the same key for, with other values.
    differing: int = 0
    #: Source rows the target has no row of their key for (after a copy: none).
    missing: int = 0
    #: Source rows of a history's edition that clashes with the target's, never written.
    held: int = 0
    #: Rows of the target whose key no row of this source has (another file's, a sender's).
    others: int = 0
    #: The key of the first row that differs, of the first one missing, and of the first
    #: one held back, as text.
    first_differing: str = ""
    first_missing: str = ""
    first_held: str = ""
    #: The history's editions held back (in the ``editions`` table's report only).
    clashes: list[Clash] = field(default_factory=list)
    source_sum: str = ""
    target_sum: str = ""

    @property
    def ok(self) -> bool:
        """Whether every source row is in the target, the same (counts and checksums equal)."""
        return (
            not self.differing
            and not self.missing
            and not self.held
            and self.source_sum == self.target_sum
        )

    def line(self, mode: Mode) -> str:
        """The table's line for a terminal."""
        head = f"{self.table} ({self.source.path.name}): {_rows(self.rows)}"
        if mode == "dry-run":
            return f"{head}: to copy, unless already there"
        if mode == "copy":
            head += f": {self.copied:,} copied, {self.present:,} already there"
            if self.replaced:
                head += f", {self.replaced:,} replaced with the source's"
        else:
            head += f", {self.rows - self.missing - self.held:,} in the target"
        parts = [head]
        if self.differing:
            parts.append(
                f"{self.differing:,} {_differ(self.differing)} in the target "
                f"(first: {self.first_differing})"
            )
        if self.missing:
            parts.append(f"{self.missing:,} missing from the target (first: {self.first_missing})")
        if self.held:
            why = (
                ": the server has another edition of its date or number"
                if self.clashes
                else " with their edition"
            )
            parts.append(f"{self.held:,} held back{why} (first: {self.first_held})")
        parts.append(
            f"checksum ok ({self.source_sum[:12]})"
            if self.source_sum == self.target_sum
            else f"checksum differs ({self.source_sum[:12]} here, {self.target_sum[:12]} there)"
        )
        if self.others:
            parts.append(f"{self.others:,} more in the target only")
        return "; ".join(parts)

    def lines(self, mode: Mode) -> list[str]:
        """The table's line, then a line for each of its editions held back."""
        return [self.line(mode), *(clash.line(self, mode) for clash in self.clashes)]


@dataclass
class CopyReport:
    """A copy's (or a check's) tables, the target's masked URL and the migrations it applied.

    A dry run may have no target.
    """

    target: StoreURL | None
    mode: Mode
    tables: list[TableReport] = field(default_factory=list)
    applied: list[Migration] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every table of every source is in the target, the same."""
        return self.mode == "dry-run" or all(table.ok for table in self.tables)

    def summary(self) -> str:
        """The last line: what was done, and whether everything matches."""
        rows = sum(table.rows for table in self.tables)
        files = len({table.source for table in self.tables})
        what = f"{_count_of(len(self.tables), 'table')} of {_count_of(files, 'file')}"
        if self.mode == "dry-run":
            where = self.target or "no PostgreSQL store named"
            return f"{where}: {_rows(rows)} to copy, {what} (dry run: nothing written)"
        if not self.ok:
            wrong = [t.table for t in self.tables if not t.ok]
            said = (
                f"{self.target}: {_count_of(len(wrong), 'table')} of {len(self.tables)} "
                f"{_differ(len(wrong))} from the source: {', '.join(wrong)}"
            )
            clashes = sum(len(t.clashes) for t in self.tables)
            if clashes:
                said += (
                    f"; {_count_of(clashes, 'edition')} held back: the server has another "
                    "edition of its date or number"
                )
            return said
        if self.mode == "check":
            return (
                f"{self.target}: every table matches the source ({_rows(rows)}, {what}): "
                "counts and checksums equal"
            )
        copied = sum(table.copied for table in self.tables)
        replaced = sum(table.replaced for table in self.tables)
        done = f"{copied:,} of {_rows(rows)} copied"
        if replaced:
            done += f", {replaced:,} replaced with the source's"
        return f"{self.target}: {done} ({what}); every table's count and checksum match"

    def error(self) -> StoreError | None:
        """A ``StoreError`` (exit 11) saying which tables differ; None when all match."""
        if self.ok:
            return None
        return StoreError(self.summary() + " (the lines above name each one's first row)")


def copy_store(
    sources: Sequence[Source],
    target: StoreURL | None,
    *,
    mode: Mode = "copy",
    replace: bool = False,
    batch: int = BATCH,
    on_table: Callable[[TableReport], None] | None = None,
) -> CopyReport:
    """Copy (or check, or count) every table of ``sources`` into the PostgreSQL ``target``.

    ``copy`` upgrades the target's schema first, then writes a batch a transaction (safe to
    run again after a kill); ``check`` writes nothing; ``dry-run`` does not connect (its
    ``target`` may be None). A row the target holds with other values is a conflict, left as
    it is, unless ``replace`` (the source's values are written over it); a history's edition
    that clashes with the target's is held back either way. ``on_table`` hears of each table
    when done.
    """
    if target is None:
        if mode != "dry-run":
            raise InputError(
                f"target: none named: a {mode} needs a PostgreSQL store (postgresql://…)"
            )
    elif target.backend != "postgresql":
        raise InputError(f"target: {target} is not a PostgreSQL store (postgresql://…)")
    if batch < 1:
        raise InputError(f"batch: must be 1 or more, not {batch}")
    if replace and mode != "copy":
        raise InputError(f"replace: only a copy writes, not a {mode}")
    write: Literal["copy", "replace", ""] = (
        ("replace" if replace else "copy") if mode == "copy" else ""
    )
    report = CopyReport(target, mode)
    if mode == "dry-run":
        for source in sources:
            with _open_source(source) as db:
                for table in source.tables:
                    done = TableReport(source, table.into, rows=_count(db, source, table))
                    report.tables.append(done)
                    if on_table is not None:
                        on_table(done)
        return report
    from digest.store.postgres import PostgresStore

    assert target is not None  # refused above for a copy or a check
    store = PostgresStore(target)
    try:
        if mode == "copy":
            report.applied = store.upgrade()
        else:
            pending = store.status().pending
            if pending:
                raise StoreError(
                    f"{target}: the schema lacks migration {pending[0].version} "
                    f"({pending[0].name}): nothing to check against; copy first"
                )
        for source in sources:
            with _open_source(source) as db:
                held = _Held(_clashes(db, store, source))
                for table in source.tables:
                    done = _copy_table(db, store, source, table, write, batch, held)
                    if table.edition == ("number", "number"):
                        done.clashes = held.clashes
                    report.tables.append(done)
                    if on_table is not None:
                        on_table(done)
    finally:
        store.close()
    return report


# -- the source


class _SourceFile:
    """A source file opened read-only, closed when the ``with`` block ends."""

    def __init__(self, source: Source) -> None:
        if not source.path.is_file():
            raise InputError(f"{source.path}: no such file (the {_what(source)} to copy)")
        uri = source.path.absolute().as_uri() + "?mode=ro"
        try:
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None)
            self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as error:
            raise InputError(f"{source.path}: cannot read the {_what(source)}: {error}") from None

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()


def _open_source(source: Source) -> _SourceFile:
    return _SourceFile(source)


def _what(source: Source) -> str:
    return {"ledger": "send ledger", "suppressions": "suppression list", "history": "history"}[
        source.kind
    ]


def _columns(db: sqlite3.Connection, source: Source, table: Table) -> bool:
    """Whether the source has ``table`` (an error naming the column if one is missing)."""
    have = {row[1] for row in db.execute(f"PRAGMA table_info({table.name})")}
    if not have:
        return False
    lacking = [name for name in table.names if name not in have]
    if lacking:
        raise InputError(
            f"{source.path}: table {table.name} has no column {lacking[0]}: the file is of an "
            "older digest; let this one open it first (digest store copy without --check or "
            "--dry-run does)"
        )
    return True


def _count(db: sqlite3.Connection, source: Source, table: Table) -> int:
    if not _columns(db, source, table):
        return 0
    rows = "DISTINCT " + ", ".join(table.names) if not table.key else "*"
    (count,) = db.execute(f"SELECT count(*) FROM (SELECT {rows} FROM {table.name})").fetchone()
    return int(count)


def _batches(
    db: sqlite3.Connection, source: Source, table: Table, size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """The source's rows, a batch at a time in key order, each value as the target takes it.

    A table without a key gives each distinct row once.
    """
    if not _columns(db, source, table):
        return
    order = ", ".join(table.matched_on)
    select = f"SELECT {'DISTINCT ' if not table.key else ''}{', '.join(table.names)}"
    select += f" FROM {table.name}"
    positions = [table.names.index(name) for name in table.matched_on]
    after: tuple[Any, ...] | None = None
    while True:
        if after is None:
            rows = db.execute(f"{select} ORDER BY {order} LIMIT ?", (size,)).fetchall()
        else:
            marks = ", ".join("?" * len(after))
            rows = db.execute(
                f"{select} WHERE ({order}) > ({marks}) ORDER BY {order} LIMIT ?",
                (*after, size),
            ).fetchall()
        if not rows:
            return
        after = tuple(rows[-1][i] for i in positions)
        yield [_converted(source, table, row) for row in rows]
        if len(rows) < size:
            return


def _converted(source: Source, table: Table, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A source row's values as the target's columns take them; an error naming a bad one."""
    out = []
    for (name, kind), value in zip(table.columns, row, strict=True):
        try:
            out.append(_value(kind, value))
        except (TypeError, ValueError):
            key = ", ".join(str(row[table.names.index(k)])[:60] for k in table.matched_on)
            raise InputError(
                f"{source.path}: {table.name} ({key}): {name} {str(value)[:60]!r} is not "
                f"{'an ISO 8601 time' if kind == 'time' else 'a ' + _SQL_TYPES[kind]}"
            ) from None
    return tuple(out)


def _value(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind == "text":
        if isinstance(value, bytes):
            raise TypeError("bytes")
        return value if isinstance(value, str) else str(value)
    if kind == "time":
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    if kind in ("int", "bigint"):
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)
    if kind == "real":
        return float(value)
    if not isinstance(value, bytes):
        raise TypeError(type(value).__name__)
    return value


# -- both sides alike


def _canonical(kind: Kind, value: Any) -> Any:
    """One value as the checksums write it, the same from SQLite and from PostgreSQL."""
    if value is None:
        return None
    if kind == "time":
        moment: datetime = value
        return moment.astimezone(UTC).isoformat()
    if kind == "real":
        return float(value).hex()
    if kind == "bytes":
        return bytes(value).hex()
    if kind in ("int", "bigint"):
        return int(value)
    return value


def _line(table: Table, row: Sequence[Any]) -> str:
    values = [_canonical(kind, value) for (_, kind), value in zip(table.columns, row, strict=True)]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _key_of(table: Table, row: Sequence[Any], at: Sequence[int] | None = None) -> tuple[Any, ...]:
    """The canonical key of a full row (or of the key's columns alone, at ``at``)."""
    at = table.key_at if at is None else at
    return tuple(
        _canonical(table.kinds[name], row[i]) for name, i in zip(table.matched_on, at, strict=True)
    )


# -- the target


#: The date and number at the end of an edition's key (``edition_key``).
_KEY_END = re.compile(r" (\d{4}-\d{2}-\d{2}) #(\d+)\Z")


class _Held:
    """The history's editions that clash with the target's, and whether a row is of one."""

    def __init__(self, clashes: list[Clash]) -> None:
        self.clashes = clashes
        self.numbers = {clash.number for clash in clashes}
        self.dates = {clash.date for clash in clashes}
        self.keys = {(clash.date, clash.number) for clash in clashes}

    def __bool__(self) -> bool:
        return bool(self.clashes)

    def holds(self, table: Table, row: Sequence[Any]) -> bool:
        """Whether ``row`` of ``table`` is of an edition held back."""
        if table.edition is None:
            return False
        column, by = table.edition
        value = row[table.names.index(column)]
        if by == "number":
            return value in self.numbers
        if by == "date":
            return value in self.dates
        found = _KEY_END.search(value or "")
        return found is not None and (found[1], int(found[2])) in self.keys


def _clashes(db: sqlite3.Connection, store: PostgresStore, source: Source) -> list[Clash]:
    """A history's editions whose date or number the target holds for another edition."""
    table = next((t for t in source.tables if t.edition == ("number", "number")), None)
    if table is None or not _columns(db, source, table):
        return []
    mine = [
        (int(number), str(on))
        for number, on in db.execute(f"SELECT number, date FROM {table.name} ORDER BY number")
    ]
    if not mine:
        return []
    theirs = store.run(
        f"SELECT number, date FROM {table.into}"
        " WHERE number = ANY(%s::integer[]) OR date = ANY(%s::text[])",
        ([number for number, _ in mine], [on for _, on in mine]),
    )
    number_of = {str(on): int(number) for number, on in theirs}
    date_of = {int(number): str(on) for number, on in theirs}
    clashes = []
    for number, on in mine:
        their_number = number_of.get(on)
        their_date = date_of.get(number)
        if their_number not in (None, number) or their_date not in (None, on):
            clashes.append(
                Clash(
                    number,
                    on,
                    their_number if their_number != number else None,
                    their_date if their_date != on else None,
                )
            )
    return clashes


def _copy_table(
    db: sqlite3.Connection,
    store: PostgresStore,
    source: Source,
    table: Table,
    write: Literal["copy", "replace", ""],
    size: int,
    held: _Held,
) -> TableReport:
    """Copy (``write``; ``replace``: over rows that differ too) or compare one table.

    Each batch is a transaction: written (but for the rows ``held`` back), then read back.
    """
    done = TableReport(source, table.into)
    here, there = hashlib.sha256(), hashlib.sha256()
    there_too = 0
    for rows in _batches(db, source, table, size):
        kept = [row for row in rows if not held.holds(table, row)] if held else rows
        with store.transaction() as conn:
            inserted, replaced = (
                _insert(conn, table, kept, write) if write and kept else (set(), set())
            )
            found = _fetch(conn, table, rows)
        for row in rows:
            key = _key_of(table, row)
            mine = _line(table, row)
            theirs = found.get(key)
            here.update(mine.encode() + b"\n")
            there.update((theirs if theirs is not None else "-").encode() + b"\n")
            done.rows += 1
            there_too += theirs is not None
            if held and held.holds(table, row):
                done.held += 1
                done.first_held = done.first_held or _shown(key)
            elif theirs is None:
                done.missing += 1
                done.first_missing = done.first_missing or _shown(key)
            elif theirs != mine:
                done.differing += 1
                done.first_differing = done.first_differing or _shown(key)
            elif key in replaced:
                done.replaced += 1
            elif key in inserted:
                done.copied += 1
            else:
                done.present += 1
    done.source_sum, done.target_sum = here.hexdigest(), there.hexdigest()
    (total,) = store.run(f"SELECT count(*) FROM {table.into}")[0]
    done.others = max(0, int(total) - there_too)
    return done


def _arrays(table: Table, rows: Sequence[tuple[Any, ...]], names: Sequence[str]) -> list[Any]:
    return [[row[i] for row in rows] for i in table.positions(names)]


def _unnest(table: Table, names: Sequence[str], alias: str) -> str:
    kinds = dict(table.columns)
    casts = ", ".join(f"%s::{_SQL_TYPES[kinds[name]]}[]" for name in names)
    return f"unnest({casts}) AS {alias}({', '.join(names)})"


def _equal(table: Table, names: Sequence[str], left: str, right: str) -> str:
    """``left`` and ``right``'s columns ``names`` equal (text compared byte for byte)."""
    kinds = dict(table.columns)
    return " AND ".join(
        f"{left}.{name} = {right}.{name}" + (' COLLATE "C"' if kinds[name] == "text" else "")
        for name in names
    )


def _insert(
    conn: psycopg.Connection[Any],
    table: Table,
    rows: Sequence[tuple[Any, ...]],
    write: Literal["copy", "replace", ""],
) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Insert the rows the target lacks (``replace``: and update those that differ).

    The keys of the rows inserted, and of those replaced.
    """
    names = table.names
    columns = ", ".join(names)
    if table.key:
        rest = [name for name in names if name not in table.key]
        changed = (
            f"UPDATE SET ({', '.join(rest)}) = ROW({', '.join(f'excluded.{n}' for n in rest)})"
            f" WHERE ({', '.join(f't.{n}' for n in rest)}) IS DISTINCT FROM"
            f" ({', '.join(f'excluded.{n}' for n in rest)})"
            if write == "replace" and rest
            else "NOTHING"
        )
        conflict = f"({', '.join(table.key)})" if changed != "NOTHING" else ""
        sql = (
            f"INSERT INTO {table.into} AS t ({columns})"
            f" SELECT * FROM {_unnest(table, names, 's')}"
            # Without a target, DO NOTHING also passes over a row another unique column
            # refuses (a history's edition of a date the server has given another number
            # since the clashes were looked for).
            f" ON CONFLICT {conflict} DO {changed}"
            f" RETURNING {', '.join(table.key)}, xmax = 0"
        )
    else:
        if table.single and write == "replace":
            conn.execute(
                f"DELETE FROM {table.into} WHERE NOT ({table.names[0]} = ANY(%s))".encode(),
                (list({row[0] for row in rows}),),
            )
        alone = f" AND NOT EXISTS (SELECT 1 FROM {table.into})" if table.single else ""
        same = _equal(table, names, "t", "s")
        sql = (
            f"INSERT INTO {table.into} ({columns}) SELECT * FROM {_unnest(table, names, 's')}"
            f" WHERE NOT EXISTS (SELECT 1 FROM {table.into} t WHERE {same}){alone}"
            f" RETURNING {columns}, true"
        )
    cursor = conn.execute(sql.encode(), _arrays(table, rows, names))
    inserted: set[tuple[Any, ...]] = set()
    replaced: set[tuple[Any, ...]] = set()
    at = range(len(table.matched_on)) if table.key else None
    for *row, new in cursor.fetchall():
        (inserted if new else replaced).add(_key_of(table, row, at))
    return inserted, replaced


def _fetch(
    conn: psycopg.Connection[Any], table: Table, rows: Sequence[tuple[Any, ...]]
) -> dict[tuple[Any, ...], str]:
    """The target's rows with the keys of ``rows``, each as the checksum writes it."""
    keys = table.matched_on
    columns = ", ".join(f"t.{name}" for name in table.names)
    sql = (
        f"SELECT {columns} FROM {table.into} t JOIN {_unnest(table, keys, 'k')}"
        f" ON {_equal(table, keys, 't', 'k')}"
    )
    cursor = conn.execute(sql.encode(), _arrays(table, rows, keys))
    return {_key_of(table, row): _line(table, row) for row in cursor.fetchall()}


def _shown(key: tuple[Any, ...]) -> str:
    return ", ".join(repr(part if not isinstance(part, str) else part[:80]) for part in key)


def _count_of(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _rows(count: int) -> str:
    return _count_of(count, "row")


def _differ(count: int) -> str:
    return "differs" if count == 1 else "differ"
