"""Stale kept-alive connections: stand-ins of Postmark's and Resend's batch APIs that close a
connection without a word (after it idles, or after a few requests), and ``digest send`` run as
its own process against them. Every reader is received exactly once and none is left unknown;
a request the server read and then dropped unanswered is still unknown, never sent again. The
same over TLS, and for SES (boto3) through a proxy that closes idle connections."""

from __future__ import annotations

import os
import select
import sqlite3
import ssl
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from digest import email_bytes
from digest.delivery import http as http_api
from digest.delivery.eml import send_eml
from digest.delivery.ledger import SendLedger
from digest.delivery.loop import DeliveryReport
from digest.delivery.providers import make_sender
from digest.delivery.ses import SesSender
from digest.delivery.settings import DeliverySettings, SesSettings

from ..helpers import EXAMPLES, build_example, run_command
from ..mailservers import STAND_INS, LosingProxy, StandInApi

pytest.importorskip("jsonschema", reason="jsonschema checks the requests")

PROVIDERS = ["postmark", "resend"]
READERS = [f"reader{n:02}@example.org" for n in range(30)]
#: The SES region of these tests alone.
REGION = "ap-southeast-1"
KEYS = {"POSTMARK_SERVER_TOKEN": "test-key", "RESEND_API_KEY": "test-key"}
#: How long the stand-in keeps an idle connection open; ``digest send`` waits about 150 ms
#: between batches (3 messages at 20 a second), so every connection has closed before reuse.
IDLE = 0.02
#: A real list's unsubscribe page (``digest send`` refuses a placeholder such as ``.example``).
UNSUBSCRIBE = "https://lists.tangerang-digest.id/berhenti"


def edition() -> bytes:
    """The example edition, with the list's own unsubscribe link."""
    return email_bytes(build_example("tangerangnews", settings={"unsubscribe_url": UNSUBSCRIBE}))


class Closes:
    """How a stand-in closes kept-alive connections without a ``Connection: close``: after
    ``idle`` seconds with no request, or right after ``after`` requests on one."""

    def __init__(self, idle: float | None = None, after: int | None = None) -> None:
        self.idle, self.after = idle, after
        #: Connections accepted, and those the stand-in closed while the client kept them.
        self.connections = self.closed = 0
        self.lock = threading.Lock()

    def count(self, opened: int = 0, closed: int = 0) -> None:
        with self.lock:
            self.connections += opened
            self.closed += closed

    def handler(self, base: Any) -> type[BaseHTTPRequestHandler]:
        """``base`` (a request handler class) closing its connections so."""
        closes = self

        class Handler(base):  # type: ignore[misc]
            served = 0

            def setup(self) -> None:
                super().setup()
                closes.count(opened=1)

            def handle_one_request(self) -> None:
                if self.served and closes.idle is not None:
                    ready, _, _ = select.select([self.connection], [], [], closes.idle)
                    # Looked at once more just before closing: a request that came in while
                    # this thread waited for a core is served (a test of the client, not of
                    # the instant a close and a request cross).
                    ready = ready or select.select([self.connection], [], [], 0)[0]
                    if not ready:
                        self.close_connection = True
                        closes.count(closed=1)
                        return
                super().handle_one_request()
                self.served += 1
                if self.served == closes.after and not self.close_connection:
                    self.close_connection = True  # right after the answer, unannounced
                    closes.count(closed=1)

        return Handler


def ClosingApi(
    provider: str,
    idle: float | None = None,
    after: int | None = None,
    tls: ssl.SSLContext | None = None,
) -> StandInApi:
    """A Postmark or Resend stand-in that closes kept-alive connections unannounced."""
    closes = Closes(idle, after)

    class Closing(STAND_INS[provider]):  # type: ignore[misc,valid-type]
        scheme = "http"

        @property
        def url(self) -> str:
            """The stand-in's address, ``https`` when it speaks TLS."""
            return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

        def _handler(self) -> type[BaseHTTPRequestHandler]:
            return closes.handler(super()._handler())

    api = Closing()
    api.closes = closes
    if tls is not None:
        api.server.socket = tls.wrap_socket(api.server.socket, server_side=True)
        api.scheme = "https"
    return api


class ClosingProxy(LosingProxy):
    """A proxy in front of moto's SES that closes kept-alive connections unannounced."""

    def __init__(self, target: str, idle: float) -> None:
        self.closes = Closes(idle)
        super().__init__(target)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return self.closes.handler(super()._handler())


def received(api: StandInApi) -> Counter[str]:
    """How many times the stand-in took each address."""
    return Counter(item.get("To") or item["to"][0] for item in api.received)


def send(api: StandInApi, folder: Path, **delivery: Any) -> tuple[int, str, dict[str, str]]:
    """``digest send`` of an edition to ``READERS`` through ``api``, in a process of its own:
    the exit status, what it printed and the ledger's state for each reader."""
    settings = {"batch_size": 3, "rate": 20, "connections": 1, "retries": 0, **delivery}
    text = (EXAMPLES / "tangerangnews" / "newsletter.toml").read_text()
    text = text.replace('data = "edition.json"', "").replace('assets = "images"', "")
    text = text.replace("https://tangerangnews.example/newsletter/berhenti", UNSUBSCRIBE)
    text += "\n[delivery]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    text += f'provider = "{api.provider}"\n'
    text += f'[delivery.{api.provider}]\nbase_url = "{api.url}"\n'
    (folder / "newsletter.toml").write_text(text)
    (folder / "edition.eml").write_bytes(edition())
    (folder / "readers.txt").write_text("\n".join(READERS) + "\n")
    result = run_command(
        "send", "--config", folder / "newsletter.toml", folder / "edition.eml",
        "--recipients", folder / "readers.txt", "--quiet",
        env={**os.environ, **KEYS},
    )  # fmt: skip
    ledgers = list(folder.glob("*.sends.sqlite3"))
    assert len(ledgers) == 1, result.stdout + result.stderr
    ledger = ledgers[0]
    with sqlite3.connect(ledger) as db:
        states = dict(db.execute("SELECT address, state FROM deliveries").fetchall())
    return result.returncode, result.stdout + result.stderr, states


