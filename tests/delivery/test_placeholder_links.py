"""``digest send`` refuses an edition whose unsubscribe link is a placeholder: nobody could leave.

``digest init``'s ``https://example.org/unsubscribe`` once went to a whole list with exit 0 (the
build only warned). A send to a list now stops first (exit 8, one line naming the link), a dry
run too; ``--allow-placeholder-links`` sends to a test list anyway, and a proof (``--to``) goes
to the editor with a warning.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest import email_bytes
from digest.delivery.eml import STARTER_UNSUBSCRIBE_URL, placeholder_link, placeholder_links
from digest.errors import PlaceholderLinkError

from ..helpers import build_example, run_command, run_digest
from ..mailservers import Inbox, start_smtp

#: A list's own unsubscribe page on a public host.
REAL = "https://news.tangerang-weekly.co.id/unsubscribe"

PLACEHOLDERS = [
    STARTER_UNSUBSCRIBE_URL,
    "https://example.org/unsubscribe",
    "https://EXAMPLE.COM./u",
    "https://www.example.net/newsletter/leave?id=7",
    "https://news.tangerangnews.example/u/%7Btoken%7D",
    "https://leave.invalid/u",
    "https://staging.test/u",
    "https://localhost/unsubscribe/{token}",
    "https://localhost:8025/unsubscribe/%7Btoken%7D",
    "https://app.localhost/u",
    "https://127.0.0.1:8025/unsubscribe/x",
    "https://127.8.9.10/u",
    "https://127.1/u",
    "https://2130706433/u",
    "https://0x7f.1/u",
    "https://[::1]:8025/u",
    "https://[::ffff:127.0.0.1]/u",
    "https://0.0.0.0/u",
    "https:///unsubscribe",
    "https://[::1/u",
    "mailto:leave@example.org?subject=unsubscribe",
    "mailto:unsubscribe@news.test",
    "mailto:nobody",
]
PUBLIC = [
    REAL,
    "https://examples.org/u",
    "https://myexample.com/u",
    "https://example.org.news.co.id/u",
    "https://test.com/u",
    "https://testing.org/u",
    "https://invalid.news/u",
    "https://93.184.215.14/u",
    "https://[2606:4700::1111]/u",
    "https://news.example-weekly.org/u/%7Btoken%7D",
    "mailto:leave@news.tangerang-weekly.co.id?subject=unsubscribe",
]


@pytest.mark.parametrize("link", PLACEHOLDERS)
def test_placeholder_links(link: str) -> None:
    assert placeholder_link(link)


@pytest.mark.parametrize("link", PUBLIC)
def test_public_links(link: str) -> None:
    assert not placeholder_link(link)


_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(st.lists(_LABEL, max_size=3), st.sampled_from(["example.org", "example.com", "example.net",
       "example", "invalid", "test", "localhost"]), st.sampled_from(["", "/u", "/u/%7Btoken%7D"]))  # fmt: skip
def test_every_name_under_a_reserved_one_is_a_placeholder(
    labels: list[str], reserved: str, path: str
) -> None:
    host = ".".join([*labels, reserved])
    assert placeholder_link(f"https://{host}{path}")
    assert placeholder_link(f"https://{host.upper()}.{path}")
    assert placeholder_link(f"mailto:leave@{host}")


@given(st.lists(_LABEL, min_size=1, max_size=3), st.sampled_from(["org", "com", "co.id", "de"]))
def test_names_under_a_public_suffix_are_not(labels: list[str], suffix: str) -> None:
    host = ".".join([*labels, suffix])
    if host.removesuffix(".org").removesuffix(".com").endswith("example") and suffix in (
        "org",
        "com",
    ):  # example.org, example.com and their subdomains are placeholders
        return
    assert not placeholder_link(f"https://{host}/u")


def test_the_links_of_a_built_edition_are_its_list_unsubscribe_uris() -> None:
    raw = email_bytes(build_example("tangerangnews", settings={"unsubscribe_url": REAL}))
    assert placeholder_links(raw, "https://example.org/unsubscribe") == []
    raw = email_bytes(
        build_example(
            "tangerangnews",
            settings={"unsubscribe_url": REAL, "unsubscribe_mailto": "leave@example.org"},
        )
    )
    assert placeholder_links(raw) == ["mailto:leave@example.org?subject=unsubscribe"]
    # A message without List-Unsubscribe carries the config's link in its footer.
    plain = b"From: news@news.org\r\nSubject: s\r\n\r\nbody\r\n"
    assert placeholder_links(plain, STARTER_UNSUBSCRIBE_URL) == [STARTER_UNSUBSCRIBE_URL]
    assert placeholder_links(plain, REAL) == [] and placeholder_links(plain) == []


def test_the_error_has_its_own_exit_status() -> None:
    assert PlaceholderLinkError.exit_code == 8
    assert len({PlaceholderLinkError.exit_code, *range(1, 8), 70}) == 9


ARTICLES = {
    "articles": [
        {
            "title": f"Story {n}",
            "url": f"https://news.tangerang-weekly.co.id/{n}",
            "section": "News",
            "published_at": "2026-11-20T12:00:00+00:00",
            "summary": "What happened this week.",
        }
        for n in range(3)
    ]
}


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    kept = Inbox()
    controller, port = start_smtp(kept)
    yield kept, port
    controller.stop()


def starter(folder: Path, port: int) -> Path:
    """``digest init``'s config as written, its feed swapped for a local file and its SMTP."""
    written = run_digest("init", "newsletter.toml", cwd=folder)
    assert written.returncode == 0, written.stderr
    config = folder / "newsletter.toml"
    text = config.read_text()
    assert f'unsubscribe_url = "{STARTER_UNSUBSCRIBE_URL}"' in text
    text = text.replace(
        'url = "https://example.org/feed.xml"', 'path = "articles.json"\nformat = "json"'
    )
    text = text.replace('host = "smtp.example.org"\nport = 587\nsecurity = "starttls"', (
        f'host = "127.0.0.1"\nport = {port}\nsecurity = "none"'
    ))  # fmt: skip
    config.write_text(text)
    (folder / "articles.json").write_text(json.dumps(ARTICLES))
    (folder / "readers.txt").write_text("".join(f"r{n}@example.org\n" for n in range(50)))
    return config


