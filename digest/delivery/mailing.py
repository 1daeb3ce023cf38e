"""Delivering personalised copies: a ``Mailing`` makes and sends each reader's copy.

Copies go through a sender (or worker processes that make and send their chunk), and every
reader is recorded in the send ledger around their batch.
"""

from __future__ import annotations

import copy
import hashlib
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, Self, Unpack, cast
from zoneinfo import ZoneInfo

from digest.addresses import email_address
from digest.delivery.ledger import SendLedger
from digest.delivery.loop import DeliveryReport, now
from digest.delivery.pace import Pace
from digest.delivery.proofs import dated
from digest.delivery.providers import make_sender
from digest.delivery.send import Send, SendOptions
from digest.delivery.senders import Outgoing, PackedReceipts, Receipt, Sender, until_deferred
from digest.delivery.settings import DeliverySettings
from digest.errors import CheckError, InputError
from digest.mail.copies import SUBJECT_LABELS, Copies, Personalisation
from digest.mail.readers import reader_chunks, validate_readers
from digest.mail.workers import Workers, in_this_process
from digest.models import Reader

if TYPE_CHECKING:
    from digest.pipeline import Digest

__all__ = ["Mailing"]


class Mailing:
    """Personalised copies of one edition, made and delivered: nobody gets it twice."""

    def __init__(self, made_of: Digest | Copies, **personalise: Unpack[Personalisation]) -> None:
        """Deliver the copies of a digest (personalised as ``Copies`` takes them), or ``copies``."""
        self.copies = made_of if isinstance(made_of, Copies) else Copies(made_of, **personalise)
        self._send_times: dict[str | None, datetime] = {}

    @property
    def digest(self) -> Digest:
        """The edition delivered."""
        return self.copies.digest

    @property
    def edition_key(self) -> str:
        """What the send ledger knows this edition by."""
        return self.copies.edition_key

    def with_subject(self, index: int) -> Mailing:
        """The mailing with every reader given subject ``index`` (an A/B test's winner)."""
        return Mailing(self.copies.with_subject(index))

    def deliver(
        self,
        readers: Iterable[Reader | Mapping[str, Any]],
        delivery: DeliverySettings | Sender | Callable[[], Sender],
        ledger: SendLedger | None = None,
        options: SendOptions | None = None,
        **settings: Any,
    ) -> DeliveryReport:
        """Make and send each reader's copy, recorded in ``ledger``: nobody gets it twice.

        ``readers`` may be any iterable (a CSV file's rows, a database cursor); they are
        validated in bulk, a chunk at a time (by the workers, with an executor: this process
        checks only each address). With an ``executor`` (a process pool, or a Dask
        ``distributed`` client's executor), each worker makes *and sends* its chunk with its
        own sender (so ``delivery`` is ``DeliverySettings``, or a picklable function that
        makes a sender, such as one of your own) and returns only receipts; at most two
        chunks per worker are out at once. Readers on ``suppressions`` are left
        out (the list is read again before each chunk) and named in ``report.suppressed``.
        With ``due``, a reader gets the edition at the newsletter's send time in their own
        ``timezone`` (the newsletter's when they have none): only those due by ``at`` (now)
        are sent, the others counted in ``report.waiting`` for a later run. The ``pace``
        (the sending calendar, hourly cap and warm-up of ``delivery`` when it is
        ``DeliverySettings``, in the newsletter's zone) may hold some for a later run too
        (``report.held``).

        With a ``test`` (``digest.delivery.abtest``), the subjects are an A/B test: until it
        is decided, only the sample is sent and the others wait (``report.waiting``); then
        every reader not reached gets the winner, decided from the opens or clicks in
        ``events`` (the suppression list the webhooks record into; ``suppressions`` by
        default) and recorded in ``ledger`` (``report.subject_test`` says what it decided).

        It is ``Send(ledger, options).deliver(...)`` of the mailing's outbox; the ``options``
        (``SendOptions``) may be given as keywords instead (``executor=pool, due=True``).
        """
        chosen = options or SendOptions(**settings)
        if chosen.pace is None and isinstance(delivery, DeliverySettings):
            chosen = replace(chosen, pace=Pace.from_settings(delivery, self.digest.newsletter.zone))
        if chosen.test is not None and chosen.events is None:
            chosen = replace(chosen, events=chosen.suppressions)
        copies = self.copies
        if (
            chosen.test is None
            and copies.chosen is None
            and len(copies.subjects) > 1
            and ledger is not None
            and ledger.decision(self.edition_key) is not None
        ):
            raise InputError(
                "test: this edition's subject test has a winner: deliver it with the same test"
            )
        if chosen.executor is not None:
            if _is_sender(delivery):
                raise InputError(
                    "delivery: with an executor, pass DeliverySettings or a function that "
                    f"makes a sender (each worker makes its own), not a {type(delivery).__name__}"
                )
            rows = _RowsOutbox(self, readers, _SenderRecipe.of(cast(_Recipe, delivery)), chosen)
            return Send(ledger, chosen).deliver(rows)
        return Send(ledger, chosen).deliver(_ReadersOutbox(self, readers, delivery, chosen))

    def local_send_time(self, reader: Reader) -> datetime:
        """When ``reader`` gets the edition: its send time where they live."""
        return self._send_time_in(reader.timezone)

    def _send_time_in(self, zone: str | None) -> datetime:
        """The send time in ``zone`` (the newsletter's for None), worked out once per zone."""
        known = self._send_times
        if zone not in known:
            newsletter = self.digest.newsletter
            known[zone] = datetime.combine(
                self.digest.edition.date,
                newsletter.schedule.send_time,
                tzinfo=ZoneInfo(zone) if zone else newsletter.zone,
            )
        return known[zone]

    def _row_send_time(self, item: _Row) -> datetime:
        _, number, row = item
        zone = row.timezone if isinstance(row, Reader) else row.get("timezone")
        try:
            return self._send_time_in(zone)
        except (ValueError, KeyError, TypeError):  # not a zone: the row's own error says so
            return self.local_send_time(validate_readers([row], [number])[0])

    def label(self, address: str) -> str:
        """The subject variant's letter ``address`` gets ("" for a single subject)."""
        copies = self.copies
        return copies.variant_label(copies.subject_variant(address)) if copies.subjects else ""

    def send_chunk(self, readers: Sequence[Reader], sender: Sender) -> list[Receipt]:
        """Make each reader's message and send them in the sender's batches, dated as sent."""

        def batch(part: Sequence[Reader]) -> list[Receipt]:
            outgoing, refused = [], {}
            when = datetime.now(UTC)  # dated the moment the batch is handed over
            for reader in part:
                try:
                    data = dated(self.copies.message_bytes(reader), when)
                    outgoing.append(Outgoing(reader.address, data, self.label(reader.address)))
                except CheckError as error:  # this reader's copy only: the others go on
                    refused[reader.address] = Receipt(
                        reader.address, "refused", str(error), self.label(reader.address)
                    )
            sent = iter(sender.send(outgoing) if outgoing else [])
            return [refused.get(r.address) or next(sent) for r in part]

        def defer(rest: Sequence[Reader], why: str) -> list[Receipt]:
            return [Receipt(r.address, "deferred", why, self.label(r.address)) for r in rest]

        return until_deferred(readers, sender.batch_size, batch, defer)


