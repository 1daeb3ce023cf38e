"""Substack's subscriber export: email, active_subscription, expiry, plan, email_disabled, ...

``email_disabled`` true is a reader who turned Substack's emails off (``unsubscribed``);
``active_subscription`` is about paying, not mailing. ``created_at`` is when they signed up.
"""

from __future__ import annotations

from collections.abc import Mapping

from digest.readers.tools.base import Ours, RowReader, first, put, truth

__all__ = ["NAME", "reader", "recognises"]

NAME = "substack"


def recognises(columns: frozenset[str]) -> bool:
    """A header with email, active_subscription and email_disabled."""
    return {"email", "active_subscription", "email_disabled"} <= columns


def reader(columns: frozenset[str]) -> RowReader:
    """Rows of a Substack export."""

    def read(row: Mapping[str, str]) -> Ours:
        ours: Ours = {"address": ("email", row.get("email", ""))}
        disabled = truth(row, "email_disabled")
        ours["status"] = ("email_disabled", "unsubscribed" if disabled else "subscribed")
        put(ours, "name", first(row, "name"))
        put(ours, "consent_at", first(row, "created_at"))
        return ours

    return read
