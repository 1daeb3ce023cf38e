"""``digest send`` to the reader store: each reader's own copy, their sections and their links."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.mail.message import list_id
from digest.schedule.config import load_config
from digest.schedule.record import read_record, record_path
from digest.suppression import UnsubscribeTokens

from ..delivery.test_due import seed_sending_to
from ..delivery.test_send_abtest import build
from ..helpers import run_digest
from ..mailservers import Inbox, start_smtp

SECRET = "a-secret-of-sixteen-or-more"
HOST = "https://tangerangnews.example"
SEND = ("send", "--allow-placeholder-links", "--config")


def _tokened(config: Path, preferences: bool = True) -> None:
    """The example's contact with per-reader unsubscribe (and preferences) links."""
    text = config.read_text().replace(
        f'unsubscribe_url = "{HOST}/newsletter/berhenti"',
        f'unsubscribe_url = "{HOST}/unsubscribe/{{token}}"'
        + (f'\npreferences_url = "{HOST}/preferences/{{token}}"' if preferences else ""),
    )
    assert "{token}" in text
    config.write_text(text)


def _add(config: Path, address: str, *options: str) -> None:
    added = run_digest("readers", "add", "--config", config, address, *options)
    assert added.returncode == 0, added.stderr


def _received(inbox: Inbox) -> dict[str, EmailMessage]:
    copies = {}
    for _, recipients, data in inbox.received:
        (address,) = recipients
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        copies[address] = message
    return copies


