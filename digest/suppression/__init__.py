"""Readers who must not get the next edition: the suppression list and what feeds it.

``SuppressionList`` keeps unsubscribes, bounces and complaints in SQLite beside the send
ledger; ``UnsubscribeTokens`` signs and checks the token in each reader's unsubscribe link;
``read_reports`` turns delivery status notifications (RFC 3464) and feedback-loop reports
(RFC 5965) from an mbox, a Maildir or ``.eml`` files into events (``mailparts`` walks a
message's parts within bounds).
"""

from digest.suppression.events import REASONS, Event, Reason
from digest.suppression.reports import (
    Original,
    Ours,
    Report,
    mail_messages,
    read_report,
    read_reports,
)
from digest.suppression.store import Suppression, SuppressionList
from digest.suppression.tokens import SECRET_VARIABLE, UnsubscribeTokens

__all__ = [
    "REASONS",
    "SECRET_VARIABLE",
    "Event",
    "Original",
    "Ours",
    "Reason",
    "Report",
    "Suppression",
    "SuppressionList",
    "UnsubscribeTokens",
    "mail_messages",
    "read_report",
    "read_reports",
]
