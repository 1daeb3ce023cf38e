"""The shared base of the HTTP batch APIs (Postmark, Resend): requests and retries.

A provider with a JSON batch API is a subclass of ``HttpApiSender`` that says where to post
(``path``), how many messages a request holds (``batch_size``), how it authenticates
(``auth_headers``), how one message looks in the API (``item``, from ``api_fields``) and what
the answer says of each message (``receipts``); this base does the connections, retries and
the rules of what a lost answer means (``HttpApiSender._call_once``; how a kept-alive
connection is trusted again, ``HttpApiSender._post``). ``docs/adding-a-provider.md`` walks
through one.
"""

from __future__ import annotations

import http.client
import json
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from digest.delivery.senders import (
    Outgoing,
    Pooled,
    Receipt,
    State,
    receipts_for,
    retry_delays,
)
from digest.environment import secret_variable
from digest.errors import RenderError, SendError
from digest.mail.mime import read_message

if TYPE_CHECKING:
    from digest.delivery.settings import (
        DeliverySettings,
    )


#: Headers passed on to the HTTP APIs (the providers write From, To, Subject, Date, IDs).
PASSED_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Feedback-ID")


__all__ = ["PASSED_HEADERS", "Answer", "ApiFields", "HttpApiSender", "api_fields", "api_key"]


def api_key(name: str, provider: str) -> str:
    """The API key in the environment variable ``name``; a ``SendError`` naming it when unset."""
    value = secret_variable(name)
    if not value:
        raise SendError(f"{provider}: set the environment variable {name} to the API key")
    return value


