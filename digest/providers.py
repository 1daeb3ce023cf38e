"""Provider APIs: Amazon SES v2 (through boto3), Postmark and Resend (their HTTP batch APIs).

Each takes the same ``Outgoing`` messages as the SMTP sender and gives the same receipts (see
``digest.senders``). SES gets the message's bytes as they are; Postmark and Resend take
fields, so the message is read back (``digest.mime.read_message``) and its subject, parts and
``List-Unsubscribe`` headers are passed on.

Requests that are throttled (HTTP 429, SES ``TooManyRequests``) or fail on the provider's
side (5xx, a lost connection before the request went out) are retried with exponential
backoff, honouring ``Retry-After``; after the last try the messages are *deferred*. A lost
connection after a Postmark request went out leaves its messages *unknown*; Resend's requests
carry an ``Idempotency-Key``, so those are retried safely.
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

from .errors import SendError
from .mime import envelope_sender, read_message
from .senders import (
    Outgoing,
    Pooled,
    Receipt,
    Sender,
    SmtpSender,
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
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

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
                if code in ("AccessDeniedException", "UnrecognizedClientException"):
                    raise SendError(f"SES: {text}") from None
                if code not in ("TooManyRequestsException", "Throttling", "LimitExceeded") and (
                    status < 500
                ):
                    return Receipt(message.address, "refused", text, message.variant)
                reason = text
            except BotoCoreError as error:
                # The request may not have reached SES (a refused connection) or may have: a
                # read timeout leaves the message's fate unknown.
                if "Read timeout" in str(error):
                    return Receipt(message.address, "unknown", str(error), message.variant)
                reason = str(error)
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

    def _payload(self, batch: Sequence[Outgoing]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _receipts(self, batch: Sequence[Outgoing], answer: _Answer) -> list[Receipt] | None:
        """The receipts of a 2xx answer; None when the answer cannot be read."""
        raise NotImplementedError

    #: Whether a request lost after it was written may be sent again (an idempotency key).
    retry_lost = False

    def _call(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        try:
            return self._call_once(batch)
        except SendError as error:  # the key was refused: this batch was not taken
            return receipts_for(batch, "deferred", str(error))

    def _call_once(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        body = json.dumps(self._payload(batch), ensure_ascii=False).encode("utf-8")
        headers = self._headers(batch)
        self.throttle.wait(len(batch))
        delays = retry_delays(self.delivery.retries, self.delivery.backoff)
        for delay in [*delays, None]:
            try:
                answer = self._post(body, headers)
            except ConnectionError as error:
                reason = f"{self.name}: {error}"
            else:
                if answer is None:
                    reason = f"{self.name}: the connection was lost after the request was sent"
                    if not self.retry_lost:
                        return receipts_for(batch, "unknown", reason)
                elif 200 <= answer.status < 300:
                    receipts = self._receipts(batch, answer)
                    if receipts is None:
                        return receipts_for(batch, "unknown", f"{self.name}: an unreadable answer")
                    return receipts
                elif answer.status in (401, 403):
                    raise SendError(f"{self.name}: the API key was refused ({answer.status})")
                elif answer.status != 429 and answer.status < 500:
                    return receipts_for(batch, "refused", f"{answer.status} {_error_text(answer)}")
                else:
                    reason = f"{self.name}: {answer.status} {_error_text(answer)}"
                    if answer.retry_after and answer.retry_after.isdigit() and delay is not None:
                        delay = max(delay, min(float(answer.retry_after), 60))
            if delay is None:
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

    def _payload(self, batch: Sequence[Outgoing]) -> list[dict[str, Any]]:
        out = []
        for message in batch:
            headers, text, html = _fields(message)
            item: dict[str, Any] = {
                "From": headers["From"],
                "To": message.address,
                "Subject": headers.get("Subject", ""),
                "HtmlBody": html,
                "TextBody": text,
                "MessageStream": self.settings.message_stream,
                "Headers": [
                    {"Name": name, "Value": headers[name]}
                    for name in PASSED_HEADERS
                    if name in headers
                ],
            }
            if "Reply-To" in headers:
                item["ReplyTo"] = headers["Reply-To"]
            if message.variant:
                item["Tag"] = f"subject-{message.variant}"
            out.append(item)
        return out

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
    retry_lost = True

    def __init__(self, settings: ResendSettings, delivery: DeliverySettings) -> None:
        """A sender with the API key from ``settings.key_env``."""
        super().__init__(settings.base_url, delivery)
        self.key = _secret(settings.key_env, "Resend")
        self.batch_size = min(delivery.batch_size or 100, 100)

    def _headers(self, batch: Sequence[Outgoing]) -> dict[str, str]:
        # The same batch gets the same key: Resend answers a repeat with the first result.
        key = hashlib.sha256(b"".join(hashlib.sha256(m.data).digest() for m in batch))
        return {"Authorization": f"Bearer {self.key}", "Idempotency-Key": key.hexdigest()}

    def _payload(self, batch: Sequence[Outgoing]) -> list[dict[str, Any]]:
        out = []
        for message in batch:
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
            out.append(item)
        return out

    def _receipts(self, batch: Sequence[Outgoing], answer: _Answer) -> list[Receipt] | None:
        data = answer.json()
        results = data.get("data") if isinstance(data, dict) else None
        if not isinstance(results, list) or len(results) != len(batch):
            return None
        ids = [str(r.get("id", "")) if isinstance(r, dict) else "" for r in results]
        return [
            Receipt(m.address, "sent", id_, m.variant) for m, id_ in zip(batch, ids, strict=True)
        ]
