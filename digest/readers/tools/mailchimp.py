"""Mailchimp's audience export: one file each for subscribed, unsubscribed and cleaned members.

The three files share "Email Address", "First Name", "Last Name", OPTIN_TIME, OPTIN_IP,
CONFIRM_TIME, CONFIRM_IP, TIMEZONE, LEID, EUID, NOTES, TAGS ...; the unsubscribed file adds
UNSUB_TIME (its members become ``unsubscribed``), the cleaned file CLEAN_TIME (addresses
Mailchimp stopped mailing after they bounced: ``bounced``); each time is kept in the event's
detail ("left 2024-…"). Its times are UTC.
"""

from __future__ import annotations

from collections.abc import Mapping

from digest.readers.tools.base import Ours, RowReader, first, put

__all__ = ["NAME", "reader", "recognises"]

NAME = "mailchimp"


def recognises(columns: frozenset[str]) -> bool:
    """A header with "Email Address" and one of Mailchimp's own upper-case columns."""
    return "email address" in columns and bool(columns & {"optin_time", "leid", "euid"})


def reader(columns: frozenset[str]) -> RowReader:
    """Rows of the file this header heads: its status is the file's (subscribed, ...)."""
    status = (
        "unsubscribed"
        if "unsub_time" in columns
        else "bounced"
        if "clean_time" in columns
        else "subscribed"
    )
    status_column = "unsub_time" if status == "unsubscribed" else "clean_time"

    def read(row: Mapping[str, str]) -> Ours:
        ours: Ours = {"status": (status_column, status)}
        put(ours, "address", ("email address", row.get("email address", "")))
        name = " ".join(
            part
            for part in (row.get("first name", "").strip(), row.get("last name", "").strip())
            if part
        )
        if name:
            ours["name"] = ("first name", name)
        put(ours, "timezone", first(row, "timezone"))
        put(ours, "consent_at", first(row, "confirm_time", "optin_time"))
        put(ours, "consent_ip", first(row, "confirm_ip", "optin_ip"))
        put(ours, "left_at", first(row, status_column))
        return ours

    return read
