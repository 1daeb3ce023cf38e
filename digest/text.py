"""Plain text for people: lines measured in display columns, links never broken, cuts at words.

A terminal or a plain-text mail client shows East Asian wide characters two columns wide, and a
link broken across two lines stops working. :func:`wrap` measures with wcwidth, breaks CJK text
between characters and other text between words, and keeps every URL whole (on a line of its
own when it does not fit). :func:`cut_text` shortens a line at a word with an ellipsis.
"""

from __future__ import annotations

import re
import unicodedata

from wcwidth import wcswidth, wcwidth

__all__ = ["ELLIPSIS", "columns", "cut_text", "wrap"]

ELLIPSIS = "…"
_URL = re.compile(r"(?:https?://|mailto:|www\.)\S+", re.I)
# Closing punctuation that may not start a line (kinsoku), and opening that may not end one.
_NO_START = set("、。，．・：；？！）」』】〕〉》〙〗｝〟’”%!),.:;?]}")  # noqa: RUF001
_NO_END = set("（「『【〔〈《〘〖｛〝‘“([{")  # noqa: RUF001


def columns(text: str) -> int:
    """How many columns ``text`` takes in a terminal (wide characters count two)."""
    if text.isascii() and text.isprintable():
        return len(text)
    width = wcswidth(text)
    if width >= 0:
        return int(width)
    return sum(max(wcwidth(ch), 0) for ch in text)  # control characters count nothing


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Split one line into (piece, space_before) units that may not be broken."""
    pieces: list[tuple[str, bool]] = []
    for index, word in enumerate(text.split(" ")):
        if not word:
            continue
        spaced = index > 0 and bool(pieces)
        if word.isascii() or _URL.search(word) or not any(_wide(ch) for ch in word):
            pieces.append((word, spaced))
            continue
        # CJK text breaks between characters, but keeps runs of narrow characters together.
        units: list[str] = []
        for ch in word:
            if (units and not _wide(ch) and not _wide(units[-1][-1])) or (
                units and (ch in _NO_START or units[-1][-1] in _NO_END)
            ):
                units[-1] += ch
            else:
                units.append(ch)
        pieces.append((units[0], spaced))
        pieces += [(unit, False) for unit in units[1:]]
    return pieces


def wrap(text: str, width: int = 72, indent: str = "") -> str:
    """Wrap ``text`` to ``width`` columns of text; lines after the first start with ``indent``.

    Paragraph breaks (newlines) are kept. A URL is never broken: it moves to the next line,
    and stands alone on a line when it is wider than ``width``.
    """
    out: list[str] = []
    for paragraph in str(text).split("\n"):
        line, used = "", 0
        for piece, spaced in _tokens(paragraph):
            gap = 1 if spaced and line else 0
            size = columns(piece)
            if line and used + gap + size > width:
                out.append(line)
                line, used, gap = "", 0, 0
            line += " " * gap + piece
            used += gap + size
        out.append(line)
    return ("\n" + indent).join(out)


def cut_text(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 1)]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" \n,;:.-\u2013\u2014") + ELLIPSIS
