"""The parts of a mail message, read within bounds: what a bounce or complaint report is made of.

A report is read only when it is within ``MAX_REPORT_BYTES``, ``MAX_LINES``, ``MAX_PARTS``
parts and ``MAX_DEPTH`` levels (``unreadable`` and ``shape`` say why one is not); its parts
are found by content type, its header values unfolded and decoded, its field blocks split,
its addresses checked, and the message it encloses found. ``mail_messages`` reads the
messages of a Maildir, an mbox file or ``.eml`` files. What the parts mean, DSN or ARF,
is ``digest.suppression.reports``.
"""

from __future__ import annotations

import hashlib
import mailbox
import re
from collections.abc import Iterator
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser, HeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from digest.addresses import email_address
from digest.errors import InputError
from digest.files import StrPath

__all__ = [
    "MALFORMED",
    "MAX_DEPTH",
    "MAX_LINES",
    "MAX_PARTS",
    "MAX_RECIPIENTS",
    "MAX_REPORT_BYTES",
    "beyond_bounds",
    "beyond_shape",
    "enclosed_message",
    "field_address",
    "first_part",
    "header_text",
    "is_report",
    "mail_messages",
    "message_date",
    "message_key",
    "report_fields",
]


#: The largest message read as a report; a bigger one is unreadable, named.
MAX_REPORT_BYTES = 10 * 1024 * 1024
#: The most MIME parts a report may have (a real one has three to a dozen).
MAX_PARTS = 100
#: The most lines a report may have (the parser's time goes by its header lines).
MAX_LINES = 250_000
#: The most recipients one report may name (one copy goes to one reader).
MAX_RECIPIENTS = 100
#: The deepest a report's parts may nest (a real one: the report, the returned message, its
#: alternative parts and their attachments).
MAX_DEPTH = 20

#: A part's header, wherever a line starts: more of them than parts is the parser's bound.
_PART_HEADER = re.compile(rb"(?:\A|[\r\n])content-type[ \t]*:", re.IGNORECASE)
_BOUNDARY = re.compile(rb'boundary[ \t]*=[ \t]*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))', re.I)
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ENCLOSED = (
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "text/rfc822-header",
    "message/global-headers",
)
#: What the ``email`` package raises on a malformed message (and the parser too deep).
MALFORMED = (ValueError, LookupError, UnicodeError, RecursionError)


def report_fields(part: Message) -> list[Message]:
    """The header blocks of a report part, whichever way the parser left them."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [block for block in payload if isinstance(block, Message)]
        # Only message/delivery-status is read block by block: another type (the global
        # one, RFC 6533) is read as one message, its first block the header, the rest a body.
        if len(blocks) == 1 and isinstance(rest := blocks[0].get_payload(), str):
            return [blocks[0], *_blocks(rest)]
        return blocks
    return _blocks(payload if isinstance(payload, str) else "")


def _blocks(text: str) -> list[Message]:
    # One block more than a report may name is enough to tell it names too many.
    blocks = [block for block in re.split(r"\r?\n\s*\r?\n", text) if block]
    return [HeaderParser().parsestr(block) for block in blocks[: MAX_RECIPIENTS + 2]]


def field_address(value: str | None) -> str | None:
    """The address of an ``rfc822; someone@example.org`` field, checked; None otherwise."""
    if not value:
        return None
    kind, _, address = str(value).partition(";")
    if not address:
        address = kind
    address = address.strip().strip("<>").strip()
    try:
        return email_address(address)
    except ValueError:
        return None


def message_key(message: Message, data: bytes) -> str:
    """A report's ``Message-ID``, or a digest of its bytes when it has none."""
    found = str(message.get("Message-ID", "")).strip()
    return found or "sha256:" + hashlib.sha256(data).hexdigest()[:32]


def message_date(message: Message) -> datetime | None:
    """A report's ``Date``; None when it has none that parses."""
    try:
        return parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError):
        return None


def first_part(message: Message, *types: str) -> Message | None:
    """The first part of ``message`` (itself included) of one of ``types``, if any."""
    for part in message.walk():
        if part.get_content_type() in types:
            return part
    return None


def header_text(message: Message, name: str) -> str:
    """A header's value unfolded and decoded (encoded words), "" when it is missing."""
    value = message.get(name)
    if value is None:
        return ""
    text = _FOLD.sub("", str(value))
    try:
        return str(make_header(decode_header(text))).strip()
    except (LookupError, ValueError, UnicodeError):
        return text.strip()


