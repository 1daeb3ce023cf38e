"""Tracked links in personalised copies: each reader's links signed, the rest as it was."""

from __future__ import annotations

import pickle
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import ValidationError

from digest import build_digest, load_config
from digest.errors import ConfigError
from digest.feeds.data import load_data
from digest.mail.copies import Copies
from digest.mail.tracking import OPEN, LinkTokens, TrackingSettings, edition_hrefs
from digest.models import Reader
from digest.pipeline import Digest

from ..helpers import EXAMPLES

SECRET = "a-secret-for-tracked-copies"
BASE = "https://news.riverside.example"
MOMENT = 1_765_000_000
SECTIONS: list[tuple[str, ...] | None] = [None, ("town",), ("business", "culture")]


def _digest(number: int | None = 7) -> Digest:
    config = load_config(EXAMPLES / "riverside" / "newsletter.toml")
    data = load_data(config.data, config.newsletter)
    return build_digest(
        data.articles, config.newsletter, "2026-11-30", quotes=data.quotes, number=number
    )


@pytest.fixture(scope="module")
def digest() -> Digest:
    return _digest()


def _tokens(opens: bool = False) -> LinkTokens:
    return LinkTokens(SECRET, "riverside.example", BASE, opens=opens, clock=lambda: MOMENT)


def _html(data: bytes) -> str:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def _reader(n: int, **values: Any) -> Reader:
    return Reader(
        address=f"reader{n}@example.org",
        name=f"O'Neil & <Sons> {n}",
        sections=SECTIONS[n % len(SECTIONS)],
        unsubscribe_token=f"token-{n:04d}",
        **values,
    )


@pytest.mark.parametrize("n", range(len(SECTIONS)))
def test_each_link_leads_to_the_editions_link_it_replaces(digest: Digest, n: int) -> None:
    tokens = _tokens(opens=True)
    reader = _reader(n)
    plain = _html(Copies(digest).message_bytes(reader))
    html = _html(Copies(digest, clicks=tokens).message_bytes(reader))
    hrefs, before, after = edition_hrefs(digest.html), edition_hrefs(plain), edition_hrefs(html)
    assert len(before) == len(after)
    tracked = 0
    for was, now in zip(before, after, strict=True):
        if not now.startswith(f"{BASE}/c/"):
            assert now == was and (not was.startswith("http") or "unsubscribe" in was)
            continue
        click = tokens.read(now.removeprefix(f"{BASE}/c/"))
        assert click is not None
        assert (click.edition, click.address, click.sent) == (7, reader.address, MOMENT)
        assert hrefs[click.index] == was
        tracked += 1
    assert tracked >= 5
    (pixel,) = re.findall(rf'<img src="{BASE}/o/([^"]+)\.gif"', html)
    opened = tokens.read(pixel)
    assert opened is not None and opened.index == OPEN
    # Only the HTML part: the text and the headers are as they were.
    assert html.replace(re.findall(r"<img src=\"[^\"]+/o/[^>]+>", html)[0], "") != plain


def test_the_fast_path_the_general_path_and_from_scratch_agree(digest: Digest) -> None:
    copies = Copies(digest, clicks=_tokens(opens=True))
    for n in range(6):
        reader = _reader(n)
        _, html, _ = copies.render(reader)
        assert _html(copies.message_bytes(reader)) == html.replace("\r\n", "\n")
        assert copies.from_scratch(reader)[1] == html
        assert _html(copies.message(reader).as_bytes()) == _html(copies.message_bytes(reader))


def test_a_reader_who_said_no_gets_the_links_as_they_are(digest: Digest) -> None:
    reader = _reader(0, fields={"tracking": "off"})
    tracked = Copies(digest, clicks=_tokens(opens=True))
    assert _html(tracked.message_bytes(reader)) == _html(Copies(digest).message_bytes(reader))
    assert tracked.from_scratch(reader) == Copies(digest).from_scratch(reader)


def test_unsubscribe_header_and_text_are_untouched(digest: Digest) -> None:
    reader = _reader(0)
    plain = message_from_bytes(Copies(digest).message_bytes(reader), policy=policy.default)
    data = Copies(digest, clicks=_tokens()).message_bytes(reader)
    tracked = message_from_bytes(data, policy=policy.default)
    assert tracked["List-Unsubscribe"] == plain["List-Unsubscribe"]
    text = tracked.get_body(("plain",))
    was = plain.get_body(("plain",))
    assert text is not None and was is not None
    assert text.get_content() == was.get_content()
    assert "/c/" not in text.get_content()


def test_copies_with_tracking_travel_to_workers(digest: Digest) -> None:
    copies = Copies(digest, clicks=_tokens())
    assert copies.key != Copies(digest).key
    again = pickle.loads(pickle.dumps(Copies(digest, clicks=LinkTokens(SECRET, "x", BASE))))
    assert again.clicks is not None and again.clicks.base_url == BASE


def test_tracking_needs_the_editions_number() -> None:
    with pytest.raises(ConfigError, match="number"):
        Copies(_digest(number=None), clicks=_tokens())


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"clicks": True}, "base_url"),
        ({"opens": True}, "base_url"),
        ({"clicks": True, "base_url": "http://news.example.org"}, "https"),
        ({"clicks": True, "base_url": "https://news.example.org/?a=1"}, "https"),
        ({"keep_days": 0}, "keep_days"),
        ({"click": True}, "click"),
    ],
)
def test_tracking_settings_refuse_what_cannot_work(table: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        TrackingSettings.model_validate(table)


def test_tracking_is_off_by_default_and_needs_the_secret() -> None:
    assert TrackingSettings().tokens("list", {"DIGEST_UNSUBSCRIBE_SECRET": SECRET}) is None
    settings = TrackingSettings(clicks=True, base_url=BASE)
    with pytest.raises(ConfigError, match="DIGEST_UNSUBSCRIBE_SECRET"):
        settings.tokens("list", {})
    made = settings.tokens("list", {"DIGEST_UNSUBSCRIBE_SECRET": SECRET})
    assert made is not None and made.base_url == BASE and SECRET not in repr(made)


@pytest.mark.parametrize("local", ["a", "reader.with.dots", "x" * 64, ".".join(["ab"] * 21)])
def test_links_of_any_length_are_written_whole(digest: Digest, local: str) -> None:
    """A tracked URL is cut into quoted-printable lines however long the address makes it."""
    tokens = _tokens()
    reader = Reader(address=f"{local}@example.org")
    html = _html(Copies(digest, clicks=tokens).message_bytes(reader))
    links = [h for h in edition_hrefs(html) if h.startswith(f"{BASE}/c/")]
    assert links
    for link in links:
        click = tokens.read(link.removeprefix(f"{BASE}/c/"))
        assert click is not None and click.address == reader.address
