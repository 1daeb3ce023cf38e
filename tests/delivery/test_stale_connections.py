"""Stale kept-alive connections: stand-ins of Postmark's and Resend's batch APIs that close a
connection without a word (after it idles, or after a few requests), and ``digest send`` run as
its own process against them. Every reader is received exactly once and none is left unknown;
a request the server read and then dropped unanswered is still unknown, never sent again."""

from __future__ import annotations

import os
import select
import sqlite3
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from digest.delivery import http as http_api
from digest.delivery.eml import send_eml
from digest.delivery.ledger import SendLedger
from digest.delivery.providers import make_sender
from digest.delivery.settings import DeliverySettings

from ..helpers import EXAMPLES, build_example, run_command
from ..mailservers import ProviderApi

pytest.importorskip("jsonschema", reason="jsonschema checks the requests")

PROVIDERS = ["postmark", "resend"]
READERS = [f"reader{n:02}@example.org" for n in range(30)]
KEYS = {"POSTMARK_SERVER_TOKEN": "test-key", "RESEND_API_KEY": "test-key"}
#: How long the stand-in keeps an idle connection open; ``digest send`` waits about 150 ms
#: between batches (3 messages at 20 a second), so every connection has closed before reuse.
IDLE = 0.02


class ClosingApi(ProviderApi):
    """A provider stand-in that closes kept-alive connections without a ``Connection: close``:
    after ``idle`` seconds with no request, or right after ``after`` requests on one."""

    def __init__(self, provider: str, idle: float | None = None, after: int | None = None) -> None:
        self.idle, self.after = idle, after
        #: Connections accepted, and those the stand-in closed while the client kept them.
        self.connections = self.closed = 0
        super().__init__(provider)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self
        base: Any = super()._handler()

        class Handler(base):  # type: ignore[misc]
            served = 0

            def setup(self) -> None:
                super().setup()
                with api.lock:
                    api.connections += 1

            def handle_one_request(self) -> None:
                if self.served and api.idle is not None:
                    ready, _, _ = select.select([self.connection], [], [], api.idle)
                    if not ready:
                        self.close_connection = True
                        with api.lock:
                            api.closed += 1
                        return
                super().handle_one_request()
                self.served += 1
                if api.after is not None and self.served == api.after and not self.close_connection:
                    self.close_connection = True  # closed right after the answer, unannounced
                    with api.lock:
                        api.closed += 1

        return Handler


def received(api: ProviderApi) -> Counter[str]:
    """How many times the stand-in took each address."""
    return Counter(item.get("To") or item["to"][0] for item in api.received)


def send(api: ProviderApi, folder: Path, **delivery: Any) -> tuple[int, str, dict[str, str]]:
    """``digest send`` of an edition to ``READERS`` through ``api``, in a process of its own:
    the exit status, what it printed and the ledger's state for each reader."""
    settings = {"batch_size": 3, "rate": 20, "connections": 1, "retries": 0, **delivery}
    text = (EXAMPLES / "tangerangnews" / "newsletter.toml").read_text()
    text = text.replace('data = "edition.json"', "").replace('assets = "images"', "")
    text += "\n[delivery]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    text += f'provider = "{api.provider}"\n'
    text += f'[delivery.{api.provider}]\nbase_url = "{api.url}"\n'
    (folder / "newsletter.toml").write_text(text)
    (folder / "edition.eml").write_bytes(build_example("tangerangnews").as_bytes())
    (folder / "readers.txt").write_text("\n".join(READERS) + "\n")
    result = run_command(
        "send", "--config", folder / "newsletter.toml", folder / "edition.eml",
        "--recipients", folder / "readers.txt", "--quiet", env={**os.environ, **KEYS},
    )  # fmt: skip
    (ledger,) = folder.glob("*.sends.sqlite3")
    with sqlite3.connect(ledger) as db:
        states = dict(db.execute("SELECT address, state FROM deliveries").fetchall())
    return result.returncode, result.stdout + result.stderr, states


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
    # The stand-in closed every connection under the sender: a batch each, or two each.
    assert api.connections == (10 if closes == "idle" else 5)
    assert api.closed >= api.connections - 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_request_read_and_then_dropped_unanswered_stays_unknown(
    provider: str, tmp_path: Path
) -> None:
    # The second batch goes on the kept connection; the stand-in takes it and hangs up.
    with ClosingApi(provider) as api:
        api.faults = ["answer", "drop"]
        status, output, states = send(api, tmp_path)
    assert status == 6, output
    unknown = sorted(a for a, s in states.items() if s == "unknown")
    assert unknown == READERS[3:6] and "digest: unknown: reader03@example.org" in output
    assert received(api) == Counter(READERS)  # the stand-in took them: nobody twice
    assert api.requests == 10 and api.connections == 2  # not sent again


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_close_after_the_check_fails_the_write_and_goes_again_on_a_fresh_connection(
    provider: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The close lands between the check and the request (a race that cannot be timed from
    outside): here the check is skipped, so the request meets a connection already closed.
    Its body cannot be written whole, so the server never read it: it goes again, once."""
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(http_api, "_closed_while_idle", lambda sock: False, raising=False)
    raw = build_example("tangerangnews").as_bytes()
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    table: dict[str, Any] = {"base_url": ""}
    with ClosingApi(provider, after=1) as api:
        table["base_url"] = api.url
        settings = DeliverySettings.model_validate(
            {"provider": provider, provider: table, "batch_size": 3, "connections": 1,
             "retries": 0, "rate": 20}
        )  # fmt: skip
        with make_sender(settings) as sender:
            report = send_eml(raw, READERS[:12], sender, ledger)
    assert report.sent == 12 and not report.unknown and not report.deferred
    assert received(api) == Counter(READERS[:12]) and api.requests == 4
    assert api.connections == 4
