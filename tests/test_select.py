from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from digest import EmptyEditionError, Newsletter, Quote, select_edition
from digest.select import normalise_title, pick_quote
from digest.urls import canonical_url

from .helpers import ArticleFactory, changed, validated_with

ON = date(2026, 11, 23)
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def titles(edition: object) -> list[list[str]]:
    return [[t.title for t in s.teasers] for s in edition.sections]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("specs", "lead"),
    [
        # (title, featured, priority, hours after noon, has image)
        ([("old pick", True, 0, 0, True), ("newest", False, 0, 48, True)], "old pick"),
        ([("low", False, 0, 48, True), ("high", False, 5, 0, True)], "high"),
        ([("older", False, 0, 0, True), ("newer", False, 0, 1, True)], "newer"),
        ([("no picture", False, 0, 5, False), ("picture", False, 0, 0, True)], "picture"),
        (
            [("pick, no picture", True, 0, 0, False), ("picture", False, 9, 9, True)],
            "pick, no picture",
        ),
        ([("only text", False, 0, 0, False)], "only text"),
    ],
    ids=[
        "featured-beats-recency",
        "priority-beats-recency",
        "recency",
        "prefers-image",
        "featured-beats-image",
        "no-image-at-all",
    ],
)
def test_lead_choice(
    make_article: ArticleFactory,
    newsletter: Newsletter,
    specs: list[tuple[str, bool, int, int, bool]],
    lead: str,
) -> None:
    articles = [
        make_article(
            title=title,
            featured=featured,
            priority=priority,
            published_at=NOON + timedelta(hours=hours),
            **({"image_url": "https://example.org/a.png", "image_alt": "a"} if image else {}),
        )
        for title, featured, priority, hours, image in specs
    ]
    assert select_edition(articles, newsletter, ON).lead.title == lead


def test_ties_are_broken_by_url_whatever_the_input_order(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    a = make_article(title="A", url="https://example.org/a")
    b = make_article(title="B", url="https://example.org/b")
    assert select_edition([a, b], newsletter, ON) == select_edition([b, a], newsletter, ON)
    assert select_edition([b, a], newsletter, ON).lead.title == "A"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"url": "https://example.org/x"}, {"url": "https://EXAMPLE.org/x/"}),
        ({"url": "https://example.org/x"}, {"url": "http://www.example.org/x#top"}),
        ({"url": "https://example.org/x?a=1"}, {"url": "https://example.org/x?utm_source=rss&a=1"}),
        ({"title": "Sampah di Banten"}, {"title": "  sampah di BANTEN! "}),
    ],
    ids=["case-and-slash", "scheme-www-fragment", "tracking-params", "title"],
)
def test_duplicates_are_dropped(
    make_article: ArticleFactory,
    newsletter: Newsletter,
    first: dict[str, str],
    second: dict[str, str],
) -> None:
    lead = make_article(featured=True)
    one = make_article(**first)
    two = make_article(**second, published_at=NOON - timedelta(hours=1))
    edition = select_edition([lead, one, two], newsletter, ON)
    assert len(edition.articles) == 2
    assert edition.articles[1] == one


