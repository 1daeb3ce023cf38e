"""``make_sender``: the sender ``DeliverySettings`` names (SMTP, SES, Postmark, Resend).

Each takes the same ``Outgoing`` messages and gives the same receipts (see
``digest.delivery.senders``). SES gets the message's bytes as they are; Postmark and Resend
take fields, so the message is read back (``digest.mail.mime.read_message``) and its subject,
parts and ``List-Unsubscribe`` headers are passed on.

A request is tried again only when it cannot have been taken: it was throttled (HTTP 429,
SES ``TooManyRequestsException``) or its connection failed before it was written. Those are
retried with exponential backoff, honouring ``Retry-After``; after the last try the messages
are *deferred* (sent on the next run). A lost answer or a 5xx may come after the provider
took the messages: for SES and Postmark, which have no idempotency keys, they are *unknown*
at once (reported, never resent on their own). Resend's requests carry an
``Idempotency-Key``, so Resend is asked again with the same key, and whatever ends such a
series of tries short of an answer leaves the messages unknown, never deferred. A message
that cannot be read back into the API's fields is refused alone; its batch goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.errors import SendError

if TYPE_CHECKING:
    from digest.delivery.senders import Sender
    from digest.delivery.settings import DeliverySettings

__all__ = ["make_sender"]


def make_sender(settings: DeliverySettings) -> Sender:
    """The sender ``settings.provider`` names; only its module is imported (boto3 for SES)."""
    if settings.provider == "smtp":
        from digest.delivery.smtp import SmtpSender

        assert settings.smtp is not None  # the settings' validator sees to it
        return SmtpSender(settings.smtp, settings)
    if settings.provider == "ses":
        from digest.delivery.ses import SesSender

        return SesSender(settings.ses, settings)
    if settings.provider == "postmark":
        from digest.delivery.postmark import PostmarkSender

        return PostmarkSender(settings.postmark, settings)
    if settings.provider == "resend":
        from digest.delivery.resend import ResendSender

        return ResendSender(settings.resend, settings)
    raise SendError(f"unknown provider {settings.provider!r}")
