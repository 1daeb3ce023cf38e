"""The pace of a send: the sending calendar, the hourly cap and a new domain's warm-up.

A ``Pace`` answers two questions with the same rules. At the start of a run: how many
messages may leave now (``allowance``), counting what the ledger says was handed over this
clock hour and this day; outside the calendar, none. Before a send: when every reader would
go out (``plan``), running those rules forward, so that ``digest send --dry-run`` shows the
hours a list will take. The calendar (days and hours) and the warm-up's days are in the
newsletter's time zone; the hourly cap counts clock hours in UTC.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.delivery.settings import WEEKDAYS, DeliverySettings, WarmupSettings

__all__ = ["Allowance", "Pace", "SendPlan"]

_HOUR = timedelta(hours=1)
#: How far ahead a plan looks before it says the rest would not go out.
_HORIZON = timedelta(days=366)


@dataclass(frozen=True)
class Allowance:
    """How many messages a run may hand over now (``None``: no limit), and why not more."""

    limit: int | None
    #: What holds the rest back ("" without a limit).
    reason: str = ""
    #: When that changes: the calendar opens, the next hour or the next day begins.
    until: datetime | None = None


@dataclass(frozen=True)
class SendPlan:
    """When a send's readers would go out: messages per clock hour (UTC), and any left over."""

    hours: dict[datetime, int]
    #: Readers that would not go out within a year of the first one.
    beyond: int = 0

    def table(self) -> str:
        """The plan as lines for a terminal: one per hour, in UTC."""
        lines = [f"  {hour:%Y-%m-%d %H:00}  {count:>9,}" for hour, count in self.hours.items()]
        if self.beyond:
            lines.append(f"  not within a year {self.beyond:>9,}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Pace:
    """When messages may leave and how many: the calendar, the hourly cap, the warm-up."""

    zone: ZoneInfo
    #: Weekdays (0 Monday … 6 Sunday) on which the sending hours open.
    days: frozenset[int] = frozenset(range(7))
    opens: time = time(0)
    #: Equal to ``opens``: all day; earlier: the hours run past midnight.
    closes: time = time(0)
    hourly_cap: int = 0
    warmup: WarmupSettings | None = None

    @classmethod
    def from_settings(cls, settings: DeliverySettings, zone: ZoneInfo) -> Pace | None:
        """The pace ``[delivery]`` asks for, in ``zone`` (the newsletter's); None for none."""
        start, _, end = settings.hours.partition("-")
        pace = cls(
            zone,
            frozenset(WEEKDAYS.index(day) for day in settings.days),
            time.fromisoformat(start),
            time(0) if end == "24:00" else time.fromisoformat(end),
            settings.hourly_cap,
            settings.warmup,
        )
        return None if pace == cls(zone) else pace

    def is_open(self, at: datetime) -> bool:
        """Whether the sending calendar lets messages leave at ``at``."""
        local = at.astimezone(self.zone)
        moment, weekday = local.time().replace(tzinfo=None), local.weekday()
        if self.opens == self.closes:
            return weekday in self.days
        if self.opens < self.closes:
            return weekday in self.days and self.opens <= moment < self.closes
        # Past midnight: the hours belong to the day they open on.
        return (moment >= self.opens and weekday in self.days) or (
            moment < self.closes and (weekday - 1) % 7 in self.days
        )

    def next_open(self, at: datetime) -> datetime:
        """``at`` when the calendar is open then, else the moment it next opens."""
        if self.is_open(at):
            return at
        local = at.astimezone(self.zone)
        for ahead in range(8):
            day = local.date() + timedelta(days=ahead)
            if day.weekday() in self.days:
                opening = datetime.combine(day, self.opens, tzinfo=self.zone)
                if opening > at:
                    return opening
        raise AssertionError("a calendar with a day opens within a week")  # pragma: no cover

    def daily_limit(self, day: date) -> int | None:
        """How many messages the warm-up lets leave on ``day`` (None: no limit any more)."""
        if self.warmup is None:
            return None
        days = max(0, (day - self.warmup.start).days)
        grown = math.log(self.warmup.first_day) + days * math.log(self.warmup.growth)
        return None if grown > math.log(1e9) else round(math.exp(grown))

    def allowance(self, at: datetime, handed_over: Callable[[datetime], int]) -> Allowance:
        """How many may leave at ``at``; ``handed_over(since)`` counts those since a moment."""
        if not self.is_open(at):
            return Allowance(0, "the sending calendar is closed", self.next_open(at))
        limits: list[Allowance] = []
        if self.hourly_cap:
            hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            left = self.hourly_cap - handed_over(hour)
            cap = f"the cap of {self.hourly_cap:,} an hour"
            limits.append(Allowance(max(0, left), cap, self.next_open(hour + _HOUR)))
        daily = self.daily_limit(at.astimezone(self.zone).date())
        if daily is not None:
            midnight = datetime.combine(at.astimezone(self.zone).date(), time(0), self.zone)
            left = daily - handed_over(midnight)
            tomorrow = datetime.combine(midnight.date() + timedelta(days=1), time(0), self.zone)
            warmup = f"the warm-up's {daily:,} today"
            limits.append(Allowance(max(0, left), warmup, self.next_open(tomorrow)))
        return min(limits, key=lambda allowance: allowance.limit or 0, default=Allowance(None))

    def plan(self, due: Iterable[datetime], start: datetime) -> SendPlan:
        """When readers due at ``due`` would go out, sending from ``start`` by these rules.

        Runs are taken to come often (every few minutes from cron): each reader goes at the
        first moment they are due, the calendar is open and the cap and warm-up allow.
        """
        times = sorted(max(moment, start) for moment in due)
        sent: list[datetime] = []  # the moments of the messages planned so far, in order
        hours: Counter[datetime] = Counter()

        def handed_over(since: datetime) -> int:
            return len(sent) - bisect_left(sent, since)

        done, at = 0, start
        while done < len(times) and at - times[0] < _HORIZON:
            at = self.next_open(max(at, times[done]))
            allowance = self.allowance(at, handed_over)
            ready = bisect_right(times, at) - done
            count = ready if allowance.limit is None else min(ready, allowance.limit)
            if count:
                hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
                hours[hour] += count
                sent += [at] * count
                done += count
            if count < ready and allowance.until is not None:
                at = allowance.until  # held back: go on when the rule allows more
        return SendPlan(dict(sorted(hours.items())), len(times) - done)
