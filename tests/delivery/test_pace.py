"""The pace of a send: the sending calendar, the hourly cap and a new domain's warm-up."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from digest import email_bytes
from digest.delivery.eml import local_send_times, read_recipients, send_eml
from digest.delivery.ledger import SendLedger
from digest.delivery.pace import Pace
from digest.delivery.senders import Receipt
from digest.delivery.settings import DeliverySettings, SmtpSettings
from digest.delivery.smtp import SmtpSender

from ..helpers import build_example, run_digest
from ..mailservers import Inbox, start_smtp
from .test_due import ZONES, seed_sending_to

JAKARTA = ZoneInfo("Asia/Jakarta")
SMTP = {"smtp": {"host": "127.0.0.1"}}


def pace(**delivery: Any) -> Pace:
    found = Pace.from_settings(DeliverySettings.model_validate(SMTP | delivery), JAKARTA)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hours", "8-20", '"HH:MM-HH:MM", such as "08:00-20:00"'),
        ("hours", "08:00-25:00", "(got '08:00-25:00')"),
        ("hours", "09:00-09:00", "open and close at one moment"),
        ("days", ["mon", "funday"], "'funday' is not one of mon, tue"),
        ("days", [], "name at least one day"),
        ("hourly_cap", -1, "greater than or equal to 0"),
        ("warmup", {"start": "2026-12-01", "growth": 1}, "greater than or equal to 1.01"),
    ],
)
def test_a_pace_that_cannot_be_is_refused_by_name(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        DeliverySettings.model_validate(SMTP | {field: value})
    assert raised.value.errors()[0]["loc"][0] == field
    assert message in str(raised.value)


def test_no_pace_asked_for_is_none() -> None:
    assert Pace.from_settings(DeliverySettings.model_validate(SMTP), JAKARTA) is None
    written = DeliverySettings.model_validate(
        SMTP | {"days": ["fri", "mon"], "hours": "22:00-06:00"}
    )
    assert written.days == ("mon", "fri") and written.hours == "22:00-06:00"


WORKDAYS = ["mon", "tue", "wed", "thu", "fri"]


@pytest.mark.parametrize(
    ("delivery", "local", "is_open", "opens"),
    [
        # Tuesday 1 December 2026, Jakarta time.
        ({"hours": "08:00-20:00"}, datetime(2026, 12, 1, 7, 59), False, datetime(2026, 12, 1, 8)),
        ({"hours": "08:00-20:00"}, datetime(2026, 12, 1, 8), True, datetime(2026, 12, 1, 8)),
        ({"hours": "08:00-20:00"}, datetime(2026, 12, 1, 20), False, datetime(2026, 12, 2, 8)),
        ({"days": WORKDAYS}, datetime(2026, 12, 5, 12), False, datetime(2026, 12, 7, 0)),
        ({"days": WORKDAYS, "hours": "09:00-17:00"}, datetime(2026, 12, 4, 17), False,
         datetime(2026, 12, 7, 9)),
        # Past midnight: the hours belong to the day they open on.
        ({"days": ["fri"], "hours": "22:00-06:00"}, datetime(2026, 12, 5, 5, 59), True,
         datetime(2026, 12, 5, 5, 59)),
        ({"days": ["fri"], "hours": "22:00-06:00"}, datetime(2026, 12, 5, 22), False,
         datetime(2026, 12, 11, 22)),
    ],
)  # fmt: skip
def test_the_calendar_opens_on_its_days_and_hours(
    delivery: dict[str, Any], local: datetime, is_open: bool, opens: datetime
) -> None:
    at = local.replace(tzinfo=JAKARTA).astimezone(UTC)
    assert pace(**delivery).is_open(at) is is_open
    assert pace(**delivery).next_open(at) == opens.replace(tzinfo=JAKARTA)


def test_the_warm_up_grows_each_day_until_the_list_goes_in_a_day() -> None:
    ramp = pace(warmup={"start": "2026-12-01", "first_day": 200, "growth": 2})
    assert [ramp.daily_limit(date(2026, 12, day)) for day in (1, 2, 3, 8)] == [200, 400, 800, 25600]
    assert ramp.daily_limit(date(2026, 11, 1)) == 200  # before it starts
    assert ramp.daily_limit(date(2027, 12, 1)) is None  # grown past any list


def test_the_cap_and_the_warm_up_count_every_edition_in_the_ledger(tmp_path: Path) -> None:
    at = datetime(2026, 12, 1, 3, 30, tzinfo=UTC)  # 10:30 in Jakarta
    with SendLedger(tmp_path / "sends.sqlite3") as ledger:
        for edition, moment in [("a", at - timedelta(minutes=20)), ("b", at - timedelta(hours=2))]:
            names = [f"{edition}{n}@example.org" for n in range(5)]
            ledger.claim(edition, names, [""] * 5, "run", when=moment)
            ledger.record(edition, [Receipt(name, "sent", "") for name in names], moment)
        assert ledger.handed_over(datetime(2026, 12, 1, 3, tzinfo=UTC)) == 5
        hourly = pace(hourly_cap=8).allowance(at, ledger.handed_over)
        daily = pace(warmup={"start": "2026-12-01", "first_day": 12}).allowance(
            at, ledger.handed_over
        )
    assert hourly.limit == 3 and hourly.until == datetime(2026, 12, 1, 4, tzinfo=UTC)
    assert daily.limit == 2 and daily.until == datetime(2026, 12, 2, tzinfo=JAKARTA)
    assert hourly.reason == "the cap of 8 an hour"


calendars = st.fixed_dictionaries(
    {},
    optional={
        "days": st.lists(st.sampled_from([*WORKDAYS, "sat", "sun"]), min_size=1, unique=True),
        "hours": st.sampled_from(["08:00-20:00", "22:00-06:00", "09:30-10:15", "00:00-24:00"]),
        "hourly_cap": st.integers(1, 40),
        "warmup": st.builds(
            lambda first, growth: {"start": "2026-12-01", "first_day": first, "growth": growth},
            st.integers(1, 60),
            st.floats(1.01, 3),
        ),
    },
)


@settings(max_examples=150, deadline=None)
@given(
    delivery=calendars,
    offsets=st.lists(st.integers(0, 14 * 24 * 60), min_size=1, max_size=300),
)
def test_a_plan_keeps_to_every_rule(delivery: dict[str, Any], offsets: list[int]) -> None:
    rules = Pace.from_settings(DeliverySettings.model_validate(SMTP | delivery), JAKARTA) or Pace(
        JAKARTA
    )
    start = datetime(2026, 12, 1, tzinfo=UTC)
    due = [start + timedelta(minutes=offset) for offset in offsets]
    plan = rules.plan(due, start)
    assert sum(plan.hours.values()) + plan.beyond == len(due)
    assert plan.beyond == 0  # every such calendar sends within a year
    per_day: Counter[date] = Counter()
    planned = 0
    for hour, count in plan.hours.items():
        assert any(rules.is_open(hour + timedelta(minutes=m)) for m in range(60)), hour
        assert count <= (rules.hourly_cap or count)
        planned += count
        assert planned <= sum(moment < hour + timedelta(hours=1) for moment in due)  # not early
        per_day[hour.astimezone(JAKARTA).date()] += count
    for day, count in per_day.items():
        assert count <= (rules.daily_limit(day) or count)


def test_cron_every_ten_minutes_keeps_the_calendar_and_the_cap_and_follows_the_plan(
    tmp_path: Path,
) -> None:
    """Four readers in each of 24 zones, 07:00 where each lives, working hours in Jakarta."""
    raw = email_bytes(build_example("tangerangnews"))  # dated 16 September 2025, 07:00 in Jakarta
    lines = [f"r{n:03}@example.org {ZONES[n % 24]}" for n in range(96)]
    zones: dict[str, str] = {}
    recipients = read_recipients(lines, "list", zones)
    due = local_send_times(raw, zones, "Asia/Jakarta")
    rules = pace(days=WORKDAYS, hours="06:00-22:00", hourly_cap=7)
    start = datetime(2025, 9, 15, 6, 0, tzinfo=UTC)  # a Monday
    plan = rules.plan(map(due, recipients), start)
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    sent_at: dict[str, datetime] = {}
    try:
        with (
            SendLedger(tmp_path / "sends.sqlite3") as ledger,
            SmtpSender(SmtpSettings(host="127.0.0.1", port=port, security="none")) as sender,
        ):
            at = start
            while at <= start + timedelta(days=3):
                before = len(inbox.received)
                report = send_eml(raw, recipients, sender, ledger, due=due, at=at, pace=rules)
                for _, rcpts, _ in inbox.received[before:]:
                    sent_at[rcpts[0]] = at
                if report.held:
                    assert report.held_until is not None and report.held_until > at
                at += timedelta(minutes=10)
    finally:
        controller.stop()
    assert sorted(sent_at) == sorted(recipients)
    assert len(inbox.received) == len(recipients)  # nobody twice
    hours = Counter(moment.replace(minute=0) for moment in sent_at.values())
    assert hours == Counter(plan.hours)  # the dry run's plan is what the runs did
    assert max(hours.values()) == 7
    for address, moment in sent_at.items():
        assert moment >= due(address)
        local = moment.astimezone(JAKARTA)
        assert local.weekday() < 5 and time(6) <= local.time().replace(tzinfo=None) < time(22)


def test_personalised_copies_keep_the_pace_their_settings_ask_for(tmp_path: Path) -> None:
    from digest.delivery.mailing import Mailing
    from digest.models import Reader

    inbox = Inbox()
    controller, port = start_smtp(inbox)
    settings = DeliverySettings.model_validate(
        {"smtp": {"host": "127.0.0.1", "port": port, "security": "none"}, "hourly_cap": 2}
    )
    readers = [Reader(address=f"r{n}@example.org") for n in range(5)]
    mailing = Mailing(build_example("riverside"))
    at = datetime(2026, 11, 30, 9, 10, tzinfo=UTC)
    try:
        with SendLedger(tmp_path / "sends.sqlite3") as ledger:
            first = mailing.deliver(readers, settings, ledger, at=at)
            same_hour = mailing.deliver(readers, settings, ledger, at=at + timedelta(minutes=30))
            next_hour = mailing.deliver(readers, settings, ledger, at=at + timedelta(hours=1))
    finally:
        controller.stop()
    assert (first.sent, first.held, first.held_reason) == (2, 3, "the cap of 2 an hour")
    assert (same_hour.sent, same_hour.held, same_hour.skipped) == (0, 3, 2)
    assert (next_hour.sent, next_hour.held, next_hour.skipped) == (2, 1, 2)
    assert len(inbox.received) == 4


def test_send_prints_the_plan_and_holds_the_rest(tmp_path: Path) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed_sending_to(tmp_path, port, "hourly_cap = 2\n")
        out = tmp_path / "out"
        built = run_digest("build", "--config", config, "--date", "2026-11-30", "--out", out, "-q")
        assert built.returncode == 0, built.stderr
        (eml,) = out.glob("*.eml")
        readers = tmp_path / "readers.txt"
        readers.write_text("".join(f"r{n}@example.org\n" for n in range(5)))
        send = ("send", "--config", config, eml, "--allow-placeholder-links")  # a test list
        plan = run_digest(*send, "--recipients", readers, "--dry-run")
        assert plan.returncode == 0, plan.stderr
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        expected = [hour + timedelta(hours=n) for n in range(3)]
        table = "".join(
            f"  {h:%Y-%m-%d %H:00}  {c:>9,}\n" for h, c in zip(expected, [2, 2, 1], strict=True)
        )
        assert f"would go out (UTC)\n{table}" in plan.stdout
        sent = run_digest(*send, "--recipients", readers)
        assert sent.returncode == 0, sent.stderr
        assert "3 readers are held back by the cap of 2 an hour; a run from " in sent.stdout
        assert re.search(r"\nheld by the pace +3\n", sent.stdout)
        assert len(inbox.received) == 2
        proof = run_digest("send", "--config", config, eml, "--to", "me@example.org", "-q")
        assert proof.returncode == 0 and len(inbox.received) == 3  # a proof ignores the pace
    finally:
        controller.stop()
