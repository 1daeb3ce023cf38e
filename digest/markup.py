"""HTML fragments from untrusted text: parsed, reduced to what a summary may keep, made text.

``sanitise_html`` keeps paragraphs, emphasis, line breaks and links with allowed URLs (nh3),
after block elements become paragraphs of their own (lxml); ``html_to_text`` keeps block
boundaries (inscriptis); ``html_fragment`` and ``fragment_html`` are the one parser and
serialiser of fragments the feed readers share.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import lxml.html

from digest.text import UNWANTED, clean_text
from digest.urls import FORBIDDEN_SCHEMES, LINK_SCHEMES, check_url

__all__ = [
    "BLOCK_TAGS",
    "SUMMARY_TAGS",
    "fragment_html",
    "html_fragment",
    "html_to_text",
    "sanitise_html",
]

#: The HTML a summary may keep (from feeds): paragraphs, emphasis, line breaks and links.
SUMMARY_TAGS = frozenset({"p", "br", "em", "strong", "b", "i", "a"})
#: Elements that end a line of text; in a summary each becomes a paragraph of its own.
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip


def sanitise_html(
    value: str, schemes: Collection[str] = LINK_SCHEMES, base: str | None = None
) -> str:
    """Reduce HTML to paragraphs, emphasis, line breaks and links with allowed URLs.

    Block elements (list items, headings, divisions, table cells) become paragraphs of their
    own, so their words never run together; links and paragraphs with no text are dropped.
    """

    def keep_link(tag: str, attribute: str, url: str) -> str | None:
        try:
            return check_url(html.unescape(url), schemes, base)
        except ValueError:
            return None

    import nh3  # lxml and nh3 take 30 ms to load: only HTML needs them

    cleaned: str = nh3.clean(
        _paragraph_blocks(UNWANTED.sub("", value)),
        tags=set(SUMMARY_TAGS),
        attributes={"a": {"href"}},
        attribute_filter=keep_link,
        clean_content_tags={"script", "style", "template", "svg", "math", "title"},
        url_schemes=set(schemes) - FORBIDDEN_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return _without_empty(cleaned)


# Characters XML (and so lxml) refuses: control characters other than tab and newlines.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def html_fragment(value: str) -> lxml.html.HtmlElement | None:
    """Parse an HTML fragment into a ``div``; None when there is nothing to parse."""
    value = _NOT_XML.sub("", value)
    if not value.strip():
        return None
    import lxml.html  # only HTML needs lxml (see sanitise_html)
    from lxml import etree

    try:
        root: lxml.html.HtmlElement = lxml.html.fragment_fromstring(value, create_parent="div")
    except (etree.ParserError, ValueError):
        return None
    return root


def fragment_html(root: lxml.html.HtmlElement) -> str:
    """Serialise a fragment parsed by ``html_fragment``, without its ``div``."""
    import lxml.html

    text: str = lxml.html.tostring(root, encoding="unicode")
    return text.removeprefix("<div>").removesuffix("</div>").strip()


def _paragraph_blocks(value: str) -> str:
    """Turn every block element into a paragraph (list items marked with a bullet)."""
    root = html_fragment(value)
    if root is None:
        return ""
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "li":
            element.text = "• " + (element.text or "").lstrip()
        if tag in BLOCK_TAGS:
            # Nested paragraphs are split apart again when the sanitiser parses the result.
            element.tag = "p"
    import lxml.html

    return str(lxml.html.tostring(root, encoding="unicode"))


def _without_empty(value: str) -> str:
    """Drop links and paragraphs that hold no text (left where pictures were removed)."""
    root = html_fragment(value)
    if root is None:
        return ""
    for element in list(root.iter("a", "p", "em", "strong", "b", "i")):
        if element.getparent() is not None and not element.text_content().strip():
            element.drop_tree()  # keeps the text that follows it
    for end in (0, -1):  # line breaks at either end
        while len(root) and root[end].tag == "br" and not (root[end].tail or "").strip():
            if end == 0 and (root.text or "").strip():
                break
            root[end].drop_tree()
    return fragment_html(root)


def html_to_text(value: str) -> str:
    """Turn HTML into plain text that keeps its block boundaries (inscriptis)."""
    if not value.strip():
        return ""
    from inscriptis import Inscriptis  # only HTML bodies need it
    from lxml.etree import ParserError
    from lxml.html import document_fromstring

    source = re.sub(r"^\s*<\?xml[^>]*>", "", value).strip()
    try:
        tree = document_fromstring(source)
    except (ParserError, ValueError):
        tree = document_fromstring(f"<pre>{html.escape(source)}</pre>")
    # Inscriptis decodes references again in the text the parser has decoded ("&amp;amp;"
    # would show "&"): each "&" is given back to it escaped, so references count once.
    for element in tree.iter():
        if isinstance(element.tag, str) and element.text:
            element.text = element.text.replace("&", "&amp;")
        if element.tail:
            element.tail = element.tail.replace("&", "&amp;")
    return clean_text(str(Inscriptis(tree).get_text()))
