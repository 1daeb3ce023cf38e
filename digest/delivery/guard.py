"""A guarded send: a sample first, then the rest only while its bounces and complaints stay low.

With ``[delivery.guard]``, each run of a send (from cron, like ``--due``) does what the
guard's moment asks, the way an A/B test of subjects does (``digest.delivery.abtest``):

1. **The sample.** The first run notes when the guard started (in the send ledger) and sends
   only to the sample: ``sample`` of the list, chosen by a hash of the edition and the address
   as the A/B test's sample is (so a guard's sample no larger than the test's lies within it),
   at most ``sample_size`` readers. The others wait, counted as not due yet.
2. **The reading.** A run once ``wait_minutes`` have passed reads the sample: of the readers
   handed over so far, how many hard-bounced (refused at hand-over with a permanent answer,
   such as an SMTP 550 to their address, or a ``hard-bounce`` event since the guard started,
   from a provider's webhook or a DSN read by ``digest suppress import-mail``) and how many
   complained (a ``complaint`` event since it started). A rate over its limit stops the send:
   the ledger records why, and that run and every later one raise ``GuardError`` (exit 10)
   with the reading, until an editor releases it by hand (``digest send --release-guard``).
   Otherwise the guard is released and that run sends to everyone not reached yet.

A run before the wait is over sends the sample readers not reached yet and nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from digest.delivery.subject_test import Gate, SubjectTest
from digest.errors import DigestError, GuardError, InputError
from digest.store.connection import is_sqlite, transaction

if TYPE_CHECKING:
    from digest.delivery.ledger import SendLedger
    from digest.suppression.events import Event
    from digest.suppression.store import SuppressionList

__all__ = ["GuardPhase", "GuardReading", "GuardSettings", "guard_phase", "read_sample"]

#: Even with no wait, the rest goes on a later run: the sample's answers are read then.
_LATER = timedelta(seconds=1)


class GuardSettings(BaseModel):
    """A guarded send: a sample first, the rest only if its bounces and complaints stay low."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The share of the list sent first (by a hash of the edition and the address).
    sample: float = Field(default=0.05, gt=0, le=1)
    #: At most this many readers in the sample, whatever the share.
    sample_size: int | None = Field(default=None, ge=1)
    #: How long after the sample's run the rest may go, for bounces and complaints to arrive.
    wait_minutes: float = Field(default=60, ge=0, le=14 * 24 * 60)
    #: The highest share of the sample, in per cent, that may hard-bounce (over it: stop).
    bounce_limit: float = Field(default=2.0, ge=0, le=100)
    #: The highest share of the sample, in per cent, that may complain (over it: stop).
    complaint_limit: float = Field(default=0.1, ge=0, le=100)


@dataclass(frozen=True)
class GuardReading:
    """What the guard read of its sample: readers reached, hard bounces, complaints."""

    sample: int
    bounced: int
    complained: int
    bounce_limit: float
    complaint_limit: float

    @property
    def bounce_rate(self) -> float:
        """The share of the sample that hard-bounced, in per cent."""
        return 100 * self.bounced / self.sample if self.sample else 0.0

    @property
    def complaint_rate(self) -> float:
        """The share of the sample that complained, in per cent."""
        return 100 * self.complained / self.sample if self.sample else 0.0

    @property
    def over(self) -> list[str]:
        """The limits the sample went over (empty when it may go on)."""
        found = []
        if self.bounce_rate > self.bounce_limit:
            found.append(f"hard bounces over {self.bounce_limit:g} %")
        if self.complaint_rate > self.complaint_limit:
            found.append(f"complaints over {self.complaint_limit:g} %")
        return found

    def describe(self) -> str:
        """One line: the sample, its bounces and complaints against their limits."""
        return (
            f"the sample of {self.sample:,} reader(s) had {self.bounced:,} hard bounce(s) "
            f"({self.bounce_rate:.1f} %, limit {self.bounce_limit:g} %) and "
            f"{self.complained:,} complaint(s) ({self.complaint_rate:.1f} %, limit "
            f"{self.complaint_limit:g} %)"
        )


@dataclass(frozen=True)
class GuardPhase:
    """Where a guarded send stands for one run: the gate (None: everyone) and what to say."""

    gate: Gate | None
    said: str


State = Literal["sampling", "released", "stopped"]


