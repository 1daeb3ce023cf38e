"""Never twice, none lost: kills, lost answers and reruns mixed by hypothesis, for every sender.

Each example sends one edition to a list (growing from run to run) through a real server
(aiosmtpd for SMTP, the Postmark and Resend stand-ins, moto's SES behind a proxy that loses
answers), with faults drawn for each run and, sometimes, the run killed before or after a
batch was handed over (its receipts never recorded, as with ``kill -9``). After every run:
nobody got the edition twice, and every ledger row is true. After a last run without faults:
everybody either got it or is reported as unknown.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest import email_bytes
from digest.delivery.eml import send_eml
from digest.delivery.ledger import SendLedger
from digest.delivery.providers import make_sender
from digest.delivery.senders import Outgoing, Receipt, Sender
from digest.delivery.settings import DeliverySettings, SesSettings

from ..helpers import build_example

pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed")
pytest.importorskip("jsonschema", reason="jsonschema checks the requests")

from ..mailservers import FlakyInbox, LosingProxy, ProviderApi, start_smtp

pytestmark = pytest.mark.slow

FAULTS = {
    "smtp": ["drop", "silent"],
    "postmark": [429, 500, "drop", "taken-500", "taken-504"],
    "resend": [409, 429, 500, 503, "drop", "taken-500", "taken-504"],
    "ses": ["drop", "taken-500"],
}
_EXAMPLES = itertools.count()
# moto keeps one SES backend per region in this process: this module's verified sender must
# not reach the provider tests, which expect an unverified one.
REGION = "eu-north-1"


class Killed(BaseException):
    """The process died: nothing after this point runs, nothing more is recorded."""


class Killing:
    """A sender that dies at its ``at``-th batch, before or after handing it over."""

    def __init__(self, sender: Sender, at: int | None, after: bool) -> None:
        self.sender, self.at, self.after, self.calls = sender, at, after, 0
        self.batch_size = sender.batch_size

    def send(self, batch: Sequence[Outgoing]) -> list[Receipt]:
        self.calls += 1
        if self.calls == self.at and not self.after:
            raise Killed
        receipts = self.sender.send(batch)
        if self.calls == self.at:
            raise Killed
        return receipts

    def close(self) -> None:
        self.sender.close()


@functools.cache
def edition_bytes() -> bytes:
    return email_bytes(build_example("tangerangnews"))


@pytest.fixture(scope="module")
def ses_sender_identity(ses_endpoint: str) -> str:
    """The example's sender domain verified in moto's SES, in a region of this module's own."""
    import boto3

    client = boto3.client(
        "sesv2",
        region_name=REGION,
        endpoint_url=ses_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_email_identity(EmailIdentity="tangerangnews.example")
    return ses_endpoint


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, aws_test_keys: None) -> None:
    monkeypatch.setenv("POSTMARK_SERVER_TOKEN", "test-key")
    monkeypatch.setenv("RESEND_API_KEY", "test-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


class Provider:
    """One provider's server for one example: set its faults, read what it received."""

    def __init__(self, name: str, ses_endpoint: str) -> None:
        self.name = name
        self.ses_endpoint = ses_endpoint
        self.inbox: FlakyInbox | None = None

    def __enter__(self) -> Provider:
        if self.name == "smtp":
            self.inbox = FlakyInbox(set())
            self.controller, port = start_smtp(self.inbox)
            self.settings = {"smtp": {"host": "127.0.0.1", "port": port, "security": "none"}}
        elif self.name == "ses":
            self.proxy = LosingProxy(self.ses_endpoint).__enter__()
            ses = SesSettings(region=REGION, endpoint_url=self.proxy.url)
            self.settings = {"provider": "ses", "ses": ses.model_dump()}
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.ses.models import ses_backends

            self.ses_sent = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
        else:
            self.api = ProviderApi(self.name).__enter__()
            self.settings = {"provider": self.name, self.name: {"base_url": self.api.url}}
        return self

    def __exit__(self, *exc: object) -> None:
        if self.name == "smtp":
            self.controller.stop()
        elif self.name == "ses":
            self.proxy.__exit__()
        else:
            self.api.__exit__()

    def fault(self, faults: list[Any]) -> None:
        if self.inbox is not None:
            # Faults at the next messages: 421 before taking one, or its reply lost after.
            start = self.inbox.count
            self.inbox.drops = {start + 1 + n for n, f in enumerate(faults) if f == "drop"}
            self.inbox.silent = {start + 1 + n for n, f in enumerate(faults) if f == "silent"}
        elif self.name == "ses":
            self.proxy.faults = list(faults)
        else:
            self.api.faults = list(faults)

    def received(self, prefix: str) -> Counter[str]:
        if self.inbox is not None:
            got = [r for _, rcpts, _ in self.inbox.received for r in rcpts]
        elif self.name == "ses":
            got = [m.destinations[0] for m in self.ses_sent]
        else:
            got = [m.get("To") or m["to"][0] for m in self.api.received]
        return Counter(a for a in got if a.startswith(prefix))

    def sender(self) -> Sender:
        settings = DeliverySettings.model_validate(
            {**self.settings, "backoff": 0, "retries": 2, "batch_size": 4, "connections": 1}
        )
        return make_sender(settings)


def check_ledger(ledger: SendLedger, edition: str, received: Counter[str]) -> dict[str, str]:
    """Every row is true of what the server received; nobody received it twice."""
    assert not received or max(received.values()) == 1, f"sent twice: {received}"
    states = {row.address: row.state for row in ledger.rows(edition)}
    for address, state in states.items():
        if state == "sent":
            assert received[address] == 1, f"{address}: recorded as sent, never received"
        elif state == "refused":
            assert received[address] == 0, f"{address}: recorded as refused, but received"
    for address in received:
        assert states.get(address) in ("sent", "unknown", "pending"), (
            f"{address} was received but the ledger says {states.get(address)!r}"
        )
    return states


run = st.tuples(
    st.integers(min_value=1, max_value=12),  # how many readers the list has by then
    st.integers(min_value=0, max_value=3),  # how many faults
    st.integers(min_value=0, max_value=10**6),  # which faults
    st.one_of(st.none(), st.tuples(st.integers(1, 3), st.booleans())),  # a kill: batch, after
)


@pytest.mark.parametrize("provider", list(FAULTS))
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(runs=st.lists(run, min_size=1, max_size=3))
def test_kills_lost_answers_and_reruns_never_send_twice_and_lose_nobody(
    provider: str,
    runs: list[tuple[int, int, int, tuple[int, bool] | None]],
    ses_sender_identity: str,
    credentials: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    raw = edition_bytes()
    prefix = f"x{next(_EXAMPLES)}-"
    ledger = SendLedger(tmp_path_factory.mktemp("ledger") / "sends.sqlite3")
    edition = "TangerangNews 2025-09-16 #12"
    size = 0
    with Provider(provider, ses_sender_identity) as server:
        for readers, count, choice, kill in runs:
            size = max(size, readers)
            kinds = FAULTS[provider]
            server.fault([kinds[(choice >> (3 * n)) % len(kinds)] for n in range(count)])
            sender = Killing(server.sender(), *(kill or (None, False)))
            addresses = [f"{prefix}{n}@example.org" for n in range(size)]
            try:
                send_eml(raw, addresses, sender, ledger)
            except Killed:
                pass
            finally:
                sender.close()
            check_ledger(ledger, edition, server.received(prefix))
        server.fault([])
        with server.sender() as last:  # type: ignore[attr-defined]
            report = send_eml(raw, addresses, last, ledger)
        received = server.received(prefix)
        states = check_ledger(ledger, edition, received)
    assert set(states) == set(addresses), "an address has no row"
    missing = {a for a in addresses if not received[a]}
    assert missing <= {a for a, s in states.items() if s in ("unknown", "pending")}
    assert missing <= set(report.unknown), "a reader who did not get it was not reported"
    ledger.close()
