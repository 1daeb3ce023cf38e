"""Message: the rendered email as a MIME message, bytes, or plain fields for any sender.

Every header goes through the one writer in ``mime.py`` and is checked by parsing the written
block again; ``build_message`` parses those same bytes into an ``EmailMessage``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, NotRequired, TypedDict, Unpack

from digest.addresses import email_address
from digest.edition import edition_key, edition_key_date
from digest.errors import InputError
from digest.mail.mime import (
    MessageSpec,
    Part,
    address_header,
    check_header_block,
    id_header,
    list_id_header,
    one_line,
    text_header,
    token_header,
    uri_list_header,
)
from digest.mail.unsubscribe import one_click, unsubscribe_uris
from digest.models import Newsletter

if TYPE_CHECKING:
    from digest.pipeline import Digest

__all__ = [
    "EDITION_HEADER",
    "HEADER_ORDER",
    "MESSAGE_POLICY",
    "Headers",
    "MessageContent",
    "build_message",
    "display_address",
    "edition_content",
    "edition_key",
    "edition_key_date",
    "email_bytes",
    "email_message",
    "esp_fields",
    "in_order",
    "message_bytes",
    "message_fields",
    "one_click",
    "unsubscribe_uris",
]


# Headers are written by digest (folded at 78, never past 998); this policy only reads them
# back and keeps them as written when an ``EmailMessage`` is serialised again.
MESSAGE_POLICY = email_policy.SMTP.clone(max_line_length=998)


def display_address(name: str, address: str) -> str:
    """``Name <address>`` as people read it (for HTTP senders); the name quoted when needed."""
    name = one_line(name)
    if not name:
        return address
    if any(ch in name for ch in '()<>[]:;@\\,."'):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def _recipients(to: str | Sequence[str]) -> list[str]:
    """Check each recipient address (no display names, no header tricks)."""
    addresses = [to] if isinstance(to, str) else list(to)
    checked = []
    for index, address in enumerate(addresses):
        try:
            checked.append(email_address(address))
        except ValueError as error:
            raise InputError(f"to[{index}]: {error} (got {address[:60]!r})") from None
    return checked


def _content_key(subject: str, html: str, text: str) -> str:
    """Hash the content; Message-ID and boundary derive from it, so rebuilds are identical."""
    return hashlib.sha256("\0".join((subject, html, text)).encode()).hexdigest()[:20]


class MessageContent(TypedDict):
    """What every message builder takes: the content, and the values of one copy's headers.

    ``unsubscribe_url`` and ``message_id`` replace the newsletter's link and the derived ID
    (for one reader's copy).
    """

    newsletter: Newsletter
    subject: str
    html: str
    text: str
    sent_at: datetime
    to: NotRequired[str | Sequence[str]]
    unsubscribe_url: NotRequired[str | None]
    message_id: NotRequired[str | None]
    #: The edition's identity (``edition_key``), written as ``X-Digest-Edition``.
    edition: NotRequired[str | None]


#: The header naming the edition a message belongs to: ``digest send`` keys its ledger by it,
#: so a rebuilt edition (its content changed) is still the same edition.
EDITION_HEADER = "X-Digest-Edition"


def message_id(sent_at: datetime, sender: str, *parts: str) -> str:
    """The one form of every Message-ID digest writes: ``<digest.DATE.PARTS@SENDER-DOMAIN>``.

    ``parts`` are hashes of what tells the message apart (its content; a copy's subject and
    reader), so that a rebuild makes the same IDs.
    """
    domain = sender.rsplit("@", 1)[1]
    return f"<digest.{sent_at:%Y%m%d}.{'.'.join(parts)}@{domain}>"


def _label(newsletter: Newsletter) -> str:
    """The newsletter's name as a DNS label: ASCII letters, digits and hyphens."""
    ascii_name = unicodedata.normalize("NFKD", newsletter.name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:50] or "newsletter"


def list_id(newsletter: Newsletter) -> str:
    """The newsletter's RFC 2919 ``list-id``: its name as a label under the sender's domain.

    ``The Riverside Weekly`` sending from ``riverside.example`` is
    ``the-riverside-weekly.riverside.example``: the same for every edition, so that mail
    clients and filters know the list.
    """
    return f"{_label(newsletter)}.{newsletter.sender.address.rsplit('@', 1)[1]}"


def feedback_id(newsletter: Newsletter, on: date) -> str:
    """Gmail's ``Feedback-ID``: ``edition:newsletter:kind:sender``, per edition, not per reader.

    Gmail's feedback loop counts complaints by each of these fields, the last being the
    sender's own identifier (the sending domain).
    """
    domain = newsletter.sender.address.rsplit("@", 1)[1]
    return f"{on:%Y%m%d}:{_label(newsletter)}:newsletter:{domain}"


#: The order headers are written in, by every message builder.
HEADER_ORDER = (
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "Feedback-ID",
    EDITION_HEADER,
)


#: RFC 8058's one-click line, beside an https ``List-Unsubscribe``.
ONE_CLICK_LINE = token_header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")


def in_order(lines: Mapping[str, bytes]) -> bytes:
    """Join written header lines in ``HEADER_ORDER`` (names without a line are left out)."""
    return b"".join(lines[name] for name in HEADER_ORDER if lines.get(name))


@dataclass(frozen=True)
class Headers:
    """The validated values of a message's headers, in the order they are written."""

    sender: tuple[str, str]
    to: tuple[str, ...]
    reply_to: str | None
    subject: str
    date: str
    message_id: str
    unsubscribe: tuple[str, ...]
    edition: str = ""
    #: The newsletter's name and its RFC 2919 ``list-id`` (``list_id``).
    list_name: str = ""
    list_id: str = ""
    #: Gmail's feedback-loop identifier (``feedback_id``).
    feedback_id: str = ""
    #: A hash of the subject and bodies: the derived Message-ID and the boundary use it.
    content_key: str = ""

    @classmethod
    def of(cls, **content: Unpack[MessageContent]) -> Headers:
        """Collect and check the header values of one message."""
        newsletter, sent_at = content["newsletter"], content["sent_at"]
        subject = one_line(content["subject"])
        key = _content_key(subject, content["html"], content["text"])
        return cls(
            sender=(newsletter.sender.name, newsletter.sender.address),
            to=tuple(_recipients(content.get("to", ()))),
            reply_to=newsletter.contact.reply_to,
            subject=subject,
            date=format_datetime(sent_at),
            message_id=content.get("message_id")
            or message_id(sent_at, newsletter.sender.address, key),
            unsubscribe=tuple(unsubscribe_uris(newsletter, content.get("unsubscribe_url"))),
            edition=one_line(content.get("edition") or ""),
            list_name=newsletter.name,
            list_id=list_id(newsletter),
            feedback_id=feedback_id(newsletter, sent_at.date()),
            content_key=key,
        )

    def written(self) -> dict[str, bytes]:
        """Each header's written line (b"" for a header this message has not), by name."""
        to = [("", address) for address in self.to] or [self.sender]
        return {
            "From": address_header("From", [self.sender]),
            "To": address_header("To", to),
            "Reply-To": address_header("Reply-To", [("", self.reply_to)]) if self.reply_to else b"",
            "Subject": text_header("Subject", self.subject),
            "Date": token_header("Date", self.date),
            "Message-ID": id_header("Message-ID", self.message_id),
            "List-Unsubscribe": uri_list_header("List-Unsubscribe", self.unsubscribe)
            if self.unsubscribe
            else b"",
            "List-Unsubscribe-Post": ONE_CLICK_LINE if one_click(self.unsubscribe) else b"",
            "List-Id": list_id_header("List-Id", self.list_name, self.list_id)
            if self.list_id
            else b"",
            "Feedback-ID": token_header("Feedback-ID", self.feedback_id)
            if self.feedback_id
            else b"",
            EDITION_HEADER: text_header(EDITION_HEADER, self.edition) if self.edition else b"",
        }

    def lines(self) -> bytes:
        """The written header block, checked by parsing it again."""
        written = self.written()
        # Text values are compared as read back; structured ones by name.
        values = {
            "Subject": self.subject,
            "Message-ID": self.message_id,
            "Feedback-ID": self.feedback_id,
            EDITION_HEADER: self.edition,
        }
        expected = [(name, values.get(name)) for name in HEADER_ORDER if written[name]]
        return check_header_block(in_order(written), expected)

    def fields(self) -> dict[str, str]:
        """The header values as plain strings, keyed as ``message_fields`` returns them."""
        sender = display_address(*self.sender)
        fields = {
            "from": sender,
            "to": ", ".join(self.to) if self.to else sender,
            "subject": self.subject,
            "date": self.date,
            "message_id": self.message_id,
        }
        if self.reply_to:
            fields["reply_to"] = self.reply_to
        if self.unsubscribe:
            fields["list_unsubscribe"] = ", ".join(f"<{uri}>" for uri in self.unsubscribe)
        if one_click(self.unsubscribe):
            fields["list_unsubscribe_post"] = "List-Unsubscribe=One-Click"
        return fields


def message_fields(**content: Unpack[MessageContent]) -> dict[str, str]:
    """Return the headers and both bodies as plain strings, for senders that take fields."""
    return {**Headers.of(**content).fields(), "text": content["text"], "html": content["html"]}


def message_spec(**content: Unpack[MessageContent]) -> MessageSpec:
    """Describe the message: checked header lines, a boundary from its content, two parts."""
    headers = Headers.of(**content)
    html, text = content["html"], content["text"]
    return MessageSpec(
        head=headers.lines(),
        boundary=f"=_digest_{headers.content_key}",
        parts=(Part("plain", text), Part("html", html)),
    )


def message_bytes(**content: Unpack[MessageContent]) -> bytes:
    """The message as RFC 5322 bytes: headers re-parsed and checked, bodies quoted-printable."""
    return message_spec(**content).as_bytes()


def build_message(**content: Unpack[MessageContent]) -> EmailMessage:
    """Build a ``multipart/alternative`` message: the text part first, then the HTML.

    It is ``message_bytes(...)`` parsed: the same writer makes both.
    """
    message: EmailMessage = message_from_bytes(
        message_bytes(**content), _class=EmailMessage, policy=MESSAGE_POLICY
    )
    return message


def edition_content(digest: Digest, to: str | Sequence[str] = ()) -> MessageContent:
    """What the edition's single message is made of: ``digest``'s content, to ``to``."""
    return {
        "newsletter": digest.newsletter,
        "subject": digest.subject,
        "html": digest.html,
        "text": digest.text,
        "sent_at": digest.sent_at,
        "edition": digest.edition_key,
        "to": to,
    }


def email_message(digest: Digest, to: Sequence[str] = ()) -> EmailMessage:
    """The edition as a ``multipart/alternative`` MIME message (``to``: its recipients)."""
    return build_message(**edition_content(digest, to))


def email_bytes(digest: Digest, to: Sequence[str] = ()) -> bytes:
    """The edition as RFC 5322 bytes, ready for ``smtplib`` or an ``.eml`` file."""
    return message_bytes(**edition_content(digest, to))


def esp_fields(digest: Digest, to: Sequence[str] = ()) -> dict[str, str]:
    """The edition's headers and bodies as plain strings, for an ESP's HTTP API."""
    return message_fields(**edition_content(digest, to))
