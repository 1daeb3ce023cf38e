"""Message: the rendered email as a MIME message, bytes, or plain fields for any sender."""

from __future__ import annotations

import hashlib
import quopri
from collections.abc import Sequence
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime
from functools import lru_cache

from .errors import InputError, RenderError
from .models import Newsletter, email_address

__all__ = ["MESSAGE_POLICY", "build_message", "message_bytes", "message_fields", "quoted_printable"]

# Parts are encoded as quoted-printable lines of 76 (RFC 2045); headers are folded
# only past 998 bytes, because Python otherwise RFC 2047-encodes a long List-Unsubscribe URL,
# which mail providers then cannot use for one-click unsubscribe (RFC 8058).
MESSAGE_POLICY = email_policy.SMTP.clone(max_line_length=998)


def _header_value(value: str) -> str:
    """One line: CR, LF, NUL and other control characters become spaces, whatever Python does."""
    return " ".join("".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in value).split())


def _address(name: str, address: str) -> Address:
    try:
        return Address(display_name=_header_value(name), addr_spec=address)
    except (ValueError, IndexError) as error:
        raise InputError(f"address {address!r}: {error}") from None


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


def _wrapped(line: bytes, limit: int) -> list[bytes]:
    """Cut an encoded line into soft-broken pieces of at most ``limit`` characters."""
    pieces = []
    while len(line) > limit:
        cut = limit - 1
        while b"=" in line[cut - 2 : cut]:  # do not cut an =XX escape in two
            cut -= 1
        pieces.append(line[:cut] + b"=")
        line = line[cut:]
    return [*pieces, line]


def quoted_printable(data: str) -> bytes:
    """Quoted-printable with CRLF line ends and a soft break at the end, ready to join.

    Every line stays within the 76 characters of RFC 2045, the added soft break included.
    """
    lines = quopri.encodestring(data.encode("utf-8")).split(b"\n")
    # quopri lets a line with tabs run past 76 characters, and the last line gets a soft break
    # added below: only those lines need another look (in Python, so only when needed).
    if len(lines[-1]) > 75 or max(map(len, lines)) > 76:
        last = len(lines) - 1
        lines = [
            piece
            for n, line in enumerate(lines)
            for piece in _wrapped(line, 75 if n == last else 76)
        ]
    encoded = b"\r\n".join(lines)
    if not encoded or encoded.endswith(b"\r\n"):
        return encoded
    return encoded + b"=\r\n"


@lru_cache(maxsize=16)
def _content_key(subject: str, html: str, text: str) -> str:
    """Hash the content; Message-ID and boundary derive from it, so rebuilds are identical."""
    return hashlib.sha256("\0".join((subject, html, text)).encode()).hexdigest()[:20]


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
    to = _recipients(to)
    subject = _header_value(subject)
    sender = str(_address(newsletter.sender.name, newsletter.sender.address))
    domain = newsletter.sender.address.rsplit("@", 1)[1]
    fields = {
        "from": sender,
        "to": ", ".join(to) if to else sender,
        "subject": subject,
        "date": format_datetime(sent_at),
        "message_id": message_id
        or f"<digest.{sent_at:%Y%m%d}.{_content_key(subject, html, text)}@{domain}>",
        "text": text,
        "html": html,
    }
    if newsletter.reply_to:
        fields["reply_to"] = newsletter.reply_to
    unsubscribe = unsubscribe_url or newsletter.unsubscribe_url
    if unsubscribe:
        fields["list_unsubscribe"] = f"<{unsubscribe}>"
        fields["list_unsubscribe_post"] = "List-Unsubscribe=One-Click"
    return fields


def _header_list(fields: dict[str, str]) -> list[tuple[str, str]]:
    """The headers of a message, in the order both message builders write them."""
    headers = [("From", fields["from"]), ("To", fields["to"])]
    if "reply_to" in fields:
        headers.append(("Reply-To", fields["reply_to"]))
    headers += [
        ("Subject", fields["subject"]),
        ("Date", fields["date"]),
        ("Message-ID", fields["message_id"]),
    ]
    if "list_unsubscribe" in fields:
        headers += [
            ("List-Unsubscribe", fields["list_unsubscribe"]),
            ("List-Unsubscribe-Post", fields["list_unsubscribe_post"]),
        ]
    return headers


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
    """Build a ``multipart/alternative`` message: the text part first, then the HTML."""
    fields = message_fields(
        newsletter=newsletter,
        subject=subject,
        html=html,
        text=text,
        sent_at=sent_at,
        to=to,
        unsubscribe_url=unsubscribe_url,
        message_id=message_id,
    )
    # Bodies are encoded at set_content time with this policy: quoted-printable lines of 76.
    message = EmailMessage(policy=email_policy.SMTP.clone(max_line_length=76))
    for name, value in _header_list(fields):
        message[name] = value
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    message.set_boundary(f"=_digest_{_content_key(subject, html, text)}")
    for part in message.walk():
        part.policy = MESSAGE_POLICY
    _check_headers(message)
    return message


def fold_header(name: str, value: str) -> bytes:
    """One header line, folded and RFC 2047-encoded as the ``email`` package writes it."""
    if value.isascii() and value.isprintable() and len(name) + len(value) < 990:
        # What the email package writes for a short ASCII value, without its slow parser.
        return f"{name}: {value}\r\n".encode("ascii")
    header = MESSAGE_POLICY.header_factory(name, value)
    folded: str = header.fold(policy=MESSAGE_POLICY)
    return folded.encode("ascii")


def _header_block(headers: Sequence[tuple[str, str]]) -> bytes:
    """Fold the headers, then parse them again: exactly these names must come back, in order.

    Only the header block is checked: that is where an injected line break would show.
    """
    block = b"".join(fold_header(name, value) for name, value in headers)
    parsed = BytesHeaderParser(policy=email_policy.default).parsebytes(block + b"\r\n")
    if list(parsed.keys()) != [name for name, _ in headers]:
        raise RenderError(
            f"the message's headers do not survive a round trip: {list(parsed.keys())!r}"
        )
    return block


def _check_headers(message: EmailMessage) -> None:
    """Check the headers of a built message (see ``_header_block``)."""
    _header_block([(name, str(value)) for name, value in message.items()])


_PART = (
    b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
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
    """The message as RFC 5322 bytes, assembled directly (no ``EmailMessage`` round).

    It parses into the same headers and parts as ``build_message(...)``, with
    quoted-printable bodies of 76-character lines; its headers are re-parsed and checked.
    """
    fields = message_fields(
        newsletter=newsletter,
        subject=subject,
        html=html,
        text=text,
        sent_at=sent_at,
        to=to,
        unsubscribe_url=unsubscribe_url,
        message_id=message_id,
    )
    headers = _header_list(fields)
    boundary = f"=_digest_{_content_key(subject, html, text)}"
    headers += [
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    block = _header_block(headers)
    mark = boundary.encode()
    return b"".join(
        [
            block,
            b"\r\n--",
            mark,
            b"\r\n",
            _PART % b"plain",
            quoted_printable(text),
            b"\r\n--",
            mark,
            b"\r\n",
            _PART % b"html",
            quoted_printable(html),
            b"\r\n--",
            mark,
            b"--\r\n",
        ]
    )
