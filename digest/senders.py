"""Senders: hand prepared messages to a mail server or a provider's API, a batch at a time.

A sender takes a batch of ``Outgoing`` messages (an address and the complete RFC 5322 bytes
made for it) and gives back one ``Receipt`` per message, in order:

- ``sent``: accepted, with the provider's message id when it gives one;
- ``refused``: not accepted, with the provider's reason (a bad address, a suppressed one);
- ``unknown``: handed over, but the answer never came (the connection was lost after the
  message was sent): it may have been delivered, so it is not sent again on its own;
- ``deferred``: never handed over (the provider was unreachable or kept throttling): safe to
  send later.

``send`` does not raise for what happens to messages: when the sender cannot work at all (a
refused login or API key) the messages it has not handed over are deferred with the reason,
and the receipts of those it has are kept, so the ledger never forgets a message that went
out. Throttled and failed requests are retried with exponential backoff and jitter;
``Throttle`` keeps the pace under a rate.

The providers: SMTP (here), Amazon SES v2, Postmark and Resend (``digest.providers``, where
``make_sender`` picks one from ``DeliverySettings``).
"""

from __future__ import annotations

import os
import random
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar, runtime_checkable

from .errors import SendError
from .mime import envelope_sender

if TYPE_CHECKING:
    from .config import DeliverySettings, SmtpSettings

__all__ = [
    "Outgoing",
    "Pooled",
    "Receipt",
    "Sender",
    "SmtpSender",
    "Throttle",
    "each_until_deferred",
    "receipts_for",
    "retry_delays",
]

State = Literal["sent", "refused", "unknown", "deferred"]
_Self = TypeVar("_Self", bound="Closing")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message on its way: the envelope recipient and the complete message bytes.

    ``data`` ends its lines with CRLF, as every message digest writes does (``as_bytes``,
    ``Mailing.message_bytes``, ``send_eml``'s copies); SMTP carries it as it is.
    """

    address: str
    data: bytes
    #: The subject variant this copy carries ("" when there is one subject).
    variant: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of one message: its state and the provider's id or reason."""

    address: str
    state: State
    #: The provider's message id when sent; the reason when refused, unknown or deferred.
    detail: str = ""
    variant: str = ""


@runtime_checkable
class Sender(Protocol):
    """Anything that delivers batches of messages and says what became of each."""

    #: The most messages one call of ``send`` takes (the provider's batch limit).
    batch_size: int

    def send(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        """Deliver ``batch``: one receipt per message, in the same order."""
        ...

    def close(self) -> None:
        """Close connections; the sender may not be used afterwards."""
        ...


class Closing:
    """``with`` support for senders: ``close()`` at the end of the block."""

    def close(self) -> None:
        """Close connections."""

    def __enter__(self: _Self) -> _Self:
        """The sender itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the sender."""
        self.close()


class Throttle:
    """At most ``rate`` messages a second, shared by the threads of one sender."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """A pace of ``rate`` messages a second (0: no limit)."""
        self.interval = 1 / rate if rate else 0.0
        self.clock, self.sleep = clock, sleep
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self, count: int = 1) -> None:
        """Sleep until ``count`` more messages may go out."""
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            start = max(now, self.next)
            self.next = start + count * self.interval
        if start > now:
            self.sleep(start - now)


def receipts_for(messages: Sequence[Outgoing], state: State, detail: str) -> list[Receipt]:
    """The same receipt for each of ``messages`` (a whole batch refused, deferred, unknown)."""
    return [Receipt(m.address, state, detail, m.variant) for m in messages]


def each_until_deferred(
    messages: Sequence[Outgoing], one: Callable[[Outgoing], Receipt]
) -> list[Receipt]:
    """Send ``messages`` one after another; after a deferral the rest are deferred too.

    A ``SendError`` (a refused login or key, no credentials) defers the message it came with:
    nothing more goes out on this run, and what went out before keeps its receipt.
    """
    receipts: list[Receipt] = []
    for position, message in enumerate(messages):
        try:
            receipt = one(message)
        except SendError as error:
            receipt = Receipt(message.address, "deferred", str(error), message.variant)
        receipts.append(receipt)
        if receipt.state == "deferred":
            receipts += receipts_for(messages[position + 1 :], "deferred", receipt.detail)
            break
    return receipts


class Pooled(Closing):
    """Work on a batch spread over up to ``connections`` threads, paced by one throttle."""

    batch_size = 100

    def __init__(self, connections: int = 1, rate: float = 0) -> None:
        """Up to ``connections`` threads at once, ``rate`` messages a second in all."""
        self.connections = connections
        self.throttle = Throttle(rate)
        self._pool: ThreadPoolExecutor | None = None

    def _map(
        self, work: Callable[[Sequence[Outgoing]], list[Receipt]], runs: list[Sequence[Outgoing]]
    ) -> list[Receipt]:
        """``work`` on each run, on the threads when there are several; receipts in order."""
        if len(runs) <= 1:
            return [r for run in runs for r in work(run)]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.connections, thread_name_prefix="digest-send")
        return [r for part in self._pool.map(work, runs) for r in part]

    def _shares(self, batch: Sequence[Outgoing]) -> list[Sequence[Outgoing]]:
        """``batch`` cut into one run per connection."""
        share = -(-len(batch) // self.connections) if batch else 1
        return [batch[i : i + share] for i in range(0, len(batch), share)]

    def close(self) -> None:
        """Stop the threads."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def retry_delays(retries: int, backoff: float) -> list[float]:
    """The waits before each retry: doubling from ``backoff``, with up to 25 % jitter."""
    return [backoff * 2**n * (1 + random.random() / 4) for n in range(retries)]


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
        user = os.environ.get(settings.username_env)
        password = os.environ.get(settings.password_env)
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
            for (code, reply), accepted in zip(replies, _ACCEPTED, strict=False):
                if code == 421:
                    raise _Dropped(f"{code} {reply.decode(errors='replace')}", False)
                if code not in accepted and refusal is None:
                    refusal = f"{code} {reply.decode(errors='replace')}"
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
        # A dropped connection is reconnected ``reconnects`` times, waiting longer each time.
        self.delays = retry_delays(settings.reconnects, delivery.backoff if delivery else 0.1)
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    def _take(self) -> _Connection:
        with self._lock:
            return self._idle.pop() if self._idle else _Connection(self.settings)

    def _give_back(self, connection: _Connection) -> None:
        with self._lock:
            self._idle.append(connection)

    def _run(self, messages: Sequence[Outgoing]) -> list[Receipt]:
        """Send ``messages`` one after another over one connection."""
        connection = self._take()
        try:
            return each_until_deferred(messages, partial(self._one, connection))
        finally:
            self._give_back(connection)

    def _one(self, connection: _Connection, message: Outgoing) -> Receipt:
        sender = envelope_sender(message.data)
        self.throttle.wait()
        for delay in [*self.delays, None]:
            try:
                refusal = connection.deliver(sender, message.address, message.data)
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
            return Receipt(message.address, "refused", refusal, message.variant)
        raise AssertionError("unreachable")  # pragma: no cover

    def send(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        """Deliver ``batch`` over up to ``connections`` connections at once."""
        return self._map(self._run, self._shares(batch))

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
