"""A ``Digest`` is the edition's content; the mail layer writes its bytes."""

from __future__ import annotations

import subprocess
import sys
from email import message_from_bytes, policy

from digest import email_bytes, email_message, esp_fields
from digest.pipeline import Digest

from .helpers import build_example


def test_a_digest_holds_content_and_no_way_to_write_bytes() -> None:
    digest = build_example("riverside")
    assert digest.subject and digest.preheader and digest.html and digest.text
    assert digest.edition_key == "The Riverside Weekly 2026-11-30 #48"
    assert digest.links[0] == str(digest.edition.lead.url)
    assert len(digest.links) == len(digest.edition.articles)
    for name in ("message", "as_bytes", "fields", "messages"):
        assert not hasattr(Digest, name), name


def test_the_mail_layer_writes_the_digest_in_each_form() -> None:
    digest = build_example("riverside")
    raw = email_bytes(digest, to=["kim@example.org"])
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["To"] == "kim@example.org"
    assert parsed["X-Digest-Edition"] == digest.edition_key
    assert email_message(digest, to=["kim@example.org"]).as_bytes(policy=policy.SMTP) == raw
    fields = esp_fields(digest)
    assert fields["subject"] == digest.subject and fields["html"] == digest.html


def test_building_a_digest_loads_no_mail_module() -> None:
    code = (
        "import sys; import digest.pipeline;"
        " print(sorted(m for m in sys.modules if m.startswith('digest.mail')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
