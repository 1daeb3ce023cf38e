"""Hostile input, templates and headers: each case with its expected outcome."""

from __future__ import annotations

import os
import re
import time
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from digest import (
    DigestError,
    InputError,
    Newsletter,
    RenderError,
    RenderOptions,
    TemplateError,
    build_digest,
    email_bytes,
)
from digest.addresses import email_address
from digest.feeds.data import parse_edition_data
from digest.schedule.commit import write_files

from .helpers import HEADER_NAMES, ArticleFactory, changed, validated_with
from .htmltools import read_page

ON = date(2026, 11, 23)
ARTICLE: dict[str, Any] = {
    "title": "A title",
    "url": "https://example.org/a",
    "section": "news",
    "published_at": "2026-11-20T12:00:00+00:00",
    "summary": "A summary.",
}


def build(newsletter: Newsletter, **changes: Any):  # type: ignore[no-untyped-def]
    data = parse_edition_data({"articles": [{**ARTICLE, **changes}]}, newsletter)
    return build_digest(data.articles, newsletter, ON)


REJECTED = [
    ("url", "javascript:alert(1)", "javascript: scheme is not allowed"),
    ("url", "JaVaScRiPt:alert(1)", "javascript: scheme is not allowed"),
    ("url", "  javascript:alert(1)", "javascript: scheme is not allowed"),
    ("url", "java\tscript:alert(1)", "spaces, control or invisible characters"),
    ("url", "java\x00script:alert(1)", "spaces, control or invisible characters"),
    ("url", "java\u200bscript:alert(1)", "spaces, control or invisible characters"),
    ("url", "data:text/html,<script>alert(1)</script>", "data: scheme is not allowed"),
    ("url", "vbscript:msgbox(1)", "vbscript: scheme is not allowed"),
    ("url", "file:///etc/passwd", "file: scheme is not allowed"),
    ("url", "//evil.example/x", "relative URL needs a base URL"),
    ("url", "/relative/path", "relative URL needs a base URL"),
    ("url", "https://", "needs a host name"),
    ("url", "mailto:", "needs an address"),
    ("image_url", "javascript:alert(1)", "javascript: scheme is not allowed"),
    ("image_url", "data:image/png;base64,iVBORw0KGgo=", "data: scheme is not allowed"),
    ("image_url", "../../etc/passwd", "plain relative path"),
    ("title", "", "must not be empty"),
    ("title", "\x00\x01 \t\r\n", "must not be empty"),
    ("title", "lone \ud800 surrogate", "valid string"),
    ("title", "x" * 501, "at most 500 characters"),
    ("summary", "x" * 1_000_000, "at most 20000 characters"),
    ("summary_html", "<p>x</p>" * 20_000, "at most 100000 characters"),
    ("published_at", "2026-11-20T12:00:00", "timezone"),
    ("priority", 10**9, "less than or equal to 1000"),
]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    REJECTED,
    ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(REJECTED)],
)
def test_hostile_values_are_rejected_naming_the_field(
    newsletter: Newsletter, field: str, value: object, message: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        build(newsletter, **{field: value})
    assert f"articles[0].{field}" in str(caught.value) or f"articles[0]: {field}" in str(
        caught.value
    )
    assert message in str(caught.value)
    assert len(str(caught.value)) < 400  # an excerpt of the value, never all of it
    assert time.perf_counter() - started < 5  # generous: a 1 MB value must not hang the build


ACCEPTED = [
    ("url", "mailto:editor@example.org", lambda page, d: "mailto:editor@example.org" in page.links),
    (
        "url",
        "https://example.org/?a=1&b=2",
        lambda page, d: "https://example.org/?a=1&b=2" in page.links,
    ),
    (
        "title",
        "</mj-text><mj-raw><script>alert(1)</script></mj-raw><mj-text>",
        lambda page, d: "script" not in page.tags and "<script>alert(1)</script>" in page.text,
    ),
    (
        "title",
        '" onmouseover="alert(1)',
        lambda page, d: not any(a == "onmouseover" for _, a in page.attributes),
    ),
    ("title", "{{ 7*7 }} {% raw %}", lambda page, d: "{{ 7*7 }} {% raw %}" in page.text),
    ("title", "a\x00b\x07c\x7fd\ufffee\uffff", lambda page, d: ("h1", "abcde") in page.headings),
    (
        "title",
        "مرحبا e\u0301 👩‍👩‍👧‍👦",
        lambda page, d: ("h1", "مرحبا é 👩‍👩‍👧‍👦") in page.headings,
    ),
    (
        "title",
        "Hi\r\nBcc: victim@example.org",
        lambda page, d: "Bcc" not in message_from_bytes(email_bytes(d), policy=policy.default),
    ),
    ("author", "<img src=x onerror=alert(1)>", lambda page, d: page.images == []),
    (
        "summary_html",
        "<p>Fine <em>text</em><script>alert(1)</script><img src=x onerror=alert(1)>"
        '<a href="javascript:alert(1)">bad</a> <a href="https://example.org/?a=1&amp;b=2">good</a>'
        "<style>p{background:url(https://evil.example/)}</style><form action=x><input></form>"
        '<base href="https://evil.example/"><meta http-equiv=refresh content=0><svg onload=x></svg>'
        "<math><mi>x</mi></math><iframe src=x></iframe></p>",
        lambda page, d: (
            not {"script", "form", "input", "base", "svg", "math", "iframe", "em"} - {"em"}
            & set(page.tags)
            and "em" in page.tags
            and "https://example.org/?a=1&b=2" in page.links
            and "javascript:alert(1)" not in page.links
            and "evil.example" not in d.html
            and "onerror" not in d.html
        ),
    ),
    ("summary_html", "<p>only <b>bold</b> text</p>", lambda page, d: "only bold text" in d.text),
]


@pytest.mark.parametrize(
    ("field", "value", "check"), ACCEPTED, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(ACCEPTED)]
)
def test_hostile_values_that_build_are_inert(
    newsletter: Newsletter, field: str, value: str, check: Any
) -> None:
    changes = {field: value, "featured": True}
    if field == "summary_html":
        changes["summary"] = ""  # the text part then comes from the HTML
    digest = build(newsletter, **changes)
    assert check(read_page(digest.html), digest)