def enclosed_message(message: Message) -> Message | None:
    """The message (or its headers) a report encloses; None when it encloses none."""
    part = first_part(message, *_ENCLOSED)
    if part is None:
        return None
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return HeaderParser().parsestr(payload) if isinstance(payload, str) else None


def beyond_bounds(data: bytes) -> str:
    """Why a message is beyond the bounds of a report; "" when it is within them."""
    if len(data) > MAX_REPORT_BYTES:
        return f"larger than {MAX_REPORT_BYTES // (1024 * 1024)} MB"
    if data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n") > MAX_LINES:
        return f"more than {MAX_LINES:,} lines"
    # Each level of nesting needs a Content-Type line: counting them first bounds how deep
    # the parser can go before the parts are counted and measured.
    if len(_PART_HEADER.findall(data)) > MAX_PARTS:
        return f"more than {MAX_PARTS} MIME parts"
    # A part needs no Content-Type line, but it needs its delimiter line: at most one per
    # part and one closing each multipart.
    boundaries = {next(filter(None, found)) for found in _BOUNDARY.findall(data)}
    if len(boundaries) > MAX_PARTS:
        return f"more than {MAX_PARTS} MIME parts"
    delimiters = sum(
        data.count(b"\n--" + boundary) + data.count(b"\r--" + boundary) for boundary in boundaries
    )
    if delimiters > 2 * MAX_PARTS:
        return f"more than {MAX_PARTS} MIME parts"
    return ""


def beyond_shape(message: Message) -> str:
    """Why a parsed message has too many parts or nests too deep; "" when it has not."""
    parts, stack = 0, [(message, 0)]  # the message itself is not nested
    while stack:
        part, depth = stack.pop()
        parts += 1
        if parts > MAX_PARTS:
            return f"more than {MAX_PARTS} MIME parts"
        if depth > MAX_DEPTH:
            return f"MIME parts nested more than {MAX_DEPTH} deep"
        payload = part.get_payload()
        # The parser makes each block of a DSN's fields a part: those are counted as recipients.
        if isinstance(payload, list) and part.get_content_type() != "message/delivery-status":
            stack.extend((p, depth + 1) for p in payload if isinstance(p, Message))
    return ""


def is_report(data: bytes) -> bool:
    """Whether a message's header says it is a ``multipart/report`` (read from its head)."""
    head = data[: 64 * 1024].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    parsed = BytesHeaderParser(policy=policy.compat32).parsebytes(head + b"\n\n")
    return parsed.get_content_type() == "multipart/report"


def mail_messages(path: StrPath) -> Iterator[tuple[str, bytes]]:
    """The messages of a Maildir, an mbox file, a ``.eml`` file or a folder of them.

    Each comes with where it was (a file name, or the mbox and its position), read up to
    one byte over ``MAX_REPORT_BYTES`` (so a caller can tell a message too big to read).
    """
    target = Path(path)
    if target.is_dir() and (target / "cur").is_dir() and (target / "new").is_dir():
        maildir = mailbox.Maildir(target, factory=None, create=False)
        for key in sorted(maildir.iterkeys()):
            with maildir.get_file(key) as file:
                yield f"{target}/{key}", file.read(MAX_REPORT_BYTES + 1)
    elif target.is_dir():
        for each in sorted(target.iterdir()):
            if each.suffix.lower() == ".eml" and each.is_file():
                yield str(each), _read_file(each)
    elif target.suffix.lower() == ".eml":
        yield str(target), _read_file(target)
    elif target.is_file():
        box = mailbox.mbox(target, factory=None, create=False)
        try:
            for number, key in enumerate(box.iterkeys(), 1):
                with box.get_file(key) as file:
                    yield f"{target} #{number}", file.read(MAX_REPORT_BYTES + 1)
        finally:
            box.close()
    else:
        raise InputError(f"{path}: no such mailbox, Maildir or .eml file")


def _read_file(file: Path) -> bytes:
    try:
        with file.open("rb") as handle:
            return handle.read(MAX_REPORT_BYTES + 1)
    except OSError as error:
        raise InputError(f"{file}: cannot read it: {error.strerror or error}") from None
