"""The web archive's Atom feed (RFC 4287) of past editions: subject, date, number, link.

An entry's ``id`` is a ``urn:uuid`` made from the newsletter's name and the edition's date, so
it stays the same across rebuilds and when the archive moves (a renamed newsletter gives new
ids). With ``[newsletter.links] archive_url`` every link is absolute and the feed names its own
address (``rel="self"``); without it the links are relative (``2026-11-16.html``), which a feed
reader resolves against the feed's own address, the archive folder the pages sit in.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from babel import Locale
from lxml import etree

from digest.labels import labels_for
from digest.render.context import language_tag
from digest.settings import Newsletter
from digest.text import one_line_text

__all__ = ["FEED_FILE", "ArchivedEdition", "archive_feed", "edition_page"]

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
#: The feed's file name in the archive folder, beside ``index.html``.
FEED_FILE = "feed.xml"


@dataclass(frozen=True)
class ArchivedEdition:
    """One edition as the archive lists it."""

    date: date
    subject: str
    number: int | None = None


def edition_page(day: date) -> str:
    """The file name of an edition's page in the archive folder."""
    return f"{day.isoformat()}.html"


def _entry_id(newsletter: Newsletter, day: date) -> str:
    """A stable id for an edition: the same name and date give the same id on every build."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"digest:{newsletter.name}:{day.isoformat()}").urn


def _sent_at(newsletter: Newsletter, day: date) -> str:
    """An edition's date at the newsletter's send time, as RFC 3339."""
    return datetime.combine(day, newsletter.schedule.send_time, newsletter.zone).isoformat()


def _element(
    parent: etree._Element, tag: str, text: str | None = None, **attrs: str
) -> etree._Element:
    """Add an Atom element under ``parent``."""
    child = etree.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    child.text = text
    return child


def archive_feed(newsletter: Newsletter, editions: Sequence[ArchivedEdition]) -> bytes:
    """The archive's Atom feed of ``editions``, newest first, as UTF-8 XML."""
    listed = sorted(editions, key=lambda e: e.date, reverse=True)
    labels = labels_for(newsletter.locale, newsletter.labels)
    base = newsletter.links.archive_url
    base = None if base is None else base.rstrip("/") + "/"
    name = one_line_text(newsletter.name)
    lang = language_tag(Locale.parse(newsletter.locale))
    feed = etree.Element(f"{{{ATOM}}}feed", {XML_LANG: lang}, nsmap={None: ATOM})
    _element(feed, "title", f"{name}: {labels['archive']}")
    if newsletter.tagline:
        _element(feed, "subtitle", one_line_text(newsletter.tagline))
    _element(feed, "id", uuid.uuid5(uuid.NAMESPACE_URL, f"digest:{newsletter.name}").urn)
    newest = listed[0].date if listed else date(1970, 1, 1)
    _element(feed, "updated", _sent_at(newsletter, newest))
    author = _element(feed, "author")
    _element(author, "name", name)
    if newsletter.url is not None:
        _element(author, "uri", newsletter.url)
    _element(feed, "link", rel="alternate", type="text/html", href=f"{base or ''}index.html")
    if base is not None:
        _element(feed, "link", rel="self", type="application/atom+xml", href=base + FEED_FILE)
    _element(feed, "generator", "digest")
    for edition in listed:
        entry = _element(feed, "entry")
        _element(entry, "title", one_line_text(edition.subject))
        _element(entry, "id", _entry_id(newsletter, edition.date))
        when = _sent_at(newsletter, edition.date)
        _element(entry, "published", when)
        _element(entry, "updated", when)
        page = f"{base or ''}{edition_page(edition.date)}"
        _element(entry, "link", rel="alternate", type="text/html", href=page)
        if edition.number is not None:
            number = labels["edition_number"].replace("{number}", str(edition.number))
            _element(entry, "summary", number)
    etree.indent(feed)
    written: bytes = etree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return written + b"\n"
