"""Personalised copies: the same as rendering each reader from scratch, and fast to assemble."""

from __future__ import annotations

import quopri
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from email import message_from_bytes, policy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest import reader_messages
from digest.delivery.mailing import Mailing
from digest.mail.copies import Copies
from digest.mail.mime import quoted_printable
from digest.mail.placeholders import reader_values
from digest.mail.unsubscribe import UnsubscribeLinks, unsubscribe_url_for
from digest.models import Reader
from digest.suppression import UnsubscribeTokens

from ..helpers import build_example, changed

READERS = [
    Reader(address="ann@example.org", name="Ann O'Brien & <Partners>", unsubscribe_token="t-1"),
    Reader(
        address="bo@example.org",
        sections=("business",),
        unsubscribe_url="https://riverside.example/u/bo?x=1&y=2",
    ),
    Reader(address="cy@bücher.example", name="Çelik “Cy” Ünal 🎉", sections=("town", "culture")),
    Reader(address="di@example.org", name='Di "the" Editor', sections=()),
    Reader(address="ed@example.org", name="</p><script>alert(1)</script>", fields={"plan": "gold"}),
]


@pytest.fixture(scope="module")
def mailing() -> Copies:
    return Copies(build_example("riverside"))


@pytest.mark.parametrize("reader", READERS, ids=[r.address for r in READERS])
def test_filled_in_equals_rendered_from_scratch(mailing: Copies, reader: Reader) -> None:
    assert mailing.render(reader) == mailing.from_scratch(reader)


def parsed(raw: bytes) -> Any:
    return message_from_bytes(raw, policy=policy.default)


@pytest.mark.parametrize("reader", READERS, ids=[r.address for r in READERS])
def test_fast_bytes_parse_like_the_email_package(mailing: Copies, reader: Reader) -> None:
    fast = mailing.message_bytes(reader)
    slow = mailing.message(reader).as_bytes()
    a, b = parsed(fast), parsed(slow)
    assert list(a.keys()) == list(b.keys())
    for name in b:
        if name != "Content-Type":  # the boundaries differ
            assert a[name] == b[name], name
    assert a.get_content_type() == b.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in a.iter_parts()] == ["text/plain", "text/html"]
    for kind in ("plain", "html"):
        assert a.get_body((kind,)).get_content() == b.get_body((kind,)).get_content()
        assert a.get_body((kind,)).get_content_charset() == "utf-8"
    lines = fast.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    body = fast.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76  # quoted-printable's limit
    assert fast.isascii()
    assert a["To"].addresses[0].addr_spec == reader.address.replace("bücher", "xn--bcher-kva")


def test_each_reader_gets_their_own_links_and_sections(mailing: Copies) -> None:
    ann, bo = mailing.message_bytes(READERS[0]), mailing.message_bytes(READERS[1])
    assert b"List-Unsubscribe: <https://riverside.example/newsletter/unsubscribe?token=t-1>" in ann
    assert b"List-Unsubscribe: <https://riverside.example/u/bo?x=1&y=2>" in bo
    html = parsed(bo).get_body(("html",)).get_content()
    assert "Bakery on the quay" in html and "Library extends" not in html
    assert "Footbridge reopens" in html  # the lead always comes
    assert 'href="https://riverside.example/u/bo?x=1&amp;y=2"' in html
    assert parsed(ann)["Message-ID"] != parsed(bo)["Message-ID"]


def test_unsubscribe_links() -> None:
    newsletter = build_example("riverside").newsletter
    assert (
        unsubscribe_url_for(Reader(address="a@example.org"), newsletter)
        == newsletter.contact.unsubscribe_url
    )
    templated = changed(newsletter, unsubscribe_url="https://x.example/u/{token}")
    assert (
        unsubscribe_url_for(Reader(address="a@example.org", unsubscribe_token="abc"), templated)
        == "https://x.example/u/abc"
    )
    with pytest.raises(ValueError, match="ASCII, without quotes"):
        Reader(address="a@example.org", unsubscribe_url='https://x.example/"onmouseover')


