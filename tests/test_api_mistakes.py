"""A developer's first mistakes with the library, each refused or repaired clearly."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from digest import Article, InputError, Newsletter, build_digest

NEWSLETTER: dict[str, Any] = {
    "name": "The Weekly",
    "locale": "en_GB",
    "timezone": "Europe/London",
    "sender": {"name": "The Weekly", "address": "news@weekly.example"},
    "contact": {"postal_address": "1 High Street", "unsubscribe_url": "https://weekly.example/u"},
}
STORY: dict[str, Any] = {
    "title": "The bridge reopens",
    "url": "https://weekly.example/bridge",
    "section": "Town",
    "published_at": "2026-11-28T09:00:00+00:00",
}


@pytest.mark.parametrize("on", ["2026-11-30", date(2026, 11, 30), datetime(2026, 11, 30, 7)])
def test_a_date_as_iso_text_or_a_datetime_is_taken(on: object) -> None:
    digest = build_digest([STORY], NEWSLETTER, on)  # type: ignore[arg-type]
    assert digest.edition.date == date(2026, 11, 30)


@pytest.mark.parametrize(
    ("on", "message"),
    [
        ("30/11/2026", "on: '30/11/2026' is not a date"),
        (20261130, "on: give a date or YYYY-MM-DD, not int"),
    ],
)
def test_a_date_that_is_not_one_is_refused_by_name(on: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_digest([STORY], NEWSLETTER, on)  # type: ignore[arg-type]


def test_dicts_are_validated_into_models_naming_the_item() -> None:
    digest = build_digest(
        [STORY], NEWSLETTER, "2026-11-30", quotes=[{"text": "Onward.", "author": "A. N."}]
    )
    assert isinstance(digest.newsletter, Newsletter) and isinstance(digest.edition.lead, Article)
    assert digest.edition.quote is not None and digest.edition.quote.author == "A. N."
    with pytest.raises(InputError, match=r"articles\[1\]: url: Field required"):
        build_digest(
            [STORY, {"title": "x", "section": "s", "published_at": STORY["published_at"]}],
            NEWSLETTER,
            "2026-11-30",
        )
    with pytest.raises(InputError, match=r"quotes\[0\]: author"):
        build_digest([STORY], NEWSLETTER, "2026-11-30", quotes=[{"text": "Alone."}])
    with pytest.raises(InputError, match="newsletter: sender"):
        build_digest([STORY], {**NEWSLETTER, "sender": None}, "2026-11-30")
    with pytest.raises(InputError, match="articles: give a list of articles, not one"):
        build_digest(STORY, NEWSLETTER, "2026-11-30")  # type: ignore[arg-type]


def test_a_naive_moment_in_a_dict_is_read_in_the_newsletters_zone_with_a_warning() -> None:
    story = {**STORY, "published_at": datetime(2026, 11, 28, 9, 0)}
    digest = build_digest([story], NEWSLETTER, "2026-11-30")
    assert digest.edition.lead.published_at.utcoffset() is not None
    assert str(digest.edition.lead.published_at.tzinfo) == "Europe/London"
    (warning,) = [f for f in digest.findings if f.rule == "timezone"]
    assert (
        warning.message
        == "1 article names no time zone in published_at, read in the newsletter's, Europe/London"
    )


def test_a_naive_moment_in_a_model_says_what_to_do() -> None:
    with pytest.raises(ValueError, match="has no timezone: add one"):
        Article(**{**STORY, "published_at": datetime(2026, 11, 28, 9, 0)})


def test_html_written_into_summary_is_shown_as_text_with_a_warning() -> None:
    story = {**STORY, "summary": "<p>The <b>new</b> bridge.</p>"}
    digest = build_digest([story], NEWSLETTER, "2026-11-30")
    (warning,) = [f for f in digest.findings if f.rule == "summary-html"]
    assert (
        "'The bridge reopens' holds HTML tags" in warning.message
        and "summary_html" in warning.message
    )
    assert "&lt;b&gt;new&lt;/b&gt;" in digest.html  # never markup: untrusted text stays text
    plain = build_digest(
        [{**STORY, "summary": "Prices rose by 3 < 4 percent."}], NEWSLETTER, "2026-11-30"
    )
    assert not [f for f in plain.findings if f.rule == "summary-html"]
