"""Plain text for people: lines measured in display columns, links never broken, cuts at words.

A terminal or a plain-text mail client shows East Asian wide characters two columns wide, and a
link broken across two lines stops working. :func:`wrap` measures with wcwidth, breaks CJK text
between characters and other text between words, and keeps every URL whole (on a line of its
own when it does not fit). :func:`cut_text` shortens a line at a word with an ellipsis.
:func:`clean_text` normalises untrusted text (NFC, no control characters, tidy spacing) and
:func:`one_line_text` puts it on one line: the models clean every text field with them.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "ELLIPSIS",
    "UNWANTED",
    "clean_text",
    "columns",
    "cut_text",
    "end_cut",
    "one_line",
    "one_line_text",
    "wrap",
]

ELLIPSIS = "…"
_URL = re.compile(r"(?:https?://|mailto:|www\.)\S+", re.I)
# Closing punctuation that may not start a line (kinsoku), and opening that may not end one.
_NO_START = set("、。，．・：；？！）」』】〕〉》〙〗｝〟’”%!),.:;?]}")  # noqa: RUF001
_NO_END = set("（「『【〔〈《〘〖｛〝‘“([{")  # noqa: RUF001


def columns(text: str) -> int:
    """How many columns ``text`` takes in a terminal (wide characters count two)."""
    if text.isascii() and text.isprintable():
        return len(text)
    from wcwidth import wcswidth, wcwidth  # its tables take 20 ms to load: only when needed

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


#: What ends a sentence: a text cut right after one ends with it, not with an ellipsis.
SENTENCE_ENDS = (".", "!", "?", "\u3002", "\uff01", "\uff1f", "\u0964", "\u061f", "\u06d4")


def cut_text(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters.

    Cut inside a sentence, it ends with an ellipsis; cut just after one, with that sentence
    (never "here.…").
    """
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 1)]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > limit // 2:
        cut = cut[:space]
    return end_cut(cut)


def end_cut(cut: str) -> str:
    """The end of a cut text: the sentence it stops after, else an ellipsis."""
    cut = cut.rstrip(" \n")
    if cut.endswith(SENTENCE_ENDS) and not cut.endswith(".."):
        return cut
    return cut.rstrip(",;:.-\u2013\u2014") + ELLIPSIS


# Control characters other than tab and newline, the non-characters U+FFFE/U+FFFF and
# lone surrogates: none of them belongs in an email and MRML refuses some of them.
UNWANTED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def clean_text(value: str) -> str:
    """Normalise text to NFC, drop control characters and trim each line's spacing."""
    value = UNWANTED.sub("", unicodedata.normalize("NFC", value.replace("\r\n", "\n")))
    lines = (_SPACES.sub(" ", line).strip() for line in value.split("\n"))
    # Keep paragraph breaks (one blank line), drop runs of blank lines.
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# Printable ASCII words with single spaces: already clean, and the same after cleaning.
_PLAIN_LINE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")


def one_line_text(value: str) -> str:
    """Text cleaned as ``clean_text`` does, on one line."""
    if _PLAIN_LINE.fullmatch(value):
        return value
    return " ".join(clean_text(value).split())


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(value: str) -> str:
    """Control characters (CR, LF, NUL, ...) become spaces; runs of spaces become one."""
    return " ".join(_CONTROL.sub(" ", value).split())
