"""The reader store: who is on the list, what they chose, and their consent on record.

- ``records``: a reader's statuses, consent and an imported row, as typed records;
- ``store``: ``ReaderStore``, on the suppression list's own SQLite file (its reads in
  ``reading``: ``ReaderView``);
- ``imports``: ``read_import``, an export of any CSV or of the tools people leave
  (``tools``: Mailchimp, listmonk, Substack, Buttondown, Ghost);
- ``confirm``: ``ConfirmTokens``, the signed links of double opt-in;
- ``signup``: who gets a confirmation mail (``mail_due``) and confirming
  (``confirm_sign_up``), for ``digest serve`` and a site of one's own alike.
"""

from __future__ import annotations

from digest.readers.confirm import ConfirmTokens, SignUp
from digest.readers.imports import ImportResult, iter_import, read_import
from digest.readers.records import (
    CONSENT_METHODS,
    NEVER_MAILED,
    STATUSES,
    Consent,
    ConsentMethod,
    ImportedReader,
    Status,
)
from digest.readers.signup import confirm_sign_up, mail_due
from digest.readers.store import ImportSummary, ReaderRecord, ReaderStore

__all__ = [
    "CONSENT_METHODS",
    "NEVER_MAILED",
    "STATUSES",
    "ConfirmTokens",
    "Consent",
    "ConsentMethod",
    "ImportResult",
    "ImportSummary",
    "ImportedReader",
    "ReaderRecord",
    "ReaderStore",
    "SignUp",
    "Status",
    "confirm_sign_up",
    "iter_import",
    "mail_due",
    "read_import",
]
