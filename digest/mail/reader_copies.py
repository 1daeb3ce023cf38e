"""From a variant to each reader's bytes: whether their values fill it, its checks, many streamed.

A :class:`Variant` is an edition rendered once (by ``digest.mail.copies.Copies``) for the
readers who chose the same sections and got the same subject, with placeholders where each
reader's values go. Here is what each reader's copy takes from it: whether the reader's
values fill it as they are (:func:`fills`), the checks a copy must pass
(:func:`variant_problem`, :func:`check_values`), the one join that makes most copies
(:func:`variant_plan`, :func:`fits_plan`, :func:`planned_bytes`), and the stream of many
readers' messages, a chunk at a time, in this process or over worker processes
(:func:`copy_stream`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol

from digest.check import check_copy, summarise, url_problem
from digest.edition import Edition
from digest.errors import CheckError
from digest.mail.heads import CopyHeads
from digest.mail.mime import CopyPlan
from digest.mail.placeholders import Split, reader_values
from digest.mail.readers import reader_chunks
from digest.mail.unsubscribe import STAND_IN, UnsubscribeLinks
from digest.mail.workers import Workers, in_this_process
from digest.models import Newsletter, Reader

__all__ = [
    "CopyMaker",
    "ReaderMessage",
    "Variant",
    "check_values",
    "copy_stream",
    "fills",
    "fits_plan",
    "make_messages",
    "planned_bytes",
    "variant_plan",
    "variant_problem",
]


# An address the header writer writes as it is (and short enough never to need more care).
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,190}")


@dataclass(frozen=True)
class Variant:
    """An edition rendered once for the readers who share it, placeholders for their values."""

    edition: Edition
    #: False when a template did more than print a reader value: render each reader then.
    fillable: bool
    subject: Split
    html: Split
    text: Split
    boundary: str
    #: The Subject as text and as its written line, when no reader value is in it.
    subject_text: str | None
    subject_line: bytes | None
    #: The bytes every copy of this variant shares (None: each copy is written whole).
    plan: CopyPlan | None = None
    #: Why copies of this variant may not be sent (its checks found errors), or "".
    problem: str = ""


@dataclass(frozen=True)
class ReaderMessage:
    """One reader's complete message, as RFC 5322 bytes."""

    reader: Reader
    data: bytes


class CopyMaker(Protocol):
    """What makes each reader's message: ``Copies``, as a worker process keeps it."""

    @property
    def key(self) -> str:
        """What the copies are made of, as a hash (a worker keeps one by it)."""
        ...

    def message_bytes(self, reader: Reader) -> bytes:
        """The reader's complete message."""
        ...


def fills(variant: Variant, values: Mapping[str, str]) -> bool:
    """Whether ``values`` fill ``variant`` as they are (else the reader is rendered whole)."""
    return variant.fillable and not variant.html.unsafe_in_attributes(values)


def variant_problem(html: str, split: Split, newsletter: Newsletter) -> str:
    """What the edition's checks find wrong with a variant (its values stood in for)."""
    stand_in = {key: "https://example.org/" if key in split.url_keys else "x" for key in split.keys}
    if "unsubscribe_url" in stand_in and newsletter.contact.unsubscribe_url:
        stand_in["unsubscribe_url"] = newsletter.contact.unsubscribe_url
    errors = check_copy(split.fill(stand_in), newsletter)
    return "; ".join(summarise(errors))


def check_values(reader: Reader, variant: Variant, values: Mapping[str, str]) -> None:
    """Refuse a copy that would not pass the edition's checks (``CheckError``)."""
    if variant.problem:
        raise CheckError(f"{reader.address}: the copy does not pass its checks: {variant.problem}")
    for key in variant.html.url_keys:
        problem = url_problem(values.get(key, ""))
        if problem is not None:
            raise CheckError(
                f"{reader.address}: {key} stands in a link, and {problem} "
                f"(got {values.get(key, '')[:60]!r})"
            )