def test_messages_stream_in_order(mailing: Copies) -> None:
    readers = (
        Reader(address=f"r{n}@example.org", sections=(("town",), None)[n % 2]) for n in range(50)
    )
    out = list(mailing.messages(readers))
    assert [m.reader.address for m in out] == [f"r{n}@example.org" for n in range(50)]
    assert all(parsed(m.data)["To"] == m.reader.address for m in out[:3])


def test_a_process_pool_gives_the_same_bytes(mailing: Copies) -> None:
    readers = [Reader(address=f"p{n}@example.org", name=f"Reader {n}") for n in range(30)]
    serial = [m.data for m in mailing.messages(readers)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        parallel = [m.data for m in mailing.messages(readers, executor=pool, chunk=7)]
    assert parallel == serial


def test_a_bad_row_a_worker_finds_is_named_by_its_place_in_the_list(mailing: Copies) -> None:
    from digest.errors import InputError

    rows = [{"address": f"p{n}@example.org"} for n in range(30)]
    rows[24]["address"] = "nobody"
    with ProcessPoolExecutor(max_workers=2) as pool, pytest.raises(InputError) as raised:
        list(mailing.messages(rows, executor=pool, chunk=7))
    assert str(raised.value).startswith("reader 25: address: not an email address")


@pytest.mark.slow
def test_a_dask_executor_works_the_same_way(mailing: Copies) -> None:
    distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed")
    readers = [Reader(address=f"d{n}@example.org") for n in range(10)]
    with (
        distributed.Client(processes=True, n_workers=1, dashboard_address=":0") as client,
        client.get_executor() as executor,
    ):
        out = [m.data for m in mailing.messages(readers, executor=executor, chunk=4)]
    assert out == [m.data for m in mailing.messages(readers)]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.text(alphabet=".\n a", max_size=400))
def test_quoted_printable_pieces_join_into_valid_lines(text: str) -> None:
    text = text.replace("\r", "")
    encoded = quoted_printable(text)
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert not encoded.startswith(b".") and b"\r\n." not in encoded  # nothing for SMTP to stuff
    assert quopri.decodestring(encoded).decode("utf-8").replace("\r\n", "\n") == text


@pytest.fixture(scope="module")
def greeting(tmp_path_factory: pytest.TempPathFactory) -> Copies:
    """A mailing whose template prints the reader's name and plan, in text and an attribute."""
    snippet = (
        '<span title="{{ reader.name }}">Dear {{ reader.name }},</span> '
        "<b>[{{ reader.fields.plan }}]</b>"
    )
    return Copies(with_quote_block(tmp_path_factory.mktemp("greeting"), snippet))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(max_size=60), plan=st.text(max_size=30))
def test_any_name_fills_in_exactly(greeting: Copies, name: str, plan: str) -> None:
    import lxml.html

    try:
        reader = Reader(address="h@example.org", name=name, fields={"plan": plan})
    except ValueError:
        return
    subject, html, text = greeting.render(reader)
    assert (subject, html, text) == greeting.from_scratch(reader)
    page = lxml.html.fromstring(html)
    shown = page.text_content()
    assert f"Dear {reader.name or ''}," in shown and f"[{reader.fields['plan']}]" in shown
    assert page.xpath("//span[@title]")[0].get("title") == (reader.name or "")


def test_digest_messages_is_the_short_way(mailing: Copies) -> None:
    readers = [Reader(address="s@example.org", sections=("business",))]
    assert [m.data for m in reader_messages(mailing.digest, readers)] == [
        m.data for m in mailing.messages(readers)
    ]


def with_quote_block(folder: Any, snippet: str) -> Any:
    """The Riverside lead built with a template whose quote block shows ``snippet`` to readers."""
    from digest import RenderOptions, build_digest

    (folder / "edition.mjml.j2").write_text(
        '{% extends "default/edition.mjml.j2" %}{% block quote %}<mj-section><mj-column>'
        f"<mj-text>{{% if reader %}}{snippet}{{% endif %}}</mj-text>"
        "</mj-column></mj-section>{% endblock %}"
    )
    base = build_example("riverside")
    return build_digest(
        [base.edition.lead],
        base.newsletter,
        base.edition.date,
        options=RenderOptions(template_dir=folder),
    )


