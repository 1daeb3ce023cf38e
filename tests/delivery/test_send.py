"""``digest send`` against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from digest import email_bytes
from digest.delivery.eml import read_recipients, send_eml
from digest.delivery.ledger import SendLedger
from digest.delivery.settings import SmtpSettings
from digest.delivery.smtp import SmtpSender

from ..helpers import EXAMPLES, build_example, digest_command, run_digest

pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed")

from ..mailservers import BusyInbox, FlakyInbox, Inbox, free_port, start_smtp


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller, port = start_smtp(inbox, login=True)
    yield inbox, port
    controller.stop()


@pytest.fixture
def eml(tmp_path: Path) -> Path:
    path = tmp_path / "edition.eml"
    path.write_bytes(email_bytes(build_example("tangerangnews")))
    return path


def config_for(folder: Path, port: int) -> Path:
    text = (EXAMPLES / "tangerangnews" / "newsletter.toml").read_text()
    text = text.replace('data = "edition.json"', "").replace('assets = "images"', "")
    text += f'\n[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
    (folder / "newsletter.toml").write_text(text)
    return folder / "newsletter.toml"


def test_send_to_each_recipient(smtp_server: tuple[Inbox, int], eml: Path) -> None:
    inbox, port = smtp_server
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none")
    with SmtpSender(settings) as sender:
        report = send_eml(
            eml.read_bytes(), ["a@example.org", "refused@example.org", "b@example.org"], sender
        )
    assert report.sent == 2
    assert report.refused == {"refused@example.org": "550 5.1.1 No such mailbox"}
    assert [r[1] for r in inbox.received] == [["a@example.org"], ["b@example.org"]]
    sender, _, raw = inbox.received[0]
    assert sender == "redaksi@tangerangnews.example"
    message = message_from_bytes(raw, policy=policy.default)
    assert message["To"] == "a@example.org"
    assert message["Subject"].startswith("TangerangNews: COVID-19")
    assert message["List-Unsubscribe"] == "<https://tangerangnews.example/newsletter/berhenti>"
    original = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message.get_body(("html",)).get_content() == original.get_body(("html",)).get_content()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_login_from_the_environment(
    smtp_server: tuple[Inbox, int], eml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp_server
    monkeypatch.setenv("DIGEST_SMTP_USER", "sender")
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "secret")
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none")
    with SmtpSender(settings) as sender:
        refused = send_eml(eml.read_bytes(), ["a@example.org"], sender)
    assert "not logging in over a connection without TLS" in refused.stopped
    assert refused.sent == 0 and refused.deferred == 1
    assert inbox.logins == [] and inbox.received == []
    allowed = settings.model_copy(update={"allow_plain_login": True})
    with SmtpSender(allowed) as sender:
        assert send_eml(eml.read_bytes(), ["a@example.org"], sender).sent == 1
    assert inbox.logins == [(b"sender", b"secret")]


def test_an_unreachable_server_stops_the_send_and_defers_everyone(
    eml: Path, tmp_path: Path
) -> None:
    settings = SmtpSettings(
        host="127.0.0.1", port=free_port(), security="none", timeout=5, reconnects=1
    )
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    report = send_eml(
        eml.read_bytes(), ["a@example.org", "b@example.org"], SmtpSender(settings), ledger
    )
    assert re.search(r"SMTP 127\.0\.0\.1:\d+ \(none\): .*refused", report.stopped)
    assert report.deferred == 2 and report.sent == 0 and not report.complete
    assert list(ledger.rows(report.edition)) == []  # never handed over: nothing to remember


def test_the_send_command(smtp_server: tuple[Inbox, int], eml: Path, tmp_path: Path) -> None:
    inbox, port = smtp_server
    config = config_for(tmp_path, port)

    def send(*args: str) -> subprocess.CompletedProcess[str]:
        return run_digest("send", "--config", config, eml, *args, "--allow-placeholder-links")

    test_send = send("--to", "editor@example.org")
    assert test_send.returncode == 0, test_send.stderr
    assert "Sent a proof of edition.eml to 1 of 1 recipients" in test_send.stdout
    assert [r[1] for r in inbox.received] == [["editor@example.org"]]
    proof = message_from_bytes(inbox.received[0][2], policy=policy.default)
    assert proof["Subject"].startswith("[Proof] TangerangNews: COVID-19")
    assert proof["Message-ID"].startswith("<proof.")

    (tmp_path / "list.txt").write_text(
        "# readers\nx@example.org\nrefused@example.org\n\ny@example.org\nx@example.org\n"
    )
    batch = send("--recipients", str(tmp_path / "list.txt"))
    assert batch.returncode == 6
    assert "digest: refused: refused@example.org: 550 5.1.1 No such mailbox" in batch.stderr
    assert "Sent edition.eml to 2 of 3 recipients" in batch.stdout
    assert sorted(r[1][0] for r in inbox.received[1:]) == ["x@example.org", "y@example.org"]

    dry = send("--recipients", str(tmp_path / "list.txt"), "--dry-run")
    assert dry.returncode == 0 and "Would send edition.eml to 3 of 3" in dry.stdout
    assert len(inbox.received) == 3

    bad = send("--to", "not an address")
    assert bad.returncode == 1 and "--to:1: not an email address" in bad.stderr


def test_recipient_files() -> None:
    assert read_recipients(
        ["a@Example.ORG", "", "# note", "b@bücher.example  # VIP", "a@example.org"]
    ) == ["a@example.org", "b@xn--bcher-kva.example"]
    with pytest.raises(Exception, match=r"list:2: not an email address"):
        read_recipients(["a@example.org", "oops"], "list")


@pytest.mark.parametrize(
    "hostile",
    [
        "=?utf-8?q?x=0D=0A?=@example.org",
        "=?utf-8?q?=22evil=40attacker.example=22?=@example.org",
        '"evil@attacker.example"@example.org',
    ],
)
def test_a_hostile_address_is_refused_with_its_line_and_never_reaches_a_copy(
    hostile: str,
) -> None:
    from digest import Reader
    from digest.mail.readers import reader_chunks

    with pytest.raises(Exception, match=r"list:3: not an email address"):
        read_recipients(["a@example.org", "b@example.org", hostile], "list")
    with pytest.raises(Exception, match=r"reader 2: address"):
        list(reader_chunks([{"address": "a@example.org"}, {"address": hostile}]))
    with pytest.raises(Exception, match="not an email address"):
        Reader(address=hostile)


@pytest.mark.parametrize("seed", range(6))
def test_dropped_connections_reconnect_and_everyone_gets_it_exactly_once(
    eml: Path, tmp_path: Path, seed: int
) -> None:
    import random

    rng = random.Random(seed)
    addresses = [f"r{n}@example.org" for n in range(12)]
    inbox = FlakyInbox(drops=set(rng.sample(range(1, 14), 3)))
    controller, port = start_smtp(inbox)
    try:
        ledger = SendLedger(tmp_path / "sends.sqlite3")
        settings = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=5)
        with SmtpSender(settings) as sender:
            report = send_eml(eml.read_bytes(), addresses, sender, ledger)
            again = send_eml(eml.read_bytes(), addresses, sender, ledger)
        assert report.sent == len(addresses) and not report.unknown
        assert again.sent == 0 and again.skipped == len(addresses)
    finally:
        controller.stop()
    delivered = [rcpt for _, rcpts, _ in inbox.received for rcpt in rcpts]
    assert sorted(delivered) == sorted(addresses)


def test_an_unknown_outcome_is_reported_not_resent(eml: Path, tmp_path: Path) -> None:
    addresses = ["a@example.org", "b@example.org", "c@example.org"]
    inbox = FlakyInbox(drops=set(), silent={2})
    controller, port = start_smtp(inbox)
    try:
        ledger = SendLedger(tmp_path / "sends.sqlite3")
        settings = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=5)
        with SmtpSender(settings) as sender:
            report = send_eml(eml.read_bytes(), addresses, sender, ledger)
            again = send_eml(eml.read_bytes(), addresses, sender, ledger)
            forced = send_eml(eml.read_bytes(), addresses, sender, ledger, resend_unknown=True)
        assert report.unknown == ["b@example.org"]
        assert report.sent == 2
        assert again.sent == 0 and again.unknown == ["b@example.org"]
        assert forced.sent == 1
    finally:
        controller.stop()
    delivered = [rcpt for _, rcpts, _ in inbox.received for rcpt in rcpts]
    assert sorted(delivered) == ["a@example.org", "b@example.org", "b@example.org", "c@example.org"]


def test_each_copy_has_exactly_its_own_recipient(smtp_server: tuple[Inbox, int], eml: Path) -> None:
    inbox, port = smtp_server
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none")
    with SmtpSender(settings) as sender:
        send_eml(eml.read_bytes(), ["x@example.org", "y@example.org"], sender)
    for _, rcpts, data in inbox.received:
        message = message_from_bytes(data, policy=policy.default)
        assert [a.addr_spec for a in message["To"].addresses] == rcpts
        assert len(message.get_all("To")) == 1


def test_recipients_deduplicate_in_linear_time() -> None:
    lines = [f"r{n % 50000}@example.org" for n in range(100000)]
    assert len(read_recipients(lines)) == 50000


def test_a_server_that_offers_pipelining_gets_each_envelope_in_one_write(eml: Path) -> None:
    from ..mailservers import PipeliningInbox

    inbox = PipeliningInbox()
    controller, port = start_smtp(inbox)
    try:
        settings = SmtpSettings(host="127.0.0.1", port=port, security="none")
        with SmtpSender(settings) as sender:
            connection = sender._take()
            sender._give_back(connection)
            report = send_eml(
                eml.read_bytes(),
                ["a@example.org", "refused@example.org", "b@example.org", "c@example.org"],
                sender,
            )
            assert connection.client is not None and connection.client.has_extn("pipelining")
    finally:
        controller.stop()
    assert report.sent == 3
    assert report.refused == {"refused@example.org": "550 5.1.1 No such mailbox"}
    assert [r[1] for r in inbox.received] == [
        ["a@example.org"],
        ["b@example.org"],
        ["c@example.org"],
    ]
    original = message_from_bytes(eml.read_bytes(), policy=policy.default)
    for _, _, data in inbox.received:
        message = message_from_bytes(data, policy=policy.default)
        assert (
            message.get_body(("html",)).get_content() == original.get_body(("html",)).get_content()
        )


def test_lines_that_start_with_a_dot_arrive_as_they_were(
    smtp_server: tuple[Inbox, int],
) -> None:
    from digest.delivery.senders import Outgoing

    inbox, port = smtp_server
    data = (
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: dots\r\n\r\n"
        b".\r\n..two\r\nmiddle\r\n.\r\nend\r\n"
    )
    with SmtpSender(SmtpSettings(host="127.0.0.1", port=port, security="none")) as sender:
        assert sender.send([Outgoing("b@example.org", data)])[0].state == "sent"
    assert inbox.received[0][2].replace(b"\r\n", b"\n") == data.replace(b"\r\n", b"\n")


def test_an_eml_without_a_sender_is_refused_before_any_copy() -> None:
    from digest.errors import InputError

    settings = SmtpSettings(host="127.0.0.1", port=1, security="none")
    with SmtpSender(settings) as sender, pytest.raises(InputError, match="no From header"):
        send_eml(b"To: a@example.org\r\nSubject: x\r\n\r\nbody\r\n", ["b@example.org"], sender)


class HeldInbox(Inbox):
    """An inbox that holds every message until ``release`` is set: a send lasts until then."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.started.set()
        for _ in range(6000):  # a minute at most
            if self.release.is_set():
                break
            await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.slow