def fits_plan(reader: Reader, variant: Variant, values: Mapping[str, str]) -> bool:
    """Whether the variant's plan makes this reader's copy: a plain address, a short token."""
    return (
        reader.unsubscribe_url is None
        and _PLAIN_ADDRESS.fullmatch(reader.address) is not None
        and (reader.unsubscribe_token is None or len(reader.unsubscribe_token) <= 100)
        and not variant.html.unsafe_in_attributes(values)
    )


def planned_bytes(
    reader: Reader, values: Mapping[str, str], variant: Variant, plan: CopyPlan
) -> bytes:
    """The reader's message from the variant's plan: their bytes joined into the shared ones."""
    address = reader.address.encode("ascii")
    who = hashlib.sha256(address).hexdigest()[:12].encode("ascii")
    token = reader.unsubscribe_token
    mark = token.encode("ascii") if token is not None else None
    return plan.write(address, who, mark, (variant.text, variant.html), values)


def variant_plan(
    variant: Variant,
    subject: str,
    heads: CopyHeads,
    links: UnsubscribeLinks,
    written: Callable[[Reader, Mapping[str, str], Variant], bytes],
) -> CopyPlan | None:
    """Write what every copy of ``variant`` shares, around the places of the reader's bytes.

    None when copies of this variant cannot be made that way (a reader value in the
    subject, a template that transforms one), or when the plan's copy of a stand-in
    reader differs in any byte from the general path's (``written``).
    """
    if not variant.fillable or variant.subject_line is None:
        return None
    lines = heads.plan_lines(subject, variant.subject_line)
    plan = CopyPlan.around(lines, STAND_IN.encode(), variant.boundary, ("plain", "html"))
    stand_ins = [Reader(address=f"{STAND_IN}@example.org", unsubscribe_token=STAND_IN)]
    if links.base is None or "{token}" not in links.base:
        # A link with {token} has no form without one: every reader there gets a token.
        stand_ins.append(Reader(address=f"{STAND_IN}@example.org"))
    for reader in stand_ins:
        values = reader_values(reader, links)
        if planned_bytes(reader, values, variant, plan) != written(reader, values, variant):
            return None
    return plan


def copy_stream(
    copies: CopyMaker,
    readers: Iterable[Reader | Mapping[str, Any]],
    executor: Executor | None = None,
    chunk: int = 1000,
    workers: int | None = None,
) -> Iterator[ReaderMessage]:
    """Each reader's message from ``copies``, in order, holding only a few chunks at once.

    Rows are validated in bulk, a chunk at a time. With an ``executor`` (a process pool, or a
    Dask ``distributed`` client's executor), chunks are validated and made in parallel, two
    per worker at a time (``workers``: the executor's workers, by default the machine's cores).
    """
    if executor is None:
        for ready in reader_chunks(readers, chunk):
            for reader in ready:
                yield ReaderMessage(reader, copies.message_bytes(reader))
        return
    pending: list[Future[list[ReaderMessage]]] = []
    pool = Workers(executor, max(2, workers or os.cpu_count() or 2))
    remaining = iter(readers)
    batches = iter(lambda: list(islice(remaining, chunk)), [])
    for number, batch in enumerate(batches):
        pending.append(pool.submit(make_messages, copies, batch, 1 + number * chunk))
        if len(pending) >= pool.in_flight:
            yield from pending.pop(0).result()
    for future in pending:
        yield from future.result()


def make_messages(
    mailing: CopyMaker, rows: list[Reader | Mapping[str, Any]], first: int
) -> list[ReaderMessage]:
    """In a worker: validate a chunk of rows (the first is row ``first``), make their messages."""
    kept = in_this_process().keep(mailing)
    return [
        ReaderMessage(reader, kept.message_bytes(reader))
        for ready in reader_chunks(rows, len(rows) or 1, first)
        for reader in ready
    ]
