"""The reader store: who is on the list, what they chose, and their consent on record.

- ``records``: a reader's statuses, consent and an imported row, as typed records;
- ``store``: ``ReaderStore``, on the suppression list's own SQLite file;
- ``imports``: ``read_import``, an export of any CSV or of the tools people leave
  (``tools``: Mailchimp, listmonk, Substack, Buttondown, Ghost);
- ``confirm``: ``ConfirmTokens``, the signed links of double opt-in.
"""

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
