"""Delivering personalised copies: a ``Mailing`` makes and sends each reader's copy.

Copies go through a sender (or worker processes that make and send their chunk), and every
reader is recorded in the send ledger around their batch.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from digest.delivery.ledger import SendLedger
from digest.delivery.loop import DeliveryReport, now, run_delivery
from digest.delivery.pace import Pace
from digest.delivery.proofs import dated
from digest.delivery.providers import make_sender
from digest.delivery.senders import Outgoing, Receipt, Sender, until_deferred
from digest.delivery.settings import DeliverySettings
from digest.errors import CheckError, InputError
from digest.mail.copies import Copies, kept_in_worker, submit
from digest.mail.readers import reader_chunks
from digest.models import Reader
from digest.suppression.store import SuppressionList

__all__ = ["Mailing"]


class Mailing(Copies):
    """Personalised copies of one edition, made and delivered: nobody gets it twice."""

    def deliver(
        self,
        readers: Iterable[Reader | Mapping[str, Any]],
        delivery: DeliverySettings | Sender,
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
    ) -> DeliveryReport:
        """Make and send each reader's copy, recorded in ``ledger``: nobody gets it twice.

        ``readers`` may be any iterable (a CSV file's rows, a database cursor); they are
        validated in bulk, a chunk at a time. With an ``executor`` (a process pool, or a Dask
        ``distributed`` client's executor), each worker makes *and sends* its chunk with its
        own sender (so ``delivery`` must be ``DeliverySettings``) and returns only receipts;
        at most two chunks per worker are out at once. Readers on ``suppressions`` are left
        out (the list is read again before each chunk) and named in ``report.suppressed``.
        With ``due``, a reader gets the edition at the newsletter's send time in their own
        ``timezone`` (the newsletter's when they have none): only those due by ``at`` (now)
        are sent, the others counted in ``report.waiting`` for a later run. The ``pace``
        (the sending calendar, hourly cap and warm-up of ``delivery`` when it is
        ``DeliverySettings``, in the newsletter's zone) may hold some for a later run too
        (``report.held``).
        """
        if pace is None and isinstance(delivery, DeliverySettings):
            pace = Pace.from_settings(delivery, self.digest.newsletter.zone)
        chunks = reader_chunks(readers, chunk)
        common: dict[str, Any] = {
            "variant": self._label,
            "resend_unknown": resend_unknown,
            "retry_refused": retry_refused,
            "progress": progress,
            "content": self.key,
            "suppressions": suppressions,
            "due": self.local_send_time if due else None,
            "at": at,
            "pace": pace,
        }
        if executor is not None:
            if not isinstance(delivery, DeliverySettings):
                raise InputError(
                    "delivery: with an executor, pass DeliverySettings (each worker makes "
                    f"its own sender), not a {type(delivery).__name__}"
                )
            settings = delivery
            in_flight = 2 * max(1, workers or os.cpu_count() or 2)
            return run_delivery(
                chunks,
                _address,
                lambda batch: submit(executor, _deliver_chunk, self, batch, settings),
                self.edition_key,
                ledger,
                in_flight=in_flight,
                **common,
            )
        sender = make_sender(delivery) if isinstance(delivery, DeliverySettings) else delivery
        try:
            return run_delivery(
                chunks,
                _address,
                lambda batch: now(lambda: self.send_chunk(batch, sender)),
                self.edition_key,
                ledger,
                **common,
            )
        finally:
            if sender is not delivery:
                sender.close()

    def local_send_time(self, reader: Reader) -> datetime:
        """When ``reader`` gets the edition: its send time where they live."""
        newsletter = self.digest.newsletter
        zone = ZoneInfo(reader.timezone) if reader.timezone else newsletter.zone
        return datetime.combine(
            self.digest.edition.date, newsletter.schedule.send_time, tzinfo=zone
        )

    def _label(self, reader: Reader) -> str:
        return self.variant_label(self.subject_variant(reader)) if self.subjects else ""

    def send_chunk(self, readers: Sequence[Reader], sender: Sender) -> list[Receipt]:
        """Make each reader's message and send them in the sender's batches, dated as sent."""

        def batch(part: Sequence[Reader]) -> list[Receipt]:
            outgoing, refused = [], {}
            when = datetime.now(UTC)  # dated the moment the batch is handed over
            for reader in part:
                try:
                    data = dated(self.message_bytes(reader), when)
                    outgoing.append(Outgoing(reader.address, data, self._label(reader)))
                except CheckError as error:  # this reader's copy only: the others go on
                    refused[reader.address] = Receipt(
                        reader.address, "refused", str(error), self._label(reader)
                    )
            sent = iter(sender.send(outgoing) if outgoing else [])
            return [refused.get(r.address) or next(sent) for r in part]

        def defer(rest: Sequence[Reader], why: str) -> list[Receipt]:
            return [Receipt(r.address, "deferred", why, self._label(r)) for r in rest]

        return until_deferred(readers, sender.batch_size, batch, defer)


def _address(reader: Reader) -> str:
    return reader.address


# Each worker process keeps one sender per delivery settings, reusing its connections.
_WORKER_SENDERS: dict[str, Sender] = {}


def _deliver_chunk(
    mailing: Mailing, readers: list[Reader], settings: DeliverySettings
) -> list[Receipt]:
    """In a worker: make and send a chunk with this process's own sender; only receipts return."""
    kept = kept_in_worker(mailing)
    key = settings.model_dump_json()
    sender = _WORKER_SENDERS.get(key)
    if sender is None:
        sender = _WORKER_SENDERS[key] = make_sender(settings)
        atexit.register(sender.close)
    return kept.send_chunk(readers, sender)
