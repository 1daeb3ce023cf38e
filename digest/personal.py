"""Personalisation: render each variant of an edition once, then fill in each reader.

Readers who chose the same sections share a *variant*. A variant is rendered, compiled and
inlined once with placeholders for the reader's values; each reader's HTML, text and complete
message bytes are then made by joining pre-rendered (and pre-encoded) pieces with the reader's
values, escaped for where they stand. The result is the same as rendering that reader from
scratch (``Mailing.from_scratch``); the tests hold the two to byte identity.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from email.message import EmailMessage
from itertools import islice
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from .errors import RenderError
from .inline import inline_css
from .message import build_message, fold_header, message_fields, quoted_printable
from .models import Newsletter, Reader
from .pipeline import Digest
from .render import Renderer, RenderOptions
from .select import Edition

__all__ = ["Mailing", "ReaderMessage", "unsubscribe_url_for"]

_TOKEN = re.compile(r"@@r\.([A-Za-z0-9_.]+)@@")
_VARIANTS_KEPT = 64
Where = Literal["text", "attribute", "raw"]


def unsubscribe_url_for(reader: Reader, newsletter: Newsletter) -> str | None:
    """The reader's unsubscribe link: their own, or the newsletter's with their token."""
    if reader.unsubscribe_url:
        return reader.unsubscribe_url
    base = newsletter.unsubscribe_url
    if base is None or reader.unsubscribe_token is None:
        return base
    if "{token}" in base:
        return base.replace("{token}", reader.unsubscribe_token)
    parts = urlsplit(base)
    query = (
        parts.query + ("&" if parts.query else "") + urlencode({"token": reader.unsubscribe_token})
    )
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class _FieldTokens(dict[str, str]):
    """``reader.fields.ANY`` in a template: a placeholder for whatever field it names."""

    def __missing__(self, key: str) -> str:
        return f"@@r.fields.{key}@@"


def _tokens() -> dict[str, Any]:
    return {
        "name": "@@r.name@@",
        "address": "@@r.address@@",
        "unsubscribe_url": "@@r.unsubscribe_url@@",
        "fields": _FieldTokens(),
    }


def _values(reader: Reader, newsletter: Newsletter) -> dict[str, str]:
    values = {
        "name": reader.name or "",
        "address": reader.address,
        "unsubscribe_url": unsubscribe_url_for(reader, newsletter) or "",
    }
    values.update({f"fields.{key}": value for key, value in reader.fields.items()})
    return values


def _escape(value: str, where: Where) -> str:
    """Escape as lxml writes it after premailer: text escapes &<>, attributes also quotes."""
    if where == "raw":
        return value
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace('"', "&quot;") if where == "attribute" else value


@dataclass(frozen=True)
class _Split:
    """A pre-rendered part cut at its placeholders."""

    pieces: tuple[str, ...]
    keys: tuple[str, ...]
    places: tuple[Where, ...]
    encoded: tuple[bytes, ...]

    @classmethod
    def of(cls, rendered: str, markup: bool) -> _Split:
        pieces, keys, places = [], [], []
        start = 0
        for match in _TOKEN.finditer(rendered):
            before = rendered[start : match.start()]
            pieces.append(before)
            keys.append(match.group(1))
            place: Where = "raw"
            if markup:
                # Inside a tag when the last "<" before the placeholder is after the last ">".
                place = (
                    "attribute"
                    if rendered.rfind("<", 0, match.start()) > rendered.rfind(">", 0, match.start())
                    else "text"
                )
            places.append(place)
            start = match.end()
        pieces.append(rendered[start:])
        return cls(
            tuple(pieces), tuple(keys), tuple(places), tuple(quoted_printable(p) for p in pieces)
        )

    def fill(self, values: Mapping[str, str]) -> str:
        out = [self.pieces[0]]
        for key, place, piece in zip(self.keys, self.places, self.pieces[1:], strict=True):
            out += (_escape(values.get(key, ""), place), piece)
        return "".join(out)

    def fill_encoded(self, values: Mapping[str, str]) -> bytes:
        out = [self.encoded[0]]
        for key, place, piece in zip(self.keys, self.places, self.encoded[1:], strict=True):
            out += (quoted_printable(_escape(values.get(key, ""), place)), piece)
        return b"".join(out)

    def quotes_in_attributes(self, values: Mapping[str, str]) -> bool:
        """Whether a value with a quote mark goes into an attribute.

        lxml picks an attribute's quote character from its value, which filling in cannot
        follow: such a reader is rendered from scratch.
        """
        return any(
            place == "attribute" and ('"' in values.get(key, "") or "'" in values.get(key, ""))
            for key, place in zip(self.keys, self.places, strict=True)
        )


@dataclass(frozen=True)
class _Variant:
    edition: Edition
    subject: _Split
    html: _Split
    text: _Split
    boundary: str
    #: The folded Subject line, when no reader value is in it.
    subject_line: bytes | None


@dataclass(frozen=True)
class ReaderMessage:
    """One reader's complete message, as RFC 5322 bytes."""

    reader: Reader
    data: bytes


