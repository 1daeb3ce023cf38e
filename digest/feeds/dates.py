"""Dates in feeds: RFC 822 and ISO 8601, with day and month names in the feed's language.

Feeds write dates in many ways: "Seg, 24 Set 2018 19:42:40 -0300" (Portuguese names in an RFC
822 layout), "2018-09-18 14:38:10" (no zone at all). :func:`parse_date` reads them with the
month and day names of Babel's locale data; a date without a zone is read in the zone given,
and the caller is told so.

The names of a language are every form CLDR has (wide, abbreviated, short, narrow where no two
share it; format and stand-alone), with and without dots, in capitals, without accents, glued
to the words the locale's own patterns glue to them (Hebrew "בנובמבר", Thai "วันพฤหัสบดีที่"),
and the forms feeds write that CLDR has not (German "Mrz"). They match whole runs of letters
only, so Thai "พฤ., 03 พ.ย. 2005" reads. A Buddhist-era year (Thai "2548") is counted from the
common era (2005) when the text says "พ.ศ.", when the locale's calendar is Buddhist and the
year is ahead of next year, or anywhere when it is more than 400 years ahead.
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

__all__ = ["DateLines", "ParsedDate", "parse_date"]


# Languages whose month names are tried after the feed's own, in this order.
FALLBACK_LANGUAGES = ("en", "pt", "es", "fr", "de", "it", "nl", "id", "ru")


class ParsedDate(NamedTuple):
    """A parsed moment (always with a zone), whether its zone was assumed, whether it had a time."""

    moment: datetime
    assumed_zone: bool
    #: False for a day alone ("2019-08-27"): its moment is midnight, a time nobody wrote.
    has_time: bool = True


#: A clock time in a date's text: "19:02", "T07", "14時".
_CLOCK = re.compile(r"\d:\d|T\d|\d時")


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

#: Forms feeds write that CLDR does not have, by language: name -> month (0 for a weekday).
FEED_FORMS: dict[str, dict[str, int]] = {
    "en": {"sept": 9, "tues": 0, "thur": 0, "thurs": 0},
    "de": {"mrz": 3, "mär": 3},
    "th": {"พฤหัสฯ": 0, "พฤหัสบดี": 0, "ศุกร": 0},
}

#: Era markers that say a year is Buddhist (Thai "พ.ศ."), and the regions whose feeds count
#: years that way (CLDR's calendar preference lists the Buddhist calendar first there).
BUDDHIST_ERAS = ("พ.ศ.", "พ.ศ", "พศ.", "be")
BUDDHIST_REGIONS = frozenset({"TH"})
BUDDHIST_OFFSET = 543

#: Zone names RFC 822 (and email.utils) knows; they stay in the text.
_ZONE_WORDS = frozenset(
    {"gmt", "ut", "utc", "z", "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt"}
)

_MONTH, _DAY = "month", "day"


def _marks() -> str:
    """A character class body of the combining marks of the Basic Multilingual Plane."""
    marks = [
        chr(code) for code in range(0x300, 0x10000) if unicodedata.category(chr(code))[0] == "M"
    ]
    return "".join(re.escape(mark) for mark in marks)


@lru_cache(maxsize=1)
def _letter() -> str:
    """A pattern of one letter or combining mark (Thai vowels and Devanagari signs are marks)."""
    return rf"(?:[^\W\d_]|[{_marks()}])"


def _fold(word: str) -> str:
    """A name or a date's text without case (NFC, so that marks stay on their letters)."""
    return unicodedata.normalize("NFC", word.casefold())


def _bare(word: str) -> str:
    """``word`` without accents (Latin, Greek, Cyrillic): "février" -> "fevrier"."""
    decomposed = unicodedata.normalize("NFKD", word)
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    )


