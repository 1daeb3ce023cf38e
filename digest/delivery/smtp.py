"""SMTP: several reused connections, pipelined envelopes, STARTTLS or SSL, reconnects."""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

from digest.delivery.dkim import DkimSigner
from digest.delivery.senders import Outgoing, Pooled, Receipt, retry_delays
from digest.environment import secret_variable
from digest.errors import SendError
from digest.mail.mime import envelope_sender

if TYPE_CHECKING:
    from digest.delivery.settings import DeliverySettings, SmtpSettings

__all__ = ["SmtpSender"]


@cache
def _tls_context() -> ssl.SSLContext:
    """The system's trust store and defaults, loaded once (it reads every CA certificate)."""
    return ssl.create_default_context()


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

    def where(self) -> str:
        settings = self.settings
        return f"SMTP {settings.host}:{settings.port} ({settings.security})"

    def open(self) -> smtplib.SMTP:
        settings = self.settings
        user = secret_variable(settings.username_env)
        password = secret_variable(settings.password_env)
        login = bool(user and password)
        if login and settings.security == "none" and not settings.allow_plain_login:
            raise SendError(
                f"{self.where()}: not logging in over a connection without TLS "
                '(set security = "starttls" or "ssl", or allow_plain_login)'
            )
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=_tls_context()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            if settings.security == "starttls":
                client.starttls(context=_tls_context())
            client.ehlo_or_helo_if_needed()
            if login:
                assert user is not None and password is not None
                client.login(user, password)
        except smtplib.SMTPAuthenticationError as error:
            client.close()
            raise SendError(f"{self.where()}: the login was refused: {_reason(error)}") from None
        except BaseException:
            client.close()
            raise
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

        With a server that offers PIPELINING (RFC 2920) the envelope goes in one write, so a
        message costs two round trips instead of four. A 421 reply at any step is an answer
        (the message was not accepted): reconnect and retry. A lost connection after the
        message was handed over leaves its fate unknown.
        """
        try:
            client = self.client or self.open()
        except (OSError, smtplib.SMTPException) as error:
            self.client = None
            raise _Dropped(_reason(error), False) from None
        commands = (f"MAIL FROM:<{sender}>", f"RCPT TO:<{recipient}>", "DATA")
        handed_over = False
        try:
            replies = []
            if client.has_extn("pipelining"):
                client.send("".join(f"{c}\r\n" for c in commands).encode("ascii"))
                replies = [client.getreply() for _ in commands]
            else:
                for command, accepted in zip(commands, _ACCEPTED, strict=True):
                    client.send(f"{command}\r\n".encode("ascii"))
                    replies.append(client.getreply())
                    if replies[-1][0] not in accepted:
                        break
            refusal = None
            for index, ((code, reply), accepted) in enumerate(
                zip(replies, _ACCEPTED, strict=False)
            ):
                said = f"{code} {reply.decode(errors='replace')}"
                if code == 421:
                    raise _Dropped(said, False)
                if code in _SESSION_CODES or (index == 0 and code not in accepted):
                    # About the session or the sender, not this recipient: nobody can be sent.
                    raise SendError(f"{self.where()}: the server will not take mail: {said}")
                if code not in accepted and refusal is None:
                    refusal = said
            if refusal is not None:
                if replies[-1][0] == 354:  # DATA accepted after all: end it empty
                    client.send(b".\r\n")
                    client.getreply()
                client.rset()
                return refusal
            handed_over = True
            client.send(_dot_stuffed(data) + b".\r\n")
            code, reply = client.getreply()
            if code == 421:
                raise _Dropped(f"{code} {reply.decode(errors='replace')}", False)
            return None if code == 250 else f"{code} {reply.decode(errors='replace')}"
        except (OSError, smtplib.SMTPServerDisconnected) as error:
            self.client = None
            raise _Dropped(_reason(error), handed_over) from None


#: The replies that let a transaction go on: to MAIL, RCPT and DATA.
_ACCEPTED = ((250,), (250, 251), (354,))
#: Replies about the session, whatever command they answer: TLS or the login (RFC 3207, 4954).
_SESSION_CODES = frozenset({454, 530, 534, 535, 538})


def _dot_stuffed(data: bytes) -> bytes:
    """The message as DATA carries it: a dot doubled at the start of a line, a CRLF at the end.

    Messages are CRLF throughout (``Outgoing``'s promise), so only dots need a look.
    """
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..") if b"\r\n." in data else data


class SmtpSender(Pooled):
    """SMTP: several reused connections, reconnecting after drops, TLS unless told otherwise."""

    def __init__(self, settings: SmtpSettings, delivery: DeliverySettings | None = None) -> None:
        """A sender through ``settings``' server; pace and connections from ``delivery``."""
        super().__init__(delivery.connections if delivery else 1, delivery.rate if delivery else 0)
        self.settings = settings
        if delivery is not None and delivery.batch_size is not None:
            self.batch_size = delivery.batch_size
        # A dropped connection is reconnected ``reconnects`` times, waiting longer each time.
        self.delays = retry_delays(settings.reconnects, delivery.backoff if delivery else 0.1)
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self.signer = DkimSigner(settings.dkim) if settings.dkim is not None else None

    def _take(self) -> _Connection:
        with self._lock:
            return self._idle.pop() if self._idle else _Connection(self.settings)

    def _give_back(self, connection: _Connection) -> None:
        with self._lock:
            self._idle.append(connection)

    @contextmanager
    def _lane(self) -> Iterator[_Connection]:
        """A connection of the pool for one lane of a batch, given back after."""
        connection = self._take()
        try:
            yield connection
        finally:
            self._give_back(connection)

    def _one(self, connection: _Connection, message: Outgoing) -> Receipt:
        sender = envelope_sender(message.data)
        data = message.data if self.signer is None else self.signer.sign(message.data, sender)
        self.throttle.wait()
        for delay in [*self.delays, None]:
            try:
                refusal = connection.deliver(sender, message.address, data)
            except _Dropped as dropped:
                connection.close()
                if dropped.handed_over:
                    return Receipt(message.address, "unknown", str(dropped), message.variant)
                if delay is None:
                    reason = f"{connection.where()}: {dropped}"
                    return Receipt(message.address, "deferred", reason, message.variant)
                time.sleep(delay)
                continue
            if refusal is None:
                return Receipt(message.address, "sent", "", message.variant)
            if refusal.startswith("4"):  # this recipient, for now (a full mailbox, greylisting)
                return Receipt(message.address, "deferred", refusal, message.variant, stops=False)
            return Receipt(message.address, "refused", refusal, message.variant)
        raise AssertionError("unreachable")  # pragma: no cover

    def send(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        """Deliver ``batch`` over up to ``connections`` connections at once."""
        return self._each(batch, self._one, self._lane)

    def close(self) -> None:
        """Say goodbye to the server on every connection."""
        super().close()
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
        return f"{code} {text.decode(errors='replace')}"
    if isinstance(error, smtplib.SMTPResponseException):
        reply: bytes | str = error.smtp_error
        shown = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
        return f"{error.smtp_code} {shown}"
    return str(error) or type(error).__name__
