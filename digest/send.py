"""Sending: deliver a built ``.eml`` through SMTP, one message per recipient.

A recipient the server refuses is reported and the batch goes on; a server that cannot be
reached or refuses the login is a ``SendError``.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import getaddresses

from .config import SmtpSettings
from .errors import DigestError, InputError
from .message import MESSAGE_POLICY
from .models import email_address

__all__ = ["SendError", "SendReport", "read_recipients", "send_eml"]


class SendError(DigestError):
    """The mail server cannot be reached, or refuses the connection or the login."""

    exit_code = 7


@dataclass
class SendReport:
    """Who got the message, and who did not (with the server's reason)."""

    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def read_recipients(lines: Iterable[str], where: str = "recipients") -> list[str]:
    """Addresses, one a line; blank lines and ``#`` comments are skipped, duplicates dropped."""
    addresses: list[str] = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            address = email_address(text)
        except ValueError as error:
            raise InputError(f"{where}:{number}: {error} (got {text[:60]!r})") from None
        if address not in addresses:
            addresses.append(address)
    return addresses


def _for(message: EmailMessage, recipient: str) -> bytes:
    del message["To"]
    message["To"] = recipient
    return message.as_bytes(policy=MESSAGE_POLICY)


def send_eml(
    raw: bytes,
    recipients: Iterable[str],
    settings: SmtpSettings,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SendReport:
    """Send the message in ``raw`` to each recipient, with their own ``To`` header."""
    message = message_from_bytes(raw, _class=EmailMessage, policy=MESSAGE_POLICY)
    sender = getaddresses([str(message.get("From", ""))])
    if not sender or not sender[0][1]:
        raise InputError("the message has no From address")
    envelope_from = sender[0][1]
    report = SendReport()
    targets = list(recipients)
    if dry_run:
        for recipient in targets:
            _for(message, recipient)
            report.sent.append(recipient)
            if progress:
                progress(recipient)
        return report
    user = os.environ.get(settings.username_env)
    password = os.environ.get(settings.password_env)
    try:
        context = ssl.create_default_context()
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            if settings.security == "starttls":
                client.starttls(context=context)
            if user and password:
                client.login(user, password)
            for recipient in targets:
                try:
                    refused = client.sendmail(envelope_from, [recipient], _for(message, recipient))
                    if refused:
                        report.failed[recipient] = str(refused[recipient])
                    else:
                        report.sent.append(recipient)
                except (
                    smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPDataError,
                    smtplib.SMTPSenderRefused,
                ) as error:
                    report.failed[recipient] = _reason(error)
                    client.rset()
                if progress:
                    progress(recipient)
    except (OSError, smtplib.SMTPException) as error:
        raise SendError(
            f"SMTP {settings.host}:{settings.port} ({settings.security}): {_reason(error)}"
            + (f"; {len(report.sent)} sent before it failed" if report.sent else "")
        ) from None
    return report


def _reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
        return f"{code} {text.decode(errors='replace')}"
    if isinstance(error, smtplib.SMTPResponseException):
        reply: bytes | str = error.smtp_error
        shown = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
        return f"{error.smtp_code} {shown}"
    return str(error) or type(error).__name__
