"""Bounce and complaint reports that come back by mail: DSNs (RFC 3464) and ARF (RFC 5965).

An SMTP relay returns a failed delivery as a ``multipart/report`` with a
``message/delivery-status`` part, and a mailbox provider's feedback loop sends a complaint
as one with a ``message/feedback-report`` part. ``read_report`` turns one such message into
events: a permanent failure (``Action: failed``, status 5.x.x) is a hard bounce, a failure
with a 4.x.x status a soft bounce, and delays or successes are no events at all. A complaint
names its reader in ``Original-Rcpt-To`` (or an opt-out in ``Removal-Recipient``), in the
``To`` of the enclosed message unless the report says it redacted it (RFC 6590), or in the
signed token of the enclosed message's ``List-Unsubscribe``.

A report changes a reader's state only when it answers a message this list sent (``Ours``):
the enclosed message's ``List-Unsubscribe`` carries this list's signed token for the reported
address, or (for a list that signs no links) the message was to that address and its
``X-Digest-Edition`` (with this list's ``List-Id``) or its ``Message-ID`` names an edition
the send ledger sent to that address. Anyone can mail a bounce address; a report that
answers nothing of ours (no enclosed message, another list's mail, a reader the edition never
went to) is set apart as *not ours*, with the reason.

Parsing is bounded: a message over ``MAX_REPORT_BYTES`` or ``MAX_LINES``, with more than
``MAX_PARTS`` parts, nested deeper than ``MAX_DEPTH`` or naming more than ``MAX_RECIPIENTS``
is *unreadable*, named, and the next message is read.
"""

from __future__ import annotations

import hashlib
import mailbox
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser, HeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Literal

from digest.addresses import address_key, email_address
from digest.errors import InputError, excerpt
from digest.files import StrPath
from digest.suppression.events import Event, Reason
from digest.suppression.tokens import UnsubscribeTokens

__all__ = [
    "MAX_DEPTH",
    "MAX_LINES",
    "MAX_PARTS",
    "MAX_RECIPIENTS",
    "MAX_REPORT_BYTES",
    "Original",
    "Ours",
    "Report",
    "mail_messages",
    "read_report",
    "read_reports",
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

_COMPLAINTS = {"abuse", "fraud", "virus", "other"}
_STATUS = re.compile(r"([245])\.\d{1,3}\.\d{1,3}")
_TOKEN = re.compile(r"/(1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)(?:[/?#>]|$)|[?&]token=(1\.[^&>]+)")
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
_EDITION_HEADER = "X-Digest-Edition"  # written by digest.mail.message (EDITION_HEADER)


@dataclass(frozen=True)
class Original:
    """What a report encloses of the message it answers: the headers that say whose it was."""

    message_id: str = ""
    #: Its ``X-Digest-Edition``: the edition the send ledger knows it by.
    edition: str = ""
    #: The list id in its ``List-Id`` (between the angle brackets).
    list_id: str = ""
    #: Its ``List-Unsubscribe``, unfolded.
    unsubscribe: str = ""
    to: tuple[str, ...] = ()


class Ours:
    """What tells a message this list sent: its list id, its tokens and the send ledger.

    ``sent(edition, address)`` says whether the ledger holds ``address`` for ``edition`` (an
    edition's key or, for an ``.eml`` from elsewhere, its ``Message-ID``): the caller passes
    it in, since the ledger lives with delivery, above this package. With ``signed``, every
    copy the list sends carries its reader's signed token, and only that token tells a copy
    ours: the other headers are no secret, so a reader of the list could copy them.
    """

    def __init__(
        self,
        list_id: str,
        tokens: UnsubscribeTokens | None = None,
        sent: Callable[[str, str], bool] | None = None,
        *,
        signed: bool = False,
    ) -> None:
        """Match against the list ``list_id``, its ``tokens`` and the ledger's ``sent``."""
        self.list_id = list_id
        self.tokens = tokens
        self.sent = sent
        self.signed = signed and tokens is not None

    def why_not(self, original: Original | None, address: str) -> str:
        """Why ``original`` is no message this list sent to ``address`` ("" when it is)."""
        if original is None:
            return "no enclosed message to match with what this list sent"
        key = address_key(address)
        token = _token_address(self.tokens, original)
        if token is not None:
            same = address_key(token) == key
            return "" if same else "the enclosed message's unsubscribe link is another reader's"
        ours = original.list_id.lower() == self.list_id.lower()
        if original.list_id and not ours:
            return f"the enclosed message is another list's ({excerpt(original.list_id)})"
        if self.signed:
            return "the enclosed message has no signed unsubscribe link (every copy has one)"
        # Every copy is addressed to its one reader: a copy to another is not this reader's.
        if original.to and key not in {address_key(a) for a in original.to}:
            return f"the enclosed message was to {excerpt(', '.join(original.to))}"
        if self.sent is not None:
            if original.edition and ours and self.sent(original.edition, address):
                return ""
            if original.message_id and self.sent(original.message_id, address):
                return ""
        if original.edition and ours:
            return f"the send ledger has no {address} for {excerpt(original.edition)}"
        if original.message_id:
            mid = excerpt(original.message_id)
            return f"the enclosed message ({mid}) is none this list sent to {address}"
        return "the enclosed message has no List-Id, edition or Message-ID of this list"


def _token_address(tokens: UnsubscribeTokens | None, original: Original) -> str | None:
    """The address of the list's signed token in ``original``'s List-Unsubscribe, if any."""
    if tokens is None:
        return None
    for match in _TOKEN.finditer(original.unsubscribe):
        if (found := tokens.address(match.group(1) or match.group(2))) is not None:
            return found
    return None


@dataclass(frozen=True)
class Report:
    """What one report message said: its kind, where it came from, and its events."""

    kind: Literal["dsn", "arf", "unreadable"]
    where: str
    #: What it says about messages this list sent (all it says, when read without ``Ours``).
    events: list[Event] = field(default_factory=list)
    #: Why a report gave no event (no recipient named, only delays), or was unreadable.
    note: str = ""
    #: What it says about a message this list did not send, each with the reason.
    not_ours: list[tuple[Event, str]] = field(default_factory=list)


def _fields(part: Message) -> list[Message]:
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


def _address(value: str | None) -> str | None:
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


def _id(message: Message, data: bytes) -> str:
    found = str(message.get("Message-ID", "")).strip()
    return found or "sha256:" + hashlib.sha256(data).hexdigest()[:32]


def _date(message: Message) -> datetime | None:
    try:
        return parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError):
        return None


