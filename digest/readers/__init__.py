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

import typing as _typing

from digest.lazy import lazy_names as _lazy_names
from digest.readers.records import (
    CONSENT_METHODS,
    NEVER_MAILED,
    STATUSES,
    Consent,
    ConsentMethod,
    ImportedReader,
    ImportSummary,
    ReaderRecord,
    Status,
)

if _typing.TYPE_CHECKING:
    from digest.readers.confirm import ConfirmTokens as ConfirmTokens
    from digest.readers.confirm import SignUp as SignUp
    from digest.readers.imports import ImportResult as ImportResult
    from digest.readers.imports import iter_import as iter_import
    from digest.readers.imports import read_import as read_import
    from digest.readers.signup import confirm_sign_up as confirm_sign_up
    from digest.readers.signup import mail_due as mail_due
    from digest.readers.store import ReaderStore as ReaderStore

# Imported when first used (PEP 562): the records are light, the rest is loaded by the
# command or page that needs it, so ``digest --help`` does not pay for the import reader.
_LAZY = {
    "ConfirmTokens": "confirm",
    "SignUp": "confirm",
    "ImportResult": "imports",
    "iter_import": "imports",
    "read_import": "imports",
    "confirm_sign_up": "signup",
    "mail_due": "signup",
    "ReaderStore": "store",
}


__getattr__ = _lazy_names(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    """The public names, with the module's own."""
    return sorted({*globals(), *__all__})


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
