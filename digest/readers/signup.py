"""Sign-up with double opt-in, as a library: who gets a confirmation mail, and confirming.

The web app (``digest serve``'s ``/subscribe`` and ``/confirm/TOKEN``) and a site of one's
own (``examples/own-site``) share these: a link is a ``ConfirmTokens`` token that holds the
sign-up itself, so nothing is stored for an address before its reader confirms.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from digest.readers.confirm import SignUp
from digest.readers.records import Consent, Status
from digest.readers.store import ReaderStore
from digest.store.connection import Connection, is_sqlite, transaction

__all__ = ["confirm_sign_up", "mail_due", "take_use"]


def mail_due(store: ReaderStore, address: str) -> bool:
    """Whether a sign-up of ``address`` gets a confirmation mail (not when already mailed).

    A reader subscribed or paused gets none, nor does a bounced or complained address.
    """
    return store.status(address) not in ("subscribed", "paused", "bounced", "complained")


def confirm_sign_up(store: ReaderStore, signup: SignUp, consent: Consent) -> Status | None:
    """Subscribe a confirmed ``signup`` with ``consent``: the reader's status after.

    None when the reader left (unsubscribed, bounced, complained) after the sign-up was
    asked for, or in the same second: an old link subscribes nobody. An address ``forget``
    erased while unsubscribed stays unsubscribed (the status says so). One transaction
    (``ReaderStore.confirm``): an unsubscribe racing it is either seen or recorded after it.
    """
    return store.confirm(
        signup.address,
        signup.at,
        consent,
        name=signup.name or None,
        sections=signup.sections or None,
    )


def take_use(store: ReaderStore, kind: str, key: str, most: int, window: float, now: float) -> bool:
    """Count one use of ``key`` (an address, an IP) at ``now``; False when over ``most``.

    The uses of the last ``window`` seconds are kept in the store's file, so a limit holds
    across restarts and across the processes of one app, and older ones are dropped as new
    ones come. A key is kept only as an HMAC under a random key of the file's own.
    """
    db = store.db
    with transaction(db):
        if is_sqlite(db):  # the PostgreSQL store's migrations made these tables
            _sqlite_tables(db)
        row = db.execute("SELECT secret FROM signup_key").fetchone()
        if row is None:
            row = (secrets.token_bytes(32),)
            db.execute("INSERT INTO signup_key VALUES (?)", row)
        hashed = hmac.new(row[0], f"{kind}\0{key}".encode(), hashlib.sha256).digest()
        db.execute("DELETE FROM signup_uses WHERE at <= ?", (now - window,))
        (count,) = db.execute(
            "SELECT count(*) FROM signup_uses WHERE kind = ? AND key = ? AND at > ?",
            (kind, hashed, now - window),
        ).fetchone()
        if count >= most:
            return False
        db.execute("INSERT INTO signup_uses VALUES (?, ?, ?)", (kind, hashed, now))
    return True


def _sqlite_tables(db: Connection) -> None:
    """The sign-up limits' tables, in an SQLite file of an earlier version without them."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS signup_uses (kind TEXT NOT NULL, key BLOB NOT NULL,"
        " at REAL NOT NULL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS signup_uses_by_key ON signup_uses (kind, key, at)")
    db.execute("CREATE INDEX IF NOT EXISTS signup_uses_by_time ON signup_uses (at)")
    db.execute("CREATE TABLE IF NOT EXISTS signup_key (secret BLOB NOT NULL)")
