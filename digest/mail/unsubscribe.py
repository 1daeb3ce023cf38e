"""Unsubscribe links in one place: each reader's own link, and the List-Unsubscribe URIs.

A reader's link is their own (``Reader.unsubscribe_url``), or the newsletter's with their
token put in (as ``{token}``, or as a ``token`` parameter). ``UnsubscribeLinks`` cuts the
newsletter's link once where every token goes, so a list of a million readers costs one cut.
A built ``.eml`` keeps ``{token}`` (``EML_STAND_IN``) where each reader's token goes when it
is sent (``digest.delivery.eml``).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode, urlsplit, urlunsplit

from digest.mail.mime import header_uri
from digest.models import Newsletter, Reader

__all__ = [
    "EML_HEADER_STAND_IN",
    "EML_STAND_IN",
    "STAND_IN",
    "UnsubscribeLinks",
    "one_click",
    "unsubscribe_uris",
    "unsubscribe_url_for",
]


#: A token that stands in for every reader's while a link or a plan is cut. Tokens are
#: letters, digits and ._~- (the model's pattern), which URL encoding leaves as they are: a
#: link is the same text, cut where the stand-in went, with the real token put there.
STAND_IN = "digesttokenstandin"

#: What a built ``.eml`` holds where each reader's token goes, in its bodies and its header.
EML_STAND_IN = "{token}"
EML_HEADER_STAND_IN = b"%7Btoken%7D"


def _query_link(base: str, token: str) -> str:
    parts = urlsplit(base)
    query = parts.query + ("&" if parts.query else "") + urlencode({"token": token})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _token_place(base: str) -> tuple[str, str] | None:
    """``base`` with a ``token`` parameter, cut where its value goes (None: do it each time)."""
    if STAND_IN in base:
        return None
    before, _, after = _query_link(base, STAND_IN).partition(STAND_IN)
    return before, after


def _link(base: str, token: str, place: tuple[str, str] | None) -> str:
    """``base`` with ``token`` put in: as ``{token}``, or as a ``token`` parameter."""
    if "{token}" in base:
        return base.replace("{token}", token)
    return _query_link(base, token) if place is None else place[0] + token + place[1]


def one_click(uris: Sequence[str]) -> bool:
    """Whether List-Unsubscribe offers a one-click (RFC 8058) link: an https URI first."""
    return bool(uris) and uris[0].startswith("https:")


def unsubscribe_uris(
    newsletter: Newsletter, url: str | None, *, encoded: bool = False
) -> list[str]:
    """The List-Unsubscribe URIs: one https link (``url`` or the newsletter's), one mailto.

    ``encoded`` says ``url`` was made by ``header_uri`` already.
    """
    uris = []
    link = url or newsletter.contact.unsubscribe_url
    if link:
        uris.append(link if encoded and url else header_uri(link))
    if newsletter.contact.unsubscribe_mailto:
        uris.append(f"mailto:{newsletter.contact.unsubscribe_mailto}?subject=unsubscribe")
    return uris


class UnsubscribeLinks:
    """A newsletter's unsubscribe links, its link cut once where each reader's token goes."""

    def __init__(self, newsletter: Newsletter) -> None:
        """Cut ``newsletter``'s unsubscribe link where a token goes (in a link, in a URI)."""
        self.newsletter = newsletter
        self.base = newsletter.contact.unsubscribe_url
        self._place = _token_place(self.base) if self.base else None
        self.uri_place = self._uri_place()

    def _uri_place(self) -> tuple[str, str] | None:
        """The List-Unsubscribe URI of the link with a token, cut where the token goes.

        None when that cannot be exact: the token would stand in the host (which is
        lowercased) or more than once.
        """
        if not self.base or STAND_IN in self.base:
            return None
        url = _link(self.base, STAND_IN, self._place)
        if url.count(STAND_IN) != 1 or STAND_IN in urlsplit(url).netloc:
            return None
        encoded = header_uri(url)
        if encoded.count(STAND_IN) != 1:
            return None
        head, _, tail = encoded.partition(STAND_IN)
        return head, tail

    def url_for(self, reader: Reader) -> str | None:
        """The reader's unsubscribe link: their own, or the newsletter's with their token."""
        if reader.unsubscribe_url:
            return reader.unsubscribe_url
        if self.base is None or reader.unsubscribe_token is None:
            return self.base
        return _link(self.base, reader.unsubscribe_token, self._place)

    def preferences_for(self, reader: Reader) -> str | None:
        """The reader's preferences page: the newsletter's with their token (None without one)."""
        page = self.newsletter.contact.preferences_url
        if page is None or reader.unsubscribe_token is None:
            return None
        return page.replace("{token}", reader.unsubscribe_token)

    def uris_for(self, reader: Reader, url: str | None) -> list[str]:
        """The reader's List-Unsubscribe URIs (``url``: their link); a token goes in a cut URI."""
        token = reader.unsubscribe_token
        if self.uri_place is not None and token and not reader.unsubscribe_url:
            place = self.uri_place
            return unsubscribe_uris(self.newsletter, place[0] + token + place[1], encoded=True)
        return unsubscribe_uris(self.newsletter, url or None)


def unsubscribe_url_for(reader: Reader, newsletter: Newsletter) -> str | None:
    """The reader's unsubscribe link: their own, or the newsletter's with their token."""
    return UnsubscribeLinks(newsletter).url_for(reader)
