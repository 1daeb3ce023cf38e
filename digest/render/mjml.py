"""MJML to HTML with mjml-python (MRML).

The MJML is checked for depth first, and its attribute text written as character references.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import mjml

from digest.errors import RenderError

if TYPE_CHECKING:
    from digest.render.loaders import IncludeLoader


#: How deeply elements may nest in the MJML handed to the compiler, which is recursive: tens
#: of thousands of nested elements overflow its stack and end the process.
MAX_MJML_DEPTH = 200


_TAG = re.compile(r"<(/?)([A-Za-z][\w:-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>|<!--.*?-->", re.DOTALL)


_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


# What MRML escapes in an attribute (Rust's Debug form): non-ASCII marks, backslashes, tabs
# and line breaks; all non-ASCII is written as references, to be safe from its next version.
_ESCAPED_BY_MRML = re.compile(r"[^\x20-\x5b\x5d-\x7e]")


_TITLE = re.compile(r"(<mj-title\b[^>]*>)(.*?)(</mj-title>)", re.DOTALL)


# Elements with no end tag in HTML (MJML passes HTML through in mj-text, mj-button, mj-raw).
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)


def _prepared(source: str) -> str:
    r"""``source`` as MRML can take it, in one pass over its tags.

    - Elements may nest ``MAX_MJML_DEPTH`` deep at most (``RenderError`` past it).
    - Non-ASCII characters (and ``\``, tabs, line breaks) in attribute values are written
      as character references: mjml-python (MRML) writes a combining mark in an attribute as
      a Rust escape (the alt text ``न्यूज़18`` became ``न\u{94d}य…``) but passes references
      through, and the HTML parser after it reads them back as the characters they stand
      for. The text of ``mj-title`` is written so too: MRML copies it into the body's
      ``aria-label``.
    """
    depth = 0

    def tag(match: re.Match[str]) -> str:
        nonlocal depth
        text = match.group(0)
        closing, name, rest = match.group(1), match.group(2), match.group(3)
        if name is None:  # a comment
            return text
        if name.lower() not in _VOID and not rest.rstrip().endswith("/"):
            depth = max(0, depth - 1) if closing else depth + 1
            if depth > MAX_MJML_DEPTH:
                raise RenderError(
                    f"the MJML nests elements more than {MAX_MJML_DEPTH} deep "
                    f"(<{name}> at character {match.start():,}); the compiler would crash"
                )
        if not _ESCAPED_BY_MRML.search(rest):
            return text
        return _QUOTED.sub(lambda value: _references(value.group(0)), text)

    source = _TITLE.sub(lambda m: m.group(1) + _references(m.group(2)) + m.group(3), source)
    return _TAG.sub(tag, source)


def _references(text: str) -> str:
    return _ESCAPED_BY_MRML.sub(lambda c: f"&#x{ord(c.group(0)):x};", text)


def compile_mjml(source: str, loader: IncludeLoader | None = None) -> str:
    """Compile MJML to HTML with mjml-python, without MJML's default web fonts.

    ``loader`` reads ``mj-include`` files; without one, ``mj-include`` is an error. Web fonts
    come only from ``mj-font`` elements in the template (the theme's ``web_fonts``). The
    source (and every included file) is checked for depth and has the non-ASCII characters
    of its attribute values written as references (see ``_prepared``).
    """
    source = _prepared(source)
    included = None if loader is None else _prepared_loader(loader)
    try:
        html: str = mjml.mjml2html(source, fonts={}, disable_comments=True, include_loader=included)
    except (ValueError, OSError) as error:
        raise RenderError(f"MJML did not compile: {error}") from None
    return html


def _prepared_loader(loader: IncludeLoader) -> IncludeLoader:
    def load(path: str) -> str:
        return _prepared(loader(path))

    return load