class Answer:
    """An HTTP answer: its status, its body and its ``Retry-After`` header."""

    def __init__(self, status: int, body: bytes, retry_after: str | None) -> None:
        self.status, self.body, self.retry_after = status, body, retry_after

    def json(self) -> Any:
        """The body read as JSON; None when it is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


class _Unwritten:
    """A request that failed before its last byte was written: no server read it whole."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _closed_while_idle(sock: socket.socket) -> bool:
    """Whether an idle kept-alive connection has anything to read (closed by the server)."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            return bool(selector.select(0))
    except (OSError, ValueError):
        return True


class HttpApiSender(Pooled):
    """A JSON batch API over kept-alive HTTPS connections, one per thread."""

    name = "API"
    path = "/"
    #: The most messages the API takes in one request; ``[delivery] batch_size`` may lower it.
    batch_size = 100
    #: The list headers passed on to the API (a provider that forbids one leaves it out).
    passed_headers: tuple[str, ...] = PASSED_HEADERS

    def __init__(self, base_url: str, delivery: DeliverySettings) -> None:
        super().__init__(delivery.connections, delivery.rate)
        self.batch_size = min(delivery.batch_size or self.batch_size, self.batch_size)
        self.delivery = delivery
        self.base = urlsplit(base_url)
        self.prefix = self.base.path.rstrip("/")
        self._local = threading.local()
        #: Every thread's connection, so that ``close`` closes them all.
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            host, port = self.base.hostname or "", self.base.port
            timeout = 60
            if self.base.scheme == "https":
                connection = http.client.HTTPSConnection(host, port, timeout=timeout)
            else:
                connection = http.client.HTTPConnection(host, port, timeout=timeout)
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            with self._lock:  # a long send may open many: only the open ones are kept
                if connection in self._opened:
                    self._opened.remove(connection)
        self._local.connection = None

    def _post(self, body: bytes, headers: dict[str, str]) -> Answer | None:
        """POST ``body``; None when the connection failed after the whole request was written.

        A kept-alive connection is checked before it carries a request: one with anything to
        read while idle (the server closed or reset it) is replaced by a fresh one. A request
        that could not be written whole never reached the server as a request: on a reused
        connection (the server may have closed it after the check) it goes once more on a
        fresh one; on a fresh connection it raises ``ConnectionError`` (nothing was taken).
        Once the last byte is written the server may have read it, whatever comes next: a
        reset or a close before any byte of an answer is a lost answer (None), never retried
        here.
        """
        connection = self._connection()
        reused = connection.sock is not None
        if reused and _closed_while_idle(connection.sock):
            self._drop()
            connection, reused = self._connection(), False
        outcome = self._attempt(connection, body, headers)
        if isinstance(outcome, _Unwritten) and reused:
            outcome = self._attempt(self._connection(), body, headers)
        if isinstance(outcome, _Unwritten):
            raise ConnectionError(outcome.reason)
        return outcome

    def _attempt(
        self, connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]
    ) -> Answer | _Unwritten | None:
        """One request on ``connection``: its answer, ``_Unwritten`` or None (lost after)."""
        written = False
        try:
            connection.putrequest("POST", self.prefix + self.path)
            for name, value in {
                **headers,
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Content-Length": str(len(body)),
            }.items():
                connection.putheader(name, value)
            connection.endheaders()
            connection.send(body)
            written = True
            response = connection.getresponse()
            answer = Answer(response.status, response.read(), response.getheader("Retry-After"))
            if response.getheader("Connection", "").lower() == "close":
                self._drop()
            return answer
        except (OSError, http.client.HTTPException) as error:
            self._drop()
            if written:
                return None
            return _Unwritten(str(error) or type(error).__name__)

    def auth_headers(self, batch: Sequence[Outgoing]) -> dict[str, str]:
        """The headers that authenticate a request carrying ``batch`` (and any idempotency key)."""
        raise NotImplementedError

    def item(self, message: Outgoing) -> dict[str, Any]:
        """One message as the API takes it (raises ``ValueError`` when it cannot be read back)."""
        raise NotImplementedError

    def receipts(self, batch: Sequence[Outgoing], answer: Answer) -> list[Receipt] | None:
        """Each message's receipt from a 2xx (or ``partial``) answer; None when unreadable."""
        raise NotImplementedError

    def payload(self, items: list[dict[str, Any]]) -> object:
        """The request's JSON body for these messages: the list itself, or the API's wrapper."""
        return items

    #: Whether a request that may have reached the provider may be sent again: true only for
    #: an API with idempotency keys, which answers a repeat with the first result.
    idempotent = False
    #: Statuses that say an earlier request with the same idempotency key is still being
    #: worked on: wait and ask again.
    in_progress: frozenset[int] = frozenset()
    #: 4xx statuses whose answer still gives each message's result (an API that sends the
    #: good messages of a batch and refuses the rest): read by ``receipts`` first, and only
    #: when it cannot be read is the whole request refused.
    partial: frozenset[int] = frozenset()

    def _call(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        """Send ``batch`` in one request; a message that cannot be read is refused alone."""
        items: list[dict[str, Any]] = []
        readable: list[Outgoing] = []
        receipts: list[Receipt | None] = []
        for message in batch:
            try:
                items.append(self.item(message))
            except (ValueError, KeyError, RenderError) as error:
                reason = f"{self.name}: the message cannot be read: {error}"
                receipts.append(Receipt(message.address, "refused", reason, message.variant))
                continue
            readable.append(message)
            receipts.append(None)
        if readable:
            try:
                sent = iter(self._call_once(readable, items))
            except SendError as error:  # the key was refused: this batch was not taken
                sent = iter(receipts_for(readable, "deferred", str(error)))
            receipts = [r if r is not None else next(sent) for r in receipts]
        return [r for r in receipts if r is not None]

    def _call_once(self, batch: Sequence[Outgoing], items: list[dict[str, Any]]) -> list[Receipt]:
        """One request, retried only while no earlier try may have reached the provider.

        The outcomes, by answer (see ``docs`` of each provider and ``SECURITY.md``):

        - no connection, or one lost before the whole request was written: never read as a
          request, retried, deferred after the last try (a kept-alive connection found
          closed is replaced first, see ``_post``);
        - 429: refused for now, retried (after ``Retry-After``), deferred after the last try;
        - 2xx: each message's own result;
        - 401/403: the key was refused (``SendError``), nothing taken;
        - another 4xx: the request was refused, every message in it refused;
        - a lost answer, or a 5xx: the provider may have taken the messages. Without
          idempotency keys they are unknown at once; with them the request is sent again
          with the same key (and ``in_progress`` statuses waited out); whatever ends such a
          series of tries, short of an answer, leaves the messages unknown, never deferred.
        """
        body = json.dumps(self.payload(items), ensure_ascii=False).encode("utf-8")
        headers = self.auth_headers(batch)
        self.throttle.wait(len(batch))
        delays = retry_delays(self.delivery.retries, self.delivery.backoff)
        reached = ""  # why an earlier try may have reached the provider
        for delay in [*delays, None]:
            try:
                answer = self._post(body, headers)
            except ConnectionError as error:
                reason = f"{self.name}: {error}"
            else:
                if answer is None:
                    reason = f"{self.name}: the connection was lost after the request was sent"
                    reached = reason
                    if not self.idempotent:
                        return receipts_for(batch, "unknown", reason)
                elif 200 <= answer.status < 300:
                    receipts = self.receipts(batch, answer)
                    if receipts is None:
                        return receipts_for(batch, "unknown", f"{self.name}: an unreadable answer")
                    return receipts
                elif answer.status in (401, 403) and not reached:
                    raise SendError(f"{self.name}: the API key was refused ({answer.status})")
                elif answer.status >= 500 or answer.status in self.in_progress:
                    reason = f"{self.name}: {answer.status} {_error_text(answer)}"
                    reached = reason
                    if not self.idempotent:
                        return receipts_for(batch, "unknown", f"{reason} (may have been taken)")
                elif answer.status in self.partial and not reached:
                    receipts = self.receipts(batch, answer)
                    if receipts is not None:
                        return receipts
                    return receipts_for(batch, "refused", f"{answer.status} {_error_text(answer)}")
                elif answer.status != 429:
                    state: State = "unknown" if reached else "refused"
                    return receipts_for(batch, state, f"{answer.status} {_error_text(answer)}")
                else:
                    reason = f"{self.name}: {answer.status} {_error_text(answer)}"
                if answer is not None and answer.status in (429, *self.in_progress):
                    after = answer.retry_after
                    if after and after.isdigit() and delay is not None:
                        delay = max(delay, min(float(after), 60))
            if delay is None:
                if reached:
                    detail = f"{reason} (an earlier try may have been taken: {reached})"
                    return receipts_for(batch, "unknown", detail)
                return receipts_for(batch, "deferred", reason)
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def send(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        """Send ``batch`` in requests of at most ``batch_size``, several at once."""
        size = self.batch_size
        return self._map(self._call, [batch[i : i + size] for i in range(0, len(batch), size)])

    def close(self) -> None:
        """Stop the threads and close every connection they opened."""
        super().close()
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
        self._local = threading.local()


def _error_text(answer: Answer) -> str:
    data = answer.json()
    if isinstance(data, dict):
        for key in ("Message", "message", "error"):
            if isinstance(data.get(key), str):
                return str(data[key])[:300]
    return answer.body[:300].decode("utf-8", "replace")


class ApiFields(NamedTuple):
    """A message read back into what an HTTP API takes: its headers, text and HTML."""

    headers: dict[str, str]
    text: str
    html: str


def api_fields(message: Outgoing) -> ApiFields:
    """``message``'s headers and bodies as plain strings (``RenderError`` when it has no From)."""
    read = read_message(message.data)
    if "From" not in read.headers:
        raise RenderError("the message has no From header")
    return ApiFields(read.headers, read.text, read.html)
