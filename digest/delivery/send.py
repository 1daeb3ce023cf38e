"""One way to send: ``Send(ledger, SendOptions(...)).deliver(outbox)``.

Whatever is sent (a built ``.eml`` to a list, ``digest.delivery.eml``; personalised copies,
``digest.delivery.mailing``) is an *outbox*: the edition's key, what its copies say, its
subject variants, and how a batch of its recipients is made and handed over. ``Send`` does
the rest the same way for both: the A/B test's phase (a sample now, the winner later), a
guarded send's phase (``digest.delivery.guard``: a sample, then the rest if it went well), each
reader's moment and the gates, then ``run_delivery`` (the ledger's claims and records,
the suppression list, the pace) and the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from digest.delivery.abtest import gated, reported, test_phase
from digest.delivery.guard import GuardPhase, GuardSettings, guard_phase
from digest.delivery.loop import DeliveryReport, run_delivery
from digest.delivery.subject_test import Decision, Gate, SubjectTest

if TYPE_CHECKING:
    from digest.delivery.ledger import SendLedger
    from digest.delivery.pace import Pace
    from digest.delivery.senders import PackedReceipts, Receipt
    from digest.suppression.store import SuppressionList
    from digest.suppression.tokens import UnsubscribeTokens

__all__ = ["Outbox", "Send", "SendOptions"]

Item = TypeVar("Item")


@dataclass(frozen=True)
class SendOptions:
    """How one send runs: what it may retry, whom it leaves out, when each reader is due."""

    #: Make every message but hand none over, record nothing and start no test.
    dry_run: bool = False
    #: Send again to readers whose state a killed run left unknown (they may get it twice).
    resend_unknown: bool = False
    #: Send again to readers the server refused.
    retry_refused: bool = False
    #: Called with the number of readers done after each batch.
    progress: Callable[[int], None] | None = None
    #: Readers on this list are left out (read again before each chunk) and named.
    suppressions: SuppressionList | None = None
    #: Signs each reader's unsubscribe token (a built ``.eml`` with ``{token}`` needs them).
    tokens: UnsubscribeTokens | None = None
    #: Each reader at their own moment: True for the send time where they live (copies), or
    #: each address's moment (a ``.eml``: ``local_send_times``); those not due wait.
    due: bool | Callable[[str], datetime] | None = False
    #: The moment of the run (now by default).
    at: datetime | None = None
    #: The sending calendar, hourly cap and warm-up: some readers may be held for later.
    pace: Pace | None = None
    #: An A/B test of the subjects: its sample now, the winner after its wait.
    test: SubjectTest | None = None
    #: Where the opens and clicks that decide a test, and the bounces and complaints a guard
    #: reads, are recorded (the webhooks' list).
    events: SuppressionList | None = None
    #: A guarded send: its sample now, the rest after the wait if the sample went well.
    guard: GuardSettings | None = None
    #: Let a guarded send's rest go by hand, whatever its sample did.
    release_guard: bool = False
    #: Worker processes (a process pool, a Dask client's executor) that make and send chunks.
    executor: Executor | None = None
    #: The executor's workers (by default the machine's cores).
    workers: int | None = None
    #: Readers per chunk handed to a worker or validated at once.
    chunk: int = 1000


class Outbox(Protocol, Generic[Item]):
    """What ``Send`` delivers: an edition's copies and how a batch of them is handed over."""

    @property
    def key(self) -> str:
        """What the ledger knows the edition by."""
        ...

    @property
    def content(self) -> str:
        """What the copies say (compared with the first run's)."""
        ...

    @property
    def labels(self) -> Sequence[str]:
        """The subject variants' labels (A, B...), or none for a single subject."""
        ...

    @property
    def in_flight(self) -> int:
        """How many chunks may be out at once."""
        ...

    def with_winner(self, label: str) -> Outbox[Item]:
        """The outbox with every reader given the winning subject ``label``."""
        ...

    def opened(self) -> AbstractContextManager[object]:
        """Hold what the hand-over needs (a sender, a thread) for the run."""
        ...

    def chunks(self) -> Iterable[Sequence[Item]]:
        """The recipients, a chunk at a time."""
        ...

    def address(self, item: Item) -> str:
        """The address of a recipient."""
        ...

    def label(self, item: Item) -> str:
        """The subject variant a recipient gets ("" for a single subject)."""
        ...

    def readers(self) -> int | None:
        """How many recipients there are, when that is known before sending."""
        ...

    def local_due(self) -> Callable[[Item], datetime] | None:
        """Each recipient's moment, when the options say each is due at their own."""
        ...

    def hand_over(self, batch: list[Item]) -> Future[list[Receipt]] | Future[PackedReceipts]:
        """Make the batch's messages and hand them over (receipts, or the send's error)."""
        ...


class Send:
    """One send of an edition: the A/B test's phase, the gate, the ledger's loop, the report."""

    def __init__(self, ledger: SendLedger | None, options: SendOptions | None = None) -> None:
        """Send with ``ledger`` (never anyone twice) and ``options``."""
        self.ledger = ledger
        self.options = options or SendOptions()

    def deliver(self, outbox: Outbox[Item]) -> DeliveryReport:
        """Deliver ``outbox`` to every recipient not reached yet, as the options say."""
        options = self.options
        gate: Gate | None = None
        share, decision = 0.0, None
        if options.test is not None and not options.dry_run:
            # Senders sharing an edition (PostgreSQL) decide its winner one at a time.
            with nullcontext() if self.ledger is None else self.ledger.deciding(outbox.key):
                phase = test_phase(
                    options.test,
                    outbox.labels,
                    outbox.key,
                    self.ledger,
                    options.events,
                    options.at,
                    outbox.readers(),
                )
            if isinstance(phase, Decision):
                decision = phase
                outbox = outbox.with_winner(phase.winner)
            else:
                gate, share = phase
        guard: GuardPhase | None = None
        if options.guard is not None and not options.dry_run:
            guard = guard_phase(
                options.guard,
                outbox.key,
                self.ledger,
                options.events,
                options.at,
                outbox.readers(),
                options.release_guard,
            )
        with outbox.opened():
            report = run_delivery(
                outbox.chunks(),
                outbox.address,
                outbox.hand_over,
                outbox.key,
                None if options.dry_run else self.ledger,
                variant=outbox.label,
                resend_unknown=options.resend_unknown,
                retry_refused=options.retry_refused,
                progress=options.progress,
                content=outbox.content,
                suppressions=options.suppressions,
                due=gated(
                    outbox.address,
                    outbox.local_due(),
                    both(gate, None if guard is None else guard.gate),
                ),
                at=options.at,
                pace=options.pace,
                in_flight=outbox.in_flight,
            )
        if decision is not None:
            report.subject_test = decision.describe()
        if guard is not None:
            report.guard = guard.said
        return reported(report, gate, share)


def both(first: Gate | None, second: Gate | None) -> Gate | None:
    """A gate that holds an address as long as either of two gates holds it."""
    if first is None or second is None:
        return first or second

    def gate(address: str) -> datetime | None:
        held = [moment for moment in (first(address), second(address)) if moment is not None]
        return max(held, default=None)

    return gate
