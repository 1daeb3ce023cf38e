"""Amazon SES notifications through SNS, with the SNS signature checked as AWS documents.

SNS posts a JSON message signed with RSA (``SignatureVersion`` 1: SHA1, 2: SHA256) over the
message's fields in a fixed order, with the certificate at ``SigningCertURL``. That URL must
be https on an ``sns.<region>.amazonaws.com`` host and name a ``.pem`` file; the certificate
is read once per URL. A message of a topic not in ``sns_topics`` is refused (anyone can sign
messages of their own topics), so is one more than an hour old. A subscription confirmation
that passes is confirmed by visiting its ``SubscribeURL`` (also checked to be SNS's). SES
bounces (``Permanent``: hard, others: soft) and complaints (except ``not-spam``) are events,
from SES notifications (``notificationType``) and event publishing (``eventType``) alike.
The SNS message and the SES notification in its ``Message`` are each read depth-limited and
checked by a model of the fields digest reads: another shape is refused (400), naming the field.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, ConfigDict, StrictStr

from digest.suppression.events import Engagement, Event, Reason
from digest.web.body import MAX_DEPTH, json_depth, json_value
from digest.web.settings import WebSettings
from digest.web.webhooks.base import (
    Refused,
    clicked_link,
    json_object,
    parse_time,
    reader_address,
    shaped,
)

__all__ = ["SesWebhook", "sns_string_to_sign", "sns_url_ok"]


# SNS's own endpoints, as AWS lists them: sns.REGION.amazonaws.com, and .amazonaws.com.cn in
# China. Nothing else under amazonaws.com: S3 serves anyone's bucket at sns.s3….amazonaws.com.
_SNS_HOST = re.compile(
    r"sns\.(?:(?:[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d)\.amazonaws\.com"
    r"|(?:cn-[a-z]+-\d)\.amazonaws\.com\.cn)"
)

_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}  # fmt: skip


class _Shape(BaseModel):
    """A payload's fields as its provider names them; any others are ignored."""

    model_config = ConfigDict(extra="ignore")


class _SnsMessage(_Shape):
    """The SNS message's fields digest reads: the signed ones and the signature's."""

    Type: StrictStr | None = None
    Message: StrictStr | None = None
    MessageId: StrictStr | None = None
    Subject: StrictStr | None = None
    Timestamp: StrictStr | None = None
    TopicArn: StrictStr | None = None
    SubscribeURL: StrictStr | None = None
    Token: StrictStr | None = None
    SignatureVersion: StrictStr | None = None
    SigningCertURL: StrictStr | None = None
    Signature: StrictStr | None = None


class _Recipient(_Shape):
    """One of ``bouncedRecipients`` or ``complainedRecipients``."""

    emailAddress: StrictStr
    diagnosticCode: StrictStr | None = None


class _Bounce(_Shape):
    """``bounce`` of a Bounce notification."""

    bounceType: StrictStr | None = None
    bouncedRecipients: list[_Recipient]
    feedbackId: StrictStr | None = None
    timestamp: StrictStr | None = None


class _Complaint(_Shape):
    """``complaint`` of a Complaint notification."""

    complaintFeedbackType: StrictStr | None = None
    complainedRecipients: list[_Recipient]
    feedbackId: StrictStr | None = None
    timestamp: StrictStr | None = None


class _Engaged(_Shape):
    """``open`` or ``click`` of an Open or Click event (a click's ``link`` too)."""

    timestamp: StrictStr | None = None
    link: StrictStr | None = None


class _Mail(_Shape):
    """``mail``: the message's id and its recipients."""

    messageId: StrictStr | None = None
    destination: list[StrictStr]


class _Ses(_Shape):
    """An SES notification or published event, as the notification's ``Message`` holds it."""

    notificationType: StrictStr | None = None
    eventType: StrictStr | None = None
    bounce: _Bounce | None = None
    complaint: _Complaint | None = None
    open: _Engaged | None = None
    click: _Engaged | None = None
    mail: _Mail | None = None


def sns_url_ok(url: object, pem: bool = False) -> bool:
    """Whether ``url`` is an https URL of SNS itself (and, with ``pem``, a certificate)."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    # The whole network location is the host: no user, no password, no port.
    return (
        parts.scheme == "https"
        and parts.netloc == parts.hostname
        and _SNS_HOST.fullmatch(parts.netloc) is not None
        and (not pem or parts.path.endswith(".pem"))
    )


def sns_string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The bytes SNS signs: each signed field's name and value on lines of their own."""
    names = _SIGNED.get(str(message.get("Type")))
    if names is None:
        raise Refused(400, f"unknown SNS message type {str(message.get('Type'))[:40]!r}")
    lines: list[str] = []
    for name in names:
        value = message.get(name)
        if value is None and name == "Subject":
            continue
        if not isinstance(value, str):
            raise Refused(400, f"the SNS message has no {name}")
        lines += (name, value)
    return ("\n".join(lines) + "\n").encode("utf-8")


