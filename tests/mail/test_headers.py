"""Headers by construction: hostile titles, names and URLs parse back as exactly the headers
we wrote, in the single message, in personalised copies and in the plain fields."""

from __future__ import annotations

from datetime import date
from email import message_from_bytes, policy
from email.utils import parseaddr
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest import (
    Article,
    Newsletter,
    Reader,
    build_digest,
    email_bytes,
    email_message,
    esp_fields,
    reader_messages,
)
from digest.delivery.mailing import Mailing
from digest.mail.mime import header_uri, text_header
from digest.text import cut_text

from ..helpers import HEADER_NAMES, ArticleFactory, changed, validated_with

ON = date(2026, 11, 23)

HOSTILE_TITLES = [
    "é =?UTF-8?Q?=0D=0ABcc:_victim@evil.example?=",
    "=?UTF-8?Q?=0D=0ABcc:_victim@evil.example?=",
    "x =?UTF-8?Q?=0D=0AContent-Type:_text/html=0D=0A=0D=0A<h1>owned</h1>?=",
    "=?utf-8?b?DQpCY2M6IHZAZXZpbC5leGFtcGxl?=",
    "plain\r\nBcc: victim@evil.example",
    "tab\there and\x0bvertical",
    "ünïcødé \u2028 line separator \u0085 next line",
    "a" * 300,
    "word " * 80,
]


def parse(raw: bytes) -> Any:
    return message_from_bytes(raw, policy=policy.default)


def assert_exact_headers(raw: bytes, subject: str, to: str) -> None:
    message = parse(raw)
    assert list(message.keys()) == HEADER_NAMES
    assert message["Subject"] == subject
    assert [a.addr_spec for a in message["To"].addresses] == [to]
    assert "Bcc" not in message and message.get_all("Content-Type") is not None
    assert len(message.get_all("Content-Type")) == 1
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert all(
        len(line) <= (998 if line.startswith(b"List-Unsubscribe:") else 78)
        for line in head.split(b"\r\n")
    )


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_titles_stay_text_in_every_message_form(
    title: str, make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    digest = build_digest([make_article(title=title)], newsletter, ON)
    expected = cut_text(
        " ".join(f"{newsletter.name}: {digest.edition.lead.title}".split()),
        newsletter.layout.subject_length,
    )
    assert digest.subject == expected
    assert_exact_headers(email_bytes(digest, to=["a@example.org"]), expected, "a@example.org")
    assert email_message(digest, to=["a@example.org"])["Subject"] == expected
    assert "\n" not in esp_fields(digest)["subject"] and "\r" not in esp_fields(digest)["subject"]
    reader = Reader(address="b@example.org", name="=?UTF-8?Q?=0D=0ABcc:_x@evil.example?=")
    (copy,) = reader_messages(digest, [reader])
    assert_exact_headers(copy.data, expected, "b@example.org")


def test_an_ascii_title_that_looks_encoded_reads_back_as_written(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    title = "=?UTF-8?Q?x=0D=0ABcc:_victim@evil.example?="
    raw = email_bytes(build_digest([make_article(title=title)], newsletter, ON))
    assert parse(raw)["Subject"].endswith(title)
    assert b"Bcc" not in raw.split(b"\r\n\r\n")[0]


def test_a_reader_name_in_the_subject_cannot_add_headers(
    tmp_path: Any, make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    (tmp_path / "subject.txt.j2").write_text("{{ reader.name if reader else '' }}: news\n")
    digest = build_digest(
        [make_article()],
        newsletter,
        ON,
        options=__import__("digest").RenderOptions(template_dir=tmp_path),
    )
    name = "Eve =?UTF-8?Q?=0D=0ABcc:_victim@evil.example?="
    (copy,) = reader_messages(digest, [Reader(address="eve@example.org", name=name)])
    message = parse(copy.data)
    assert list(message.keys()) == HEADER_NAMES
    assert message["Subject"] == f"{name}: news"


@pytest.mark.parametrize(
    "name",
    ["=?UTF-8?Q?Eve=0D=0ABcc:_v@evil.example?=", 'Quote " and \\ back', "Ünï, Cøde <x@y>"],
)
def test_sender_names_of_any_kind_are_written_and_read_back(
    name: str, make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    branded = Newsletter.model_validate(
        newsletter.model_dump() | {"sender": {"name": name, "address": "r@example.org"}}
    )
    digest = build_digest([make_article()], branded, ON)
    for raw in (email_bytes(digest), email_message(digest).as_bytes()):
        sender = parse(raw)["From"].addresses
        assert [(a.display_name, a.addr_spec) for a in sender] == [(name, "r@example.org")]


def test_list_unsubscribe_is_https_with_one_uri_per_kind(
    newsletter: Newsletter, make_article: ArticleFactory
) -> None:
    with pytest.raises(ValueError, match="the http: scheme is not allowed"):
        validated_with(newsletter, unsubscribe_url="http://x.org/u")
    with pytest.raises(ValueError, match="the http: scheme is not allowed"):
        Reader(address="a@example.org", unsubscribe_url="http://x.example/u")
    hostile = changed(
        newsletter,
        unsubscribe_url="https://x.example/u>,<mailto:unsub@evil.example",
        unsubscribe_mailto="leave@example.org",
    )
    digest = build_digest(
        [make_article()],
        hostile,
        ON,
    )
    (copy,) = reader_messages(digest, [Reader(address="a@example.org")])
    for raw in (email_bytes(digest), copy.data):
        value = parse(raw)["List-Unsubscribe"]
        assert value == (
            "<https://x.example/u%3E%2C%3Cmailto:unsub@evil.example>, "
            "<mailto:leave@example.org?subject=unsubscribe>"
        )
    assert value.count("<") == 2


def test_non_ascii_unsubscribe_urls_become_uris_not_encoded_words(
    newsletter: Newsletter, make_article: ArticleFactory
) -> None:
    url = "https://bücher.example/abmelden/straße?wer=jürgen"
    assert header_uri(url) == ("https://xn--bcher-kva.example/abmelden/stra%C3%9Fe?wer=j%C3%BCrgen")
    digest = build_digest(
        [make_article()],
        changed(newsletter, unsubscribe_url=url),
        ON,
    )
    raw = email_bytes(digest)
    assert b"List-Unsubscribe: <https://xn--bcher-kva.example/abmelden/stra%C3%9Fe" in raw
    assert b"=?" not in raw.split(b"\r\n\r\n")[0]
    assert esp_fields(digest)["list_unsubscribe"].isascii()


def test_text_headers_fold_at_spaces_and_encode_the_rest() -> None:
    assert text_header("Subject", "Hello world") == b"Subject: Hello world\r\n"
    assert text_header("Subject", "a\r\nBcc: x") == b"Subject: a Bcc: x\r\n"
    assert text_header("Subject", "=?x?q?y?=").startswith(b"Subject: =?utf-8?b?")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    title=st.text(min_size=1, max_size=120),
    name=st.text(max_size=60),
    token=st.from_regex(r"[A-Za-z0-9._~-]{1,40}", fullmatch=True),
    path=st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp", "Cf")),
        max_size=30,
    ),
)
def test_any_title_name_and_url_gives_exactly_the_expected_headers(
    newsletter: Newsletter, title: str, name: str, token: str, path: str
) -> None:
    try:
        article = Article(
            title=title,
            url="https://e.org/a",
            section="s",
            published_at="2026-11-20T12:00:00+00:00",
        )
        reader = Reader(
            address="r@example.org",
            name=name or None,
            unsubscribe_url=f"https://u.example/{token}",
        )
        # Validated, as a config would be (model_copy would skip the URL's checks).
        sent_by = validated_with(
            newsletter, unsubscribe_url=f"https://u.example/{path.replace('/', '')}x"
        )
    except ValueError:
        return
    digest = build_digest([article], sent_by, ON)
    expected = digest.subject
    assert_exact_headers(email_bytes(digest, to=["a@example.org"]), expected, "a@example.org")
    (copy,) = reader_messages(digest, [reader])
    assert_exact_headers(copy.data, expected, "r@example.org")
    assert parse(copy.data)["List-Unsubscribe"] == f"<https://u.example/{token}>"


def test_mailing_checks_its_static_lines_once(
    newsletter: Newsletter, make_article: ArticleFactory
) -> None:
    mailing = Mailing(build_digest([make_article()], newsletter, ON))
    first = mailing.copies.message_bytes(Reader(address="a@example.org"))
    heads = mailing.copies.heads
    assert heads._shared is not None
    assert first.startswith(heads._shared["From"])
    assert heads.shared() is heads._shared  # written and checked once


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("=?qQbB_-.:/@%&#0DA\r\n\"'<>, é"), max_size=40)
    | st.text(max_size=40)
)
def test_a_header_uri_never_holds_an_encoded_word(tail: str) -> None:
    uri = header_uri("https://example.org/u?t=" + tail)
    assert "=?" not in uri and uri.isascii() and not any(c in uri for c in ' <>,"\r\n')