class _MailingOutbox:
    """What both ways of delivering a mailing share: the edition, its subjects, the winner."""

    def __init__(
        self,
        mailing: Mailing,
        readers: Iterable[Reader | Mapping[str, Any]],
        options: SendOptions,
    ) -> None:
        copies = mailing.copies
        self.mailing, self.readers_in, self.options = mailing, readers, options
        self.key, self.content = mailing.edition_key, copies.content_key
        self.labels = [copies.variant_label(n) for n in range(len(copies.subjects))]

    def with_winner(self, label: str) -> Self:
        """Every reader not reached gets the winning subject."""
        outbox = copy.copy(self)
        outbox.mailing = self.mailing.with_subject(SUBJECT_LABELS.index(label))
        return outbox

    def readers(self) -> int | None:
        """How many readers, when they came as a list."""
        return len(self.readers_in) if isinstance(self.readers_in, Sized) else None


class _ReadersOutbox(_MailingOutbox):
    """Copies made and sent in this process, a chunk of readers at a time."""

    in_flight = 1

    def __init__(
        self,
        mailing: Mailing,
        readers: Iterable[Reader | Mapping[str, Any]],
        delivery: DeliverySettings | Sender | Callable[[], Sender],
        options: SendOptions,
    ) -> None:
        super().__init__(mailing, readers, options)
        self.delivery = delivery
        self.sender: Sender | None = None

    @contextmanager
    def opened(self) -> Iterator[Sender]:
        """The sender for the run: the one given, or one made (and closed) for it."""
        delivery = self.delivery
        if _is_sender(delivery):
            self.sender = cast(Sender, delivery)
            yield self.sender
            return
        self.sender = _SenderRecipe.of(cast(_Recipe, delivery)).make()
        try:
            yield self.sender
        finally:
            self.sender.close()

    def chunks(self) -> Iterator[list[Reader]]:
        """The readers, validated a chunk at a time."""
        return reader_chunks(self.readers_in, self.options.chunk)

    def address(self, item: Reader) -> str:
        """The reader's address."""
        return item.address

    def label(self, item: Reader) -> str:
        """The reader's subject variant."""
        return self.mailing.label(item.address)

    def local_due(self) -> Callable[[Reader], datetime] | None:
        """The send time where each reader lives, with ``due``."""
        return self.mailing.local_send_time if self.options.due else None

    def hand_over(self, batch: list[Reader]) -> Future[list[Receipt]]:
        """Make and send the batch now, in this process."""
        sender = self.sender
        assert sender is not None
        return now(lambda: self.mailing.send_chunk(batch, sender))


