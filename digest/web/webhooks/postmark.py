"""Postmark's webhooks (bounces, complaints, subscription changes, opens, clicks), basic auth.

Postmark signs nothing: its webhook URL carries a user and password
(``https://postmark:PASSWORD@news.example.org/webhooks/postmark``), checked here in constant
time. A payload is one record: ``Bounce`` (a hard bounce, a soft one, or a complaint or
unsubscribe by its ``Type``), ``SpamComplaint``, ``SubscriptionChange``, ``Open`` or
``Click`` (kept to decide A/B tests, never suppressing). Its ``ID`` (for an open or a click,
which have none, the message's id and the moment; for a subscription change, which has none
either, a digest of the whole record) makes the event happen once, however often Postmark
retries, and two records are two events. A subscription change that lifts a suppression
(``SuppressSending`` false) is no event: only ``digest suppress remove`` takes a reader off.
A record of a kind read here whose fields have another shape than Postmark documents (a
number for ``Email``, a list for ``SuppressSending``…) is refused (400), naming the field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from digest.suppression.events import Engagement, Event, Reason
from digest.web.settings import WebSettings
from digest.web.webhooks.base import (
    Refused,
    clicked_link,
    json_object,
    parse_time,
    reader_address,
    shaped,
)

__all__ = ["PostmarkWebhook"]


_BOUNCES: dict[str, Reason] = {
    "HardBounce": "hard-bounce",
    "BadEmailAddress": "hard-bounce",
    "ManuallyDeactivated": "hard-bounce",
    "SoftBounce": "soft-bounce",
    "Transient": "soft-bounce",
    "DnsError": "soft-bounce",
    "SpamComplaint": "complaint",
    "Unsubscribe": "unsubscribed",
}

_SUPPRESSIONS: dict[str, Reason] = {
    "HardBounce": "hard-bounce",
    "SpamComplaint": "complaint",
    "ManualSuppression": "unsubscribed",
}


_Number = Annotated[StrictInt, Field(ge=0, lt=2**63)]


class _Kind(BaseModel):
    """What every record has: its kind."""

    model_config = ConfigDict(extra="ignore")

    RecordType: StrictStr


class _Record(BaseModel):
    """The fields of a bounce, complaint, subscription change, open or click digest reads."""

    model_config = ConfigDict(extra="ignore")

    RecordType: StrictStr
    # Postmark's IDs are 64-bit numbers; a string is taken too (never more than 200 characters).
    ID: _Number | Annotated[StrictStr, Field(max_length=200)] | None = None
    Type: StrictStr | None = None
    Email: StrictStr | None = None
    Recipient: StrictStr | None = None
    MessageID: StrictStr | None = None
    BouncedAt: StrictStr | None = None
    ReceivedAt: StrictStr | None = None
    ChangedAt: StrictStr | None = None
    SuppressSending: StrictBool | None = None
    SuppressionReason: StrictStr | None = None
    Details: StrictStr | None = None
    Description: StrictStr | None = None
    OriginalLink: StrictStr | None = None


def _digest(record: dict[str, Any]) -> str:
    """The record's own key when it has no ``ID``: a SHA-256 of it, keys in order."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


class PostmarkWebhook:
    """``POST /webhooks/postmark``."""

    name = "postmark"

    def enabled(self, settings: WebSettings) -> bool:
        """Only with a password to check."""
        return bool(settings.postmark_password)

    def authenticate(self, headers: Mapping[str, str], settings: WebSettings) -> None:
        """The request's basic auth, or ``Refused`` (401)."""
        scheme, _, value = headers.get("authorization", "").partition(" ")
        try:
            given = base64.b64decode(value, validate=True) if scheme.lower() == "basic" else b""
        except (binascii.Error, ValueError):
            given = b""
        expected = f"{settings.postmark_user}:{settings.postmark_password}".encode()
        if not hmac.compare_digest(given, expected):
            raise Refused(401, "wrong or missing credentials")

    def events(self, body: bytes, headers: Mapping[str, str], settings: WebSettings) -> list[Event]:
        """The record's event (none for deliveries or auto-replies)."""
        self.authenticate(headers, settings)
        record = json_object(body)
        kind = shaped(_Kind, record).RecordType
        if kind not in ("Open", "Click", "Bounce", "SpamComplaint", "SubscriptionChange"):
            return []
        fields = shaped(_Record, record)
        reason: Reason | Engagement | None
        # Every record names its message: a report ties it to its edition through the ledger.
        message_id = fields.MessageID or ""
        key: str | int | None
        if kind in ("Open", "Click"):
            reason = "opened" if kind == "Open" else "clicked"
            address, at = fields.Recipient, fields.ReceivedAt
            key = f"{message_id}:{at}" if message_id and at else None
        elif kind == "Bounce":
            reason = _BOUNCES.get(str(fields.Type))
            address, at = fields.Email, fields.BouncedAt
            key = fields.ID or _digest(record)
        elif kind == "SpamComplaint":
            reason, address, at = "complaint", fields.Email, fields.BouncedAt
            key = fields.ID or _digest(record)
        else:  # SubscriptionChange
            suppress = fields.SuppressSending is True
            reason = _SUPPRESSIONS.get(str(fields.SuppressionReason)) if suppress else None
            address, at = fields.Recipient, fields.ChangedAt
            # No ID, and MessageID and ChangedAt may both be missing: never one key per address.
            key = _digest(record)
        if reason is None:
            return []
        if address is None:
            where = "Email" if kind in ("Bounce", "SpamComplaint") else "Recipient"
            raise Refused(400, f"{where}: Field required ({kind} record)")
        checked = reader_address(address)
        if checked is None or key in (None, ""):
            raise Refused(400, f"a {kind} record without a valid address or ID")
        detail = " ".join((fields.Details or fields.Description or "").split())
        event_id = f"postmark:{kind}:{key}"
        url = clicked_link(fields.OriginalLink) if kind == "Click" else ""
        at_time = parse_time(at)
        return [Event(checked, reason, self.name, event_id, at_time, detail, message_id, url=url)]