def deliver(api: StandInApi, readers: list[str], ledger: Path, **delivery: Any) -> DeliveryReport:
    """Send the edition to ``readers`` through ``api`` with the library's own sender."""
    table: dict[str, Any] = {"base_url": api.url}
    settings = DeliverySettings.model_validate(
        {"provider": api.provider, api.provider: table, "batch_size": 3, "connections": 1,
         "retries": 0, "rate": 20, **delivery}
    )  # fmt: skip
    with make_sender(settings) as sender:
        return send_eml(edition(), readers, sender, SendLedger(ledger))


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("closes", ["idle", "after-2"])
def test_connections_the_server_closed_unannounced_lose_nobody(
    provider: str, closes: str, tmp_path: Path
) -> None:
    idle, after = (IDLE, None) if closes == "idle" else (None, 2)
    with ClosingApi(provider, idle=idle, after=after) as api:
        status, output, states = send(api, tmp_path)
    assert status == 0, output
    assert received(api) == Counter(READERS)  # each reader once
    assert set(states.values()) == {"sent"} and len(states) == 30
    assert api.requests == 10 and not api.problems  # no request was sent twice
    # The stand-in closed connections under the sender: two batches each after two, and (how
    # many depends on how busy the machine is) kept connections that went idle.
    if closes == "after-2":
        assert api.closes.connections == 5 and api.closes.closed >= 4
    else:
        assert api.closes.connections >= 2 and api.closes.closed >= 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_request_read_and_then_dropped_unanswered_stays_unknown(
    provider: str, keys: None, tmp_path: Path
) -> None:
    # The second batch goes on the kept connection; the stand-in takes it and hangs up.
    with ClosingApi(provider) as api:
        api.faults = ["answer", "drop"]
        report = deliver(api, READERS[:12], tmp_path / "sends.sqlite3")
    assert report.unknown == READERS[3:6] and report.sent == 9 and not report.deferred
    assert received(api) == Counter(READERS[:12])  # the stand-in took them: nobody twice
    assert api.requests == 4 and api.closes.connections == 2  # not sent again


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_close_after_the_check_fails_the_write_and_goes_again_on_a_fresh_connection(
    provider: str, keys: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The close lands between the check and the request (a race that cannot be timed from
    outside): here the check is skipped, so the request meets a connection already closed.
    Its body cannot be written whole, so the server never read it: it goes again, once."""
    monkeypatch.setattr(http_api, "_closed_while_idle", lambda sock: False, raising=False)
    with ClosingApi(provider, after=1) as api:
        report = deliver(api, READERS[:12], tmp_path / "sends.sqlite3")
    assert report.sent == 12 and not report.unknown and not report.deferred
    assert received(api) == Counter(READERS[:12]) and api.requests == 4
    assert api.closes.connections == 4


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    identifier = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False
        )
        .add_extension(identifier, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder / "cert.pem", folder / "key.pem"


@pytest.mark.parametrize("closes", ["never", "idle"])
def test_over_tls_a_kept_connection_is_reused_and_a_closed_one_replaced(
    closes: str,
    certificate: tuple[Path, Path],
    keys: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TLS 1.3 sends session tickets after the handshake: they must not make every kept
    connection look closed (a handshake per batch); a connection the server closed is
    replaced all the same."""
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    idle = IDLE if closes == "idle" else None
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted by the default context
    with ClosingApi("postmark", idle=idle, tls=context) as api:
        report = deliver(api, READERS[:12], tmp_path / "sends.sqlite3")
    assert report.sent == 12 and received(api) == Counter(READERS[:12])
    assert api.requests == 4
    if closes == "never":
        assert api.closes.connections == 1  # one connection, kept
    else:  # replaced once the server closed it (as often as the machine let it go idle)
        assert api.closes.connections >= 2 and api.closes.closed >= 1


def test_ses_through_connections_closed_while_idle_loses_nobody(
    ses_endpoint: str, aws_test_keys: None, tmp_path: Path
) -> None:
    """SES goes through boto3, whose pool (urllib3) checks a kept connection before reuse."""
    # moto keeps its accounts in this process: a region of our own leaves the other tests'
    # sender identities (and the one unverified) as they expect.
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    boto3.client("sesv2", region_name=REGION, endpoint_url=ses_endpoint).create_email_identity(
        EmailIdentity="tangerangnews.example"
    )
    sent = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    before = len(sent)
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    with ClosingProxy(ses_endpoint, idle=IDLE) as proxy:
        settings = DeliverySettings(
            provider="ses",
            rate=10,
            retries=0,
            connections=1,
            ses=SesSettings(region=REGION, endpoint_url=proxy.url),
        )
        with SesSender(settings.ses, settings) as sender:
            report = send_eml(edition(), READERS[:8], sender, ledger)
    assert report.sent == 8 and not report.unknown and not report.deferred
    assert sorted(m.destinations[0] for m in sent[before:]) == READERS[:8]  # each once
    # Kept connections the proxy closed while idle were replaced (how many: as busy as it is).
    assert proxy.closes.connections >= 2 and proxy.closes.closed >= 1