def test_copies_use_the_templates_the_digest_was_built_with(tmp_path: Any) -> None:
    digest = with_quote_block(
        tmp_path, "Hello {{ reader.name }} on the {{ reader.fields.plan }} plan"
    )
    reader = Reader(address="z@example.org", name="Zoë", fields={"plan": "gold"})
    (message,) = reader_messages(digest, [reader])
    html = parsed(message.data).get_body(("html",)).get_content()
    assert "Hello Zoë on the gold plan" in html
    assert Copies(digest).render(reader) == Copies(digest).from_scratch(reader)


FORGED = ["@@r.address@@", "@@r.unsubscribe_url@@", "@@r.name@@", "@@r.fields.plan@@"]


@pytest.mark.parametrize("placeholder", FORGED)
def test_article_data_cannot_name_a_reader_placeholder(placeholder: str) -> None:
    from digest import build_digest

    base = build_example("riverside")
    lead = base.edition.lead.model_copy(
        update={
            "title": f"Title {placeholder}",
            "image_url": f"https://evil.example/t.png?who={placeholder}",
            "summary": f"Summary {placeholder}",
        }
    )
    digest = build_digest([lead], base.newsletter, base.edition.date)
    reader = Reader(
        address="victim@example.org", name="Vic", unsubscribe_token="secret", fields={"plan": "p"}
    )
    mailing = Copies(digest)
    subject, html, text = mailing.render(reader)
    assert (subject, html, text) == mailing.from_scratch(reader)
    (copy,) = reader_messages(digest, [reader])
    body = parsed(copy.data).get_body(("html",)).get_content()
    assert f"https://evil.example/t.png?who={placeholder}" in body
    assert "victim%40example.org" not in body and "secret" not in body.split("unsubscribe")[0]
    assert placeholder in subject


TRANSFORMING = {
    "upper": "{{ reader.name|upper }}",
    "condition": "{% if reader.name %}Dear {{ reader.name }}{% else %}Hello reader{% endif %}",
    "equality": "{% if reader.fields.plan == 'gold' %}Gold!{% endif %}",
    "urlencode": '<a href="https://x.example/r?n={{ reader.name|urlencode }}">link</a>',
    "space-in-href": '<a href="https://x.example/r?plan={{ reader.fields.plan }}">link</a>',
    "method": "{{ reader.name.replace('a', 'b') }}",
    "length": "{{ reader.name|length }}",
    "concat": "{{ ('[' ~ reader.name ~ ']')|lower }}",
    "set-then-filter": "{% set n = reader.name %}{{ n|title }}",
    "filter-block": "{% filter upper %}{{ reader.name }}{% endfilter %}",
    # reader.fields is a mapping in every way, as in a render from scratch.
    "fields-items": "{% for k, v in reader.fields.items() %}{{ k }}={{ v }};{% endfor %}",
    "fields-length": "{{ reader.fields|length }} fields",
    "fields-get": "{{ reader.fields.get('plan', 'none') }}/{{ reader.fields.get('team') }}",
    "fields-in": "{% if 'plan' in reader.fields %}has a plan{% else %}no plan{% endif %}",
    "fields-tojson": "{{ reader.fields|tojson }}",
    "fields-keys": "{{ reader.fields.keys()|sort|join(',') }}",
    "fields-loop": "{% for k in reader.fields %}[{{ k }}]{% endfor %}",
    "fields-index": "{{ reader.fields['plan'] }}",
}


@pytest.mark.parametrize("snippet", list(TRANSFORMING.values()), ids=list(TRANSFORMING))
def test_templates_that_transform_reader_values_equal_their_from_scratch_render(
    tmp_path: Any, snippet: str
) -> None:
    digest = with_quote_block(tmp_path, snippet)
    readers = [
        Reader(address="a@example.org", name="Anna Bell", fields={"plan": "gold"}),
        Reader(address="b@example.org", fields={"plan": "two words"}),
        Reader(address="c@example.org", name="Ça & <b>", fields={"plan": "x&y=z"}),
        Reader(address="d@example.org", fields={"team": "news", "plan": ""}),
        Reader(address="e@example.org"),
        Reader(address="f@example.org", fields={"team": "sport", "plan": "gold"}),
    ]
    mailing = Copies(digest)
    for reader, copy in zip(readers, mailing.messages(readers), strict=True):
        assert mailing.render(reader) == mailing.from_scratch(reader)
        expected = parsed(mailing.message(reader).as_bytes())
        got = parsed(copy.data)
        assert got.get_body(("html",)).get_content() == expected.get_body(("html",)).get_content()