def test_relative_links_resolve_against_a_configured_base(newsletter: Newsletter) -> None:
    based = changed(newsletter, link_base_url="https://example.org/news/")
    digest = build(based, url="2026/story")
    assert "https://example.org/news/2026/story" in read_page(digest.html).links


def test_link_schemes_are_configurable(newsletter: Newsletter) -> None:
    web_only = validated_with(newsletter, url_schemes=["https"])
    with pytest.raises(InputError, match="mailto: scheme is not allowed"):
        build(web_only, url="mailto:a@example.org")
    with pytest.raises(Exception, match="cannot be allowed"):
        validated_with(newsletter, url_schemes=["javascript"])


def test_too_many_articles(make_article: ArticleFactory, newsletter: Newsletter) -> None:
    article = make_article()
    with pytest.raises(InputError, match="10,001 is more than the 10,000 allowed"):
        build_digest([article] * 10_001, newsletter, ON)


# ---- templates -------------------------------------------------------------------------------

SANDBOX = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ edition.update({'x': 1}) }}",
    "{{ range(10**9) | list }}",
    "{{ 'x' * 1000000000 }}",
    "{{ [1] * 1000000000 }}",
    "{{ 9 ** 9999999 }}",
    "{{ 'x' | center(1000000000) }}",
    "{{ 'x' | indent(1000000000, true) }}",
    "{{ '%999999999s' % 'x' }}",
    "{{ '{:999999999}'.format(1) }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxx{% endfor %}{% endfor %}",
    "{% include '/etc/passwd' %}",
    "{% include '../../../../etc/passwd' %}",
    "{% extends 'file:///etc/passwd' %}",
]


@pytest.mark.parametrize("template", SANDBOX)
def test_sandbox_escapes_fail_cleanly(
    tmp_path: Path, make_article: ArticleFactory, newsletter: Newsletter, template: str
) -> None:
    (tmp_path / "edition.mjml.j2").write_text(template)
    started = time.perf_counter()
    with pytest.raises(TemplateError):
        build_digest([make_article()], newsletter, ON, options=RenderOptions(template_dir=tmp_path))
    assert time.perf_counter() - started < 30


