"""Feed text as an editor would take it: mojibake repaired, "read more" trailers dropped, cut.

Feeds carry text that was encoded twice ("Lâ€™OrÃ©al"), summaries that end in their own
"Continue reading…" link or a "The post … appeared first on …" line, and whole articles where
a teaser is wanted. These functions take HTML or text from a feed and return what a reader
should see; the sanitiser in ``models`` then keeps only safe markup.
"""

from __future__ import annotations

import re

import ftfy
import lxml.html

from digest.labels import READ_MORE_PHRASES
from digest.markup import fragment_html, html_fragment
from digest.text import cut_text

__all__ = ["clean_feed_html", "fix_text"]


# A link or paragraph that only points to the full article (``READ_MORE_PHRASES``), matched
# against the whole text of the element.
_TRAILER = re.compile(
    r"""^[\s\[(«"“]*("""
    + "|".join(re.escape(phrase) for phrase in READ_MORE_PHRASES)
    + r""")\b[\s\S]{0,60}$""",
    re.I,
)


# A bare "more" counts only when marked as a link onward: "[more]", "More »", "mehr…".
_MORE = re.compile(
    r"^\s*([\[(«]\s*(more|mehr|plus|más|mais|meer|altro|далее)\s*[\])»]"
    r"|(more|mehr|plus|más|mais|meer|altro|далее)\s*(…|\.\.\.|»|\u203a|→|>>))\s*$",
    re.I,
)


# WordPress's default trailer: "The post <a>Title</a> appeared first on <a>Site</a>."
_APPEARED_FIRST = re.compile(r"^\s*The post .{1,300} appeared first on .{1,200}$", re.S)


_ONLY_DOTS = re.compile(r"^[\s\[\](){}.…]*$")


def fix_text(value: str) -> str:
    """Repair text that was decoded with the wrong encoding (mojibake), keeping its quotes."""
    if value.isascii():
        return value
    return ftfy.fix_encoding(value)


def _is_trailer(text: str) -> bool:
    text = " ".join(text.split())
    return bool(text) and (
        bool(_TRAILER.match(text))
        or bool(_MORE.match(text))
        or bool(_APPEARED_FIRST.match(text))
        or bool(_ONLY_DOTS.match(text))
    )


def clean_feed_html(html: str, limit: int | None = None) -> str:
    """Repair a feed item's HTML: mojibake fixed, trailers dropped, cut after ``limit`` characters.

    The text is cut at a word boundary and ends with an ellipsis; the markup around it stays
    balanced. Pictures stay (the sanitiser drops them later); scripts and styles are dropped.
    """
    if not html.strip():
        return ""
    root = html_fragment(fix_text(html))
    if root is None:
        return ""
    for element in list(root.iter("script", "style", "noscript", "iframe", "object")):
        element.drop_tree()
    _drop_trailers(root)
    if limit is not None:
        _cut_tree(root, limit)
    return fragment_html(root)


def _drop_trailers(root: lxml.html.HtmlElement) -> None:
    """Drop the links and closing paragraphs that only point to the full article."""
    for link in list(root.iter("a")):
        if link.getparent() is not None and _is_trailer(link.text_content()):
            link.drop_tree()
    # A closing block of nothing but a trailer ("The post … appeared first on …", "[…]").
    while len(root):
        last = root[-1]
        if not isinstance(last.tag, str):
            last.drop_tree()
            continue
        words = last.text_content()
        if last.tag == "br" or (
            last.find(".//img") is None and (not words.strip() or _is_trailer(words))
        ):
            last.drop_tree()
            continue
        break
    # Loose text at the end: "… [Read more]" or "Continue reading…" without a link.
    last_text = root[-1].tail if len(root) else root.text
    if last_text and _is_trailer(last_text.split("\n")[-1]):
        kept = "\n".join(last_text.split("\n")[:-1])
        if len(root):
            root[-1].tail = kept
        else:
            root.text = kept


def _cut_tree(element: lxml.html.HtmlElement, remaining: int) -> int:
    """Keep ``remaining`` characters of text in ``element`` and drop what follows them.

    Returns how many characters are left for the text after ``element``.
    """

    def keep(value: str | None) -> tuple[str | None, int]:
        if not value:
            return value, remaining
        if remaining <= 0:
            return None, 0
        length = len(" ".join(value.split()))
        if length > remaining:
            return cut_text(" ".join(value.split()), remaining), 0
        return value, remaining - length

    element.text, remaining = keep(element.text)
    for child in list(element):
        if remaining <= 0:
            element.remove(child)  # with its tail
            continue
        remaining = _cut_tree(child, remaining)
        child.tail, remaining = keep(child.tail)
    return remaining
