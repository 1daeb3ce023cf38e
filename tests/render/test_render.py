from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest import (
    InputError,
    Newsletter,
    Quote,
    Renderer,
    RenderError,
    RenderOptions,
    TemplateError,
    build_digest,
    select_edition,
)
from digest.render import PREHEADER_FILLER, compile_mjml, default_template_dir

from ..helpers import EXAMPLE_EDITIONS, ArticleFactory, build_example
from ..htmltools import read_page

ON = date(2026, 11, 23)


@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
def test_every_headline_and_link_is_in_both_parts(example: str) -> None:
    digest = build_example(example)
    page = read_page(digest.html)
    for article in digest.edition.articles:
        assert article.title in page.text
        assert article.url in page.links
        assert article.title.split()[0] in digest.text
        assert article.url in digest.text
    assert digest.newsletter.contact.unsubscribe_url in page.links
    assert digest.newsletter.contact.unsubscribe_url in digest.text


def test_the_seed_edition_reads_like_the_page() -> None:
    digest = build_example("tangerangnews")
    page = read_page(digest.html)
    assert page.html_lang == "id"
    assert "Achmad Irfan Fauzi | Selasa, 2 Juni 2020 | 19:02" in page.text
    assert [s.label for s in digest.edition.sections] == ["BANTEN", "OPINI", "PROPERTI"]
    assert "Baca selengkapnya" in page.text
    assert "Wali Kota Tangerang Arief R. Wismansyah saat memimpin rapat" in page.text
    quote = "Kekuatan dan perkembangan datang hanya dari usaha dan perjuangan yang terus menerus"
    assert page.text.count(quote) == 1
    assert f"“{quote}”" in page.text
    assert '""' not in page.text and "“”" not in page.text
    assert digest.text.count("Kekuatan dan perkembangan") == 1
    # One h1 (the lead), a heading per section and the quote, and the repeated teasers
    # of the scraped page once each.
    assert page.headings == [
        ("h1", digest.edition.lead.title),
        ("h2", "BANTEN"),
        (
            "h3",
            "Sampah di Banten Capai 8.126 Ton Sehari, Andra Soni Kumpulkan Kepala Daerah Cari Solusi",
        ),
        ("h2", "OPINI"),
        ("h3", "Desentralisasi Tanpa Demokratisasi: Problem Tata Kelola Daerah"),
        ("h2", "PROPERTI"),
        (
            "h3",
            "Bukukan Pendapatan Rp13,8 Triliun pada 2024, BSDE Masuk 100 Perusahaan Terbaik versi Fortune",
        ),
        ("h2", "Kutipan pekan ini"),
    ]
    assert "Edisi #12 · Selasa, 16 September 2025" in page.text
    assert "Jl. Contoh Raya No. 1" in page.text


def test_english_example_uses_english_labels_and_dates() -> None:
    digest = build_example("riverside")
    page = read_page(digest.html)
    assert page.html_lang == "en-GB"
    assert "Read more" in page.text and "Baca" not in page.text
    # The locale's own full date and short time, joined as en_GB joins them.
    assert "Friday, 27 November 2026, 09:15" in page.text
    assert [s.label for s in digest.edition.sections] == ["Around town", "Business", "What's on"]


TRICKY = "Tom & Jerry <b>bold</b> \"double\" 'single' {{ 7*7 }} {% raw %} 🎉"


