"""DKIM signing on the SMTP path: every received message verifies with dkimpy."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest import email_bytes
from digest.delivery.eml import send_eml
from digest.delivery.settings import DkimSettings, SmtpSettings
from digest.delivery.smtp import SmtpSender
from digest.errors import ConfigError

from ..helpers import build_example
from ..mailservers import DkimKey, Inbox, start_smtp

DOMAIN = "tangerangnews.example"


@pytest.fixture
def key(tmp_path: Path) -> DkimKey:
    return DkimKey(tmp_path, domain=DOMAIN)


def send(key: DkimKey, domain: str, recipients: list[str]) -> tuple[Inbox, object]:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    dkim = DkimSettings(selector=key.selector, domain=domain, key_file=key.path)
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", dkim=dkim)
    try:
        with SmtpSender(settings) as sender:
            report = send_eml(email_bytes(build_example("tangerangnews")), recipients, sender)
    finally:
        controller.stop()
    return inbox, report


def test_every_message_is_signed_and_verifies(key: DkimKey) -> None:
    readers = [f"reader{n}@example.org" for n in range(5)]
    inbox, _ = send(key, DOMAIN, readers)
    assert [r[1][0] for r in inbox.received] == readers
    for _, _, raw in inbox.received:
        assert key.verify(raw)
        message = message_from_bytes(raw, policy=policy.default)
        tags = dict(
            part.strip().split("=", 1)
            for part in str(message["DKIM-Signature"]).split(";")
            if "=" in part
        )
        signed = re.sub(r"\s+", "", tags["h"]).lower().split(":")
        assert {
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
            "list-id",
            "feedback-id",
        } <= set(signed)
        assert signed.count("from") == 2  # oversigned: no second From can be added
        assert tags["d"] == DOMAIN and tags["s"] == key.selector
        assert tags["c"] == "relaxed/relaxed"
        # A changed header or body breaks it.
        assert not key.verify(raw.replace(b"Subject: ", b"Subject: Re: ", 1))
        assert not key.verify(raw.replace(b"Tangerang", b"Tangerung", 1)[:-2] + b"x\r\n")


def test_a_parent_domain_aligns_and_another_domain_stops_the_send(key: DkimKey) -> None:
    parent = DkimKey(key.path.parent, selector="parent", domain="example")
    inbox, _ = send(parent, "example", ["a@example.org"])
    assert parent.verify(inbox.received[0][2])
    inbox, report = send(key, "elsewhere.example", ["a@example.org"])
    assert inbox.received == []
    assert "does not align with the From address" in report.stopped  # type: ignore[attr-defined]


def test_a_key_file_that_is_not_a_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("hello")
    settings = SmtpSettings(
        host="127.0.0.1",
        dkim=DkimSettings(selector="s", domain=DOMAIN, key_file=tmp_path / "key.pem"),
    )
    with pytest.raises(ConfigError, match=r"key\.pem: not a PEM private key"):
        SmtpSender(settings)


_LINE = st.text(alphabet=st.sampled_from(list("ab xyz\t=.-")), max_size=90)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    subject=_LINE,
    folds=st.lists(_LINE, max_size=3),
    body=st.lists(_LINE, max_size=12),
    blank_lines=st.integers(0, 3),
)
def test_any_spacing_and_folding_verifies_with_dkimpy(
    key: DkimKey, subject: str, folds: list[str], body: list[str], blank_lines: int
) -> None:
    from digest.delivery.dkim import DkimSigner

    signer = DkimSigner(DkimSettings(selector=key.selector, domain=DOMAIN, key_file=key.path))
    subject_field = "Subject: " + subject + "".join(f"\r\n {fold}" for fold in folds)
    raw = (
        f"From: News <news@{DOMAIN}>\r\nTo: reader@example.org\r\n{subject_field}\r\n"
        "Date: Tue, 01 Dec 2026 07:00:00 +0000\r\nMessage-ID: <a@b>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + "\r\n".join(body) + "\r\n" * blank_lines
    ).encode()
    signed = signer.sign(raw, f"news@{DOMAIN}")
    assert key.verify(signed)
    assert signed.endswith(raw)  # the message's own bytes, untouched


def test_a_key_that_is_not_rsa_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "ec.pem").write_bytes(pem)
    dkim = DkimSettings(selector="s", domain=DOMAIN, key_file=tmp_path / "ec.pem")
    with pytest.raises(ConfigError, match=r"ec\.pem: DKIM needs an RSA key"):
        SmtpSender(SmtpSettings(host="127.0.0.1", dkim=dkim))