def test_the_lead_is_never_repeated_as_a_teaser(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    lead = make_article(title="Big story", featured=True)
    copy = make_article(title="Big Story", url="https://example.org/other")
    edition = select_edition([lead, copy], newsletter, ON)
    assert edition.sections == ()


def test_sections_follow_the_newsletter_order_then_the_rest(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    articles = [
        make_article(featured=True),
        make_article(title="w1", section="weather"),
        make_article(title="s1", section="Sport"),
        make_article(title="n1", section="news"),
        make_article(title="a1", section="arts"),
    ]
    edition = select_edition(articles, newsletter, ON)
    assert [s.name for s in edition.sections] == ["news", "sport", "arts", "weather"]
    assert [s.label for s in edition.sections] == ["news", "sport", "arts", "weather"]
    closed = changed(newsletter, other_sections=False)
    assert [s.name for s in select_edition(articles, closed, ON).sections] == ["news", "sport"]


def test_empty_sections_are_dropped(make_article: ArticleFactory, newsletter: Newsletter) -> None:
    edition = select_edition([make_article(), make_article(section="sport")], newsletter, ON)
    assert [s.name for s in edition.sections] == ["sport"]


@pytest.mark.parametrize(
    ("per_section", "section_limit", "expected"), [(3, None, 3), (2, None, 2), (3, 1, 1), (1, 0, 0)]
)
def test_limits(
    make_article: ArticleFactory, per_section: int, section_limit: int | None, expected: int
) -> None:
    newsletter = Newsletter(
        name="N",
        sender={"name": "N", "address": "n@example.org"},
        contact={"postal_address": "x"},
        layout={
            "teasers_per_section": per_section,
            "sections": [{"name": "news", "limit": section_limit}],
        },
    )
    articles = [make_article(featured=True, section="lead")] + [
        make_article(published_at=NOON + timedelta(hours=h)) for h in range(5)
    ]
    edition = select_edition(articles, newsletter, ON)
    news = [s for s in edition.sections if s.name == "news"]
    assert sum(len(s.teasers) for s in news) == expected
    if expected:
        # The newest come first within a section.
        stamps = [t.published_at for t in news[0].teasers]
        assert stamps == sorted(stamps, reverse=True)


def test_no_articles_is_an_error(newsletter: Newsletter) -> None:
    with pytest.raises(EmptyEditionError, match="at least one article"):
        select_edition([], newsletter, ON)


def test_articles_after_the_edition_date_wait(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    future = make_article(title="tomorrow", published_at=datetime(2026, 11, 24, 0, 30, tzinfo=UTC))
    with pytest.raises(
        EmptyEditionError, match="none of the 1 articles was published by 2026-11-23"
    ):
        select_edition([future], newsletter, ON)
    today = make_article(
        title="late today", published_at=datetime(2026, 11, 23, 23, 59, tzinfo=UTC)
    )
    assert select_edition([future, today], newsletter, ON).lead.title == "late today"


def test_quote_choice_is_deterministic_per_date(newsletter: Newsletter) -> None:
    pool = [Quote(text=f"Quote {i}", author="A") for i in range(7)]
    chosen = {pick_quote(pool, ON + timedelta(days=d)) for d in range(60)}
    assert len(chosen) > 1
    assert pick_quote(pool, ON) == pick_quote(list(reversed(pool)), ON)
    assert pick_quote([], ON) is None


def test_canonical_url_and_title_forms() -> None:
    assert (
        canonical_url("HTTP://Example.org:80/a/?b=2&a=1#respond") == "https://example.org/a?a=1&b=2"
    )
    assert canonical_url("https://example.org/a#p01") != canonical_url("https://example.org/a#p02")
    assert canonical_url("https://example.org:8443/") == "https://example.org:8443/"
    assert normalise_title("Desentralisasi Tanpa  Demokratisasi: Problem") == normalise_title(
        "desentralisasi tanpa demokratisasi - problem"
    )


def test_posts_on_one_page_are_distinct_stories(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    posts = [
        make_article(title=f"Diary, day {n}", url=f"https://diary.example/2026-11.html#p0{n}")
        for n in range(1, 4)
    ]
    copy = make_article(title="Diary, day 1", url="https://diary.example/2026-11.html#p01")
    edition = select_edition([*posts, copy], newsletter, date(2026, 11, 30))
    assert sorted(a.title for a in edition.articles) == [
        "Diary, day 1",
        "Diary, day 2",
        "Diary, day 3",
    ]


@pytest.mark.parametrize(
    ("cadence", "today", "latest", "previous"),
    [
        ({"every": "month", "day": 1}, date(2026, 12, 15), date(2026, 12, 1), date(2026, 11, 1)),
        ({"every": "month", "day": 31}, date(2026, 3, 15), date(2026, 2, 28), date(2026, 1, 31)),
        (
            {"every": "month", "nth": "first", "weekday": "monday"},
            date(2026, 12, 1),
            date(2026, 11, 2),
            date(2026, 10, 5),
        ),
        (
            {"every": "month", "nth": "last", "weekday": "friday"},
            date(2026, 12, 1),
            date(2026, 11, 27),
            date(2026, 10, 30),
        ),
        (
            {"every": "week", "weeks": 2, "start": date(2026, 11, 30)},
            date(2026, 12, 10),
            date(2026, 11, 30),
            date(2026, 11, 16),
        ),
        (
            {"every": "week", "weeks": 2, "start": date(2026, 11, 30)},
            date(2026, 12, 14),
            date(2026, 12, 14),
            date(2026, 11, 30),
        ),
        (
            {"every": "week", "weekday": "thursday"},
            date(2026, 12, 1),
            date(2026, 11, 26),
            date(2026, 11, 19),
        ),
    ],
)
def test_cadences_and_their_windows(
    newsletter: Newsletter, cadence: dict[str, object], today: date, latest: date, previous: date
) -> None:
    from digest.models import Cadence
    from digest.select import edition_window

    chosen = Cadence.model_validate(cadence)
    assert chosen.latest(today) == latest
    assert chosen.previous(latest) == previous
    assert chosen.next(previous + timedelta(days=1)) == latest
    scheduled = validated_with(newsletter, cadence=cadence)
    start, end = edition_window(scheduled, latest, None)  # a first edition: one period back
    assert (start.date(), end.date()) == (previous, latest)


@pytest.mark.parametrize(
    "cadence",
    [
        {"every": "week", "day": 3},
        {"every": "month", "day": 3, "nth": "first"},
        {"every": "day", "weeks": 2},
    ],
)
def test_cadence_settings_that_do_not_go_together_are_refused(cadence: dict[str, object]) -> None:
    from digest.models import Cadence

    with pytest.raises(ValueError, match=r"are for every|not both"):
        Cadence.model_validate(cadence)
