"""Mail servers for tests and benchmarks: an SMTP inbox (aiosmtpd) that can drop connections,
and local stand-ins for the providers' batch APIs (Postmark, Resend) that check each
request against the provider's documented schema."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd import smtp as smtp_module
from aiosmtpd.controller import Controller


class Inbox:
    """An SMTP handler that keeps what it receives and refuses refused@… addresses."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("refused@"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 Message accepted"

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        self.logins.append((auth_data.login, auth_data.password))
        return smtp_module.AuthResult(success=auth_data.password == b"secret")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BusyInbox(Inbox):
    """Answers ``450 4.2.1`` (mailbox busy, try again later) the first time each busy@ is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.busy_once: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("busy") and address not in self.busy_once:
            self.busy_once.add(address)
            return "450 4.2.1 Mailbox busy, try again later"
        return await super().handle_RCPT(server, session, envelope, address, options)


class FlakyInbox(Inbox):
    """Drops the connection (421, or silently after taking the message) at chosen messages."""

    def __init__(self, drops: set[int], silent: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__()
        self.drops, self.silent, self.count = drops, silent, 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.count += 1
        if self.count in self.drops:
            server.transport.close()
            return "421 4.3.0 going away"
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self.count in self.silent:
            server.transport.close()  # the message arrived, the reply never does
        return reply


def start_smtp(inbox: Inbox, login: bool = False, required: bool = False) -> tuple[Controller, int]:
    """Start an SMTP server on 127.0.0.1 handled by ``inbox``.

    With ``login`` it offers AUTH; with ``required`` too, it answers MAIL FROM without a login
    with aiosmtpd's own ``530 5.7.0 Authentication required``.
    """
    port = free_port()
    options: dict[str, Any] = {}
    if login:
        options = {"authenticator": inbox, "auth_require_tls": False, "auth_required": required}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, port


FIXTURES = Path(__file__).parent / "fixtures" / "providers"


def _resend_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The batch request and response schemas of Resend's OpenAPI document (MIT)."""
    spec = json.loads((FIXTURES / "resend-openapi-batch.json").read_text())
    operation = spec["paths"]["/emails/batch"]["post"]
    components = {"components": spec["components"]}

    def resolved(schema: dict[str, Any]) -> dict[str, Any]:
        return {**schema, **components}

    request = operation["requestBody"]["content"]["application/json"]["schema"]
    response = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return resolved(request), resolved(response)


