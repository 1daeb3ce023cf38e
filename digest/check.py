"""Checks of a finished email: size, accessibility, links, unsubscribe, contrast, CSS support.

``check_html`` reads the HTML of an edition (or any HTML email) and reports ``Finding``s with
a severity, a rule name and the line they were found on: its size, theme and CSS support
here, its document, pictures and links in ``digest.html_checks``. CSS support comes from the
caniemail project's data (``digest/data/caniemail.json``, MIT licence).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from digest.colour import MIN_CONTRAST, contrast_ratio
from digest.findings import Finding as Finding
from digest.findings import Severity as Severity
from digest.findings import summarise as summarise
from digest.html_checks import EmailHtml, check_elements
from digest.html_checks import url_problem as url_problem
from digest.labels import every_translation
from digest.models import Newsletter, Theme
from digest.urls import PLACEHOLDER_HOSTS

__all__ = [
    "DEFAULT_BUDGET_KB",
    "GMAIL_CLIP_KB",
    "Finding",
    "check_copy",
    "check_html",
    "check_leftovers",
    "check_text",
    "check_theme",
    "check_unsubscribe_url",
    "summarise",
    "url_problem",
]
#: Gmail shows "[Message clipped]" and hides the rest past about this size.
GMAIL_CLIP_KB = 102
DEFAULT_BUDGET_KB = 100
_MAJOR = ("gmail/", "outlook/windows", "outlook/outlook-com", "apple-mail/")
# Outlook for Windows lacks so much CSS that MJML's own output leans on graceful degradation
# there; a feature that only it lacks is reported as information.
_OUTLOOK_WINDOWS = ("outlook/windows", "outlook/windows-mail")


def check_theme(theme: Theme) -> list[Finding]:
    """Warn about theme colour pairs with less than WCAG AA contrast (4.5:1)."""
    pairs = [
        ("text", theme.text, "surface", theme.surface),
        ("muted", theme.muted, "surface", theme.surface),
        ("accent (links)", theme.accent, "surface", theme.surface),
        ("brand (labels)", theme.brand, "surface", theme.surface),
        ("white button text", "#ffffff", "brand", theme.brand),
        ("muted (footer)", theme.muted, "background", theme.background),
    ]
    return [
        Finding(
            "warning",
            "contrast",
            f"theme {name} {fg} on {ground} {bg} has a contrast of {ratio:.2f}:1; "
            f"text needs at least {MIN_CONTRAST}:1",
        )
        for name, fg, ground, bg in pairs
        if (ratio := contrast_ratio(fg, bg)) < MIN_CONTRAST
    ]


def check_size(html: str, budget_kb: float = DEFAULT_BUDGET_KB) -> list[Finding]:
    """Report an email over the size budget, and as an error over Gmail's clipping size."""
    size_kb = len(html.encode("utf-8")) / 1024
    if size_kb > GMAIL_CLIP_KB:
        return [
            Finding(
                "error",
                "size",
                f"the HTML is {size_kb:.1f} KB; Gmail clips messages over about {GMAIL_CLIP_KB} KB",
            )
        ]
    if size_kb > budget_kb:
        return [
            Finding(
                "warning",
                "size",
                f"the HTML is {size_kb:.1f} KB, over the budget of {budget_kb:g} KB",
            )
        ]
    return []


@cache
def caniemail() -> dict[str, Any]:
    """The shipped subset of caniemail's support data."""
    data = resources.files("digest").joinpath("data/caniemail.json").read_text("utf-8")
    result: dict[str, Any] = json.loads(data)
    return result


def check_html(
    html: str, newsletter: Newsletter | None = None, budget_kb: float | None = None
) -> list[Finding]:
    """Check an HTML email; pass its newsletter to check the theme and the unsubscribe URL."""
    reader = EmailHtml()
    reader.feed(html)
    reader.close()
    budget = (
        budget_kb
        if budget_kb is not None
        else (newsletter.layout.size_budget_kb if newsletter else DEFAULT_BUDGET_KB)
    )
    findings = check_size(html, budget)
    findings += check_elements(reader, newsletter)
    findings += _check_css(reader.styles)
    if newsletter is not None:
        findings += check_theme(newsletter.brand.theme)
        findings += check_unsubscribe_url(newsletter)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: (order[f.severity], f.line or 0, f.rule))


def check_unsubscribe_url(newsletter: Newsletter) -> list[Finding]:
    """Warn when the unsubscribe link is a placeholder (``digest init``'s ``example.org``)."""
    url = newsletter.contact.unsubscribe_url
    host = (urlsplit(url).hostname or "").lower() if url else ""
    if host not in PLACEHOLDER_HOSTS and not host.endswith(
        tuple("." + h for h in PLACEHOLDER_HOSTS)
    ):
        return []
    return [
        Finding(
            "warning",
            "unsubscribe",
            f"the unsubscribe link {url} is a placeholder: readers cannot leave; set "
            "[newsletter.contact] unsubscribe_url to your own page, or to digest serve's "
            "(https://YOUR-HOST/unsubscribe/{token})",
        )
    ]


