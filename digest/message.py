"""Message: the rendered email as a MIME message, bytes, or plain fields for any sender.

Every header goes through the one writer in ``mime.py`` and is checked by parsing the written
block again; ``build_message`` parses those same bytes into an ``EmailMessage``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache

from .errors import InputError
from .mime import (
    MessageSpec,
    Part,
    address_header,
    check_header_block,
    header_uri,
    id_header,
    text_header,
    token_header,
    uri_list_header,
)
from .models import Newsletter, email_address

__all__ = [
    "MESSAGE_POLICY",
    "Headers",
    "build_message",
    "display_address",
    "message_bytes",
    "message_fields",
    "one_line",
]

# Headers are written by digest (folded at 78, never past 998); this policy only reads them
# back and keeps them as written when an ``EmailMessage`` is serialised again.
MESSAGE_POLICY = email_policy.SMTP.clone(max_line_length=998)


def one_line(value: str) -> str:
    """One line: CR, LF, NUL and other control characters become spaces, runs of spaces one."""
    return " ".join("".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in value).split())


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


@lru_cache(maxsize=16)
def _content_key(subject: str, html: str, text: str) -> str:
    """Hash the content; Message-ID and boundary derive from it, so rebuilds are identical."""
    return hashlib.sha256("\0".join((subject, html, text)).encode()).hexdigest()[:20]


def unsubscribe_uris(newsletter: Newsletter, url: str | None) -> list[str]:
    """The List-Unsubscribe URIs: one https link (``url`` or the newsletter's), one mailto."""
    uris = []
    link = url or newsletter.unsubscribe_url
    if link:
        uris.append(header_uri(link))
    if newsletter.unsubscribe_mailto:
        uris.append(f"mailto:{newsletter.unsubscribe_mailto}?subject=unsubscribe")
    return uris


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

    @classmethod
    def of(
        cls,
        *,
        newsletter: Newsletter,
        subject: str,
        html: str,
        text: str,
        sent_at: datetime,
        to: str | Sequence[str] = (),
        unsubscribe_url: str | None = None,
        message_id: str | None = None,
    ) -> Headers:
        """Collect and check the header values of one message."""
        subject = one_line(subject)
        domain = newsletter.sender.address.rsplit("@", 1)[1]
        return cls(
            sender=(newsletter.sender.name, newsletter.sender.address),
            to=tuple(_recipients(to)),
            reply_to=newsletter.reply_to,
            subject=subject,
            date=format_datetime(sent_at),
            message_id=message_id
            or f"<digest.{sent_at:%Y%m%d}.{_content_key(subject, html, text)}@{domain}>",
            unsubscribe=tuple(unsubscribe_uris(newsletter, unsubscribe_url)),
        )

    def lines(self) -> tuple[bytes, ...]:
        """The written header lines, checked by parsing them again."""
        to = [("", address) for address in self.to] or [self.sender]
        lines: list[tuple[bytes, str, str | None]] = [
            (address_header("From", [self.sender]), "From", None),
            (address_header("To", to), "To", None),
        ]
        if self.reply_to:
            lines.append((address_header("Reply-To", [("", self.reply_to)]), "Reply-To", None))
        lines += [
            (text_header("Subject", self.subject), "Subject", self.subject),
            (token_header("Date", self.date), "Date", None),
            (id_header("Message-ID", self.message_id), "Message-ID", self.message_id),
        ]
        if self.unsubscribe:
            lines.append(
                (uri_list_header("List-Unsubscribe", self.unsubscribe), "List-Unsubscribe", None)
            )
            if self.unsubscribe[0].startswith("https:"):
                lines.append(
                    (
                        token_header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                        "List-Unsubscribe-Post",
                        None,
                    )
                )
        written = tuple(line for line, _, _ in lines)
        check_header_block(b"".join(written), [(name, value) for _, name, value in lines])
        return written

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
            if self.unsubscribe[0].startswith("https:"):
                fields["list_unsubscribe_post"] = "List-Unsubscribe=One-Click"
        return fields


def message_fields(
    *,
    newsletter: Newsletter,
    subject: str,
    html: str,
    text: str,
    sent_at: datetime,
    to: Sequence[str] = (),
    unsubscribe_url: str | None = None,
    message_id: str | None = None,
) -> dict[str, str]:
    """Return the headers and both bodies as plain strings, for senders that take fields.

    ``unsubscribe_url`` and ``message_id`` replace the newsletter's link and the derived ID
    (for one reader's copy).
    """
    headers = Headers.of(
        newsletter=newsletter,
        subject=subject,
        html=html,
        text=text,
        sent_at=sent_at,
        to=to,
        unsubscribe_url=unsubscribe_url,
        message_id=message_id,
    )
    return {**headers.fields(), "text": text, "html": html}


def message_spec(
    *,
    newsletter: Newsletter,
    subject: str,
    html: str,
    text: str,
    sent_at: datetime,
    to: Sequence[str] = (),
    unsubscribe_url: str | None = None,
    message_id: str | None = None,
) -> MessageSpec:
    """Describe the message: checked header lines, a boundary from its content, two parts."""
    headers = Headers.of(
        newsletter=newsletter,
        subject=subject,
        html=html,
        text=text,
        sent_at=sent_at,
        to=to,
        unsubscribe_url=unsubscribe_url,
        message_id=message_id,
    )
    return MessageSpec(
        headers=headers.lines(),
        boundary=f"=_digest_{_content_key(headers.subject, html, text)}",
        parts=(Part("plain", text), Part("html", html)),
    )


def message_bytes(
    *,
    newsletter: Newsletter,
    subject: str,
    html: str,
    text: str,
    sent_at: datetime,
    to: Sequence[str] = (),
    unsubscribe_url: str | None = None,
    message_id: str | None = None,
) -> bytes:
    """The message as RFC 5322 bytes: headers re-parsed and checked, bodies quoted-printable."""
    return message_spec(
        newsletter=newsletter,
        subject=subject,
        html=html,
        text=text,
        sent_at=sent_at,
        to=to,
        unsubscribe_url=unsubscribe_url,
        message_id=message_id,
    ).as_bytes()


def build_message(
    *,
    newsletter: Newsletter,
    subject: str,
    html: str,
    text: str,
    sent_at: datetime,
    to: Sequence[str] = (),
    unsubscribe_url: str | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """Build a ``multipart/alternative`` message: the text part first, then the HTML.

    It is ``message_bytes(...)`` parsed: the same writer makes both.
    """
    raw = message_bytes(
        newsletter=newsletter,
        subject=subject,
        html=html,
        text=text,
        sent_at=sent_at,
        to=to,
        unsubscribe_url=unsubscribe_url,
        message_id=message_id,
    )
    message: EmailMessage = message_from_bytes(raw, _class=EmailMessage, policy=MESSAGE_POLICY)
    return message