def test_plain_placeholders_are_filled_in_not_rendered_per_reader(mailing: Copies) -> None:
    reader = Reader(address="f@example.org", name="Fay")
    mailing.message_bytes(reader)
    assert all(variant.fillable for variant in mailing._variants.values())


@settings(max_examples=200, deadline=None)
@given(
    token=st.from_regex(r"[A-Za-z0-9._~-]{1,40}", fullmatch=True),
    base=st.sampled_from(
        [
            # The newsletter's link, and the reader's with their token where @@ stands.
            (
                "https://riverside.example/unsubscribe",
                "https://riverside.example/unsubscribe?token=@@",
            ),
            (
                "https://Riverside.Example/u?list=weekly#footer",
                "https://Riverside.Example/u?list=weekly&token=@@#footer",
            ),
            ("https://{token}.example/u", "https://@@.example/u"),
            ("https://x.example/u/{token}/{token}?a=1", "https://x.example/u/@@/@@?a=1"),
            (
                "https://x.example/u?digesttokenstandin=1",
                "https://x.example/u?digesttokenstandin=1&token=@@",
            ),
            (
                "https://bücher.example/abmelden/straße?wer=jürgen",
                "https://bücher.example/abmelden/straße?wer=jürgen&token=@@",
            ),
            ("https://x.example:8443/u?", "https://x.example:8443/u?token=@@"),
        ]
    ),
)
def test_tokens_put_into_cached_links_equal_links_built_whole(
    mailing: Copies, token: str, base: tuple[str, str]
) -> None:
    from dataclasses import replace

    from digest.mail.mime import header_uri
    from digest.mail.unsubscribe import unsubscribe_uris

    base, expected = base
    # Tokens are letters, digits and ._~- (the model's pattern): no encoding changes them.
    whole = expected.replace("@@", token)
    newsletter = changed(mailing.digest.newsletter, unsubscribe_url=base)
    reader = Reader(address="t@example.org", unsubscribe_token=token)
    assert unsubscribe_url_for(reader, newsletter) == whole
    other = Copies(replace(mailing.digest, newsletter=newsletter))
    uris = other.links.uris_for(reader, whole)
    assert uris == unsubscribe_uris(newsletter, whole) == [header_uri(whole)]


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(max_size=60),
    token=st.from_regex(r"[A-Za-z0-9._~-]{1,40}", fullmatch=True) | st.none(),
    local=st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,20}[a-z0-9]", fullmatch=True),
    plan=st.sampled_from([None, ("town",), ("business", "culture")]),
)
def test_copies_made_from_the_plan_equal_copies_written_line_by_line(
    mailing: Copies, name: str, token: str | None, local: str, plan: Any
) -> None:
    """The fast path (one join per copy) and the general one give the same bytes."""
    try:
        reader = Reader(
            address=f"{local}@example.org",
            name=name or None,
            unsubscribe_token=token,
            sections=plan,
        )
    except ValueError:
        return
    values = reader_values(reader, UnsubscribeLinks(mailing.digest.newsletter))
    variant = mailing._variant(reader, values)
    assert variant.plan is not None
    assert mailing.message_bytes(reader) == mailing._written(reader, values, variant)


def test_ab_copies_made_from_the_plan_carry_their_own_subject() -> None:
    ab = Copies(build_example("riverside"), subjects=["One {{ edition.lead.title }}", "Two"])
    for n in range(20):
        reader = Reader(address=f"x{n}@example.org", unsubscribe_token=f"t{n}")
        values = reader_values(reader, UnsubscribeLinks(ab.digest.newsletter))
        variant = ab._variant(reader, values)
        data = ab.message_bytes(reader)
        assert data == ab._written(reader, values, variant)
        subject = parsed(data)["Subject"]
        assert subject.startswith("One ") if ab.subject_variant(reader) == 0 else subject == "Two"