class LocalHttp:
    """A threading HTTP server on 127.0.0.1 for one test, served while in a ``with`` block."""

    def start_server(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Any:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class StandInApi(LocalHttp):
    """A local stand-in for a provider's batch API that checks every request.

    A provider's stand-in is a subclass that says where the API takes batches (``path``), how
    a request is authenticated (``authorised``), what its documented schema refuses
    (``problems_in``), what one message's result looks like (``result``) and how the results are
    wrapped (``answer``); this base serves it on 127.0.0.1 and plays the faults.

    ``faults`` is a list of what to do with the next requests: ``429``, ``409``, ``500`` or
    ``503`` (answered without sending), ``"drop"`` (the messages are taken, the connection is
    closed before the answer), ``"taken-500"`` or ``"taken-504"`` (taken, then answered with
    that status, as a gateway that lost the provider's answer does). A request with an
    ``Idempotency-Key`` seen before gets the first answer and sends nothing.
    """

    provider = ""
    path = "/"
    #: The environment variables digest reads the provider's keys from (by default).
    key_variables: tuple[str, ...] = ()
    #: The status of an answer to a batch some of whose messages were refused (Postmark and
    #: Resend answer 200 with each message's result).
    partial_status = 200

    def __init__(self, key: str = "test-key") -> None:
        self.key = key
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        self.problems: list[str] = []
        self.faults: list[int | str] = []
        self.answers: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.start_server(self._handler())

    def authorised(self, headers: Any) -> bool:
        """Whether the request carries the right key."""
        raise NotImplementedError

    def problems_in(self, body: Any) -> list[str]:
        """What the provider's documented schema says is wrong with the request body."""
        raise NotImplementedError

    def messages(self, body: Any) -> list[dict[str, Any]]:
        """The messages of a request's body (the body itself, or what the API wraps them in)."""
        return list(body)

    def recipient(self, item: dict[str, Any]) -> str:
        """The address one message of a request goes to."""
        raise NotImplementedError

    def content(self, item: dict[str, Any]) -> dict[str, Any]:
        """One message of a request as ``subject``, ``html``, ``text`` and ``headers``."""
        raise NotImplementedError

    def result(self, item: dict[str, Any], number: int) -> tuple[bool, dict[str, Any]]:
        """Whether the provider takes this message, and its result in the answer."""
        raise NotImplementedError

    def answer(self, results: list[dict[str, Any]]) -> Any:
        """The answer's body for these results."""
        raise NotImplementedError

    def _answer(self, body: Any) -> tuple[int, bytes]:
        results, refused = [], False
        for item in self.messages(body):
            taken, result = self.result(item, len(self.received) + 1)
            if taken:
                self.received.append(item)
            refused = refused or not taken
            results.append(result)
        status = self.partial_status if refused else 200
        return status, json.dumps(self.answer(results)).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, status: int, data: bytes, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != api.path:
                    self.reply(404, b'{"message": "not found"}')
                    return
                body = json.loads(raw)
                with api.lock:
                    api.requests += 1
                    fault = api.faults.pop(0) if api.faults else None
                    if not api.authorised(self.headers):
                        self.reply(401, b'{"ErrorCode": 10, "Message": "Bad or missing token"}')
                        return
                    problem = "; ".join(api.problems_in(body)[:3])
                    if problem:
                        api.problems.append(problem)
                        self.reply(422, json.dumps({"message": problem}).encode())
                        return
                    if fault in (409, 429, 500, 503):
                        self.reply(int(fault), b'{"message": "slow down"}', {"Retry-After": "0"})
                        return
                    key = self.headers.get("Idempotency-Key")
                    if key and key in api.answers:
                        status, data = 200, api.answers[key]
                    else:
                        status, data = api._answer(body)
                        if key:
                            api.answers[key] = data
                if fault == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if isinstance(fault, str) and fault.startswith("taken-"):
                    self.reply(int(fault.removeprefix("taken-")), b'{"message": "gateway"}')
                    return
                self.reply(status, data)

        return Handler


def _validation_errors(schema: dict[str, Any], body: Any) -> list[str]:
    from jsonschema import Draft202012Validator

    return [error.message for error in Draft202012Validator(schema).iter_errors(body)]


class PostmarkApi(StandInApi):
    """Postmark's ``POST /email/batch``, its request checked against the schema written from
    Postmark's documentation; addresses starting ``inactive@`` are refused per message
    (ErrorCode 406), as Postmark refuses a recipient marked inactive."""

    provider = "postmark"
    path = "/email/batch"
    key_variables = ("POSTMARK_SERVER_TOKEN",)
    schema = json.loads((FIXTURES / "postmark-batch.schema.json").read_text())

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("X-Postmark-Server-Token") == self.key)

    def problems_in(self, body: Any) -> list[str]:
        return _validation_errors(self.schema, body)

    def recipient(self, item: dict[str, Any]) -> str:
        return str(item["To"])

    def content(self, item: dict[str, Any]) -> dict[str, Any]:
        headers = {header["Name"]: header["Value"] for header in item.get("Headers", [])}
        return {
            "subject": item["Subject"],
            "html": item["HtmlBody"],
            "text": item["TextBody"],
            "headers": headers,
        }

    def result(self, item: dict[str, Any], number: int) -> tuple[bool, dict[str, Any]]:
        if self.recipient(item).startswith("inactive@"):
            return False, {
                "ErrorCode": 406,
                "Message": "You tried to send to a recipient that has been marked as inactive.",
            }
        return True, {
            "To": self.recipient(item),
            "SubmittedAt": "2026-11-30T07:00:00Z",
            "MessageID": f"pm-{number}",
            "ErrorCode": 0,
            "Message": "OK",
        }

    def answer(self, results: list[dict[str, Any]]) -> Any:
        return results


