"""Feed categories onto the configured sections, and why each story was left out."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from digest import Newsletter, select_edition
from digest.errors import EmptyEditionError
from digest.models import SectionSpec
from digest.schedule.build import run_build
from digest.schedule.config import load_config
from digest.select import explain_edition, section_key
from digest.urls import canonical_url

from .helpers import ArticleFactory, changed, run_command

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


# `digest build --explain`: a line for each story, through the installed command.

CONFIG = """\
data = ["articles.json"]
out = "out"
{top}
[newsletter]
name = "Explained"
timezone = "UTC"

[newsletter.layout]
sections = ["News", "Sport"]
{layout}

[newsletter.contact]
postal_address = "1 Main St"
unsubscribe_url = "https://explained.example/unsubscribe"

[newsletter.sender]
name = "Explained"
address = "news@explained.example"
"""


def _article(
    n: int | str, title: str, section: str = "News", day: int = 22, priority: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "title": title,
        "url": f"https://example.org/{n}",
        "section": section,
        "published_at": f"2026-11-{day}T10:00:00+00:00",
        "priority": priority,
        "summary": f"What {title} is about.",
        **extra,
    }


ARTICLES = [
    _article(1, "The lead", featured=True),
    _article(2, "News one", priority=3),
    _article(3, "News two", priority=2),
    _article(4, "News three", priority=1),
    _article(5, "News four"),
    _article(6, "Match report", section="Sport", priority=1),
    _article(7, "Storm warning", section="Weather"),
    _article(8, "Tomorrow's story", day=25),
    _article("copy", "News one", priority=-1),
    _article(10, "Monday news", section="Sport", day=23),
]


def _folder(tmp_path: Path, layout: str = "", top: str = "") -> Path:
    (tmp_path / "n.toml").write_text(CONFIG.format(layout=layout, top=top))
    (tmp_path / "articles.json").write_text(json.dumps({"articles": ARTICLES}))
    return tmp_path


def _explain(folder: Path, on: str = "2026-11-23") -> list[str]:
    done = run_command("build", "--config", "n.toml", "--date", on, "--explain", "-q", cwd=folder)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize(
    ("layout", "line"),
    [
        ("", "left out, published outside the window (by the end of 2026-11-23): Tomorrow's story"),
        ("", "left out, a duplicate of 'News one': News one"),
        ("", "left out, the cap of section 'News': 3 teasers (teasers_per_section): News four"),
        (
            "teasers_per_section = 1",
            "left out, the cap of section 'News': 1 teaser (teasers_per_section): News four",
        ),
        (
            "other_sections = false",
            "left out, its section 'Weather' is not one of layout.sections "
            "(other_sections = false): Storm warning",
        ),
        (
            "max_sections = 2\nteasers_per_section = 2",
            "left out, max_sections = 2: its section 'Weather' gathered in 'More news', "
            "whose cap is 2 teasers: Storm warning",
        ),
        ("max_stories = 3", "left out, max_stories = 3: Monday news"),
    ],
    ids=[
        "window",
        "duplicate",
        "cap",
        "cap-of-one",
        "other-sections",
        "max-sections",
        "max-stories",
    ],
)
def test_digest_build_explain_names_why_a_story_was_left_out(
    tmp_path: Path, layout: str, line: str
) -> None:
    lines = _explain(_folder(tmp_path, layout))
    assert line in lines
    assert len(lines) == len(ARTICLES)
    assert lines[0] == "lead: The lead"


def test_digest_build_explain_names_what_was_featured_before(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    first = _explain(folder, "2026-11-22")
    assert "lead: The lead" in first
    again = _explain(folder, "2026-11-23")
    assert "left out, nothing new: featured in an earlier edition: The lead" in again
    assert "lead: The lead" not in again


def test_digest_build_explain_names_the_editor_s_plan(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    args = ("--config", "n.toml", "--date", "2026-11-23", "--leave-out", "https://example.org/6")
    done = run_command("plan", "set", *args, cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "left out by the editor's plan: Match report" in [
        line.split(", ", 1)[1] for line in _explain(folder) if line.startswith("left out, ")
    ]


def test_digest_build_explain_names_the_size_budget(tmp_path: Path) -> None:
    lines = _explain(_folder(tmp_path, "size_budget_kb = 18"))
    budget = [line for line in lines if line.startswith("left out, the size budget (18 KB): ")]
    assert budget
    text = (tmp_path / "out" / "edition-2026-11-23.txt").read_text()
    for line in budget:
        assert line.rsplit(": ", 1)[1] not in text


def test_digest_build_explain_lists_the_edition_in_its_order(tmp_path: Path) -> None:
    lines = _explain(_folder(tmp_path))
    placed = [line for line in lines if not line.startswith("left out, ")]
    assert placed == [
        "lead: The lead",
        "News, 1: News one",
        "News, 2: News two",
        "News, 3: News three",
        "Sport, 1: Match report",
        "Sport, 2: Monday news",
        "Weather, 1: Storm warning",
    ]
    assert lines[: len(placed)] == placed


def test_digest_build_without_explain_prints_no_fates(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    done = run_command("build", "--config", "n.toml", "--date", "2026-11-23", "-q", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    done = run_command("build", "--config", "n.toml", "--date", "2026-11-23", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "left out" not in done.stdout.splitlines()[0]
    (summary,) = [line for line in done.stdout.splitlines() if "not in it: " in line]
    assert summary.endswith("(--explain says why each story was left out)")


# The property: every article read gets exactly one fate, and the fates are the built edition.

_SECTIONS = ["News", "news", "Sport", "Sports", "Économie", "Weather"]


@st.composite
def _stories(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=1, max_value=9))
    stories = []
    for n in range(count):
        stories.append(
            {
                "title": draw(st.sampled_from(["Alpha", "Beta", "Gamma", f"Story {n}"])),
                "url": f"https://example.org/{draw(st.integers(0, 12))}",
                "section": draw(st.sampled_from(_SECTIONS)),
                "published_at": f"2026-11-{draw(st.integers(15, 25))}T"
                f"{draw(st.integers(0, 23)):02d}:00:00+00:00",
                "priority": draw(st.integers(-1, 2)),
                "featured": draw(st.booleans()),
            }
        )
    return stories


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    stories=_stories(),
    per_section=st.integers(0, 3),
    max_stories=st.integers(1, 6),
    other_sections=st.booleans(),
)
def test_every_article_has_one_fate_and_the_fates_are_the_built_edition(
    tmp_path_factory: pytest.TempPathFactory,
    stories: list[dict[str, Any]],
    per_section: int,
    max_stories: int,
    other_sections: bool,
) -> None:
    folder = tmp_path_factory.mktemp("explain")
    layout = (
        f"teasers_per_section = {per_section}\nmax_stories = {max_stories}\n"
        f"other_sections = {'true' if other_sections else 'false'}"
    )
    (folder / "n.toml").write_text(CONFIG.format(layout=layout, top="history = false"))
    (folder / "articles.json").write_text(json.dumps({"articles": stories}))
    config = load_config(folder / "n.toml")
    try:
        result = run_build(config, folder / "out", on=date(2026, 11, 23), explain=True)
    except EmptyEditionError as error:
        event(f"no edition: {type(error).__name__}")
        return  # nothing published by then: no edition to explain
    event("built")
    fates = result.fates
    assert len(fates) == len(stories)
    assert all((f.place is None) != (f.reason is None) for f in fates)
    edition = result.digest.edition
    (lead,) = [f for f in fates if f.place == "lead"]
    assert canonical_url(lead.article.url) == canonical_url(edition.lead.url)
    for section in edition.sections:
        shown = sorted(
            (f for f in fates if f.place == section.label and f.position > 0),
            key=lambda f: f.position,
        )
        assert [canonical_url(f.article.url) for f in shown] == [
            canonical_url(t.url) for t in section.teasers
        ]
    placed = sum(f.place is not None for f in fates)
    assert placed == 1 + sum(len(s.teasers) for s in edition.sections)
