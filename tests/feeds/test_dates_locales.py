"""Dates in every locale Babel knows: written by Babel in the layouts feeds use, read back.

``wordpress-thai.rss`` is a Thai WordPress blog's RSS 2.0 feed made the way WordPress's
template (``wp-includes/feed-rss2.php`` of WordPress/WordPress, GPL 2 or later) writes one
when its dates are translated: ``mysql2date('D, d M Y H:i:s +0000', …)`` with the Thai
weekday and month abbreviations (``พฤ., 03 พ.ย. 2005 21:24:18 +0000``, the form a real Thai
WordPress feed writes). No public Thai WordPress feed was found to copy, so it lives with the
other feeds made from documented output (``tests/fixtures/feeds/documented/``); the text is
invented, the hosts are ``.example``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from babel.dates import format_date, format_datetime, format_time
from hypothesis import given, settings
from hypothesis import strategies as st

from digest import Newsletter, SourceError
from digest.feeds.dates import parse_date
from digest.feeds.sources import Source, read_source
from digest.labels import available

from ..helpers import FIXTURES, changed, run_command

THAI = FIXTURES / "feeds" / "documented" / "wordpress-thai.rss"

#: Every locale digest has words for, and more with their own scripts and names.
LOCALES = sorted({*available(), "en", "th", "ko", "he", "el", "ru", "sv", "pl", "tr", "vi", "hi"})

#: How feeds write dates, as CLDR patterns: RFC 822 with the locale's names, and others.
LAYOUTS = {
    "rfc822": "EEE, dd MMM yyyy HH:mm:ss Z",
    "wide": "EEEE, d MMMM y HH:mm:ss Z",
    "us": "MMM d, y HH:mm:ss Z",
    "no-zone": "d MMM y HH:mm",
    "weekday-short": "EEEEEE, dd MMM yyyy HH:mm:ss Z",
}

ZONES = [UTC, timezone(timedelta(hours=7)), timezone(-timedelta(hours=3, minutes=30))]

moments = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(datetime.now(UTC).year, 1, 1),
    timezones=st.sampled_from(ZONES),
).map(lambda moment: moment.replace(microsecond=0))


def written(moment: datetime, layout: str, locale: str) -> str:
    """``moment`` as a feed in ``locale`` writes it (Babel, in the moment's own zone)."""
    if layout == "own-long":  # the locale's own long date, with a 24-hour time after it
        return (
            f"{format_date(moment.date(), 'long', locale=locale)} "
            f"{format_time(moment.time(), 'HH:mm:ss', locale=locale)}"
        )
    return format_datetime(moment, LAYOUTS[layout], tzinfo=moment.tzinfo, locale=locale)


@pytest.mark.parametrize("locale", LOCALES)
@settings(max_examples=40, deadline=None)
@given(moment=moments, layout=st.sampled_from([*LAYOUTS, "own-long"]))
def test_a_date_babel_writes_in_a_locale_reads_back(
    locale: str, moment: datetime, layout: str
) -> None:
    text = written(moment, layout, locale)
    read = parse_date(text, UTC, [locale])
    assert read is not None, text
    if layout in ("no-zone", "own-long"):
        expected = moment.replace(tzinfo=UTC)
        if layout == "no-zone":
            expected = expected.replace(second=0)
        assert read.moment == expected and read.assumed_zone, text
    else:
        assert read.moment == moment and not read.assumed_zone, text
    assert read.has_time, text


#: Languages whose names Babel writes but digest cannot tell apart or find: Basaa, Sesotho and
#: Teso abbreviate a month as English does another ("Jan" is June in Sesotho) and the weekday
#: before it is not read, so English is tried; Dzongkha writes months in Tibetan digits;
#: Sunuwar's marks lie outside the Basic Multilingual Plane.
UNREAD_LANGUAGES = frozenset({"bas", "dz", "st", "suz", "teo"})


@pytest.mark.slow  # Babel loads more than a thousand locales: about ten seconds
def test_every_locale_babel_knows_reads_its_own_feed_dates() -> None:
    from babel.localedata import locale_identifiers

    moments = [
        datetime(2005, 11, 3, 21, 24, 18, tzinfo=UTC),
        datetime(2019, 5, 12, 7, 5, 9, tzinfo=ZONES[2]),
        datetime(2016, 7, 21, 10, 0, 0, tzinfo=ZONES[1]),
    ]
    unread: dict[str, str] = {}
    locales = sorted(locale_identifiers())
    for locale in locales:
        for layout in ("rfc822", "wide", "us", "weekday-short"):
            for moment in moments:
                text = written(moment, layout, locale)
                read = parse_date(text, UTC, [locale])
                if read is None or read.moment != moment:
                    unread.setdefault(locale.split("_")[0], f"{locale}: {text}")
    assert len(locales) > 1000
    assert set(unread) <= UNREAD_LANGUAGES, unread


@pytest.mark.parametrize("locale", LOCALES)
def test_a_date_reads_without_the_dots_and_in_capitals(locale: str) -> None:
    moment = datetime(2005, 11, 3, 21, 24, 18, tzinfo=UTC)
    for text in (written(moment, "rfc822", locale), written(moment, "wide", locale)):
        for form in (text.replace(".", ""), text.upper()):
            read = parse_date(form, UTC, [locale])
            assert read is not None and read.moment == moment, form


@pytest.mark.parametrize(
    ("text", "languages", "expected"),
    [
        # The Thai WordPress date: CLDR's short weekday, its abbreviated month.
        ("พฤ., 03 พ.ย. 2005 21:24:18 +0000", ["th"], datetime(2005, 11, 3, 21, 24, 18)),
        # The same day counted in the Buddhist era, as Thai sites also write it.
        ("พฤ., 03 พ.ย. 2548 21:24:18 +0000", ["th"], datetime(2005, 11, 3, 21, 24, 18)),
        ("พฤหัสฯ 3 พ.ย. พ.ศ. 2548 21:24 +0000", ["th"], datetime(2005, 11, 3, 21, 24)),
        ("วันพฤหัสบดีที่ 3 พฤศจิกายน 2548 21:24:18 +0000", ["th"], datetime(2005, 11, 3, 21, 24, 18)),
        # A year 400 years ahead is Buddhist in any language.
        ("2548-11-03T21:24:18+00:00", ["en"], datetime(2005, 11, 3, 21, 24, 18)),
        # Spanish "mar" is Tuesday and March: the last one is the month.
        ("mar, 08 mar 2005 10:00:00 +0000", ["es"], datetime(2005, 3, 8, 10)),
        # Forms feeds write that CLDR has not: German "Mrz", English "Sept".
        ("Do, 03 Mrz 2005 10:00:00 +0000", ["de"], datetime(2005, 3, 3, 10)),
        ("Sat, 03 Sept 2005 10:00:00 +0000", ["en"], datetime(2005, 9, 3, 10)),
        # Hebrew glues "in" (ב) to the month; Korean and Chinese write the numbers' units.
        ("3 בנובמבר 2005 21:24 +0000", ["he"], datetime(2005, 11, 3, 21, 24)),
        ("2005년 11월 3일 (목) 21:24:18 +0000", ["ko"], datetime(2005, 11, 3, 21, 24, 18)),
        ("2005年11月3日 21:24:18 +0000", ["zh_Hant"], datetime(2005, 11, 3, 21, 24, 18)),
        # Greek without its accents, Russian in the genitive.
        ("Πεμ, 03 Νοε 2005 21:24:18 +0000", ["el"], datetime(2005, 11, 3, 21, 24, 18)),
        ("3 ноября 2005 г. 21:24 +0000", ["ru"], datetime(2005, 11, 3, 21, 24)),  # noqa: RUF001
    ],
)
def test_dates_feeds_write_in_their_languages(
    text: str, languages: list[str], expected: datetime
) -> None:
    read = parse_date(text, UTC, languages)
    assert read is not None, text
    assert read.moment == expected.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["sometime soon", "พฤ., 03 2005 21:24:18 +0000", "03 พ.ย. 21:24:18", "Thursday at noon"],
)
def test_what_is_not_a_date_stays_unread(text: str) -> None:
    assert parse_date(text, UTC, ["th", "en"]) is None


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(
        st.sampled_from("พฤ.ย ศ25480 13:+-,年月日년월ב Mar sept ИЮ\u0e31\u0301"), max_size=40
    )
    | st.text(max_size=40),
    languages=st.lists(st.sampled_from(["th", "ko", "he", "zh_Hant", "es", "xx", ""]), max_size=2),
)
def test_any_text_gives_a_date_or_none_never_an_error(text: str, languages: list[str]) -> None:
    read = parse_date(text, UTC, languages)
    assert read is None or read.moment.tzinfo is not None


