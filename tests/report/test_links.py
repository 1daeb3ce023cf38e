"""An edition's links and their stories: derived from the HTML, recorded by the build."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest import load_config
from digest.link_map import EditionLink, anchor_hrefs, link_for, link_map, loose_url
from digest.schedule.history import History, links_of

from ..helpers import DEFAULT_DESIGN, EXAMPLE_EDITIONS, build_example
from ..schedule.test_schedule import CONFIG, MONDAYS, build, write_feed


@pytest.fixture
def newsletter_dir(tmp_path: Path) -> Path:
    """The weekly newsletter of the schedule tests, without an archive."""
    (tmp_path / "newsletter.toml").write_text(CONFIG.replace('archive = "archive"\n', ""))
    (tmp_path / "quotes.json").write_text('{"quotes": [{"text": "Quote", "author": "Someone"}]}')
    write_feed(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", sorted(EXAMPLE_EDITIONS))
def test_every_story_of_an_example_has_links_in_reading_order(name: str) -> None:
    digest = build_example(name)
    links = link_map(digest.edition, digest.html)
    assert [link.index for link in links] == list(range(len(anchor_hrefs(digest.html))))
    stories = [link.story for link in links if link.kind in ("lead", "teaser")]
    # Each story is linked (title, picture, button), the lead first, in the email's order.
    assert list(dict.fromkeys(stories)) == [str(a.url) for a in digest.edition.articles]
    assert {link.slot for link in links if link.kind == "lead"} == {0}
    for section in digest.edition.sections:
        slots = [(link.story, link.slot) for link in links if link.section == section.name]
        slots = [s for s in slots if s[1] > 0]
        assert list(dict.fromkeys(slots)) == [
            (str(teaser.url), slot) for slot, teaser in enumerate(section.teasers, start=1)
        ]


@pytest.mark.parametrize("name", DEFAULT_DESIGN)
def test_the_footer_links_are_other(name: str) -> None:
    digest = build_example(name)
    links = link_map(digest.edition, digest.html)
    unsubscribe = str(digest.newsletter.contact.unsubscribe_url)
    assert any(link.url == unsubscribe and link.kind == "other" for link in links)
    assert all(link.story == "" and link.section == "" for link in links if link.kind == "other")


def test_the_index_is_the_nth_anchor_with_an_href_outside_comments() -> None:
    html = (
        '<p><a name="top">no href</a><a href="https://a.example/?x=1&amp;y=2">A</a>'
        '<!--[if mso]><a href="https://outlook.example/">hidden</a><![endif]-->'
        '<A HREF=\'https://b.example/\'>B</A><a href="">empty</a><area href="/map"></p>'
    )
    assert anchor_hrefs(html) == ["https://a.example/?x=1&y=2", "https://b.example/", ""]


def test_a_tagged_link_belongs_to_its_untagged_story(make_article, newsletter) -> None:  # type: ignore[no-untyped-def]
    from digest.edition import Edition

    lead = make_article(url="https://news.example/lead")
    edition = Edition(date=date(2026, 12, 7), lead=lead)
    html = (
        '<a href="https://news.example/lead?utm_source=newsletter">x</a>'
        '<a href="https://elsewhere.example/">y</a>'
    )
    links = link_map(edition, html)
    assert [(link.kind, link.story) for link in links] == [
        ("lead", "https://news.example/lead"),
        ("other", ""),
    ]
    assert link_for(links, "http://www.news.example/lead/") == links[0]
    assert link_for(links, "https://elsewhere.example/") == links[1]
    assert link_for(links, "https://unknown.example/") is None


@given(st.text(max_size=300))
def test_any_clicked_url_is_matched_or_not_without_error(url: str) -> None:
    links = (EditionLink(0, "https://news.example/a", "lead", "https://news.example/a"),)
    found = link_for(links, url)
    assert found is None or found == links[0]
    assert isinstance(loose_url(url), str)


@given(st.text(max_size=500))
def test_any_html_gives_hrefs_without_error(html: str) -> None:
    hrefs = anchor_hrefs(html)
    assert all(isinstance(href, str) for href in hrefs)


def test_the_build_records_the_links_and_a_rebuild_replaces_them(
    newsletter_dir: Path,
) -> None:
    first = build(newsletter_dir, MONDAYS[0])
    config = load_config(newsletter_dir / "newsletter.toml")
    key = first.digest.edition_key
    recorded = links_of(config, key)
    assert recorded == link_map(first.digest.edition, first.digest.html)
    assert recorded[0].index == 0 and any(link.kind == "lead" for link in recorded)
    again = build(newsletter_dir, MONDAYS[0])
    assert links_of(config, again.digest.edition_key) == recorded
    assert config.history is not None
    with sqlite3.connect(config.history) as db:
        (count,) = db.execute("SELECT count(*) FROM links").fetchone()
    assert count == len(recorded)
    assert links_of(config, "Riverside Weekly 1999-01-01 #9") == ()


def test_a_history_without_links_reads_none(tmp_path: Path) -> None:
    with History(tmp_path / "history.sqlite3") as history:
        assert history.links_of("anything") == ()
