"""Output files, committed as one set across folders: all of them, or none.

A build writes into several folders (the edition files, the archive) and records itself in the
history. ``Journal.commit`` makes that one step:

1. every file is staged beside its target as a temporary file and synced;
2. the plan (targets, temporaries, backups, whether each target existed) is written to the
   journal table and committed;
3. targets that exist are hard-linked to backups; then every temporary is renamed into place;
4. in one transaction the caller's record is written and the plan is deleted: the commit point;
5. the backups are removed.

A build that stops anywhere before step 4 (an error, or ``kill -9``) is rolled back, either at
once or by ``Journal.recover`` at the start of the next build, which also removes temporaries
left behind. ``BuildLock`` keeps two builds of one config from interleaving.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from digest.errors import DigestError
from digest.store.connection import transaction

__all__ = ["Journal", "write_files"]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    build TEXT NOT NULL,
    target TEXT NOT NULL,
    temp TEXT NOT NULL,
    backup TEXT NOT NULL,
    existed INTEGER NOT NULL
)
"""


_MARK = ".digest-"


def _stage(folder: Path, name: str, content: bytes, build: str) -> Path:
    temp = folder / f".{name}{_MARK}{build}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


class _Staged(NamedTuple):
    """One file of a build: where it goes, where it is staged and backed up, if it existed."""

    target: Path
    temp: Path
    backup: Path
    existed: bool


def _undo(staged: Iterable[_Staged]) -> None:
    """Put back what ``staged`` files replaced, remove what they added and their temporaries."""
    for item in staged:
        if item.existed:
            if item.backup.exists():
                os.replace(item.backup, item.target)
                # rename(2) does nothing when both names are links to one file (the target
                # was never replaced): the backup name is then left to remove.
                item.backup.unlink(missing_ok=True)
        else:
            item.target.unlink(missing_ok=True)
        item.temp.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Journal:
    """The journal of staged files, in an SQLite database (the history's, or its own)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        """Use ``db`` (opened with ``isolation_level=None``) for the journal table."""
        self.db = db
        try:
            db.execute(_SCHEMA)
        except sqlite3.Error as error:
            raise DigestError(f"cannot open the build journal: {error}") from None

    def recover(self, folders: Sequence[Path] = ()) -> int:
        """Roll back a build that stopped before its commit; remove stale temporaries.

        Returns how many files of an interrupted build were rolled back.
        """
        rows = self.db.execute("SELECT DISTINCT build FROM journal").fetchall()
        count = sum(self._roll_back(build) for (build,) in rows)
        for folder in folders:
            if folder.is_dir():
                for stale in folder.glob(f".*{_MARK}*"):
                    if stale.suffix in (".tmp", ".bak"):
                        stale.unlink(missing_ok=True)
        return count

    def pending(self) -> bool:
        """Whether a build's plan is still in the journal (it did not reach its commit)."""
        return self.db.execute("SELECT 1 FROM journal LIMIT 1").fetchone() is not None

    def _roll_back(self, build: str) -> int:
        rows = self.db.execute(
            "SELECT target, temp, backup, existed FROM journal WHERE build = ?", (build,)
        ).fetchall()
        _undo(_Staged(Path(t), Path(m), Path(b), bool(e)) for t, m, b, e in rows)
        self.db.execute("DELETE FROM journal WHERE build = ?", (build,))
        return len(rows)

    def commit(
        self,
        files: Mapping[Path, Mapping[str, bytes]],
        record: Callable[[], None] | None = None,
    ) -> list[Path]:
        """Put ``files`` (by folder, then name) in place and run ``record`` as one commit."""
        build = secrets.token_hex(8)
        staged: list[_Staged] = []
        try:
            for folder, named in files.items():
                folder.mkdir(parents=True, exist_ok=True)
                for name, content in named.items():
                    target = folder / name
                    backup = folder / f".{name}{_MARK}{build}.bak"
                    temp = _stage(folder, name, content, build)
                    staged.append(_Staged(target, temp, backup, target.exists()))
            with self._transaction():
                self.db.executemany(
                    "INSERT INTO journal (build, target, temp, backup, existed)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(build, str(s.target), str(s.temp), str(s.backup), int(s.existed))
                     for s in staged],
                )  # fmt: skip
            for item in staged:
                if item.existed:
                    item.backup.unlink(missing_ok=True)
                    os.link(item.target, item.backup)
            for item in staged:
                os.replace(item.temp, item.target)
            for folder in files:
                _sync_folder(folder)
            with self._transaction():
                if record is not None:
                    record()
                self.db.execute("DELETE FROM journal WHERE build = ?", (build,))
        except BaseException as error:
            # Undo from what is known here; the journal's rows (if written) go with it.
            with contextlib.suppress(sqlite3.Error, OSError):
                _undo(staged)
                with self._transaction():
                    self.db.execute("DELETE FROM journal WHERE build = ?", (build,))
            if isinstance(error, OSError):
                where = error.filename or next(iter(files), "")
                raise DigestError(
                    f"{where}: cannot write the output: {error.strerror or error}"
                ) from None
            raise
        for item in staged:
            if item.existed:
                item.backup.unlink(missing_ok=True)
        return [item.target for item in staged]

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        return transaction(self.db)


def write_files(folder: Path | str, files: Mapping[str, bytes]) -> list[Path]:
    """Write every file into ``folder`` as one set: all of them, or none (the old ones stay)."""
    with contextlib.closing(sqlite3.connect(":memory:", isolation_level=None)) as db:
        return Journal(db).commit({Path(folder): files})
