"""A/B subjects with a winner: a sample gets the variants, then everyone else the winner.

A ``SubjectTest`` given to ``Mailing.deliver`` with two to four subjects works in two phases,
each run of the send (from cron, like ``--due``) doing what its moment asks:

1. **The test.** The first run notes when the test started (in the send ledger). Readers in
   the sample (``sample`` of the list by a hash of the edition and their address, at most
   ``sample_size`` of them) get their variant (A, B, C or D, also by hash); the others wait.
2. **The winner.** Once ``wait_hours`` have passed (or at once, when ``winner`` names one by
   hand), the winner is decided by the rule below, recorded in the ledger with the counts it
   was decided from, and every reader not reached yet gets the winning subject.

The rule (``decide``): each variant's rate is the share of the readers it was sent to who
clicked (``metric = "clicks"``, the default: Apple Mail's privacy protection loads every
picture, so opens overstate) or opened, as the providers' webhooks reported it (recorded with
the suppression list's events, matched to the ledger by each message's provider id). The
highest rate wins; a tie goes to the variant more readers engaged with, then to the earlier
letter. When no reader of any variant engaged, the first subject (A) wins, and the decision
says so. A choice by hand always wins over the rule, even after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from digest.delivery.subject_test import (
    Decision,
    Gate,
    SubjectTest,
    SubjectTestSettings,
    decide,
)
from digest.errors import InputError

if TYPE_CHECKING:
    from digest.delivery.ledger import SendLedger
    from digest.delivery.loop import DeliveryReport
    from digest.suppression.events import Engagement
    from digest.suppression.store import SuppressionList

__all__ = [
    "Decision",
    "Gate",
    "SubjectTest",
    "SubjectTestSettings",
    "decide",
    "gated",
    "reported",
    "test_phase",
]

Item = TypeVar("Item")


def test_phase(
    test: SubjectTest,
    labels: Sequence[str],
    edition: str,
    ledger: SendLedger | None,
    events: SuppressionList | None,
    at: datetime | None = None,
    readers: int | None = None,
) -> Decision | tuple[Gate, float]:
    """Where an edition's test stands at ``at`` (now): its winner, or who waits and until when.

    The winner is decided (and recorded in ``ledger``) once ``wait_hours`` have passed since
    the first run, or at once when ``test.winner`` names one; until then the gate holds every
    address outside the sample back, and the share says how much of the list the sample is.
    """
    if not 2 <= len(labels) <= 4:
        raise InputError(f"test: an A/B test needs two to four subjects, not {len(labels)}")
    if ledger is None:
        raise InputError("test: needs a send ledger (it keeps the test's start and winner)")
    if test.winner is not None and test.winner not in labels:
        raise InputError(f"test.winner: no subject {test.winner!r} (there are {list(labels)})")
    if test.winner is None and events is None:
        raise InputError(
            "test: the winner is decided from opens and clicks: pass events (the "
            "suppression list the webhooks record into)"
        )
    if test.sample_size is not None and readers is None:
        raise InputError(
            "test.sample_size: pass the readers as a list (the sample is a share of its length)"
        )
    moment = at or datetime.now(UTC)
    kind: Engagement = "clicked" if test.metric == "clicks" else "opened"

    def decided(how: str | None) -> Decision:
        sent = ledger.sent_variants(edition)
        engaged = events.engaged([m for _, m in sent], kind) if events is not None else set()
        decision = decide(labels, sent, engaged, test.metric, moment)
        if how is not None:  # by hand: the counts as they stand, for the record
            decision = replace(decision, winner=test.winner or decision.winner, how=how)
        ledger.record_decision(edition, decision)
        return decision

    recorded = ledger.decision(edition)
    if test.winner is not None:
        if recorded is not None and (recorded.how, recorded.winner) == ("by hand", test.winner):
            return recorded
        return decided("by hand")
    if recorded is not None:
        return recorded
    until = ledger.test_started(edition, moment) + timedelta(hours=test.wait_hours)
    if moment >= until:
        return decided(None)
    share = test.sample
    if test.sample_size is not None and readers:
        share = min(share, test.sample_size / readers)
    sample = test.model_copy(update={"sample": share})

    def gate(address: str) -> datetime | None:
        return None if sample.in_sample(edition, address) else until

    return gate, share


#: Before any send time: "now", for a reader without one.
_ALWAYS = datetime(1970, 1, 1, tzinfo=UTC)


def gated(
    address: Callable[[Item], str],
    local: Callable[[Item], datetime] | None,
    gate: Gate | None,
) -> Callable[[Item], datetime] | None:
    """When each reader is due: their local send time, and no earlier than a test lets them."""
    if gate is None:
        return local

    def due(item: Item) -> datetime:
        moment = local(item) if local is not None else _ALWAYS
        held = gate(address(item))
        return moment if held is None or held <= moment else held

    return due


def reported(report: DeliveryReport, gate: Gate | None, share: float) -> DeliveryReport:
    """The report of a test's first phase, saying so."""
    if gate is not None:
        due = report.next_due
        when = f"{due.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if due is not None else "later"
        report.subject_test = (
            f"testing the subjects on {share:.0%} of the list; the winner is decided from {when}"
        )
    return report
