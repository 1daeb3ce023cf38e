"""Sending: deliver a built ``.eml`` through SMTP, one message per recipient, with a ledger.

Each recipient's state is written to the send ledger (SQLite) before and after their message:
``sending`` before the message goes out, then ``sent`` or ``refused``. Run again, a send skips
everyone already ``sent`` or ``refused``; an address left ``sending`` (the process stopped, or
the connection dropped after the message was handed over) is *unknown*: reported, and resent
only when asked. A dropped connection or a 421 reply is reconnected, and the batch goes on.
"""

from __future__ import annotations

import os
import re
import smtplib
import sqlite3
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from email.utils import getaddresses
from functools import partial
from pathlib import Path

from .config import BuildConfig, SmtpSettings
from .errors import DigestError, InputError, SendError
from .mime import address_header
from .models import email_address

__all__ = [
    "SendError",
    "SendLedger",
    "SendReport",
    "ledger_path",
    "read_recipients",
    "send_eml",
]


@dataclass
class SendReport:
    """Who got the message, who did not (with the reason), and whose outcome is unknown."""

    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    #: Addresses skipped because the ledger says they were sent (or refused) before.
    skipped: list[str] = field(default_factory=list)
    #: Addresses whose message may or may not have been delivered: never resent silently.
    unknown: list[str] = field(default_factory=list)


def read_recipients(lines: Iterable[str], where: str = "recipients") -> list[str]:
    """Addresses, one a line; blank lines and ``#`` comments are skipped, duplicates dropped."""
    addresses: dict[str, None] = {}
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            address = email_address(text)
        except ValueError as error:
            raise InputError(f"{where}:{number}: {error} (got {text[:60]!r})") from None
        addresses.setdefault(address)
    return list(addresses)


class SendLedger:
    """Every recipient's state per edition, in SQLite: pending, sending, sent or refused."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the ledger at ``path``."""
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=60)
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS sends (edition TEXT NOT NULL, address TEXT NOT NULL,"
                " state TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',"
                " PRIMARY KEY (edition, address))"
            )
        except (sqlite3.Error, OSError) as error:
            raise DigestError(f"{path}: cannot open the send ledger: {error}") from None

    def states(self, edition: str) -> dict[str, tuple[str, str]]:
        """Each recorded address of ``edition`` with its state and detail."""
        rows = self.db.execute(
            "SELECT address, state, detail FROM sends WHERE edition = ?", (edition,)
        )
        return {address: (state, detail) for address, state, detail in rows}

    def mark(self, edition: str, address: str, state: str, detail: str = "") -> None:
        """Record ``address``'s state for ``edition`` (committed at once)."""
        self.db.execute(
            "INSERT INTO sends (edition, address, state, detail) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (edition, address) DO UPDATE SET state = excluded.state,"
            " detail = excluded.detail",
            (edition, address, state, detail),
        )

    def forget(self, edition: str, address: str) -> None:
        """Remove ``address``'s record (its message was certainly not handed over)."""
        self.db.execute("DELETE FROM sends WHERE edition = ? AND address = ?", (edition, address))

    def close(self) -> None:
        """Close the database."""
        self.db.close()


def ledger_path(config: BuildConfig, eml: Path) -> Path:
    """Where ``digest send`` keeps its ledger: beside the history, or beside the ``.eml``."""
    beside = config.history if isinstance(config.history, Path) else eml
    return beside.with_name(beside.name.split(".")[0] + ".sends.sqlite3")


_TO_LINE = re.compile(rb"^To:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*", re.MULTILINE | re.IGNORECASE)


class _Message:
    """A built message, ready to be addressed to one recipient after another."""

    def __init__(self, raw: bytes) -> None:
        head, separator, body = (
            raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").partition(b"\r\n\r\n")
        )
        if not separator:
            raise InputError("the .eml has no header block")
        parsed = message_from_bytes(head + b"\r\n\r\n", policy=email_policy.default)
        sender = getaddresses([str(parsed.get("From", ""))])
        if not sender or not sender[0][1]:
            raise InputError("the message has no From address")
        self.envelope_from = sender[0][1]
        self.key = str(parsed.get("Message-ID", "")) or str(hash(raw))
        head += b"\r\n"
        match = _TO_LINE.search(head)
        self.before = head[: match.start()] if match else head
        self.after = (head[match.end() :] if match else b"") + b"\r\n" + body

    def to(self, recipient: str) -> bytes:
        """The message with ``recipient`` as its only ``To``."""
        return self.before + address_header("To", [("", recipient)]) + self.after


class _Dropped(Exception):
    """The connection was lost; ``handed_over`` tells whether the message may have arrived."""

    def __init__(self, reason: str, handed_over: bool) -> None:
        super().__init__(reason)
        self.handed_over = handed_over


