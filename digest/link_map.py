"""An edition's links, each with the story it leads to: what a click is counted against.

A link is known by its **index**: the n-th ``<a>`` start tag with an ``href`` attribute in
the edition's HTML, counted from 0 in document order as Python's ``html.parser`` reads it
(``anchor_hrefs``). Comments are not read, so a link inside an Outlook conditional comment
(``<!--[if mso]>``) has no index; an ``<a>`` without ``href`` (a named anchor) has none
either. Every copy of an edition is rendered from the same templates, so the n-th link of a
reader's copy is the n-th link of the edition, whatever their own unsubscribe link says:
click tracking (``digest.web.tracking``) signs this index, and a report counts clicks by it.

Each link is matched to a story of the ``Edition`` by its URL (as written, else by its
``canonical_url``, which leaves tracking parameters out): the lead (slot 0 of its section),
a teaser (slot 1, 2, … of its section, in the order the email shows them), or ``other``
(the masthead, the web version, social links, unsubscribe, preferences). The default
templates link no quote; ``quote`` is kept for templates that link its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal

from digest.edition import Edition
from digest.urls import canonical_url

__all__ = ["EditionLink", "LinkKind", "anchor_hrefs", "link_for", "link_map", "loose_url"]

#: What a link leads to: the lead story, a teaser, the quote, or anything else.
LinkKind = Literal["lead", "teaser", "quote", "other"]


@dataclass(frozen=True)
class EditionLink:
    """One link of an edition's HTML and the story it belongs to."""

    #: The n-th ``<a href>`` of the HTML, from 0, in document order.
    index: int
    #: The ``href`` as the HTML has it (character references decoded).
    url: str
    kind: LinkKind
    #: The story's URL as the edition holds it ("" for ``other``).
    story: str = ""
    title: str = ""
    #: The section the story is shown in ("" for ``other``).
    section: str = ""
    #: 0 for the lead, 1, 2, … for the teasers of a section in the order shown; 0 otherwise.
    slot: int = 0


class _Anchors(HTMLParser):
    """Collects each ``<a href>``'s value in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        for name, value in attrs:
            if name == "href":
                self.hrefs.append(value or "")
                return

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def anchor_hrefs(html: str) -> list[str]:
    """The ``href`` of every ``<a>`` of ``html`` in document order: link ``n`` is item ``n``."""
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    return parser.hrefs


def loose_url(url: str) -> str:
    """``canonical_url`` of ``url``, or "" when it is no URL it can read (``http://[``)."""
    try:
        return canonical_url(url) if url.strip() else ""
    except ValueError:
        return ""


def link_map(edition: Edition, html: str) -> tuple[EditionLink, ...]:
    """Every link of ``html`` (the edition's rendered email) with the story it leads to."""
    stories: dict[str, tuple[LinkKind, str, str, str, int]] = {}
    loose: dict[str, tuple[LinkKind, str, str, str, int]] = {}

    def known(kind: LinkKind, url: str, title: str, section: str, slot: int) -> None:
        place = (kind, url, title, section, slot)
        stories.setdefault(url, place)
        if key := loose_url(url):
            loose.setdefault(key, place)

    known("lead", str(edition.lead.url), edition.lead.title, edition.lead.section, 0)
    for shown in edition.sections:
        for slot, teaser in enumerate(shown.teasers, start=1):
            known("teaser", str(teaser.url), teaser.title, shown.name, slot)
    links = []
    for index, href in enumerate(anchor_hrefs(html)):
        place = stories.get(href) or loose.get(loose_url(href))
        if place is None:
            links.append(EditionLink(index, href, "other"))
        else:
            kind, story, title, section, slot = place
            links.append(EditionLink(index, href, kind, story, title, section, slot))
    return tuple(links)


def link_for(links: tuple[EditionLink, ...], url: str) -> EditionLink | None:
    """The first of ``links`` whose URL is ``url`` (as written, else canonically), or None.

    A click a provider reports names the URL it followed, not the link's index: the first
    link to it stands for all of them (a story's title, picture and button lead to one URL).
    """
    for link in links:
        if link.url == url:
            return link
    wanted = loose_url(url)
    if not wanted:
        return None
    return next((link for link in links if loose_url(link.url) == wanted), None)
