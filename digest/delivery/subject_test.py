"""The types of an A/B test of subjects: how it runs, its settings, its decision and the rule.

Low in ``delivery`` so that the settings, the ledger and ``abtest`` (which runs a test
against them) can all use them; see ``digest.delivery.abtest`` for how a test runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Decision",
    "Gate",
    "SubjectTest",
    "SubjectTestSettings",
    "decide",
]

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
