"""Real public feeds, read as an editor would: pictures, text, links, dates, size.

The feeds in tests/fixtures/feeds/real/ come from the test suites of rss-parser and feedjira
(MIT), and a Reddit feed from conoro/reddit-rss-proxy (Apache 2.0, commit fb1aba98; the
posts are their authors'); their licences sit beside them. Each test asserts what a reader of
the edition sees.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from digest import Newsletter, SourceError, build_digest
from digest.feeds.pictures import is_tracking_pixel, picture
from digest.feeds.sources import Source, SourceResult, read_source

from ..helpers import FIXTURES, changed, run_digest
from ..htmltools import read_page

REAL = FIXTURES / "feeds" / "real"


def read(name: str, newsletter: Newsletter, **source: object) -> SourceResult:
    return read_source(Source(path=REAL / name, **source), newsletter)  # type: ignore[arg-type]


def newest_day(result: SourceResult, newsletter: Newsletter) -> date:
    return max(a.published_at for a in result.articles).astimezone(newsletter.zone).date()


def test_guardian_takes_the_460_px_picture_its_credit_and_keeps_list_items_apart(
    newsletter: Newsletter,
) -> None:
    result = read("guardian.rss", newsletter)
    assert len(result.articles) == 55 and not result.warnings
    trump = result.articles[0]
    assert trump.image_url is not None and "w=460" in trump.image_url
    assert trump.image_credit == "Photograph: Networ/Sipa USA/REX/Shutterstock"
    train = next(a for a in result.articles if "garbage truck" in a.summary)
    assert "was killed\n\n• Two crew members" in train.summary
    assert "killedTwo" not in train.summary
    # "Continue reading…" links are the feed's own trailer: our "Read more" says it once.
    assert not any("Continue reading" in a.summary for a in result.articles)


def test_guardian_edition_gathers_small_sections_and_fits_gmail(
    newsletter: Newsletter,
) -> None:
    result = read("guardian.rss", newsletter)
    on = newest_day(result, newsletter)
    digest = build_digest(result.articles, newsletter, on)
    sections = digest.edition.sections
    assert len(sections) <= newsletter.layout.max_sections
    assert sections[-1].gathered and sections[-1].label == "More news"
    assert len(digest.edition.articles) <= newsletter.layout.max_stories
    assert len(digest.html.encode()) <= newsletter.layout.size_budget_kb * 1024
    page = read_page(digest.html)
    assert ("h2", "More news") in page.headings


def test_section_map_renames_and_merges_categories(newsletter: Newsletter) -> None:
    result = read("guardian.rss", newsletter)
    mapped = changed(
        newsletter, section_map={"US news": "World", "Canada": "World", "FBI": "World"}
    )
    digest = build_digest(result.articles, mapped, newest_day(result, newsletter))
    names = [s.name for s in digest.edition.sections]
    assert "World" in names and "US news" not in names and "Canada" not in names


def test_feedburner_links_and_pixels(newsletter: Newsletter) -> None:
    result = read("feedburner.atom", newsletter)
    assert len(result.articles) == 25
    for article in result.articles:
        assert article.url.startswith("http://googleadsdeveloper.blogspot.com/")
        assert "feedproxy" not in article.url
        # The only pictures are 1x1 FeedBurner counters, 40x40 avatars and a 16 px icon.
        assert article.image_url is None


def test_medium_picture_from_content_encoded_not_its_stat_beacon(
    newsletter: Newsletter,
) -> None:
    result = read("content-encoded.rss", newsletter)
    assert len(result.articles) == 7
    first = result.articles[0]
    assert (
        first.image_url == "https://cdn-images-1.medium.com/max/938/1*C_nVpehD-NKBgtVEULabmQ.jpeg"
    )
    assert all(a.image_url and "/_/stat" not in a.image_url for a in result.articles)


def test_heise_in_german_with_alt_text_and_german_words(newsletter: Newsletter) -> None:
    german = newsletter.model_copy(update={"locale": "de", "timezone": "Europe/Berlin"})
    result = read("heise.atom", german)
    wildfly = result.articles[0]
    assert wildfly.title == "Java-Anwendungsserver: Red Hat gibt WildFly 10 frei"
    assert wildfly.image_alt == "WildFly 10"
    digest = build_digest(result.articles, german, newest_day(result, german))
    page = read_page(digest.html)
    assert page.html_lang == "de"
    assert "Weiterlesen" in page.text and "Read more" not in page.text
    assert "Montag, 1. Februar 2016, 17:22" in page.text


def test_brazilian_dates_and_latin_1_text(newsletter: Newsletter) -> None:
    brazil = newsletter.model_copy(update={"locale": "pt_BR", "timezone": "America/Sao_Paulo"})
    result = read("uolNoticias.rss", brazil)
    assert len(result.articles) == 15 and not result.warnings
    first = result.articles[0]
    assert first.published_at.isoformat() == "2018-09-24T19:42:40-03:00"
    assert "simulações de 2º turno" in first.title
    digest = build_digest(result.articles, brazil, date(2018, 9, 24))
    page = read_page(digest.html)
    assert "Leia mais" in page.text
    assert "segunda-feira, 24 de setembro de 2018 19:42" in page.text


def test_chinese_dates_without_a_zone_are_read_in_the_sources_zone(
    newsletter: Newsletter,
) -> None:
    china = newsletter.model_copy(update={"locale": "zh_CN", "timezone": "Asia/Shanghai"})
    result = read("encoding-gb2312.xml", china, timezone="Asia/Shanghai")
    assert not result.warnings
    first = result.articles[0]
    assert first.title == "习近平为何如此强调崇尚英雄？"  # noqa: RUF001
    assert first.published_at.isoformat() == "2018-09-18T14:38:10+08:00"
    digest = build_digest(result.articles, china, date(2018, 9, 18))
    assert "2018年9月18日星期二 14:38" in read_page(digest.html).text
    assert "阅读全文" in digest.text


def test_dates_without_a_zone_warn_once_naming_the_source(newsletter: Newsletter) -> None:
    china = newsletter.model_copy(update={"timezone": "Asia/Shanghai"})
    result = read("encoding-gb2312.xml", china)
    assert len(result.articles) == 20
    assert result.warnings == [
        f"source '{REAL / 'encoding-gb2312.xml'}': dates such as '2018-09-18 14:38:10' name no "
        "time zone; they are read in the newsletter's timezone Asia/Shanghai (set timezone in "
        "the source to change it)"
    ]
    assert result.articles[0].published_at.isoformat() == "2018-09-18T14:38:10+08:00"


def test_json_feed_never_uses_the_sites_icon(newsletter: Newsletter) -> None:
    result = read("inessential.json", newsletter)
    assert len(result.articles) == 20
    assert {a.image_url for a in result.articles} == {None}


def test_a_truncated_feed_warns_with_the_position_and_builds_from_what_was_read(
    newsletter: Newsletter, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.atom"
    cut.write_bytes((REAL / "heise.atom").read_bytes()[:9000])
    result = read_source(Source(path=cut), newsletter)
    assert len(result.articles) == 6
    (warning,) = result.warnings
    assert warning.startswith(f"source '{cut}': the feed is malformed at line 101, column ")
    assert warning.endswith("; 6 items were read before it")


def test_an_empty_feed_says_it_has_no_items(newsletter: Newsletter, tmp_path: Path) -> None:
    empty = tmp_path / "empty.xml"
    empty.write_text('<rss version="2.0"><channel><title>Quiet</title></channel></rss>')
    result = read_source(Source(path=empty), newsletter)
    assert result.articles == [] and result.warnings == [f"source '{empty}': it has no items"]


def test_a_source_whose_every_item_is_skipped_is_an_error(
    newsletter: Newsletter, tmp_path: Path
) -> None:
    feed = tmp_path / "undated.xml"
    feed.write_text(
        '<rss version="2.0"><channel><title>x</title>'
        "<item><title>One</title><link>https://x.example/1</link>"
        "<pubDate>sometime soon</pubDate></item>"
        "<item><title>Two</title><link>https://x.example/2</link></item>"
        "</channel></rss>"
    )
    with pytest.raises(SourceError) as caught:
        read_source(Source(path=feed), newsletter)
    assert str(caught.value) == (
        f"source '{feed}': all 2 items were skipped; the first: item 1 'One': skipped, "
        "its date 'sometime soon' (line 1) is not readable"
    )


@pytest.mark.parametrize(
    ("url", "width", "height", "pixel"),
    [
        ("http://feeds.feedburner.com/~r/blogspot/lQlzL/~4/Zjf41PDVLAc", 1, 1, True),
        ("http://rss.lemonde.fr/c/205/f/3050/s/190a8df5/mf.gif", None, None, True),
        ("http://da.feedsportal.com/r/114252820378/u/0/f/3050/a2.img", None, None, True),
        ("https://medium.com/_/stat?event=post.clientViewed", None, None, True),
        ("https://pixel.wp.com/b.gif?host=example.com", None, None, True),
        ("https://example.com/spacer.gif", 2, 2, True),
        ("https://i.guim.co.uk/img/media/b73c/master/3000.jpg?w=460", 460, None, False),
        ("https://cdn-images-1.medium.com/max/938/1*C_nVpehD.jpeg", None, None, False),
    ],
)
def test_tracking_pixels(url: str, width: int | None, height: int | None, pixel: bool) -> None:
    made = picture(url, width, height)
    assert made is not None and is_tracking_pixel(made) is pixel


def test_build_prints_warnings_even_when_it_fails(tmp_path: Path) -> None:
    empty = tmp_path / "empty.xml"
    empty.write_text('<rss version="2.0"><channel><title>Quiet</title></channel></rss>')
    config = tmp_path / "newsletter.toml"
    config.write_text(
        'history = false\n[[sources]]\npath = "empty.xml"\n'
        '[newsletter]\nname = "Quiet"\n'
        '[newsletter.contact]\npostal_address = "1 Main St"\nunsubscribe_url = "https://quiet.example/u"\n'
        '[newsletter.sender]\nname = "Q"\naddress = "q@example.com"\n'
    )
    result = run_digest("build", "--config", config, "--out", tmp_path / "out")
    assert result.returncode == 3
    assert result.stderr == (
        f"digest: warning: source '{empty}': it has no items\n"
        "digest: error: no articles: an edition needs at least one article\n"
    )
    assert not (tmp_path / "out").exists()


def test_portuguese_feed_builds_through_the_command(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text(
        f'history = false\n[[sources]]\npath = "{REAL / "uolNoticias.rss"}"\nsection = "Últimas"\n'
        '[newsletter]\nname = "Notícias"\nlocale = "pt_BR"\ntimezone = "America/Sao_Paulo"\n'
        '[newsletter.contact]\npostal_address = "Rua 1"\nunsubscribe_url = "https://n.example/sair"\n'
        '[newsletter.sender]\nname = "N"\naddress = "n@example.com"\n'
    )
    result = run_digest(
        "build", "--config", config, "--date", "2018-09-24", "--out", tmp_path / "out"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    text = (tmp_path / "out" / "edition-2018-09-24.txt").read_text()
    # The lead's long link moves whole onto a line of its own.
    assert (
        "Leia mais:\nhttps://noticias.uol.com.br/politica/eleicoes/2018/noticias/2018/09/24/"
        "ibope-bolsonaro-perde-de-haddad-ciro-e-alckmin-em-simulacoes-de-2-turno.htm\n"
    ) in text
