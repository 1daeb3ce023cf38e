"""``weigh_by = "clicks"`` in selection: past click-through breaks ties, and only ties.

Selection is pure: it is given a ``ClickThrough`` (section -> rate) as plain data. The
editor's plan, ``featured`` and ``priority`` always come first, the lead's picture too; no
rates, or one rate for every section, give exactly the order of today.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from digest import Newsletter, select_edition
from digest.click_through import ClickThrough
from digest.errors import InputError
from digest.feeds.data import load_data
from digest.models import Article
from digest.plan import Plan
from digest.schedule.config import load_config
from digest.select import explain_edition

from .helpers import EXAMPLES, ArticleFactory, changed

ON = date(2026, 11, 30)
NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def order(edition: Any) -> list[tuple[str, list[str]]]:
    """The lead, then each section with its teasers' titles, as the email shows them."""
    return [
        ("lead", [edition.lead.title]),
        *((section.name, [t.title for t in section.teasers]) for section in edition.sections),
    ]


def story(make: ArticleFactory, title: str, section: str, hours: int = 0, **more: Any) -> Article:
    return make(
        title=title,
        url=f"https://example.org/{title.replace(' ', '-')}",
        section=section,
        published_at=NOON + timedelta(hours=hours),
        **more,
    )


@pytest.fixture
def free(newsletter: Newsletter) -> Newsletter:
    """A newsletter whose sections are not listed: each category is a section of its own."""
    return changed(newsletter, sections=[])


def test_a_lead_of_the_section_readers_click_more(
    make_article: ArticleFactory, free: Newsletter
) -> None:
    # Equal in the editor's eyes; "newer" is the newer, "clicked" is of the clicked section.
    articles = [
        story(make_article, "newer", "news", hours=5),
        story(make_article, "clicked", "sport"),
    ]
    plain = select_edition(articles, free, ON)
    assert plain.lead.title == "newer"
    rates = ClickThrough({"news": 0.02, "sport": 0.11}, editions=3)
    weighed = select_edition(articles, free, ON, click_through=rates)
    assert weighed.lead.title == "clicked"


def test_sections_of_one_size_go_by_their_click_through(
    make_article: ArticleFactory, free: Newsletter
) -> None:
    articles = [
        story(make_article, "lead", "front", featured=True),
        *(story(make_article, f"{name} story", name) for name in ("arts", "business", "crime")),
    ]
    plain = select_edition(articles, free, ON)
    assert [s.name for s in plain.sections] == ["arts", "business", "crime"]
    rates = ClickThrough({"arts": 0.01, "business": 0.05, "crime": 0.03})
    weighed = select_edition(articles, free, ON, click_through=rates)
    assert [s.name for s in weighed.sections] == ["business", "crime", "arts"]
    # A bigger section still comes first: only sections of one size are a tie.
    bigger = [*articles, story(make_article, "arts again", "arts", hours=-1)]
    assert select_edition(bigger, free, ON, click_through=rates).sections[0].name == "arts"


