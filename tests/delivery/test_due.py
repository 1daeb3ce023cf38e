"""``digest send --due``: each reader gets the edition at the send time where they live."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from digest import email_bytes
from digest.delivery.eml import local_send_times, read_recipients, send_eml
from digest.delivery.ledger import SendLedger
from digest.delivery.settings import SmtpSettings
from digest.delivery.smtp import SmtpSender

from ..helpers import EXAMPLES, build_example, run_digest
from ..mailservers import Inbox, start_smtp

# One reader in each of 24 zones, from UTC-11 to UTC+12 (and one with none).
ZONES = [
    "Pacific/Pago_Pago", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles",
    "America/Denver", "America/Chicago", "America/New_York", "America/Halifax",
    "America/Sao_Paulo", "Atlantic/South_Georgia", "Atlantic/Azores", "UTC", "Europe/Berlin",
    "Europe/Athens", "Europe/Moscow", "Asia/Dubai", "Asia/Karachi", "Asia/Dhaka",
    "Asia/Jakarta", "Asia/Shanghai", "Asia/Tokyo", "Australia/Brisbane", "Pacific/Noumea",
    "Pacific/Fiji",
]  # fmt: skip


def test_a_list_across_24_zones_gets_it_at_each_readers_morning_once(tmp_path: Path) -> None:
    raw = email_bytes(build_example("tangerangnews"))  # dated 16 September 2025, 07:00 in Jakarta
    lines = [f"r{n:02}@example.org {zone}" for n, zone in enumerate(ZONES)] + ["nozone@example.org"]
    zones: dict[str, str] = {}
    recipients = read_recipients(lines, "list", zones)
    due = local_send_times(raw, zones, "Asia/Jakarta")
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    sent_at: dict[str, datetime] = {}
    interval = timedelta(minutes=15)
    try:
        with (
            SendLedger(tmp_path / "sends.sqlite3") as ledger,
            SmtpSender(SmtpSettings(host="127.0.0.1", port=port, security="none")) as sender,
        ):
            at = datetime(2025, 9, 15, 6, 0, tzinfo=UTC)  # Fiji's 07:00 is 19:00 UTC the day before
            while at <= datetime(2025, 9, 16, 20, 0, tzinfo=UTC):
                before = len(inbox.received)
                report = send_eml(raw, recipients, sender, ledger, due=due, at=at)
                for _, rcpts, _ in inbox.received[before:]:
                    sent_at[rcpts[0]] = at
                assert report.sent == len(inbox.received) - before
                at += interval
    finally:
        controller.stop()
    assert sorted(sent_at) == sorted(recipients)
    assert len(inbox.received) == len(recipients)  # nobody twice
    for address, moment in sent_at.items():
        local = due(address)
        assert timedelta(0) <= moment - local < interval, (address, local, moment)
        assert local.timetz().replace(tzinfo=None).isoformat() == "07:00:00"
    assert due("nozone@example.org").tzinfo == ZoneInfo("Asia/Jakarta")


def seed_sending_to(folder: Path, port: int, delivery: str = "") -> Path:
    """A copy of the tangerangnews example whose ``[delivery]`` is a local SMTP server."""
    shutil.copytree(EXAMPLES / "tangerangnews", folder / "seed")
    config = folder / "seed" / "newsletter.toml"
    config.write_text(
        config.read_text() + f"\n[delivery]\n{delivery}"
        f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
    )
    return config


def test_send_due_from_cron_says_who_waits(tmp_path: Path) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed_sending_to(tmp_path, port)
        out = tmp_path / "out"
        built = run_digest("build", "--config", config, "--date", "2099-01-05", "--out", out, "-q")
        assert built.returncode == 0, built.stderr
        (eml,) = out.glob("*.eml")
        (tmp_path / "readers.txt").write_text("kim@example.org Asia/Tokyo\nsam@example.org\n")
        # A test list: the example's unsubscribe link is on a placeholder host.
        waiting = run_digest(
            "send", "--config", config, eml, "--recipients", tmp_path / "readers.txt", "--due",
            "--allow-placeholder-links",
        )  # fmt: skip
        assert waiting.returncode == 0, waiting.stderr
        assert "2 readers are not due yet; the next at 2099-01-04 22:00 UTC" in waiting.stdout
        assert inbox.received == []
        plan = run_digest(
            "send", "--config", config, eml, "--recipients", tmp_path / "readers.txt", "--due", "--dry-run",
            "--allow-placeholder-links",
        )  # fmt: skip
        assert plan.returncode == 0, plan.stderr
        assert "  2099-01-04 22:00          1\n  2099-01-05 00:00          1\n" in plan.stdout
        bad = tmp_path / "bad.txt"
        bad.write_text("kim@example.org Mars/Olympus\n")
        refused = run_digest("send", "--config", config, eml, "--recipients", bad, "--due")
        assert refused.returncode == 1 and "bad.txt:1:" in refused.stderr
    finally:
        controller.stop()


def test_personalised_copies_wait_for_their_readers_morning(tmp_path: Path) -> None:
    from digest.delivery.mailing import Mailing
    from digest.delivery.settings import DeliverySettings
    from digest.models import Reader

    mailing = Mailing(build_example("riverside"))  # dated 30 November 2026; 08:30 in London
    readers = [
        Reader(address="tokyo@example.org", timezone="Asia/Tokyo"),
        Reader(address="london@example.org"),  # the newsletter's zone
        Reader(address="la@example.org", timezone="America/Los_Angeles"),
    ]
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    settings = DeliverySettings.model_validate(
        {"smtp": {"host": "127.0.0.1", "port": port, "security": "none"}}
    )
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # after Tokyo's and London's morning, before LA's
    try:
        with SendLedger(tmp_path / "sends.sqlite3") as ledger:
            first = mailing.deliver(readers, settings, ledger, due=True, at=at)
            again = mailing.deliver(readers, settings, ledger, due=True, at=at + timedelta(hours=9))
    finally:
        controller.stop()
    assert first.sent == 2 and first.waiting == 1
    assert first.next_due == datetime(2026, 11, 30, 8, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert again.sent == 1 and again.skipped == 2 and again.waiting == 0
    assert sorted(r[1][0] for r in inbox.received) == [
        "la@example.org",
        "london@example.org",
        "tokyo@example.org",
    ]
