"""Buttondown's, Brevo's and Kit's merge tags in an edition, and article text that looks like
them reaching the tool escaped.

The tags each tool fills per reader come from its documentation (``digest.publish.merge``);
what an article says is never one of them: a title with ``*|UNSUB|*``, ``{{ … }}``, ``{% … %}``
or ``[[ … ]]`` is shown as written and expanded by no tool.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.errors import CheckError
from digest.publish.merge import merge_edition
from tests.helpers import build_example
from tests.publish.tools import TOOLS, riverside

NAMES = list(TOOLS)
#: Anything a tool could read as its own: a tag, a block, an old Brevo tag, Mailchimp's.
TAG_LIKE = re.compile(r"\{\{.*?\}\}|\{%|\*\||\[\[")
#: A lead's title with every kind of look-alike (short enough for the subject to keep whole).
HOSTILE = "*|UNSUB|* {{ unsubscribe_url }} {% if %} [[ contact.EMAIL ]]"


def tags_of(name: str) -> set[str]:
    """Every tag the tool's language may write."""
    language = TOOLS[name].language
    tags = {language.name, language.address, language.unsubscribe_url}
    tags |= {t for t in (language.view_online, language.preferences_url) if t}
    return tags


def with_lead_title(title: str):  # type: ignore[no-untyped-def]
    return build_example(
        "riverside",
        edit=lambda articles: [articles[0].model_copy(update={"title": title}), *articles[1:]],
    )


@pytest.mark.parametrize("name", NAMES)
def test_the_footer_links_are_the_tools_own_in_html_and_text(name: str) -> None:
    language = TOOLS[name].language
    merged = merge_edition(riverside(), language)
    for part in (merged.html, merged.text):
        assert language.unsubscribe_url in part
        assert language.preferences_url is not None and language.preferences_url in part
        if language.view_online is not None:
            assert language.view_online in part
        # digest's own unsubscribe link means nothing to the tool, which keeps the list
        assert "riverside.example/newsletter/unsubscribe" not in part


@pytest.mark.parametrize(
    ("name", "tags"),
    [
        (
            "buttondown",
            ["{{ unsubscribe_url }}", "{{ email.absolute_url }}", "{{ manage_subscription_url }}"],
        ),
        ("brevo", ["{{ unsubscribe }}", "{{ mirror }}", "{{ update_profile }}"]),
        ("kit", ["{{ unsubscribe_url }}", "{{ subscriber_preferences_url }}"]),
    ],
)
def test_each_tool_gets_the_tags_its_documentation_names(name: str, tags: list[str]) -> None:
    merged = merge_edition(riverside(), TOOLS[name].language)
    found = set(TAG_LIKE.findall(merged.html))
    assert found == set(tags)


@pytest.mark.parametrize(
    ("name", "field", "tag"),
    [
        ("buttondown", "city", "{{ subscriber.metadata.city }}"),
        ("brevo", "city", "{{ contact.CITY }}"),
        ("kit", "city", "{{ subscriber.city }}"),
    ],
)
def test_a_readers_name_and_fields_are_the_tools_tags(name: str, field: str, tag: str) -> None:
    language = TOOLS[name].language
    assert language.tag(f"fields.{field}") == tag
    assert language.tag("name") in {
        "{{ subscriber.metadata.first_name }}",
        "{{ contact.FIRSTNAME }}",
        "{{ subscriber.first_name }}",
    }
    assert language.tag("fields.not a name") == ""


@pytest.mark.parametrize("name", NAMES)
def test_a_hostile_title_reaches_the_tool_escaped(name: str) -> None:
    edition = with_lead_title(HOSTILE)
    merged = merge_edition(edition, TOOLS[name].language)
    for part in (merged.subject, merged.html, merged.text):
        assert set(TAG_LIKE.findall(part)) <= tags_of(name)
    plain = merge_edition(riverside(), TOOLS[name].language)
    # the footer's tags, and no more: the title's look-alikes were not counted as tags
    assert merged.html.count(TOOLS[name].language.unsubscribe_url) == plain.html.count(
        TOOLS[name].language.unsubscribe_url
    )
    # shown as written: a reference in the HTML, a word joiner in the subject and text
    assert "&#123;{ unsubscribe_url }}" in merged.html
    joined = "*\u2060|UNSUB|* {\u2060{ unsubscribe_url }} {\u2060% if %} [\u2060[ contact.EMAIL ]]"
    assert joined in merged.text
    assert merged.subject.startswith(f"The Riverside Weekly: {joined[:30]}")


@pytest.mark.parametrize("name", NAMES)
def test_an_edition_without_the_tools_unsubscribe_tag_is_refused(name: str) -> None:
    language = TOOLS[name].language
    broken = type(language)(**{**language.__dict__, "unsubscribe_url": "", "view_online": None})
    with pytest.raises(
        CheckError, match=rf"{language.tool}: the edition.s HTML part has no .*unsubscribe link"
    ):
        merge_edition(riverside(), broken)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(NAMES),
    title=st.text(
        alphabet=st.sampled_from(list("{}%*|[]# abcUNSB.")), min_size=3, max_size=60
    ).filter(lambda t: t.strip()),
)
def test_no_title_becomes_a_tag(name: str, title: str) -> None:
    merged = merge_edition(with_lead_title(title), TOOLS[name].language)
    for part in (merged.subject, merged.html, merged.text):
        assert set(TAG_LIKE.findall(part)) <= tags_of(name)
