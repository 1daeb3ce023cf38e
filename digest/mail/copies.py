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
import pickle
import re
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Self, TypedDict

from digest.check import check_copy, summarise
from digest.edition import Edition
from digest.errors import CheckError, ConfigError, InputError, RenderError
from digest.mail.heads import CopyHeads
from digest.mail.message import (
    build_message,
    message_bytes,
)
from digest.mail.mime import (
    CopyPlan,
    frame,
    one_line,
    text_header,
    write_copy,
)
from digest.mail.placeholders import ScratchValues, Split, Tokens, reader_values
from digest.mail.reader_copies import (
    ReaderMessage,
    Variant,
    check_values,
    copy_stream,
    fills,
    fits_plan,
    planned_bytes,
    variant_plan,
    variant_problem,
)
from digest.mail.tracking import (
    LinkTokens,
    TrackedSplit,
    edition_hrefs,
    newsletter_links,
    track_split,
    tracked_html,
)
from digest.mail.unsubscribe import (
    UnsubscribeLinks,
    unsubscribe_url_for,
)
from digest.mail.variants import subject_index
from digest.mail.workers import in_this_process
from digest.models import Reader
from digest.render.inline import inline_css
from digest.render.renderer import Renderer, RenderOptions
from digest.suppression.tokens import UnsubscribeTokens

if TYPE_CHECKING:
    from digest.pipeline import Digest

__all__ = [
    "Copies",
    "Personalisation",
    "ReaderMessage",
    "reader_messages",
    "unsubscribe_url_for",
]


_VARIANTS_KEPT = 64


#: The labels of subject variants, in the ledger and the report.
SUBJECT_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


_VariantKey = tuple[tuple[str, ...] | None, frozenset[str], tuple[str, ...], int]


class Personalisation(TypedDict, total=False):
    """How copies are personalised, by name: as ``Copies`` takes them after the digest."""

    options: RenderOptions | None
    subjects: Sequence[str]
    tokens: UnsubscribeTokens | None
    clicks: LinkTokens | None


