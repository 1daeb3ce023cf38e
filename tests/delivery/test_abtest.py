"""A/B subjects with a winner: the sample first, then the winner (decided from real webhook
clicks, or by hand) to everyone else, each reader once."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from digest.delivery.abtest import SubjectTest, decide
from digest.delivery.ledger import SendLedger
from digest.delivery.loop import DeliveryReport
from digest.delivery.mailing import Mailing
from digest.delivery.settings import DeliverySettings
from digest.errors import InputError
from digest.models import Reader
from digest.suppression import SuppressionList
from digest.web import WebSettings, make_app

from ..helpers import FIXTURES, build_example
from ..mailservers import ProviderApi, StandInApi

SUBJECTS = ["A: {{ edition.lead.title }}", "B: {{ edition.lead.title }}", "C: {{ edition.lead.title }}"]  # fmt: skip
T0 = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 8, 30)


@pytest.mark.parametrize(
    ("sent", "engaged", "winner", "how"),
    [
        ({"A": 10, "B": 10}, {"A": 2, "B": 5}, "B", "rule"),
        ({"A": 10, "B": 20}, {"A": 3, "B": 5}, "A", "rule"),  # 30 % against 25 %
        ({"A": 10, "B": 20}, {"A": 2, "B": 4}, "B", "rule"),  # the same share: more readers
        ({"A": 10, "B": 10, "C": 10}, {"B": 3, "C": 3}, "B", "rule"),  # all even: the earlier
        ({"A": 10, "B": 10}, {}, "A", "no events"),
        ({"A": 0, "B": 4}, {"B": 1}, "B", "rule"),  # a variant nobody got
    ],
)
def test_the_rule_the_highest_share_then_more_readers_then_the_earlier_letter(
    sent: dict[str, int], engaged: dict[str, int], winner: str, how: str
) -> None:
    rows = [(label, f"{label}{n}") for label, count in sent.items() for n in range(count)]
    hits = {f"{label}{n}" for label, count in engaged.items() for n in range(count)}
    decision = decide(sent, rows, hits, "clicks", T0)
    assert (decision.winner, decision.how) == (winner, how)
    assert decision.counts == {label: (sent[label], engaged.get(label, 0)) for label in sent}
    assert decision.describe().startswith(f"subject {winner} ")


@pytest.fixture
def postmark(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInApi]:
    monkeypatch.setenv("POSTMARK_SERVER_TOKEN", "test-key")
    with ProviderApi("postmark") as server:
        yield server


def through(api: StandInApi) -> DeliverySettings:
    return DeliverySettings.model_validate(
        {"provider": "postmark", "postmark": {"base_url": api.url}, "backoff": 0}
    )


def readers(count: int) -> list[Reader]:
    return [Reader(address=f"r{n:03}@example.org") for n in range(count)]


def subject_of(item: dict[str, Any]) -> str:
    return str(item["Subject"])[0]


def click(client: TestClient, message_id: str, address: str) -> None:
    record = json.loads((FIXTURES / "webhooks" / "postmark-click.json").read_text())
    record.update(MessageID=message_id, Recipient=address)
    auth = {"authorization": "Basic " + base64.b64encode(b"postmark:pm-password").decode()}
    answer = client.post("/webhooks/postmark", json=record, headers=auth)
    assert answer.json() == {"events": 1, "new": 1}


@pytest.mark.parametrize("workers", [0, 2])
def test_the_sample_then_the_winner_from_real_clicks_to_everyone_else_once(
    postmark: StandInApi, tmp_path: Path, workers: int
) -> None:
    with ExitStack() as stack:
        pool = stack.enter_context(ProcessPoolExecutor(workers)) if workers else None
        the_test(postmark, tmp_path, pool)


def the_test(postmark: StandInApi, tmp_path: Path, pool: Executor | None) -> None:
    mailing = Mailing(build_example("riverside"), subjects=SUBJECTS)
    test = SubjectTest(sample=0.3, wait_hours=3)
    people = readers(200)
    web = WebSettings(suppressions=tmp_path / "list.sqlite3", postmark_password="pm-password")
    with (
        SendLedger(tmp_path / "sends.sqlite3") as ledger,
        SuppressionList(web.suppressions) as events,
        TestClient(make_app(web)) as client,
    ):

        def run(hours: float) -> DeliveryReport:
            at = T0 + timedelta(hours=hours)
            return mailing.deliver(
                people, through(postmark), ledger, test=test, events=events, at=at, executor=pool
            )

        first = run(0)
        assert 40 <= first.sent <= 80 and first.waiting == 200 - first.sent
        assert first.next_due == T0 + timedelta(hours=3)
        assert first.subject_test.startswith("testing the subjects on 30% of the list")
        sample = {item["To"]: subject_of(item) for item in postmark.received}
        assert set(sample.values()) == {"A", "B", "C"}
        assert all(test.in_sample(mailing.edition_key, a) for a in sample)
        # The readers click, as Postmark reports it: B's readers more than the others.
        ids = {row.address: row.detail for row in ledger.rows(mailing.edition_key)}
        clicks: Counter[str] = Counter()
        for n, (address, label) in enumerate(sorted(sample.items())):
            if (label == "B" and n % 2 == 0) or (label != "B" and n % 7 == 0):
                click(client, ids[address], address)
                clicks[label] += 1
        early = run(1)
        assert early.sent == 0 and early.skipped == first.sent and early.waiting == first.waiting
        won = run(3)
        after = run(4)
        decision = ledger.decision(mailing.edition_key)
    assert won.sent == 200 - first.sent and won.skipped == first.sent and won.waiting == 0
    assert after.sent == 0 and after.skipped == 200
    assert decision is not None and decision.winner == "B" and decision.how == "rule"
    assert decision.decided == T0 + timedelta(hours=3)
    assert won.subject_test == decision.describe() and "B " in won.subject_test
    shown = Counter(sample.values())
    assert decision.counts == {label: (shown[label], clicks[label]) for label in "ABC"}
    sent = shown["B"]
    received = Counter(item["To"] for item in postmark.received)
    assert set(received.values()) == {1} and len(received) == 200  # everyone, once
    rest = [subject_of(item) for item in postmark.received if item["To"] not in sample]
    assert set(rest) == {"B"}
    summary = ledger_summary(tmp_path, mailing)
    assert summary["B"] == sent + len(rest)


def ledger_summary(tmp_path: Path, mailing: Mailing) -> Counter[str]:
    with SendLedger(tmp_path / "sends.sqlite3") as ledger:
        counts: Counter[str] = Counter()
        for (variant, state), count in ledger.summary(mailing.edition_key).items():
            if state == "sent":
                counts[variant] += count
        return counts


def test_a_winner_chosen_by_hand_goes_to_the_rest_at_once_and_stays(
    postmark: StandInApi, tmp_path: Path
) -> None:
    mailing = Mailing(build_example("riverside"), subjects=SUBJECTS)
    people = readers(60)
    with (
        SendLedger(tmp_path / "sends.sqlite3") as ledger,
        SuppressionList(tmp_path / "list.sqlite3") as events,
    ):
        test = SubjectTest(sample=0.5, wait_hours=3)
        first = mailing.deliver(people, through(postmark), ledger, test=test, events=events, at=T0)
        chosen = test.model_copy(update={"winner": "C"})
        rest = mailing.deliver(
            people,
            through(postmark),
            ledger,
            test=chosen,
            events=events,
            at=T0 + timedelta(minutes=5),
        )
        later = mailing.deliver(
            people, through(postmark), ledger, test=test, events=events, at=T0 + timedelta(hours=5)
        )
        decision = ledger.decision(mailing.edition_key)
        with pytest.raises(InputError, match="has a winner: deliver it with the same test"):
            mailing.deliver(people, through(postmark), ledger, at=T0 + timedelta(hours=6))
    assert decision is not None and (decision.winner, decision.how) == ("C", "by hand")
    assert first.sent + rest.sent == 60 and later.sent == 0
    assert "chosen by hand" in rest.subject_test
    late = {item["To"] for item in postmark.received[first.sent :]}
    assert {subject_of(i) for i in postmark.received if i["To"] in late} == {"C"}


@pytest.mark.parametrize(
    ("subjects", "test", "ledger", "events", "message"),
    [
        (SUBJECTS[:1], SubjectTest(), True, True, "needs two to four subjects, not 1"),
        (SUBJECTS, SubjectTest(), False, True, "needs a send ledger"),
        (SUBJECTS, SubjectTest(), True, False, "decided from opens and clicks: pass events"),
        (SUBJECTS, SubjectTest(winner="D"), True, True, "no subject 'D'"),
        (SUBJECTS, SubjectTest(sample_size=10), True, True, "pass the readers as a list"),
    ],
)
def test_a_test_that_cannot_run_is_refused_before_anything_is_sent(
    postmark: StandInApi,
    tmp_path: Path,
    subjects: list[str],
    test: SubjectTest,
    ledger: bool,
    events: bool,
    message: str,
) -> None:
    mailing = Mailing(build_example("riverside"), subjects=subjects)
    with (
        SendLedger(tmp_path / "sends.sqlite3") as book,
        SuppressionList(tmp_path / "list.sqlite3") as listed,
        pytest.raises(InputError, match=message),
    ):
        mailing.deliver(
            iter(readers(5)),
            through(postmark),
            book if ledger else None,
            test=test,
            events=listed if events else None,
        )
    assert postmark.received == []


def test_a_sample_size_caps_the_share() -> None:
    mailing = Mailing(build_example("riverside"), subjects=SUBJECTS)
    test = SubjectTest(sample=0.5, sample_size=10)
    people = [r.address for r in readers(1000)]
    capped = test.model_copy(update={"sample": min(test.sample, 10 / len(people))})
    inside = [a for a in people if capped.in_sample(mailing.edition_key, a)]
    assert 3 <= len(inside) <= 20  # about ten: a share by hash, stable across runs
    assert inside == [a for a in people if capped.in_sample(mailing.edition_key, a)]