def _part(message: Message, *types: str) -> Message | None:
    for part in message.walk():
        if part.get_content_type() in types:
            return part
    return None


def _header(message: Message, name: str) -> str:
    """A header's value unfolded and decoded (encoded words), "" when it is missing."""
    value = message.get(name)
    if value is None:
        return ""
    text = _FOLD.sub("", str(value))
    try:
        return str(make_header(decode_header(text))).strip()
    except (LookupError, ValueError, UnicodeError):
        return text.strip()


def _original(message: Message) -> Original | None:
    """The identifying headers of the message a report encloses; None when it encloses none."""
    enclosed = _enclosed(message)
    if enclosed is None:
        return None
    list_id = re.search(r"<([^<>]*)>", _header(enclosed, "List-Id"))
    to = getaddresses([str(v) for v in enclosed.get_all("To") or []])
    return Original(
        message_id=_header(enclosed, "Message-ID"),
        edition=_header(enclosed, _EDITION_HEADER),
        list_id=list_id.group(1).strip() if list_id else "",
        unsubscribe=_header(enclosed, "List-Unsubscribe"),
        to=tuple(a for _, value in to if (a := _address(value)) is not None),
    )


def _dsn(message: Message, data: bytes, where: str, ours: Ours | None) -> Report:
    part = _part(message, "message/delivery-status", "message/global-delivery-status")
    events, foreign, delayed = [], [], False
    mid, at = _id(message, data), _date(message)
    original = _original(message) if ours is not None else None
    blocks = _fields(part)[1:] if part is not None else []
    if len(blocks) > MAX_RECIPIENTS:
        return Report("unreadable", where, note=f"names more than {MAX_RECIPIENTS} recipients")
    for block in blocks:
        named = [
            a
            for name in ("Final-Recipient", "Original-Recipient")
            if (a := _address(block.get(name))) is not None
        ]
        action = str(block.get("Action", "")).strip().lower()
        status = _STATUS.search(str(block.get("Status", "")))
        if not named or status is None:
            continue
        reason: Reason
        if action == "failed" and status.group(1) == "5":
            reason = "hard-bounce"
        elif action == "failed" and status.group(1) == "4":
            reason = "soft-bounce"
        else:
            delayed |= action == "delayed"
            continue
        # The first address the returned message went to: Final-Recipient, or the
        # Original-Recipient it was forwarded from.
        why = {a: ours.why_not(original, a) for a in named} if ours is not None else {}
        address = next((a for a in named if not why.get(a)), named[0])
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        detail = f"{status.group(0)} {diagnostic}".strip()
        event = Event(address, reason, "dsn", f"dsn:{mid}:{address.lower()}", at, detail)
        if why.get(address):
            foreign.append((event, why[address]))
        else:
            events.append(event)
    note = (
        ""
        if events or foreign
        else ("a delay, not a failure" if delayed else "no failed recipient")
    )
    return Report("dsn", where, events, note, foreign)