@pytest.mark.parametrize(
    "snippet",
    [
        '<a href="{{ reader.fields.link }}">your page</a>',
        '<a href="{{ reader.fields.link|trim }}">your page</a>',  # rendered from scratch
        '<img src="{{ reader.fields.link }}" alt="you" width="10" height="10">',
    ],
    ids=["filled-in", "from-scratch", "picture"],
)
def test_a_reader_value_that_makes_an_unsafe_link_refuses_that_copy_alone(
    tmp_path: Any, snippet: str
) -> None:
    from digest.delivery.senders import Outgoing, Receipt
    from digest.errors import CheckError

    digest = with_quote_block(tmp_path, snippet)
    readers = [
        Reader(address="a@example.org", fields={"link": "https://example.org/a.png"}),
        Reader(address="evil@example.org", fields={"link": "javascript:alert(document.domain)"}),
        Reader(address="b@example.org", fields={"link": " JaVaScRiPt:alert(1)"}),
        Reader(address="c@example.org", fields={"link": "https://example.org/c.png"}),
    ]
    mailing = Mailing(digest)
    with pytest.raises(CheckError, match=r"evil@example.org: .*javascript: scheme is unsafe"):
        list(mailing.copies.messages(readers))

    class Keeper:
        batch_size = 10

        def __init__(self) -> None:
            self.sent: list[Outgoing] = []

        def send(self, batch: Any) -> list[Receipt]:
            self.sent += batch
            return [Receipt(m.address, "sent") for m in batch]

        def close(self) -> None:
            pass

    keeper = Keeper()
    report = mailing.deliver(readers, keeper)  # type: ignore[arg-type]
    assert sorted(m.address for m in keeper.sent) == ["a@example.org", "c@example.org"]
    assert set(report.refused) == {"evil@example.org", "b@example.org"}
    assert all("javascript" in reason for reason in report.refused.values())
    assert all(b"javascript" not in m.data.lower() for m in keeper.sent)


def test_plain_rows_make_the_same_copies_as_readers_and_bad_rows_name_themselves(
    mailing: Copies,
) -> None:
    from concurrent.futures import ProcessPoolExecutor

    from digest import InputError

    rows = [
        {"address": f"r{n}@example.org", "name": f"O'Neil {n}", "sections": ["business"]}
        for n in range(5)
    ]
    readers = [Reader(**row) for row in rows]  # type: ignore[arg-type]
    expected = [m.data for m in mailing.messages(readers)]
    assert [m.data for m in reader_messages(mailing.digest, rows)] == expected
    with ProcessPoolExecutor(max_workers=2) as pool:
        assert [m.data for m in mailing.messages(rows, executor=pool, chunk=2)] == expected
    with pytest.raises(InputError, match=r"reader 2: address"):
        list(reader_messages(mailing.digest, [rows[0], {"address": "not an address"}]))


def test_token_links_in_the_path_make_copies_with_the_plan_and_a_preferences_link() -> None:
    """``…/u/{token}`` and ``…/p/{token}``: each copy carries the reader's own token in both."""
    digest = build_example("riverside")
    newsletter = changed(
        digest.newsletter,
        unsubscribe_url="https://x.example/u/{token}",
        preferences_url="https://x.example/p/{token}",
    )
    copies = Copies(replace(digest, newsletter=newsletter), tokens=UnsubscribeTokens("s" * 16, "l"))
    reader = Reader(address="ann@example.org", sections=("town",))
    token = UnsubscribeTokens("s" * 16, "l").token(reader.address)
    fast = parsed(copies.message_bytes(reader))
    slow = copies.message(reader)
    for kind in ("plain", "html"):
        assert fast.get_body((kind,)).get_content() == slow.get_body((kind,)).get_content()
    html = fast.get_body(("html",)).get_content()
    assert f'href="https://x.example/u/{token}"' in html
    assert f'href="https://x.example/p/{token}"' in html
    assert f"https://x.example/p/{token}" in fast.get_body(("plain",)).get_content()
    signed = copies.signed(reader)
    variant = copies._variant(signed, reader_values(signed, copies.links))
    assert variant.plan is not None  # the fast path holds
