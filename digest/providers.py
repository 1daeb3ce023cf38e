"""Provider APIs: Amazon SES v2 (through boto3), Postmark and Resend (their HTTP batch APIs).

Each takes the same ``Outgoing`` messages as the SMTP sender and gives the same receipts (see
``digest.senders``). SES gets the message's bytes as they are; Postmark and Resend take
fields, so the message is read back (``digest.mime.read_message``) and its subject, parts and
``List-Unsubscribe`` headers are passed on.

A request is tried again only when it cannot have been taken: it was throttled (HTTP 429,
SES ``TooManyRequestsException``) or its connection failed before it was written. Those are
retried with exponential backoff, honouring ``Retry-After``; after the last try the messages
are *deferred* (sent on the next run). A lost answer or a 5xx may come after the provider
took the messages: for SES and Postmark, which have no idempotency keys, they are *unknown*
at once (reported, never resent on their own). Resend's requests carry an
``Idempotency-Key``, so Resend is asked again with the same key, and whatever ends such a
series of tries short of an answer leaves the messages unknown, never deferred. A message
that cannot be read back into the API's fields is refused alone; its batch goes on.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import threading
import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import RenderError, SendError
from .mime import envelope_sender, read_message
from .senders import (
    Outgoing,
    Pooled,
    Receipt,
    Sender,
    SmtpSender,
    State,
    each_until_deferred,
    receipts_for,
    retry_delays,
)

if TYPE_CHECKING:
    from .config import DeliverySettings, PostmarkSettings, ResendSettings, SesSettings

__all__ = ["PostmarkSender", "ResendSender", "SesSender", "make_sender"]

#: Headers passed on to the HTTP APIs (the providers write From, To, Subject, Date, IDs).
PASSED_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post")


def make_sender(settings: DeliverySettings) -> Sender:
    """The sender ``settings.provider`` names (boto3 is imported only for SES)."""
    if settings.provider == "smtp":
        assert settings.smtp is not None  # the settings' validator sees to it
        return SmtpSender(settings.smtp, settings)
    if settings.provider == "ses":
        return SesSender(settings.ses, settings)
    if settings.provider == "postmark":
        return PostmarkSender(settings.postmark, settings)
    if settings.provider == "resend":
        return ResendSender(settings.resend, settings)
    raise SendError(f"unknown provider {settings.provider!r}")


def _secret(name: str, provider: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SendError(f"{provider}: set the environment variable {name} to the API key")
    return value


#: SES answers that concern the account, not the recipient: nothing is sent on this run.
_SES_ACCOUNT_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AccountSuspendedException",
        "SendingPausedException",
    }
)
#: SES answers that refuse the call for now (the message was not taken): wait and retry.
_SES_THROTTLED = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"}
)


class SesSender(Pooled):
    """Amazon SES v2 ``SendEmail`` with the raw message, several calls at once."""

    batch_size = 50

    def __init__(self, settings: SesSettings, delivery: DeliverySettings) -> None:
        """A client for ``settings.region`` (or ``endpoint_url``), made when first needed."""
        super().__init__(delivery.connections, delivery.rate)
        self.delivery = delivery
        self.settings = settings
        self._local = threading.local()

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise SendError("SES needs boto3: pip install 'newsletter-digest[ses]'") from None
            # Throttling is retried here, with our backoff and the ledger's view of it.
            config = Config(retries={"total_max_attempts": 1}, max_pool_connections=2)
            client = boto3.client(
                "sesv2",
                region_name=self.settings.region,
                endpoint_url=self.settings.endpoint_url,
                config=config,
            )
            self._local.client = client
        return client

    def _one(self, message: Outgoing) -> Receipt:
        """One ``SendEmail`` call, retried only when SES cannot have taken the message.

        SES v2's ``SendEmail`` has no idempotency token, so only a refusal that SES documents
        as "not sent" (throttling, a sending quota) or a connection that never opened is tried
        again; a 5xx or a lost answer may come after SES took the message: unknown.
        """
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        request: dict[str, Any] = {
            "FromEmailAddress": envelope_sender(message.data),
            "Destination": {"ToAddresses": [message.address]},
            "Content": {"Raw": {"Data": message.data}},
        }
        if self.settings.configuration_set:
            request["ConfigurationSetName"] = self.settings.configuration_set
        self.throttle.wait()
        delays = retry_delays(self.delivery.retries, self.delivery.backoff)
        for delay in [*delays, None]:
            try:
                answer = self._client().send_email(**request)
                return Receipt(message.address, "sent", answer["MessageId"], message.variant)
            except NoCredentialsError:
                raise SendError("SES: no AWS credentials (environment, profile or role)") from None
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                text = f"{code}: {error.response.get('Error', {}).get('Message', '')}"
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if code in _SES_ACCOUNT_ERRORS:
                    raise SendError(f"SES: {text}") from None
                if code not in _SES_THROTTLED:
                    state: State = "unknown" if status >= 500 else "refused"
                    return Receipt(message.address, state, f"SES: {text}", message.variant)
                reason = text
            except (EndpointConnectionError, ConnectTimeoutError) as error:
                reason = str(error)  # the request never reached SES
            except BotoCoreError as error:
                # A read timeout, a connection closed mid-answer: SES may have the message.
                return Receipt(message.address, "unknown", f"SES: {error}", message.variant)
            if delay is None:
                return Receipt(message.address, "deferred", f"SES: {reason}", message.variant)
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def send(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        """Send each message with its own call, ``connections`` calls at a time."""
        return self._map(partial(each_until_deferred, one=self._one), self._shares(batch))


class _Answer:
    def __init__(self, status: int, body: bytes, retry_after: str | None) -> None:
        self.status, self.body, self.retry_after = status, body, retry_after

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


class _HttpApi(Pooled):
    """A JSON batch API over kept-alive HTTPS connections, one per thread."""

    name = "API"
    path = "/"

    def __init__(self, base_url: str, delivery: DeliverySettings) -> None:
        super().__init__(delivery.connections, delivery.rate)
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
        self._local.connection = None

    def _post(self, body: bytes, headers: dict[str, str]) -> _Answer | None:
        """POST ``body``; None when the connection failed after the request was written."""
        connection = self._connection()
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
            written = True
            connection.send(body)
            response = connection.getresponse()
            answer = _Answer(response.status, response.read(), response.getheader("Retry-After"))
            if response.getheader("Connection", "").lower() == "close":
                self._drop()
            return answer
        except (OSError, http.client.HTTPException) as error:
            self._drop()
            if written:
                return None
            raise ConnectionError(str(error) or type(error).__name__) from None

    def _headers(self, batch: Sequence[Outgoing]) -> dict[str, str]:
        raise NotImplementedError

    def _item(self, message: Outgoing) -> dict[str, Any]:
        """One message as the API takes it (raises when the message cannot be read back)."""
        raise NotImplementedError

    def _receipts(self, batch: Sequence[Outgoing], answer: _Answer) -> list[Receipt] | None:
        """The receipts of a 2xx answer; None when the answer cannot be read."""
        raise NotImplementedError

    #: Whether a request that may have reached the provider may be sent again: true only for
    #: an API with idempotency keys, which answers a repeat with the first result.
    idempotent = False
    #: Statuses that say an earlier request with the same idempotency key is still being
    #: worked on: wait and ask again.
    in_progress: frozenset[int] = frozenset()

    def _call(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        """Send ``batch`` in one request; a message that cannot be read is refused alone."""
        items: list[dict[str, Any]] = []
        readable: list[Outgoing] = []
        receipts: list[Receipt | None] = []
        for message in batch:
            try:
                items.append(self._item(message))
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

        - no connection, or one lost before the request was written: never reached, retried,
          deferred after the last try;
        - 429: refused for now, retried (after ``Retry-After``), deferred after the last try;
        - 2xx: each message's own result;
        - 401/403: the key was refused (``SendError``), nothing taken;
        - another 4xx: the request was refused, every message in it refused;
        - a lost answer, or a 5xx: the provider may have taken the messages. Without
          idempotency keys they are unknown at once; with them the request is sent again
          with the same key (and ``in_progress`` statuses waited out); whatever ends such a
          series of tries, short of an answer, leaves the messages unknown, never deferred.
        """
        body = json.dumps(items, ensure_ascii=False).encode("utf-8")
        headers = self._headers(batch)
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
                    receipts = self._receipts(batch, answer)
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