MJML_WITH_INCLUDE = (
    '<mjml><mj-body><mj-section><mj-column><mj-include path="{path}" />'
    "</mj-column></mj-section></mj-body></mjml>"
)


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../outside.mjml",
        "file:///etc/passwd",
        "https://evil.example/x.mjml",
        "..\\outside.mjml",
    ],
)
def test_mj_include_stays_in_the_template_folder(
    tmp_path: Path, make_article: ArticleFactory, newsletter: Newsletter, path: str
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (tmp_path / "outside.mjml").write_text("<mj-text>SECRET</mj-text>")
    (templates / "edition.mjml.j2").write_text(MJML_WITH_INCLUDE.format(path=path))
    with pytest.raises(RenderError, match="MJML did not compile"):
        build_digest(
            [make_article()], newsletter, ON, options=RenderOptions(template_dir=templates)
        )


def test_mj_include_of_a_file_in_the_folder_works(
    tmp_path: Path, make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    (tmp_path / "partial.mjml").write_text("<mj-text>From the partial</mj-text>")
    (tmp_path / "edition.mjml.j2").write_text(MJML_WITH_INCLUDE.format(path="partial.mjml"))
    # A bare template: no title or unsubscribe link, so it is built unchecked.
    digest = build_digest(
        [make_article()], newsletter, ON, options=RenderOptions(template_dir=tmp_path), check=False
    )
    assert "From the partial" in digest.html


@pytest.mark.parametrize(
    "rule",
    [
        "@import url(http://evil.example/a.css);",
        "@IMPORT 'http://evil.example/b.css' screen;",
        "@\\69mport url(http://evil.example/c.css);",  # a CSS escape for the i
    ],
)
def test_user_css_imports_are_not_fetched(
    no_network: list[object],
    tmp_path: Path,
    make_article: ArticleFactory,
    newsletter: Newsletter,
    rule: str,
) -> None:
    (tmp_path / "edition.mjml.j2").write_text(
        '{% extends "default/edition.mjml.j2" %}{% block header %}'
        f"<mj-raw><style>{rule} p {{ color: red; }}</style></mj-raw>"
        "{{ super() }}{% endblock %}"
    )
    digest = build_digest(
        [make_article()], newsletter, ON, options=RenderOptions(template_dir=tmp_path)
    )
    assert no_network == []
    assert "evil.example" not in digest.html


# ---- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "to",
    [
        "victim@example.org\r\nBcc: other@example.org",
        "a@example.org\nX-Evil: 1",
        "a@b\x00.org",
        "Name <a@example.org>",
        "not an address",
    ],
)
def test_recipients_cannot_inject_headers(
    make_article: ArticleFactory, newsletter: Newsletter, to: str
) -> None:
    digest = build_digest([make_article()], newsletter, ON)
    with pytest.raises(InputError, match=r"to\[0\]: not an email address"):
        email_bytes(digest, to=[to])


def test_names_and_subject_cannot_inject_headers(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    evil = Newsletter.model_validate(
        newsletter.model_dump()
        | {
            "name": "Weekly\r\nBcc: victim@example.org",
            "sender": {"name": "Sender\nX-Evil: 1", "address": "news@example.org"},
        }
    )
    raw = email_bytes(build_digest([make_article(title="T\r\nX-Evil: 2")], evil, ON))
    message = message_from_bytes(raw, policy=policy.default)
    assert list(message.keys()) == HEADER_NAMES
    assert b"\nBcc" not in raw and b"\nX-Evil" not in raw
    assert message["Subject"] == "Weekly Bcc: victim@example.org: T X-Evil: 2"


def test_international_addresses(make_article: ArticleFactory, newsletter: Newsletter) -> None:
    intl = Newsletter.model_validate(
        newsletter.model_dump()
        | {"sender": {"name": "Redaksi Jürgen ✉", "address": "kabar@bücher.example"}}
    )
    digest = build_digest([make_article()], intl, ON)
    raw = email_bytes(digest, to=["leser@straße.example"])
    assert raw.isascii()
    message = message_from_bytes(raw, policy=policy.default)
    assert message["From"].addresses[0].addr_spec == "kabar@xn--bcher-kva.example"
    assert message["From"].addresses[0].display_name == "Redaksi Jürgen ✉"
    # IDNA 2008: straße stays straße (IDNA 2003 made it strasse, another domain).
    assert message["To"].addresses[0].domain == "xn--strae-oqa.example"
    with pytest.raises(InputError, match="Internationalized characters before the @-sign"):
        email_bytes(digest, to=["jürgen@example.org"])


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("a..b@example.org", "two periods in a row"),
        (".a@example.org", "cannot start with a period"),
        ("x@-bad-.com", "hyphen"),
        ("a" * 70 + "@example.org", "over 64 characters"),
        ("a@localhost", "should have a period"),
        # Encoded words, quotes and comments: a parser reads them as another address or CR/LF.
        ("=?utf-8?q?x=0D=0A?=@example.org", "encoded word"),
        ("=?utf-8?q?=22evil=40attacker.example=22?=@example.org", "encoded word"),
        ('"evil@attacker.example"@example.org', "Quoting"),
        ("a(comment)@example.org", "invalid characters"),
        ("a\r\nBcc: b@example.org", "control characters|invalid characters"),
    ],
)
def test_addresses_that_are_not(address: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        email_address(address)


# ---- files -----------------------------------------------------------------------------------


def test_a_crash_while_replacing_files_keeps_the_previous_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(tmp_path, {"a.html": b"old a", "b.txt": b"old b", "c.eml": b"old c"})
    real_replace = os.replace
    calls = []

    def flaky(source: Any, target: Any) -> None:
        calls.append(target)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(DigestError, match="No space left on device"):
        write_files(
            tmp_path, {"a.html": b"new a", "b.txt": b"new b", "c.eml": b"new c", "d.new": b"new d"}
        )
    monkeypatch.setattr(os, "replace", real_replace)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        "a.html": b"old a",
        "b.txt": b"old b",
        "c.eml": b"old c",
    }


def test_written_files_are_readable_and_complete(tmp_path: Path) -> None:
    paths = write_files(tmp_path / "new", {"x.html": b"<p>x</p>"})
    assert paths == [tmp_path / "new" / "x.html"]
    assert paths[0].read_bytes() == b"<p>x</p>"
    assert oct(paths[0].stat().st_mode & 0o777) == "0o644"
    assert not [p for p in (tmp_path / "new").iterdir() if re.match(r"\.", p.name)]
