"""Personalisation: render each variant of an edition once, then fill in each reader.

Readers who chose the same sections share a *variant*. A variant is rendered, compiled and
inlined once with placeholders for the reader's values; each reader's HTML, text and complete
message bytes are then made by joining pre-rendered (and pre-encoded) pieces with the reader's
values, escaped for where they stand. The result is the same as rendering that reader from
scratch (``Copies.from_scratch``); the tests hold the two to byte identity. ``Mailing``
(``digest.delivery.mailing``) adds delivery to these copies.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from email.message import EmailMessage
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from digest.check import check_copy, summarise, url_problem
from digest.edition import Edition
from digest.errors import CheckError, InputError, RenderError
from digest.mail.message import (
    EDITION_HEADER,
    HEADER_ORDER,
    ONE_CLICK_LINE,
    Headers,
    build_message,
    in_order,
    message_bytes,
    message_id,
    one_click,
    unsubscribe_uris,
)
from digest.mail.mime import (
    address_header,
    assemble,
    check_header_block,
    check_header_line,
    frame,
    header_uri,
    id_header,
    one_line,
    quoted_printable,
    text_header,
    uri_list_header,
)
from digest.mail.readers import reader_chunks
from digest.mail.variants import subject_index
from digest.models import Newsletter, Reader
from digest.render.inline import inline_css
from digest.render.renderer import Renderer, RenderOptions
from digest.suppression.tokens import UnsubscribeTokens

if TYPE_CHECKING:
    from digest.pipeline import Digest

__all__ = [
    "Copies",
    "ReaderMessage",
    "kept_in_worker",
    "reader_messages",
    "submit",
    "unsubscribe_url_for",
]


_VARIANTS_KEPT = 64


#: The labels of subject variants, in the ledger and the report.
SUBJECT_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


_VariantKey = tuple[tuple[str, ...] | None, frozenset[str], tuple[str, ...], int]


Where = Literal["text", "attribute", "raw"]

_T = TypeVar("_T")


# A value placed in an attribute is filled in only when it holds nothing an HTML serialiser
# might encode there (libxml2 percent-encodes spaces and non-ASCII in links); other values
# are rendered from scratch for that reader.
_ATTRIBUTE_SAFE = re.compile(r"[A-Za-z0-9\-_.!~*()@/:=?;#%&,+]*")


# The attribute a placeholder stands in (the last name=" before it, inside its tag), and what
# of its value comes before the placeholder.
_ATTRIBUTE_NAME = re.compile(r"([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*[\"']?([^\"'<>]*)\Z")


#: Attributes whose value is a URL a reader's value must not turn into javascript: or worse.
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "background", "poster", "cite", "srcset", "data"}
)


# An address the header writer writes as it is (and short enough never to need more care).
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,190}")


def unsubscribe_url_for(reader: Reader, newsletter: Newsletter) -> str | None:
    """The reader's unsubscribe link: their own, or the newsletter's with their token."""
    if reader.unsubscribe_url:
        return reader.unsubscribe_url
    base = newsletter.contact.unsubscribe_url
    if base is None or reader.unsubscribe_token is None:
        return base
    return _link(base, reader.unsubscribe_token)


# Tokens are letters, digits and ._~- (the model's pattern), which URL encoding leaves as they
# are: a link is the same text, cut where a stand-in token went, with the real token put there.
_STAND_IN = "digesttokenstandin"


def _link(base: str, token: str) -> str:
    """``base`` with ``token`` put in: as ``{token}``, or as a ``token`` parameter."""
    if "{token}" in base:
        return base.replace("{token}", token)
    place = _token_place(base)
    return _query_link(base, token) if place is None else place[0] + token + place[1]


def _query_link(base: str, token: str) -> str:
    parts = urlsplit(base)
    query = parts.query + ("&" if parts.query else "") + urlencode({"token": token})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


@lru_cache(maxsize=16)
def _token_place(base: str) -> tuple[str, str] | None:
    """``base`` with a ``token`` parameter, cut where its value goes (None: do it each time)."""
    if _STAND_IN in base:
        return None
    before, _, after = _query_link(base, _STAND_IN).partition(_STAND_IN)
    return before, after


@lru_cache(maxsize=16)
def _token_uri_place(base: str) -> tuple[str, str] | None:
    """The List-Unsubscribe URI of ``base`` with a token, cut where the token goes.

    None when that cannot be exact: the token would stand in the host (which is lowercased)
    or more than once.
    """
    if _STAND_IN in base:
        return None
    url = _link(base, _STAND_IN)
    if url.count(_STAND_IN) != 1 or _STAND_IN in urlsplit(url).netloc:
        return None
    encoded = header_uri(url)
    if encoded.count(_STAND_IN) != 1:
        return None
    head, _, tail = encoded.partition(_STAND_IN)
    return head, tail


class _Tokens(dict[str, Any]):
    """``reader`` in a template: placeholders made of a random nonce.

    Values that are empty for the readers of a variant are passed as they are (""), so that
    ``{% if reader.name %}`` is decided exactly; the others are placeholders, and the sandbox
    notes anything a template does with them besides printing them (see ``digest.render.sandbox``).
    """

    def __init__(self, nonce: str, present: frozenset[str], fields: tuple[str, ...]) -> None:
        self.nonce, self.present = nonce, present
        super().__init__(
            {key: self.token(key) for key in ("name", "address", "unsubscribe_url")},
            fields=_FieldTokens(self, fields),
        )

    def token(self, key: str) -> str:
        return f"@@{self.nonce}.{key}@@" if key in self.present else ""


class _FieldTokens(dict[str, str]):
    """``reader.fields`` in a template: the readers' field names, each with its placeholder.

    The names come in the readers' order, with "" where the value is empty, so that the
    mapping iterates, counts, ``get``s and tests ``in`` as the reader's own does; a name none
    of them has is "".
    """

    def __init__(self, tokens: _Tokens, names: tuple[str, ...]) -> None:
        super().__init__({name: tokens.token(f"fields.{name}") for name in names})
        self.tokens = tokens

    def __missing__(self, key: str) -> str:
        return self.tokens.token(f"fields.{key}")


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
    #: The values that stand in attributes: checked for each reader (``_ATTRIBUTE_SAFE``).
    attribute_keys: tuple[str, ...]
    #: The values that begin a link's or a picture's URL: checked as links for each reader.
    url_keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, rendered: str, pattern: re.Pattern[str], markup: bool) -> _Split:
        pieces, keys, places = [], [], []
        urls: set[str] = set()
        start = 0
        for match in pattern.finditer(rendered):
            before = rendered[start : match.start()]
            pieces.append(before)
            keys.append(match.group(1))
            place: Where = "raw"
            if markup:
                # Inside a tag when the last "<" before the placeholder is after the last ">".
                opened = rendered.rfind("<", 0, match.start())
                place = "attribute" if opened > rendered.rfind(">", 0, match.start()) else "text"
                if place == "attribute":
                    named = _ATTRIBUTE_NAME.search(rendered, opened, match.start())
                    # A value that begins a URL decides its scheme (javascript:...).
                    if (
                        named is not None
                        and named.group(1).lower() in _URL_ATTRIBUTES
                        and not named.group(2).strip()
                    ):
                        urls.add(match.group(1))
            places.append(place)
            start = match.end()
        pieces.append(rendered[start:])
        in_attributes = {k for k, w in zip(keys, places, strict=True) if w == "attribute"}
        return cls(
            tuple(pieces),
            tuple(keys),
            tuple(places),
            tuple(quoted_printable(p) for p in pieces),
            tuple(sorted(in_attributes)),
            tuple(sorted(urls)),
        )

    def fill(self, values: Mapping[str, str]) -> str:
        out = [self.pieces[0]]
        for key, place, piece in zip(self.keys, self.places, self.pieces[1:], strict=True):
            out += (_escape(values.get(key, ""), place), piece)
        return "".join(out)

    def fill_encoded(self, values: Mapping[str, str]) -> bytes:
        out: list[bytes] = []
        self.extend_encoded(out, values, {})
        return b"".join(out)

    def extend_encoded(
        self, out: list[bytes], values: Mapping[str, str], done: dict[tuple[str, Where], bytes]
    ) -> None:
        """Append the encoded pieces and values to ``out``; each value is encoded once."""
        out.append(self.encoded[0])
        for key, place, piece in zip(self.keys, self.places, self.encoded[1:], strict=True):
            value = done.get((key, place))
            if value is None:
                value = done[key, place] = quoted_printable(_escape(values.get(key, ""), place))
            out.append(value)
            out.append(piece)

    def unsafe_in_attributes(self, values: Mapping[str, str]) -> bool:
        """Whether a value goes into an attribute that a serialiser might write differently.

        lxml picks an attribute's quote character from its value and libxml2 encodes spaces
        and non-ASCII in links, which filling in cannot follow: such a reader is rendered
        from scratch.
        """
        return not all(_ATTRIBUTE_SAFE.fullmatch(values.get(k, "")) for k in self.attribute_keys)


@dataclass(frozen=True)
class _Variant:
    edition: Edition
    #: False when a template did more than print a reader value: render each reader then.
    fillable: bool
    subject: _Split
    html: _Split
    text: _Split
    boundary: str
    #: The Subject as text and as its written line, when no reader value is in it.
    subject_text: str | None
    subject_line: bytes | None
    #: The bytes every copy of this variant shares (None: each copy is written whole).
    plan: _Plan | None = None
    #: Why copies of this variant may not be sent (its checks found errors), or "".
    problem: str = ""


@dataclass(frozen=True)
class _Plan:
    """A variant's message written once around the places of the reader's own bytes.

    A copy is ``before_to``, the address, ``after_to``, the hash of the address,
    ``after_id``, the List-Unsubscribe line (``unsubscribe`` with the token between its two
    halves, or ``fixed_unsubscribe`` for readers without a token), ``after_unsubscribe``, the
    text part, ``between``, the HTML part and ``end``. Built from lines the header writer wrote
    and checked for a stand-in reader; a test holds copies to the general path's bytes.
    """

    before_to: bytes
    after_to: bytes
    after_id: bytes
    unsubscribe: tuple[bytes, bytes] | None
    fixed_unsubscribe: bytes
    after_unsubscribe: bytes
    between: bytes
    end: bytes


@dataclass(frozen=True)
class ReaderMessage:
    """One reader's complete message, as RFC 5322 bytes."""

    reader: Reader
    data: bytes