class ResendApi(StandInApi):
    """Resend's ``POST /emails/batch``, request and answer checked against Resend's OpenAPI
    document (no undocumented field, at most 100 emails); ``Idempotency-Key`` honoured."""

    provider = "resend"
    path = "/emails/batch"
    key_variables = ("RESEND_API_KEY",)

    def __init__(self, key: str = "test-key") -> None:
        self.schema, self.response_schema = _resend_schemas()
        super().__init__(key)

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("Authorization") == f"Bearer {self.key}")

    def problems_in(self, body: Any) -> list[str]:
        errors = _validation_errors(self.schema, body)
        if isinstance(body, list):
            documented = set(self.schema["components"]["schemas"]["SendEmailRequest"]["properties"])
            for item in body:
                errors += [f"undocumented field {k!r}" for k in item if k not in documented]
            if len(body) > 100:
                errors.append("more than 100 emails in a batch")
        return errors

    def recipient(self, item: dict[str, Any]) -> str:
        return str(item["to"][0])

    def content(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "subject": item["subject"],
            "html": item["html"],
            "text": item["text"],
            "headers": item.get("headers", {}),
        }

    def result(self, item: dict[str, Any], number: int) -> tuple[bool, dict[str, Any]]:
        return True, {"id": f"00000000-0000-4000-8000-{number:012d}"}

    def answer(self, results: list[dict[str, Any]]) -> Any:
        data = {"data": results}
        from jsonschema import Draft202012Validator

        Draft202012Validator(self.response_schema).validate(data)
        return data


#: The stand-ins by provider name.
STAND_INS: dict[str, type[StandInApi]] = {"postmark": PostmarkApi, "resend": ResendApi}


def ProviderApi(provider: str, key: str = "test-key") -> StandInApi:
    """The stand-in of ``provider``, started (serve it with ``with``)."""
    return STAND_INS[provider](key)


class PipeliningInbox(Inbox):
    """An inbox whose server offers PIPELINING (RFC 2920) and counts the envelopes that come
    in one packet with the next command already waiting."""

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1].replace("250-", "250 ", 1)]


class LosingProxy(LocalHttp):
    """An HTTP proxy in front of a real API server (moto's SES) that loses answers on cue.

    Each request is passed on to ``target`` and its answer read; ``faults`` says what the
    client then gets for the next requests: ``"drop"`` (the connection closes, no answer) or
    ``"taken-500"`` (a 500 instead of the server's answer). Either way the server took it.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.faults: list[str] = []
        self.lock = threading.Lock()
        self.start_server(self._handler())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        import http.client
        from urllib.parse import urlsplit

        proxy = self
        target = urlsplit(self.target)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                upstream = http.client.HTTPConnection(target.hostname or "", target.port)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                upstream.request("POST", self.path, raw, headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                with proxy.lock:
                    fault = proxy.faults.pop(0) if proxy.faults else None
                if fault == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                status = 500 if fault == "taken-500" else answer.status
                if fault == "taken-500":
                    data = b'{"__type": "InternalFailure", "message": "lost"}'
                self.send_response(status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


class DkimKey:
    """An RSA key made for a test, its PEM file and the DNS TXT record that publishes it."""

    def __init__(self, folder: Path, selector: str = "digest2026", domain: str = "") -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.path = folder / f"{selector}.pem"
        self.path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        import base64

        self.selector, self.domain = selector, domain
        self.record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(self, name: bytes, timeout: int = 5) -> bytes:
        """dkimpy's DNS lookup, answered for this key's name only."""
        expected = f"{self.selector}._domainkey.{self.domain}.".encode()
        return self.record if name.lower() in (expected, expected[:-1]) else b""

    def verify(self, message: bytes) -> bool:
        import dkim

        return bool(dkim.verify(message, dnsfunc=self.dns))