class _Table:
    """Names to meanings, each form with a strength; a form two meanings share is dropped."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[int, set[tuple[str, int]]]] = {}

    def add(self, name: str, meaning: tuple[str, int], strength: int) -> None:
        """One form of a month or weekday name; the stronger form wins over a weaker one."""
        form = _fold(name).strip()
        if not any(ch.isalpha() for ch in form):
            return  # Czech narrow months are "1." to "12.": numbers, not names
        known = self.entries.get(form)
        if known is None or known[0] < strength:
            self.entries[form] = (strength, {meaning})
        elif known[0] == strength:
            known[1].add(meaning)

    def add_all(self, name: str, meaning: tuple[str, int], strength: int) -> None:
        """A name with and without its final dot; without accents or inner dots, a step weaker."""
        folded = _fold(name).strip()
        for form in {folded, folded.rstrip("."), folded.rstrip(".") + "."}:
            self.add(form, meaning, strength)
            for other in {_bare(form), _fold(form.upper())} - {form}:
                # Accents dropped; in capitals (Turkish "KASIM": its dotless i lost).
                self.add(other, meaning, strength - 1)
        if "." in folded.rstrip("."):  # Thai "พ.ย." is also written "พย"
            self.add(folded.replace(".", ""), meaning, strength - 1)

    def meanings(self) -> dict[tuple[str, ...], tuple[int, bool]]:
        """Each usable form (as runs): the month it names (0 none, -1 several), whether a day."""
        usable: dict[tuple[str, ...], tuple[int, bool]] = {}
        for form, (_, meanings) in self.entries.items():
            months = {number for kind, number in meanings if kind == _MONTH}
            is_day = any(kind == _DAY for kind, _ in meanings)
            month = months.pop() if len(months) == 1 else (-1 if months else 0)
            if month == -1 and not is_day:
                continue  # names two months: useless
            usable[_runs(form)] = (month, is_day)
        return usable


class _Names(NamedTuple):
    """What reading dates in one language needs."""

    #: Each form of each name as its runs of letters, digits, spaces and signs.
    forms: dict[tuple[str, ...], tuple[int, bool]]
    #: The most runs a form has.
    longest: int
    fillers: frozenset[str]
    buddhist: bool


def _literals(patterns: Iterable[str]) -> tuple[set[str], set[str], set[str]]:
    """Words a locale's date patterns write around the fields; those glued to a month, a day.

    Hebrew writes "d בMMMM y" ("in" before the month), Thai "EEEEที่ d MMMM" ("the" after the
    weekday): the glued forms are names of their own.
    """
    letter = rf"(?:(?![A-Za-z]){_letter()})"  # pattern letters are field codes, not words
    words: set[str] = set()
    before_month: set[str] = set()
    after_day: set[str] = set()
    for pattern in patterns:
        quoted = re.findall(r"'([^']+)'", pattern)
        bare = re.sub(r"'[^']*'", " ", pattern)
        before_month |= set(re.findall(rf"({letter}+)[ML]{{3,4}}", bare))
        after_day |= set(re.findall(rf"E{{3,4}}({letter}+)", bare))
        for text in (*quoted, re.sub(r"[A-Za-z]+", " ", bare)):
            words |= {_fold(word) for word in re.findall(f"{_letter()}+", text)}
    return words, before_month, after_day


@lru_cache(maxsize=64)
def _names(language: str) -> _Names | None:
    """Month and weekday names of one language in every form CLDR has, and feeds' own."""
    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return None
    table = _Table()
    for context in ("format", "stand-alone"):
        for width, strength in (("wide", 4), ("abbreviated", 4), ("narrow", 1)):
            for number, name in locale.months[context][width].items():
                if width == "narrow" and len(name.rstrip(".")) < 2:
                    continue  # "M" for March and May; one letter is too easily something else
                table.add_all(name, (_MONTH, number), strength)
                if width != "narrow" and len(name.rstrip(".")) > 3 and name[:3].isalpha():
                    # Feeds abbreviate to three letters whatever CLDR says ("Set", "Okt").
                    table.add_all(name[:3], (_MONTH, number), 2)
        for width, strength in (("wide", 4), ("abbreviated", 4), ("short", 3), ("narrow", 1)):
            for number, name in locale.days[context][width].items():
                if width == "narrow" and len(name.rstrip(".")) < 2:
                    continue
                table.add_all(name, (_DAY, number), strength)
                if width != "narrow" and len(name.rstrip(".")) > 3 and name[:3].isalpha():
                    table.add_all(name[:3], (_DAY, number), 2)
    for name, month in FEED_FORMS.get(locale.language, {}).items():
        table.add_all(name, (_MONTH, month) if month else (_DAY, 0), 3)
    patterns = [
        *(str(getattr(f, "pattern", f)) for f in locale.date_formats.values()),
        *(str(getattr(f, "pattern", f)) for f in locale.time_formats.values()),
        *(str(f) for f in locale.datetime_formats.values()),
    ]
    words, before_month, after_day = _literals(patterns)
    for context in ("format", "stand-alone"):
        for width in ("wide", "abbreviated"):
            for prefix in before_month:
                for number, name in locale.months[context][width].items():
                    table.add_all(prefix + name, (_MONTH, number), 4)
            for suffix in after_day:
                for number, name in locale.days[context][width].items():
                    table.add_all(name + suffix, (_DAY, number), 4)
    for width in ("wide", "abbreviated", "narrow"):
        for era in locale.eras.get(width, {}).values():
            words |= {_fold(word) for word in re.findall(f"{_letter()}+", era)}
            words.add(_fold(era).rstrip("."))
    forms = table.meanings()
    buddhist = locale.territory in BUDDHIST_REGIONS or (
        locale.territory is None and language.split("_")[0] == "th"
    )
    longest = max((len(form) for form in forms), default=0)
    return _Names(forms, longest, frozenset(words), buddhist)


@lru_cache(maxsize=1)
def _run_pattern() -> re.Pattern[str]:
    """A run of letters and marks, of digits, of spaces, or one other sign."""
    return re.compile(rf"{_letter()}+|\d+|\s+|.")


def _runs(text: str) -> tuple[str, ...]:
    """``text`` cut into runs, so that a name matches whole words only ("พ.ย." not in "พ.ยา")."""
    return tuple(" " if run.isspace() else run for run in _run_pattern().findall(text))


