"""The reader store's reads: a reader's status, record, consent and history.

``ReaderView`` opens the store's tables on the suppression list's own file and connection
and answers "may we mail X?"; ``digest.readers.store.ReaderStore`` adds the writes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from digest.addresses import address_key, email_address
from digest.errors import InputError
from digest.files import StrPath
from digest.readers.records import STATUSES, Consent, ReaderRecord, Status
from digest.settings import Reader
from digest.store.connection import is_sqlite
from digest.store.url import StoreURL
from digest.suppression.events import Event
from digest.suppression.store import SuppressionList, keys_among

__all__ = ["ReaderView"]

_NEVER: dict[str, Status] = {
    "unsubscribed": "unsubscribed",
    "by-hand": "unsubscribed",
    "hard-bounce": "bounced",
    "soft-bounces": "bounced",
    "complaint": "complained",
}


def iso(when: datetime | None) -> str | None:
    """``when`` in UTC as ISO 8601 (a naive time taken as UTC); None stays None."""
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def checked_address(address: str) -> str:
    """``address`` checked and normalised, or an ``InputError`` naming it."""
    try:
        return email_address(address.strip())
    except ValueError as error:
        raise InputError(f"address {address!r}: {error}") from None


class ReaderView(SuppressionList):
    """The reader store's tables, read: statuses, records, consent and history."""

    def __init__(
        self,
        path: StrPath | StoreURL,
        soft_bounce_limit: int = 3,
        keep_ip: bool = False,
        secret: bytes | None = None,
    ) -> None:
        """Open (or create) the store at ``path`` (or a store URL); ``secret``: the forgotten."""
        super().__init__(path, soft_bounce_limit)
        self.keep_ip = keep_ip
        self.secret = secret
        if not is_sqlite(self.db):
            return  # the PostgreSQL store's migrations made these tables
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS readers (key TEXT PRIMARY KEY, address TEXT NOT NULL,"
            " name TEXT, fields TEXT NOT NULL DEFAULT '{}', sections TEXT, timezone TEXT,"
            " language TEXT, created TEXT NOT NULL, paused_until TEXT) WITHOUT ROWID"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS consents (key TEXT NOT NULL, at TEXT NOT NULL,"
            " method TEXT NOT NULL, source TEXT NOT NULL, wording TEXT NOT NULL DEFAULT '',"
            " ip TEXT, PRIMARY KEY (key, at, method, source))"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS forgotten (hash TEXT PRIMARY KEY)")

    # -- reading

    def _hash(self, key: str, secret: bytes) -> str:
        return hmac.digest(secret, key.encode(), hashlib.sha256).hex()

    def _forgotten(self, key: str) -> bool:
        if self.secret is None:
            return False
        row = self.db.execute(
            "SELECT 1 FROM forgotten WHERE hash = ?", (self._hash(key, self.secret),)
        ).fetchone()
        return row is not None

    def _status(self, key: str, paused: str | None, now: datetime) -> Status:
        listed = self.db.execute(
            "SELECT reason FROM suppressions WHERE address = ?", (key,)
        ).fetchone()
        if listed is not None:
            return _NEVER.get(listed[0], "unsubscribed")
        if self._forgotten(key):
            return "unsubscribed"
        if self._consent(key) is None:
            return "pending"
        if paused is not None and datetime.fromisoformat(paused) > now:
            return "paused"
        return "subscribed"

    def _consent(self, key: str) -> Consent | None:
        row = self.db.execute(
            "SELECT at, method, source, wording, ip FROM consents WHERE key = ?"
            " ORDER BY at DESC LIMIT 1",
            (key,),
        ).fetchone()
        if row is None:
            return None
        return Consent(datetime.fromisoformat(row[0]), row[1], row[2], row[3], row[4])

    def _record_of(self, row: Sequence[Any], now: datetime) -> ReaderRecord:
        key, address, name, fields, sections, timezone, language, created, paused = row
        return ReaderRecord(
            address=address,
            name=name,
            fields=json.loads(fields),
            sections=None if sections is None else tuple(json.loads(sections)),
            timezone=timezone,
            language=language,
            status=self._status(key, paused, now),
            consent=self._consent(key),
            paused_until=_when(paused),
            created=datetime.fromisoformat(created),
        )

    def status(self, address: str, now: datetime | None = None) -> Status | None:
        """Where ``address`` stands; None for one neither in the store nor suppressed."""
        key = address_key(address.strip())
        row = self.db.execute("SELECT paused_until FROM readers WHERE key = ?", (key,)).fetchone()
        status = self._status(key, None if row is None else row[0], now or datetime.now(UTC))
        if row is None and status in ("pending", "subscribed"):
            return None
        return status

    def mailable(self, address: str, now: datetime | None = None) -> bool:
        """Whether ``address`` may be mailed: subscribed, or not in the store and not suppressed."""
        return self.status(address, now) in (None, "subscribed")

    def suppressed(self, addresses: Sequence[str]) -> set[str]:
        """Which of ``addresses`` (``address_key`` forms) must not be mailed now: a query a chunk.

        The suppressed, the forgotten, and the readers held as pending or paused; an address
        the store does not hold is for the sender to vouch for (a recipients file).
        """
        found = super().suppressed(addresses)
        rest = [key for key in addresses if key not in found]
        now = datetime.now(UTC)
        forgotten = self.secret is not None and bool(
            self.db.execute("SELECT EXISTS (SELECT 1 FROM forgotten)").fetchone()[0]
        )
        # Paused (``iso`` writes UTC in one form, so the text orders as the time) or never
        # consented: only those rows come back.
        found.update(
            keys_among(
                self.db,
                "SELECT key FROM readers r WHERE key IN ({marks}) AND (paused_until > ?"
                " OR NOT EXISTS (SELECT 1 FROM consents c WHERE c.key = r.key))",
                rest,
                iso(now),
            )
        )
        if forgotten and self.secret is not None:
            hashes = {self._hash(key, self.secret): key for key in rest}
            query = "SELECT hash FROM forgotten WHERE hash IN ({marks})"
            found.update(hashes[kept] for kept in keys_among(self.db, query, list(hashes)))
        return found

    def known(self, addresses: Sequence[str]) -> set[str]:
        """Which of ``addresses`` (``address_key`` forms) the store holds as readers."""
        query = "SELECT key FROM readers WHERE key IN ({marks})"
        return set(keys_among(self.db, query, addresses))

    def get(self, address: str) -> ReaderRecord | None:  # type: ignore[override]
        """The reader at ``address``, or None."""
        row = self.db.execute(
            "SELECT * FROM readers WHERE key = ?", (address_key(address.strip()),)
        ).fetchone()
        return None if row is None else self._record_of(row, datetime.now(UTC))

    def readers(self, status: Status | None = None) -> Iterator[ReaderRecord]:
        """Every reader (of ``status``), oldest first."""
        if status is not None and status not in STATUSES:
            raise InputError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
        now = datetime.now(UTC)
        for row in self.db.execute("SELECT * FROM readers ORDER BY created, key").fetchall():
            record = self._record_of(row, now)
            if status is None or record.status == status:
                yield record

    def subscribed(self, now: datetime | None = None) -> Iterator[Reader]:
        """The readers to mail now, as ``digest.models.Reader``."""
        when = now or datetime.now(UTC)
        for row in self.db.execute("SELECT * FROM readers ORDER BY created, key").fetchall():
            record = self._record_of(row, when)
            if record.status == "subscribed":
                yield Reader(
                    address=record.address,
                    name=record.name,
                    sections=record.sections,
                    timezone=record.timezone,
                    fields=record.fields,
                )

    def reader_history(self, address: str) -> list[Event]:
        """Every event of ``address``, the reader's own changes included, oldest first."""
        return self.history(address)

    def held(self, address: str) -> dict[str, Any]:
        """Everything held about ``address``, JSON-ready (GDPR Art. 15)."""
        key = address_key(address.strip())
        record = self.get(address)
        consents = [
            {"at": at, "method": method, "source": source, "wording": wording, "ip": ip}
            for at, method, source, wording, ip in self.db.execute(
                "SELECT at, method, source, wording, ip FROM consents WHERE key = ? ORDER BY at",
                (key,),
            )
        ]
        events = [
            {"id": id, "reason": reason, "source": source, "at": at, "detail": detail}
            for id, reason, source, at, detail in self.db.execute(
                "SELECT id, reason, source, at, detail FROM events WHERE address = ?"
                " ORDER BY moment, arrival",
                (key,),
            )
        ]
        reader: dict[str, Any] | None = None
        if record is not None:
            reader = {
                "address": record.address,
                "name": record.name,
                "fields": record.fields,
                "sections": list(record.sections) if record.sections is not None else None,
                "timezone": record.timezone,
                "language": record.language,
                "status": record.status,
                "paused_until": iso(record.paused_until),
                "created": iso(record.created),
            }
        return {
            "address": key,
            "status": self.status(address),
            "reader": reader,
            "consents": consents,
            "events": events,
        }
