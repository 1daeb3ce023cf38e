"""Merge languages: the edition in Mailchimp's and listmonk's tags, article text escaped.

The escaping rule is that no sequence opening a tag in any of the tools (``*|``, ``{{``,
``{%``, ``[[``) survives, while a reader sees the same text. It is held for any text
(hypothesis), in HTML (a character reference for the opener's first character, read back by
an HTML parser to the same text) and in the text part (a word joiner between the two
characters). Go's template engine (listmonk) cannot run here; Jinja2, whose ``{{``/``{%``
delimiters are the ones Liquid, Django and Go templates also open with, proves the rule with
a real engine: the escaped text renders as itself.
"""

from __future__ import annotations

import html
import re

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.errors import CheckError
from digest.publish.merge import (
    LISTMONK,
    MAILCHIMP,
    WORD_JOINER,
    Merged,
    MergeLanguage,
    check_tags,
    escape_html,
    escape_text,
    merge_edition,
)
from tests.helpers import build_example

#: What opens a tag in one of the tools.
OPENERS = re.compile(r"\*\||\{\{|\{%|\{#|\[\[")

LANGUAGES = [MAILCHIMP, LISTMONK]


def _id(language: MergeLanguage) -> str:
    return language.tool


hostile = st.text(alphabet=st.sampled_from("*|{}%#[] aé<>&\"'\n"), max_size=60) | st.text(
    max_size=60
)


@given(hostile)
def test_no_tag_opener_survives_in_text_and_a_reader_sees_the_same(text: str) -> None:
    escaped = escape_text(text)
    assert not OPENERS.search(escaped)
    assert escaped.replace(WORD_JOINER, "") == text.replace(WORD_JOINER, "")


@given(hostile)
def test_no_tag_opener_survives_in_html_and_a_browser_reads_the_same(text: str) -> None:
    markup = html.escape(text, quote=True)  # as the renderer writes text into HTML
    escaped = escape_html(f"<p>{markup}</p>")
    assert not OPENERS.search(escaped)
    assert html.unescape(escaped) == f"<p>{text}</p>"


@given(hostile)
def test_a_template_engine_renders_escaped_text_as_itself(text: str) -> None:
    environment = jinja2.Environment(autoescape=False, keep_trailing_newline=True)

    def lines(part: str) -> str:  # Jinja2 writes every line end as \n
        return part.replace("\r\n", "\n").replace("\r", "\n")

    escaped = escape_text(text)
    assert environment.from_string(escaped).render() == lines(escaped)
    page = escape_html(f"<p>{html.escape(text)}</p>")
    assert environment.from_string(page).render() == lines(page)


def test_css_keeps_its_meaning_in_a_style_element() -> None:
    page = '<style>@media x{{a{color:red}}}</style><p title="{{ x }}">{{ y }}</p>'
    escaped = escape_html(page)
    assert escaped.startswith("<style>@media x{ {a{color:red}}}</style>")
    assert '<p title="&#123;{ x }}">&#123;{ y }}</p>' in escaped


@pytest.mark.parametrize("language", LANGUAGES, ids=_id)
def test_a_real_edition_has_the_tools_tags_in_both_parts(language: MergeLanguage) -> None:
    digest = build_example("tangerangnews")
    merged = merge_edition(digest, language)
    for key in ("unsubscribe_url", "view_online", "preferences_url"):
        tag = language.tag(key)
        assert tag in merged.html and tag in merged.text, key
    if language.postal_address is not None:
        assert language.postal_address in merged.html and language.postal_address in merged.text
        assert "Jl. Contoh Raya" not in merged.html
    else:
        assert "Jl. Contoh Raya No. 1" in merged.html
    assert "@@" not in merged.html + merged.text + merged.subject  # no placeholder left
    # digest's own unsubscribe link is gone: the tool's is the only way out.
    assert "tangerangnews.example/newsletter/berhenti" not in merged.html + merged.text


@pytest.mark.parametrize("language", LANGUAGES, ids=_id)
def test_a_tag_in_a_link_is_written_as_it_is(language: MergeLanguage) -> None:
    merged = merge_edition(build_example("tangerangnews"), language)
    assert f'href="{language.unsubscribe_url}"' in merged.html


@pytest.mark.parametrize(
    ("language", "field", "tag"),
    [
        (MAILCHIMP, "city", "*|CITY|*"),
        (MAILCHIMP, "membership_level", "*|MEMBERSHIP|*"),
        (LISTMONK, "city", "{{ .Subscriber.Attribs.city }}"),
        (MAILCHIMP, "no such}}", ""),
        (LISTMONK, "a.b", ""),
    ],
)
def test_a_readers_field_in_each_tools_tags(language: MergeLanguage, field: str, tag: str) -> None:
    assert language.tag(f"fields.{field}") == tag


@pytest.mark.parametrize(
    ("language", "html_part", "text_part", "missing"),
    [
        (MAILCHIMP, "<p>*|LIST:ADDRESSLINE|*</p>", "*|UNSUB|* *|LIST:ADDRESS|*", "HTML"),
        (MAILCHIMP, "*|UNSUB|* *|HTML:LIST_ADDRESS_HTML|*", "*|UNSUB|*", "text"),
        (LISTMONK, "<p>no way out</p>", "{{ UnsubscribeURL }}", "HTML"),
    ],
)
def test_an_edition_without_the_required_tags_is_refused(
    language: MergeLanguage, html_part: str, text_part: str, missing: str
) -> None:
    with pytest.raises(CheckError) as caught:
        check_tags(Merged("s", "p", html_part, text_part), language)
    assert str(caught.value).startswith(f"{language.tool}: the edition's {missing} part has no")


@pytest.mark.parametrize("language", LANGUAGES, ids=_id)
def test_an_edition_with_every_required_tag_passes(language: MergeLanguage) -> None:
    tags = " ".join(choices[0] for _, choices in language.required)
    check_tags(Merged("s", "p", f"<p>{tags}</p>", tags), language)
