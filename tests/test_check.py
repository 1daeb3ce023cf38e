"""``check_html`` and ``digest check``: each rule on a bad fixture, and clean examples."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest import Newsletter, build_digest
from digest.check import check_html, check_theme
from digest.models import Theme

from .helpers import EXAMPLE_EDITIONS, EXAMPLES, ArticleFactory, build_example, changed, run_digest

BAD = Path(__file__).parent / "fixtures" / "bad.html"


def findings_of(html: str, **kwargs: object) -> set[tuple[str, str, int | None]]:
    return {(f.severity, f.rule, f.line) for f in check_html(html, **kwargs)}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("severity", "rule", "line"),
    [
        ("error", "lang", None),
        ("error", "title", None),
        ("warning", "headings", None),  # two h1
        ("warning", "headings", 13),  # h4 after h1
        ("warning", "layout-table", 10),
        ("error", "alt", 14),
        ("warning", "image-size", 14),
        ("error", "image-url", 15),  # relative picture
        ("error", "image-url", 16),  # data: picture
        ("error", "link", 17),  # javascript:
        ("error", "link", 18),  # relative link
        ("warning", "link-text", 19),  # click here
        ("info", "link", 20),  # plain http
        ("error", "unsubscribe", None),
        ("warning", "css-support", 4),  # position and display:flex outside @media
    ],
)
def test_each_rule_on_the_bad_fixture(severity: str, rule: str, line: int | None) -> None:
    assert (severity, rule, line) in findings_of(BAD.read_text())


def test_css_only_inside_media_queries_is_information() -> None:
    found = check_html(BAD.read_text())
    grid = [f for f in found if "display: grid" in f.message or "grid" in f.message.split(" (")[0]]
    assert grid and all(f.severity == "info" for f in grid)


@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
def test_the_examples_have_no_errors_or_warnings(example: str) -> None:
    digest = build_example(example)
    found = check_html(digest.html, digest.newsletter)
    assert [str(f) for f in found if f.severity != "info"] == []
    # The build ran the same checks: notes (CSS support) only.
    assert {f.severity for f in digest.findings} <= {"info"}


def test_size_budget_and_gmail_clipping(newsletter: Newsletter) -> None:
    html = BAD.read_text()
    assert ("warning", "size", None) in findings_of(html, budget_kb=0.5)
    padded = html.replace("</body>", "<p>" + "x" * 110_000 + "</p></body>")
    assert ("error", "size", None) in findings_of(padded)


def test_thirty_teasers_stay_well_under_gmails_clipping(
    make_article: ArticleFactory, newsletter: Newsletter
) -> None:
    wide = changed(newsletter, teasers_per_section=10, max_stories=31)
    articles = [
        make_article(
            featured=True,
            image_url="https://example.org/lead.png",
            image_alt="Lead",
            image_width=1200,
            image_height=675,
        )
    ]
    for n in range(30):
        articles.append(
            make_article(
                title=f"A headline of a usual length for a local news story, number {n}",
                url=f"https://example.org/news/2026/11/a-usual-story-slug-number-{n}?from=feed",
                section=["news", "sport", "culture"][n % 3],
                summary="A summary of two sentences, as editors write them for a digest. " * 2,
                image_url=f"https://example.org/pictures/story-{n}.jpg",
                image_alt=f"Picture {n}",
                image_width=800,
                image_height=600,
                published_at=datetime(2026, 11, 20, n % 24, tzinfo=UTC),
            )
        )
    digest = build_digest(articles, wide, EXAMPLE_EDITIONS["riverside"][0])
    assert sum(len(s.teasers) for s in digest.edition.sections) == 30
    size_kb = len(digest.html.encode()) / 1024
    assert size_kb <= 80, f"{size_kb:.1f} KB"
    assert not [f for f in check_html(digest.html, wide) if f.severity != "info"]
    tight = changed(wide, size_budget_kb=40)
    fitted = build_digest(articles, tight, EXAMPLE_EDITIONS["riverside"][0])
    kept = [t for s in fitted.edition.sections for t in s.teasers]
    assert 0 < len(kept) < 30
    assert len(fitted.html.encode()) <= 40 * 1024
    # The best-ranked teasers stay: the newest ones.
    newest = sorted(articles[1:], key=lambda a: a.published_at, reverse=True)
    assert {t.title for t in kept} == {a.title for a in newest[: len(kept)]}
    (finding,) = [f for f in fitted.findings if f.severity != "info"]
    assert finding.rule == "size-fit"
    assert finding.message.startswith(
        f"left out {30 - len(kept)} teasers to stay under the size budget of 40 KB: "
    )
    # As many as fit: one more teaser would pass the budget.
    one_more = changed(wide, max_stories=len(kept) + 2)
    heavier = build_digest(articles, one_more, EXAMPLE_EDITIONS["riverside"][0])
    assert len(heavier.html.encode()) > 40 * 1024


@pytest.mark.parametrize(
    ("colours", "failing"),
    [
        ({}, []),
        ({"muted": "#aaaaaa"}, ["muted", "muted (footer)"]),
        ({"brand": "#ffcc00"}, ["brand (labels)", "white button text"]),
        ({"accent": "#77aaff"}, ["accent (links)"]),
    ],
)
def test_theme_contrast(colours: dict[str, str], failing: list[str]) -> None:
    found = check_theme(Theme(**colours))
    assert [f.message.split(" #")[0].removeprefix("theme ") for f in found] == failing
    assert all(f.severity == "warning" and "4.5:1" in f.message for f in found)


def test_the_check_command(tmp_path: Path) -> None:
    bad = run_digest("check", BAD)
    assert bad.returncode == 5
    assert (
        f"{BAD}:17: error: link 'javascript:alert(1)': the javascript: scheme is unsafe [link]"
        in bad.stdout
    )
    assert bad.stdout.strip().splitlines()[-1].startswith("8 errors, ")
    good = tmp_path / "good.html"
    good.write_text(build_example("tangerangnews").html)
    result = run_digest("check", good, "--config", EXAMPLES / "tangerangnews" / "newsletter.toml")
    assert result.returncode == 0, result.stdout
    assert "0 errors, 0 warnings" in result.stdout
    quiet = run_digest("check", BAD, "--quiet")
    assert quiet.returncode == 5 and "warning" not in quiet.stdout


def test_build_prints_its_warnings(tmp_path: Path) -> None:
    config = (EXAMPLES / "tangerangnews" / "newsletter.toml").read_text()
    config = config.replace('accent = "#0b4f9c"', 'accent = "#99bbee"')
    config = config.replace(
        'data = "edition.json"', f'data = "{EXAMPLES / "tangerangnews" / "edition.json"}"'
    )
    config = config.replace('assets = "images"', "")
    (tmp_path / "newsletter.toml").write_text(config)
    result = run_digest(
        "build",
        "--config",
        tmp_path / "newsletter.toml",
        "--date",
        "2025-09-16",
        "--out",
        tmp_path / "out",
    )
    assert result.returncode == 0
    # Once per rule, with the rule's name.
    assert result.stderr.startswith(
        "digest: warning: [contrast] theme accent (links) #99bbee on surface #ffffff"
    )
    assert result.stderr.count("[contrast]") == 1


def test_build_refuses_a_broken_email_and_writes_nothing(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "edition.mjml.j2").write_text(
        '{% extends "default/edition.mjml.j2" %}'
        "{% block footer %}{% endblock %}"
        '{% block header %}<mj-section><mj-column><mj-raw><img src="https://x.example/a.png">'
        "</mj-raw></mj-column></mj-section>{{ super() }}{% endblock %}"
    )
    config = (EXAMPLES / "riverside" / "newsletter.toml").read_text()
    config = config.replace(
        'data = "articles.json"', f'data = "{EXAMPLES / "riverside" / "articles.json"}"'
    )
    config = config.replace('assets = "images"', "")
    (tmp_path / "newsletter.toml").write_text('templates = "templates"\n' + config)
    build = ["build", "--config", tmp_path / "newsletter.toml", "--date", "2026-11-30"]
    refused = run_digest(*build, "--out", tmp_path / "out")
    assert refused.returncode == 5
    assert refused.stderr.splitlines()[-1] == (
        "digest: error: the email does not pass its checks (2 errors): "
        "[unsubscribe] no visible unsubscribe link; "
        "[alt] image 'https://x.example/a.png' has no alt attribute"
    )
    assert not (tmp_path / "out").exists()
    forced = run_digest(*build, "--out", tmp_path / "forced", "--no-check")
    assert forced.returncode == 0, forced.stderr
    assert "digest: warning: [unsubscribe] no visible unsubscribe link" in forced.stderr
    assert (tmp_path / "forced" / "edition-2026-11-30.html").exists()


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("https://example.org/unsubscribe", True),  # digest init's
        ("https://www.example.com/leave", True),
        ("https://news.weekly.example/unsubscribe", False),
        ("https://tangerangnews.example/unsubscribe/{token}", False),
    ],
)
def test_the_starter_s_placeholder_unsubscribe_link_is_warned_about(
    newsletter: Newsletter, url: str, warned: bool
) -> None:
    from digest.check import check_unsubscribe_url

    contact = newsletter.contact.model_copy(update={"unsubscribe_url": url})
    findings = check_unsubscribe_url(newsletter.model_copy(update={"contact": contact}))
    assert bool(findings) == warned
    assert all(f.severity == "warning" and "placeholder" in f.message for f in findings)
