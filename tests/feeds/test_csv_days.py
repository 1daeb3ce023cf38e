"""Days without times in CSV sources: the rule of feeds (all at midnight, or all at one time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest import Newsletter
from digest.feeds.sources import Source, read_source

from ..helpers import run_command


def _csv(tmp_path: Path, dates: list[str], extra: str = "") -> Path:
    head = "title,url,section,published_at" + (",time_known" if extra else "")
    rows = [
        f"Post {n},https://site.example/{n},News,{when}" + (f",{extra}" if extra else "")
        for n, when in enumerate(dates, start=1)
    ]
    path = tmp_path / "posts.csv"
    path.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("dates", "known"),
    [
        (["2024-03-06T00:00:00+00:00", "2024-03-04T00:00:00+00:00"], [False, False]),
        (["2024-03-06T00:00:00Z", "2024-03-04T00:00:00Z"], [False, False]),
        (["2024-03-06T00:00:00+09:00", "2024-03-02T00:00:00+09:00"], [False, False]),
        (["2024-03-06T09:30:00+01:00", "2024-03-05T09:30:00+01:00"], [False, False]),
        (["2024-03-06T00:00:00+00:00"], [False]),
        (["2024-03-06T00:00:00+00:00", "2024-03-05T14:05:00+00:00"], [True, True]),
        (["2024-03-06T09:30:00+01:00"], [True]),
    ],
    ids=["midnight", "midnight-z", "midnight-in-its-zone", "one-time", "one-midnight",
         "a-time-of-its-own", "one-time-once"],
)  # fmt: skip
def test_csv_rows_whose_times_say_nothing_are_days(
    newsletter: Newsletter, tmp_path: Path, dates: list[str], known: list[bool]
) -> None:
    articles = read_source(Source(path=_csv(tmp_path, dates)), newsletter).articles
    assert [a.time_known for a in articles] == known
    # The day written is kept, in the zone it was written in.
    assert [a.published_at.isoformat()[:10] for a in articles] == [d[:10] for d in dates]


def test_a_csv_row_that_says_time_known_is_left_as_it_says(
    newsletter: Newsletter, tmp_path: Path
) -> None:
    dates = ["2024-03-06T00:00:00+00:00", "2024-03-04T00:00:00+00:00"]
    path = _csv(tmp_path, dates, extra="true")
    assert [a.time_known for a in read_source(Source(path=path), newsletter).articles] == [
        True,
        True,
    ]


CONFIG = """\
out = "out"
history = false

[[sources]]
path = "posts.csv"

[newsletter]
name = "Spreadsheet"
timezone = "UTC"

[newsletter.contact]
postal_address = "1 Main St"
unsubscribe_url = "https://sheet.example/unsubscribe"

[newsletter.sender]
name = "Spreadsheet"
address = "news@sheet.example"
"""


def test_digest_build_shows_a_csv_of_midnights_as_days(tmp_path: Path) -> None:
    _csv(tmp_path, ["2024-03-06T00:00:00+00:00", "2024-03-05T00:00:00+00:00"])
    (tmp_path / "n.toml").write_text(CONFIG)
    done = run_command("build", "--config", "n.toml", "--date", "2024-03-06", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "out" / "edition-2024-03-06.txt").read_text()
    assert "Wednesday, March 6, 2024" in text and "Tuesday, March 5, 2024" in text
    assert "12:00" not in text and "AM" not in text