class _RowsOutbox(_MailingOutbox):
    """Rows handed to worker processes, each of which makes and sends its chunk."""

    def __init__(
        self,
        mailing: Mailing,
        readers: Iterable[Reader | Mapping[str, Any]],
        how: _SenderRecipe,
        options: SendOptions,
    ) -> None:
        super().__init__(mailing, readers, options)
        self.how = how
        assert options.executor is not None
        self.workers = Workers(options.executor, options.workers)
        self.in_flight = self.workers.in_flight

    def opened(self) -> AbstractContextManager[None]:
        """Nothing to hold: each worker keeps its own sender."""
        return nullcontext()

    def chunks(self) -> Iterator[list[_Row]]:
        """The rows a chunk at a time, each address checked here (the workers do the rest)."""
        return _checked_rows(self.readers_in, self.options.chunk)

    def address(self, item: _Row) -> str:
        """The row's checked address."""
        return item[0]

    def label(self, item: _Row) -> str:
        """The row's subject variant."""
        return self.mailing.label(item[0])

    def local_due(self) -> Callable[[_Row], datetime] | None:
        """The send time where each row's reader lives, with ``due``."""
        return self.mailing._row_send_time if self.options.due else None

    def hand_over(self, batch: list[_Row]) -> Future[PackedReceipts]:
        """Give the chunk to a worker, which makes and sends it and returns the receipts."""
        rows, numbers = [row for _, _, row in batch], [n for _, n, _ in batch]
        copies = self.mailing.copies
        return self.workers.submit(_deliver_rows, copies, rows, numbers, self.how)


def _address(reader: Reader) -> str:
    return reader.address


def _is_sender(delivery: object) -> bool:
    """A sender itself (not a class of senders, which is a function that makes one)."""
    return isinstance(delivery, Sender) and not isinstance(delivery, type)


_Recipe = DeliverySettings | Callable[[], Sender]


@dataclass(frozen=True)
class _SenderRecipe:
    """How a worker makes its sender (settings or a function), and a name to keep it by."""

    how: _Recipe
    key: str

    @classmethod
    def of(cls, how: _Recipe) -> _SenderRecipe:
        if isinstance(how, DeliverySettings):
            return cls(how, how.model_dump_json())
        try:
            return cls(how, hashlib.sha256(pickle.dumps(how)).hexdigest())
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            raise InputError(
                f"delivery: a function that makes a sender must pickle, to reach the workers "
                f"(a module-level function or a functools.partial of one): {error}"
            ) from None

    def make(self) -> Sender:
        return make_sender(self.how) if isinstance(self.how, DeliverySettings) else self.how()


def _deliver_rows(
    copies: Copies,
    rows: list[Reader | Mapping[str, Any]],
    numbers: list[int],
    how: _SenderRecipe,
) -> PackedReceipts:
    """In a worker: validate, make and send a chunk with this process's own sender.

    Only the receipts return, packed; a bad row is an ``InputError`` before any is sent.
    """
    readers = validate_readers(rows, numbers)
    cache = in_this_process()
    mailing = Mailing(cache.keep(copies))
    return PackedReceipts(mailing.send_chunk(readers, cache.sender(how.key, how.make)))


#: A row as the driver keeps it: its checked address, its number in the list, the row.
_Row = tuple[str, int, Reader | Mapping[str, Any]]


def _checked_rows(readers: Iterable[Reader | Mapping[str, Any]], size: int) -> Iterator[list[_Row]]:
    """Rows ``size`` at a time with their addresses checked (the workers validate the rest)."""
    remaining = iter(readers)
    first = 1
    while chunk := list(islice(remaining, size)):
        yield [(_checked_address(row, n), n, row) for n, row in enumerate(chunk, first)]
        first += len(chunk)


def _checked_address(row: Reader | Mapping[str, Any], number: int) -> str:
    """The row's address as validation writes it; a bad one is the row's ``InputError``."""
    if isinstance(row, Reader):
        return row.address
    try:
        return email_address(row["address"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return validate_readers([row], [number])[0].address
