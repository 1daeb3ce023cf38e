"""``import_mail``: a mailbox's reports into the suppression list, what the command prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.schedule.config import load_config
from digest.schedule.mailbox import import_mail

from ..delivery.test_due import seed_sending_to


def test_an_import_counts_what_it_read_and_warns_when_nothing_can_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIGEST_UNSUBSCRIBE_SECRET", raising=False)
    config = load_config(seed_sending_to(tmp_path, 9))
    letter = tmp_path / "letter.eml"
    letter.write_bytes(b"From: a@example.org\r\nSubject: hello\r\n\r\nNo report here.\r\n")
    done = import_mail(config, [letter])
    assert (done.reports, done.skipped, done.events, done.unreadable) == (0, 1, 0, 0)
    assert done.complete and done.notes == []
    assert done.warnings == [
        "no send ledger and no DIGEST_UNSUBSCRIBE_SECRET: no report can be matched with "
        "a message this list sent (name the ledger with --ledger)"
    ]
    assert done.summary() == (
        "0 reports (1 other messages skipped): 0 events, 0 new; 0 not ours, 0 unreadable"
    )
    trusting = import_mail(config, [letter], trust_unmatched=True)
    assert trusting.warnings[1].startswith("--trust-unmatched: reports that answer no message")
