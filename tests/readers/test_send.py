"""``digest send`` mails the reader store: its subscribed readers, never the pending or paused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.errors import UsageError
from digest.readers import Consent
from digest.schedule.config import load_config, reader_store
from digest.schedule.sending import SendRequest, send_edition

from ..delivery.test_due import seed_sending_to
from ..delivery.test_send_abtest import build
from ..helpers import run_digest
from ..mailservers import Inbox, start_smtp

SEND = ("send", "--allow-placeholder-links", "--config")
SECRET = "a-secret-of-sixteen-or-more"


def _add(config: Path, address: str, *options: str) -> None:
    added = run_digest("readers", "add", "--config", config, address, *options)
    assert added.returncode == 0, added.stderr


def _to(inbox: Inbox) -> list[str]:
    return sorted(address for _, rcpts, _ in inbox.received for address in rcpts)


def test_send_without_a_file_mails_the_stores_subscribed_readers(tmp_path: Path) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed_sending_to(tmp_path, port)
        eml = build(config, tmp_path / "out")
        for address in ("Ana@Example.org", "budi@example.org", "citra@example.org"):
            _add(config, address)
        with reader_store(load_config(config)) as store:
            store.add("dewi@example.org")  # no consent: pending
            store.pause("budi@example.org", datetime.now(UTC) + timedelta(days=14))
        sent = run_digest(*SEND, config, eml)
        again = run_digest(*SEND, config, eml)
    finally:
        controller.stop()
    assert sent.returncode == 0, sent.stderr
    # Sent as written (the local part's case kept); the paused and the pending are not mailed.
    assert _to(inbox) == ["Ana@example.org", "citra@example.org"]
    assert "to 2 of 2 recipients" in sent.stdout
    assert again.returncode == 0 and len(inbox.received) == 2  # the ledger: never twice


def test_an_unsubscribe_in_the_store_leaves_a_reader_of_a_file_out(tmp_path: Path) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed_sending_to(tmp_path, port)
        eml = build(config, tmp_path / "out")
        listed = tmp_path / "list.txt"
        listed.write_text("ana@example.org\nbudi@example.org\n")
        _add(config, "budi@example.org")
        with reader_store(load_config(config)) as store:
            store.unsubscribe("BUDI@example.org", source="a reply")
        sent = run_digest(*SEND, config, eml, "--recipients", listed)
    finally:
        controller.stop()
    assert sent.returncode == 0, sent.stderr
    assert _to(inbox) == ["ana@example.org"]


def test_require_consent_mails_only_what_the_store_holds_consent_for(tmp_path: Path) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed_sending_to(tmp_path, port)
        config.write_text(config.read_text() + "\n[readers]\nrequire_consent = true\n")
        eml = build(config, tmp_path / "out")
        listed = tmp_path / "list.txt"
        listed.write_text("".join(f"r{n}@example.org\n" for n in range(8)))
        _add(config, "R1@example.org", "--source", "signup sheet, May 2026")
        sent = run_digest(*SEND, config, eml, "--recipients", listed)
    finally:
        controller.stop()
    assert sent.returncode == 0, sent.stderr
    assert _to(inbox) == ["r1@example.org"]
    warning = sent.stderr.splitlines()[0]
    assert warning.startswith(
        "digest: warning: left out 7 address(es) the reader store holds no consent for "
        "([readers] require_consent): r0@example.org, r2@example.org, r3@example.org, "
        "r4@example.org, r5@example.org and 2 more"
    ), warning


def test_a_forgotten_unsubscribed_address_stays_out_of_a_file_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed_sending_to(tmp_path, port)
        eml = build(config, tmp_path / "out")
        _add(config, "ana@example.org")
        with reader_store(load_config(config)) as store:
            store.unsubscribe("ana@example.org")
        forgot = run_digest("readers", "forget", "--config", config, "ana@example.org")
        assert forgot.returncode == 0, forgot.stderr
        listed = tmp_path / "list.txt"
        listed.write_text("Ana@example.org\nbudi@example.org\n")
        sent = run_digest(*SEND, config, eml, "--recipients", listed)
    finally:
        controller.stop()
    assert sent.returncode == 0, sent.stderr
    assert _to(inbox) == ["budi@example.org"]
    shown = run_digest("readers", "show", "--config", config, "ana@example.org")
    assert "ana@example.org" not in shown.stdout  # erased: only a keyed hash is kept


def test_an_empty_store_and_no_file_is_a_usage_error_naming_the_commands(tmp_path: Path) -> None:
    config = seed_sending_to(tmp_path, 9)
    eml = build(config, tmp_path / "out")
    with pytest.raises(UsageError, match=r"digest readers add or import"):
        send_edition(config, eml, SendRequest(allow_placeholder_links=True))
    refused = run_digest(*SEND, config, eml)
    assert refused.returncode == 2
    assert "it holds no subscribed reader" in refused.stderr


def test_the_store_gives_each_reader_their_time_zone_for_due(tmp_path: Path) -> None:
    config = seed_sending_to(tmp_path, 9)
    eml = build(config, tmp_path / "out")
    with reader_store(load_config(config)) as store:
        now = datetime.now(UTC)
        store.add("kim@example.org", Consent(now, "form", "test"), timezone="Asia/Tokyo")
        store.add("sam@example.org", Consent(now, "form", "test"))
    outcome = send_edition(
        config, eml, SendRequest(due=True, dry_run=True, allow_placeholder_links=True)
    )
    assert outcome.recipients == 2
    # Each at the newsletter's send time where they live: Tokyo's morning comes first.
    assert outcome.plan == "  2099-01-04 22:00          1\n  2099-01-05 00:00          1"