@lru_cache(maxsize=1)
def _parts() -> re.Pattern[str]:
    """A pattern of what a date has besides its names: time, zone, number or word."""
    letter = _letter()
    return re.compile(
        r"(?P<time>\d{1,2}:\d{2}(?::\d{2})?(?!\d)|\d{1,2}\.\d{2}(?:\.\d{2})?(?![\d.]))"
        r"|(?P<zone>[+-]\d{2}:?\d{2}(?!\d))"
        r"|(?P<number>\d+)"
        rf"|(?P<word>{letter}+\.?(?:{letter}+\.)*)"
    )


def _localised(text: str, language: str) -> str | None:
    """``text`` read with one language's names, written as an RFC 822 date; None if it is not."""
    names = _names(language)
    if names is None:
        return None
    runs = _runs(_fold(text))
    months: list[tuple[int, bool]] = []
    rest: list[str] = []
    index = 0
    while index < len(runs):
        for size in range(min(names.longest, len(runs) - index), 0, -1):  # the longest first
            meaning = names.forms.get(runs[index : index + size])
            if meaning is not None:
                months.append(meaning)
                rest.append(" ")
                index += size
                break
        else:
            rest.append(runs[index])
            index += 1
    numbers: list[str] = []
    times: list[str] = []
    zones: list[str] = []
    buddhist_era = False
    for match in _parts().finditer("".join(rest)):
        kind, value = match.lastgroup, match.group()
        if kind == "time":
            times.append(value.replace(".", ":"))
        elif kind == "zone":
            zones.append(value.replace(":", ""))
        elif kind == "number":
            numbers.append(value)
        elif value in BUDDHIST_ERAS:
            buddhist_era = True
        elif value.rstrip(".") in _ZONE_WORDS:
            zones.append(value.rstrip(".").upper())
        elif value.rstrip(".") not in names.fillers and len(value.rstrip(".")) > 3:
            return None  # a word this language does not know
    month = _the_month(months)
    if month is None or len(times) > 1 or len(zones) > 1 or len(numbers) != 2:
        return None
    day, year = _day_and_year(numbers)
    if day is None or year is None:
        return None
    if buddhist_era or year > datetime.now(UTC).year + (1 if names.buddhist else 400):
        year -= BUDDHIST_OFFSET
    clock = times[0] if times else "00:00"
    return " ".join([f"{day:02d} {_ENGLISH_MONTHS[month - 1]} {year:04d} {clock}", *zones])


def _the_month(tokens: list[tuple[int, bool]]) -> int | None:
    """The month the names say: the one name that is only a month, else the last that may be."""
    sure = [month for month, is_day in tokens if month and not is_day]
    if sure:
        return sure[0] if len(sure) == 1 and sure[0] > 0 else None
    maybe = [month for month, _ in tokens if month]
    return maybe[-1] if maybe and maybe[-1] > 0 else None


def _day_and_year(numbers: list[str]) -> tuple[int | None, int | None]:
    """The day and the year among a date's two numbers (the year has 3+ digits or is > 31)."""
    first, second = numbers
    if len(first) >= 3 or int(first) > 31:
        first, second = second, first
    if len(first) > 2 or not 1 <= int(first) <= 31:
        return None, None
    year = int(second)
    if len(second) <= 2:
        year += 2000 if year < 69 else 1900  # what RFC 2822 says of two-digit years
    return int(first), year


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


def _common_era(read: ParsedDate, languages: Iterable[str]) -> ParsedDate:
    """``read`` with a Buddhist-era year ("2548") counted from the common era (2005).

    A year more than 400 years ahead is Buddhist anywhere; where the calendar is Buddhist
    (Thai), any year ahead of next year is.
    """
    buddhist = any(names.buddhist for names in map(_names, languages) if names is not None)
    if read.moment.year <= datetime.now(UTC).year + (1 if buddhist else 400):
        return read
    try:
        return read._replace(moment=read.moment.replace(year=read.moment.year - BUDDHIST_OFFSET))
    except ValueError:  # 29 February of a year that has none in the common era
        return read


class DateLines:
    """The line of a feed on which each of its dates is written, found in the order they come."""

    def __init__(self, raw: bytes, encoding: object = None) -> None:
        """Read ``raw`` in the encoding its parser found (UTF-8 when it found none)."""
        try:
            self.document = raw.decode(str(encoding or "utf-8"), errors="replace")
        except LookupError:
            self.document = raw.decode("utf-8", errors="replace")
        self.position = 0

    def line(self, text: object) -> int | None:
        """The line (from 1) of ``text`` after the previous date found; None if not found."""
        if not isinstance(text, str) or not text.strip():
            return None
        found = self.document.find(text.strip(), self.position)
        if found < 0:
            return None
        self.position = found + len(text.strip())
        return self.document.count("\n", 0, found) + 1


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
    for language in dict.fromkeys([*languages, *FALLBACK_LANGUAGES]) if read is None else ():
        written = _localised(text, language)
        read = _read_text(written, zone) if written else None
        if read is not None:
            break
    if read is not None:
        read = _common_era(read, languages)
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
