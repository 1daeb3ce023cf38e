"""Shared fixtures: example paths, small factories, a network guard and the snapshot switch."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest import (
    Article,
    Digest,
    Newsletter,
    Quote,
    RenderOptions,
    build_digest,
    load_config,
    load_data,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_digest(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m digest ARGS`` in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "digest", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


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
        postal_address="1 Example Street\nExampletown",
        unsubscribe_url="https://example.org/unsubscribe?list=weekly&id=7",
        sections=["news", "sport"],
    )


ArticleFactory = Callable[..., Article]


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


# The examples, each with the date and number their snapshots and screenshots are built for.
EXAMPLE_EDITIONS = {
    "tangerangnews": (datetime(2025, 9, 16).date(), 12),
    "riverside": (datetime(2026, 11, 30).date(), 48),
    # The riverside stories in a design of one's own (examples/own-design, adapted from MJML's).
    "own-design": (datetime(2026, 11, 30).date(), 48),
}
#: The examples built with the default templates (tests of that design's own details).
DEFAULT_DESIGN = ["riverside", "tangerangnews"]


def build_example(
    name: str,
    asset_base_url: str | None = None,
    inliner: str = "premailer",
    locale: str | None = None,
) -> Digest:
    """Build one of the examples exactly as ``digest build`` does (another inliner or locale)."""
    config = load_config(EXAMPLES / name / "newsletter.toml")
    changes: dict[str, str] = {"inliner": inliner}
    if locale is not None:
        changes["locale"] = locale
    config = config.model_copy(update={"newsletter": config.newsletter.model_copy(update=changes)})
    data = load_data(config.data, config.newsletter)
    on, number = EXAMPLE_EDITIONS[name]
    options = RenderOptions(template_dir=config.templates, asset_base_url=asset_base_url)
    return build_digest(
        data.articles,
        config.newsletter,
        on,
        quotes=data.quotes,
        number=number,
        options=options,
        # A local preview's pictures are file: URLs, which the checks rightly refuse to send.
        check=asset_base_url is None,
    )
