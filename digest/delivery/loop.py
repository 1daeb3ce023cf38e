"""Delivery: chunks of recipients through a sender, each recorded in the ledger around it.

``run_delivery`` is the one loop behind ``send_eml`` (one built message to a list) and
``Mailing.deliver`` (personalised copies, made and sent by worker processes). For each chunk
it leaves out the readers on the suppression list (read again for every chunk, so an
unsubscribe that arrives during a long send is honoured for the rest), asks the ledger what
it knows, skips those already sent or refused, sets aside those whose outcome is unknown,
records the rest as pending (no more than the pace allows: the sending calendar, the hourly
cap, the warm-up), hands the chunk over (``submit``: now, or to a worker) and
records the receipts. A deferred message (never handed over) stops the run after the chunks
in flight: the provider is down, and the next run picks up from there.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from digest.addresses import address_key
from digest.delivery.ledger import SendLedger
from digest.delivery.pace import Allowance, Pace
from digest.delivery.senders import PackedReceipts, Receipt
from digest.errors import InputError, SendError
from digest.suppression.store import SuppressionList

__all__ = ["DeliveryReport", "now", "run_delivery"]


Item = TypeVar("Item")


@dataclass
class DeliveryReport:
    """What a send did: counts, the refusals with their reasons, the unknown outcomes."""

    edition: str
    #: How many messages were accepted in this run.
    sent: int = 0
    #: Refused in this run: address → the provider's reason.
    refused: dict[str, str] = field(default_factory=dict)
    #: Handed over with no answer, in this run or a stopped one: not resent unless asked.
    unknown: list[str] = field(default_factory=list)
    #: Skipped because an earlier run sent (or was refused) them.
    skipped: int = 0
    #: Claimed by another sender sharing this edition now (a PostgreSQL store): theirs to send.
    elsewhere: int = 0
    #: Left out because they are on the suppression list (unsubscribed, bounced, complained).
    suppressed: list[str] = field(default_factory=list)
    #: Not due yet (their local send time has not come): a later run sends them.
    waiting: int = 0
    #: When the first of those is due.
    next_due: datetime | None = None
    #: Due, but held back by the pace (the calendar, the hourly cap, the warm-up).
    held: int = 0
    #: What held them, and when a run may send more.
    held_reason: str = ""
    held_until: datetime | None = None
    #: Never handed over (the provider was unreachable): they go out on the next run.
    deferred: int = 0
    #: Why the run stopped early, when it did.
    stopped: str = ""
    #: Accepted in this run per subject variant ("" when there is one subject).
    sent_by_variant: Counter[str] = field(default_factory=Counter)
    #: The edition's content differs from what its first run sent (it was rebuilt): readers
    #: reached before keep what they got; the rest get this content.
    content_changed: bool = False
    #: What an A/B test of subjects did: testing on a sample, or which subject won and why.
    subject_test: str = ""
    #: What a guarded send did: sending to its sample first, or released (by the rule or by hand).
    guard: str = ""

    @property
    def complete(self) -> bool:
        """Whether everyone was reached: nothing refused, unknown or left for later."""
        return not (self.refused or self.unknown or self.deferred or self.stopped)

    def table(self, dry_run: bool = False) -> str:
        """The report as a small table for a terminal (a dry run's says what would be sent)."""
        verb = "would send" if dry_run else "sent"
        rows = [
            (verb, self.sent),
            ("refused", len(self.refused)),
            ("unknown", len(self.unknown)),
            ("deferred", self.deferred),
            ("skipped (earlier runs)", self.skipped),
        ]
        if self.elsewhere:
            rows.append(("sent by other senders", self.elsewhere))
        if self.suppressed:
            rows.append(("suppressed", len(self.suppressed)))
        if self.waiting:
            rows.append(("not due yet", self.waiting))
        if self.held:
            rows.append(("held by the pace", self.held))
        if len(self.sent_by_variant) > 1:
            rows += [(f"{verb}, subject {v}", n) for v, n in sorted(self.sent_by_variant.items())]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {count:>9,}" for name, count in rows)


class _Seen:
    """The addresses met in a run: a set while there are few, then a temporary SQLite table.

    A run without a ledger must remember every address it sent, to send nobody twice; past
    ``in_memory`` addresses it moves them to a table in a temporary file (SQLite's page cache
    is bounded), so a run of a million keeps the driver's memory flat.
    """

    def __init__(self, in_memory: int = 50_000) -> None:
        self.keys: set[str] = set()
        self.in_memory = in_memory
        self.db: sqlite3.Connection | None = None

    def known(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` met before."""
        if self.db is None:
            return {key for key in keys if key in self.keys}
        rows = self.db.execute(
            "SELECT key FROM seen WHERE key IN (SELECT value FROM json_each(?))",
            (json.dumps(keys),),
        )
        return {key for (key,) in rows}

    def add(self, keys: Sequence[str]) -> None:
        """Remember ``keys``."""
        if self.db is None:
            self.keys.update(keys)
            if len(self.keys) <= self.in_memory:
                return
            self.db = sqlite3.connect("")  # a temporary file, deleted when closed
            self.db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY) WITHOUT ROWID")
            keys, self.keys = list(self.keys), set()
        with self.db:
            self.db.execute(
                "INSERT OR IGNORE INTO seen SELECT value FROM json_each(?)", (json.dumps(keys),)
            )

    def close(self) -> None:
        """Forget them (the temporary file goes with the connection)."""
        if self.db is not None:
            self.db.close()


def now(work: Callable[[], list[Receipt]]) -> Future[list[Receipt]]:
    """Do ``work`` in this process: a future holding its receipts or its ``SendError``."""
    future: Future[list[Receipt]] = Future()
    try:
        future.set_result(work())
    except SendError as error:
        future.set_exception(error)
    return future


@dataclass
class _Chunk(Generic[Item]):
    addresses: list[str]
    future: Future[list[Receipt]] | Future[PackedReceipts]


def run_delivery(
    chunks: Iterable[Sequence[Item]],
    address: Callable[[Item], str],
    submit: Callable[[list[Item]], Future[list[Receipt]] | Future[PackedReceipts]],
    edition: str,
    ledger: SendLedger | None = None,
    *,
    variant: Callable[[Item], str] = lambda _: "",
    resend_unknown: bool = False,
    retry_refused: bool = False,
    in_flight: int = 1,
    progress: Callable[[int], None] | None = None,
    content: str = "",
    suppressions: SuppressionList | None = None,
    due: Callable[[Item], datetime] | None = None,
    at: datetime | None = None,
    pace: Pace | None = None,
) -> DeliveryReport:
    """Send every chunk not already sent, recording each around its hand-over.

    ``in_flight`` chunks may be out at once (two per worker keeps workers busy); a kill
    leaves at most those chunks' addresses pending, to be reported as unknown. With a
    ``ledger``, the run holds the edition's lock throughout (another run of the same edition
    at the same time is refused with a ``SendError`` naming it), and ``content`` (a hash of
    what is sent) is compared with the first run's. Readers on ``suppressions`` are never
    handed over: the list is read before each chunk, and they are named in the report.
    With ``due`` (each item's moment, such as the reader's local send time), only items due
    by ``at`` (the time of each chunk by default) are sent; the others are counted as
    waiting, never claimed, for a later run (``digest send --due`` from cron). With a
    ``pace``, the run hands over no more than it allows at ``at`` (counting what the ledger
    handed over this hour and day, across editions): the rest are counted as held. With
    ``at``, the ledger's rows are dated then (a run replayed on a clock of its own).
    """
    run = _Run(
        address,
        variant,
        submit,
        edition,
        ledger,
        progress,
        resend_unknown,
        retry_refused,
        suppressions,
        due,
        at,
    )
    if ledger is None:
        if pace is not None:
            run.allow(pace.allowance(at or datetime.now(UTC), lambda _: 0))
        return run.deliver(chunks, in_flight)
    # On PostgreSQL senders share an edition; only a paced run holds a lock (the pace counts
    # every run's hand-overs).
    with ledger.lock(edition, paced=pace is not None):
        if pace is not None:
            run.allow(pace.allowance(at or datetime.now(UTC), ledger.handed_over))
        run.report.content_changed = ledger.content_changed(edition, content)
        return run.deliver(chunks, in_flight)


@dataclass
class _Run(Generic[Item]):
    """One run of a delivery: what it claims, hands over and records."""

    address: Callable[[Item], str]
    variant: Callable[[Item], str]
    submit: Callable[[list[Item]], Future[list[Receipt]] | Future[PackedReceipts]]
    edition: str
    ledger: SendLedger | None
    progress: Callable[[int], None] | None
    resend_unknown: bool
    retry_refused: bool
    suppressions: SuppressionList | None
    due: Callable[[Item], datetime] | None = None
    at: datetime | None = None
    name: str = field(default_factory=SendLedger.new_run)
    #: Addresses met in this run that the ledger does not remember: all of them without one;
    #: with one, those waiting, suppressed or held.
    seen: _Seen = field(default_factory=lambda: _Seen())
    #: How many more this run may claim (None: no limit), by the pace.
    left: int | None = None

    def __post_init__(self) -> None:
        self.report = DeliveryReport(self.edition)

    def allow(self, allowance: Allowance) -> None:
        """Claim no more than ``allowance`` lets go in this run."""
        self.left = allowance.limit
        self.report.held_reason = allowance.reason
        self.report.held_until = allowance.until

    def deliver(self, chunks: Iterable[Sequence[Item]], in_flight: int) -> DeliveryReport:
        """Claim, hand over and record every chunk; the report of the run."""
        try:
            return self._deliver(chunks, in_flight)
        finally:
            self.seen.close()

    def _deliver(self, chunks: Iterable[Sequence[Item]], in_flight: int) -> DeliveryReport:
        out: deque[_Chunk[Item]] = deque()
        try:
            for items in chunks:
                if self.report.stopped:
                    break
                todo = self.claim(items)
                if self.progress is not None and len(todo) < len(items):
                    self.progress(len(items) - len(todo))  # skipped, set aside or repeated
                if not todo:
                    continue
                out.append(_Chunk([self.address(item) for item in todo], self.submit(todo)))
                while len(out) >= in_flight:
                    self.collect(out.popleft())
            while out:
                self.collect(out.popleft())
        except BaseException:
            # A worker failed (or the run was interrupted): record what the other chunks in
            # flight did before giving up; what stays pending is reported as unknown next time.
            for chunk in out:
                try:
                    self.collect(chunk)
                except Exception:  # its rows stay pending: unknown, never resent on their own
                    continue
            raise
        return self.report

    def collect(self, chunk: _Chunk[Item]) -> None:
        """Record what became of a chunk, in the ledger and the report."""
        report = self.report
        try:
            result = chunk.future.result()
            receipts = (
                result.unpack(chunk.addresses) if isinstance(result, PackedReceipts) else result
            )
        except SendError as error:
            receipts = [Receipt(a, "deferred", str(error)) for a in chunk.addresses]
            report.stopped = report.stopped or str(error)
        except InputError:  # a worker found a bad row before sending any of its chunk
            if self.ledger is not None:
                deferred = [Receipt(a, "deferred", "") for a in chunk.addresses]
                self.ledger.record(self.edition, deferred, self.at)
            raise
        if self.ledger is not None:
            self.ledger.record(self.edition, receipts, self.at)
        for receipt in receipts:
            if receipt.state == "sent":
                report.sent += 1
                report.sent_by_variant[receipt.variant] += 1
            elif receipt.state == "refused":
                report.refused[receipt.address] = receipt.detail
            elif receipt.state == "unknown":
                report.unknown.append(receipt.address)
            else:
                report.deferred += 1
                if receipt.stops:
                    report.stopped = report.stopped or receipt.detail
        if self.progress is not None:
            self.progress(len(chunk.addresses))

    def claim(self, items: Sequence[Item]) -> list[Item]:
        """The items of a chunk to send now, claimed in the ledger as pending.

        Left out: addresses sent or refused before (unless ``retry_refused``), those left
        unknown (unless ``resend_unknown``), those another run going on at the same time has
        claimed, repeats within this run (one reader however they spell their address), and
        suppressed readers.
        """
        firsts: dict[str, Item] = {}
        moment = (self.at or datetime.now(UTC)) if self.due is not None else None
        keys = [address_key(self.address(item)) for item in items]
        before = self.seen.known(keys)
        met: list[str] = []  # met in this run and never in the ledger (or no ledger)
        for key, item in zip(keys, items, strict=True):
            if key in before or key in firsts:
                continue
            if self.due is not None and moment is not None:
                when = self.due(item)
                if when > moment:  # not yet: never claimed, a later run sends it
                    met.append(key)
                    self.report.waiting += 1
                    nearest = self.report.next_due
                    self.report.next_due = when if nearest is None else min(nearest, when)
                    continue
            firsts[key] = item
        if self.suppressions is not None:
            blocked = self.suppressions.suppressed(list(firsts))
            for key in [key for key in firsts if key in blocked]:  # in the readers' order
                met.append(key)  # named once however often it comes
                self.report.suppressed.append(self.address(firsts.pop(key)))
        if self.ledger is None:
            self.seen.add(met + list(firsts))
            if self.left is not None and len(firsts) > self.left:
                self.report.held += len(firsts) - self.left
                firsts = dict(list(firsts.items())[: self.left])
            if self.left is not None:
                self.left -= len(firsts)
            return list(firsts.values())
        others = self.ledger.claim(
            self.edition,
            list(firsts),
            [self.variant(item) for item in firsts.values()],
            self.name,
            take_unknown=self.resend_unknown,
            take_refused=self.retry_refused,
            limit=self.left,
            when=self.at,
        )
        for key, state in others.items():
            if state in ("sent", "refused"):
                self.report.skipped += 1
            elif state == "held":
                self.report.held += 1
                met.append(key)
            elif state == "claimed":  # another sender, alive, has it now
                self.report.elsewhere += 1
            elif state != "this-run":  # pending or unknown: another run has it, or had it
                self.report.unknown.append(key)
        self.seen.add(met)
        todo = [item for key, item in firsts.items() if key not in others]
        if self.left is not None:
            self.left -= len(todo)
        return todo
