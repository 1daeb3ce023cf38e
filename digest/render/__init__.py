"""Rendering: an edition through Jinja2 templates (sandboxed) into MJML, then HTML, and text.

- ``options``: ``RenderOptions`` (templates, asset and link bases, web or email, time limit);
- ``context``: the edition and newsletter as the plain data templates see;
- ``renderer``: ``Renderer``, one autoescaping environment per template folder;
- ``sandbox``: the bounded Jinja2 sandbox every template runs in, its bounds and guard in
  ``limits``, its confined template and ``mj-include`` loaders in ``loaders``;
- ``mjml``: MJML to HTML (mjml-python), checked for depth, attribute text as references;
- ``inline``: CSS inlined into the HTML (premailer, or css-inline).
"""

from digest.render.mjml import compile_mjml as compile_mjml
from digest.render.options import RenderOptions as RenderOptions
from digest.render.options import default_template_dir as default_template_dir
from digest.render.renderer import PREHEADER_FILLER as PREHEADER_FILLER
from digest.render.renderer import RenderedEdition as RenderedEdition
from digest.render.renderer import Renderer as Renderer

__all__ = [
    "PREHEADER_FILLER",
    "RenderOptions",
    "RenderedEdition",
    "Renderer",
    "compile_mjml",
    "default_template_dir",
]