def _verify(message: Mapping[str, Any], settings: WebSettings) -> None:
    version = message.get("SignatureVersion")
    if version not in ("1", "2"):
        raise Refused(401, "unsigned SNS message, or an unknown SignatureVersion")
    url = message.get("SigningCertURL")
    if not sns_url_ok(url, pem=True):
        raise Refused(401, "SigningCertURL is not an SNS certificate URL")
    assert isinstance(url, str)
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise Refused(401, "the SNS Signature is not base64") from None
    pem = settings.certificates.get(url)
    if pem is None:
        try:
            pem = settings.fetch(url)
        except (OSError, ValueError) as error:
            raise Refused(503, f"cannot read the SNS certificate: {error}") from None
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise Refused(401, "the SNS certificate does not load") from None
    settings.certificates[url] = pem
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Refused(401, "the SNS certificate's key is not RSA")
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    try:
        key.verify(signature, sns_string_to_sign(message), padding.PKCS1v15(), digest)
    except InvalidSignature:
        raise Refused(401, "bad SNS signature") from None
    sent = parse_time(message.get("Timestamp"))
    if sent is None:
        raise Refused(400, "the SNS message has no valid Timestamp")
    age = settings.clock() - sent.astimezone(UTC).timestamp()
    if age > settings.sns_tolerance:
        raise Refused(401, "the SNS message is too old (a replay?)")


def _ses_events(ses: _Ses, fallback_id: str) -> list[Event]:
    kind = ses.notificationType or ses.eventType
    events = []
    recipients: list[_Recipient]
    if kind == "Bounce" and ses.bounce is not None:
        bounce = ses.bounce
        reason: Reason = "hard-bounce" if bounce.bounceType == "Permanent" else "soft-bounce"
        recipients = bounce.bouncedRecipients
        key = bounce.feedbackId or fallback_id
        at = parse_time(bounce.timestamp)
    elif kind == "Complaint" and ses.complaint is not None:
        complaint = ses.complaint
        if complaint.complaintFeedbackType == "not-spam":
            return []
        reason = "complaint"
        recipients = complaint.complainedRecipients
        key = complaint.feedbackId or fallback_id
        at = parse_time(complaint.timestamp)
    elif kind in ("Open", "Click"):
        return _engagement(ses, kind, fallback_id)
    elif kind in ("Bounce", "Complaint"):
        field = kind.lower()
        raise Refused(400, f"Message.{field}: Field required (a {kind} notification)")
    else:
        return []
    # The message's id ties a bounce or complaint to its edition through the ledger.
    message_id = (ses.mail.messageId or "") if ses.mail is not None else ""
    for recipient in recipients:
        address = reader_address(recipient.emailAddress)
        if address is None:
            continue
        detail = " ".join((recipient.diagnosticCode or "").split())
        event_id = f"ses:{key}:{address.lower()}"
        events.append(Event(address, reason, "ses", event_id, at, detail, message_id))
    return events


def _engagement(ses: _Ses, kind: str, fallback_id: str) -> list[Event]:
    """An SES open or click event (configuration-set event publishing): one per recipient."""
    engaged = ses.open if kind == "Open" else ses.click
    if engaged is None or ses.mail is None:
        field = "mail" if engaged is not None else kind.lower()
        raise Refused(400, f"Message.{field}: Field required (an {kind} event)")
    message_id = ses.mail.messageId or ""
    at = parse_time(engaged.timestamp)
    reason: Engagement = "opened" if kind == "Open" else "clicked"
    url = clicked_link(engaged.link) if kind == "Click" else ""
    events = []
    for written in ses.mail.destination:
        address = reader_address(written)
        if address is not None:
            key = f"ses:{fallback_id}:{address.lower()}"
            events.append(Event(address, reason, "ses", key, at, "", message_id, url=url))
    return events


def _notification(text: str) -> _Ses:
    """The SES notification in an SNS ``Message``: depth-limited JSON, checked by ``_Ses``."""
    data = text.encode("utf-8", "surrogatepass")
    if json_depth(data) > MAX_DEPTH:
        raise Refused(400, f"the notification's Message nests deeper than {MAX_DEPTH} levels")
    try:
        value = json_value(data)
    except Refused:
        raise Refused(400, "the notification's Message is not JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, "the notification's Message is not a JSON object")
    return shaped(_Ses, value, ("Message",))


class SesWebhook:
    """``POST /webhooks/ses``: an SNS subscription of SES notifications."""

    name = "ses"

    def enabled(self, settings: WebSettings) -> bool:
        """Only with the topics to take."""
        return bool(settings.sns_topics)

    def events(self, body: bytes, headers: Mapping[str, str], settings: WebSettings) -> list[Event]:
        """The bounces and complaints of a signed notification; a confirmation is confirmed."""
        message = shaped(_SnsMessage, json_object(body)).model_dump(exclude_none=True)
        _verify(message, settings)
        if message.get("TopicArn") not in settings.sns_topics:
            raise Refused(403, "a topic not in sns_topics")
        kind = message.get("Type")
        if kind == "SubscriptionConfirmation":
            url = message.get("SubscribeURL")
            if not sns_url_ok(url):
                raise Refused(400, "SubscribeURL is not an SNS URL")
            assert isinstance(url, str)
            try:
                settings.fetch(url)
            except (OSError, ValueError) as error:
                raise Refused(503, f"cannot confirm the subscription: {error}") from None
            return []
        if kind != "Notification":
            return []
        ses = _notification(str(message.get("Message")))
        return _ses_events(ses, str(message.get("MessageId")))
