"""Buttondown's subscriber export: email (or email_address), subscriber_type (or type), ...

Its types say who is mailed: regular, premium, trialed, gifted, churning, past_due, paused
(a paid hold: still mailed) and unpaid are ``subscribed``; unactivated (not yet confirmed)
``pending``; unsubscribed and removed ``unsubscribed``; undeliverable ``bounced``; spammy
and blocked (refused by Buttondown's firewall) ``unsubscribed``, never mailed.
"""

from __future__ import annotations

from collections.abc import Mapping

from digest.readers.tools.base import Ours, RowReader, first, put

__all__ = ["NAME", "reader", "recognises"]

NAME = "buttondown"

_STATUSES = {
    "regular": "subscribed",
    "premium": "subscribed",
    "trialed": "subscribed",
    "gifted": "subscribed",
    "churning": "subscribed",
    "past_due": "subscribed",
    "paused": "subscribed",
    "unpaid": "subscribed",
    "unactivated": "pending",
    "unsubscribed": "unsubscribed",
    "removed": "unsubscribed",
    "undeliverable": "bounced",
    "spammy": "unsubscribed",
    "blocked": "unsubscribed",
}


def recognises(columns: frozenset[str]) -> bool:
    """A header with an email column, a subscriber type and Buttondown's creation_date."""
    return (
        bool(columns & {"email", "email_address"})
        and bool(columns & {"subscriber_type", "type"})
        and "creation_date" in columns
    )


def reader(columns: frozenset[str]) -> RowReader:
    """Rows of a Buttondown export."""
    address = "email_address" if "email_address" in columns else "email"
    kind = "subscriber_type" if "subscriber_type" in columns else "type"

    def read(row: Mapping[str, str]) -> Ours:
        ours: Ours = {"address": (address, row.get(address, ""))}
        value = row.get(kind, "").strip()
        ours["status"] = (kind, _STATUSES.get(value.lower(), value))
        put(ours, "consent_at", first(row, "creation_date"))
        put(ours, "consent_ip", first(row, "ip_address"))
        return ours

    return read