def _part(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def _send(config: Path, eml: Path) -> str:
    sent = run_digest(*SEND, config, eml, env={"DIGEST_UNSUBSCRIBE_SECRET": SECRET})
    assert sent.returncode == 0, sent.stderr
    return sent.stderr


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    yield inbox, port
    controller.stop()


Built = tuple[Inbox, Path, Path]


@pytest.fixture
def built(tmp_path: Path, smtp: tuple[Inbox, int]) -> Built:
    """The example with per-reader links, built: the inbox it sends to, its config, its .eml."""
    inbox, port = smtp
    config = seed_sending_to(tmp_path, port)
    _tokened(config)
    return inbox, config, build(config, tmp_path / "out")


def test_each_reader_gets_the_sections_they_chose_and_their_own_links(built: Built) -> None:
    inbox, config, eml = built
    assert record_path(eml).is_file()
    _add(config, "ana@example.org", "--section", "OPINI")
    _add(config, "budi@example.org", "--section", "banten", "--section", "PROPERTI")
    _add(config, "citra@example.org")  # every section
    warned = _send(config, eml)
    assert "as it is" not in warned
    copies = _received(inbox)
    assert sorted(copies) == ["ana@example.org", "budi@example.org", "citra@example.org"]
    chosen = {"ana@example.org": {"OPINI"}, "budi@example.org": {"BANTEN", "PROPERTI"}}
    tokens = UnsubscribeTokens(SECRET, list_id(load_config(config).newsletter))
    for address, message in copies.items():
        html, text = _part(message, "html"), _part(message, "plain")
        shown = {s for s in ("BANTEN", "OPINI", "PROPERTI") if f"\n{s}\n" in text}
        assert shown == chosen.get(address, {"BANTEN", "OPINI", "PROPERTI"}), address
        token = tokens.token(address)
        # The footer's two links and List-Unsubscribe carry the reader's own token.
        assert f'href="{HOST}/unsubscribe/{token}"' in html
        assert f'href="{HOST}/preferences/{token}"' in html
        assert f"{HOST}/preferences/{token}" in text
        assert f"<{HOST}/unsubscribe/{token}>" in str(message["List-Unsubscribe"])
        assert "{token}" not in html + text
    # Sent once: a second run sends nobody again.
    _send(config, eml)
    assert len(inbox.received) == 3


def test_readers_who_chose_nothing_get_the_eml_with_their_token(built: Built) -> None:
    inbox, config, eml = built
    _add(config, "dewi@example.org")
    _send(config, eml)
    (message,) = _received(inbox).values()
    token = UnsubscribeTokens(SECRET, list_id(load_config(config).newsletter)).token(
        "dewi@example.org"
    )
    assert f'href="{HOST}/preferences/{token}"' in _part(message, "html")


@pytest.mark.parametrize("damage", ["missing", "another build", "not json"])
def test_without_its_record_the_eml_goes_to_everyone_alike_with_a_warning(
    built: Built, damage: str
) -> None:
    inbox, config, eml = built
    record = record_path(eml)
    if damage == "missing":
        record.unlink()
    elif damage == "another build":
        data = json.loads(record.read_text())
        data["eml_sha256"] = "0" * 64
        record.write_text(json.dumps(data))
    else:
        record.write_text("{")
    _add(config, "ana@example.org", "--section", "OPINI")
    warned = _send(config, eml)
    assert "every reader gets the .eml as it is" in warned, warned
    assert {
        "missing": "is missing",
        "another build": "another build",
        "not json": "cannot be read",
    }[damage] in warned
    (message,) = _received(inbox).values()
    assert "\nBANTEN\n" in _part(message, "plain")  # the whole edition


def test_the_record_reads_back_as_the_digest_the_eml_was_built_from(tmp_path: Path) -> None:
    config = seed_sending_to(tmp_path, 25)
    eml = build(config, tmp_path / "out")
    digest, why = read_record(load_config(config), eml, eml.read_bytes())
    assert why == "" and digest is not None
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert digest.subject == message["Subject"]
    assert digest.text.replace("\r\n", "\n") == _part(message, "plain")
    assert [s.name for s in digest.edition.sections] == ["BANTEN", "OPINI", "PROPERTI"]
    assert digest.edition.lead.title.startswith("COVID-19, Pemkot Tangerang")


def test_per_reader_copies_without_the_secret_are_refused_before_sending(built: Built) -> None:
    inbox, config, eml = built
    _add(config, "ana@example.org", "--section", "OPINI")
    sent = run_digest(*SEND, config, eml, env={"DIGEST_UNSUBSCRIBE_SECRET": ""})
    assert sent.returncode != 0
    assert "DIGEST_UNSUBSCRIBE_SECRET" in sent.stderr
    assert inbox.received == []


@pytest.mark.parametrize(
    "value", [f"{HOST}/preferences", f"{HOST}/p/{{token}}/{{token}}", "http://x.example/{token}"]
)
def test_a_preferences_link_without_one_token_is_refused(tmp_path: Path, value: str) -> None:
    config = seed_sending_to(tmp_path, 25)
    config.write_text(
        config.read_text().replace(
            f'unsubscribe_url = "{HOST}/newsletter/berhenti"',
            f'unsubscribe_url = "{HOST}/newsletter/berhenti"\npreferences_url = "{value}"',
        )
    )
    answer = run_digest("build", "--config", config, "--out", tmp_path / "out", "-q")
    assert answer.returncode != 0
    assert "preferences_url" in answer.stderr and re.search(r"token|https", answer.stderr)


def test_a_csv_of_readers_with_columns_personalises_their_copies(
    tmp_path: Path, built: Built
) -> None:
    inbox, config, eml = built
    readers = tmp_path / "readers.csv"
    readers.write_text(
        "Email Address;Name;Sections;Status\n"
        "eka@example.org;Eka;PROPERTI;subscribed\n"
        "fajar@example.org;Fajar;;subscribed\n"
        "gita@example.org;Gita;OPINI;unsubscribed\n"
    )
    sent = run_digest(
        *SEND, config, eml, "--recipients", readers, env={"DIGEST_UNSUBSCRIBE_SECRET": SECRET}
    )
    assert sent.returncode == 0, sent.stderr
    copies = _received(inbox)
    assert sorted(copies) == ["eka@example.org", "fajar@example.org"]
    shown = {
        address: {s for s in ("BANTEN", "OPINI", "PROPERTI") if f"\n{s}\n" in _part(m, "plain")}
        for address, m in copies.items()
    }
    assert shown == {
        "eka@example.org": {"PROPERTI"},
        "fajar@example.org": {"BANTEN", "OPINI", "PROPERTI"},
    }


def test_a_csv_of_readers_gives_each_row_as_a_reader() -> None:
    from digest.delivery.recipients import read_recipients_csv
    from digest.models import Reader

    data = (
        b"email,name,sections,timezone,fields.plan,status\n"
        b"Ok@Example.org,Ok Oke,OPINI|BANTEN,Asia/Jakarta,gold,subscribed\n"
        b"ok@example.org,Twice,,,,subscribed\n"
        b"gone@example.org,Gone,,,,unsubscribed\n"
    )
    people: dict[str, Reader] = {}
    zones: dict[str, str] = {}
    assert read_recipients_csv(data, "list.csv", zones, people) == ["Ok@example.org"]
    assert people == {
        "ok@example.org": Reader(
            address="Ok@example.org",
            name="Ok Oke",
            sections=("OPINI", "BANTEN"),
            timezone="Asia/Jakarta",
            fields={"plan": "gold"},
        )
    }
    assert zones == {"ok@example.org": "Asia/Jakarta"}