class Copies:
    """Personalised copies of one edition for many readers: each reader's own message."""

    def __init__(
        self,
        digest: Digest,
        options: RenderOptions | None = None,
        subjects: Sequence[str] = (),
        tokens: UnsubscribeTokens | None = None,
    ) -> None:
        """Prepare to personalise ``digest``; variants render with its own options by default.

        ``subjects`` are subject variants to test against each other (templates, like
        ``subject.txt.j2``); each reader gets one, chosen by a hash of the edition and their
        address, labelled A, B, C… in the ledger. With ``tokens``, a reader with no token
        and no link of their own gets a signed token in the newsletter's unsubscribe link.
        """
        if len(subjects) > len(SUBJECT_LABELS):
            raise InputError(
                f"subjects: at most {len(SUBJECT_LABELS)} variants, got {len(subjects)}"
            )
        self.digest = digest
        self.options = options or digest.options
        self.subjects = tuple(subjects)
        self.tokens = tokens
        self._renderer: Renderer | None = None
        self._variants: OrderedDict[_VariantKey, _Variant] = OrderedDict()
        self._quick: dict[tuple[Any, ...], _Variant] = {}
        self._head: dict[str, bytes] | None = None
        self._pickled: bytes | None = None
        self._shared: tuple[Any, Any] | None = None  # a Dask client, and the copies' future
        # Placeholders carry a random nonce: article data cannot name them.
        self._nonce = "Dg" + secrets.token_hex(12)
        self._token = re.compile(rf"@@{self._nonce}\.([A-Za-z0-9_.]+)@@")
        self._twin = "Tw" + secrets.token_hex(17)
        self._twin_token = re.compile(rf"@@{self._twin}\.([A-Za-z0-9_.]+)@@")
        #: Identifies the edition, options and subjects: what the copies are made of (the
        #: caches of worker processes are keyed by it, and the ledger compares it across runs).
        signing = tokens.token("key@digest.invalid") if tokens is not None else None
        made_of = (
            digest.subject,
            digest.html,
            digest.text,
            repr(self.options),
            self.subjects,
            signing,
        )
        self.key = hashlib.sha256(repr(made_of).encode()).hexdigest()
        #: What the readers' copies say, whichever subject each gets: the send ledger compares
        #: it across runs (``key`` also names a subject chosen for everyone).
        self.content_key = self.key
        self._chosen: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the renderer and the variants; a worker process makes its own."""
        return {
            "digest": self.digest,
            "options": self.options,
            "subjects": self.subjects,
            "tokens": self.tokens,
            "chosen": self._chosen,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled mailing."""
        self.__init__(  # type: ignore[misc]
            state["digest"], state["options"], state["subjects"], state["tokens"]
        )
        self._choose(state.get("chosen"))

    def _choose(self, index: int | None) -> None:
        self._chosen = index
        if index is not None:
            self.key = hashlib.sha256(f"{self.content_key}\nsubject {index}".encode()).hexdigest()

    def with_subject(self, index: int) -> Self:
        """These copies with every reader given subject ``index`` (an A/B test's winner)."""
        if not 0 <= index < max(1, len(self.subjects)):
            raise InputError(f"subject: no variant {index} of {len(self.subjects)}")
        copies = type(self).__new__(type(self))
        copies.__setstate__({**self.__getstate__(), "chosen": index})
        return copies

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as the key and the pickled state, so a worker that has it reads only the key.

        Each chunk given to a worker carries the copies; a worker that has them already (by
        ``key``) never unpickles them again or prepares them a second time.
        """
        if self._pickled is None:
            self._pickled = pickle.dumps(self.__getstate__(), protocol=pickle.HIGHEST_PROTOCOL)
        return (_restore, (type(self), self.key, self._pickled))

    @property
    def edition_key(self) -> str:
        """What the send ledger knows this edition by: the newsletter, the date, the number."""
        return self.digest.edition_key

    def subject_variant(self, reader: Reader | str) -> int:
        """Which subject variant ``reader`` (or an address) gets, the same for an address."""
        if len(self.subjects) < 2:
            return 0
        if self._chosen is not None:
            return self._chosen
        address = reader if isinstance(reader, str) else reader.address
        return subject_index(self.edition_key, address, len(self.subjects))

    def variant_label(self, index: int) -> str:
        """The letter of subject variant ``index`` ("" when there is a single subject)."""
        return SUBJECT_LABELS[index] if len(self.subjects) > 1 else ""

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

    def _variant(self, reader: Reader, values: Mapping[str, str]) -> _Variant:
        # The readers' own spelling of their choice first: most lists repeat a few choices.
        present_keys = tuple(name for name, value in values.items() if value)
        quick = (reader.sections, present_keys, tuple(reader.fields), self.subject_variant(reader))
        variant = self._quick.get(quick)
        if variant is not None:
            return variant
        variant = self._quick[quick] = self._variant_for(reader, values)
        if len(self._quick) > 4 * _VARIANTS_KEPT:
            self._quick.clear()
        return variant

    def _variant_for(self, reader: Reader, values: Mapping[str, str]) -> _Variant:
        sections = (
            None
            if reader.sections is None
            else tuple(sorted(s.casefold() for s in reader.sections))
        )
        # Readers share a variant when they chose the same sections, got the same subject and
        # have the same values present (a template may greet only readers with a name).
        present = frozenset(name for name, value in values.items() if value)
        subject_index = self.subject_variant(reader)
        # ... and the same field names in the same order (a template may loop over them).
        names = tuple(reader.fields)
        key = (sections, present, names, subject_index)
        variant = self._variants.get(key)
        if variant is not None:
            self._variants.move_to_end(key)
            return variant
        edition = self.edition_for(reader)
        newsletter = self.digest.newsletter
        # Rendered twice, with placeholders of two lengths: filling in is exact only when the
        # templates printed them as they are (no use noted by the sandbox) and both renders
        # agree once the placeholders are put back in one form.
        forms = []
        for nonce, pattern in ((self._nonce, self._token), (self._twin, self._twin_token)):
            rendered, guard = self.renderer.render_guarded(
                edition,
                newsletter,
                _Tokens(nonce, present, names),
                markers=(nonce,),
                subject=self._subject_source(subject_index),
            )
            html = inline_css(rendered.html, newsletter.layout.inliner)
            parts = (rendered.subject, html, rendered.text)
            traces = sum(p.count(nonce) for p in parts)
            whole = sum(len(pattern.findall(p)) for p in parts)
            forms.append(
                (
                    not guard.uses and traces == whole,
                    tuple(pattern.sub(r"@@\1@@", p) for p in parts),
                    rendered,
                    html,
                )
            )
        (exact, stable_parts, rendered, html), (twin_exact, twin_parts, _, _) = forms
        fillable = exact and twin_exact and stable_parts == twin_parts
        text = rendered.text
        # Sorted: a frozenset's order changes from process to process (string hashing).
        stable = (
            repr((sections, sorted(present), subject_index)).encode() + stable_parts[1].encode()
        )
        digest_key = hashlib.sha256(stable).hexdigest()[:20]
        subject = _Split.of(rendered.subject, self._token, markup=False)
        variant = _Variant(
            edition,
            fillable,
            subject,
            _Split.of(html, self._token, markup=True),
            _Split.of(text, self._token, markup=False),
            boundary=f"=_digest_{digest_key}",
            subject_text=None if subject.keys else one_line(rendered.subject),
            subject_line=None if subject.keys else text_header("Subject", rendered.subject),
        )
        variant = replace(variant, problem=self._problem(html, variant.html))
        if variant.subject_text is not None:
            variant = replace(variant, plan=self._plan(variant, variant.subject_text))
        if fillable and not variant.html.keys and newsletter.contact.unsubscribe_url:
            raise RenderError(
                "the template shows no reader placeholder: personalised copies "
                "need {{ reader.unsubscribe_url }} in the footer"
            )
        self._variants[key] = variant
        if len(self._variants) > _VARIANTS_KEPT:
            self._variants.popitem(last=False)
        return variant

    def _problem(self, html: str, split: _Split) -> str:
        """What the edition's checks find wrong with a variant (its values stood in for)."""
        newsletter = self.digest.newsletter
        stand_in = {
            key: "https://example.org/" if key in split.url_keys else "x" for key in split.keys
        }
        if "unsubscribe_url" in stand_in and newsletter.contact.unsubscribe_url:
            stand_in["unsubscribe_url"] = newsletter.contact.unsubscribe_url
        errors = check_copy(split.fill(stand_in), newsletter)
        return "; ".join(summarise(errors))

    def _check(self, reader: Reader, variant: _Variant, values: Mapping[str, str]) -> None:
        """Refuse a copy that would not pass the edition's checks (``CheckError``)."""
        if variant.problem:
            raise CheckError(
                f"{reader.address}: the copy does not pass its checks: {variant.problem}"
            )
        for key in variant.html.url_keys:
            problem = url_problem(values.get(key, ""))
            if problem is not None:
                raise CheckError(
                    f"{reader.address}: {key} stands in a link, and {problem} "
                    f"(got {values.get(key, '')[:60]!r})"
                )

    def _fills(self, variant: _Variant, values: Mapping[str, str]) -> bool:
        return variant.fillable and not variant.html.unsafe_in_attributes(values)

    def signed(self, reader: Reader) -> Reader:
        """``reader`` with their signed unsubscribe token, when ``tokens`` makes one for them."""
        if (
            self.tokens is None
            or reader.unsubscribe_token is not None
            or reader.unsubscribe_url is not None
            or self.digest.newsletter.contact.unsubscribe_url is None
        ):
            return reader
        return reader.model_copy(update={"unsubscribe_token": self.tokens.token(reader.address)})

    def render(self, reader: Reader) -> tuple[str, str, str]:
        """The reader's subject, HTML and text, by filling in the variant."""
        reader = self.signed(reader)
        values = _values(reader, self.digest.newsletter)
        variant = self._variant(reader, values)
        if not self._fills(variant, values):
            return self.from_scratch(reader)
        return (
            one_line(variant.subject.fill(values)),
            variant.html.fill(values),
            variant.text.fill(values),
        )

    def _subject_source(self, index: int) -> str | None:
        return self.subjects[index] if self.subjects else None

    def from_scratch(self, reader: Reader) -> tuple[str, str, str]:
        """The reader's subject, HTML and text, rendered with their values from the start."""
        reader = self.signed(reader)
        rendered, _ = self.renderer.render_guarded(
            self.edition_for(reader),
            self.digest.newsletter,
            reader=_ScratchValues(_values(reader, self.digest.newsletter)),
            subject=self._subject_source(self.subject_variant(reader)),
        )
        html = inline_css(rendered.html, self.digest.newsletter.layout.inliner)
        return rendered.subject, html, rendered.text

    def _message_id(self, reader: Reader, subject: str) -> str:
        who = hashlib.sha256(reader.address.encode()).hexdigest()[:12]
        return self._id_of(subject, who)

    def _id_of(self, subject: str, who: str) -> str:
        what = hashlib.sha256(subject.encode()).hexdigest()[:8]
        return message_id(self.digest.sent_at, self.digest.newsletter.sender.address, what, who)

    def _content(self, reader: Reader, subject: str, html: str, text: str) -> dict[str, Any]:
        return {
            "newsletter": self.digest.newsletter,
            "subject": subject,
            "html": html,
            "text": text,
            "sent_at": self.digest.sent_at,
            "to": [reader.address],
            "unsubscribe_url": unsubscribe_url_for(reader, self.digest.newsletter),
            "message_id": self._message_id(reader, subject),
            "edition": self.edition_key,
        }

    def message(self, reader: Reader) -> EmailMessage:
        """The reader's message built with the ``email`` package (the reference path)."""
        reader = self.signed(reader)
        return build_message(**self._content(reader, *self.render(reader)))

    def _static_head(self) -> dict[str, bytes]:
        """The header lines every reader's copy shares, written and checked once."""
        if self._head is None:
            headers = Headers.of(
                newsletter=self.digest.newsletter,
                subject="",
                html="",
                text="",
                sent_at=self.digest.sent_at,
                edition=self.edition_key,
            )
            written = headers.written()
            common = ("From", "Reply-To", "Date", "List-Id", "Feedback-ID")
            self._head = {name: written[name] for name in common}
            # Whether a copy offers one click depends on the reader's link: kept for each.
            self._head["List-Unsubscribe-Post"] = ONE_CLICK_LINE
            self._head[EDITION_HEADER] = written[EDITION_HEADER]
            shared = [(name, None) for name in HEADER_ORDER if self._head.get(name)]
            check_header_block(in_order(self._head), shared)
        return self._head

    def message_bytes(self, reader: Reader) -> bytes:
        """The reader's complete message, assembled from pre-encoded parts.

        Parses into the same headers and parts as ``message(reader)``; only the MIME boundary
        differs. The lines that carry the reader's values are written for each reader by the
        same header writer and checked; the shared ones were checked once. For most readers
        (a plain address, a token or none) the variant's ``_Plan`` makes the copy in one join.
        """
        reader = self.signed(reader)
        newsletter = self.digest.newsletter
        values = _values(reader, newsletter)
        variant = self._variant(reader, values)
        self._check(reader, variant, values)
        plan = variant.plan
        if (
            plan is not None
            and reader.unsubscribe_url is None
            and _PLAIN_ADDRESS.fullmatch(reader.address)
            and (reader.unsubscribe_token is None or len(reader.unsubscribe_token) <= 100)
            and not variant.html.unsafe_in_attributes(values)
        ):
            return self._planned(reader, values, variant, plan)
        return self._written(reader, values, variant)

    def _written(self, reader: Reader, values: Mapping[str, str], variant: _Variant) -> bytes:
        """The reader's message, each of their header lines written and checked."""
        if not self._fills(variant, values):
            return self._checked_from_scratch(reader)
        subject = variant.subject_text
        if subject is None:
            subject = one_line(variant.subject.fill(values))
        uris = self._unsubscribe_uris(reader, values)
        own = {
            # Reader addresses are checked (and IDNA-encoded) by the model: plain ASCII.
            "To": address_header("To", [("", reader.address)]),
            "Subject": variant.subject_line or text_header("Subject", subject),
            "Message-ID": id_header("Message-ID", self._message_id(reader, subject)),
            "List-Unsubscribe": uri_list_header("List-Unsubscribe", uris) if uris else b"",
        }
        for line in own.values():
            if line:
                check_header_line(line)
        lines = {**self._static_head(), **own}
        if not one_click(uris):
            lines["List-Unsubscribe-Post"] = b""
        return assemble(
            in_order(lines),
            variant.boundary,
            (
                ("plain", variant.text.fill_encoded(values)),
                ("html", variant.html.fill_encoded(values)),
            ),
        )

    def _checked_from_scratch(self, reader: Reader) -> bytes:
        """The reader's message rendered from scratch, refused if it fails the checks."""
        subject, html, text = self.from_scratch(reader)
        link = unsubscribe_url_for(reader, self.digest.newsletter)
        errors = check_copy(html, self.digest.newsletter, link)
        if errors:
            raise CheckError(
                f"{reader.address}: the copy does not pass its checks: "
                + "; ".join(summarise(errors))
            )
        return message_bytes(**self._content(reader, subject, html, text))

    def _planned(
        self, reader: Reader, values: Mapping[str, str], variant: _Variant, plan: _Plan
    ) -> bytes:
        address = reader.address.encode("ascii")
        who = hashlib.sha256(address).hexdigest()[:12].encode("ascii")
        out = [plan.before_to, address, plan.after_to, who, plan.after_id]
        token = reader.unsubscribe_token
        if token is not None and plan.unsubscribe is not None:
            out += (plan.unsubscribe[0], token.encode("ascii"), plan.unsubscribe[1])
        else:
            out.append(plan.fixed_unsubscribe)
        out.append(plan.after_unsubscribe)
        done: dict[tuple[str, Where], bytes] = {}
        variant.text.extend_encoded(out, values, done)
        out.append(plan.between)
        variant.html.extend_encoded(out, values, done)
        out.append(plan.end)
        return b"".join(out)

    def _plan(self, variant: _Variant, subject: str) -> _Plan | None:
        """Write what every copy of ``variant`` shares, around the places of the reader's bytes.

        None when copies of this variant cannot be made that way (a reader value in the
        subject, a template that transforms one), or when the plan's copy of a stand-in
        reader differs from the general path's in any byte.
        """
        if not variant.fillable or variant.subject_line is None:
            return None
        newsletter = self.digest.newsletter
        head = self._static_head()
        # The reader's hash goes where the stand-in stands in the one Message-ID form.
        id_line = id_header("Message-ID", self._id_of(subject, _STAND_IN))
        id_before, _, id_after = id_line.partition(_STAND_IN.encode())
        base, mailto = newsletter.contact.unsubscribe_url, unsubscribe_uris(newsletter, None)[1:]
        fixed_uris = unsubscribe_uris(newsletter, base)
        fixed = uri_list_header("List-Unsubscribe", fixed_uris) if fixed_uris else b""
        token_place = _token_uri_place(base) if base else None
        unsubscribe = None
        if token_place is not None:
            uri = token_place[0] + _STAND_IN + token_place[1]
            line = uri_list_header("List-Unsubscribe", [uri, *mailto])
            before, _, after = line.partition(_STAND_IN.encode())
            unsubscribe = (before, after)
        framing = frame(variant.boundary, ("plain", "html"))
        plan = _Plan(
            before_to=head["From"] + b"To: ",
            after_to=b"\r\n" + head["Reply-To"] + variant.subject_line + head["Date"] + id_before,
            after_id=id_after,
            unsubscribe=unsubscribe,
            fixed_unsubscribe=fixed,
            after_unsubscribe=(head["List-Unsubscribe-Post"] if one_click(fixed_uris) else b"")
            + head["List-Id"]
            + head["Feedback-ID"]
            + head[EDITION_HEADER]
            + framing[0],
            between=framing[1],
            end=framing[2],
        )
        for reader in (
            Reader(address=f"{_STAND_IN}@example.org", unsubscribe_token=_STAND_IN),
            Reader(address=f"{_STAND_IN}@example.org"),
        ):
            values = _values(reader, newsletter)
            if self._planned(reader, values, variant, plan) != self._written(
                reader, values, variant
            ):
                return None
        return plan

    def _unsubscribe_uris(self, reader: Reader, values: Mapping[str, str]) -> list[str]:
        """The reader's List-Unsubscribe URIs; a token is put into a URI made once per base."""
        newsletter = self.digest.newsletter
        base, token = newsletter.contact.unsubscribe_url, reader.unsubscribe_token
        place = None
        if base and token and not reader.unsubscribe_url:
            place = _token_uri_place(base)
        if place is not None and token is not None:
            return unsubscribe_uris(newsletter, place[0] + token + place[1], encoded=True)
        return unsubscribe_uris(newsletter, values["unsubscribe_url"] or None)

    def messages(
        self,
        readers: Iterable[Reader | Mapping[str, Any]],
        executor: Executor | None = None,
        chunk: int = 1000,
        workers: int | None = None,
    ) -> Iterator[ReaderMessage]:
        """Each reader's message, in order, holding only a few chunks in memory at once.

        ``readers`` may be ``Reader`` objects or plain rows (mappings, as a CSV file or a
        database gives them): rows are validated in bulk, a chunk at a time, which is the
        fastest way in. With an ``executor`` (a process pool, or a Dask ``distributed``
        client's executor), chunks are validated and made in parallel, two per worker at a
        time (``workers``: the executor's workers, by default the machine's cores).
        """
        if executor is None:
            for ready in reader_chunks(readers, chunk):
                for reader in ready:
                    yield ReaderMessage(reader, self.message_bytes(reader))
            return
        pending: list[Future[list[ReaderMessage]]] = []
        workers = max(2, workers or os.cpu_count() or 2)
        remaining = iter(readers)
        batches = iter(lambda: list(islice(remaining, chunk)), [])
        for number, batch in enumerate(batches):
            pending.append(submit(executor, _make_messages, self, batch, 1 + number * chunk))
            if len(pending) >= 2 * workers:
                yield from pending.pop(0).result()
        for future in pending:
            yield from future.result()


