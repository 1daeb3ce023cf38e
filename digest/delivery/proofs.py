"""What a message becomes as it leaves: dated the moment it is sent, or marked as a proof.

A built ``.eml`` carries the edition's date at its send time; ``dated`` rewrites its ``Date``
to the moment the message is handed over. ``proof`` makes a proof of it: ``[Proof]`` before
its subject, a Message-ID of its own (a proof is never threaded with, or taken for, the
copies readers get) and the time now; a proof is never recorded in the send ledger.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from email import policy as email_policy
from email.parser import BytesHeaderParser
from email.utils import format_datetime

from digest.errors import InputError
from digest.mail.mime import envelope_sender, id_header, text_header, token_header

__all__ = ["PROOF_MARK", "dated", "dated_head", "proof"]


#: What a proof's subject starts with.
PROOF_MARK = "[Proof]"

_FIELD = r"^{name}:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*"


def _replace(head: bytes, name: str, line: bytes) -> bytes:
    pattern = re.compile(_FIELD.format(name=name).encode(), re.MULTILINE | re.IGNORECASE)
    replaced, count = pattern.subn(lambda _: line, head, count=1)
    if count == 0:
        return head + line  # (the caller's head ends with CRLF)
    return replaced


def _split(data: bytes) -> tuple[bytes, bytes]:
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        raise InputError("the message has no header block")
    return head + b"\r\n", b"\r\n" + body


def dated(data: bytes, when: datetime | None = None) -> bytes:
    """``data`` with its ``Date`` the moment ``when`` (now, in UTC, by default)."""
    head, body = _split(data)
    return dated_head(head, when) + body


def dated_head(head: bytes, when: datetime | None = None) -> bytes:
    """Header lines (each ending in CRLF, no body) with their ``Date`` the moment ``when``."""
    moment = format_datetime(when or datetime.now(UTC))
    return _replace(head, "Date", token_header("Date", moment))


def proof(data: bytes, when: datetime | None = None, variant: str = "") -> bytes:
    """A proof of ``data``: ``[Proof]`` before its subject, its own Message-ID, dated now.

    A subject ``variant`` of an A/B test is named in the mark: ``[Proof B]``.
    """
    head, body = _split(data)
    parsed = BytesHeaderParser(policy=email_policy.default).parsebytes(head + b"\r\n")
    subject = str(parsed.get("Subject", ""))
    sender = envelope_sender(head + b"\r\n")
    domain = sender.rpartition("@")[2]
    mark = f"{PROOF_MARK[:-1]} {variant}]" if variant else PROOF_MARK
    head = _replace(head, "Subject", text_header("Subject", f"{mark} {subject}"))
    message_id = f"<proof.{secrets.token_hex(12)}@{domain}>"
    head = _replace(head, "Message-ID", id_header("Message-ID", message_id))
    return dated(head + body, when)
