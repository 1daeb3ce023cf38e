"""Readers talk back, end to end with real parts: an edition sent through aiosmtpd with DKIM,
one reader unsubscribing with the one-click POST taken from their own message, a Postmark
bounce, a Resend complaint signed with ``svix``, an SES bounce through SNS, a real DSN and a
real ARF report imported from mail; the next edition reaches exactly the others."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import svix.webhooks as svix

from digest.schedule.config import load_config
from digest.web import make_app, settings_for

from .helpers import EXAMPLES, FIXTURES, run_digest
from .mailservers import DkimKey, Inbox, start_smtp
from .suppression.returned import enclose
from .web.served import Served
from .web.sns import TOPIC, Sns

SECRET = "the-unsubscribe-secret-of-the-newsroom"
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-signing-secret-for-e2e").decode()
ENV = {
    "DIGEST_UNSUBSCRIBE_SECRET": SECRET,
    "DIGEST_POSTMARK_WEBHOOK_PASSWORD": "pm-password",
    "DIGEST_RESEND_WEBHOOK_SECRET": RESEND_SECRET,
}
# Two readers are the addresses the real reports name (sisimai/set-of-emails).
DSN_READER = "userunknown@bouncehammer.jp"
ARF_READER = "this-local-part-does-not-exist-on-yahoo@yahoo.com"
READERS = [f"reader{n:02}@example.org" for n in range(1, 19)] + [DSN_READER, ARF_READER]


def config_for(folder: Path, port: int, key: DkimKey) -> Path:
    text = (EXAMPLES / "tangerangnews" / "newsletter.toml").read_text()
    text = text.replace('data = "edition.json"', f'data = "{EXAMPLES}/tangerangnews/edition.json"')
    text = text.replace('assets = "images"', "")
    text = text.replace(
        'unsubscribe_url = "https://tangerangnews.example/newsletter/berhenti"',
        'unsubscribe_url = "https://tangerangnews.example/unsubscribe/{token}"',
    )
    text += (
        f'\n[web]\nsns_topics = ["{TOPIC}"]\n'
        f'\n[delivery]\nprovider = "smtp"\n'
        f'\n[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f'\n[delivery.smtp.dkim]\nselector = "{key.selector}"\ndomain = "{key.domain}"\n'
        f'key_file = "{key.path.name}"\n'
    )
    (folder / "newsletter.toml").write_text(text)
    (folder / "readers.txt").write_text("\n".join(READERS) + "\n")
    return folder / "newsletter.toml"


def edition(config: Path, number: int) -> Path:
    built = run_digest(
        "build", "--config", config, "--date", "2025-09-16", "--number", str(number),
        "--out", config.parent / f"out{number}", "-q", env=ENV,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (eml,) = (config.parent / f"out{number}").glob("*.eml")
    return eml


def received_by(inbox: Inbox) -> dict[str, bytes]:
    return {recipients[0]: raw for _, recipients, raw in inbox.received}


def test_readers_talk_back_and_the_next_edition_listens(tmp_path: Path) -> None:
    key = DkimKey(tmp_path, domain="tangerangnews.example")
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    config = config_for(tmp_path, port, key)
    sns = Sns()
    try:
        first = run_digest(
            "send", "--config", config, edition(config, 12), "--recipients",
            tmp_path / "readers.txt", "--allow-placeholder-links", env=ENV,
        )  # fmt: skip
        assert first.returncode == 0, first.stderr
        messages = received_by(inbox)
        assert sorted(messages) == sorted(READERS)
        for reader, raw in messages.items():
            assert key.verify(raw), reader
            header = str(message_from_bytes(raw, policy=policy.default)["DKIM-Signature"])
            signed = re.sub(r"\s+", "", header.split("h=", 1)[1].split(";", 1)[0]).lower()
            assert "list-unsubscribe:" in signed + ":" and "list-unsubscribe-post" in signed

        settings = dataclasses.replace(settings_for(load_config(config), ENV), fetch=sns.fetch)
        served = Served(make_app(settings))
        try:
            # 1. reader01 unsubscribes from their mail client: the one-click POST to their URL.
            message = message_from_bytes(messages["reader01@example.org"], policy=policy.default)
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            url = str(message["List-Unsubscribe"]).strip("<>")
            assert url != str(
                message_from_bytes(messages["reader02@example.org"], policy=policy.default)[
                    "List-Unsubscribe"
                ]
            ).strip("<>")
            status, body = served.request(
                urlsplit(url).path,
                b"List-Unsubscribe=One-Click",
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert (status, body) == (200, b"unsubscribed\n")
            # The footer link in the HTML part is the same link.
            html = message.get_body(("html",)).get_content()
            assert url in html

            # 2. Postmark reports a hard bounce of reader02.
            bounce = json.loads((FIXTURES / "webhooks" / "postmark-bounce.json").read_text())
            bounce["Email"] = "reader02@example.org"
            auth = "Basic " + base64.b64encode(b"postmark:pm-password").decode()
            status, _ = served.request(
                "/webhooks/postmark",
                json.dumps(bounce).encode(),
                {"Authorization": auth, "Content-Type": "application/json"},
            )
            assert status == 200

            # 3. Resend reports reader03's spam complaint, signed by Svix.
            complaint = json.loads((FIXTURES / "webhooks" / "resend-complained.json").read_text())
            complaint["data"]["to"] = ["reader03@example.org"]
            data = json.dumps(complaint)
            now = datetime.now(UTC)
            signature = svix.Webhook(RESEND_SECRET).sign(msg_id="msg_e2e", timestamp=now, data=data)
            status, _ = served.request(
                "/webhooks/resend",
                data.encode(),
                {
                    "svix-id": "msg_e2e",
                    "svix-timestamp": str(int(now.timestamp())),
                    "svix-signature": signature,
                },
            )
            assert status == 200

            # 4. SES, through SNS, reports reader04's permanent bounce.
            ses = json.loads((FIXTURES / "webhooks" / "ses-bounce.json").read_text())
            ses["bounce"]["bouncedRecipients"][0]["emailAddress"] = "reader04@example.org"
            status, _ = served.request("/webhooks/ses", json.dumps(sns.notification(ses)).encode())
            assert status == 200

            # A forged token and a forged SNS message change nothing.
            forged = url.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAA"
            status, _ = served.request(urlsplit(forged).path, b"List-Unsubscribe=One-Click")
            assert status == 404
            other = Sns().notification(ses)
            assert served.request("/webhooks/ses", json.dumps(other).encode())[0] == 401
            assert json.loads(served.request("/health")[1]) == {"status": "ok", "suppressed": 4}
        finally:
            served.stop()

        # 5. A real DSN and a real ARF report come back by mail, returning the copies sent.
        (tmp_path / "dsn.eml").write_bytes(enclose("rfc3464-01.eml", messages[DSN_READER]))
        (tmp_path / "arf.eml").write_bytes(enclose("arf-02.eml", messages[ARF_READER]))
        imported = run_digest(
            "suppress", "import-mail", "--config", config, tmp_path / "dsn.eml",
            tmp_path / "arf.eml", env=ENV,
        )  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        assert "2 reports (0 other messages skipped): 2 events, 2 new; 0 not ours" in (
            imported.stdout
        )

        listed = run_digest("suppress", "list", "--config", config)
        reasons = dict(line.split("\t")[:2] for line in listed.stdout.splitlines())
        assert reasons == {
            "reader01@example.org": "unsubscribed",
            "reader02@example.org": "hard-bounce",
            "reader03@example.org": "complaint",
            "reader04@example.org": "hard-bounce",
            DSN_READER: "hard-bounce",
            ARF_READER: "complaint",
        }

        # The next edition reaches exactly the other readers, and says who was left out.
        inbox.received.clear()
        second = run_digest(
            "send", "--config", config, edition(config, 13), "--recipients",
            tmp_path / "readers.txt", "--allow-placeholder-links", env=ENV,
        )  # fmt: skip
        assert second.returncode == 0, second.stderr
        assert sorted(received_by(inbox)) == sorted(set(READERS) - set(reasons))
        assert "Left out 6 suppressed: reader01@example.org" in second.stdout
        assert re.search(r"suppressed\s+6", second.stdout)
    finally:
        controller.stop()


def test_a_token_link_without_the_secret_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    key = DkimKey(tmp_path, domain="tangerangnews.example")
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = config_for(tmp_path, port, key)
        eml = edition(config, 12)
        sent = run_digest(
            "send", "--config", config, eml, "--recipients", tmp_path / "readers.txt",
            "--allow-placeholder-links",
        )  # fmt: skip
        assert sent.returncode == 1
        assert "set DIGEST_UNSUBSCRIBE_SECRET" in sent.stderr
        assert inbox.received == []
    finally:
        controller.stop()


@pytest.mark.parametrize("bad", ["short", ""])
def test_the_secret_must_be_long_enough(tmp_path: Path, bad: str) -> None:
    key = DkimKey(tmp_path, domain="tangerangnews.example")
    config = config_for(tmp_path, 25, key)
    eml = edition(config, 12)
    sent = run_digest(
        "send", "--config", config, eml, "--recipients", tmp_path / "readers.txt", "--allow-placeholder-links",
        env={"DIGEST_UNSUBSCRIBE_SECRET": bad},
    )  # fmt: skip
    assert sent.returncode == 1
    assert "DIGEST_UNSUBSCRIBE_SECRET" in sent.stderr
