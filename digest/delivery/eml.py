"""Sending a built ``.eml``: one copy per recipient, each with their own ``To``, through any sender.

The copies go through ``digest.delivery.loop.run_delivery`` in batches, so every recipient's state
is in the send ledger before and after their batch, and a second run sends only to those not
reached yet (see ``digest.delivery.ledger``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from email import policy as email_policy
from email.parser import BytesHeaderParser
from itertools import islice

from digest.addresses import address_key, email_address
from digest.delivery.ledger import SendLedger
from digest.delivery.loop import DeliveryReport, now, run_delivery
from digest.delivery.senders import Outgoing, Receipt, Sender
from digest.errors import ConfigError, InputError, RenderError
from digest.files import StrPath, decode_text, read_limited
from digest.mail.message import EDITION_HEADER
from digest.mail.mime import address_header, envelope_sender

__all__ = ["read_eml", "read_recipients", "read_recipients_file", "send_eml"]


#: The largest recipients file read (about five million addresses).
MAX_RECIPIENTS_BYTES = 256_000_000


#: The largest .eml sent.
MAX_EML_BYTES = 50_000_000


def read_recipients(lines: Iterable[str], where: str = "recipients") -> list[str]:
    """Addresses, one a line; blank lines and ``#`` comments are skipped, duplicates dropped."""
    addresses: dict[str, str] = {}  # by address_key: one reader, however they spelled it
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            address = email_address(text)
        except ValueError as error:
            raise InputError(f"{where}:{number}: {error} (got {text[:60]!r})") from None
        addresses.setdefault(address_key(address), address)
    return list(addresses.values())


def read_recipients_file(path: StrPath) -> list[str]:
    """The addresses of a recipients file (UTF-8, with or without BOM, or UTF-16 with BOM)."""
    try:
        data = read_limited(path, MAX_RECIPIENTS_BYTES)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it: {error.strerror or error}") from None
    try:
        text = decode_text(data, str(path))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return read_recipients(text.splitlines(), str(path))


def read_eml(path: StrPath) -> bytes:
    """The bytes of a built ``.eml`` (a regular file of at most ``MAX_EML_BYTES``)."""
    try:
        return read_limited(path, MAX_EML_BYTES)
    except OSError as error:
        raise InputError(f"{path}: cannot read it: {error.strerror or error}") from None


_TO_LINE = re.compile(rb"^To:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*", re.MULTILINE | re.IGNORECASE)


class _Message:
    """A built message, ready to be addressed to one recipient after another."""

    def __init__(self, raw: bytes) -> None:
        head, separator, body = (
            raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").partition(b"\r\n\r\n")
        )
        if not separator:
            raise InputError("the .eml has no header block")
        try:
            envelope_sender(head)  # every sender needs it: refuse the .eml now, not per copy
        except RenderError as error:
            raise InputError(f"the .eml: {error}") from None
        parsed = BytesHeaderParser(policy=email_policy.default).parsebytes(head + b"\r\n\r\n")
        # The edition digest wrote it for; an .eml from elsewhere is known by its Message-ID.
        self.key = (
            str(parsed.get(EDITION_HEADER, ""))
            or str(parsed.get("Message-ID", ""))
            or hashlib.sha256(raw).hexdigest()
        )
        subject = str(parsed.get("Subject", "")).encode()
        self.content = hashlib.sha256(subject + b"\0" + body).hexdigest()
        head += b"\r\n"
        match = _TO_LINE.search(head)
        self.before = head[: match.start()] if match else head
        self.after = (head[match.end() :] if match else b"") + b"\r\n" + body

    def to(self, recipient: str) -> bytes:
        """The message with ``recipient`` as its only ``To``."""
        return self.before + address_header("To", [("", recipient)]) + self.after


def send_eml(
    raw: bytes,
    recipients: Iterable[str],
    sender: Sender,
    ledger: SendLedger | None = None,
    *,
    dry_run: bool = False,
    resend_unknown: bool = False,
    retry_refused: bool = False,
    progress: Callable[[int], None] | None = None,
) -> DeliveryReport:
    """Send the message in ``raw`` to each recipient, with their own ``To`` header.

    With a ``ledger``, every recipient's state is recorded around their batch, and a second
    run picks up where the first stopped, never sending anyone the edition twice. The ledger
    knows the edition by its ``X-Digest-Edition`` header (newsletter, date, number), so a
    rebuilt ``.eml`` resumes the first send (``report.content_changed`` says it differs);
    a second run of the edition while one is going on is refused (``SendError``).
    """
    message = _Message(raw)

    def submit(batch: list[str]) -> Future[list[Receipt]]:
        outgoing = [Outgoing(address, message.to(address)) for address in batch]
        if dry_run:
            return now(lambda: [Receipt(o.address, "sent", "dry run") for o in outgoing])
        return now(lambda: sender.send(outgoing))

    addresses = iter(recipients)
    chunks = iter(lambda: list(islice(addresses, sender.batch_size)), [])
    return run_delivery(
        chunks,
        str,
        submit,
        message.key,
        None if dry_run else ledger,
        resend_unknown=resend_unknown,
        retry_refused=retry_refused,
        progress=progress,
        content=message.content,
    )
