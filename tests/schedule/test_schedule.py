"""Weekly builds from a config and a feed: windows, history, numbering, quotes, archive, UTM."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from digest import DigestError, NothingNewError, load_config
from digest.schedule.build import run_build
from digest.schedule.config import history_store
from digest.schedule.history import History
from digest.store import ENVIRONMENT, StoreURL

from ..helpers import run_digest
from ..stores import Places

MONDAYS = [date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)]

CONFIG = """
data = "quotes.json"
out = "out"
archive = "archive"
quote_rest = 2

[[sources]]
path = "feed.xml"
section = "Town"

[newsletter]
name = "Riverside Weekly"
locale = "en_GB"
timezone = "Europe/London"

[newsletter.contact]
postal_address = "12 Mill Lane, Riverside"
unsubscribe_url = "https://riverside.example/unsubscribe"

[newsletter.schedule]
send_time = "07:00:00"

[newsletter.layout]
sections = ["Town", "Sport"]

[newsletter.links]
archive_url = "https://riverside.example/archive/"

[newsletter.schedule.cadence]
every = "week"
weekday = "monday"

[newsletter.sender]
name = "Riverside Weekly"
address = "news@riverside.example"

[newsletter.links.tracking]
utm_campaign = "weekly-{date}"
skip_domains = ["partner.example"]
"""


def item(title: str, when: datetime, section: str = "Town", link: str | None = None) -> str:
    url = link or "https://riverside.example/" + re.sub(r"\W+", "-", title.lower())
    return (
        f"<item><title>{title}</title><link>{url.replace('&', '&amp;')}</link>"
        f"<pubDate>{format_datetime(when)}</pubDate><category>{section}</category>"
        f"<description>About {title}.</description></item>"
    )


def write_feed(folder: Path, extra: list[str] = ()) -> None:  # type: ignore[assignment]
    items = [item("Old news from October", datetime(2026, 10, 20, 9, tzinfo=UTC))]
    for week, monday in enumerate(MONDAYS):
        start = datetime.combine(monday - timedelta(days=7), datetime.min.time(), tzinfo=UTC)
        for n in range(4):
            items.append(
                item(
                    f"Week {week + 1} story {n + 1}",
                    start + timedelta(days=n, hours=9),
                    section="Sport" if n % 2 else "Town",
                )
            )
    # A story the feed dates again in week 2: it was featured in week 1 already.
    items.append(item("Week 1 story 1", datetime(2026, 11, 18, 9, tzinfo=UTC)))
    # Links that carry their own attribution, or go to a partner, stay as they are.
    items.append(
        item(
            "Partner offer",
            datetime(2026, 11, 11, 9, tzinfo=UTC),
            link="https://shop.partner.example/offer",
        )
    )
    items.append(
        item(
            "Shared story",
            datetime(2026, 11, 12, 9, tzinfo=UTC),
            link="https://riverside.example/shared?ref=friends&utm_source=x",
        )
    )
    items += list(extra)
    (folder / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Riverside</title>'
        "<link>https://riverside.example/</link>" + "".join(items) + "</channel></rss>"
    )


@pytest.fixture
def newsletter_dir(tmp_path: Path) -> Path:
    (tmp_path / "newsletter.toml").write_text(CONFIG)
    (tmp_path / "quotes.json").write_text(
        json.dumps(
            {"quotes": [{"text": f"Quote number {n}", "author": "Someone"} for n in range(3)]}
        )
    )
    write_feed(tmp_path)
    return tmp_path


@pytest.fixture
def history_at(place: Places, monkeypatch: pytest.MonkeyPatch, newsletter_dir: Path) -> History:
    """Opens the config's history: its file, or (on PostgreSQL) the store the config names."""
    if place.backend == "postgresql":
        url = place("history")
        assert isinstance(url, StoreURL)
        monkeypatch.setenv(ENVIRONMENT, url.url)

    def opened() -> History:
        where = history_store(load_config(newsletter_dir / "newsletter.toml"))
        assert where is not None
        return History(where)

    return opened  # type: ignore[return-value]