def test_the_stories_max_stories_keeps_are_of_the_clicked_section(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    capped = changed(newsletter, max_stories=3)
    articles = [
        story(make_article, "lead", "news", hours=9, featured=True),
        story(make_article, "news newer", "news", hours=3),
        story(make_article, "news older", "news", hours=1),
        story(make_article, "sport", "sport"),
    ]
    assert order(select_edition(articles, capped, ON)) == [
        ("lead", ["lead"]),
        ("news", ["news newer", "news older"]),
    ]
    rates = ClickThrough({"news": 0.01, "sport": 0.2})
    assert order(select_edition(articles, capped, ON, click_through=rates)) == [
        ("lead", ["lead"]),
        ("news", ["news newer"]),
        ("sport", ["sport"]),
    ]


@pytest.mark.parametrize(
    ("specs", "plan", "lead"),
    [
        # (title, section, featured, priority, picture): an editor's pick beats any rate.
        ([("pick", "news", True, 0, True), ("clicked", "sport", False, 0, True)], None, "pick"),
        ([("high", "news", False, 2, True), ("clicked", "sport", False, 0, True)], None, "high"),
        ([("plain", "news", False, 0, True), ("clicked", "sport", False, 0, False)], None, "plain"),
        (
            [("planned", "news", False, 0, True), ("clicked", "sport", False, 0, True)],
            Plan(lead="https://example.org/planned"),
            "planned",
        ),
        (
            [("other", "news", False, 0, True), ("clicked", "sport", False, 0, True)],
            None,
            "clicked",
        ),
    ],
    ids=["featured", "priority", "picture", "plan", "tie"],
)
def test_the_editor_and_the_picture_win_over_clicks(
    make_article: ArticleFactory,
    free: Newsletter,
    specs: list[tuple[str, str, bool, int, bool]],
    plan: Plan | None,
    lead: str,
) -> None:
    articles = [
        story(
            make_article,
            title,
            section,
            hours=10 - n,  # the first is the newer: clicks must overcome it in a tie
            featured=featured,
            priority=priority,
            **({"image_url": "https://example.org/p.png", "image_alt": "p"} if picture else {}),
        )
        for n, (title, section, featured, priority, picture) in enumerate(specs)
    ]
    rates = ClickThrough({"news": 0.0, "sport": 0.5})
    assert select_edition(articles, free, ON, plan=plan, click_through=rates).lead.title == lead


def test_the_plans_order_wins_over_clicks(make_article: ArticleFactory, free: Newsletter) -> None:
    capped = changed(free, max_sections=2, teasers_per_section=3)
    articles = [
        story(make_article, "lead", "front", featured=True),
        story(make_article, "arts", "arts", hours=2),
        story(make_article, "crime", "crime", hours=1),
        story(make_article, "music", "music"),
    ]
    # Three sections of one story, over max_sections = 2: the last two gather in "More news".
    assert order(select_edition(articles, capped, ON))[1:] == [
        ("arts", ["arts"]),
        ("More news", ["crime", "music"]),
    ]
    rates = ClickThrough({"arts": 0.0, "crime": 0.1, "music": 0.3})
    assert order(select_edition(articles, capped, ON, click_through=rates))[1:] == [
        ("music", ["music"]),
        ("More news", ["crime", "arts"]),
    ]
    # The plan orders its stories as the editor wrote, whatever readers clicked.
    plan = Plan(order=("https://example.org/arts", "https://example.org/crime"))
    planned = select_edition(articles, capped, ON, plan=plan, click_through=rates)
    assert order(planned)[-1] == ("More news", ["arts", "crime"])


def test_a_section_without_figures_weighs_as_the_average() -> None:
    rates = ClickThrough({"News": 0.1, "Sports": 0.3})
    assert (rates.rate("news"), rates.rate("SPORT"), rates.rate("arts")) == (0.1, 0.3, None)
    assert rates.weight("arts") == pytest.approx(0.2)
    assert ClickThrough().weight("arts") == 0.0 and not ClickThrough()


@pytest.mark.parametrize(
    ("sections", "editions", "says"),
    [
        ({"news": -0.1}, 1, "click_through.sections['news']: -0.1 is no rate"),
        ({"news": 1.5}, 1, "click_through.sections['news']: 1.5 is no rate"),
        ({"news": math.nan}, 1, "click_through.sections['news']: nan is no rate"),
        ({"news": "0.1"}, 1, "click_through.sections['news']: '0.1' is no rate"),
        ({"news": True}, 1, "click_through.sections['news']: True is no rate"),
        ({" ": 0.1}, 1, "click_through.sections: ' ' is no section name"),
        ({"news": 0.1}, -1, "click_through.editions: -1 is below 0"),
    ],
)
def test_bad_rates_are_named(sections: dict[str, Any], editions: int, says: str) -> None:
    with pytest.raises(InputError, match="^" + says.replace("[", r"\[").replace("(", r"\(")):
        ClickThrough(sections, editions=editions)


def example_articles(name: str) -> tuple[Newsletter, list[Article]]:
    config = load_config(EXAMPLES / name / "newsletter.toml")
    return config.newsletter, list(load_data(config.data, config.newsletter).articles)


EXAMPLE_DATES = {"tangerangnews": date(2025, 9, 16), "riverside": date(2026, 11, 30)}


@pytest.mark.parametrize("name", sorted(EXAMPLE_DATES))
@settings(max_examples=30, deadline=None)
@given(rate=st.floats(0, 1), listed=st.booleans())
def test_no_rates_or_one_rate_for_all_is_todays_order_exactly(
    name: str, rate: float, listed: bool
) -> None:
    newsletter, articles = example_articles(name)
    if not listed:  # each category a section of its own: the sections' order can tie too
        newsletter = changed(newsletter, sections=[])
    on = EXAMPLE_DATES[name]
    today = select_edition(articles, newsletter, on)
    sections = {a.section for a in articles} | {s.name for s in today.sections}
    for rates in (None, ClickThrough(), ClickThrough(dict.fromkeys(sections, rate))):
        assert select_edition(articles, newsletter, on, click_through=rates) == today


def test_explain_says_which_ties_clicks_broke(
    make_article: ArticleFactory, free: Newsletter
) -> None:
    articles = [
        story(make_article, "newer", "news", hours=5),
        story(make_article, "clicked", "sport"),
        story(make_article, "arts", "arts", hours=1),
    ]
    rates = ClickThrough({"news": 0.02, "sport": 0.11}, editions=3)
    edition = select_edition(articles, free, ON, click_through=rates)
    fates = {
        fate.article.title: fate.describe()
        for fate in explain_edition(articles, free, edition, click_through=rates)
    }
    assert fates["clicked"] == (
        "lead: clicked (a tie broken by past clicks (sport 11.0 % click-through over "
        "3 editions); without them: sport, 1)"
    )
    assert fates["newer"].startswith("news, 1: newer (a tie broken by past clicks (news 2.0 %")
    assert fates["newer"].endswith("without them: lead)")
    assert fates["arts"] == "arts, 1: arts"  # in the same place either way
    plain = select_edition(articles, free, ON)
    assert all(
        fate.clicks is None and "clicks" not in fate.describe()
        for fate in explain_edition(articles, free, plain)
    )


def test_the_examples_config_is_off_by_default() -> None:
    for path in sorted(Path(EXAMPLES).glob("*/newsletter.toml")):
        assert load_config(path).newsletter.layout.weigh_by == "none", path


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=40).filter(str.strip),
            st.booleans(),
            st.integers(-2, 2),
            st.floats(0, 1),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_sections_and_rates_keep_the_editors_ranks(
    stories: list[tuple[str, bool, int, float]],
) -> None:
    """Feed categories are untrusted text: any of them, any rates, and the picks still lead."""
    newsletter = Newsletter(
        name="Any Weekly",
        sender={"name": "Any Weekly", "address": "news@example.org"},
        contact={"postal_address": "1 Example Street", "unsubscribe_url": "https://x.example/u"},
    )
    try:
        articles = [
            Article(
                title=f"story {n}",
                url=f"https://example.org/{n}",
                section=section,
                featured=featured,
                priority=priority,
                summary="A story.",
                published_at=NOON + timedelta(hours=n),
            )
            for n, (section, featured, priority, _) in enumerate(stories)
        ]
    except ValidationError:
        assume(False)  # a section an article refuses (a control character) reaches no one
    rates = ClickThrough({section: rate for section, _, _, rate in stories}, editions=1)
    for section, *_ in stories:
        assert 0 <= rates.weight(section) <= 1
    edition = select_edition(articles, newsletter, ON, click_through=rates)
    best = min((not a.featured, -a.priority) for a in articles)
    assert (not edition.lead.featured, -edition.lead.priority) == best
    assert {a.url for a in edition.articles} <= {a.url for a in articles}
    for shown in edition.sections:  # each within its cap, its teasers by the editor's rank
        teasers = [(not t.featured, -t.priority) for t in shown.teasers]
        assert teasers == sorted(teasers) and len(teasers) <= 3
