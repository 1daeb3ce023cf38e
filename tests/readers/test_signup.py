"""``digest.readers.signup``: who gets a confirmation mail, and what a confirmation does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.readers import Consent, ReaderStore, SignUp, confirm_sign_up, mail_due
from digest.suppression.events import Event

AT = datetime(2026, 12, 1, 9, 30, 0, tzinfo=UTC)  # in the past: a future time is recorded as now


def consent(at: datetime) -> Consent:
    return Consent(at, "form", "a test form", "v1")


@pytest.mark.parametrize(
    ("left", "then"),
    [
        (AT - timedelta(seconds=1), "subscribed"),  # the sign-up came after the no
        (AT, None),  # the same second: the no is the later word
        (AT + timedelta(seconds=1), None),  # the link is older than the no
    ],
)
def test_a_confirmation_older_than_a_no_subscribes_nobody(
    tmp_path: Path, left: datetime, then: str | None
) -> None:
    with ReaderStore(tmp_path / "store.sqlite3") as store:
        store.record(Event("kim@example.org", "unsubscribed", "page", "u-1", left))
        signup = SignUp("Kim@example.org", "Kim", ("town",), AT)
        assert confirm_sign_up(store, signup, consent(AT + timedelta(minutes=5))) == then
        assert store.status("kim@example.org") == (then or "unsubscribed")


@pytest.mark.parametrize(
    ("reason", "due"),
    [(None, True), ("unsubscribed", True), ("hard-bounce", False), ("complaint", False)],
)
def test_a_confirmation_mail_goes_to_whom_it_may(
    tmp_path: Path, reason: str | None, due: bool
) -> None:
    with ReaderStore(tmp_path / "store.sqlite3") as store:
        if reason is not None:
            store.record(Event("kim@example.org", reason, "test", "e-1", AT))  # type: ignore[arg-type]
        assert mail_due(store, "kim@example.org") is due
        store.add("sam@example.org", consent(AT))
        assert mail_due(store, "SAM@example.org") is False  # already subscribed


def test_a_confirmation_and_an_unsubscribe_racing_end_in_the_newer_one(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "store.sqlite3"
    ReaderStore(path).close()
    rounds = 25
    barrier = threading.Barrier(2)

    def confirming() -> None:
        with ReaderStore(path) as store:
            for n in range(rounds):
                barrier.wait()
                now = datetime.now(UTC)
                signup = SignUp(f"r{n}@example.org", "", (), now - timedelta(minutes=1))
                confirm_sign_up(store, signup, consent(now))

    def leaving() -> None:
        with ReaderStore(path) as store:
            for n in range(rounds):
                barrier.wait()
                store.unsubscribe(f"r{n}@example.org", source="page")

    threads = [threading.Thread(target=confirming), threading.Thread(target=leaving)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with ReaderStore(path) as store:
        for n in range(rounds):
            address = f"r{n}@example.org"
            kinds = [e.reason for e in store.reader_history(address) if e.reason != "signed-up"]
            # The sign-up was asked for before the unsubscribe, so the no is the newer act:
            # whichever came first to the store, the reader ends unsubscribed, nothing lost.
            assert kinds[-1] == "unsubscribed", kinds
            assert store.status(address) == "unsubscribed", kinds
