"""The send ledger's interface on both backends: SQLite files and PostgreSQL.

Every test here runs twice (``store_url``): on an SQLite ledger, and on a PostgreSQL schema of
its own (skipped, saying why, without a server). What differs between them is only what a
claim reads for a reader another live sender holds: ``pending`` on SQLite (one run at a time:
it was a stopped run's), ``claimed`` on PostgreSQL until its lease runs out.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.delivery.ledger import LedgerRow, PostgresLedger, SendLedger, open_ledger
from digest.delivery.loop import run_delivery
from digest.delivery.senders import Receipt
from digest.delivery.subject_test import Decision
from digest.errors import SendError
from digest.store import StoreURL

from ..stores import postgres_url, store_url

__all__ = ["postgres_url", "store_url"]

EDITION = "weekly:2026-12-06:12"
T0 = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)


def opened(url: StoreURL, tmp_path: Path, lease: int = 900) -> SendLedger:
    return open_ledger(tmp_path / "default.sends.sqlite3", url, lease)


@pytest.fixture
def ledger(store_url: StoreURL, tmp_path: Path) -> SendLedger:
    return opened(store_url, tmp_path)


def other_live(ledger: SendLedger) -> str:
    """What a claim reads for a reader another run holds now."""
    return "claimed" if isinstance(ledger, PostgresLedger) else "pending"


def test_the_url_picks_the_backend(store_url: StoreURL, tmp_path: Path) -> None:
    with opened(store_url, tmp_path) as ledger:
        assert isinstance(ledger, PostgresLedger) == (store_url.backend == "postgresql")
        if store_url.path is not None:
            assert ledger.path == store_url.path


def test_a_claim_takes_the_new_and_names_the_known(ledger: SendLedger) -> None:
    with ledger:
        first = ledger.claim(EDITION, ["A@x.org", "b@x.org"], ["", ""], "run1", when=T0)
        assert first == {}
        # The same run again: its own claims; another run: someone else's.
        assert ledger.claim(EDITION, ["a@x.org"], [""], "run1", when=T0) == {"a@x.org": "this-run"}
        again = ledger.claim(EDITION, ["a@x.org", "c@x.org"], ["", ""], "run2", when=T0)
        assert again == {"a@x.org": other_live(ledger)}
        assert ledger.states(EDITION, ["a@x.org", "C@X.org", "z@x.org"], "run2") == {
            "a@x.org": "pending",
            "c@x.org": "this-run",
        }


def test_receipts_are_recorded_and_a_deferred_one_forgotten(ledger: SendLedger) -> None:
    addresses = ["a@x.org", "b@x.org", "c@x.org", "d@x.org"]
    with ledger:
        ledger.claim(EDITION, addresses, ["A", "B", "A", "B"], "run1", when=T0)
        ledger.record(
            EDITION,
            [
                Receipt("a@x.org", "sent", "<id-1@x>"),
                Receipt("b@x.org", "refused", "550 no such user"),
                Receipt("c@x.org", "unknown", "timeout"),
                Receipt("D@x.org", "deferred", "421 later"),
            ],
            T0 + timedelta(minutes=1),
        )
        assert list(ledger.rows(EDITION)) == [
            LedgerRow("a@x.org", "sent", "<id-1@x>", "A", "2026-12-06T06:01:00+00:00"),
            LedgerRow("b@x.org", "refused", "550 no such user", "B", "2026-12-06T06:01:00+00:00"),
            LedgerRow("c@x.org", "unknown", "timeout", "A", "2026-12-06T06:01:00+00:00"),
        ]
        assert ledger.summary(EDITION) == {
            ("A", "sent"): 1,
            ("A", "unknown"): 1,
            ("B", "refused"): 1,
        }
        assert ledger.sent_variants(EDITION) == [("A", "<id-1@x>")]
        assert [ledger.went_to(EDITION, a) for a in addresses] == [True, False, True, False]
        assert [r.address for r in ledger.rows(EDITION, ("refused", "unknown"))] == [
            "b@x.org",
            "c@x.org",
        ]
        # The deferred one is claimed again by the next run; the others are known.
        assert ledger.claim(EDITION, addresses, [""] * 4, "run2", when=T0) == {
            "a@x.org": "sent",
            "b@x.org": "refused",
            "c@x.org": "unknown",
        }


@pytest.mark.parametrize(
    ("take_unknown", "take_refused", "left"),
    [
        (False, False, {"a@x.org": "sent", "b@x.org": "refused", "c@x.org": "unknown"}),
        (True, False, {"a@x.org": "sent", "b@x.org": "refused"}),
        (False, True, {"a@x.org": "sent", "c@x.org": "unknown"}),
        (True, True, {"a@x.org": "sent"}),
    ],
)
def test_unknown_and_refused_are_taken_only_when_asked(
    ledger: SendLedger, take_unknown: bool, take_refused: bool, left: dict[str, str]
) -> None:
    addresses = ["a@x.org", "b@x.org", "c@x.org"]
    with ledger:
        ledger.claim(EDITION, addresses, [""] * 3, "run1", when=T0)
        receipts = [
            Receipt(a, s) for a, s in zip(addresses, ["sent", "refused", "unknown"], strict=True)
        ]
        ledger.record(EDITION, receipts, T0)
        got = ledger.claim(EDITION, addresses, [""] * 3, "run2", take_unknown, take_refused)
        assert got == left


def test_a_limit_claims_in_order_and_holds_the_rest(ledger: SendLedger) -> None:
    addresses = [f"r{n}@x.org" for n in range(6)]
    with ledger:
        ledger.claim(EDITION, addresses[1:2], [""], "run0", when=T0)
        ledger.record(EDITION, [Receipt(addresses[1], "sent")], T0)
        got = ledger.claim(EDITION, addresses, [""] * 6, "run1", limit=2, when=T0)
        held = {"r3@x.org": "held", "r4@x.org": "held", "r5@x.org": "held"}
        assert got == {"r1@x.org": "sent", **held}
        assert set(ledger.states(EDITION, addresses)) == {"r0@x.org", "r1@x.org", "r2@x.org"}


def test_a_dead_senders_claim_reads_unknown_after_its_lease(
    store_url: StoreURL, tmp_path: Path
) -> None:
    with opened(store_url, tmp_path, lease=60) as ledger:
        ledger.claim(EDITION, ["a@x.org"], [""], "dead", when=T0)
        soon = ledger.claim(EDITION, ["a@x.org"], [""], "run2", when=T0 + timedelta(seconds=30))
        assert soon == {"a@x.org": other_live(ledger)}
        # Past the lease: unknown (reported, never resent on its own), as after a crash.
        later = T0 + timedelta(seconds=61)
        assert ledger.claim(EDITION, ["a@x.org"], [""], "run2", when=later) == {
            "a@x.org": "pending"
        }
        # Asked to resend the unknown, a run takes it; within the lease nobody can.
        assert ledger.claim(EDITION, ["a@x.org"], [""], "run2", True, when=later) == {}
        assert ledger.states(EDITION, ["a@x.org"], "run2") == {"a@x.org": "this-run"}


def test_content_is_noted_once(ledger: SendLedger) -> None:
    with ledger:
        assert not ledger.content_changed(EDITION, "sha-1")
        assert not ledger.content_changed(EDITION, "sha-1")
        assert ledger.content_changed(EDITION, "sha-2")
        assert not ledger.content_changed("other", "")


def test_senders_noting_content_and_a_test_at_once_all_read_the_first(
    store_url: StoreURL, tmp_path: Path
) -> None:
    """The row another sender commits while this one's statement runs is read, not missed."""
    seen: list[tuple[bool, datetime]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def note(n: int) -> None:
        try:
            with opened(store_url, tmp_path) as ledger:
                start.wait()
                changed = ledger.content_changed(EDITION, "sha-1")
                seen.append((changed, ledger.test_started(EDITION, T0 + timedelta(minutes=n))))
        except BaseException as error:  # a thread's failure fails the test
            errors.append(error)

    threads = [threading.Thread(target=note, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(seen) == 6 and len(set(seen)) == 1 and not seen[0][0]


def test_an_ab_tests_start_and_decision_are_kept(ledger: SendLedger) -> None:
    with ledger:
        assert ledger.test_started(EDITION, T0) == T0
        assert ledger.test_started(EDITION, T0 + timedelta(hours=3)) == T0
        assert ledger.decision(EDITION) is None
        decision = Decision("B", "rule", T0 + timedelta(hours=4), {"A": (10, 1), "B": (10, 3)})
        ledger.record_decision(EDITION, decision)
        assert ledger.decision(EDITION) == decision
        by_hand = Decision("A", "by hand", T0 + timedelta(hours=5), {"A": (10, 1)}, "opens")
        ledger.record_decision(EDITION, by_hand)
        assert ledger.decision(EDITION) == by_hand


def test_handed_over_counts_every_edition_since_a_moment(ledger: SendLedger) -> None:
    with ledger:
        ledger.claim("one", ["a@x.org", "b@x.org"], ["", ""], "r", when=T0)
        ledger.claim("two", ["a@x.org"], [""], "r", when=T0 + timedelta(hours=2))
        assert ledger.handed_over(T0) == 3
        assert ledger.handed_over(T0 + timedelta(hours=1)) == 1


def test_the_report_file_is_the_same_on_both(store_url: StoreURL, tmp_path: Path) -> None:
    with opened(store_url, tmp_path) as ledger:
        ledger.claim(EDITION, ["=cmd@x.org", "b@x.org"], ["", ""], "r", when=T0)
        ledger.record(EDITION, [Receipt("=cmd@x.org", "refused", "550\nno")], T0)
        assert ledger.write_report(EDITION, tmp_path / "report.csv") == 2
    text = (tmp_path / "report.csv").read_text()
    assert text.splitlines()[1].startswith('"\'=cmd@x.org","refused","550')
    assert '"b@x.org","pending"' in text


def test_senders_at_once_never_claim_one_reader_twice(store_url: StoreURL, tmp_path: Path) -> None:
    """Four senders, each with its own connection, claim one list in their own orders."""
    addresses = [f"reader{n}@x.org" for n in range(400)]
    claimed: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def sender(name: str) -> None:
        try:
            order = addresses[:]
            random.Random(name).shuffle(order)
            with opened(store_url, tmp_path) as ledger:
                start.wait()
                mine: list[str] = []
                for at in range(0, len(order), 25):
                    chunk = order[at : at + 25]
                    others = ledger.claim(EDITION, chunk, [""] * len(chunk), name, when=T0)
                    mine += [a for a in chunk if a not in others]
                claimed[name] = mine
        except BaseException as error:  # a thread's failure fails the test
            errors.append(error)

    threads = [threading.Thread(target=sender, args=(f"s{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    counts = Counter(a for mine in claimed.values() for a in mine)
    assert set(counts) == set(addresses)
    assert max(counts.values()) == 1


def test_two_runs_of_the_loop_share_the_ledger(store_url: StoreURL, tmp_path: Path) -> None:
    addresses = [f"r{n}@x.org" for n in range(30)]
    handed: list[str] = []

    def submit(chunk: list[str]) -> Future[list[Receipt]]:
        handed.extend(chunk)
        future: Future[list[Receipt]] = Future()
        future.set_result([Receipt(a, "sent", f"<{a}>") for a in chunk])
        return future

    chunks = [addresses[n : n + 7] for n in range(0, 30, 7)]
    with opened(store_url, tmp_path) as ledger:
        first = run_delivery(chunks[:2], str, submit, EDITION, ledger, content="c1")
        second = run_delivery(chunks, str, submit, EDITION, ledger, content="c1")
        assert (first.sent, second.sent, second.skipped) == (14, 16, 14)
        assert ledger.summary(EDITION) == {("", "sent"): 30}
    assert sorted(handed) == sorted(addresses)


def test_paced_senders_on_postgresql_take_turns(postgres_url: StoreURL, tmp_path: Path) -> None:
    with opened(postgres_url, tmp_path) as one, opened(postgres_url, tmp_path) as two:
        # Unpaced senders share the edition; a paced one waits for the other paced one.
        with two.lock(EDITION), one.lock(EDITION, paced=True):
            busy = pytest.raises(SendError, match="another paced run")
            with busy, two.lock(EDITION, paced=True):
                pass
        with two.lock(EDITION, paced=True):
            pass


def test_a_decision_is_made_by_one_sender_at_a_time(postgres_url: StoreURL, tmp_path: Path) -> None:
    order: list[str] = []
    with opened(postgres_url, tmp_path) as one, opened(postgres_url, tmp_path) as two:
        with one.deciding(EDITION):
            waiter = threading.Thread(target=lambda: _decide(two, order))
            waiter.start()
            waiter.join(0.5)
            order.append("first decided")
        waiter.join()
    assert order == ["first decided", "second decided"]


def _decide(ledger: SendLedger, order: list[str]) -> None:
    with ledger.deciding(EDITION):
        order.append("second decided")
