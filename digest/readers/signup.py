"""Sign-up with double opt-in, as a library: who gets a confirmation mail, and confirming.

The web app (``digest serve``'s ``/subscribe`` and ``/confirm/TOKEN``) and a site of one's
own (``examples/own-site``) share these: a link is a ``ConfirmTokens`` token that holds the
sign-up itself, so nothing is stored for an address before its reader confirms.
"""

from __future__ import annotations

from digest.readers.confirm import SignUp
from digest.readers.records import Consent, Status
from digest.readers.store import ReaderStore

__all__ = ["confirm_sign_up", "mail_due"]


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
