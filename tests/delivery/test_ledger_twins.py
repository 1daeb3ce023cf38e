"""The PostgreSQL ledger answers as the SQLite one does, step for step (hypothesis).

Random runs of claims (with and without taking the unknown or the refused, with a limit) and
receipts (sent, refused, unknown, deferred) go to both ledgers at once, each step a moment past
the lease of the one before, so that every claim left pending reads as a stopped run's on both
backends; every answer and the rows after each step must be the same.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.delivery.ledger import SendLedger, open_ledger
from digest.delivery.senders import Receipt
from digest.store import StoreURL

from ..stores import postgres_url

__all__ = ["postgres_url"]

ADDRESSES = [f"r{n}@x.org" for n in range(8)]
T0 = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
_EDITIONS = itertools.count()

claims = st.tuples(
    st.just("claim"),
    st.sampled_from(["run1", "run2", "run3"]),
    st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=8, unique=True),
    st.booleans(),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 4)),
)
receipts = st.tuples(
    st.just("record"),
    st.lists(
        st.tuples(
            st.sampled_from(ADDRESSES), st.sampled_from(["sent", "refused", "unknown", "deferred"])
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda pair: pair[0],
    ),
)


@pytest.fixture
def twins(tmp_path: Path, postgres_url: StoreURL) -> tuple[SendLedger, SendLedger]:
    return open_ledger(tmp_path / "twin.sends.sqlite3"), open_ledger(Path(), postgres_url, 60)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.one_of(claims, receipts), min_size=1, max_size=12))
def test_both_backends_answer_alike(
    twins: tuple[SendLedger, SendLedger], steps: list[tuple]
) -> None:
    sqlite, postgres = twins
    edition = f"twin-{next(_EDITIONS)}"
    for n, step in enumerate(steps):
        when = T0 + timedelta(minutes=2 * n)  # past the lease of every earlier claim
        if step[0] == "claim":
            _, run, addresses, unknown, refused, limit = step
            answers = [
                ledger.claim(
                    edition,
                    addresses,
                    [run[-1]] * len(addresses),
                    run,
                    unknown,
                    refused,
                    limit=limit,
                    when=when,
                )
                for ledger in twins
            ]
        else:
            pairs = [Receipt(address, state, f"{state}-{n}") for address, state in step[1]]
            answers = [ledger.record(edition, pairs, when) for ledger in twins]
        assert answers[0] == answers[1], step
        assert list(sqlite.rows(edition)) == list(postgres.rows(edition)), step
    assert sqlite.summary(edition) == postgres.summary(edition)
