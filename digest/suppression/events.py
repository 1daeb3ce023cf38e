"""One thing a reader or their mailbox said back: an unsubscribe, a bounce, a complaint.

Or an open or a click, which suppress nothing: an A/B test's winner is decided from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

__all__ = ["ENGAGEMENTS", "REASONS", "Engagement", "Event", "Reason"]


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


@dataclass(frozen=True)
class Event:
    """An event about one address, from one source, known by an id that makes it happen once.

    ``id`` is the provider's event id (an SNS ``MessageId``, a ``svix-id``, a Postmark
    record's ``ID``, a report's ``Message-ID``) with its source: a replayed event has the
    same id and changes nothing.
    """

    address: str
    reason: Reason | Engagement
    source: str
    id: str
    at: datetime | None = None
    detail: str = ""
    #: The provider's id of the message it is about (an open or a click names it).
    message_id: str = ""