def check_copy(
    html: str, newsletter: Newsletter, unsubscribe_url: str | None = None
) -> list[Finding]:
    """The errors of one reader's copy: what ``check_html`` finds, but its size budget.

    A reader's values (a link in their own fields) can break what the edition's check
    passed; a copy is never sent with an error. ``unsubscribe_url`` is the reader's own
    (their token in it), which the copy must show instead of the newsletter's.
    """
    if unsubscribe_url and unsubscribe_url != newsletter.contact.unsubscribe_url:
        contact = newsletter.contact.model_copy(update={"unsubscribe_url": unsubscribe_url})
        newsletter = newsletter.model_copy(update={"contact": contact})
    return [f for f in check_html(html, newsletter, budget_kb=1e9) if f.severity == "error"]


#: Text an editor leaves while writing: "TK" (to come) and lorem ipsum.
_LEFTOVER = re.compile(r"(?-i:\bTK(?:TK)?\b)|\blorem ipsum\b", re.IGNORECASE)


def check_leftovers(text: str) -> list[Finding]:
    """Warn about placeholder text left in: "TK" (to come), lorem ipsum."""
    found = list(_LEFTOVER.finditer(text))
    if not found:
        return []
    start = max(0, found[0].start() - 30)
    around = " ".join(text[start : found[0].end() + 30].split())
    return [
        Finding(
            "warning",
            "leftover",
            f"placeholder text left in ({len(found)}: {found[0].group(0)!r}, in …{around}…)",
        )
    ]


def check_text(text: str, newsletter: Newsletter | None = None) -> list[Finding]:
    """Check a plain-text part: it must offer the way out too (its unsubscribe link)."""
    if newsletter is not None and newsletter.contact.unsubscribe_url:
        found = newsletter.contact.unsubscribe_url in text
    else:
        folded = text.casefold()
        found = "unsubscribe" in folded or any(
            w in folded for w in every_translation("unsubscribe")
        )
    leftovers = check_leftovers(text)
    if found:
        return leftovers
    return [
        Finding("error", "unsubscribe", "the plain-text part has no unsubscribe link"),
        *leftovers,
    ]


_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_DECLARATION = re.compile(r"(?<![\w-])([a-zA-Z-]+)\s*:\s*([^;{}]+)")
_AT_RULE = re.compile(r"@([a-zA-Z-]+)")


def _css_features(css: str) -> tuple[tuple[str, bool], ...]:
    """The caniemail slugs a piece of CSS uses, each with whether it sits in an @media block."""
    return tuple(_features(css))


def _features(css: str) -> Iterable[tuple[str, bool]]:
    css = _COMMENT.sub("", css)
    depth, media_depth = 0, None
    for token in re.finditer(r"@media[^{]*\{|@[a-zA-Z-]+|\{|\}|[^{}@]+", css):
        text = token.group(0)
        if text.startswith("@media"):
            yield "css-at-media", False
            depth += 1
            media_depth = media_depth or depth
            continue
        if text.startswith("@"):
            name = _AT_RULE.match(text)
            if name:
                yield f"css-at-{name.group(1).lower()}", media_depth is not None
            continue
        if text == "{":
            depth += 1
        elif text == "}":
            if media_depth == depth:
                media_depth = None
            depth = max(0, depth - 1)
        else:
            body = text.split("{")[-1] if "{" in text else text
            if depth == 0 and ":" not in body:
                continue
            for match in _DECLARATION.finditer(body):
                prop, value = match.group(1).lower(), match.group(2).strip().lower()
                if prop.startswith(("-", "mso-")):
                    continue
                in_media = media_depth is not None
                if prop == "display" and value in ("flex", "grid", "none"):
                    yield f"css-display-{value}", in_media
                yield f"css-{prop}", in_media
                if "!important" in value:
                    yield "css-important", in_media


def _check_css(styles: list[tuple[int, str]]) -> list[Finding]:
    data = caniemail()
    first_line: dict[str, int] = {}
    count: dict[str, int] = {}
    progressive: dict[str, bool] = {}
    # An email repeats the same style attribute on many elements: each is read once a check.
    seen: dict[str, tuple[tuple[str, bool], ...]] = {}
    for line, css in styles:
        if css not in seen:
            seen[css] = _css_features(css)
        for slug, in_media in seen[css]:
            if slug not in data["features"]:
                continue
            first_line.setdefault(slug, line)
            count[slug] = count.get(slug, 0) + 1
            progressive[slug] = progressive.get(slug, True) and in_media
    findings = []
    for slug, line in first_line.items():
        feature = data["features"][slug]
        lacking = [
            client
            for client, code in feature["support"].items()
            if code == "n" and client.startswith(_MAJOR)
        ]
        if not lacking:
            continue
        unsupported = [data["clients"][client] for client in lacking]
        only_outlook = all(client in _OUTLOOK_WINDOWS for client in lacking)
        severity: Severity = "info" if progressive[slug] or only_outlook else "warning"
        used = "once" if count[slug] == 1 else f"{count[slug]} times"
        findings.append(
            Finding(
                severity,
                "css-support",
                f"{feature['title']} (used {used}) is not supported by "
                f"{', '.join(sorted(unsupported))}; see {feature['url']}",
                line,
            )
        )
    return findings
