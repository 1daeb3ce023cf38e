"""Every category of an item, not only its first, puts it onto the configured sections.

The Guardian tags a match report ``Premier League``, ``Football``, ``Sport``: with
``layout.sections = ["Sport", …]`` it belongs in Sport, though its first tag is none of them.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from digest import Newsletter
from digest.feeds.sources import Source, read_source

from ..helpers import FIXTURES, run_command, validated_with

GUARDIAN = FIXTURES / "feeds" / "real" / "guardian.rss"
URL = "https://site.example/posts/{n}"
WHEN = "Mon, 23 Nov 2026 10:00:00 +0000"

CONFIG = """\
out = "out"
history = false

[[sources]]
path = "{feed}"

[newsletter]
name = "Guardian picks"
timezone = "UTC"

[newsletter.layout]
sections = {sections}
other_sections = false

[newsletter.contact]
postal_address = "1 Main St"
unsubscribe_url = "https://picks.example/unsubscribe"

[newsletter.sender]
name = "Guardian picks"
address = "picks@example.com"
"""


def built_sections(text: str) -> dict[str, list[str]]:
    """The sections of a built edition's text part: heading -> teaser titles."""
    sections: dict[str, list[str]] = {}
    lines = text.splitlines()
    heading = None
    for line, under in zip(lines, [*lines[1:], ""], strict=True):
        if under and set(under) == {"-"} and len(under) == len(line):
            heading = line
            sections[heading] = []
        elif heading is not None and line.startswith("* "):
            sections[heading].append(line[2:])
    return sections


def guardian_categories() -> dict[str, list[str]]:
    """Each Guardian item's title (its start, as a teaser's first line shows it) -> its tags."""
    channel = ET.parse(GUARDIAN).getroot().find("channel")
    assert channel is not None
    return {
        str(item.findtext("title")): [str(tag.text) for tag in item.findall("category")]
        for item in channel.findall("item")
    }


def test_digest_build_puts_guardian_stories_in_sport_by_a_later_tag(tmp_path: Path) -> None:
    config = tmp_path / "picks.toml"
    sections = ["Sport", "Culture", "Science"]
    config.write_text(CONFIG.format(feed=GUARDIAN, sections=json.dumps(sections)))
    done = run_command("build", "--config", config, "--date", "2018-01-31", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "out" / "edition-2018-01-31.txt").read_text()
    shown = built_sections(text)
    assert list(shown) == [name.upper() for name in sections]
    tags = guardian_categories()
    for heading, teasers in shown.items():
        assert teasers, heading
        for start in teasers:
            (title,) = [t for t in tags if t.startswith(start.rstrip())]
            assert heading.casefold() in [tag.casefold() for tag in tags[title]], title
    # None of the sport stories has "Sport" as its first tag: before, Sport stayed empty.
    sport = [t for t in tags for s in shown["SPORT"] if t.startswith(s.rstrip())]
    assert all(tags[title][0] != "Sport" for title in sport)


def _rss(categories: list[str]) -> str:
    tags = "".join(f"<category>{escape(c)}</category>" for c in categories)
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>'
        f"<link>https://site.example/</link><item><title>A story</title>"
        f"<link>{URL.format(n=1)}</link><pubDate>{WHEN}</pubDate>{tags}</item>"
        "</channel></rss>"
    )


def _atom(categories: list[str]) -> str:
    tags = "".join(f'<category term="{escape(c)}"/>' for c in categories)
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>S</title>'
        f"<id>https://site.example/</id><updated>2026-11-23T10:00:00Z</updated>"
        f'<entry><title>A story</title><id>{URL.format(n=1)}</id><link href="{URL.format(n=1)}"/>'
        f"<published>2026-11-23T10:00:00Z</published>{tags}</entry></feed>"
    )


def _json_feed(categories: list[str]) -> str:
    item = {
        "id": "1",
        "url": URL.format(n=1),
        "title": "A story",
        "date_published": "2026-11-23T10:00:00Z",
        "tags": categories,
    }
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [item]})


FORMS = {"feed.rss": _rss, "feed.atom": _atom, "feed.json": _json_feed}


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize(
    ("categories", "sections", "section_map", "expected"),
    [
        (["Football", "Sport"], ["Politics", "Sport"], {}, "Sport"),
        (["Football", "Sport"], [], {}, "Football"),
        (["Football", "Rugby"], ["Politics", "Sport"], {}, "Football"),
        (["Local", "Économies"], ["Economy"], {}, "Économies"),
        (["Local", "SPORTS", "Politics"], ["Politics", "Sport"], {}, "SPORTS"),
        (["Local", "Soccer", "Sport"], ["Sport"], {"soccer": "Sport"}, "Soccer"),
        ([], ["Sport"], {}, "News"),
    ],
)
def test_the_first_category_that_names_a_configured_section_wins(
    tmp_path: Path,
    newsletter: Newsletter,
    form: str,
    categories: list[str],
    sections: list[str],
    section_map: dict[str, str],
    expected: str,
) -> None:
    path = tmp_path / form
    path.write_text(FORMS[form](categories), encoding="utf-8")
    laid_out = validated_with(newsletter, sections=sections, section_map=section_map)
    (article,) = read_source(Source(path=path), laid_out).articles
    assert article.section == expected


def test_a_csv_row_keeps_its_one_section(tmp_path: Path, newsletter: Newsletter) -> None:
    path = tmp_path / "articles.csv"
    path.write_text(
        "title,url,section,published_at\n"
        f"A story,{URL.format(n=1)},Football,2026-11-23T10:00:00+00:00\n"
    )
    laid_out = validated_with(newsletter, sections=["Sport"])
    (article,) = read_source(Source(path=path), laid_out).articles
    assert article.section == "Football"
