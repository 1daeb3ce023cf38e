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

__all__ = [
    "CONSENT_METHODS",
    "NEVER_MAILED",
    "STATUSES",
    "Consent",
    "ConsentMethod",
    "ImportedReader",
    "Status",
]
