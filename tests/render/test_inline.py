from __future__ import annotations

import re
from typing import Any

from digest.render.inline import inline_css

from ..helpers import build_example
from ..htmltools import read_page

SAMPLE = """<!doctype html><html lang="en"><head><title>T</title>
<style type="text/css">.x h1 { color: #c00; margin: 0 }
@media only screen and (max-width:479px) { .x h1 { font-size: 20px !important; } }</style>
<!--[if mso]><style>.y { width: 600px; }</style><![endif]-->
</head><body><div class="x"><h1>Hello</h1><img src="https://example.org/a.png" alt="" width="550" style="width:100%"></div></body></html>"""


def test_rules_are_inlined_and_media_queries_kept() -> None:
    out = inline_css(SAMPLE)
    assert re.search(r'<h1 style="color:#c00; ?margin:0">Hello</h1>', out)
    assert "@media only screen and (max-width:479px)" in out
    assert "font-size: 20px !important" in out or "font-size:20px !important" in out


def test_doctype_mso_comments_classes_and_pixel_widths_stay() -> None:
    out = inline_css(SAMPLE)
    assert out.startswith("<!doctype html>")
    assert "<!--[if mso]>" in out
    assert 'class="x"' in out
    assert read_page(out).images[0]["width"] == "550"


def test_the_examples_keep_the_phone_layout_rules() -> None:
    html = build_example("tangerangnews").html
    assert html.count("!important") >= 5
    assert "@media only screen and (max-width:479px)" in html
    assert "<!--[if mso | IE]>" in html


def test_floating_image_alignment_is_off_and_changes_nothing(monkeypatch: Any) -> None:
    """premailer's align_floating_images parses every <img style>; MJML floats none."""
    import premailer

    from digest.render import Renderer

    original = premailer.Premailer.__init__
    asked: list[object] = []

    def aligning(self: Any, *args: Any, **kwargs: Any) -> None:
        asked.append(kwargs["align_floating_images"])
        kwargs["align_floating_images"] = True
        original(self, *args, **kwargs)

    for name in ("riverside", "tangerangnews"):
        digest = build_example(name)
        source = Renderer(digest.options).render(digest.edition, digest.newsletter).html
        ours = inline_css(source)
        with monkeypatch.context() as patch:
            patch.setattr(premailer.Premailer, "__init__", aligning)
            assert inline_css(source) == ours
    assert asked == [False, False]


def test_renderers_of_the_same_templates_share_compiled_templates() -> None:
    from digest.render import Renderer, RenderOptions

    first, second = Renderer(), Renderer(RenderOptions(web=True))
    assert first._markup_env is second._markup_env and first._text_env is second._text_env