def test_a_recent_gregorian_year_stays_in_a_buddhist_locale() -> None:
    this_year = datetime.now(UTC).year
    read = parse_date(f"3 พ.ย. {this_year} 10:00 +0000", UTC, ["th"])
    assert read is not None and read.moment.year == this_year


# -- The Thai WordPress feed --------------------------------------------------------------


THAI_TIMES = [
    datetime(2005, 11, 3, 21, 24, 18, tzinfo=UTC),
    datetime(2005, 11, 1, 18, 17, 18, tzinfo=UTC),
    datetime(2005, 10, 30, 15, 10, 18, tzinfo=UTC),
    datetime(2005, 10, 28, 12, 3, 18, tzinfo=UTC),
    datetime(2005, 10, 26, 8, 56, 18, tzinfo=UTC),
    datetime(2005, 10, 24, 5, 49, 18, tzinfo=UTC),
    datetime(2005, 10, 22, 2, 42, 18, tzinfo=UTC),
    datetime(2005, 10, 19, 23, 35, 18, tzinfo=UTC),
    datetime(2005, 10, 17, 20, 28, 18, tzinfo=UTC),
    datetime(2005, 10, 15, 17, 21, 18, tzinfo=UTC),
]


@pytest.mark.parametrize("language", [None, "th"])
def test_the_thai_wordpress_feed_keeps_every_item_at_its_time(
    newsletter: Newsletter, language: str | None
) -> None:
    # With or without language on the source: the feed says <language>th</language>.
    result = read_source(Source(path=THAI, language=language), newsletter)
    assert result.warnings == []
    assert [article.published_at for article in result.articles] == THAI_TIMES
    assert result.articles[0].title == "เปิดตัวเว็บบล็อกใหม่ของชมรม"
    assert all(article.time_known for article in result.articles)