def reader_messages(
    digest: Digest,
    readers: Iterable[Reader | Mapping[str, Any]],
    executor: Executor | None = None,
    chunk: int = 1000,
) -> Iterator[ReaderMessage]:
    """Each reader's own copy of ``digest``, streamed: a generator, memory stays flat.

    Readers may be plain rows (``{"address": …, "name": …}``), validated in bulk: the fastest
    way in. It is ``Copies(digest).messages(...)``; pass an ``executor`` to spread chunks over
    processes.
    """
    return Copies(digest).messages(readers, executor=executor, chunk=chunk)


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
_WORKER_MAILINGS: OrderedDict[tuple[str, str], Copies] = OrderedDict()


_Kept = TypeVar("_Kept", bound="Copies")


def _restore(kind: type[Copies], key: str, pickled: bytes) -> Copies:
    """A pickled ``Copies`` again: the worker's own when it has them, else unpickled."""
    kept = _WORKER_MAILINGS.get((kind.__qualname__, key))
    if kept is not None:
        return kept
    copies = kind.__new__(kind)
    copies.__setstate__(pickle.loads(pickled))
    return copies


def kept_in_worker(mailing: _Kept) -> _Kept:
    """The worker's own copy of ``mailing``, with the variants it has rendered so far.

    Keyed by the class too: copies made for ``messages`` and a ``Mailing`` to deliver may
    share a key, and only the second can send.
    """
    key = (type(mailing).__qualname__, mailing.key)
    kept = _WORKER_MAILINGS.setdefault(key, mailing)
    _WORKER_MAILINGS.move_to_end(key)
    while len(_WORKER_MAILINGS) > 4:
        _WORKER_MAILINGS.popitem(last=False)
    return kept  # type: ignore[return-value]


