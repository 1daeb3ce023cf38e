"""The reader store: readers, their consent and every event, in the suppression list's file.

One SQLite file (``suppression_path``) answers "may we mail X?": a reader's status is the
suppression standing when it says never-mailed (unsubscribed, bounced, complained), else
``pending`` until consent is confirmed, ``paused`` while ``paused_until`` is to come, else
``subscribed`` (``digest.readers.reading.ReaderView``). Every change is an ``Event`` in the
same ``events`` table, and an import's rows and events commit in one transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from digest.addresses import address_key
from digest.errors import InputError
from digest.readers.reading import ReaderView, checked_address, iso
from digest.readers.records import (
    NEVER_MAILED,
    Consent,
    ImportedReader,
    ImportSummary,
    ReaderRecord,
    Status,
)
from digest.store.connection import transaction
from digest.suppression.events import Event, ReaderChange

__all__ = ["ImportSummary", "ReaderRecord", "ReaderStore"]

#: What a reader's no is recorded as: a confirmation asked for before it subscribes nobody.
_LEFT = ("unsubscribed", "by-hand", "hard-bounce", "complaint")

_SUPPRESS_AS: dict[str, str] = {
    "unsubscribed": "unsubscribed",
    "bounced": "hard-bounce",
    "complained": "complaint",
}


class ReaderStore(ReaderView):
    """Readers, their consent and events, on the suppression list's own connection."""

    # -- writing

    def _event(
        self, address: str, reason: ReaderChange, source: str, id: str, now: datetime
    ) -> None:
        self._record(Event(address, reason, source, id, now), now)

    def add(  # type: ignore[override]
        self,
        address: str,
        consent: Consent | None = None,
        *,
        name: str | None = None,
        fields: dict[str, str] | None = None,
        sections: tuple[str, ...] | None = None,
        timezone: str | None = None,
        language: str | None = None,
    ) -> Status:
        """Add (or update) a reader; with ``consent`` they are subscribed unless never-mailed."""
        checked = checked_address(address)
        with transaction(self.db):
            return self._insert(checked, consent, name, fields, sections, timezone, language)

    def confirm(
        self,
        address: str,
        asked_at: datetime,
        consent: Consent,
        *,
        name: str | None = None,
        sections: tuple[str, ...] | None = None,
    ) -> Status | None:
        """Subscribe a reader who confirmed a sign-up asked for at ``asked_at``: their status.

        None when they left (unsubscribed, bounced, complained) since it was asked for, or in
        the same second (times are kept to the second). The check and the subscription are
        one transaction, so an unsubscribe racing a confirmation is either seen or later.
        """
        checked = checked_address(address)
        with transaction(self.db):
            status = self.status(checked)
            if status in ("subscribed", "paused"):
                return status
            key = address_key(checked)
            left = [
                event.at
                for event, _ in self._history(key)
                if event.reason in _LEFT and event.at is not None
            ]
            if left and max(left) >= asked_at:
                return None
            return self._insert(checked, consent, name, None, sections, None, None)

    def _insert(
        self,
        checked: str,
        consent: Consent | None,
        name: str | None,
        fields: dict[str, str] | None,
        sections: tuple[str, ...] | None,
        timezone: str | None,
        language: str | None,
    ) -> Status:
        """Add or update a reader, inside the caller's transaction."""
        key = address_key(checked)
        now = datetime.now(UTC)
        self.db.execute(
            "INSERT INTO readers VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT(key) DO"
            " UPDATE SET address = excluded.address,"
            " name = coalesce(excluded.name, readers.name), fields = excluded.fields,"
            " sections = coalesce(excluded.sections, readers.sections),"
            " timezone = coalesce(excluded.timezone, readers.timezone),"
            " language = coalesce(excluded.language, readers.language)",
            (
                key,
                checked,
                name,
                json.dumps(fields or {}),
                None if sections is None else json.dumps(list(sections)),
                timezone,
                language,
                now.isoformat(),
            ),
        )
        nonce = uuid.uuid4().hex
        if consent is None:
            self._event(checked, "signed-up", "by hand", f"reader:{nonce}", now)
        elif self._forgotten(key):
            self._store_consent(key, consent)
        else:
            self._store_consent(key, consent)
            self._event(checked, "subscribed", consent.source, f"reader:{nonce}", now)
        return self._status(key, None, now)

    def _store_consent(self, key: str, consent: Consent) -> None:
        self.db.execute(
            "INSERT INTO consents VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                key,
                iso(consent.at),
                consent.method,
                consent.source,
                consent.wording,
                consent.ip if self.keep_ip else None,
            ),
        )

    def _known(self, address: str) -> str:
        key = address_key(address.strip())
        row = self.db.execute("SELECT 1 FROM readers WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise InputError(f"address {address!r}: no such reader in {self.path}")
        return key

    def pause(self, address: str, until: datetime, source: str = "by hand") -> None:
        """Mail ``address`` nothing until ``until``."""
        with transaction(self.db):
            now = datetime.now(UTC)
            key = self._known(address)
            self.db.execute("UPDATE readers SET paused_until = ? WHERE key = ?", (iso(until), key))
            self._event(key, "paused", source, f"reader:{uuid.uuid4().hex}", now)

    def resume(self, address: str, source: str = "by hand") -> None:
        """End a pause."""
        with transaction(self.db):
            now = datetime.now(UTC)
            key = self._known(address)
            self.db.execute("UPDATE readers SET paused_until = NULL WHERE key = ?", (key,))
            self._event(key, "resumed", source, f"reader:{uuid.uuid4().hex}", now)

    def change(
        self,
        address: str,
        *,
        sections: tuple[str, ...] | None = None,
        all_sections: bool = False,
        timezone: str | None = None,
        fields: Mapping[str, str | None] | None = None,
        source: str = "by hand",
    ) -> None:
        """Change a reader's sections, time zone or fields, as one ``changed`` event.

        ``all_sections``: every section, new ones too; a field given None is removed.
        """
        with transaction(self.db):
            now = datetime.now(UTC)
            key = self._known(address)
            if fields:
                (held,) = self.db.execute(
                    "SELECT fields FROM readers WHERE key = ?", (key,)
                ).fetchone()
                kept = json.loads(held)
                for name, value in fields.items():
                    if value is None:
                        kept.pop(name, None)
                    else:
                        kept[name] = value
                self.db.execute(
                    "UPDATE readers SET fields = ? WHERE key = ?", (json.dumps(kept), key)
                )
            if all_sections:
                self.db.execute("UPDATE readers SET sections = NULL WHERE key = ?", (key,))
            elif sections is not None:
                self.db.execute(
                    "UPDATE readers SET sections = ? WHERE key = ?",
                    (json.dumps(list(sections)), key),
                )
            if timezone is not None:
                self.db.execute("UPDATE readers SET timezone = ? WHERE key = ?", (timezone, key))
            self._event(key, "changed", source, f"reader:{uuid.uuid4().hex}", now)

    def unsubscribe(self, address: str, source: str = "by hand") -> None:
        """Unsubscribe ``address`` (the record is kept)."""
        checked = checked_address(address)
        with transaction(self.db):
            now = datetime.now(UTC)  # taken holding the lock: a later commit is a later time
            self._record(
                Event(checked, "unsubscribed", source, f"reader:{uuid.uuid4().hex}", now), now
            )

    def forget(self, address: str, key: bytes) -> bool:
        """Erase everything held about ``address`` (Art. 17); False when nothing was held.

        When they were never-mailed, an HMAC-SHA256(key, address_key) is kept so the address
        stays unsubscribed when it is added or imported again.
        """
        reader = address_key(address.strip())
        with transaction(self.db):
            status = self._status(reader, None, datetime.now(UTC))
            held = self.db.execute(
                "SELECT (SELECT count(*) FROM readers WHERE key = ?)"
                " + (SELECT count(*) FROM events WHERE address = ?)",
                (reader, reader),
            ).fetchone()[0]
            if status in NEVER_MAILED:
                self.db.execute(
                    "INSERT INTO forgotten VALUES (?) ON CONFLICT DO NOTHING",
                    (self._hash(reader, key),),
                )
            for table, column in (
                ("readers", "key"),
                ("consents", "key"),
                ("events", "address"),
                ("suppressions", "address"),
            ):
                self.db.execute(f"DELETE FROM {table} WHERE {column} = ?", (reader,))
        return bool(held)

    def import_readers(
        self, rows: Iterable[ImportedReader], source: str, dry_run: bool = False
    ) -> ImportSummary:
        """Import ``rows`` in one transaction; a rerun changes nothing (ids from their content)."""
        summary = ImportSummary()
        now = datetime.now(UTC)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                self._import_row(row, source, now, summary)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("ROLLBACK" if dry_run else "COMMIT")
        return summary

    def _import_row(
        self, row: ImportedReader, source: str, now: datetime, summary: ImportSummary
    ) -> None:
        checked = checked_address(row.address)
        key = address_key(checked)
        if self._forgotten(key):  # erased on request: an old export brings nothing of it back
            summary.forgotten += 1
            return
        before = self.db.execute("SELECT * FROM readers WHERE key = ?", (key,)).fetchone()
        old_status = self._status(key, None, now) if before is not None else None
        values = (
            key,
            before[1] if before is not None else checked,
            row.name if row.name is not None else (before[2] if before else None),
            json.dumps({**(json.loads(before[3]) if before else {}), **row.fields}),
            json.dumps(list(row.sections))
            if row.sections is not None
            else (before[4] if before else None),
            row.timezone or (before[5] if before else None),
            row.language or (before[6] if before else None),
            before[7] if before is not None else now.isoformat(),
            before[8] if before is not None else None,
        )
        self.db.execute(
            "INSERT INTO readers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE"
            " SET address = excluded.address, name = excluded.name, fields = excluded.fields,"
            " sections = excluded.sections, timezone = excluded.timezone,"
            " language = excluded.language, created = excluded.created,"
            " paused_until = excluded.paused_until",
            values,
        )
        event_id = f"import:{source}:{key}:{row.status}"
        if row.status in NEVER_MAILED and row.consent_at is not None:
            # The record of a consent given before they left (digest's own export keeps it).
            self._store_consent(key, _consent_of(row, source, row.consent_at))
        if row.status in NEVER_MAILED:
            # Dated now, as every import's event is, so that the newest import's word counts
            # (a reader who left after an earlier export is never mailed again); when the tool
            # says they left is kept beside it.
            left = Event(
                checked,
                _SUPPRESS_AS[row.status],  # type: ignore[arg-type]
                source,
                event_id,
                now,
                detail=f"left {row.left_at.isoformat()}" if row.left_at else "",
            )
            self._record(left, now)
        elif row.status in ("subscribed", "paused"):
            self._store_consent(key, _consent_of(row, source, row.consent_at or now))
            listed = self.db.execute(
                "SELECT 1 FROM suppressions WHERE address = ?", (key,)
            ).fetchone()
            if listed is None and not self._forgotten(key):
                self._record(Event(checked, "subscribed", source, event_id, now), now)
        else:
            self._record(Event(checked, "signed-up", source, event_id, now), now)
        status = self._status(key, values[8], now)
        summary.by_status[status] = summary.by_status.get(status, 0) + 1
        if status in NEVER_MAILED:
            summary.never_mailed += 1
        if before is None:
            summary.added += 1
        elif tuple(before) == values and old_status == status:
            summary.unchanged += 1
        else:
            summary.updated += 1


def _consent_of(row: ImportedReader, source: str, at: datetime) -> Consent:
    """The consent an imported row says they gave: by import from ``source`` unless it says."""
    return Consent(
        at,
        row.consent_method or "import",
        row.consent_source or source,
        wording=row.consent_wording or "",
        ip=row.consent_ip,
    )
