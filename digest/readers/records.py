"""What the reader store holds about one reader, and the rows an import reads, as typed values.

A reader's ``status`` is one of ``STATUSES``: ``pending`` until they confirm, ``subscribed``,
``paused`` until a date, or one that is never mailed (``unsubscribed``, ``bounced``,
``complained``). ``Consent`` is how and when they agreed: what GDPR Art. 7(1) asks a sender
to be able to show, and what Gmail and Yahoo ask of bulk senders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

__all__ = [
    "CONSENT_METHODS",
    "NEVER_MAILED",
    "STATUSES",
    "Consent",
    "ConsentMethod",
    "ImportSummary",
    "ImportedReader",
    "ReaderRecord",
    "Status",
]

#: Where a reader stands: only ``subscribed`` readers are mailed.
Status = Literal["pending", "subscribed", "paused", "unsubscribed", "bounced", "complained"]

STATUSES: tuple[str, ...] = get_args(Status)

#: Statuses that an import or a resubscribe by hand never turns back into ``subscribed``
#: without the reader's own word.
NEVER_MAILED: frozenset[str] = frozenset({"unsubscribed", "bounced", "complained"})

#: How a reader agreed: a sign-up form, an import from another tool, the library API, by hand.
ConsentMethod = Literal["form", "import", "api", "by-hand"]

CONSENT_METHODS: tuple[str, ...] = get_args(ConsentMethod)


@dataclass(frozen=True)
class Consent:
    """When and how a reader agreed to be mailed, and where that is on record."""

    at: datetime
    method: ConsentMethod
    #: Where it came from: "sign-up form", "mailchimp export members.csv", an API client.
    source: str
    #: The version of the wording the reader agreed to (the form's or the tool's).
    wording: str = ""
    #: The IP address it came from: kept only where the config asks for it.
    ip: str | None = None


@dataclass(frozen=True)
class ImportedReader:
    """One row of an import: a reader as the exporting tool knew them, and its line number."""

    line: int
    #: The address as written (matched by ``addresses.address_key``).
    address: str
    status: Status = "subscribed"
    name: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    #: The sections they chose; None for all of them.
    sections: tuple[str, ...] | None = None
    timezone: str | None = None
    language: str | None = None
    #: When the exporting tool says they agreed (its opt-in or confirm time), if it says.
    consent_at: datetime | None = None
    #: The IP address the exporting tool kept for their consent, if it did.
    consent_ip: str | None = None
    #: How they agreed, where the file says (digest's own export): "import" by default.
    consent_method: ConsentMethod | None = None
    #: Where their consent came from, where the file says: the import file by default.
    consent_source: str | None = None
    #: The version of the wording they agreed to, where the file says.
    consent_wording: str | None = None
    #: When they left (unsubscribed, bounced), where the file says: kept in the event's detail.
    left_at: datetime | None = None


@dataclass(frozen=True)
class ReaderRecord:
    """One reader as the store holds them."""

    address: str
    name: str | None
    fields: dict[str, str]
    sections: tuple[str, ...] | None
    timezone: str | None
    language: str | None
    status: Status
    consent: Consent | None
    paused_until: datetime | None
    created: datetime


@dataclass
class ImportSummary:
    """What an import changed (or, dry run, would change)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    never_mailed: int = 0
    #: Rows of addresses ``forget`` erased: nothing of them is stored again.
    forgotten: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def plus(self, other: ImportSummary) -> ImportSummary:
        """Both imports' counts together (the files of one zip)."""
        statuses = dict(self.by_status)
        for status, count in other.by_status.items():
            statuses[status] = statuses.get(status, 0) + count
        return ImportSummary(
            self.added + other.added,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.never_mailed + other.never_mailed,
            self.forgotten + other.forgotten,
            statuses,
        )