def build(folder: Path, on: date):  # type: ignore[no-untyped-def]
    config = load_config(folder / "newsletter.toml")
    return run_build(config, config.out or folder / "out", on=on)


def test_three_weekly_builds(newsletter_dir: Path, history_at: Callable[[], History]) -> None:
    results = [build(newsletter_dir, monday) for monday in MONDAYS]
    editions = [r.digest.edition for r in results]
    assert [e.number for e in editions] == [1, 2, 3]
    # Each edition takes the week since the previous one, at the send time.
    assert results[0].window == (
        datetime(2026, 11, 9, 7, tzinfo=results[0].window[0].tzinfo),
        datetime(2026, 11, 16, 7, tzinfo=results[0].window[0].tzinfo),
    )
    assert results[1].window[0] == results[0].window[1]
    for week, edition in enumerate(editions, start=1):
        titles = [a.title for a in edition.articles]
        assert all(
            t.startswith(f"Week {week} ") or t in ("Partner offer", "Shared story") for t in titles
        ), titles
    # No story is featured twice, though the feed dated one again.
    urls = [a.url.split("?")[0] for e in editions for a in e.articles]
    assert len(urls) == len(set(urls))
    # Three different closing quotes (none repeats within quote_rest = 2 editions).
    assert len({e.quote.text for e in editions if e.quote}) == 3
    # Links are tagged, except those with their own attribution or on a skipped domain.
    links = [a.url for a in editions[0].articles]
    assert (
        "https://riverside.example/week-1-story-4?utm_source=newsletter&utm_medium=email"
        "&utm_campaign=weekly-2026-11-16" in links
    )
    assert "https://shop.partner.example/offer" in links
    assert "https://riverside.example/shared?ref=friends&utm_source=x" in links
    # The history remembers all three.
    with history_at() as history:
        assert [r.number for r in history.editions()] == [3, 2, 1]


def test_a_rebuild_is_identical_and_keeps_its_number(
    newsletter_dir: Path, history_at: Callable[[], History]
) -> None:
    first = [build(newsletter_dir, monday) for monday in MONDAYS]
    out = newsletter_dir / "out"
    before = (out / "edition-2026-11-23.eml").read_bytes()
    again = build(newsletter_dir, MONDAYS[1])
    assert again.digest.edition.number == 2
    assert (out / "edition-2026-11-23.eml").read_bytes() == before
    assert again.digest.html == first[1].digest.html
    with history_at() as history:
        assert len(history.editions()) == 3
        assert history.number_for(date(2026, 12, 7)) == 4


