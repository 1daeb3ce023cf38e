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

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from digest.errors import InputError

if TYPE_CHECKING:
    from digest.delivery.ledger import SendLedger
    from digest.delivery.loop import DeliveryReport
    from digest.suppression.events import Engagement
    from digest.suppression.store import SuppressionList

__all__ = [
    "Decision",
    "SubjectTest",
    "SubjectTestSettings",
    "decide",
    "test_phase",
]

Item = TypeVar("Item")

#: A gate: when an address may be sent (None: now), while a test waits for its winner.
Gate = Callable[[str], "datetime | None"]


class SubjectTest(BaseModel):
    """How an A/B test of subjects runs: the sample, the wait, what decides, a choice by hand."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The share of the list that gets the test (by a hash of the edition and the address).
    sample: float = Field(default=0.2, gt=0, le=1)
    #: At most this many readers in the sample, whatever the share.
    sample_size: int | None = Field(default=None, ge=1)
    #: How long after the test starts the winner is decided.
    wait_hours: float = Field(default=3, ge=0, le=24 * 14)
    #: What decides: the share of readers who clicked, or who opened.
    metric: Literal["clicks", "opens"] = "clicks"
    #: A winner chosen by hand (``"B"``): it goes to the rest at once, whatever the rule says.
    winner: str | None = Field(default=None, pattern=r"^[A-D]$")

    def in_sample(self, edition: str, address: str) -> bool:
        """Whether ``address`` is in this edition's sample (the share, before any size cap)."""
        seed = f"{edition}\nsample\n{address.lower()}".encode()
        fraction = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") / 2**64
        return fraction < self.sample


class SubjectTestSettings(SubjectTest):
    """An A/B test of subjects: the subjects ``digest build`` writes, and how the test runs."""

    #: Two to four subject templates (Jinja, like ``subject.txt.j2``), A, B, C and D in order.
    subjects: tuple[Annotated[str, Field(min_length=1, max_length=1000)], ...] = Field(
        min_length=2, max_length=4
    )

    def test(self) -> SubjectTest:
        """How the test runs, without the subjects."""
        return SubjectTest(**self.model_dump(exclude={"subjects"}))


@dataclass(frozen=True)
class Decision:
    """The winner of a test, how it was decided, and from what."""

    winner: str
    #: ``rule``, ``by hand``, or ``no events`` (nobody engaged: the first subject).
    how: str
    decided: datetime
    #: Each variant's readers sent and readers who engaged (clicked or opened).
    counts: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    metric: str = "clicks"

    def describe(self) -> str:
        """One line for a terminal or ``digest history``."""
        verb = "clicked" if self.metric == "clicks" else "opened"
        shares = ", ".join(
            f"{label} {engaged}/{sent} {verb} ({100 * engaged / sent if sent else 0:.1f} %)"
            for label, (sent, engaged) in sorted(self.counts.items())
        )
        when = self.decided.strftime("%Y-%m-%d %H:%M UTC")
        said = {"rule": "won", "by hand": "chosen by hand", "no events": "won: nobody engaged"}
        return f"subject {self.winner} {said.get(self.how, self.how)} on {when}" + (
            f"; {shares}" if shares else ""
        )


def decide(
    labels: Iterable[str],
    sent: Iterable[tuple[str, str]],
    engaged: set[str],
    metric: str,
    decided: datetime,
) -> Decision:
    """The rule: the highest share of engaged readers wins (ties: more readers, then A).

    ``sent`` holds each sample reader's (variant, provider message id); ``engaged`` the
    message ids a reader clicked or opened.
    """
    counts = {label: [0, 0] for label in labels}
    for variant, message_id in sent:
        if variant in counts:
            counts[variant][0] += 1
            counts[variant][1] += message_id in engaged
    final = {label: (total, hits) for label, (total, hits) in counts.items()}
    if not any(hits for _, hits in final.values()):
        return Decision(min(final), "no events", decided, final, metric)
    order = sorted(final, key=lambda label: (-_rate(final[label]), -final[label][1], label))
    return Decision(order[0], "rule", decided, final, metric)


def _rate(count: tuple[int, int]) -> float:
    sent, engaged = count
    return engaged / sent if sent else 0.0


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