@pytest.mark.parametrize("second", [[], ["--resend-unknown"]], ids=["plain", "resend-unknown"])
def test_a_second_run_of_an_edition_while_one_is_sending_is_refused_naming_it(
    eml: Path, tmp_path: Path, second: list[str]
) -> None:
    """Two ``digest send`` processes at once: one sends everyone, the other refuses."""
    inbox = HeldInbox()
    controller, port = start_smtp(inbox)
    config = config_for(tmp_path, port)
    addresses = [f"twice{n}@example.org" for n in range(300)]
    (tmp_path / "list.txt").write_text("\n".join(addresses))
    command = [*digest_command(), "send", "--config", str(config), str(eml)]
    command += ["--recipients", str(tmp_path / "list.txt"), "--quiet", "--allow-placeholder-links"]
    try:
        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ledger = tmp_path / "digest.sends.sqlite3"
        while not inbox.started.wait(0.01):  # the first run is under way, however slow the machine
            assert first.poll() is None, first.communicate()
        other = subprocess.run([*command, *second], capture_output=True, text=True, timeout=60)
        inbox.release.set()
        _, err = first.communicate(timeout=120)
    finally:
        inbox.release.set()
        controller.stop()
    assert first.returncode == 0, err
    assert other.returncode == 7, other.stderr
    assert "another run is sending 'TangerangNews 2025-09-16 #12' now" in other.stderr
    assert f"pid {first.pid} on" in other.stderr and other.stderr.count("\n") == 1
    delivered = [rcpt for _, rcpts, _ in inbox.received for rcpt in rcpts]
    assert sorted(delivered) == sorted(addresses)  # each once
    assert ledger.exists()