def test_the_thai_feed_reads_in_a_thai_edition_s_zone(newsletter: Newsletter) -> None:
    thai = changed(newsletter, locale="th", timezone="Asia/Bangkok")
    result = read_source(Source(path=THAI), thai)
    assert [a.published_at.astimezone(UTC) for a in result.articles] == THAI_TIMES


def test_one_unreadable_date_is_named_with_its_line_and_loses_nothing_else(
    newsletter: Newsletter, tmp_path: Path
) -> None:
    feed = tmp_path / "thai.rss"
    text = THAI.read_text(encoding="utf-8")
    broken = text.replace("อ., 01 พ.ย. 2005 18:17:18 +0000", "เมื่อวานนี้ตอนเย็น", 1)
    feed.write_text(broken, encoding="utf-8")
    line = broken[: broken.index("เมื่อวานนี้ตอนเย็น")].count("\n") + 1
    result = read_source(Source(path=feed), newsletter)
    assert len(result.articles) == 9
    assert result.warnings == [
        f"source '{feed}': item 2 'ทริปเชียงใหม่ช่วงปลายฝนต้นหนาว': skipped, "
        f"its date 'เมื่อวานนี้ตอนเย็น' (line {line}) is not readable"
    ]


def test_every_unreadable_date_is_an_error_naming_the_first_with_its_line(
    newsletter: Newsletter, tmp_path: Path
) -> None:
    feed = tmp_path / "undated.rss"
    feed.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>x</title>\n'
        "<item><title>One</title><link>https://x.example/1</link>\n"
        "<pubDate>เมื่อวานนี้</pubDate></item>\n"
        "</channel></rss>\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError) as caught:
        read_source(Source(path=feed, language="th"), newsletter)
    assert str(caught.value) == (
        f"source '{feed}': all 1 items were skipped; the first: item 1 'One': skipped, "
        "its date 'เมื่อวานนี้' (line 4) is not readable"
    )


def test_the_thai_feed_builds_through_the_command(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text(
        f'history = false\n[[sources]]\npath = "{THAI}"\nlanguage = "th"\n'
        '[newsletter]\nname = "บันทึกชมรม"\nlocale = "th"\ntimezone = "Asia/Bangkok"\n'
        '[newsletter.contact]\npostal_address = "1 ถนนสุขุมวิท"\n'
        'unsubscribe_url = "https://blog.example.co.th/u"\n'
        '[newsletter.sender]\nname = "B"\naddress = "b@example.com"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = run_command("build", "--config", config, "--date", "2005-11-04", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "not readable" not in result.stderr and "skipped" not in result.stderr
    text = (out / "edition-2005-11-04.txt").read_text(encoding="utf-8")
    assert "เปิดตัวเว็บบล็อกใหม่ของชมรม" in text
    # The lead's moment, 21:24 UTC on 3 November, is 04:24 on the 4th in Bangkok.
    shown = format_date(date(2005, 11, 4), "full", locale="th")
    assert f"สมชาย | {shown} 04:24" in text


def test_a_json_feed_s_unreadable_date_is_named_with_its_line(
    newsletter: Newsletter, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.json"
    feed.write_text(
        '{"version": "https://jsonfeed.org/version/1.1", "title": "x", "language": "th",\n'
        ' "items": [\n'
        '  {"id": "1", "url": "https://x.example/1", "title": "หนึ่ง",\n'
        '   "content_text": "ก", "date_published": "พฤ., 03 พ.ย. 2548 21:24:18 +0700"},\n'
        '  {"id": "2", "url": "https://x.example/2", "title": "สอง",\n'
        '   "content_text": "ข", "date_published": "เมื่อวานนี้"}\n'
        " ]}\n",
        encoding="utf-8",
    )
    result = read_source(Source(path=feed), newsletter)
    assert [a.published_at for a in result.articles] == [
        datetime(2005, 11, 3, 14, 24, 18, tzinfo=UTC)
    ]
    assert result.warnings == [
        f"source '{feed}': item 2 'สอง': skipped, its date 'เมื่อวานนี้' (line 6) is not readable"
    ]