class _Records:
    """The guard of each edition in the send ledger's database: started, state, reading."""

    def __init__(self, ledger: SendLedger) -> None:
        self.ledger = ledger
        self.db = ledger.db
        if is_sqlite(self.db):  # the PostgreSQL store's migrations made it
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS guards (edition TEXT PRIMARY KEY,"
                " started TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'sampling',"
                " how TEXT NOT NULL DEFAULT '', decided TEXT NOT NULL DEFAULT '',"
                " reading TEXT NOT NULL DEFAULT '{}')"
            )

    def start(self, edition: str, when: datetime) -> tuple[datetime, State, str]:
        """The guard's start (``when`` unless a run started it), its state and its reading."""
        with transaction(self.db):
            self.db.execute(
                "INSERT INTO guards (edition, started) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (edition, _text(when)),
            )
            started, state, reading = self.db.execute(
                "SELECT started, state, reading FROM guards WHERE edition = ?", (edition,)
            ).fetchone()
        if state not in ("sampling", "released", "stopped"):
            raise DigestError(
                f"{self.ledger.path}: the guard of {edition} is damaged (state {state!r}); "
                "restore the send ledger from a backup"
            )
        return datetime.fromisoformat(started), state, reading

    def settle(
        self, edition: str, state: State, how: str, reading: GuardReading, when: datetime
    ) -> None:
        """Record that the guard of ``edition`` was released or stopped, how and from what."""
        data = json.dumps({"sample": reading.sample, "bounced": reading.bounced,
                           "complained": reading.complained})  # fmt: skip
        with transaction(self.db):
            self.db.execute(
                "UPDATE guards SET state = ?, how = ?, decided = ?, reading = ? WHERE edition = ?",
                (state, how, _text(when), data, edition),
            )


def _text(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def read_sample(
    settings: GuardSettings,
    edition: str,
    ledger: SendLedger,
    events: SuppressionList | None,
    since: datetime,
) -> GuardReading:
    """Read the sample handed over so far: its hard bounces and complaints since ``since``."""
    reached: list[str] = []
    bounced: set[str] = set()
    for row in ledger.rows(edition, ("sent", "refused")):
        reached.append(row.address)
        if row.state == "refused":  # a recipient's own permanent answer at hand-over
            bounced.add(row.address)
    complained: set[str] = set()
    if events is not None:
        for address in reached:
            for event in _events_since(events.history(address), since):
                if event == "hard-bounce":
                    bounced.add(address)
                elif event == "complaint":
                    complained.add(address)
    return GuardReading(
        len(reached), len(bounced), len(complained), settings.bounce_limit, settings.complaint_limit
    )


def _events_since(history: Iterable[Event], since: datetime) -> Iterator[str]:
    """The reasons of ``history``'s events that happened at ``since`` or later."""
    for event in history:
        if event.at is not None and event.at >= since:
            yield event.reason


def guard_phase(
    settings: GuardSettings,
    edition: str,
    ledger: SendLedger | None,
    events: SuppressionList | None,
    at: datetime | None = None,
    readers: int | None = None,
    release: bool = False,
) -> GuardPhase:
    """Where ``edition``'s guard stands at ``at`` (now): who may go, or ``GuardError``.

    ``release`` lets the rest go by hand, whatever the sample did (recorded with its
    reading). ``readers`` (when known) caps the sample at ``sample_size``.
    """
    if ledger is None:
        raise InputError("guard: needs a send ledger (it keeps the guard's start and state)")
    moment = at or datetime.now(UTC)
    records = _Records(ledger)
    started, state, recorded = records.start(edition, moment)
    if release:
        reading = read_sample(settings, edition, ledger, events, started)
        if state != "released":
            records.settle(edition, "released", "by hand", reading, moment)
        return GuardPhase(None, f"released by hand; {reading.describe()}")
    if state == "released":
        return GuardPhase(None, "")
    if state == "stopped":
        raise GuardError(_stopped(edition, _recorded(recorded, settings)))
    until = started + timedelta(minutes=settings.wait_minutes)
    if moment >= until:
        reading = read_sample(settings, edition, ledger, events, started)
        if reading.sample and reading.over:
            records.settle(edition, "stopped", "rule", reading, moment)
            raise GuardError(_stopped(edition, reading))
        if reading.sample:
            records.settle(edition, "released", "rule", reading, moment)
            return GuardPhase(None, f"released: {reading.describe()}")
    share = settings.sample
    if settings.sample_size is not None and readers:
        share = min(share, settings.sample_size / readers)
    sample = SubjectTest(sample=share)
    held = max(until, moment + _LATER)

    def gate(address: str) -> datetime | None:
        return None if sample.in_sample(edition, address) else held

    when = f"{held.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return GuardPhase(
        gate,
        f"sending to a sample of {share:.0%} of the list first; the rest from {when}, if "
        f"at most {settings.bounce_limit:g} % of the sample hard-bounce and at most "
        f"{settings.complaint_limit:g} % complain",
    )


def _recorded(data: str, settings: GuardSettings) -> GuardReading:
    """The reading a stopped guard recorded."""
    try:
        values = json.loads(data)
        return GuardReading(
            int(values["sample"]),
            int(values["bounced"]),
            int(values["complained"]),
            settings.bounce_limit,
            settings.complaint_limit,
        )
    except (TypeError, ValueError, KeyError):
        return GuardReading(0, 0, 0, settings.bounce_limit, settings.complaint_limit)


def _stopped(edition: str, reading: GuardReading) -> str:
    """The message of a stopped guarded send: why, and how to go on."""
    return (
        f"guard: the send of {edition} stopped after its sample: {reading.describe()}: "
        f"{' and '.join(reading.over)}; the rest was not sent. Look at the refusals "
        "(--report) and the suppression list, then release it by hand with "
        "digest send --release-guard, or leave it"
    )