class Mailing:
    """Personalised copies of one edition for many readers."""

    def __init__(self, digest: Digest, options: RenderOptions | None = None) -> None:
        """Prepare to personalise ``digest``; variants render with its own options by default."""
        self.digest = digest
        self.options = options or digest.options
        self._renderer: Renderer | None = None
        self._variants: OrderedDict[tuple[str, ...] | None, _Variant] = OrderedDict()
        self._head: dict[str, bytes] | None = None
        #: Identifies the edition and options, for the caches of worker processes.
        self.key = hashlib.sha256(digest.html.encode() + repr(self.options).encode()).hexdigest()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the renderer and the variants; a worker process makes its own."""
        return {"digest": self.digest, "options": self.options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled mailing."""
        self.__init__(state["digest"], state["options"])  # type: ignore[misc]

    @property
    def renderer(self) -> Renderer:
        """The renderer of the variants, made when first needed."""
        if self._renderer is None:
            self._renderer = Renderer(self.options)
        return self._renderer

    def edition_for(self, reader: Reader) -> Edition:
        """The edition as this reader gets it: the lead, and the sections they chose."""
        edition = self.digest.edition
        if reader.sections is None:
            return edition
        chosen = {name.casefold() for name in reader.sections}
        return edition.model_copy(
            update={
                "sections": tuple(s for s in edition.sections if s.name.casefold() in chosen),
            }
        )

    def _variant(self, reader: Reader) -> _Variant:
        key = (
            None
            if reader.sections is None
            else tuple(sorted(s.casefold() for s in reader.sections))
        )
        variant = self._variants.get(key)
        if variant is not None:
            self._variants.move_to_end(key)
            return variant
        edition = self.edition_for(reader)
        newsletter = self.digest.newsletter
        rendered = self.renderer.render(edition, newsletter, reader=_tokens())
        html = inline_css(rendered.html, newsletter.inliner)
        digest_key = hashlib.sha256(repr(key).encode() + html.encode()).hexdigest()[:20]
        subject = _Split.of(rendered.subject, markup=False)
        variant = _Variant(
            edition,
            subject,
            _Split.of(html, markup=True),
            _Split.of(rendered.text, markup=False),
            boundary=f"=_digest_{digest_key}",
            subject_line=None if subject.keys else fold_header("Subject", rendered.subject),
        )
        if not variant.html.keys and newsletter.unsubscribe_url:
            raise RenderError(
                "the template shows no reader placeholder: personalised copies "
                "need {{ reader.unsubscribe_url }} in the footer"
            )
        self._variants[key] = variant
        if len(self._variants) > _VARIANTS_KEPT:
            self._variants.popitem(last=False)
        return variant

    def render(self, reader: Reader) -> tuple[str, str, str]:
        """The reader's subject, HTML and text, by filling in the variant."""
        variant = self._variant(reader)
        values = _values(reader, self.digest.newsletter)
        if variant.html.quotes_in_attributes(values):
            return self.from_scratch(reader)
        return variant.subject.fill(values), variant.html.fill(values), variant.text.fill(values)

    def from_scratch(self, reader: Reader) -> tuple[str, str, str]:
        """The reader's subject, HTML and text, rendered with their values from the start."""
        rendered = self.renderer.render(
            self.edition_for(reader),
            self.digest.newsletter,
            reader=_ScratchValues(_values(reader, self.digest.newsletter)),
        )
        html = inline_css(rendered.html, self.digest.newsletter.inliner)
        return rendered.subject, html, rendered.text

    def _message_id(self, reader: Reader, subject: str) -> str:
        domain = self.digest.newsletter.sender.address.rsplit("@", 1)[1]
        who = hashlib.sha256(reader.address.encode()).hexdigest()[:12]
        what = hashlib.sha256(subject.encode()).hexdigest()[:8]
        return f"<digest.{self.digest.sent_at:%Y%m%d}.{what}.{who}@{domain}>"

    def message(self, reader: Reader) -> EmailMessage:
        """The reader's message built with the ``email`` package (the reference path)."""
        subject, html, text = self.render(reader)
        return build_message(
            newsletter=self.digest.newsletter,
            subject=subject,
            html=html,
            text=text,
            sent_at=self.digest.sent_at,
            to=[reader.address],
            unsubscribe_url=unsubscribe_url_for(reader, self.digest.newsletter),
            message_id=self._message_id(reader, subject),
        )

    def _static_head(self) -> dict[str, bytes]:
        """The header lines every reader's copy shares, folded once."""
        if self._head is None:
            newsletter = self.digest.newsletter
            fields = message_fields(
                newsletter=newsletter, subject="", html="", text="", sent_at=self.digest.sent_at
            )
            fold = fold_header
            self._head = {
                "From": fold("From", fields["from"]),
                "Reply-To": fold("Reply-To", fields["reply_to"]) if "reply_to" in fields else b"",
                "Date": fold("Date", fields["date"]),
                "Post": fold("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                "domain": newsletter.sender.address.rsplit("@", 1)[1].encode(),
            }
        return self._head

    def message_bytes(self, reader: Reader) -> bytes:
        """The reader's complete message, assembled from pre-encoded parts.

        Parses into the same headers and parts as ``message(reader)``; only the MIME boundary
        differs.
        """
        variant = self._variant(reader)
        values = _values(reader, self.digest.newsletter)
        if variant.html.quotes_in_attributes(values):
            return self.message(reader).as_bytes()
        head = self._static_head()
        subject = variant.subject.fill(values)
        unsubscribe = values["unsubscribe_url"]
        boundary = variant.boundary.encode()
        part = (
            b'Content-Type: text/%s; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        return b"".join(
            [
                head["From"],
                # Reader addresses are checked (and IDNA-encoded) by the model: plain ASCII.
                b"To: ",
                reader.address.encode(),
                b"\r\n",
                head["Reply-To"],
                variant.subject_line
                if variant.subject_line is not None
                else fold_header("Subject", subject),
                head["Date"],
                b"Message-ID: ",
                self._message_id(reader, subject).encode(),
                b"\r\n",
                *(
                    (b"List-Unsubscribe: <", unsubscribe.encode(), b">\r\n", head["Post"])
                    if unsubscribe
                    else ()
                ),
                b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="',
                boundary,
                b'"\r\n\r\n--',
                boundary,
                b"\r\n",
                part % b"plain",
                variant.text.fill_encoded(values),
                b"\r\n--",
                boundary,
                b"\r\n",
                part % b"html",
                variant.html.fill_encoded(values),
                b"\r\n--",
                boundary,
                b"--\r\n",
            ]
        )

    def messages(
        self, readers: Iterable[Reader], executor: Executor | None = None, chunk: int = 1000
    ) -> Iterator[ReaderMessage]:
        """Each reader's message, in order, holding only a few chunks in memory at once.

        With an ``executor`` (a process pool, or a Dask ``distributed`` client's executor),
        chunks of readers are made in parallel.
        """
        if executor is None:
            for reader in readers:
                yield ReaderMessage(reader, self.message_bytes(reader))
            return
        pending: list[Future[list[ReaderMessage]]] = []
        workers = max(2, getattr(executor, "_max_workers", 2))
        remaining = iter(readers)
        batches = iter(lambda: list(islice(remaining, chunk)), [])
        for batch in batches:
            pending.append(executor.submit(_make_messages, self, batch))
            if len(pending) >= 2 * workers:
                yield from pending.pop(0).result()
        for future in pending:
            yield from future.result()


class _ScratchValues(dict[str, Any]):
    """The reader as templates see it when rendered from scratch (fields as a mapping)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        fields = {
            k.removeprefix("fields."): v for k, v in values.items() if k.startswith("fields.")
        }
        super().__init__(
            {k: v for k, v in values.items() if not k.startswith("fields.")},
            fields=_EmptyDefault(fields),
        )


class _EmptyDefault(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


# A worker process keeps the few mailings it was sent, with their rendered variants, so that
# every chunk after the first skips rendering. A cache local to each worker, not shared state.
_WORKER_MAILINGS: OrderedDict[str, Mailing] = OrderedDict()


def _make_messages(mailing: Mailing, readers: list[Reader]) -> list[ReaderMessage]:
    kept = _WORKER_MAILINGS.setdefault(mailing.key, mailing)
    _WORKER_MAILINGS.move_to_end(mailing.key)
    while len(_WORKER_MAILINGS) > 4:
        _WORKER_MAILINGS.popitem(last=False)
    return [ReaderMessage(reader, kept.message_bytes(reader)) for reader in readers]
