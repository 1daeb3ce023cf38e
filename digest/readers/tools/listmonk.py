"""listmonk's subscriber export: uuid, email, name, attributes (JSON), status, created_at.

Its statuses are ``enabled``, ``disabled`` and ``blocklisted``: a blocklisted subscriber is
one listmonk never mails again (``unsubscribed`` here), and so is a disabled one. Its times
are Go's ``2024-01-02 10:11:12.123456 +0000 UTC``.
"""

from __future__ import annotations

from collections.abc import Mapping

from digest.readers.tools.base import Ours, RowReader, first, put

__all__ = ["NAME", "reader", "recognises"]

NAME = "listmonk"

_STATUSES = {"enabled": "subscribed", "disabled": "unsubscribed", "blocklisted": "unsubscribed"}


def recognises(columns: frozenset[str]) -> bool:
    """The header listmonk writes (uuid, email, name, attributes, status)."""
    return {"uuid", "email", "attributes", "status"} <= columns


def reader(columns: frozenset[str]) -> RowReader:
    """Rows of a listmonk export."""

    def read(row: Mapping[str, str]) -> Ours:
        ours: Ours = {"address": ("email", row.get("email", ""))}
        put(ours, "name", first(row, "name"))
        status = row.get("status", "").strip()
        ours["status"] = ("status", _STATUSES.get(status.lower(), status))
        put(ours, "consent_at", first(row, "created_at"))
        return ours

    return read
