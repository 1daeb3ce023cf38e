"""Amazon SES notifications through SNS, with the SNS signature checked as AWS documents.

SNS posts a JSON message signed with RSA (``SignatureVersion`` 1: SHA1, 2: SHA256) over the
message's fields in a fixed order, with the certificate at ``SigningCertURL``. That URL must
be https on an ``sns.<region>.amazonaws.com`` host and name a ``.pem`` file; the certificate
is read once per URL. A message of a topic not in ``sns_topics`` is refused (anyone can sign
messages of their own topics), so is one more than an hour old. A subscription confirmation
that passes is confirmed by visiting its ``SubscribeURL`` (also checked to be SNS's). SES
bounces (``Permanent``: hard, others: soft) and complaints (except ``not-spam``) are events,
from SES notifications (``notificationType``) and event publishing (``eventType``) alike.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from digest.suppression.events import Engagement, Event, Reason
from digest.web.settings import WebSettings
from digest.web.webhooks.base import Refused, json_object, parse_time, reader_address

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


def _ses_events(ses: Mapping[str, Any], fallback_id: str) -> list[Event]:
    kind = ses.get("notificationType") or ses.get("eventType")
    events = []
    if kind == "Bounce" and isinstance(ses.get("bounce"), dict):
        bounce = ses["bounce"]
        reason: Reason = "hard-bounce" if bounce.get("bounceType") == "Permanent" else "soft-bounce"
        recipients = bounce.get("bouncedRecipients")
        key = bounce.get("feedbackId") or fallback_id
        at = parse_time(bounce.get("timestamp"))
    elif kind == "Complaint" and isinstance(ses.get("complaint"), dict):
        complaint = ses["complaint"]
        if complaint.get("complaintFeedbackType") == "not-spam":
            return []
        reason = "complaint"
        recipients = complaint.get("complainedRecipients")
        key = complaint.get("feedbackId") or fallback_id
        at = parse_time(complaint.get("timestamp"))
    elif kind in ("Open", "Click") and isinstance(ses.get(kind.lower()), dict):
        return _engagement(ses, kind, fallback_id)
    else:
        return []
    for recipient in recipients if isinstance(recipients, list) else []:
        entry = recipient if isinstance(recipient, dict) else {}
        address = reader_address(entry.get("emailAddress"))
        if address is None:
            continue
        detail = " ".join(str(entry.get("diagnosticCode") or "").split())
        events.append(Event(address, reason, "ses", f"ses:{key}:{address.lower()}", at, detail))
    return events


def _engagement(ses: Mapping[str, Any], kind: str, fallback_id: str) -> list[Event]:
    """An SES open or click event (configuration-set event publishing): one per recipient."""
    mail = ses.get("mail") if isinstance(ses.get("mail"), dict) else {}
    assert isinstance(mail, dict)
    message_id = str(mail.get("messageId") or "")
    at = parse_time(ses[kind.lower()].get("timestamp"))
    reason: Engagement = "opened" if kind == "Open" else "clicked"
    destination = mail.get("destination")
    events = []
    for written in destination if isinstance(destination, list) else []:
        address = reader_address(written)
        if address is not None:
            key = f"ses:{fallback_id}:{address.lower()}"
            events.append(Event(address, reason, "ses", key, at, "", message_id))
    return events


class SesWebhook:
    """``POST /webhooks/ses``: an SNS subscription of SES notifications."""

    name = "ses"

    def enabled(self, settings: WebSettings) -> bool:
        """Only with the topics to take."""
        return bool(settings.sns_topics)

    def events(self, body: bytes, headers: Mapping[str, str], settings: WebSettings) -> list[Event]:
        """The bounces and complaints of a signed notification; a confirmation is confirmed."""
        message = json_object(body)
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
        try:
            ses = json.loads(str(message.get("Message")))
        except ValueError:
            raise Refused(400, "the notification's Message is not JSON") from None
        if not isinstance(ses, dict):
            raise Refused(400, "the notification's Message is not a JSON object")
        return _ses_events(ses, str(message.get("MessageId")))
