"""Ghost's members export: id, email, name, note, subscribed_to_emails, complimentary_plan, ...

``subscribed_to_emails`` false is a member who gets no newsletter (``unsubscribed``).
``created_at`` is when they joined (ISO 8601, UTC).
"""

from __future__ import annotations

from collections.abc import Mapping

from digest.readers.tools.base import Ours, RowReader, first, put, truth

__all__ = ["NAME", "reader", "recognises"]

NAME = "ghost"


def recognises(columns: frozenset[str]) -> bool:
    """A header with email and subscribed_to_emails."""
    return {"email", "subscribed_to_emails"} <= columns


def reader(columns: frozenset[str]) -> RowReader:
    """Rows of a Ghost members export."""

    def read(row: Mapping[str, str]) -> Ours:
        ours: Ours = {"address": ("email", row.get("email", ""))}
        subscribed = truth(row, "subscribed_to_emails")
        ours["status"] = ("subscribed_to_emails", "subscribed" if subscribed else "unsubscribed")
        put(ours, "name", first(row, "name"))
        put(ours, "consent_at", first(row, "created_at"))
        return ours

    return read
