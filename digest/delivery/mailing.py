"""Delivering personalised copies: a ``Mailing`` makes and sends each reader's copy.

Copies go through a sender (or worker processes that make and send their chunk), and every
reader is recorded in the send ledger around their batch.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from itertools import islice
from operator import itemgetter
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from digest.addresses import email_address
from digest.delivery.abtest import Decision, Gate, SubjectTest, gated, reported, test_phase
from digest.delivery.ledger import SendLedger
from digest.delivery.loop import DeliveryReport, now, run_delivery
from digest.delivery.pace import Pace
from digest.delivery.proofs import dated
from digest.delivery.providers import make_sender
from digest.delivery.senders import Outgoing, PackedReceipts, Receipt, Sender, until_deferred
from digest.delivery.settings import DeliverySettings
from digest.errors import CheckError, InputError
from digest.mail.copies import SUBJECT_LABELS, Copies, kept_in_worker, submit
from digest.mail.readers import reader_chunks, validate_readers
from digest.models import Reader
from digest.suppression.store import SuppressionList

__all__ = ["Mailing"]

Item = TypeVar("Item")


class Mailing(Copies):
    """Personalised copies of one edition, made and delivered: nobody gets it twice."""

    def deliver(
        self,
        readers: Iterable[Reader | Mapping[str, Any]],
        delivery: DeliverySettings | Sender | Callable[[], Sender],
        ledger: SendLedger | None = None,
        *,
        executor: Executor | None = None,
        workers: int | None = None,
        chunk: int = 1000,
        resend_unknown: bool = False,
        retry_refused: bool = False,
        progress: Callable[[int], None] | None = None,
        suppressions: SuppressionList | None = None,
        due: bool = False,
        at: datetime | None = None,
        pace: Pace | None = None,
        test: SubjectTest | None = None,
        events: SuppressionList | None = None,
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
        """
        if pace is None and isinstance(delivery, DeliverySettings):
            pace = Pace.from_settings(delivery, self.digest.newsletter.zone)
        gate: Callable[[str], datetime | None] | None = None
        share = 0.0
        if test is not None:
            sized = len(readers) if isinstance(readers, Sized) else None
            store = events if events is not None else suppressions
            phase = self._test_phase(test, ledger, store, at, sized)
            if isinstance(phase, Decision):
                winner = self.with_subject(SUBJECT_LABELS.index(phase.winner))
                report = winner.deliver(
                    readers, delivery, ledger, executor=executor, workers=workers, chunk=chunk,
                    resend_unknown=resend_unknown, retry_refused=retry_refused,
                    progress=progress, suppressions=suppressions, due=due, at=at, pace=pace,
                )  # fmt: skip
                report.subject_test = phase.describe()
                return report
            gate, share = phase
        elif (
            self._chosen is None
            and len(self.subjects) > 1
            and ledger is not None
            and ledger.decision(self.edition_key) is not None
        ):
            raise InputError(
                "test: this edition's subject test has a winner: deliver it with the same test"
            )
        common: dict[str, Any] = {
            "resend_unknown": resend_unknown,
            "retry_refused": retry_refused,
            "progress": progress,
            "content": self.content_key,
            "suppressions": suppressions,
            "at": at,
            "pace": pace,
        }
        if executor is not None:
            if _is_sender(delivery):
                raise InputError(
                    "delivery: with an executor, pass DeliverySettings or a function that "
                    f"makes a sender (each worker makes its own), not a {type(delivery).__name__}"
                )
            how = _SenderRecipe.of(cast(_Recipe, delivery))

            def hand_over(batch: list[_Row]) -> Future[PackedReceipts]:
                rows, numbers = [row for _, _, row in batch], [n for _, n, _ in batch]
                return submit(executor, _deliver_rows, self, rows, numbers, how)

            report = run_delivery(
                _checked_rows(readers, chunk),
                itemgetter(0),
                hand_over,
                self.edition_key,
                ledger,
                variant=lambda row: self._label(row[0]),
                due=gated(itemgetter(0), self._row_send_time if due else None, gate),
                in_flight=2 * max(1, workers or os.cpu_count() or 2),
                **common,
            )
            return reported(report, gate, share)
        sender = (
            cast(Sender, delivery)
            if _is_sender(delivery)
            else _SenderRecipe.of(cast(_Recipe, delivery)).make()
        )
        try:
            report = run_delivery(
                reader_chunks(readers, chunk),
                _address,
                lambda batch: now(lambda: self.send_chunk(batch, sender)),
                self.edition_key,
                ledger,
                variant=lambda reader: self._label(reader.address),
                due=gated(_address, self.local_send_time if due else None, gate),
                **common,
            )
            return reported(report, gate, share)
        finally:
            if sender is not delivery:
                sender.close()

    def _test_phase(
        self,
        test: SubjectTest,
        ledger: SendLedger | None,
        events: SuppressionList | None,
        at: datetime | None,
        readers: int | None,
    ) -> Decision | tuple[Gate, float]:
        """The test's winner, decided now if its time has come; else who waits, and until when."""
        labels = [self.variant_label(index) for index in range(len(self.subjects))]
        return test_phase(test, labels, self.edition_key, ledger, events, at, readers)

    def local_send_time(self, reader: Reader) -> datetime:
        """When ``reader`` gets the edition: its send time where they live."""
        return self._send_time_in(reader.timezone)

    @cached_property
    def _send_times(self) -> dict[str | None, datetime]:
        return {}

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

    def _label(self, address: str) -> str:
        return self.variant_label(self.subject_variant(address)) if self.subjects else ""

    def send_chunk(self, readers: Sequence[Reader], sender: Sender) -> list[Receipt]:
        """Make each reader's message and send them in the sender's batches, dated as sent."""

        def batch(part: Sequence[Reader]) -> list[Receipt]:
            outgoing, refused = [], {}
            when = datetime.now(UTC)  # dated the moment the batch is handed over
            for reader in part:
                try:
                    data = dated(self.message_bytes(reader), when)
                    outgoing.append(Outgoing(reader.address, data, self._label(reader.address)))
                except CheckError as error:  # this reader's copy only: the others go on
                    refused[reader.address] = Receipt(
                        reader.address, "refused", str(error), self._label(reader.address)
                    )
            sent = iter(sender.send(outgoing) if outgoing else [])
            return [refused.get(r.address) or next(sent) for r in part]

        def defer(rest: Sequence[Reader], why: str) -> list[Receipt]:
            return [Receipt(r.address, "deferred", why, self._label(r.address)) for r in rest]

        return until_deferred(readers, sender.batch_size, batch, defer)


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


# Each worker process keeps one sender per recipe, reusing its connections.
_WORKER_SENDERS: dict[str, Sender] = {}


def _deliver_rows(
    mailing: Mailing,
    rows: list[Reader | Mapping[str, Any]],
    numbers: list[int],
    how: _SenderRecipe,
) -> PackedReceipts:
    """In a worker: validate, make and send a chunk with this process's own sender.

    Only the receipts return, packed; a bad row is an ``InputError`` before any is sent.
    """
    readers = validate_readers(rows, numbers)
    kept = kept_in_worker(mailing)
    sender = _WORKER_SENDERS.get(how.key)
    if sender is None:
        sender = _WORKER_SENDERS[how.key] = how.make()
        atexit.register(sender.close)
    return PackedReceipts(kept.send_chunk(readers, sender))


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