def _enclosed(message: Message) -> Message | None:
    part = _part(message, *_ENCLOSED)
    if part is None:
        return None
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return HeaderParser().parsestr(payload) if isinstance(payload, str) else None


def _arf(
    message: Message, data: bytes, where: str, tokens: UnsubscribeTokens | None, ours: Ours | None
) -> Report:
    part = _part(message, "message/feedback-report")
    blocks = _fields(part) if part is not None else []
    report = blocks[0] if blocks else Message()
    kind = str(report.get("Feedback-Type", "")).strip().lower()
    if kind == "opt-out":
        reason: Reason = "unsubscribed"
    elif kind in _COMPLAINTS:
        reason = "complaint"
    else:
        return Report("arf", where, note=f"feedback type {kind or 'missing'}: not a complaint")
    named = (report.get_all("Original-Rcpt-To") or []) + (report.get_all("Removal-Recipient") or [])
    found = [a for v in named if (a := _address(v))]
    enclosed = _enclosed(message)
    # A provider that redacts says so (RFC 6590): the enclosed To is then not the reader's.
    if not found and enclosed is not None and report.get("Redacted-Address") is None:
        for _, value in getaddresses([str(v) for v in enclosed.get_all("To") or []]):
            if (address := _address(value)) is not None:
                found.append(address)
    original = _original(message)
    token = _token_address(tokens, original) if original is not None else None
    if not found and token is not None:
        found.append(token)
    if len(found) > MAX_RECIPIENTS:
        return Report("unreadable", where, note=f"names more than {MAX_RECIPIENTS} recipients")
    mid, at = _id(message, data), _date(message)
    events, foreign = [], []
    for a in dict.fromkeys(found):
        event = Event(a, reason, "arf", f"arf:{mid}:{a.lower()}", at, f"feedback type {kind}")
        why = ours.why_not(original, a) if ours is not None else ""
        if why:
            foreign.append((event, why))
        else:
            events.append(event)
    note = "" if events or foreign else "the report names no recipient"
    return Report("arf", where, events, note, foreign)


def _unreadable(data: bytes) -> str:
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


def _shape(message: Message) -> str:
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


def _is_report(data: bytes) -> bool:
    """Whether a message's header says it is a ``multipart/report`` (read from its head)."""
    head = data[: 64 * 1024].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    parsed = BytesHeaderParser(policy=policy.compat32).parsebytes(head + b"\n\n")
    return parsed.get_content_type() == "multipart/report"


def read_report(
    data: bytes,
    tokens: UnsubscribeTokens | None = None,
    where: str = "message",
    *,
    ours: Ours | None = None,
) -> Report | None:
    """The events of one DSN or ARF message; None when it is neither (an ordinary mail).

    With ``ours``, only events about a message this list sent are ``events``; the others are
    ``not_ours``. Without it every event counts (for reading a report, not for importing one).
    A message beyond the bounds (size, parts, depth) is a report of kind ``unreadable``.
    """
    if tokens is None and ours is not None:
        tokens = ours.tokens
    beyond = _unreadable(data)
    if not beyond:
        try:
            return _read(data, tokens, where, ours)
        except _MALFORMED as error:  # what the email package raises on some broken messages
            beyond = f"cannot be parsed ({type(error).__name__}: {excerpt(str(error))})"
    try:
        report = _is_report(data)
    except _MALFORMED:
        report = True
    return Report("unreadable", where, note=beyond) if report else None


#: What the ``email`` package raises on a malformed message (and the parser too deep).
_MALFORMED = (ValueError, LookupError, UnicodeError, RecursionError)


def _read(
    data: bytes, tokens: UnsubscribeTokens | None, where: str, ours: Ours | None
) -> Report | None:
    message = message_from_bytes(data, policy=policy.compat32)
    if message.get_content_type() != "multipart/report":
        return None
    beyond = _shape(message)
    if beyond:
        return Report("unreadable", where, note=beyond)
    kind = message.get_param("report-type", header="content-type")
    kind = kind.lower() if isinstance(kind, str) else ""
    if kind == "delivery-status" or _part(message, "message/delivery-status"):
        return _dsn(message, data, where, ours)
    if kind == "feedback-report" or _part(message, "message/feedback-report"):
        return _arf(message, data, where, tokens, ours)
    return None


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


def read_reports(
    paths: Iterable[StrPath], tokens: UnsubscribeTokens | None = None, *, ours: Ours | None = None
) -> Iterator[Report | str]:
    """The reports found in ``paths``; a message that is none is its ``where``.

    A report beyond the bounds is one of kind ``unreadable``, and the next message is read.
    """
    for path in paths:
        for where, data in mail_messages(path):
            report = read_report(data, tokens, where, ours=ours)
            yield where if report is None else report
