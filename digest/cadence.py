"""The cadence of a newsletter: every day, every week or every few weeks, or every month."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from digest.fields import FrozenModel

__all__ = ["WEEKDAYS", "Cadence", "Weekday", "pause_until"]

#: A day of the week, as a cadence names it.
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
#: The days of the week, Monday first (as ``date.weekday()`` counts them).
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)


class Cadence(FrozenModel):
    """How often editions go out: every day, every week or every few weeks, or every month."""

    #: ``day``, ``week`` or ``month``.
    every: Literal["day", "week", "month"] = "week"
    #: The weekday of a weekly edition, or of a monthly one given by ``nth``.
    weekday: Weekday = "monday"
    #: Every how many weeks a weekly edition goes out (2 for a fortnightly one).
    weeks: int = Field(default=1, ge=1, le=8)
    #: The date of one edition, from which every few ``weeks`` count (by default weeks are
    #: counted from Monday 5 January 1970).
    start: date | None = None
    #: The day of the month of a monthly edition (a shorter month takes its last day).
    day: int | None = Field(default=None, ge=1, le=31)
    #: Or which of the month's weekdays: ``first``, ``second``, ``third``, ``fourth``, ``last``.
    nth: Literal["first", "second", "third", "fourth", "last"] | None = None

    @model_validator(mode="after")
    def _fits(self) -> Cadence:
        if self.every != "month" and (self.day is not None or self.nth is not None):
            raise ValueError('day and nth are for every = "month"')
        if self.every == "month" and self.day is not None and self.nth is not None:
            raise ValueError("a monthly edition has a day or an nth weekday, not both")
        if self.every != "week" and (self.weeks != 1 or self.start is not None):
            raise ValueError('weeks and start are for every = "week"')
        return self

    def latest(self, today: date) -> date:
        """The newest scheduled date on or before ``today``."""
        if self.every == "day":
            return today
        if self.every == "week":
            newest = today - timedelta(days=(today.weekday() - WEEKDAYS.index(self.weekday)) % 7)
            if self.weeks > 1:
                anchor = self.start or date(1970, 1, 5)
                anchor += timedelta(days=(WEEKDAYS.index(self.weekday) - anchor.weekday()) % 7)
                newest -= timedelta(weeks=((newest - anchor).days // 7) % self.weeks)
            return newest
        this_month = self._in_month(today.year, today.month)
        if this_month <= today:
            return this_month
        year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        return self._in_month(year, month)

    def previous(self, on: date) -> date:
        """The scheduled date before ``on``: where a first edition's window begins."""
        return self.latest(on - timedelta(days=1))

    def next(self, day: date) -> date:
        """The first scheduled date on or after ``day``."""
        found = day
        while self.latest(found) != found:
            found += timedelta(days=1)
        return found

    def _in_month(self, year: int, month: int) -> date:
        days = calendar.monthrange(year, month)[1]
        if self.nth is None:
            return date(year, month, min(self.day or 1, days))
        wanted = WEEKDAYS.index(self.weekday)
        if self.nth == "last":
            last = date(year, month, days)
            return last - timedelta(days=(last.weekday() - wanted) % 7)
        first = date(year, month, 1)
        first += timedelta(days=(wanted - first.weekday()) % 7)
        return first + timedelta(weeks=("first", "second", "third", "fourth").index(self.nth))


def pause_until(cadence: Cadence, editions: int, today: date, zone: ZoneInfo) -> datetime:
    """The moment a pause of the next ``editions`` editions after ``today`` ends (in UTC).

    It ends at 00:00, in ``zone``, of the day of the first edition after them, so that
    edition is mailed: a weekly Monday edition paused once on a Wednesday skips the next
    Monday and comes the one after.
    """
    day = today
    for _ in range(editions + 1):
        day = cadence.next(day + timedelta(days=1))
    return datetime.combine(day, time(0), zone).astimezone(UTC)
