from __future__ import annotations

from datetime import date
from email import message_from_bytes, policy

import pytest

from digest import CheckError, Newsletter, build_digest, email_bytes, esp_fields

from ..helpers import HEADER_NAMES, ArticleFactory, build_example, changed

ON = date(2026, 11, 23)


def parse(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=policy.default)


@pytest.mark.parametrize("example", ["tangerangnews", "riverside"])
def test_the_message_has_text_then_html(example: str) -> None:
    digest = build_example(example)
    raw = email_bytes(digest, to=["reader@example.org"])
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    # On the wire, text lines end in CRLF (the canonical form of MIME text).
    assert parts[0].get_content().replace("\r\n", "\n") == digest.text
    assert parts[1].get_content().replace("\r\n", "\n") == digest.html
    assert message["To"] == "reader@example.org"
    assert message["Subject"] == digest.subject
    assert message["Message-ID"].startswith("<digest.")
    assert message["List-Unsubscribe"] == f"<{digest.newsletter.contact.unsubscribe_url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76  # quoted-printable's limit


def test_headers_have_the_expected_names() -> None:
    message = parse(email_bytes(build_example("tangerangnews")))
    assert list(message.keys()) == HEADER_NAMES
    assert message["Date"] == "Tue, 16 Sep 2025 07:00:00 +0700"


def test_a_long_unsubscribe_url_is_not_encoded(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    url = "https://example.org/unsubscribe?token=" + "a1b2c3d4" * 20
    long = changed(newsletter, unsubscribe_url=url)
    raw = email_bytes(build_digest([make_article()], long, ON))
    assert f"List-Unsubscribe: <{url}>\r\n".encode() in raw
    assert b"=?utf-8?" not in raw.split(b"\r\n\r\n")[0].split(b"Subject")[0]


def test_without_an_unsubscribe_url_there_are_no_list_headers(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    plain = changed(newsletter, unsubscribe_url=None)
    # Such an email has no way out, so the build refuses it unless told not to check.
    with pytest.raises(CheckError, match=r"\[unsubscribe\] 2 times: no visible unsubscribe link"):
        build_digest([make_article()], plain, ON)
    message = parse(email_bytes(build_digest([make_article()], plain, ON, check=False)))
    assert "List-Unsubscribe" not in message
    assert "List-Unsubscribe-Post" not in message


def test_non_ascii_subject_and_sender_round_trip(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    branded = Newsletter.model_validate(
        newsletter.model_dump()
        | {
            "name": "Kabar Pekan Ini ✨",
            "sender": {"name": "Redaksi Ümlaut", "address": "r@example.org"},
        }
    )
    digest = build_digest([make_article(title="Café ☕ naïve")], branded, ON)
    message = parse(email_bytes(digest))
    assert message["Subject"] == "Kabar Pekan Ini ✨: Café ☕ naïve"
    assert message["From"].addresses[0].display_name == "Redaksi Ümlaut"


def test_rebuilding_gives_identical_bytes() -> None:
    assert email_bytes(build_example("tangerangnews")) == email_bytes(
        build_example("tangerangnews")
    )


def test_fields_for_http_senders() -> None:
    digest = build_example("tangerangnews")
    fields = esp_fields(digest, to=["a@example.org", "b@example.org"])
    assert fields["to"] == "a@example.org, b@example.org"
    assert fields["html"] == digest.html and fields["text"] == digest.text
    assert fields["list_unsubscribe"] == "<https://tangerangnews.example/newsletter/berhenti>"
    assert fields["from"] == "TangerangNews <redaksi@tangerangnews.example>"
    assert esp_fields(digest, to="one@example.org")["to"] == "one@example.org"  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["The Weekly", "News 2026-01-01 Weekly", "Ends 1999-12-31"])
@pytest.mark.parametrize("number", [12, None])
def test_an_edition_key_gives_back_its_date(name: str, number: int | None) -> None:
    from datetime import date

    from digest.mail.message import edition_key, edition_key_date

    assert edition_key_date(edition_key(name, date(2026, 11, 30), number)) == date(2026, 11, 30)
    assert edition_key_date("no date here") is None
