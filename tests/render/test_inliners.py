"""css-inline as the inliner: the same email as premailer's, to the tests that read it."""

from __future__ import annotations

import pytest

from digest.check import check_html
from digest.render.inline import inline_css

from ..helpers import DEFAULT_DESIGN, EXAMPLE_EDITIONS, build_example
from ..htmltools import read_page

pytest.importorskip(
    "css_inline", reason="css-inline is not installed (pip install 'newsletter-digest[fast]')"
)


@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
def test_css_inline_gives_the_same_email(example: str) -> None:
    reference = build_example(example)
    fast = build_example(example, inliner="css-inline")
    ours, theirs = read_page(reference.html), read_page(fast.html)
    # html5ever writes the <tbody> that browsers add to a table anyway; lxml does not.
    assert [t for t in theirs.tags if t != "tbody"] == [t for t in ours.tags if t != "tbody"]
    assert theirs.text == ours.text
    assert theirs.links == ours.links
    assert theirs.headings == ours.headings
    assert fast.html.count("!important") == reference.html.count("!important")
    assert "@media only screen and (max-width:479px)" in fast.html
    assert "<!--[if mso | IE]>" in fast.html
    assert [f for f in check_html(fast.html, fast.newsletter) if f.severity != "info"] == []
    assert len(fast.html.encode()) < 1.2 * len(reference.html.encode())
    # Both inline the same rules onto the headline (28 px in the default design).
    if example in DEFAULT_DESIGN:
        assert "font-size:28px" in fast.html.replace(": ", ":")


def test_the_reset_stays_in_the_head() -> None:
    html = build_example("tangerangnews", inliner="css-inline").html
    assert "mso-table-lspace" not in html[html.index("<body") :]


def test_no_remote_stylesheets(no_network: list[object]) -> None:
    html = (
        '<html><head><link rel="stylesheet" href="https://evil.example/a.css">'
        "<style>@import url(https://evil.example/b.css); p { color: red }</style></head>"
        "<body><p>x</p></body></html>"
    )
    assert 'style="color: red' in inline_css(html, "css-inline").replace("color:red", "color: red")
    assert no_network == []


def test_an_unknown_engine_is_refused_by_the_model() -> None:
    from pydantic import ValidationError

    newsletter = build_example("riverside").newsletter
    settings = newsletter.model_dump()
    type(newsletter).model_validate(settings)  # as it is, it validates
    settings["layout"]["inliner"] = "juice"
    with pytest.raises(ValidationError, match=r"layout\.inliner[\s\S]*'premailer' or 'css-inline'"):
        type(newsletter).model_validate(settings)
