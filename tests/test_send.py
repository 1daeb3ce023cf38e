"""``digest send`` against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from digest.config import SmtpSettings
from digest.send import SendError, read_recipients, send_eml

from .conftest import EXAMPLES, build_example, run_digest

controller_module = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is not installed")
smtp_module = pytest.importorskip("aiosmtpd.smtp")


class Inbox:
    """An SMTP handler that keeps what it receives and refuses refused@… addresses."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("refused@"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 Message accepted"

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        self.logins.append((auth_data.login, auth_data.password))
        return smtp_module.AuthResult(success=auth_data.password == b"secret")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = controller_module.Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox,
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def eml(tmp_path: Path) -> Path:
    path = tmp_path / "edition.eml"
    path.write_bytes(build_example("tangerangnews").as_bytes())
    return path


def config_for(folder: Path, port: int) -> Path:
    text = (EXAMPLES / "tangerangnews" / "newsletter.toml").read_text()
    text = text.replace('data = "edition.json"', "").replace('assets = "images"', "")
    text += f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
    (folder / "newsletter.toml").write_text(text)
    return folder / "newsletter.toml"


def test_send_to_each_recipient(smtp_server: tuple[Inbox, int], eml: Path) -> None:
    inbox, port = smtp_server
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none")
    report = send_eml(
        eml.read_bytes(), ["a@example.org", "refused@example.org", "b@example.org"], settings
    )
    assert report.sent == ["a@example.org", "b@example.org"]
    assert report.failed == {"refused@example.org": "550 5.1.1 No such mailbox"}
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
    assert send_eml(eml.read_bytes(), ["a@example.org"], settings).sent == ["a@example.org"]
    assert inbox.logins == [(b"sender", b"secret")]


def test_an_unreachable_server_is_a_send_error(eml: Path) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), security="none", timeout=5)
    with pytest.raises(SendError, match=r"SMTP 127\.0\.0\.1:\d+ \(none\): .*refused"):
        send_eml(eml.read_bytes(), ["a@example.org"], settings)


def test_the_send_command(smtp_server: tuple[Inbox, int], eml: Path, tmp_path: Path) -> None:
    inbox, port = smtp_server
    config = config_for(tmp_path, port)

    def send(*args: str) -> subprocess.CompletedProcess[str]:
        return run_digest("send", "--config", config, eml, *args)

    test_send = send("--to", "editor@example.org")
    assert test_send.returncode == 0, test_send.stderr
    assert "Sent edition.eml to 1 of 1 recipients" in test_send.stdout
    assert [r[1] for r in inbox.received] == [["editor@example.org"]]

    (tmp_path / "list.txt").write_text(
        "# readers\nx@example.org\nrefused@example.org\n\ny@example.org\nx@example.org\n"
    )
    batch = send("--recipients", str(tmp_path / "list.txt"))
    assert batch.returncode == 6
    assert "digest: refused: refused@example.org: 550 5.1.1 No such mailbox" in batch.stderr
    assert "Sent edition.eml to 2 of 3 recipients" in batch.stdout
    assert [r[1][0] for r in inbox.received[1:]] == ["x@example.org", "y@example.org"]

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
