"""Checks of an email's HTML elements as a mail client and a screen reader meet them.

The document (its language, title, headings and layout tables), its pictures (alt text,
size, shape, tracking pixels, URLs) and its links (safe schemes, words that say where they
lead, the visible unsubscribe link), each finding with the line it was found on.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from digest.findings import Finding
from digest.labels import READ_MORE_PHRASES, every_translation
from digest.models import Newsletter
from digest.pixels import is_pixel_size
from digest.urls import FORBIDDEN_SCHEMES, WEB_SCHEMES

__all__ = ["EmailHtml", "check_elements", "url_problem"]

_GENERIC_LINK_TEXT = {
    "click here",
    "here",
    "more",
    "link",
    "this",
    "this link",
    "learn more",
    "klik di sini",
    "di sini",
    "baca",
    "lanjut",
    *READ_MORE_PHRASES,
}


class EmailHtml(HTMLParser):
    """What the checks need of an email's HTML, read once, with line numbers."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.has_html = False
        self.title: str | None = None
        self.images: list[tuple[int, dict[str, str | None]]] = []
        self.links: list[tuple[int, dict[str, str | None], list[str]]] = []
        self.headings: list[tuple[int, int]] = []
        self.tables: list[tuple[int, dict[str, str | None]]] = []
        self.styles: list[tuple[int, str]] = []  # (line, css) of style attributes and elements
        self._open_links: list[tuple[int, dict[str, str | None], list[str]]] = []
        self._in: str | None = None
        self._text: list[str] = []
        self._start = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Note the language, pictures, links, tables, headings and styles an element opens."""
        line = self.getpos()[0]
        values = dict(attrs)
        if values.get("style"):
            self.styles.append((line, values["style"] or ""))
        if tag == "html":
            self.has_html, self.lang = True, values.get("lang")
        elif tag in ("title", "style"):
            self._in, self._text, self._start = tag, [], line
        elif tag == "img":
            self.images.append((line, values))
            for _, _, text in self._open_links:  # a picture's alt text names its link
                text.append(values.get("alt") or "")
        elif tag == "a":
            self._open_links.append((line, values, []))
        elif tag == "table":
            self.tables.append((line, values))
        elif re.fullmatch(r"h[1-6]", tag):
            self.headings.append((line, int(tag[1])))

    def handle_endtag(self, tag: str) -> None:
        """Close the title, the style element or the link that ``tag`` ends."""
        if tag == self._in == "title":
            self.title = "".join(self._text).strip()
            self._in = None
        elif tag == self._in == "style":
            self.styles.append((self._start, "".join(self._text)))
            self._in = None
        elif tag == "a" and self._open_links:
            self.links.append(self._open_links.pop())

    def handle_data(self, data: str) -> None:
        """Keep text of the title, a style element and the open links."""
        if self._in:
            self._text.append(data)
        for _, _, text in self._open_links:
            text.append(data)


def check_elements(reader: EmailHtml, newsletter: Newsletter | None = None) -> list[Finding]:
    """The findings of the document, its pictures and its links (with the newsletter's link)."""
    return [*_check_document(reader), *_check_images(reader), *_check_links(reader, newsletter)]


def _check_document(reader: EmailHtml) -> list[Finding]:
    findings = []
    if not reader.lang:
        findings.append(Finding("error", "lang", "the <html> element has no lang attribute"))
    if not reader.title:
        findings.append(Finding("error", "title", "the document has no <title>"))
    levels = [level for _, level in reader.headings]
    if levels.count(1) != 1:
        findings.append(
            Finding("warning", "headings", f"there should be one <h1>, there are {levels.count(1)}")
        )
    previous = 0
    for line, level in reader.headings:
        if level > previous + 1:
            findings.append(
                Finding(
                    "warning",
                    "headings",
                    f"<h{level}> follows <h{previous or 'none'}>: a level is skipped",
                    line,
                )
            )
        previous = level
    for line, attrs in reader.tables:
        if attrs.get("role") != "presentation":
            findings.append(
                Finding(
                    "warning", "layout-table", 'a layout table without role="presentation"', line
                )
            )
    return findings


def _check_images(reader: EmailHtml) -> list[Finding]:
    findings = []
    for line, attrs in reader.images:
        src = attrs.get("src") or ""
        if "alt" not in attrs:
            findings.append(
                Finding("error", "alt", f"image {src[:80]!r} has no alt attribute", line)
            )
        width, height = attrs.get("width") or "", attrs.get("height") or ""
        if not width.isdigit():
            findings.append(
                Finding(
                    "warning",
                    "image-size",
                    f"image {src[:80]!r} has no numeric width (Outlook needs one)",
                    line,
                )
            )
        style = (attrs.get("style") or "").replace(" ", "").lower()
        if re.search(r"(^|;)height:\d+(\.\d+)?px", style) and "width:100%" in style:
            findings.append(
                Finding(
                    "warning",
                    "image-shape",
                    f"image {src[:80]!r} has a pixel height and a fluid width: it is distorted "
                    "wherever it is not shown at its full width (use height:auto)",
                    line,
                )
            )
        if is_pixel_size(
            int(width) if width.isdigit() else None, int(height) if height.isdigit() else None
        ):
            findings.append(
                Finding(
                    "warning",
                    "pixel",
                    f"image {src[:80]!r} is {width or '?'}x{height or '?'}: a tracking pixel, "
                    "not a picture",
                    line,
                )
            )
        problem = url_problem(src, images=True)
        if problem:
            findings.append(Finding("error", "image-url", f"image {src[:80]!r}: {problem}", line))
    return findings


def url_problem(url: str, images: bool = False) -> str | None:
    """Why ``url`` may not stand in an email's link (or picture), or None when it may."""
    url = url.strip()
    scheme = urlsplit(url).scheme.lower()
    if re.sub(r"[\s\x00-\x1f]", "", url.lower()).split(":", 1)[0] in FORBIDDEN_SCHEMES:
        return f"the {scheme or 'hidden'}: scheme is unsafe"
    if not scheme:
        return "a relative URL does not work in an email"
    if scheme not in (WEB_SCHEMES if images else WEB_SCHEMES | {"mailto", "tel"}):
        return f"the {scheme}: scheme is not for email"
    return None


def _check_links(reader: EmailHtml, newsletter: Newsletter | None) -> list[Finding]:
    findings = []
    unsubscribe_words = every_translation("unsubscribe")
    unsubscribe_found = False
    for line, attrs, parts in reader.links:
        href = (attrs.get("href") or "").strip()
        text = " ".join("".join(parts).split())
        if not href:
            continue
        problem = url_problem(href)
        if problem:
            findings.append(Finding("error", "link", f"link {href[:80]!r}: {problem}", line))
        elif urlsplit(href).scheme == "http":
            findings.append(Finding("info", "link", f"link {href[:80]!r} is not https", line))
        label = text.casefold().rstrip(" →»>.…")
        if not text and not (attrs.get("aria-label") or attrs.get("title")):
            findings.append(
                Finding(
                    "warning",
                    "link-text",
                    f"link {href[:80]!r} has no text, alt text or aria-label: a screen reader "
                    "reads out its address",
                    line,
                )
            )
        elif label in _GENERIC_LINK_TEXT and not (attrs.get("aria-label") or attrs.get("title")):
            findings.append(
                Finding(
                    "warning",
                    "link-text",
                    f"link text {text!r} says nothing of where it leads; add an "
                    "aria-label or use the headline",
                    line,
                )
            )
        if newsletter is not None and newsletter.contact.unsubscribe_url:
            # The inliner may percent-encode an IRI: compare the decoded forms.
            unsubscribe_found |= unquote(href) == unquote(newsletter.contact.unsubscribe_url)
        else:
            unsubscribe_found |= "unsubscribe" in href.casefold() or any(
                word in text.casefold() for word in unsubscribe_words
            )
    if not unsubscribe_found:
        findings.append(Finding("error", "unsubscribe", "no visible unsubscribe link"))
    return findings
