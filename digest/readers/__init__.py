"""The reader store: who is on the list, what they chose, and their consent on record."""

from __future__ import annotations

from digest.readers.records import (
    CONSENT_METHODS,
    NEVER_MAILED,
    STATUSES,
    Consent,
    ConsentMethod,
    ImportedReader,
    Status,
)
from digest.readers.store import ImportSummary, ReaderRecord, ReaderStore

__all__ = [
    "CONSENT_METHODS",
    "NEVER_MAILED",
    "STATUSES",
    "Consent",
    "ConsentMethod",
    "ImportSummary",
    "ImportedReader",
    "ReaderRecord",
    "ReaderStore",
    "Status",
]
