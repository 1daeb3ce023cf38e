"""Trimming a feed item's HTML: the clutter rules, "read more" trailers dropped, a cut at length.

``clutter.toml`` ships the closing lines ("The post … appeared first on …"), the links and the
section-name prefixes a site adds to its feed; :func:`clutter` reads them once.
:func:`drop_trailers` takes the trailers off the end of an item's HTML, and :func:`cut_tree`
keeps the first characters of its text, whole words, with the markup around them balanced.
``digest.feeds.cleaning`` runs them on each item.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import lxml.html

from digest.labels import READ_MORE_PHRASES
from digest.text import ELLIPSIS, cut_text, end_cut

__all__ = ["Clutter", "clutter", "cut_tree", "drop_trailers", "is_trailer"]


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


@dataclass(frozen=True)
class Clutter:
    """The clutter rules of ``clutter.toml``: closing lines, links, section-name prefixes."""

    trailers: tuple[re.Pattern[str], ...]
    links: tuple[re.Pattern[str], ...]
    section_prefixes: tuple[str, ...]
    comment_titles: tuple[re.Pattern[str], ...] = ()
    comment_fragments: tuple[re.Pattern[str], ...] = ()


@cache
def clutter() -> Clutter:
    """The rules shipped in ``digest/feeds/clutter.toml``, compiled once."""
    rules = tomllib.loads((Path(__file__).parent / "clutter.toml").read_text(encoding="utf-8"))
    return Clutter(
        trailers=tuple(
            re.compile(rf"(?:^|(?<=[\s.!?…]))(?:{rule['pattern']})[\s.…]*\Z", re.I | re.S)
            for rule in rules.get("trailer", [])
        ),
        links=tuple(re.compile(rule["href"], re.I) for rule in rules.get("link", [])),
        section_prefixes=tuple(
            word for rule in rules.get("section_prefix", []) for word in rule["words"]
        ),
        comment_titles=tuple(
            re.compile(p, re.I) for p in rules.get("comments", {}).get("titles", [])
        ),
        comment_fragments=tuple(
            re.compile(p, re.I) for p in rules.get("comments", {}).get("fragments", [])
        ),
    )


_ONLY_DOTS = re.compile(r"^[\s\[\](){}.…]*$")


def is_trailer(text: str) -> bool:
    """Whether ``text`` only points to the full article ("Read more", ``clutter.toml``'s lines)."""
    text = " ".join(text.split())
    return bool(text) and (
        bool(_TRAILER.match(text))
        or bool(_MORE.match(text))
        or any(rule.match(text) for rule in clutter().trailers)
        or bool(_ONLY_DOTS.match(text))
    )


def drop_trailers(root: lxml.html.HtmlElement) -> None:
    """Drop the links and closing paragraphs that only point to the full article."""
    rules = clutter()
    for link in list(root.iter("a")):
        href = link.get("href") or ""
        if link.getparent() is not None and (
            is_trailer(link.text_content()) or any(rule.search(href) for rule in rules.links)
        ):
            link.drop_tree()
    for rule in rules.trailers:
        _cut_tail(root, rule)
    # A closing block of nothing but a trailer ("The post … appeared first on …", "[…]").
    while len(root):
        last = root[-1]
        if not isinstance(last.tag, str):
            last.drop_tree()
            continue
        words = last.text_content()
        if last.tag == "br" and (last.tail or "").strip():
            break  # a line break inside the text: dropping it would join two words
        if last.tag == "br" or (
            last.find(".//img") is None and (not words.strip() or is_trailer(words))
        ):
            last.drop_tree()
            continue
        break
    # Loose text at the end: "… [Read more]" or "Continue reading…" without a link.
    last_text = root[-1].tail if len(root) else root.text
    if last_text and is_trailer(last_text.split("\n")[-1]):
        kept = "\n".join(last_text.split("\n")[:-1])
        if len(root):
            root[-1].tail = kept
        else:
            root.text = kept


def _pieces(root: lxml.html.HtmlElement) -> list[tuple[lxml.html.HtmlElement, str, str]]:
    """Every run of text below ``root`` in document order: (element, "text" or "tail", text)."""
    found: list[tuple[lxml.html.HtmlElement, str, str]] = []

    def walk(element: lxml.html.HtmlElement) -> None:
        if isinstance(element.tag, str) and element.text:
            found.append((element, "text", element.text))
        for child in element:
            walk(child)
            if child.tail:
                found.append((child, "tail", child.tail))

    walk(root)
    return found


def _cut_tail(root: lxml.html.HtmlElement, rule: re.Pattern[str]) -> None:
    """Cut the text that ``rule`` matches at the end of ``root``, and all that follows it."""
    pieces = _pieces(root)
    # Runs joined by a line break: text of two blocks never reads as one word ("end.Next").
    whole = "\n".join(text for _, _, text in pieces)
    found = rule.search(whole)
    if found is None:
        return
    offset = 0
    for element, kind, text in pieces:
        if offset + len(text) >= found.start():
            kept = text[: found.start() - offset]
            if kind == "text":
                element.text = kept
                for child in list(element):
                    element.remove(child)
            else:
                element.tail = kept
            _drop_following(root, element, include_tail=kind == "text")
            return
        offset += len(text) + 1


def _drop_following(
    root: lxml.html.HtmlElement, element: lxml.html.HtmlElement, include_tail: bool
) -> None:
    """Remove everything after ``element`` (and its tail, if asked) up to the end of ``root``."""
    current = element
    if include_tail and current is not root:
        current.tail = None
    while current is not root:
        parent = current.getparent()
        if parent is None:
            return
        for sibling in list(current.itersiblings()):
            parent.remove(sibling)
        if parent is not root:
            parent.tail = None
        current = parent


def _tidy_cut_end(root: lxml.html.HtmlElement) -> None:
    """Drop the blocks a cut emptied; an ellipsis left alone in a block joins the text before."""
    alone = False
    while len(root):
        last = root[-1]
        if not isinstance(last.tag, str):  # a comment or processing instruction: no words
            last.drop_tree()
            continue
        words = last.text_content().strip()
        if last.find(".//img") is not None or (last.tag == "br" and (last.tail or "").strip()):
            break
        if words not in ("", ELLIPSIS):
            break
        alone = alone or words == ELLIPSIS
        last.drop_tree()
    pieces = _pieces(root)
    if alone and pieces:
        element, where, text = pieces[-1]
        setattr(element, where, end_cut(text))


def cut_tree(root: lxml.html.HtmlElement, limit: int) -> None:
    """Keep the first ``limit`` characters of ``root``'s text, whole words; drop what follows."""
    _cut(root, limit)
    _tidy_cut_end(root)


def _cut(element: lxml.html.HtmlElement, remaining: int, kept: list[str] | None = None) -> int:
    """Keep ``remaining`` characters of text in ``element`` and drop what follows them.

    Returns how many characters are left for the text after ``element``. Once some text is
    kept, the run of text the cut falls in keeps whole words only: none at all is an ellipsis
    (never a lone "T…"), or nothing when the text kept ends a sentence.
    """
    kept = [] if kept is None else kept  # the runs of text kept so far

    def keep(value: str | None) -> tuple[str | None, int]:
        if not value:
            return value, remaining
        if remaining <= 0:
            return None, 0
        words = value.split()
        length = len(" ".join(words))
        if length <= remaining:
            if words:
                kept.append(value)
            return value, remaining - length
        if not "".join(kept).strip():
            return cut_text(" ".join(words), remaining), 0
        fitted: list[str] = []
        for word in words:
            if len(" ".join([*fitted, word])) >= remaining:
                break
            fitted.append(word)
        if fitted:
            return (" " if value[0].isspace() else "") + end_cut(" ".join(fitted)), 0
        before = "".join(kept).rstrip()
        return (None if end_cut(before) == before else ELLIPSIS), 0

    element.text, remaining = keep(element.text)
    for child in list(element):
        if remaining <= 0:
            element.remove(child)  # with its tail
            continue
        remaining = _cut(child, remaining, kept)
        child.tail, remaining = keep(child.tail)
    return remaining
