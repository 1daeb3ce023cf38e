"""Inlining: copy the stylesheet rules onto the elements (premailer), with no network access."""

from __future__ import annotations

import logging
import re
import warnings
from typing import Literal, get_args

import cssutils
import lxml.html
from premailer import Premailer

from digest.errors import RenderError

__all__ = ["INLINERS", "Inliner", "inline_css"]


#: The inlining engines: premailer (the default) and css-inline
#: (``pip install 'newsletter-digest[fast]'``).
Inliner = Literal["premailer", "css-inline"]


INLINERS: tuple[Inliner, ...] = get_args(Inliner)


_DOCTYPE = "<!doctype html>"


def _refuse_fetch(url: str) -> None:
    """A cssutils fetcher that fetches nothing: an ``@import`` stays unresolved."""
    return None


# An at-keyword that could be @import: "@" then "i" or "I", or an escape (``@\69mport``).
# Without one a stylesheet holds no @import, and the slow parse is skipped.
_MAYBE_IMPORT = re.compile(r"@(?:[iI]|\\)")


def _imports(css: str) -> bool:
    """Whether a stylesheet holds an ``@import`` rule (parsed without following it)."""
    if not _MAYBE_IMPORT.search(css):
        return False
    sheet = cssutils.CSSParser(fetcher=_refuse_fetch, validate=False).parseString(css)
    return any(rule.type == rule.IMPORT_RULE for rule in sheet)


# At-rules an email's stylesheets use; any other "@" in the HTML is looked at more closely.
_COMMON_AT = re.compile(r"@(?!media\b|font-face\b|supports\b|page\b|charset\b)")


def _without_imports(html: str) -> str:
    """The HTML without the ``@import`` rules of its style elements.

    cssutils, which premailer parses styles with, would fetch an imported stylesheet; the
    rules are removed here, so the inliner never sees one (the document is rewritten only then).
    """
    if not _COMMON_AT.search(html):
        return html
    root = lxml.html.document_fromstring(html)
    changed = False
    for style in root.iter("style"):
        css = style.text or ""
        if css and _imports(css):
            sheet = cssutils.CSSParser(fetcher=_refuse_fetch, validate=False).parseString(css)
            for rule in [r for r in sheet if r.type == r.IMPORT_RULE]:
                sheet.deleteRule(rule)
            style.text = sheet.cssText.decode()
            changed = True
    if not changed:
        return html
    rewritten: str = lxml.html.tostring(root, encoding="unicode", doctype=_DOCTYPE)
    return rewritten


def _keep_reset_in_head(html: str, marker: str = 'data-premailer="ignore"') -> str:
    """Mark MJML's reset stylesheet (it starts with ``#outlook a``) to stay in the head.

    Clients that read styles at all read it there; inlining it would repeat
    ``border-collapse`` and ``mso-table-*`` on every table cell (a third of a large edition).
    """
    return re.sub(
        r'<style type="text/css">(\s*#outlook a)',
        rf'<style type="text/css" {marker}>\1',
        html,
        count=1,
    )


def inline_css(html: str, engine: Inliner = "premailer") -> str:
    """Inline the CSS of an HTML email, keeping media queries, MSO comments and the doctype.

    ``engine`` chooses premailer (the default) or css-inline, a Rust inliner many times faster,
    whose output the same browser and check tests hold to.

    ``strip_important=False`` keeps ``!important`` in the media queries the phone layout
    depends on; ``keep_style_tags=True`` keeps those rules in the document; classes stay so
    that the media queries have something to target; MJML's pixel ``width``/``height``
    attributes are kept for Outlook instead of being rewritten from the CSS.
    """
    if engine == "css-inline":
        return _css_inline(html)
    premailer = Premailer(
        _keep_reset_in_head(_without_imports(html)),
        allow_network=False,
        allow_loading_external_files=False,
        strip_important=False,
        keep_style_tags=True,
        remove_classes=False,
        disable_validation=True,
        disable_basic_attributes=["width", "height"],
        # Floating images get align attributes from their float style: MJML never floats an
        # image, and the check parses every <img style> with cssutils (most of a build).
        align_floating_images=False,
        # cssutils reports every mso-* property as invalid CSS; they are there on purpose.
        # (A level only: premailer adds a given handler to cssutils' logger on every call.)
        cssutils_logging_level=logging.CRITICAL,
    )
    try:
        with warnings.catch_warnings():
            # cssutils and premailer warn about email-client CSS hacks they do not know.
            warnings.simplefilter("ignore")
            inlined: str = premailer.transform()
    except Exception as error:  # premailer raises many kinds: lxml, cssutils, its own
        raise RenderError(f"CSS inlining failed: {type(error).__name__}: {error}") from None
    if not re.match(r"\s*<!doctype", inlined, re.IGNORECASE):
        inlined = f"{_DOCTYPE}\n{inlined}"
    return inlined


def _css_inline(html: str) -> str:
    try:
        import css_inline
    except ImportError:
        raise RenderError(
            "the css-inline engine is not installed: pip install 'newsletter-digest[fast]'"
        ) from None
    inliner = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)
    try:
        inlined: str = inliner.inline(_keep_reset_in_head(html, 'data-css-inline="ignore"'))
    except (ValueError, css_inline.InlineError) as error:
        raise RenderError(f"CSS inlining failed: {error}") from None
    return inlined
