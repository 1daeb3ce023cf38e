"""Bounce and complaint reports that come back by mail: DSNs (RFC 3464) and ARF (RFC 5965).

An SMTP relay returns a failed delivery as a ``multipart/report`` with a
``message/delivery-status`` part, and a mailbox provider's feedback loop sends a complaint
as one with a ``message/feedback-report`` part. ``read_report`` turns one such message into
events: a permanent failure (``Action: failed``, status 5.x.x) is a hard bounce, a failure
with a 4.x.x status a soft bounce, and delays or successes are no events at all. A complaint
names its reader in ``Original-Rcpt-To`` (or an opt-out in ``Removal-Recipient``), in the
``To`` of the enclosed message unless the report says it redacted it (RFC 6590), or in the
signed token of the enclosed message's ``List-Unsubscribe``.
"""

from __future__ import annotations

import hashlib
import mailbox
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Literal

from digest.addresses import email_address
from digest.errors import InputError
from digest.files import StrPath
from digest.suppression.events import Event, Reason
from digest.suppression.tokens import UnsubscribeTokens

__all__ = ["Report", "mail_messages", "read_report", "read_reports"]


#: The largest message read as a report; bigger ones are skipped, named.
MAX_REPORT_BYTES = 10 * 1024 * 1024

_COMPLAINTS = {"abuse", "fraud", "virus", "other"}
_STATUS = re.compile(r"([245])\.\d{1,3}\.\d{1,3}")
_TOKEN = re.compile(r"/(1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)(?:[/?#>]|$)|[?&]token=(1\.[^&>]+)")


@dataclass(frozen=True)
class Report:
    """What one report message said: its kind, where it came from, and its events."""

    kind: Literal["dsn", "arf"]
    where: str
    events: list[Event] = field(default_factory=list)
    #: Why a report gave no event: no recipient named, or only delays.
    note: str = ""


def _fields(part: Message) -> list[Message]:
    """The header blocks of a report part, whichever way the parser left them."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = payload if isinstance(payload, str) else ""
    return [HeaderParser().parsestr(block) for block in re.split(r"\r?\n\s*\r?\n", text) if block]


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


def _dsn(message: Message, data: bytes, where: str) -> Report:
    part = _part(message, "message/delivery-status", "message/global-delivery-status")
    events, delayed = [], False
    mid, at = _id(message, data), _date(message)
    for block in _fields(part)[1:] if part is not None else []:
        address = _address(block.get("Final-Recipient")) or _address(
            block.get("Original-Recipient")
        )
        action = str(block.get("Action", "")).strip().lower()
        status = _STATUS.search(str(block.get("Status", "")))
        if address is None or status is None:
            continue
        reason: Reason
        if action == "failed" and status.group(1) == "5":
            reason = "hard-bounce"
        elif action == "failed" and status.group(1) == "4":
            reason = "soft-bounce"
        else:
            delayed |= action == "delayed"
            continue
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        detail = f"{status.group(0)} {diagnostic}".strip()
        events.append(Event(address, reason, "dsn", f"dsn:{mid}:{address.lower()}", at, detail))
    note = "" if events else ("a delay, not a failure" if delayed else "no failed recipient")
    return Report("dsn", where, events, note)


def _enclosed(message: Message) -> Message | None:
    part = _part(message, "message/rfc822", "text/rfc822-headers", "text/rfc822-header")
    if part is None:
        return None
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return HeaderParser().parsestr(payload) if isinstance(payload, str) else None


def _arf(message: Message, data: bytes, where: str, tokens: UnsubscribeTokens | None) -> Report:
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
    if not found and enclosed is not None and tokens is not None:
        for match in _TOKEN.finditer(str(enclosed.get("List-Unsubscribe", ""))):
            if (address := tokens.address(match.group(1) or match.group(2))) is not None:
                found.append(address)
    mid, at = _id(message, data), _date(message)
    events = [
        Event(a, reason, "arf", f"arf:{mid}:{a.lower()}", at, f"feedback type {kind}")
        for a in dict.fromkeys(found)
    ]
    return Report("arf", where, events, "" if events else "the report names no recipient")


def read_report(
    data: bytes, tokens: UnsubscribeTokens | None = None, where: str = "message"
) -> Report | None:
    """The events of one DSN or ARF message; None when it is neither (an ordinary mail)."""
    message = message_from_bytes(data, policy=policy.compat32)
    kind = message.get_param("report-type", header="content-type")
    kind = kind.lower() if isinstance(kind, str) else ""
    if message.get_content_type() != "multipart/report":
        return None
    if kind == "delivery-status" or _part(message, "message/delivery-status"):
        return _dsn(message, data, where)
    if kind == "feedback-report" or _part(message, "message/feedback-report"):
        return _arf(message, data, where, tokens)
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
                yield str(each), _read(each)
    elif target.suffix.lower() == ".eml":
        yield str(target), _read(target)
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


def _read(file: Path) -> bytes:
    try:
        with file.open("rb") as handle:
            return handle.read(MAX_REPORT_BYTES + 1)
    except OSError as error:
        raise InputError(f"{file}: cannot read it: {error.strerror or error}") from None


def read_reports(
    paths: Iterable[StrPath], tokens: UnsubscribeTokens | None = None
) -> Iterator[Report | str]:
    """The reports found in ``paths``; a message that is none, or too big, is its ``where``."""
    for path in paths:
        for where, data in mail_messages(path):
            report = read_report(data, tokens, where) if len(data) <= MAX_REPORT_BYTES else None
            yield where if report is None else report
