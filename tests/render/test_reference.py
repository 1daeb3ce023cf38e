"""digest against reference implementations: MJML's own compiler, axe-core and caniemail.

MJML (npm ``mjml``) and axe-core come from ``tests/node`` (``npm ci --prefix tests/node``, as
``.ci/run`` does); the tests skip, saying so, when Node or the packages are missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.check import check_html
from digest.render import Renderer, compile_mjml
from digest.render.inline import inline_css

from ..helpers import EXAMPLE_EDITIONS, EXAMPLES, TESTS, build_example
from ..test_browser import _chromium, show

NODE_TOOLS = TESTS / "node"
NODE = shutil.which("node")
HAVE_TOOLS = (NODE_TOOLS / "node_modules" / "mjml").is_dir() and (
    NODE_TOOLS / "node_modules" / "axe-core"
).is_dir()
needs_node = pytest.mark.skipif(
    not (NODE and HAVE_TOOLS),
    reason="Node.js and the reference packages are needed (npm ci --prefix tests/node)",
)

# The widths Outlook uses: ghost table cells (in conditional comments) and picture widths.
GHOST_WIDTH = re.compile(r'<td[^>]*style="vertical-align:top;width:(\d+)px;"')
PICTURE_WIDTH = re.compile(r'<img[^>]*\swidth="(\d+)"')


def reference_html(source: str) -> str:
    """Compile MJML with MJML's own compiler."""
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(NODE_TOOLS / "mjml.js")],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


def example_mjml(example: str) -> str:
    digest = build_example(example)
    return Renderer(digest.options).mjml(digest.edition, digest.newsletter)


def widths(html: str) -> tuple[list[int], list[int]]:
    return (
        [int(w) for w in GHOST_WIDTH.findall(html)],
        [int(w) for w in PICTURE_WIDTH.findall(html)],
    )


@needs_node
@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
def test_outlook_widths_match_mjmls_own_compiler(example: str) -> None:
    source = example_mjml(example)
    ours, theirs = widths(compile_mjml(source)), widths(reference_html(source))
    assert ours == theirs
    # And they add up: no column or picture wider than the 600 px body.
    assert max(ours[0]) <= 600 and max(ours[1]) <= 552


@needs_node
def test_mjml_python_leaves_section_padding_out_of_column_widths() -> None:
    """The difference the default design works around (see blocks.mjml.j2): a padded section.

    MJML gives two 50 % columns of a section padded 12 px each side 288 px each; mjml-python
    gives 300 px, so the design pads the columns' text instead of the section.
    """
    source = (
        '<mjml><mj-body width="600px"><mj-section padding="0 12px">'
        '<mj-column width="50%"><mj-text>a</mj-text></mj-column>'
        '<mj-column width="50%"><mj-text>b</mj-text></mj-column>'
        '</mj-section><mj-section><mj-column><mj-image src="https://x.example/a.png" '
        'padding="0 24px" /></mj-column></mj-section></mj-body></mjml>'
    )
    assert widths(reference_html(source)) == ([288, 288, 600], [552])
    assert widths(compile_mjml(source)) == ([300, 300, 600], [600])


@needs_node
@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
def test_css_support_findings_at_most_stock_mjmls(example: str) -> None:
    """caniemail: our inlined email uses no more unsupported CSS than MJML's own output."""
    source = example_mjml(example)
    digest = build_example(example)

    def unsupported(html: str) -> set[str]:
        return {
            f.message.split(" (used", 1)[0]
            for f in check_html(html, digest.newsletter)
            if f.rule == "css-support"
        }

    ours = unsupported(digest.html)
    stock = unsupported(inline_css(reference_html(source), "premailer"))
    assert len(ours) <= len(stock), sorted(ours - stock)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from _chromium()


# The rules left out, each with the reason it does not apply to an email.
AXE_OPTIONS = {
    "rules": {
        # An email is shown inside the mail client's own page, which has the landmarks;
        # MJML's wrapper (role="article", aria-roledescription="email") names the email.
        "landmark-one-main": {"enabled": False},
        "region": {"enabled": False},
    },
    "resultTypes": ["violations"],
}


def axe_violations(browser: Any) -> list[dict[str, Any]]:
    """What axe-core finds on the page the browser shows: each rule, its help, three places."""
    browser.execute_script((NODE_TOOLS / "node_modules" / "axe-core" / "axe.min.js").read_text())
    browser.set_script_timeout(60)
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, arguments[0]).then(r => done(JSON.stringify(r.violations)));",
        AXE_OPTIONS,
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in json.loads(result)
    ]


@needs_node
@pytest.mark.browser
@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_core_finds_no_violations(
    browser: Any, tmp_path: Path, example: str, scheme: str
) -> None:
    images = (EXAMPLES / example / "images").resolve().as_uri()
    page = tmp_path / f"{example}.html"
    page.write_text(build_example(example, images).html, "utf-8")
    show(browser, page, 375, scheme)
    assert axe_violations(browser) == []
