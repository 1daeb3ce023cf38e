"""The pieces personalised copies are made of: placeholders, unsubscribe links, the MIME join."""

from __future__ import annotations

import quopri
import re
from dataclasses import replace

import pytest

from digest import reader_messages
from digest.mail.copies import Copies
from digest.mail.mime import CopyPlan, assemble, frame, write_copy
from digest.mail.placeholders import Split, escape
from digest.mail.unsubscribe import UnsubscribeLinks, unsubscribe_uris
from digest.models import Reader
from digest.pipeline import Digest

from ..helpers import build_example, changed

PLACEHOLDER = re.compile(r"@@([a-z_.]+)@@")

HTML = '<p class="x">Hello @@name@@,</p><a href="@@unsubscribe_url@@" title="@@name@@">leave</a>'


@pytest.fixture(scope="module")
def digest() -> Digest:
    return build_example("riverside")


def test_a_split_fills_each_value_escaped_for_where_it_stands() -> None:
    split = Split.of(HTML, PLACEHOLDER, markup=True)
    assert split.keys == ("name", "unsubscribe_url", "name")
    assert split.places == ("text", "attribute", "attribute")
    assert split.url_keys == ("unsubscribe_url",)
    values = {"name": 'Ann "A" <&>', "unsubscribe_url": "https://x.example/u?a=1&b=2"}
    assert split.fill(values) == (
        '<p class="x">Hello Ann "A" &lt;&amp;&gt;,</p>'
        '<a href="https://x.example/u?a=1&amp;b=2" title="Ann &quot;A&quot; &lt;&amp;&gt;">'
        "leave</a>"
    )
    # Filled in encoded, piece by piece, it reads back as the text filled in.
    assert quopri.decodestring(split.fill_encoded(values)).decode() == split.fill(values)
    assert split.unsafe_in_attributes(values)  # a space and quotes: render from scratch
    assert not split.unsafe_in_attributes({"name": "Ann", "unsubscribe_url": "https://x.example"})


@pytest.mark.parametrize("where", ["text", "attribute", "raw"])
def test_escape_follows_the_serialiser(where: str) -> None:
    expected = {"text": '&lt;a&gt; &amp; "b"', "attribute": "&lt;a&gt; &amp; &quot;b&quot;"}
    assert escape('<a> & "b"', where) == expected.get(where, '<a> & "b"')  # type: ignore[arg-type]


def test_write_copy_joins_as_assemble_writes_a_whole_message() -> None:
    text = Split.of("Hello @@name@@.\n" + "long line " * 20, PLACEHOLDER, markup=False)
    html = Split.of(HTML, PLACEHOLDER, markup=True)
    values = {"name": "Zoë", "unsubscribe_url": "https://x.example/u"}
    head = b"From: a@example.org\r\nSubject: hi\r\n"
    parts = [("plain", text.fill_encoded(values)), ("html", html.fill_encoded(values))]
    joined = write_copy([head], frame("=_b", ("plain", "html")), (text, html), values)
    assert joined == assemble(head, "=_b", parts)
    assert write_copy((b"a", b"b"), (), (), {}) == b"ab"


def test_a_copy_plan_puts_each_copy_s_own_bytes_in_their_places() -> None:
    lines = {
        "From": b"From: a@example.org\r\n",
        "Reply-To": b"",
        "Subject": b"Subject: hi\r\n",
        "Date": b"Date: now\r\n",
        "Message-ID": b"<id.STAND@example.org>",
        "List-Unsubscribe": b"List-Unsubscribe: <https://x.example/u/STAND>\r\n",
        "Fixed-List-Unsubscribe": b"List-Unsubscribe: <https://x.example/u>\r\n",
        "List-Unsubscribe-Post": b"",
        "List-Id": b"",
        "Feedback-ID": b"",
        "X-Digest-Edition": b"X-Digest-Edition: e\r\n",
    }
    plan = CopyPlan.around(lines, b"STAND", "=_b", ("plain",))
    body = Split.of("Hi @@name@@", PLACEHOLDER, markup=False)
    copy = plan.write(b"kim@example.org", b"abc", b"tok", (body,), {"name": "Kim"})
    assert copy.startswith(b"From: a@example.org\r\nTo: kim@example.org\r\nSubject: hi\r\n")
    assert b"<id.abc@example.org>List-Unsubscribe: <https://x.example/u/tok>\r\n" in copy
    assert copy.endswith(body.fill_encoded({"name": "Kim"}) + frame("=_b", ("plain",))[-1])
    fixed = plan.write(b"kim@example.org", b"abc", None, (body,), {"name": "Kim"})
    assert b"List-Unsubscribe: <https://x.example/u>\r\n" in fixed


READERS = [
    Reader(address="ann@example.org", name="Ann", unsubscribe_token="t-1"),
    Reader(address="bo@example.org", sections=("business",)),
    Reader(address="cy@example.org", name="Cy & <Co>", unsubscribe_token="t.2~x"),
]


def test_the_plan_writes_the_bytes_of_the_general_path(digest: Digest) -> None:
    """Every copy the fast path joins is byte for byte the one each header written makes."""
    fast = Copies(digest)
    general = Copies(digest)
    general._plan = lambda variant, subject: None  # type: ignore[method-assign]
    for reader in READERS:
        assert fast.message_bytes(reader) == general.message_bytes(reader), reader.address
    assert any(variant.plan is not None for variant in fast._variants.values())
    assert all(variant.plan is None for variant in general._variants.values())


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://x.example/u/{token}", "https://x.example/u/TOKEN"),
        ("https://x.example/u?list=1", "https://x.example/u?list=1&token=TOKEN"),
    ],
)
def test_unsubscribe_links_put_the_token_where_the_link_says(
    digest: Digest, base: str, expected: str
) -> None:
    newsletter = changed(digest.newsletter, unsubscribe_url=base)
    links = UnsubscribeLinks(newsletter)
    reader = Reader(address="kim@example.org", unsubscribe_token="TOKEN")
    assert links.url_for(reader) == expected
    assert links.uris_for(reader, expected) == unsubscribe_uris(newsletter, expected)
    own = Reader(address="kim@example.org", unsubscribe_url="https://own.example/bye")
    assert links.url_for(own) == "https://own.example/bye"
    assert links.url_for(Reader(address="kim@example.org")) == base


def test_a_token_in_the_host_is_never_put_into_a_cut_uri(digest: Digest) -> None:
    newsletter = changed(digest.newsletter, unsubscribe_url="https://{token}.example/u")
    links = UnsubscribeLinks(newsletter)
    assert links.uri_place is None
    reader = Reader(address="kim@example.org", unsubscribe_token="AbC")
    assert links.url_for(reader) == "https://AbC.example/u"
    assert links.uris_for(reader, links.url_for(reader)) == unsubscribe_uris(
        newsletter, "https://AbC.example/u"
    )


def test_reader_messages_are_the_copies_messages(digest: Digest) -> None:
    rows = [{"address": r.address, "name": r.name or ""} for r in READERS]
    made = [(m.reader.address, m.data) for m in reader_messages(digest, rows)]
    assert made == [(m.reader.address, m.data) for m in Copies(digest).messages(rows)]
    assert [address for address, _ in made] == [r.address for r in READERS]


def test_copies_of_another_digest_are_known_by_another_key(digest: Digest) -> None:
    other = replace(digest, subject=digest.subject + " (corrected)")
    assert Copies(digest).key != Copies(other).key
    assert Copies(digest).key == Copies(build_example("riverside")).key