def test_titles_are_escaped_exactly_once(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    lead = make_article(title=TRICKY, featured=True)
    teaser = make_article(title=TRICKY.replace("Tom", "Tim"), section="sport")
    digest = build_digest([lead, teaser], newsletter, ON)
    page = read_page(digest.html)
    assert page.headings[0] == ("h1", TRICKY)
    assert ("h3", TRICKY.replace("Tom", "Tim")) in page.headings
    assert "b" not in page.tags
    assert "&amp;amp;" not in digest.html and "&amp;lt;" not in digest.html
    assert "49" not in page.text
    assert TRICKY in digest.text
    assert TRICKY in digest.subject


def test_an_ampersand_in_a_link_survives(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    url = "https://example.org/a?x=1&y=2"
    digest = build_digest([make_article(url=url)], newsletter, ON)
    assert url in read_page(digest.html).links
    assert "x=1&amp;y=2" in digest.html


def test_no_web_fonts_and_no_network_during_a_build(
    no_network: list[object], make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    digest = build_digest([make_article(featured=True)], newsletter, ON)
    assert "fonts.googleapis" not in digest.html
    assert "@import" not in digest.html
    assert no_network == []
    digest = build_example("tangerangnews")
    assert no_network == []


def test_the_network_guard_works(no_network: list[object]) -> None:
    import urllib.request

    with pytest.raises(OSError):
        urllib.request.urlopen("http://127.0.0.1:9/", timeout=1)
    assert no_network


def test_preheader_is_padded_and_hidden() -> None:
    digest = build_example("tangerangnews")
    assert digest.preheader.startswith("Juga: Sampah di Banten Capai 8.126 Ton Sehari")
    hidden = re.search(r'<div style="display:none;[^>]*>(.*?)</div>', digest.html, re.S)
    assert hidden is not None
    assert hidden.group(1).startswith("Juga: Sampah di Banten")
    # The filler (combining grapheme joiner, zero-width non-joiner, no-break space) survives
    # inlining, as characters.
    assert html.unescape(str(PREHEADER_FILLER)) in hidden.group(1)


def test_lang_and_title_are_set() -> None:
    digest = build_example("tangerangnews")
    assert digest.html.startswith("<!doctype html>")
    assert re.search(r'<html[^>]* lang="id"', digest.html)
    assert f"<title>{digest.subject.replace('&', '&amp;')}</title>" in digest.html


def test_relative_images_need_an_asset_base(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    article = make_article(image_url="images/a.png", image_alt="A picture")
    with pytest.raises(InputError, match="relative path but the newsletter has no asset_base_url"):
        build_digest([article], newsletter, ON)
    digest = build_digest(
        [article], newsletter, ON, options=RenderOptions(asset_base_url="https://cdn.example.org/m")
    )
    assert read_page(digest.html).images[0]["src"] == "https://cdn.example.org/m/images/a.png"


def test_user_templates_override_single_blocks(
    tmp_path: Path, make_article: ArticleFactory, newsletter: Newsletter, quote: Quote
) -> None:
    (tmp_path / "edition.mjml.j2").write_text(
        '{% extends "default/edition.mjml.j2" %}\n'
        "{% block quote %}<mj-section><mj-column><mj-text>Custom: {{ edition.quote.text }}"
        "</mj-text></mj-column></mj-section>{% endblock %}\n"
    )
    (tmp_path / "subject.txt.j2").write_text("Weekly: {{ edition.lead.title }}")
    renderer = Renderer(RenderOptions(template_dir=tmp_path))
    digest = build_digest([make_article()], newsletter, ON, quotes=[quote], renderer=renderer)
    assert "Custom: Less is more." in read_page(digest.html).text
    assert digest.subject == "Weekly: Story number 1"
    assert "Unsubscribe" in read_page(digest.html).text


@pytest.mark.parametrize(
    ("template", "needle"),
    [
        ("{% block x %}", "edition.mjml.j2:1"),
        ("{{ edition.nothing_here }}", "nothing_here"),
        ("{{ ''.__class__.__mro__ }}", "__class__"),
    ],
)
def test_template_errors_are_clear(
    tmp_path: Path, make_article: ArticleFactory, newsletter: Newsletter, template: str, needle: str
) -> None:
    (tmp_path / "edition.mjml.j2").write_text(template)
    with pytest.raises(TemplateError, match=re.escape(needle)):
        build_digest([make_article()], newsletter, ON, options=RenderOptions(template_dir=tmp_path))


def test_a_missing_template_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no such folder"):
        Renderer(RenderOptions(template_dir=tmp_path / "absent"))


def test_broken_mjml_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="MJML did not compile"):
        compile_mjml("<mjml><mj-body><mj-text>never closed</mj-body></mjml>")


def test_the_renderer_gives_templates_plain_data(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    edition = select_edition([make_article()], newsletter, ON)
    context = Renderer().context(edition, newsletter)

    def plain(value: object) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | int | bool)

    assert plain(context)


def test_default_templates_are_found() -> None:
    names = {p.name for p in default_template_dir().iterdir()}
    assert {"edition.mjml.j2", "edition.txt.j2", "subject.txt.j2", "preheader.txt.j2"} <= names


@pytest.mark.parametrize(
    "mjml",
    [
        "<mjml><mj-body>"
        + "<mj-wrapper>" * 60_000
        + "</mj-wrapper>" * 60_000
        + "</mj-body></mjml>",
        "<mjml><mj-body><mj-section><mj-column><mj-text>"
        + "<b>" * 100_000
        + "x"
        + "</b>" * 100_000
        + "</mj-text></mj-column></mj-section></mj-body></mjml>",
    ],
    ids=["wrappers", "bold"],
)
def test_mjml_nested_past_the_compilers_depth_is_refused_not_a_crash(mjml: str) -> None:
    # Handed to the compiler, these end the process (its parser recurses per element).
    with pytest.raises(RenderError, match="nests elements more than 200 deep"):
        compile_mjml(mjml)


def test_a_template_that_nests_too_deep_fails_its_build(
    tmp_path: Path, make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    (tmp_path / "edition.mjml.j2").write_text(
        "<mjml><mj-body>{% for i in range(5000) %}<mj-wrapper>{% endfor %}"
        "{% for i in range(5000) %}</mj-wrapper>{% endfor %}</mj-body></mjml>"
    )
    with pytest.raises(RenderError, match="more than 200 deep"):
        build_digest([make_article()], newsletter, ON, options=RenderOptions(template_dir=tmp_path))


def test_void_and_self_closed_elements_do_not_count_as_nesting() -> None:
    text = "<br>" * 500 + "<img src='https://e.org/a.png' alt='x'>" * 300 + "<hr/>" * 300
    html = compile_mjml(
        f"<mjml><mj-body><mj-section><mj-column><mj-text>{text}</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>"
    )
    assert html.count("<br") == 500


SCRIPTS = {
    "hindi": "न्यूज़18 हिन्दी",
    "arabic-harakat": "مَرْحَبًا بِكُمْ",
    "hebrew-points": "שָׁלוֹם עֲלֵיכֶם",
    "thai": "ข่าวประจำวัน",
    "bengali": "সংবাদ শিরোনাম",
    "tamil": "செய்திகள்",
    "vietnamese-decomposed": "Tie\u0302\u0301ng Vie\u0323\u0302t",
    "emoji-modifiers": "👋🏽 👩🏾‍💻",
    "zero-width": "a\u200cb\u200dc",
    "backslashes": "C:\\Users\\news \\n",
}


def _attributes(html: str, tag: str, name: str) -> list[str]:
    from html.parser import HTMLParser

    found: list[str] = []

    class Reader(HTMLParser):
        def handle_starttag(self, seen: str, attrs: list[tuple[str, str | None]]) -> None:
            if seen == tag:
                found.extend(v or "" for k, v in attrs if k == name)

    Reader().feed(html)
    return found


@pytest.mark.parametrize("text", list(SCRIPTS.values()), ids=list(SCRIPTS))
def test_text_of_every_script_survives_in_attributes_as_written(
    text: str, make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    import unicodedata

    article = make_article(image_url="https://e.org/a.png", image_alt=text, title=text)
    html = build_digest([article], newsletter, ON).html
    expected = unicodedata.normalize("NFC", text)
    assert expected in _attributes(html, "img", "alt")
    assert "\\u{" not in html


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    marks=st.lists(
        st.characters(categories=["Mn", "Mc", "Me", "Cf"], exclude_characters="\u2028\u2029"),
        min_size=1,
        max_size=6,
    )
)
def test_any_combining_mark_survives_in_an_alt_text(
    marks: list[str], make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    import unicodedata

    from digest.text import clean_text

    text = "क" + "".join(marks) + " a" + marks[0]
    try:
        expected = clean_text(text)
        article = make_article(image_url="https://e.org/a.png", image_alt=text)
    except ValueError:
        return
    html = build_digest([article], newsletter, ON).html
    assert unicodedata.normalize("NFC", expected) in _attributes(html, "img", "alt")
    assert "\\u{" not in html