class _Connection:
    """One SMTP connection, opened (and re-opened) as the settings say."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.client: smtplib.SMTP | None = None

    def open(self) -> smtplib.SMTP:
        settings = self.settings
        context = ssl.create_default_context()
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.security == "starttls":
            client.starttls(context=context)
        client.ehlo_or_helo_if_needed()
        user = os.environ.get(settings.username_env)
        password = os.environ.get(settings.password_env)
        if user and password:
            if settings.security == "none" and not settings.allow_plain_login:
                client.close()
                raise SendError(
                    f"SMTP {settings.host}:{settings.port}: not logging in over a connection "
                    'without TLS (set security = "starttls" or "ssl", or allow_plain_login)'
                )
            client.login(user, password)
        self.client = client
        return client

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (OSError, smtplib.SMTPException):
                self.client.close()
            self.client = None

    def deliver(self, sender: str, recipient: str, data: bytes) -> str | None:
        """Send one message: None when accepted, else the refusal; ``_Dropped`` on a lost link.

        A 421 reply at any step is an answer (the message was not accepted): reconnect and
        retry. A lost connection after the message was handed over leaves its fate unknown.
        """
        client = self.client or self.open()
        steps: tuple[tuple[Callable[[], tuple[int, bytes]], tuple[int, ...]], ...] = (
            (partial(client.mail, sender), (250,)),
            (partial(client.rcpt, recipient), (250, 251)),
            (partial(client.data, data), (250,)),
        )
        handed_over = False
        try:
            for number, (step, accepted) in enumerate(steps):
                handed_over = number == len(steps) - 1
                code, reply = step()
                answer = f"{code} {reply.decode(errors='replace')}"
                if code == 421:
                    raise _Dropped(answer, False)
                if code not in accepted:
                    if not handed_over:
                        client.rset()
                    return answer
            return None
        except smtplib.SMTPResponseException as error:
            # DATA refused before the message was sent (smtplib raises for that).
            if error.smtp_code == 421:
                raise _Dropped(_reason(error), False) from None
            client.rset()
            return _reason(error)
        except (OSError, smtplib.SMTPServerDisconnected) as error:
            self.client = None
            raise _Dropped(_reason(error), handed_over) from None


def send_eml(
    raw: bytes,
    recipients: Iterable[str],
    settings: SmtpSettings,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    ledger: SendLedger | None = None,
    resend_unknown: bool = False,
) -> SendReport:
    """Send the message in ``raw`` to each recipient, with their own ``To`` header.

    With a ``ledger``, every recipient's state is recorded before and after their message and
    a second run picks up where the first stopped, never sending anyone the edition twice.
    """
    message = _Message(raw)
    report = SendReport()
    known = ledger.states(message.key) if ledger is not None else {}
    targets: list[str] = []
    for recipient in dict.fromkeys(recipients):
        state, _ = known.get(recipient, ("", ""))
        if state in ("sent", "refused"):
            report.skipped.append(recipient)
        elif state == "sending" and not resend_unknown:
            report.unknown.append(recipient)
        else:
            targets.append(recipient)
    if dry_run:
        for recipient in targets:
            message.to(recipient)
            report.sent.append(recipient)
            if progress:
                progress(recipient)
        return report
    connection = _Connection(settings)
    failures = 0
    try:
        for recipient in targets:
            data = message.to(recipient)
            while True:
                if ledger is not None:
                    ledger.mark(message.key, recipient, "sending")
                try:
                    refusal = connection.deliver(message.envelope_from, recipient, data)
                except _Dropped as dropped:
                    connection.close()
                    failures += 1
                    if dropped.handed_over:
                        report.unknown.append(recipient)  # stays "sending" in the ledger
                    elif ledger is not None:
                        ledger.forget(message.key, recipient)
                    if failures > settings.reconnects:
                        raise SendError(
                            f"SMTP {settings.host}:{settings.port} ({settings.security}): "
                            f"{dropped} ({failures} times in a row)"
                        ) from None
                    if dropped.handed_over:
                        break
                    continue
                failures = 0
                if refusal is None:
                    report.sent.append(recipient)
                    if ledger is not None:
                        ledger.mark(message.key, recipient, "sent")
                else:
                    report.failed[recipient] = refusal
                    if ledger is not None:
                        ledger.mark(message.key, recipient, "refused", refusal)
                break
            if progress:
                progress(recipient)
    except (OSError, smtplib.SMTPException) as error:
        raise SendError(
            f"SMTP {settings.host}:{settings.port} ({settings.security}): {_reason(error)}"
            + (f"; {len(report.sent)} sent before it failed" if report.sent else "")
        ) from None
    finally:
        connection.close()
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
