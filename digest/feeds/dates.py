"""Dates in feeds: RFC 822 and ISO 8601, with day and month names in the feed's language.

Feeds write dates in many ways: "Seg, 24 Set 2018 19:42:40 -0300" (Portuguese names in an RFC
822 layout), "2018-09-18 14:38:10" (no zone at all). :func:`parse_date` reads them with the
month and day names of Babel's locale data; a date without a zone is read in the zone given,
and the caller is told so.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import NamedTuple

from babel import Locale, UnknownLocaleError

__all__ = ["ParsedDate", "parse_date"]


# Languages whose month names are tried after the feed's own, in this order.
FALLBACK_LANGUAGES = ("en", "pt", "es", "fr", "de", "it", "nl", "id", "ru")


_ENGLISH_MONTHS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


_WORD = re.compile(r"[^\W\d_]+\.?", re.UNICODE)


class ParsedDate(NamedTuple):
    """A parsed moment (always with a zone), whether its zone was assumed, whether it had a time."""

    moment: datetime
    assumed_zone: bool
    #: False for a day alone ("2019-08-27"): its moment is midnight, a time nobody wrote.
    has_time: bool = True


#: A clock time in a date's text: "19:02", "T07", "14時".
_CLOCK = re.compile(r"\d:\d|T\d|\d時")


def _fold(word: str) -> str:
    """A month or day name without case, accents or a final full stop."""
    decomposed = unicodedata.normalize("NFKD", word.casefold().rstrip("."))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=64)
def _names(language: str) -> tuple[dict[str, int], frozenset[str]]:
    """Month names (wide and abbreviated) to numbers, and day names, of one language."""
    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return {}, frozenset()
    months: dict[str, int] = {}
    for context in ("format", "stand-alone"):
        for width in ("wide", "abbreviated"):
            for number, name in locale.months[context][width].items():
                months.setdefault(_fold(name), number)
                if width == "wide" and len(name) > 3:
                    # Feeds abbreviate to three letters whatever CLDR says ("Set", "Okt").
                    months.setdefault(_fold(name)[:3], number)
    days = {
        _fold(name)
        for context in ("format", "stand-alone")
        for width in ("wide", "abbreviated", "short")
        for name in locale.days[context][width].values()
    }
    days |= {day[:3] for day in days if len(day) > 3}
    return months, frozenset(days)


def _english(text: str, languages: Iterable[str]) -> str | None:
    """``text`` with day names dropped and month names put in English; None if none fit."""
    words = _WORD.findall(text)
    if not words:
        return None
    for language in dict.fromkeys(languages):
        months, days = _names(language)
        replaced = text
        month_seen = False
        for word in words:
            folded = _fold(word)
            if folded in months and not month_seen:
                replaced = replaced.replace(word, _ENGLISH_MONTHS[months[folded] - 1], 1)
                month_seen = True
            elif folded in days:
                replaced = replaced.replace(word, "", 1)
            elif word.islower() and len(word) <= 3:
                replaced = replaced.replace(word, "", 1)  # "de", "à": words between the parts
            elif not (word.isupper() and len(word) <= 5):  # zone names such as GMT or EST stay
                break  # a word this language does not know
        else:
            if month_seen:
                return " ".join(replaced.replace(",", " ").split())
    return None


@lru_cache(maxsize=64)
def _day_periods(languages: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, bool]] | None:
    """A pattern of a 12-hour time with its AM or PM marker in these languages' forms.

    The forms come from Babel (CLDR): "PM", "p. m." (Spanish), "午後" (Japanese), "오후"
    (Korean), "م" (Arabic)…, each also written without spaces or without dots.
    """
    markers: dict[str, bool] = {}
    for language in (*languages, "en"):
        try:
            periods = Locale.parse(language).day_periods.get("format", {})
        except (UnknownLocaleError, ValueError):
            continue
        for width in ("abbreviated", "wide"):
            for key, pm in (("am", False), ("pm", True)):
                word = periods.get(width, {}).get(key)
                if not word:
                    continue
                word = " ".join(word.split())
                for form in {word, word.replace(" ", ""), word.replace(".", "").replace(" ", "")}:
                    if form:
                        markers.setdefault(form.casefold(), pm)
    if not markers:
        return None
    names = "|".join(re.escape(m) for m in sorted(markers, key=len, reverse=True))
    clock = r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?"
    after = rf"{clock}\s*(?P<after>{names})(?![^\W\d_])"
    before = rf"(?<![^\W\d_])(?P<before>{names})\s*{clock.replace('P<', 'P<b')}"
    pattern = re.compile(f"(?:{after}|{before})", re.I)
    return pattern, markers


def _twenty_four_hours(text: str, languages: Iterable[str]) -> str:
    """``text`` with a 12-hour time ("04:42 PM", "午後4:42") written as a 24-hour one."""
    found = _day_periods(tuple(languages))
    if found is None:
        return text
    pattern, markers = found

    def convert(match: re.Match[str]) -> str:
        after = match.group("after") is not None
        hour = int(match.group("h") if after else match.group("bh"))
        minute = match.group("m") if after else match.group("bm")
        second = match.group("s") if after else match.group("bs")
        marker = (match.group("after") or match.group("before")).casefold()
        if not 1 <= hour <= 12:
            return match.group(0)
        pm = markers.get(marker, False)
        hour = (hour % 12) + (12 if pm else 0)
        return f"{hour:02d}:{minute}" + (f":{second}" if second else "")

    return pattern.sub(convert, text)


def _zone_less(moment: datetime, zone: tzinfo) -> ParsedDate:
    if moment.tzinfo is None:
        return ParsedDate(moment.replace(tzinfo=zone), True)
    return ParsedDate(moment, False)


def parse_date(
    value: object, zone: tzinfo = UTC, languages: Iterable[str] = ()
) -> ParsedDate | None:
    """Read a feed date; None when it cannot be read.

    ``languages`` are tried for month and day names (the feed's own language first), then
    ``FALLBACK_LANGUAGES``. A date without a zone is taken to be in ``zone``.
    """
    if not value:
        return None
    if isinstance(value, time.struct_time | tuple):
        year, month, day, hour, minute, second = tuple(value)[:6]
        return ParsedDate(datetime(year, month, day, hour, minute, second, tzinfo=UTC), False)
    text = " ".join(str(value).split())
    if not text or len(text) > 100:
        return None
    if ":" in text:
        text = _twenty_four_hours(text, languages)
    read = _read_text(text, zone)
    if read is None:
        english = _english(text, [*languages, *FALLBACK_LANGUAGES])
        if english is None or english == text:
            return None
        read = parse_date(english, zone, ["en"])
    if read is None or _CLOCK.search(text):
        return read
    return read._replace(has_time=False)


def _read_text(text: str, zone: tzinfo) -> ParsedDate | None:
    """An RFC 822 or ISO 8601 date; None for anything else."""
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    else:
        # RFC 822's "-0000" means "the zone is unknown", like no zone at all.
        unknown = text.endswith("-0000")
        return _zone_less(moment.replace(tzinfo=None) if unknown else moment, zone)
    try:
        return _zone_less(datetime.fromisoformat(text.replace("Z", "+00:00")), zone)
    except ValueError:
        return None
