"""``digest send`` as a face: what a dry run's table says, and what a cron run left for later exits."""

from __future__ import annotations

import re
from pathlib import Path

from ..delivery.test_due import seed_sending_to
from ..delivery.test_send_abtest import build, readers, seed
from ..helpers import ROOT, run_digest
from ..mailservers import Inbox, start_smtp

#: ``digest send`` to a test list: the examples' unsubscribe links are on placeholder hosts.
SEND = ("send", "--allow-placeholder-links", "--config")


def rows(stdout: str) -> dict[str, int]:
    """The report's table: each row's name and count."""
    found = re.findall(r"^([a-z][a-z (),A-D]*?)  +([\d,]+)$", stdout, re.M)
    return {name: int(count.replace(",", "")) for name, count in found}


def test_a_dry_run_table_says_would_send_and_sends_nothing(tmp_path: Path) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed_sending_to(tmp_path, port)
        eml = build(config, tmp_path / "out")
        dry = run_digest(*SEND, config, eml, "--recipients", readers(tmp_path, 3), "--dry-run")
        real = run_digest(*SEND, config, eml, "--recipients", readers(tmp_path, 3))
    finally:
        controller.stop()
    assert dry.returncode == 0, dry.stderr
    assert rows(dry.stdout)["would send"] == 3
    assert "sent" not in rows(dry.stdout)
    assert f"Would send {eml.name} to 3 of 3 recipients" in dry.stdout
    assert real.returncode == 0, real.stderr
    assert rows(real.stdout)["sent"] == 3 and "would send" not in rows(real.stdout)
    assert len(inbox.received) == 3  # the dry run sent none of them


def test_a_dry_run_of_a_subject_test_says_would_send_too(tmp_path: Path) -> None:
    config = seed(tmp_path, '[delivery.smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\n')
    eml = build(config, tmp_path / "out")  # nothing listens on port 9: a dry run connects to none
    dry = run_digest(*SEND, config, eml, "--recipients", readers(tmp_path, 40), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    table = rows(dry.stdout)
    assert table["would send"] == 40
    assert not [name for name in table if name.startswith("sent")]


def test_readers_left_for_later_by_due_exit_0_as_the_cli_page_says(tmp_path: Path) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed_sending_to(tmp_path, port)
        eml = build(config, tmp_path / "out")
        (tmp_path / "list.txt").write_text("kim@example.org Asia/Tokyo\nsam@example.org\n")
        waiting = run_digest(*SEND, config, eml, "--recipients", tmp_path / "list.txt", "--due")
    finally:
        controller.stop()
    assert "2 readers are not due yet" in waiting.stdout and inbox.received == []
    assert waiting.returncode == 0, waiting.stderr
    page = " ".join((ROOT / "docs" / "cli.md").read_text().split())
    assert "readers left for later on purpose (not due yet with `--due`" in page
    assert "are no failure: exit 0" in page
    assert "unknown or left for later" not in page
