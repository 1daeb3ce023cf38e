"""Feed categories onto the configured sections, and why each story was left out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from digest import Newsletter, select_edition
from digest.models import SectionSpec
from digest.select import explain_edition, section_key

from .helpers import ArticleFactory, changed

ON = date(2026, 11, 23)
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_section_key_ignores_case_accents_and_a_plural() -> None:
    assert section_key("SPORTS") == section_key("Sport")
    assert section_key("Économie") == section_key("economie")
    assert section_key("Stories") == section_key("story")


def test_categories_go_onto_configured_sections_and_the_rest_to_the_default(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    sections = [SectionSpec(name="Sport"), SectionSpec(name="Politics")]
    layout = changed(newsletter, sections=sections, default_section="Other")
    articles = [
        make_article(title="lead", featured=True),
        make_article(title="s", section="SPORTS"),
        make_article(title="n", section="NBA"),
    ]
    edition = select_edition(articles, layout, ON)
    assert [(s.name, [t.title for t in s.teasers]) for s in edition.sections] == [
        ("Sport", ["s"]),
        ("Other", ["n"]),
    ]


def test_every_story_is_placed_or_has_one_reason(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    capped = changed(newsletter, teasers_per_section=1)
    articles = [
        make_article(
            title=f"t{n}", url=f"https://example.org/{n}", published_at=NOON + timedelta(hours=n)
        )
        for n in range(4)
    ]
    articles.append(make_article(title="t0", url="https://example.org/copy"))
    articles.append(
        make_article(
            title="late",
            url="https://example.org/late",
            published_at=datetime(2026, 12, 1, tzinfo=UTC),
        )
    )
    edition = select_edition(articles, capped, ON)
    fates = explain_edition(articles, capped, edition)
    assert len(fates) == len(articles)
    assert all((f.place is None) == (f.reason is not None) for f in fates)
    reasons = [f.reason or "" for f in fates]
    assert any("the cap of section" in r for r in reasons)
    assert any("a duplicate of 't0'" in r for r in reasons)
    assert any("outside the window" in r for r in reasons)