def submit(executor: Executor, fn: Callable[..., _T], *args: Any) -> Future[_T]:
    """``executor.submit(fn, *args)``; a Dask executor's task marked impure.

    Dask takes a task as pure by default and hashes its arguments (the whole ``Copies`` and
    the chunk of readers) to name it: a third of the driver's time, for chunks that are never
    the same twice.
    """
    if type(executor).__module__.startswith("distributed"):
        shared = [_scattered(executor, arg) if isinstance(arg, Copies) else arg for arg in args]
        return executor.submit(fn, *shared, pure=False)
    return executor.submit(fn, *args)


def _scattered(executor: Executor, copies: Copies) -> Any:
    """``copies`` sent to every Dask worker once (a future the tasks name), not with each task.

    The client is the executor's own (``Client.get_executor``); without one, the copies go
    with each task as they do to a process pool.
    """
    client = getattr(executor, "_client", None)
    if client is None:
        return copies
    if copies._shared is None or copies._shared[0] is not client:
        future = client.scatter(copies, broadcast=True, hash=False)
        copies._shared = (client, future)
    return copies._shared[1]


def _make_messages(
    mailing: Copies, rows: list[Reader | Mapping[str, Any]], first: int
) -> list[ReaderMessage]:
    """In a worker: validate a chunk of rows (the first is row ``first``), make their messages."""
    kept = kept_in_worker(mailing)
    return [
        ReaderMessage(reader, kept.message_bytes(reader))
        for ready in reader_chunks(rows, len(rows) or 1, first)
        for reader in ready
    ]
