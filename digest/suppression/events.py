"""One thing a reader or their mailbox said back: an unsubscribe, a bounce, a complaint.

Or an open or a click, which suppress nothing: an A/B test's winner is decided from them.
A reader's state is their newest event (``standing``): a resubscribe after an unsubscribe
lets them be mailed again, an unsubscribe after a resubscribe stops it, whatever order the
events arrived in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, get_args

__all__ = [
    "ENGAGEMENTS",
    "READER_CHANGES",
    "REASONS",
    "RESUBSCRIBED",
    "SUBSCRIBED",
    "Engagement",
    "Event",
    "ReaderChange",
    "Reason",
    "Resubscribe",
    "standing",
]


#: Why an address is on the list. A ``soft-bounce`` event suppresses only once an address
#: has bounced that way ``soft_bounce_limit`` times (``soft-bounces``).
Reason = Literal[
    "unsubscribed", "hard-bounce", "soft-bounce", "soft-bounces", "complaint", "by-hand"
]

REASONS: tuple[str, ...] = get_args(Reason)

#: A reader opened the message (its tracking pixel loaded) or clicked a link in it, as the
#: provider reports it.
Engagement = Literal["opened", "clicked"]

ENGAGEMENTS: tuple[str, ...] = get_args(Engagement)

#: A reader may be mailed again (``digest suppress remove``): it ends what came before.
Resubscribe = Literal["resubscribed"]

RESUBSCRIBED: Resubscribe = "resubscribed"

#: A reader's own changes in the reader store. ``subscribed`` (confirmed, with consent) ends
#: an unsubscribe as a resubscribe does; the others change nothing of the standing.
ReaderChange = Literal["signed-up", "subscribed", "paused", "resumed", "changed", "forgotten"]

READER_CHANGES: tuple[str, ...] = get_args(ReaderChange)

SUBSCRIBED: ReaderChange = "subscribed"


@dataclass(frozen=True)
class Event:
    """An event about one address, from one source, known by an id that makes it happen once.

    ``id`` names one occurrence, never an address: the provider's event id (an SNS
    ``MessageId``, a ``svix-id``, a Postmark record's ``ID``, a report's ``Message-ID``), a
    digest of the payload when it has none, or the moment and a nonce of our own; with its
    source. A replayed event has the same id and changes nothing; a new one always counts.
    """

    address: str
    reason: Reason | Engagement | Resubscribe | ReaderChange
    source: str
    id: str
    #: When it happened (the provider's time); None: when it is recorded.
    at: datetime | None = None
    detail: str = ""
    #: The provider's id of the message it is about (an open or a click names it).
    message_id: str = ""
    #: The edition it is about (``digest.edition.edition_key``), when the source can tell;
    #: else "" and a report ties it to an edition through the send ledger (``message_id``).
    edition: str = ""
    #: The link a click followed, as the message had it ("" for other events).
    url: str = ""


def standing(history: Iterable[Event], soft_bounce_limit: int) -> Event | None:
    """The event a reader is suppressed by, or None when they may be mailed.

    ``history`` is one reader's events, oldest first (by time, then by arrival). The newest
    unsubscribe, bounce, complaint, addition by hand or resubscribe decides; soft bounces
    since the last resubscribe suppress at the ``soft_bounce_limit``-th (``soft-bounces``),
    and opens, clicks and a reader's own changes but ``subscribed`` change nothing.
    """
    state: Event | None = None
    soft = 0
    for event in history:
        if event.reason in ENGAGEMENTS or (
            event.reason in READER_CHANGES and event.reason != SUBSCRIBED
        ):
            continue
        if event.reason in (RESUBSCRIBED, SUBSCRIBED):
            state, soft = None, 0
        elif event.reason == "soft-bounce":
            if state is None:
                soft += 1
                if soft >= soft_bounce_limit:
                    state = replace(event, reason="soft-bounces")
        else:
            state = event
    return state
