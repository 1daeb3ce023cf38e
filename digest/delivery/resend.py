"""Resend's batch API: up to 100 messages a call, with an idempotency key."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from digest.delivery.http import Answer, HttpApiSender, api_fields, api_key
from digest.delivery.senders import (
    Outgoing,
    Receipt,
)

if TYPE_CHECKING:
    from digest.delivery.settings import (
        DeliverySettings,
        ResendSettings,
    )

__all__ = ["ResendSender"]


class ResendSender(HttpApiSender):
    """Resend's ``POST /emails/batch``: up to 100 messages a call, with an idempotency key."""

    name = "Resend"
    path = "/emails/batch"
    batch_size = 100
    # Resend keeps an idempotency key's answer for 24 hours; a 409 is a request with the
    # same key still being worked on.
    idempotent = True
    in_progress = frozenset({409})

    def __init__(self, settings: ResendSettings, delivery: DeliverySettings) -> None:
        """A sender with the API key from ``settings.key_env``."""
        super().__init__(settings.base_url, delivery)
        self.key = api_key(settings.key_env, "Resend")

    def auth_headers(self, batch: Sequence[Outgoing]) -> dict[str, str]:
        """The bearer key, and an idempotency key made from the batch's messages."""
        # The same batch gets the same key: Resend answers a repeat with the first result.
        key = hashlib.sha256(b"".join(hashlib.sha256(m.data).digest() for m in batch))
        return {"Authorization": f"Bearer {self.key}", "Idempotency-Key": key.hexdigest()}

    def item(self, message: Outgoing) -> dict[str, Any]:
        """One message as the API takes it."""
        headers, text, html = api_fields(message)
        item: dict[str, Any] = {
            "from": headers["From"],
            "to": [message.address],
            "subject": headers.get("Subject", ""),
            "html": html,
            "text": text,
            "headers": {name: headers[name] for name in self.passed_headers if name in headers},
        }
        if "Reply-To" in headers:
            item["reply_to"] = headers["Reply-To"]
        if message.variant:
            item["tags"] = [{"name": "subject", "value": message.variant}]
        return item

    def receipts(self, batch: Sequence[Outgoing], answer: Answer) -> list[Receipt] | None:
        """Every message sent, with the id Resend gave it (a batch is taken whole or not)."""
        data = answer.json()
        results = data.get("data") if isinstance(data, dict) else None
        if not isinstance(results, list) or len(results) != len(batch):
            return None
        ids = [str(r.get("id", "")) if isinstance(r, dict) else "" for r in results]
        return [
            Receipt(m.address, "sent", id_, m.variant) for m, id_ in zip(batch, ids, strict=True)
        ]