def test_an_unsubscribe_url_with_an_encoded_word_reads_back_as_written(
    newsletter: Newsletter, make_article: ArticleFactory
) -> None:
    url = "https://example.org/u?t==?utf-8?q?=0D=0A?=&x=1"
    raw = email_bytes(build_digest([make_article()], changed(newsletter, unsubscribe_url=url), ON))
    value = str(parse(raw)["List-Unsubscribe"])
    assert value == "<https://example.org/u?t==%3Futf-8?q?=0D=0A?=&x=1>"
    assert "\r" not in value and "\n" not in value


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("The Riverside Weekly", "the-riverside-weekly"),
        ("Café Über-Nachrichten 日本", "cafe-uber-nachrichten"),
        ('Weekly\r\nBcc: victim@evil.example "<x>"', "weekly-bcc-victim-evil-example-x"),
        ("日本語のニュース", "newsletter"),
    ],
)
def test_list_id_and_feedback_id_name_the_list_in_every_copy(
    newsletter: Newsletter, make_article: ArticleFactory, name: str, label: str
) -> None:
    sender = newsletter.sender.model_copy(update={"name": "Sender"})
    named = Newsletter.model_validate(
        newsletter.model_dump() | {"name": name, "sender": sender.model_dump()}
    )
    digest = build_digest([make_article()], named, ON)
    copies = reader_messages(
        digest,
        [Reader(address="a@example.org"), Reader(address="b@example.org", unsubscribe_token="t")],
    )
    for raw in (email_bytes(digest), *(copy.data for copy in copies)):
        message = parse(raw)
        assert list(message.keys()) == HEADER_NAMES
        phrase, list_id = parseaddr(str(message["List-Id"]))
        assert (phrase, list_id) == (named.name, f"{label}.example.org")
        assert "\n" not in str(message["List-Id"])
        assert message["Feedback-ID"] == f"20261123:{label}:newsletter:example.org"