def build(folder: Path) -> Path:
    built = run_digest("build", "--config", "newsletter.toml", "--date", "2026-11-23", cwd=folder)
    assert built.returncode == 0, built.stderr
    assert "placeholder" in built.stderr  # the build only warns
    (eml,) = (folder / "out").glob("*.eml")
    return eml


def send(folder: Path, eml: Path, *args: str) -> tuple[int, list[str], str]:
    result = run_command("send", "--config", "newsletter.toml", eml, *args, cwd=folder)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stderr.splitlines(), result.stdout


def ledger_rows(folder: Path) -> int:
    found = list(folder.glob("*.sends.sqlite3"))
    if not found:
        return 0
    with sqlite3.connect(found[0]) as db:
        return int(db.execute("SELECT count(*) FROM deliveries").fetchone()[0])


def test_the_starter_configs_link_reaches_nobody(tmp_path: Path, inbox: tuple[Inbox, int]) -> None:
    received, port = inbox
    starter(tmp_path, port)
    eml = build(tmp_path)
    readers = ("--recipients", "readers.txt")

    for extra in ((), ("--dry-run",)):
        code, lines, _ = send(tmp_path, eml, *readers, *extra)
        assert code == 8, lines
        assert len(lines) == 1 and lines[0].startswith("digest: error: "), lines
        assert f"the unsubscribe link '{STARTER_UNSUBSCRIBE_URL}' is a placeholder" in lines[0]
        assert "--allow-placeholder-links" in lines[0]
    assert received.received == [] and ledger_rows(tmp_path) == 0  # nothing sent or claimed

    code, lines, _ = send(tmp_path, eml, "--to", "editor@example.org")  # a proof: the editor's
    assert code == 0 and len(received.received) == 1
    assert len(lines) == 1 and lines[0].startswith("digest: warning: ") and "a proof" in lines[0]

    code, lines, out = send(tmp_path, eml, *readers, "--allow-placeholder-links")  # a test list
    assert code == 0, lines
    assert len(lines) == 1 and "--allow-placeholder-links" in lines[0]
    assert "Sent edition-2026-11-23.eml to 50 of 50 recipients" in out
    assert len(received.received) == 51 and ledger_rows(tmp_path) == 50


def test_a_real_link_sends_without_the_flag(tmp_path: Path, inbox: tuple[Inbox, int]) -> None:
    received, port = inbox
    config = starter(tmp_path, port)
    config.write_text(config.read_text().replace(STARTER_UNSUBSCRIBE_URL, REAL))
    built = run_digest("build", "--config", "newsletter.toml", "--date", "2026-11-23", cwd=tmp_path)
    assert built.returncode == 0 and "placeholder" not in built.stderr, built.stderr
    (eml,) = (tmp_path / "out").glob("*.eml")
    code, lines, out = send(tmp_path, eml, "--recipients", "readers.txt")
    assert code == 0 and lines == [], lines
    assert "Sent edition-2026-11-23.eml to 50 of 50 recipients" in out
    assert len(received.received) == 50


@pytest.mark.parametrize(
    ("settings", "shown"),
    [
        # digest serve on this machine, each reader's signed link: nobody outside reaches it.
        (
            {"unsubscribe_url": "https://localhost:8025/unsubscribe/{token}"},
            "https://localhost:8025/unsubscribe/%7Btoken%7D",
        ),
        ({"unsubscribe_url": "https://127.0.0.1/unsubscribe"}, "https://127.0.0.1/unsubscribe"),
        ({"unsubscribe_url": "https://staging.test/u"}, "https://staging.test/u"),
        # A real page, but the mailto beside it goes nowhere.
        (
            {"unsubscribe_url": REAL, "unsubscribe_mailto": "leave@example.com"},
            "mailto:leave@example.com?subject=unsubscribe",
        ),
    ],
)
def test_any_placeholder_in_the_emls_list_unsubscribe_is_refused(
    tmp_path: Path, inbox: tuple[Inbox, int], settings: dict[str, str], shown: str
) -> None:
    received, port = inbox
    config = starter(tmp_path, port)
    config.write_text(config.read_text().replace(STARTER_UNSUBSCRIBE_URL, REAL))  # fixed since
    eml = tmp_path / "edition.eml"
    eml.write_bytes(email_bytes(build_example("tangerangnews", settings=settings)))
    code, lines, _ = send(tmp_path, eml, "--recipients", "readers.txt")
    assert code == 8 and len(lines) == 1, lines
    assert f"the unsubscribe link '{shown}' is a placeholder" in lines[0]
    assert received.received == [] and ledger_rows(tmp_path) == 0
