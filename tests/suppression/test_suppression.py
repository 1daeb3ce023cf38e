"""The suppression list, signed unsubscribe tokens, and real DSN and ARF reports."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.errors import ConfigError, InputError
from digest.store import StoreURL
from digest.suppression import Event, SuppressionList, UnsubscribeTokens, read_report, read_reports

from ..helpers import FIXTURES
from ..stores import Places

REPORTS = FIXTURES / "reports"
SECRET = "a-secret-of-thirty-two-characters"


@pytest.fixture
def listed(place: Places) -> Iterator[SuppressionList]:
    """A suppression list on each backend in turn."""
    with SuppressionList(place("s.sqlite3")) as opened:
        yield opened


def test_an_event_suppresses_once_and_a_replay_changes_nothing(listed: SuppressionList) -> None:
    event = Event("Reader@Example.org", "complaint", "ses", "ses:feedback-1:reader@example.org")
    assert listed.record(event) is True
    assert listed.record(event) is False
    assert "reader@example.org" in listed and "READER@example.org" in listed
    (entry,) = list(listed)
    assert (entry.address, entry.reason, entry.source) == ("reader@example.org", "complaint", "ses")
    assert listed.suppressed(["reader@example.org", "other@example.org"]) == {"reader@example.org"}


def test_soft_bounces_suppress_at_the_limit_and_removing_forgets_them(place: Places) -> None:
    with SuppressionList(place("s.sqlite3"), soft_bounce_limit=3) as listed:
        for n in range(2):
            listed.record(Event("full@example.org", "soft-bounce", "dsn", f"dsn:{n}"))
        assert "full@example.org" not in listed
        listed.record(Event("full@example.org", "soft-bounce", "dsn", "dsn:1"))  # a replay
        assert "full@example.org" not in listed
        listed.record(Event("full@example.org", "soft-bounce", "dsn", "dsn:2"))
        assert listed.get("full@example.org").reason == "soft-bounces"  # type: ignore[union-attr]
        assert listed.remove("FULL@example.org") is True
        listed.record(Event("full@example.org", "soft-bounce", "dsn", "dsn:3"))
        assert "full@example.org" not in listed  # counting starts again


def test_csv_round_trip_keeps_formulas_inert(
    listed: SuppressionList, place: Places, tmp_path: Path
) -> None:
    listed.add("a@example.org", "unsubscribed")
    listed.add("b@example.org", detail='=HYPERLINK("http://evil")')
    out = tmp_path / "out.csv"
    assert listed.export_csv(out) == 2
    with out.open() as file:
        rows = list(csv.DictReader(file))
    assert [r["address"] for r in rows] == ["a@example.org", "b@example.org"]
    assert rows[1]["detail"].startswith("'=")
    with SuppressionList(place("other.sqlite3")) as other:
        assert other.import_csv(out) == (2, 0)
        assert other.import_csv(out) == (0, 2)
        assert other.get("a@example.org").reason == "unsubscribed"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("email\nx@example.org\n", "no 'address' column"),
        ("address\nok@example.org\nnot an address\n", ":3: address 'not an address'"),
        ("address,reason\nok@example.org,angry\n", ":2: reason 'angry' is not one of"),
    ],
)
def test_a_bad_csv_names_its_line_and_adds_nothing(
    listed: SuppressionList, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        listed.import_csv(path)
    assert len(listed) == 0


def test_tokens_name_their_reader_and_nobody_else() -> None:
    tokens = UnsubscribeTokens(SECRET, "weekly.example.org")
    token = tokens.token("Reader.One@Example.org")
    assert tokens.address(token) == "reader.one@example.org"
    assert set(token) <= set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.")
    other_list = UnsubscribeTokens(SECRET, "daily.example.org")
    other_secret = UnsubscribeTokens(SECRET + "!", "weekly.example.org")
    assert other_list.address(token) is None and other_secret.address(token) is None
    version, _, signature = token.split(".")
    swapped = ".".join([version, tokens.token("someone@example.org").split(".")[1], signature])
    assert tokens.address(swapped) is None


@given(st.text(max_size=500))
def test_no_made_up_token_is_taken(token: str) -> None:
    assert UnsubscribeTokens(SECRET, "weekly.example.org").address(token) is None


def test_a_short_secret_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"DIGEST_UNSUBSCRIBE_SECRET: .* at least 16"):
        UnsubscribeTokens("short", "weekly.example.org")
    assert UnsubscribeTokens.from_environment("x.example", {}) is None


# What each real report says (sisimai/set-of-emails, BSD 2-clause).
EXPECTED = {
    "rfc3464-01.eml": ("dsn", [("userunknown@bouncehammer.jp", "hard-bounce")]),
    "lhost-postfix-01.eml": ("dsn", [("r@p351355.pool.example.ne.jp", "hard-bounce")]),
    "lhost-postfix-05.eml": ("dsn", [("kijitora@example.org", "soft-bounce")]),
    "rfc3464-07.eml": ("dsn", []),  # a delay
    "rfc3464-28.eml": ("dsn", []),  # delivered
    "arf-02.eml": ("arf", [("this-local-part-does-not-exist-on-yahoo@yahoo.com", "complaint")]),
    "arf-12.eml": ("arf", [("user@example.com", "unsubscribed")]),  # opt-out
    "arf-18.eml": ("arf", []),  # an authentication failure, not a complaint
    "arf-01.eml": ("arf", []),  # redacted (RFC 6590): the enclosed To is not the reader
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_reports(name: str) -> None:
    report = read_report((REPORTS / name).read_bytes(), where=name)
    assert report is not None
    kind, events = EXPECTED[name]
    assert report.kind == kind
    assert [(e.address, e.reason) for e in report.events] == events
    assert all(e.id.startswith(f"{kind}:") for e in report.events)
    assert bool(report.note) == (not events)


def test_a_report_with_many_recipients_gives_one_event_each() -> None:
    report = read_report((REPORTS / "arf-16.eml").read_bytes())
    assert report is not None and len(report.events) == 7
    assert len({e.id for e in report.events}) == 7


def test_an_mbox_of_bounces(tmp_path: Path) -> None:
    found = list(read_reports([REPORTS / "mbox-0"]))
    reports = [r for r in found if not isinstance(r, str)]
    assert len(found) == 37 and len(reports) >= 30
    assert all(r.where.startswith(str(REPORTS / "mbox-0")) for r in reports)
    again = [r for r in read_reports([REPORTS / "mbox-0"]) if not isinstance(r, str)]
    with SuppressionList(tmp_path / "s.sqlite3") as listed:
        first = sum(listed.record(e) for r in reports for e in r.events)
        replayed = sum(listed.record(e) for r in again for e in r.events)
    assert first > 20 and replayed == 0


def test_a_maildir_and_a_folder_of_eml(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.host").write_bytes((REPORTS / "rfc3464-01.eml").read_bytes())
    (maildir / "cur" / "2.host:2,S").write_bytes(b"From: a@example.org\r\n\r\nhello\r\n")
    found = list(read_reports([maildir, REPORTS]))
    assert sum(isinstance(r, str) for r in found) == 1  # the ordinary mail
    assert len([r for r in found if not isinstance(r, str)]) == 1 + len(list(REPORTS.glob("*.eml")))


def test_a_redacted_complaint_finds_its_reader_by_the_signed_link() -> None:
    tokens = UnsubscribeTokens(SECRET, "weekly.example.org")
    raw = (REPORTS / "arf-01.eml").read_bytes()
    link = f"List-Unsubscribe: <https://news.example.org/unsubscribe/{tokens.token('kim@example.net')}>\n"
    raw = raw.replace(
        b"Subject: Kijitora cat family\n", b"Subject: Kijitora cat family\n" + link.encode()
    )
    report = read_report(raw, tokens)
    assert report is not None
    assert [(e.address, e.reason) for e in report.events] == [("kim@example.net", "complaint")]
    forged = raw.replace(tokens.token("kim@example.net").encode()[-6:], b"AAAAAA")
    assert read_report(forged, tokens).events == []  # type: ignore[union-attr]


def test_event_times_are_kept_in_utc(listed: SuppressionList) -> None:
    listed.record(Event("a@example.org", "hard-bounce", "dsn", "x", datetime(2026, 1, 2, 3, 4, 5)))
    assert listed.get("a@example.org").at == "2026-01-02T03:04:05+00:00"  # type: ignore[union-attr]
    later = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    listed.record(Event("b@example.org", "hard-bounce", "dsn", "y", later))


def _record_many(path: str | StoreURL, prefix: str, count: int) -> int:
    with SuppressionList(path) as listed:
        return sum(
            listed.record(
                Event(f"{prefix}{n}@example.org", "unsubscribed", "page", f"u:{prefix}{n}")
            )
            + listed.record(Event(f"both{n}@example.org", "complaint", "ses", f"ses:both{n}"))
            for n in range(count)
        )


def test_two_processes_recording_at_once_lose_nothing_and_record_nothing_twice(
    place: Places,
) -> None:
    from concurrent.futures import ProcessPoolExecutor

    where = place("s.sqlite3")
    path = str(where) if isinstance(where, Path) else where
    SuppressionList(path).close()
    with ProcessPoolExecutor(max_workers=2) as pool:
        new = sum(pool.map(_record_many, [path, path], ["a", "b"], [300, 300]))
    assert new == 300 + 300 + 300  # each process's own, and the shared events once
    with SuppressionList(path) as listed:
        assert len(listed) == 900
        assert listed.counts() == {"unsubscribed": 600, "complaint": 300}


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.3, 0.6, 0.9, 1.2])  # from start-up to the middle of the mbox
def test_an_import_killed_in_the_middle_and_run_again_records_every_report_once(
    tmp_path: Path, after: float
) -> None:
    import os
    import signal
    import subprocess
    import time

    from ..helpers import EXAMPLES, digest_command, run_digest

    folder = tmp_path / "cfg"
    folder.mkdir()
    config = folder / "newsletter.toml"
    config.write_text(
        (EXAMPLES / "riverside" / "newsletter.toml")
        .read_text()
        .replace('data = "articles.json"', "")
        .replace('assets = "images"', "")
    )
    mailbox = REPORTS / "mbox-0"
    # The mbox's reports answer another list's mail: trusted, so that each one is recorded.
    command = ["suppress", "import-mail", "--config", str(config), "--trust-unmatched"]
    process = subprocess.Popen(
        [*digest_command(), *command, str(mailbox)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(after)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    again = run_digest(*command, mailbox)
    assert again.returncode == 0, again.stderr
    listed = run_digest("suppress", "list", "--config", config)
    addresses = [line.split("\t")[0] for line in listed.stdout.splitlines()]
    # What one import that ran to the end records.
    with SuppressionList(tmp_path / "whole.sqlite3") as whole:
        for report in read_reports([mailbox]):
            for event in [] if isinstance(report, str) else report.events:
                whole.record(event)
        expected = sorted(entry.address for entry in whole)
    assert sorted(addresses) == expected and len(addresses) == len(set(addresses))
