"""Click and open tracking of our own: each reader's links signed, to ``digest serve``.

With ``[tracking] clicks = true``, every link of a reader's copy that leads to the web
(not the unsubscribe or preferences link, not ``mailto:``) becomes
``https://HOST/c/TOKEN``; ``digest serve`` (``digest.web.tracking``) records the click and
redirects to the link the token names. A link is known by its **index**: the n-th ``<a
href>`` of the edition's HTML in document order, as ``html.parser`` reads it (comments not
read), the index of ``digest.link_map``. A variant that shows fewer sections has fewer links:
each of its links takes the index of the edition's link to the same URL, the k-th of them for
its k-th link to that URL.

A token is ``EDITION.SENT.INDEX.ADDRESS.TAG``: the edition's number, the moment the copy was
made (seconds since 1970, base 36: link scanners click within seconds of it), the link's
index (``o`` for the open pixel), the reader's address (base64url) and 72 bits of
HMAC-SHA512 over all of them with the newsletter's unsubscribe secret
(``DIGEST_UNSUBSCRIBE_SECRET``), its list id and a purpose of its own. One HMAC signs seven
links of a copy (a block of 63 bytes, 9 a link), so a copy of 12 links costs two.
Nobody without the secret makes a token, or turns one link's into another's.

A reader whose field ``tracking`` is ``off`` (or ``no``, ``false``, ``0``) gets the links
as they are and no pixel.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape as html_escape
from html.parser import HTMLParser

from pydantic import BaseModel, ConfigDict, Field, model_validator

from digest.addresses import address_key
from digest.environment import secret_variable
from digest.errors import ConfigError
from digest.link_map import anchor_hrefs
from digest.mail.mime import quoted_printable
from digest.mail.placeholders import Split, Where, escape
from digest.models import Newsletter, Reader
from digest.suppression.tokens import SECRET_VARIABLE, signing_key

__all__ = [
    "OPEN",
    "OPT_OUT_FIELD",
    "TRACKED",
    "Click",
    "LinkTokens",
    "TrackedLinks",
    "TrackedSplit",
    "TrackingSettings",
    "edition_hrefs",
    "edition_number",
    "link_spans",
    "newsletter_links",
    "opted_out",
    "own_links",
    "track_split",
    "tracked_html",
]


#: The key of a reader's values that holds their tracked URLs, one a line, in the part's
#: order (none: their links as they are).
TRACKED = "@tracked"

#: The index of the open pixel in a token.
OPEN = -1

#: The reader field that turns tracking off for them (``off``, ``no``, ``false`` or ``0``).
OPT_OUT_FIELD = "tracking"
_OFF = frozenset({"off", "no", "false", "0"})

_PER_BLOCK = 7  # 9-byte tags in the 64 bytes of one HMAC-SHA512
_TAG = 9
_MAX_TOKEN = 500
_MAX_INDEX = 10_000
_BASE_URL = re.compile(r"https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/-]*)?")
_EDITION_NUMBER = re.compile(r" #([0-9]{1,9})\Z")
_PIXEL = (
    '<img src="{src}" width="1" height="1" alt=""'
    ' style="display:block;border:0;width:1px;height:1px">'
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def opted_out(reader: Reader | Mapping[str, str]) -> bool:
    """Whether ``reader`` (or their fields) said no to tracking: the ``tracking`` field ``off``."""
    fields = reader.fields if isinstance(reader, Reader) else reader
    value = fields.get(OPT_OUT_FIELD)
    return value is not None and value.strip().lower() in _OFF


def edition_number(edition_key: str) -> int | None:
    """The number an edition key (``Name 2020-06-02 #12``) names, or None without one."""
    found = _EDITION_NUMBER.search(edition_key)
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Click:
    """What a valid token names: an edition, the moment its copy was made, a link, a reader."""

    edition: int
    #: When the copy was made (seconds since 1970).
    sent: int
    #: The link's index in the edition (``OPEN`` for the open pixel).
    index: int
    address: str


class LinkTokens:
    """Make and check the tokens of one newsletter's tracked links and open pixels."""

    def __init__(
        self,
        secret: str | bytes,
        list_id: str,
        base_url: str,
        *,
        opens: bool = False,
        clicks: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Sign with ``secret`` for ``list_id``; links point at ``base_url`` (``digest serve``)."""
        self._key = signing_key(secret)
        base = base_url.rstrip("/")
        if not _BASE_URL.fullmatch(base):
            raise ConfigError(
                f"tracking.base_url: an https address of digest serve, letters, digits and "
                f"-._~/ only (https://news.example.org), not {base_url[:100]!r}"
            )
        self.list_id = list_id
        self.base_url = base
        self.opens = opens
        self.clicks = clicks
        self.clock = clock
        self._purpose = f"digest-click\0{list_id}\0".encode()
        self._keyed()

    def _keyed(self) -> None:
        """HMAC's two keyed states, made once: each block copies them (RFC 2104)."""
        key = self._key if len(self._key) <= 128 else hashlib.sha512(self._key).digest()
        key = key.ljust(128, b"\0")
        self._inner = hashlib.sha512(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha512(bytes(b ^ 0x5C for b in key))

    def __getstate__(self) -> dict[str, object]:
        """Pickle without the keyed states (a worker process makes them again)."""
        return {k: v for k, v in vars(self).items() if k not in ("_inner", "_outer")}

    def __setstate__(self, state: dict[str, object]) -> None:
        """Restore pickled tokens."""
        vars(self).update(state)
        self._keyed()

    def __repr__(self) -> str:
        """The base URL and what is tracked; never the secret."""
        return f"LinkTokens({self.base_url!r}, clicks={self.clicks}, opens={self.opens})"

    @property
    def fingerprint(self) -> str:
        """What tells these tokens apart from others (the secret's, never the secret)."""
        mac = hmac.digest(self._key, self._purpose + b"fingerprint", "sha256")
        return f"{self.base_url} clicks={self.clicks} opens={self.opens} {_b64(mac[:9])}"

    def _block(self, head: str, block: str) -> bytes:
        """HMAC-SHA512 of the purpose, ``head`` and ``block`` (``hmac.digest``, keyed once)."""
        inner = self._inner.copy()
        inner.update(self._purpose + f"{head}\0{block}".encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def _tag(self, head: str, index: int, blocks: dict[int, str]) -> str:
        """An index's tag (base64url, 12 characters), one HMAC per block of seven links."""
        if index == OPEN:
            return _b64(self._block(head, "o")[:_TAG])
        number, place = divmod(index, _PER_BLOCK)
        text = blocks.get(number)
        if text is None:
            text = blocks[number] = _b64(self._block(head, str(number))[: _PER_BLOCK * _TAG])
        return text[place * 12 : place * 12 + 12]

    def _tags(self, head: str, indices: Sequence[int]) -> str:
        """The blocks of ``indices`` as base64url, end to end: index i's tag at 12 * i."""
        last = max(indices) // _PER_BLOCK if indices else -1
        needed = {index // _PER_BLOCK for index in indices}
        return "".join(
            _b64(self._block(head, str(n))[: _PER_BLOCK * _TAG]) if n in needed else "-" * 84
            for n in range(last + 1)
        )

    def urls(
        self, edition: int, address: str, indices: Sequence[int], pixel: bool = False
    ) -> tuple[list[str], str]:
        """One copy's tracked URL of each of ``indices``, and its pixel's ("" without one)."""
        sent = _base36(int(self.clock()))
        key = address_key(address)
        head = f"{edition}\0{sent}\0{key}"
        who = _b64(key.encode("utf-8"))
        start = f"{self.base_url}/c/{edition}.{sent}."
        tags = self._tags(head, indices)
        links = [f"{start}{i}.{who}.{tags[12 * i : 12 * i + 12]}" for i in indices]
        if not pixel:
            return links, ""
        return links, f"{self.base_url}/o/{edition}.{sent}.o.{who}.{self._tag(head, OPEN, {})}.gif"

    def read(self, token: str) -> Click | None:
        """What ``token`` names, or None when it is not one of these tokens."""
        if len(token) > _MAX_TOKEN or not token.isascii():
            return None
        parts = token.split(".")
        if len(parts) != 5:
            return None
        edition, sent, index, who, tag = parts
        if not (edition.isdigit() and len(edition) <= 9 and sent.isalnum() and len(sent) <= 8):
            return None
        if index == "o":
            number = OPEN
        elif index.isdigit() and len(index) <= 5 and int(index) < _MAX_INDEX:
            number = int(index)
        else:
            return None
        try:
            key = _unb64(who).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        # One spelling of each part: no other token names the same click.
        if "@" not in key or key != address_key(key) or _b64(key.encode("utf-8")) != who:
            return None
        if str(int(edition)) != edition or (number != OPEN and str(number) != index):
            return None
        head = f"{int(edition)}\0{sent}\0{key}"
        expected = self._tag(head, number, {})
        if not hmac.compare_digest(expected, tag) or sent != _base36(int(sent, 36)):
            return None
        return Click(int(edition), int(sent, 36), number, key)


class TrackingSettings(BaseModel):
    """Click and open tracking of our own, through ``digest serve`` (``[tracking]``).

    Off by default. What is kept, and for how long, is on the privacy page of the docs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Whether each reader's links lead through ``digest serve``, which records the click and
    #: redirects at once (``https://HOST/c/TOKEN``).
    clicks: bool = False
    #: Whether each copy carries a 1x1 picture that records an open (``/o/TOKEN.gif``):
    #: unreliable since Apple Mail Privacy Protection loads every picture.
    opens: bool = False
    #: The https address ``digest serve`` answers at, such as ``https://news.example.org``.
    base_url: str | None = Field(default=None, max_length=200)
    #: How many days click and open events are kept; ``digest serve`` forgets older ones.
    keep_days: int = Field(default=180, ge=1, le=3650)
    #: A click (or open) within this many seconds of the copy being sent is a link scanner's
    #: (recorded with ``detail = "scanner"``), as are several links of a copy in one second.
    scanner_seconds: float = Field(default=60, ge=0, le=3600)

    @model_validator(mode="after")
    def _needs_base_url(self) -> TrackingSettings:
        """Tracking needs the address of ``digest serve``; one that is https, plain ASCII."""
        if self.base_url is not None and not _BASE_URL.fullmatch(self.base_url.rstrip("/")):
            raise ValueError(
                "base_url: an https address of digest serve, letters, digits and -._~/ only "
                f"(https://news.example.org), not {self.base_url[:100]!r}"
            )
        if (self.clicks or self.opens) and self.base_url is None:
            raise ValueError(
                "base_url: tracking clicks or opens needs the https address of digest serve "
                '(base_url = "https://news.example.org")'
            )
        return self

    @property
    def on(self) -> bool:
        """Whether clicks or opens are tracked."""
        return self.clicks or self.opens

    def tokens(self, list_id: str, environ: Mapping[str, str] | None = None) -> LinkTokens | None:
        """The link tokens, signed with ``DIGEST_UNSUBSCRIBE_SECRET``; None when tracking is off.

        A ``ConfigError`` when tracking is on and the secret is not set.
        """
        if not self.on or self.base_url is None:
            return None
        secret = secret_variable(SECRET_VARIABLE, environ)
        if not secret:
            raise ConfigError(
                f"tracking: tracked links are signed with the unsubscribe secret: set "
                f"{SECRET_VARIABLE} (or set [tracking] clicks and opens to false)"
            )
        return LinkTokens(secret, list_id, self.base_url, opens=self.opens, clicks=self.clicks)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def own_links(base_url: str, *links: str | None) -> tuple[str, ...]:
    """The starts of links never tracked: ``digest serve``'s own pages, and ``links``.

    ``links`` are the unsubscribe and preferences links, with ``{token}`` (or its
    percent-encoded form in a header) where a reader's token goes: what comes before it.
    """
    starts = [base_url.rstrip("/") + "/"]
    for link in links:
        if link:
            starts.append(link.split("{token}")[0].split("%7Btoken%7D")[0])
    return tuple(starts)


def newsletter_links(newsletter: Newsletter, base_url: str) -> tuple[str, ...]:
    """``own_links`` of a newsletter: its unsubscribe and preferences links."""
    contact = newsletter.contact
    return own_links(base_url, contact.unsubscribe_url, contact.preferences_url)


def _tracked(url: str, own: Sequence[str]) -> bool:
    """Whether a link is followed through ``digest serve``: the web, not a reader's own page."""
    lower = url.strip().lower()
    if not lower.startswith(("https://", "http://")) or "{token}" in url or "@@" in url:
        return False
    return not any(url.startswith(start) for start in own)


class _Anchors(HTMLParser):
    """Each ``<a>`` start tag with an ``href``: its place in the text and the value."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, int, str, str]] = []  # line, column, tag text, href

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        for name, value in attrs:
            if name == "href":
                line, column = self.getpos()
                self.found.append((line, column, self.get_starttag_text() or "", value or ""))
                return

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


_HREF = re.compile(r"""\shref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE)


def _anchors(html: str) -> list[tuple[int, int, str]]:
    """Each ``<a href>``: the start and end of its value in ``html``, and the value."""
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    starts = [0]
    starts += [m.end() for m in re.finditer("\n", html)]
    spans = []
    for line, column, text, href in parser.found:
        at = starts[line - 1] + column
        found = _HREF.search(text)
        if found is None or html[at : at + len(text)] != text:
            continue
        group = next(g for g in (1, 2, 3) if found.group(g) is not None)
        spans.append((at + found.start(group), at + found.end(group), href))
    return spans


def edition_hrefs(html: str) -> tuple[str, ...]:
    """The ``href`` of every ``<a>`` of ``html`` in document order: link ``n`` is item ``n``.

    The links as ``digest.link_map`` counts them, which the history records at build time.
    """
    return tuple(anchor_hrefs(html))


def link_spans(html: str, edition: Sequence[str], own: Sequence[str]) -> list[tuple[int, int, int]]:
    """The links of ``html`` to track: each value's start and end, and its index in ``edition``.

    ``edition`` is the edition's ``href``s in document order; the k-th link of ``html`` to a
    URL takes the index of the edition's k-th link to it (a link the edition has not is left).
    """
    places: dict[str, list[int]] = {}
    for index, href in enumerate(edition):
        places.setdefault(href, []).append(index)
    seen: dict[str, int] = {}
    spans = []
    for start, end, href in _anchors(html):
        if not _tracked(href, own):
            continue
        nth = seen.get(href, 0)
        seen[href] = nth + 1
        indices = places.get(href, [])
        if nth < len(indices):
            spans.append((start, end, indices[nth]))
    return spans


def _pixel_place(html: str) -> int:
    """Where the open pixel goes: before ``</body>``, or at the end."""
    found = html.lower().rfind("</body>")
    return found if found >= 0 else len(html)


@dataclass(frozen=True)
class TrackedLinks:
    """A rendered part's tracked links: where each reader's own URLs go, and the originals."""

    #: The edition's index of each tracked link, in the part's order.
    indices: tuple[int, ...]
    #: What each place holds untracked (the link as written; "" for the pixel), by key.
    originals: Mapping[str, str]
    #: Whether the part has a place for the open pixel (key ``open``).
    pixel: bool

    def values(
        self, tokens: LinkTokens, edition: int, reader: Reader | str, into: dict[str, str]
    ) -> None:
        """Put the reader's tracked URLs (or, opted out, the originals) into ``into``."""
        if not isinstance(reader, str) and opted_out(reader):
            into.update(self.originals)
            return
        address = reader if isinstance(reader, str) else reader.address
        links, pixel = tokens.urls(edition, address, self.indices, self.pixel)
        # One value for all of them, in the part's order (a URL has no line break).
        into[TRACKED] = "\n".join(links)
        if self.pixel:
            into["open"] = _PIXEL.format(src=pixel)


@dataclass(frozen=True)
class TrackedSplit(Split):
    """A rendered HTML part cut at its placeholders and at its tracked links."""

    links: TrackedLinks = TrackedLinks((), {}, False)
    #: Whether each place is a tracked link's (the others are the reader's values, the pixel).
    link_at: tuple[bool, ...] = ()

    def fill(self, values: Mapping[str, str]) -> str:
        """The part with ``values`` filled in, and the reader's tracked links."""
        joined = values.get(TRACKED)
        if not joined:
            return super().fill(values)
        links = iter(joined.split("\n"))
        out = [self.pieces[0]]
        for key, place, piece, link in zip(
            self.keys, self.places, self.pieces[1:], self.link_at, strict=True
        ):
            out += (next(links) if link else escape(values.get(key, ""), place), piece)
        return "".join(out)

    def extend_encoded(
        self, out: list[bytes], values: Mapping[str, str], done: dict[tuple[str, str], bytes]
    ) -> None:
        """Append the encoded pieces and values to ``out``; the tracked URLs encoded at once."""
        joined = values.get(TRACKED)
        if not joined:
            super().extend_encoded(out, values, done)
            return
        links = iter(joined.encode("ascii").split(b"\n"))
        out.append(self.encoded[0])
        for key, place, piece, link in zip(
            self.keys, self.places, self.encoded[1:], self.link_at, strict=True
        ):
            if link:
                out.append(_plain_printable(next(links)))
            else:
                value = done.get((key, place))
                if value is None:
                    value = done[key, place] = quoted_printable(escape(values.get(key, ""), place))
                out.append(value)
            out.append(piece)


def _plain_printable(data: bytes) -> bytes:
    """A tracked URL quoted-printable: it has nothing to escape; lines cut, a dot never first."""
    if len(data) <= 73:
        return data + b"=\r\n"
    if len(data) <= 146 and data[73:74] != b".":  # most: two lines
        return b"%s=\r\n%s=\r\n" % (data[:73], data[73:])
    lines = [data[start : start + 73] for start in range(0, len(data), 73)]
    return b"".join((b"=2E" + line[1:] if line[:1] == b"." else line) + b"=\r\n" for line in lines)


def track_split(
    html: str,
    pattern: re.Pattern[str],
    marker: Callable[[str], str],
    edition: Sequence[str],
    own: Sequence[str],
    pixel: bool,
) -> TrackedSplit:
    """``html`` cut at ``pattern`` and at its tracked links (and the pixel's place).

    ``marker(key)`` is a placeholder ``pattern`` matches with ``key`` as its group 1. The
    links' and the pixel's places are raw: their values are written as they are (a tracked
    URL has no character HTML escapes), and are no reader's values to check.
    """
    spans = link_spans(html, edition, own)
    pieces: list[str] = []
    start = 0
    originals: dict[str, str] = {}
    for begin, end, index in spans:
        key = f"link.{index}"
        pieces += (html[start:begin], marker(key))
        originals[key] = html[begin:end]
        start = end
    rest = html[start:]
    if pixel:
        place = _pixel_place(rest)
        rest = rest[:place] + marker("open") + rest[place:]
        originals["open"] = ""
    marked = "".join(pieces) + rest
    split = Split.of(marked, pattern, markup=True)
    ours = set(originals)
    places: tuple[Where, ...] = tuple(
        "raw" if key in ours else place for key, place in zip(split.keys, split.places, strict=True)
    )
    indices = tuple(index for _, _, index in spans)
    links = {f"link.{index}" for index in indices}
    return TrackedSplit(
        split.pieces,
        split.keys,
        places,
        split.encoded,
        tuple(k for k in split.attribute_keys if k not in ours),
        tuple(k for k in split.url_keys if k not in ours),
        TrackedLinks(indices, originals, pixel),
        tuple(key in links for key in split.keys),
    )


def tracked_html(
    html: str,
    tokens: LinkTokens,
    edition: int,
    hrefs: Sequence[str],
    own: Sequence[str],
    reader: Reader,
) -> str:
    """``html`` (one reader's whole copy) with its links tracked and the pixel put in."""
    if opted_out(reader):
        return html
    spans = link_spans(html, hrefs, own)
    links, pixel = tokens.urls(edition, reader.address, [i for _, _, i in spans], tokens.opens)
    out: list[str] = []
    start = 0
    for (begin, end, _), url in zip(spans, links, strict=True):
        out += (html[start:begin], html_escape(url, quote=True))
        start = end
    rest = html[start:]
    if tokens.opens:
        place = _pixel_place(rest)
        rest = rest[:place] + _PIXEL.format(src=pixel) + rest[place:]
    return "".join(out) + rest
