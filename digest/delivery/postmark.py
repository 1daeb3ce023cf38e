"""Postmark's batch API: up to 500 messages a call, a result for each."""

from __future__ import annotations

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
        PostmarkSettings,
    )

__all__ = ["PostmarkSender"]


class PostmarkSender(HttpApiSender):
    """Postmark's ``POST /email/batch``: up to 500 messages a call, a result for each."""

    name = "Postmark"
    path = "/email/batch"
    batch_size = 500

    def __init__(self, settings: PostmarkSettings, delivery: DeliverySettings) -> None:
        """A sender with the server token from ``settings.token_env``."""
        super().__init__(settings.base_url, delivery)
        self.settings = settings
        self.token = api_key(settings.token_env, "Postmark")

    def auth_headers(self, batch: Sequence[Outgoing]) -> dict[str, str]:
        """Postmark's server token header."""
        return {"X-Postmark-Server-Token": self.token}

    def item(self, message: Outgoing) -> dict[str, Any]:
        """One message as the API takes it."""
        headers, text, html = api_fields(message)
        item: dict[str, Any] = {
            "From": headers["From"],
            "To": message.address,
            "Subject": headers.get("Subject", ""),
            "HtmlBody": html,
            "TextBody": text,
            "MessageStream": self.settings.message_stream,
            "Headers": [
                {"Name": name, "Value": headers[name]}
                for name in self.passed_headers
                if name in headers
            ],
        }
        if "Reply-To" in headers:
            item["ReplyTo"] = headers["Reply-To"]
        if message.variant:
            item["Tag"] = f"subject-{message.variant}"
        return item

    def receipts(self, batch: Sequence[Outgoing], answer: Answer) -> list[Receipt] | None:
        """Each message's own result: ``ErrorCode`` 0 is sent, any other refused."""
        results = answer.json()
        if not isinstance(results, list) or len(results) != len(batch):
            return None
        receipts = []
        for message, result in zip(batch, results, strict=True):
            if not isinstance(result, dict):
                return None
            code = result.get("ErrorCode")
            if code == 0:
                receipt = Receipt(
                    message.address, "sent", str(result.get("MessageID", "")), message.variant
                )
            else:
                reason = f"Postmark {code}: {result.get('Message', '')}"
                receipt = Receipt(message.address, "refused", reason, message.variant)
            receipts.append(receipt)
        return receipts
