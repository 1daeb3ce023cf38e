"""Shared fixtures: a newsletter, an article factory, a network guard and the snapshot switch.

What tests share besides fixtures is in ``helpers.py``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from digest import Article, Newsletter, Quote

from .helpers import ArticleFactory
from .stores import place

__all__ = ["place"]  # each backend for the suppression list and the reader store


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        help="Rewrite tests/snapshots/ from the current output instead of comparing.",
    )


@pytest.fixture
def update_snapshots(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-snapshots"))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Make every socket connection fail, and record the attempts."""
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError(f"network access during a test: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: refuse(None, a))  # type: ignore[arg-type]
    yield attempts


@pytest.fixture
def newsletter() -> Newsletter:
    return Newsletter(
        name="Test Weekly",
        locale="en",
        timezone="UTC",
        sender={"name": "Test Weekly", "address": "news@example.org"},
        contact={
            "postal_address": "1 Example Street\nExampletown",
            "unsubscribe_url": "https://news.weekly.example/unsubscribe?list=weekly&id=7",
        },
        layout={"sections": ["news", "sport"]},
    )


@pytest.fixture
def make_article() -> ArticleFactory:
    counter = iter(range(1, 10_000))

    def make(**fields: Any) -> Article:
        n = next(counter)
        values: dict[str, Any] = {
            "title": f"Story number {n}",
            "url": f"https://example.org/story/{n}",
            "section": "news",
            "published_at": datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
            "summary": f"Summary of story {n}.",
        }
        values.update(fields)
        return Article(**values)

    return make


@pytest.fixture
def quote() -> Quote:
    return Quote(text="Less is more.", author="Ludwig Mies van der Rohe")


@pytest.fixture(scope="module")
def ses_endpoint() -> Iterator[str]:
    """Amazon SES v2 in moto's server mode (a real HTTP endpoint speaking the SES protocol)."""
    moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_test_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The made-up AWS credentials moto accepts (region eu-west-1 unless a test picks one)."""
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
    ):
        monkeypatch.setenv(name, value)