def test_a_rebuilt_edition_resumes_its_first_send_and_says_it_changed(
    smtp_server: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp_server
    config = config_for(tmp_path, port)
    first, rebuilt = tmp_path / "first.eml", tmp_path / "rebuilt.eml"
    first.write_bytes(email_bytes(build_example("tangerangnews")))

    def edited(articles: list[Any]) -> list[Any]:
        lead = articles[0].model_copy(update={"summary": "A summary edited after the send."})
        return [lead, *articles[1:]]

    rebuilt.write_bytes(email_bytes(build_example("tangerangnews", edit=edited)))
    assert first.read_bytes() != rebuilt.read_bytes()
    readers = [f"reader{n}@example.org" for n in range(60)]
    (tmp_path / "half.txt").write_text("\n".join(readers[:30]))
    (tmp_path / "all.txt").write_text("\n".join(readers))

    # A test list: the example's unsubscribe link is on a placeholder host.
    half = run_digest(
        "send",
        "--config",
        config,
        first,
        "--recipients",
        tmp_path / "half.txt",
        "--allow-placeholder-links",
    )
    assert half.returncode == 0, half.stderr
    rest = run_digest(
        "send",
        "--config",
        config,
        rebuilt,
        "--recipients",
        tmp_path / "all.txt",
        "--allow-placeholder-links",
    )
    assert rest.returncode == 0, rest.stderr
    assert "the edition changed since its first send" in rest.stderr
    delivered = [rcpt for _, rcpts, _ in inbox.received for rcpt in rcpts]
    assert sorted(delivered) == sorted(readers)  # 30 + 30, nobody twice
    assert "Sent rebuilt.eml to 30 of 60 recipients" in rest.stdout


def test_a_report_never_holds_a_cell_a_spreadsheet_would_run(tmp_path: Path) -> None:
    import csv
    import json

    from digest.delivery.senders import Receipt

    ledger = SendLedger(tmp_path / "sends.sqlite3")
    hostile = {
        "+1+1@example.org": '=HYPERLINK("https://evil.example","click")',
        "-2+3@example.org": "=cmd|' /C calc'!A0",
        "=1+2@example.org": "@SUM(1+1)*cmd|' /C calc'!A0",
        "plain@example.org": "\t=1+1",
        "cr@example.org": "550 no such user\r=cmd|' /C calc'!A0",  # a row of its own, unquoted
    }
    ledger.claim("E", list(hostile), [""] * len(hostile), "run")
    ledger.record("E", [Receipt(a, "refused", reason) for a, reason in hostile.items()])
    assert ledger.write_report("E", tmp_path / "report.csv") == 5
    raw = (tmp_path / "report.csv").read_bytes()
    assert raw.startswith(b'"address","state","detail","variant","updated"\r\n')
    with (tmp_path / "report.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 5
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    by_address = {row["address"].removeprefix("'"): row["detail"] for row in rows}
    assert {a: d.removeprefix("'") for a, d in by_address.items()} == hostile
    ledger.write_report("E", tmp_path / "report.json")
    data = json.loads((tmp_path / "report.json").read_text())
    assert {row["address"]: row["detail"] for row in data} == hostile  # JSON keeps them as they are


# aiosmtpd warns that it requires AUTH without TLS: this server is on 127.0.0.1, for a test.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_login_stops_the_send_and_the_fixed_run_sends_everyone_once(
    eml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 530 to MAIL FROM is about the session: nobody is refused for it."""
    inbox = Inbox()
    controller, port = start_smtp(inbox, login=True, required=True)
    config = config_for(tmp_path, port)
    config.write_text(config.read_text() + "allow_plain_login = true\n")
    readers = [f"reader{n}@example.org" for n in range(5)]
    (tmp_path / "list.txt").write_text("\n".join(readers))
    send = (
        "send",
        "--config",
        config,
        eml,
        "--recipients",
        tmp_path / "list.txt",
        "--allow-placeholder-links",
    )
    monkeypatch.delenv("DIGEST_SMTP_USER", raising=False)
    monkeypatch.delenv("DIGEST_SMTP_PASSWORD", raising=False)
    try:
        first = run_digest(*send)
        assert first.returncode == 7, first.stderr
        assert "530" in first.stderr and "refused:" not in first.stderr
        assert inbox.received == []
        monkeypatch.setenv("DIGEST_SMTP_USER", "editor")
        monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "secret")
        second = run_digest(*send)
        assert second.returncode == 0, second.stderr
        assert "Sent edition.eml to 5 of 5 recipients" in second.stdout
        third = run_digest(*send)
    finally:
        controller.stop()
    assert third.returncode == 0 and "Sent edition.eml to 0 of 5" in third.stdout
    delivered = [rcpt for _, rcpts, _ in inbox.received for rcpt in rcpts]
    assert sorted(delivered) == readers  # each once


def test_a_recipients_temporary_answer_defers_them_alone_and_refused_ones_are_retried_on_purpose(
    eml: Path, tmp_path: Path
) -> None:
    inbox = BusyInbox()
    controller, port = start_smtp(inbox)
    config = config_for(tmp_path, port)
    readers = ["a@example.org", "busy@example.org", "refused@example.org", "b@example.org"]
    (tmp_path / "list.txt").write_text("\n".join(readers))
    send = (
        "send",
        "--config",
        config,
        eml,
        "--recipients",
        tmp_path / "list.txt",
        "--allow-placeholder-links",
    )
    try:
        first = run_digest(*send)
        second = run_digest(*send)
        again = run_digest(*send, "--retry-refused")
    finally:
        controller.stop()
    assert first.returncode == 6 and "refused: refused@example.org: 550" in first.stderr
    assert "busy@example.org" not in first.stderr.split("refused:", 1)[-1].split("\n")[0]
    assert "Sent edition.eml to 2 of 4" in first.stdout  # a and b; busy waits, refused refused
    assert "Sent edition.eml to 1 of 4" in second.stdout  # busy, now that it takes mail
    assert "refused: refused@example.org" in again.stderr  # tried again on purpose, refused again
    delivered = [rcpt for _, rcpts, _ in inbox.received for rcpt in rcpts]
    assert sorted(delivered) == ["a@example.org", "b@example.org", "busy@example.org"]


def test_one_reader_however_they_spell_their_address(
    smtp_server: tuple[Inbox, int], eml: Path, tmp_path: Path
) -> None:
    import sqlite3

    inbox, port = smtp_server
    config = config_for(tmp_path, port)
    (tmp_path / "list.txt").write_text(
        "READER1@EXAMPLE.ORG\nreader1@example.org\nReader1@Example.org\nOld@example.org\n"
    )
    # A ledger of an earlier release, which knew a reader by the spelling it was given.
    ledger = SendLedger(tmp_path / "digest.sends.sqlite3")
    ledger.claim("TangerangNews 2025-09-16 #12", ["old@example.org"], [""], "r")
    ledger.close()
    with sqlite3.connect(tmp_path / "digest.sends.sqlite3") as db:
        db.execute("UPDATE deliveries SET address = 'Old@example.org', state = 'sent'")
        db.execute("PRAGMA user_version = 0")
    result = run_digest(
        "send",
        "--config",
        config,
        eml,
        "--recipients",
        tmp_path / "list.txt",
        "--allow-placeholder-links",
    )
    assert result.returncode == 0, result.stderr
    delivered = [rcpt for _, rcpts, _ in inbox.received for rcpt in rcpts]
    assert delivered == ["READER1@example.org"]  # sent as first written, once; Old@ was sent
    assert "Sent edition.eml to 1 of 2 recipients" in result.stdout


@pytest.mark.parametrize("signed", [False, True])
def test_each_copy_is_dated_as_its_batch_leaves_and_otherwise_as_built(signed: bool) -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import parsedate_to_datetime

    from digest.delivery.senders import Outgoing, Receipt
    from digest.suppression import UnsubscribeTokens

    kept: list[Outgoing] = []

    class Keep:
        batch_size = 3

        def send(self, batch: list[Outgoing]) -> list[Receipt]:
            kept.extend(batch)
            return [Receipt(o.address, "sent", "") for o in batch]

        def close(self) -> None:
            pass

    url = "https://tangerangnews.example/unsubscribe/{token}" if signed else None
    raw = email_bytes(
        build_example("tangerangnews", settings={"unsubscribe_url": url} if url else {})
    )
    tokens = UnsubscribeTokens("a-secret-of-sixteen-or-more", "list") if signed else None
    before = datetime.now(UTC).replace(microsecond=0)
    report = send_eml(raw, [f"r{n}@example.org" for n in range(7)], Keep(), tokens=tokens)
    assert report.sent == 7
    built = message_from_bytes(raw, policy=policy.default)
    for outgoing in kept:
        message = message_from_bytes(outgoing.data, policy=policy.default)
        when = parsedate_to_datetime(str(message["Date"]))
        assert before <= when <= datetime.now(UTC) + timedelta(seconds=1)
        assert built["Date"] != message["Date"]
        assert message["To"] == outgoing.address
        for name in ("From", "Subject", "Message-ID", "List-Id"):
            assert message[name] == built[name]
        assert message.get_all("Date") == [message["Date"]]  # one Date, replaced in place
        if signed:
            assert tokens is not None
            token = str(message["List-Unsubscribe"]).strip("<>").rsplit("/", 1)[1]
            assert tokens.address(token) == outgoing.address


@pytest.mark.parametrize("lanes", [1, 3])
def test_lanes_take_the_next_message_and_a_stop_defers_only_what_no_lane_took(lanes: int) -> None:
    import random
    import threading
    from contextlib import nullcontext

    from digest.delivery.senders import Outgoing, Pooled, Receipt
    from digest.errors import SendError

    handed: list[str] = []
    lock = threading.Lock()

    def one(_: object, message: Outgoing) -> Receipt:
        time.sleep(random.random() / 500)
        if message.address == "down@example.org":
            return Receipt(message.address, "deferred", "the server went away")
        if message.address == "login@example.org":
            raise SendError("the login was refused")
        with lock:
            handed.append(message.address)
        return Receipt(message.address, "sent", f"id-{message.address}", message.variant)

    batch = [Outgoing(f"r{n}@example.org", b"", "A") for n in range(40)]
    with Pooled(lanes) as pooled:
        receipts = pooled._each(batch, one, nullcontext)
    assert [r.address for r in receipts] == [m.address for m in batch]  # in order
    assert {r.state for r in receipts} == {"sent"} and len(handed) == 40
    for stop in ("down@example.org", "login@example.org"):
        handed.clear()
        stopping = batch[:10] + [Outgoing(stop, b"")] * lanes + batch[10:]
        with Pooled(lanes) as pooled:
            receipts = pooled._each(stopping, one, nullcontext)
        sent = [r.address for r in receipts if r.state == "sent"]
        assert sorted(sent) == sorted(handed)  # sent means handed over, nothing else
        assert all(r.state in ("sent", "deferred") for r in receipts)
        assert [r.address for r in receipts] == [m.address for m in stopping]
        deferred = [r for r in receipts if r.state == "deferred"]
        assert len(deferred) >= lanes and set(sent) >= {f"r{n}@example.org" for n in range(10)}