def _error_text(answer: _Answer) -> str:
    data = answer.json()
    if isinstance(data, dict):
        for key in ("Message", "message", "error"):
            if isinstance(data.get(key), str):
                return str(data[key])[:300]
    return answer.body[:300].decode("utf-8", "replace")


def _fields(message: Outgoing) -> tuple[dict[str, str], str, str]:
    read = read_message(message.data)
    if "From" not in read.headers:
        raise RenderError("the message has no From header")
    return read.headers, read.text, read.html


class PostmarkSender(_HttpApi):
    """Postmark's ``POST /email/batch``: up to 500 messages a call, a result for each."""

    name = "Postmark"
    path = "/email/batch"
    batch_size = 500

    def __init__(self, settings: PostmarkSettings, delivery: DeliverySettings) -> None:
        """A sender with the server token from ``settings.token_env``."""
        super().__init__(settings.base_url, delivery)
        self.settings = settings
        self.token = _secret(settings.token_env, "Postmark")
        self.batch_size = min(delivery.batch_size or 500, 500)

    def _headers(self, batch: Sequence[Outgoing]) -> dict[str, str]:
        return {"X-Postmark-Server-Token": self.token}

    def _item(self, message: Outgoing) -> dict[str, Any]:
        headers, text, html = _fields(message)
        item: dict[str, Any] = {
            "From": headers["From"],
            "To": message.address,
            "Subject": headers.get("Subject", ""),
            "HtmlBody": html,
            "TextBody": text,
            "MessageStream": self.settings.message_stream,
            "Headers": [
                {"Name": name, "Value": headers[name]} for name in PASSED_HEADERS if name in headers
            ],
        }
        if "Reply-To" in headers:
            item["ReplyTo"] = headers["Reply-To"]
        if message.variant:
            item["Tag"] = f"subject-{message.variant}"
        return item

    def _receipts(self, batch: Sequence[Outgoing], answer: _Answer) -> list[Receipt] | None:
        results = answer.json()
        if not isinstance(results, list) or len(results) != len(batch):
            return None
        receipts = []
        for message, result in zip(batch, results, strict=True):
            if not isinstance(result, dict):
                return None
            code = result.get("ErrorCode")
            if code == 0:
                receipt = Receipt(
                    message.address, "sent", str(result.get("MessageID", "")), message.variant
                )
            else:
                reason = f"Postmark {code}: {result.get('Message', '')}"
                receipt = Receipt(message.address, "refused", reason, message.variant)
            receipts.append(receipt)
        return receipts


