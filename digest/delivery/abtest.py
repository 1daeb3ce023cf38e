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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Decision", "SubjectTest", "decide"]


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
