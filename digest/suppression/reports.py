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
is *unreadable*, named, and the next message is read (the bounds and the walk through a
message's parts are ``digest.suppression.mailparts``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses
from typing import Literal

from digest.addresses import address_key
from digest.errors import excerpt
from digest.files import StrPath
from digest.suppression.events import Event, Reason
from digest.suppression.mailparts import (
    MALFORMED,
    MAX_DEPTH,
    MAX_LINES,
    MAX_PARTS,
    MAX_RECIPIENTS,
    MAX_REPORT_BYTES,
    beyond_bounds,
    beyond_shape,
    enclosed_message,
    field_address,
    first_part,
    header_text,
    is_report,
    mail_messages,
    message_date,
    message_key,
    report_fields,
)
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


_COMPLAINTS = {"abuse", "fraud", "virus", "other"}
_STATUS = re.compile(r"([245])\.\d{1,3}\.\d{1,3}")
_TOKEN = re.compile(r"/(1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)(?:[/?#>]|$)|[?&]token=(1\.[^&>]+)")
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


def _original(message: Message) -> Original | None:
    """The identifying headers of the message a report encloses; None when it encloses none."""
    enclosed = enclosed_message(message)
    if enclosed is None:
        return None
    list_id = re.search(r"<([^<>]*)>", header_text(enclosed, "List-Id"))
    to = getaddresses([str(v) for v in enclosed.get_all("To") or []])
    return Original(
        message_id=header_text(enclosed, "Message-ID"),
        edition=header_text(enclosed, _EDITION_HEADER),
        list_id=list_id.group(1).strip() if list_id else "",
        unsubscribe=header_text(enclosed, "List-Unsubscribe"),
        to=tuple(a for _, value in to if (a := field_address(value)) is not None),
    )


def _dsn(message: Message, data: bytes, where: str, ours: Ours | None) -> Report:
    part = first_part(message, "message/delivery-status", "message/global-delivery-status")
    events, foreign, delayed = [], [], False
    mid, at = message_key(message, data), message_date(message)
    original = _original(message) if ours is not None else None
    blocks = report_fields(part)[1:] if part is not None else []
    if len(blocks) > MAX_RECIPIENTS:
        return Report("unreadable", where, note=f"names more than {MAX_RECIPIENTS} recipients")
    for block in blocks:
        named = [
            a
            for name in ("Final-Recipient", "Original-Recipient")
            if (a := field_address(block.get(name))) is not None
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
        key = f"dsn:{mid}:{address.lower()}"
        # The edition its X-Digest-Edition names: what digest report counts the bounce for.
        edition = original.edition if original is not None else ""
        event = Event(address, reason, "dsn", key, at, detail, edition=edition)
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


def _arf(
    message: Message, data: bytes, where: str, tokens: UnsubscribeTokens | None, ours: Ours | None
) -> Report:
    part = first_part(message, "message/feedback-report")
    blocks = report_fields(part) if part is not None else []
    report = blocks[0] if blocks else Message()
    kind = str(report.get("Feedback-Type", "")).strip().lower()
    if kind == "opt-out":
        reason: Reason = "unsubscribed"
    elif kind in _COMPLAINTS:
        reason = "complaint"
    else:
        return Report("arf", where, note=f"feedback type {kind or 'missing'}: not a complaint")
    named = (report.get_all("Original-Rcpt-To") or []) + (report.get_all("Removal-Recipient") or [])
    found = [a for v in named if (a := field_address(v))]
    enclosed = enclosed_message(message)
    # A provider that redacts says so (RFC 6590): the enclosed To is then not the reader's.
    if not found and enclosed is not None and report.get("Redacted-Address") is None:
        for _, value in getaddresses([str(v) for v in enclosed.get_all("To") or []]):
            if (address := field_address(value)) is not None:
                found.append(address)
    original = _original(message)
    token = _token_address(tokens, original) if original is not None else None
    if not found and token is not None:
        found.append(token)
    if len(found) > MAX_RECIPIENTS:
        return Report("unreadable", where, note=f"names more than {MAX_RECIPIENTS} recipients")
    mid, at = message_key(message, data), message_date(message)
    events, foreign = [], []
    for a in dict.fromkeys(found):
        edition = original.edition if original is not None and ours is not None else ""
        event = Event(
            a, reason, "arf", f"arf:{mid}:{a.lower()}", at, f"feedback type {kind}", edition=edition
        )
        why = ours.why_not(original, a) if ours is not None else ""
        if why:
            foreign.append((event, why))
        else:
            events.append(event)
    note = "" if events or foreign else "the report names no recipient"
    return Report("arf", where, events, note, foreign)


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
    beyond = beyond_bounds(data)
    if not beyond:
        try:
            return _read(data, tokens, where, ours)
        except MALFORMED as error:  # what the email package raises on some broken messages
            beyond = f"cannot be parsed ({type(error).__name__}: {excerpt(str(error))})"
    try:
        report = is_report(data)
    except MALFORMED:
        report = True
    return Report("unreadable", where, note=beyond) if report else None


def _read(
    data: bytes, tokens: UnsubscribeTokens | None, where: str, ours: Ours | None
) -> Report | None:
    message = message_from_bytes(data, policy=policy.compat32)
    if message.get_content_type() != "multipart/report":
        return None
    beyond = beyond_shape(message)
    if beyond:
        return Report("unreadable", where, note=beyond)
    kind = message.get_param("report-type", header="content-type")
    kind = kind.lower() if isinstance(kind, str) else ""
    if kind == "delivery-status" or first_part(message, "message/delivery-status"):
        return _dsn(message, data, where, ours)
    if kind == "feedback-report" or first_part(message, "message/feedback-report"):
        return _arf(message, data, where, tokens, ours)
    return None


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