class ResendSender(_HttpApi):
    """Resend's ``POST /emails/batch``: up to 100 messages a call, with an idempotency key."""

    name = "Resend"
    path = "/emails/batch"
    batch_size = 100
    # Resend keeps an idempotency key's answer for 24 hours; a 409 is a request with the
    # same key still being worked on.
    idempotent = True
    in_progress = frozenset({409})

    def __init__(self, settings: ResendSettings, delivery: DeliverySettings) -> None:
        """A sender with the API key from ``settings.key_env``."""
        super().__init__(settings.base_url, delivery)
        self.key = _secret(settings.key_env, "Resend")
        self.batch_size = min(delivery.batch_size or 100, 100)

    def _headers(self, batch: Sequence[Outgoing]) -> dict[str, str]:
        # The same batch gets the same key: Resend answers a repeat with the first result.
        key = hashlib.sha256(b"".join(hashlib.sha256(m.data).digest() for m in batch))
        return {"Authorization": f"Bearer {self.key}", "Idempotency-Key": key.hexdigest()}

    def _item(self, message: Outgoing) -> dict[str, Any]:
        headers, text, html = _fields(message)
        item: dict[str, Any] = {
            "from": headers["From"],
            "to": [message.address],
            "subject": headers.get("Subject", ""),
            "html": html,
            "text": text,
            "headers": {name: headers[name] for name in PASSED_HEADERS if name in headers},
        }
        if "Reply-To" in headers:
            item["reply_to"] = headers["Reply-To"]
        if message.variant:
            item["tags"] = [{"name": "subject", "value": message.variant}]
        return item

    def _receipts(self, batch: Sequence[Outgoing], answer: _Answer) -> list[Receipt] | None:
        data = answer.json()
        results = data.get("data") if isinstance(data, dict) else None
        if not isinstance(results, list) or len(results) != len(batch):
            return None
        ids = [str(r.get("id", "")) if isinstance(r, dict) else "" for r in results]
        return [
            Receipt(m.address, "sent", id_, m.variant) for m, id_ in zip(batch, ids, strict=True)
        ]