def test_a_crash_during_a_build_leaves_the_history_as_it_was(
    newsletter_dir: Path, monkeypatch: pytest.MonkeyPatch, history_at: Callable[[], History]
) -> None:
    build(newsletter_dir, MONDAYS[0])
    with history_at() as history:
        before = history.editions()

    files_before = {
        p: p.read_bytes()
        for p in sorted(newsletter_dir.rglob("*"))
        if p.is_file() and "history" not in p.name
    }
    real_replace = os.replace
    calls: list[object] = []

    def crash(source: object, target: object) -> None:
        calls.append(target)
        if len(calls) == 3:  # the third file of the new set: out/ is half replaced
            raise OSError(28, "No space left on device")
        real_replace(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr("digest.schedule.commit.os.replace", crash)
    with pytest.raises(DigestError, match="No space left on device"):
        build(newsletter_dir, MONDAYS[1])
    monkeypatch.setattr("digest.schedule.commit.os.replace", real_replace)
    with history_at() as history:
        assert history.editions() == before
        assert history.number_for(MONDAYS[1]) == 2
    files_after = {
        p: p.read_bytes()
        for p in sorted(newsletter_dir.rglob("*"))
        if p.is_file() and "history" not in p.name
    }
    assert files_after == files_before


def test_nothing_new_is_exit_status_3(newsletter_dir: Path) -> None:
    for monday in MONDAYS:
        build(newsletter_dir, monday)
    with pytest.raises(
        NothingNewError,
        match="nothing new: none of the 15 articles was published from 2026-11-30T07:00:00",
    ):
        build(newsletter_dir, date(2026, 12, 7))
    result = run_digest(
        "build", "--config", newsletter_dir / "newsletter.toml", "--date", "2026-12-07"
    )
    assert result.returncode == 3
    assert result.stderr == (
        "digest: error: nothing new: none of the 15 articles was published from "
        "2026-11-30T07:00:00+00:00 to 2026-12-07T07:00:00+00:00 "
        "(the newest is dated 2026-11-26T09:00:00+00:00)\n"
    )
    assert not (newsletter_dir / "out" / "edition-2026-12-07.html").exists()


def test_the_web_archive_and_the_view_online_link(newsletter_dir: Path) -> None:
    results = [build(newsletter_dir, monday) for monday in MONDAYS]
    archive = newsletter_dir / "archive"
    index = (archive / "index.html").read_text()
    assert index.count("<li>") == 3
    assert index.index("2026-11-30.html") < index.index("2026-11-16.html")
    page = (archive / "2026-11-23.html").read_text()
    assert "riverside.example/unsubscribe" not in page
    assert "View this edition in your browser" not in page
    email = results[1].digest
    assert 'href="https://riverside.example/archive/2026-11-23.html"' in email.html
    assert "https://riverside.example/archive/2026-11-23.html" in email.text
    assert "riverside.example/unsubscribe" in email.html


def test_the_cli_workflow(newsletter_dir: Path) -> None:
    def digest(*args: str) -> subprocess.CompletedProcess[str]:
        return run_digest(*args, cwd=newsletter_dir)

    built = digest("build", "--config", "newsletter.toml", "--date", "2026-11-16")
    assert built.returncode == 0, built.stderr
    assert "Built Riverside Weekly #1 for 2026-11-16" in built.stdout
    assert "articles from 2026-11-09 07:00 to 2026-11-16 07:00" in built.stdout
    assert "archive/index.html" in built.stdout
    listed = digest("history", "--config", "newsletter.toml")
    assert re.match(r"#1 +2026-11-16 +\d+ articles  Riverside Weekly: ", listed.stdout)


def test_init_writes_a_starter_that_validates(tmp_path: Path) -> None:
    result = run_digest("init", "weekly.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = load_config(tmp_path / "weekly.toml")
    assert config.newsletter.schedule.cadence is not None and config.sources
    again = run_digest("init", "weekly.toml", cwd=tmp_path)
    assert again.returncode == 1 and "the file exists" in again.stderr


def test_the_default_date_is_the_latest_scheduled_one() -> None:
    from digest.models import Cadence

    weekly = Cadence(every="week", weekday="monday")
    assert weekly.latest(date(2026, 11, 30)) == date(2026, 11, 30)
    assert weekly.latest(date(2026, 12, 2)) == date(2026, 11, 30)
    assert Cadence(every="day").latest(date(2026, 12, 2)) == date(2026, 12, 2)


def test_history_says_what_an_ab_test_decided(newsletter_dir: Path) -> None:
    from digest.delivery.abtest import decide
    from digest.delivery.ledger import SendLedger
    from digest.delivery.mailing import Mailing

    built = build(newsletter_dir, date(2026, 11, 16))
    mailing = Mailing(built.digest, subjects=["One {{ edition.number }}", "Two"])
    decision = decide(
        "AB",
        [("A", "m1"), ("A", "m2"), ("B", "m3"), ("B", "m4")],
        {"m3", "m4", "m1"},
        "clicks",
        datetime(2026, 11, 16, 10, 30, tzinfo=UTC),
    )
    with SendLedger(newsletter_dir / "newsletter.sends.sqlite3") as ledger:
        ledger.record_decision(mailing.edition_key, decision)
    listed = run_digest("history", "--config", "newsletter.toml", cwd=newsletter_dir)
    assert listed.returncode == 0, listed.stderr
    assert (
        "\n      A/B: subject B won on 2026-11-16 10:30 UTC; A 1/2 clicked (50.0 %), "
        "B 2/2 clicked (100.0 %)\n"
    ) in listed.stdout