class Copies:
    """Personalised copies of one edition for many readers: each reader's own message."""

    def __init__(
        self,
        digest: Digest,
        options: RenderOptions | None = None,
        subjects: Sequence[str] = (),
        tokens: UnsubscribeTokens | None = None,
        clicks: LinkTokens | None = None,
    ) -> None:
        """Prepare to personalise ``digest``; variants render with its own options by default.

        ``subjects`` are subject variants to test against each other (templates, like
        ``subject.txt.j2``); each reader gets one, chosen by a hash of the edition and their
        address, labelled A, B, C… in the ledger. With ``tokens``, a reader with no token
        and no link of their own gets a signed token in the newsletter's unsubscribe link.
        With ``clicks`` (``[tracking]``), each reader's links lead through ``digest serve``
        (``digest.mail.tracking``): the edition needs its number (a history) for that.
        """
        if len(subjects) > len(SUBJECT_LABELS):
            raise InputError(
                f"subjects: at most {len(SUBJECT_LABELS)} variants, got {len(subjects)}"
            )
        self.digest = digest
        self.options = options or digest.options
        self.subjects = tuple(subjects)
        self.tokens = tokens
        self.clicks = clicks
        self._hrefs: tuple[str, ...] | None = None
        if clicks is not None and digest.edition.number is None:
            raise ConfigError(
                "tracking: tracked links name the edition's number, and this edition has none "
                "(build it with a history, or set [tracking] clicks = false)"
            )
        #: The newsletter's unsubscribe link, cut once where each reader's token goes.
        self.links = UnsubscribeLinks(digest.newsletter)
        #: The header lines of each reader's copy (the shared ones written once).
        self.heads = CopyHeads(digest, self.links)
        self._renderer: Renderer | None = None
        self._variants: OrderedDict[_VariantKey, Variant] = OrderedDict()
        self._quick: dict[tuple[Any, ...], Variant] = {}
        self._pickled: bytes | None = None
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
            clicks.fingerprint if clicks is not None else None,
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
            "clicks": self.clicks,
            "chosen": self._chosen,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled mailing."""
        self.__init__(  # type: ignore[misc]
            state["digest"], state["options"], state["subjects"], state["tokens"], state["clicks"]
        )
        self._choose(state.get("chosen"))

    def _choose(self, index: int | None) -> None:
        self._chosen = index
        if index is not None:
            self.key = hashlib.sha256(f"{self.content_key}\nsubject {index}".encode()).hexdigest()

    @property
    def chosen(self) -> int | None:
        """The subject every reader gets (an A/B test's winner), or None: each their own."""
        return self._chosen

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
        return (_restore, (self.key, self._pickled))

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

    def _variant(self, reader: Reader, values: Mapping[str, str]) -> Variant:
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

    def _variant_for(self, reader: Reader, values: Mapping[str, str]) -> Variant:
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
                Tokens(nonce, present, names),
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
        subject = Split.of(rendered.subject, self._token, markup=False)
        variant = Variant(
            edition,
            fillable,
            subject,
            Split.of(html, self._token, markup=True),
            Split.of(text, self._token, markup=False),
            boundary=f"=_digest_{digest_key}",
            subject_text=None if subject.keys else one_line(rendered.subject),
            subject_line=None if subject.keys else text_header("Subject", rendered.subject),
        )
        variant = replace(variant, problem=variant_problem(html, variant.html, newsletter))
        if variant.subject_text is not None:
            variant = replace(variant, plan=self._plan(variant, variant.subject_text))
        if fillable and not variant.html.keys and newsletter.contact.unsubscribe_url:
            raise RenderError(
                "the template shows no reader placeholder: personalised copies "
                "need {{ reader.unsubscribe_url }} in the footer"
            )
        variant = self._tracked(variant, html)
        self._variants[key] = variant
        if len(self._variants) > _VARIANTS_KEPT:
            self._variants.popitem(last=False)
        return variant

    def _tracked(self, variant: Variant, html: str) -> Variant:
        """``variant`` with its HTML cut at its tracked links too (with ``clicks``)."""
        if self.clicks is None:
            return variant
        newsletter = self.digest.newsletter
        split = track_split(
            html,
            self._token,
            lambda key: f"@@{self._nonce}.{key}@@",
            self.edition_hrefs if self.clicks.clicks else (),
            newsletter_links(newsletter, self.clicks.base_url),
            self.clicks.opens,
        )
        variant = replace(variant, html=split, plan=None)
        if variant.subject_text is not None:
            variant = replace(variant, plan=self._plan(variant, variant.subject_text))
        return variant

    @property
    def edition_hrefs(self) -> tuple[str, ...]:
        """The links of the edition's HTML in document order: a tracked link's index."""
        if self._hrefs is None:
            self._hrefs = edition_hrefs(self.digest.html)
        return self._hrefs

    def _track(self, reader: Reader, variant: Variant, values: dict[str, str]) -> None:
        """Put the reader's tracked links into ``values`` (when the variant has them)."""
        html = variant.html
        if isinstance(html, TrackedSplit) and self.clicks is not None:
            number = self.digest.edition.number
            assert number is not None  # checked when the copies were made
            html.links.values(self.clicks, number, reader, values)

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
        values = reader_values(reader, self.links)
        variant = self._variant(reader, values)
        if not fills(variant, values):
            return self.from_scratch(reader)
        self._track(reader, variant, values)
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
            reader=ScratchValues(reader_values(reader, self.links)),
            subject=self._subject_source(self.subject_variant(reader)),
        )
        html = inline_css(rendered.html, self.digest.newsletter.layout.inliner)
        if self.clicks is not None and self.digest.edition.number is not None:
            own = newsletter_links(self.digest.newsletter, self.clicks.base_url)
            number = self.digest.edition.number
            hrefs = self.edition_hrefs if self.clicks.clicks else ()
            html = tracked_html(html, self.clicks, number, hrefs, own, reader)
        return rendered.subject, html, rendered.text

    def message(self, reader: Reader) -> EmailMessage:
        """The reader's message built with the ``email`` package (the reference path)."""
        reader = self.signed(reader)
        return build_message(**self.heads.content(reader, *self.render(reader)))

    def message_bytes(self, reader: Reader) -> bytes:
        """The reader's complete message, assembled from pre-encoded parts.

        Parses into the same headers and parts as ``message(reader)``; only the MIME boundary
        differs. The lines that carry the reader's values are written for each reader by the
        same header writer and checked; the shared ones were checked once. For most readers
        (a plain address, a token or none) the variant's ``_Plan`` makes the copy in one join.
        """
        reader = self.signed(reader)
        values = reader_values(reader, self.links)
        variant = self._variant(reader, values)
        check_values(reader, variant, values)
        self._track(reader, variant, values)
        plan = variant.plan
        if plan is not None and fits_plan(reader, variant, values):
            return planned_bytes(reader, values, variant, plan)
        return self._written(reader, values, variant)

    def _written(self, reader: Reader, values: Mapping[str, str], variant: Variant) -> bytes:
        """The reader's message, each of their header lines written and checked."""
        if not fills(variant, values):
            return self._checked_from_scratch(reader)
        subject = variant.subject_text
        if subject is None:
            subject = one_line(variant.subject.fill(values))
        head = self.heads.head(reader, values["unsubscribe_url"], subject, variant.subject_line)
        framing = frame(variant.boundary, ("plain", "html"))
        return write_copy([head], framing, (variant.text, variant.html), values)

    def _checked_from_scratch(self, reader: Reader) -> bytes:
        """The reader's message rendered from scratch, refused if it fails the checks."""
        subject, html, text = self.from_scratch(reader)
        link = self.links.url_for(reader)
        errors = check_copy(html, self.digest.newsletter, link)
        if errors:
            raise CheckError(
                f"{reader.address}: the copy does not pass its checks: "
                + "; ".join(summarise(errors))
            )
        return message_bytes(**self.heads.content(reader, subject, html, text))

    def _plan(self, variant: Variant, subject: str) -> CopyPlan | None:
        """What every copy of ``variant`` shares (``reader_copies.variant_plan``), or None."""
        return variant_plan(variant, subject, self.heads, self.links, self._written)

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
        return copy_stream(self, readers, executor, chunk, workers)


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


def _restore(key: str, pickled: bytes) -> Copies:
    """Pickled copies again: this worker's own when it has them, else unpickled."""
    kept = in_this_process().get(key)
    if isinstance(kept, Copies):
        return kept
    copies = Copies.__new__(Copies)
    copies.__setstate__(pickle.loads(pickled))
    return copies
