"""The reader store: statuses, consent, imports, forgetting, on the suppression list's file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.errors import InputError
from digest.readers import Consent, ImportedReader, ReaderStore
from digest.suppression.events import Event
from digest.suppression.store import SuppressionList

from ..stores import Places, held_bytes

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
CONSENT = Consent(NOW - timedelta(days=1), "by-hand", "test", "v1")


def store(place: Places, **options: object) -> ReaderStore:
    return place.opened(ReaderStore(place(), **options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("unsubscribed", "unsubscribed"),
        ("by-hand", "unsubscribed"),
        ("hard-bounce", "bounced"),
        ("complaint", "complained"),
    ],
)
def test_a_suppression_decides_the_status(place: Places, reason: str, expected: str) -> None:
    readers = store(place)
    readers.add("Reader@example.org", CONSENT)
    readers.record(Event("reader@example.org", reason, "test", f"id-{reason}"))  # type: ignore[arg-type]
    assert readers.status("READER@example.org") == expected
    assert not readers.mailable("reader@example.org")
    assert readers.suppressed(["reader@example.org"]) == {"reader@example.org"}


def test_soft_bounces_at_the_limit_are_bounced(place: Places) -> None:
    readers = store(place, soft_bounce_limit=2)
    readers.add("reader@example.org", CONSENT)
    for n in range(2):
        readers.record(Event("reader@example.org", "soft-bounce", "test", f"soft-{n}"))
    assert readers.status("reader@example.org") == "bounced"


@pytest.mark.parametrize(
    ("consent", "paused", "expected"),
    [
        (None, None, "pending"),
        (CONSENT, None, "subscribed"),
        (CONSENT, timedelta(days=3), "paused"),
        (CONSENT, timedelta(days=-3), "subscribed"),
    ],
)
def test_pending_paused_subscribed(
    place: Places, consent: Consent | None, paused: timedelta | None, expected: str
) -> None:
    readers = store(place)
    readers.add("reader@example.org", consent)
    if paused is not None:
        readers.pause("reader@example.org", datetime.now(UTC) + paused)
    assert readers.status("reader@example.org") == expected
    assert [r.address for r in readers.readers(expected)] == ["reader@example.org"]  # type: ignore[arg-type]
    assert readers.mailable("reader@example.org") is (expected == "subscribed")


def test_an_address_not_in_the_store_answers_as_the_list_does(place: Places) -> None:
    readers = store(place)
    readers.record(Event("gone@example.org", "unsubscribed", "test", "x"))
    assert readers.status("other@example.org") is None
    assert readers.mailable("other@example.org")
    assert readers.suppressed(["gone@example.org", "other@example.org"]) == {"gone@example.org"}


def test_the_list_and_the_store_share_one_file(place: Places) -> None:
    readers = store(place)
    readers.add("reader@example.org", CONSENT)
    readers.unsubscribe("reader@example.org")
    readers.close()
    plain = SuppressionList(place())
    assert "reader@example.org" in plain
    plain.close()


def test_subscribed_gives_readers_to_mail(place: Places) -> None:
    readers = store(place)
    readers.add("a@example.org", CONSENT, name="A", sections=("news",), timezone="Europe/Paris")
    readers.add("b@example.org")
    (reader,) = readers.subscribed()
    assert (reader.address, reader.name, reader.sections, reader.timezone) == (
        "a@example.org",
        "A",
        ("news",),
        "Europe/Paris",
    )


def test_change_resume_history_and_held(place: Places) -> None:
    readers = store(place)
    readers.add("a@example.org", CONSENT)
    readers.change("a@example.org", sections=("sport",), timezone="Asia/Tokyo")
    readers.pause("a@example.org", datetime.now(UTC) + timedelta(days=1))
    readers.resume("a@example.org")
    record = readers.get("A@example.org")
    assert record is not None
    assert (record.sections, record.timezone, record.status) == (
        ("sport",),
        "Asia/Tokyo",
        "subscribed",
    )
    reasons = [event.reason for event in readers.history("a@example.org")]
    assert reasons == ["subscribed", "changed", "paused", "resumed"]
    held = readers.held("a@example.org")
    assert held["reader"]["timezone"] == "Asia/Tokyo"
    assert held["consents"][0]["wording"] == "v1"
    assert len(held["events"]) == 4


def test_a_typo_is_an_input_error(place: Places) -> None:
    with pytest.raises(InputError, match="address 'nobody'"):
        store(place).add("nobody", CONSENT)
    with pytest.raises(InputError, match="no such reader"):
        store(place).pause("nobody@example.org", NOW)


def test_the_ip_is_kept_only_when_asked(place: Places) -> None:
    consent = Consent(NOW, "form", "sign-up form", ip="192.0.2.1")
    store(place).add("a@example.org", consent)
    assert store(place).held("a@example.org")["consents"][0]["ip"] is None
    kept = place.opened(ReaderStore(place("kept.sqlite3"), keep_ip=True))
    kept.add("a@example.org", consent)
    assert kept.held("a@example.org")["consents"][0]["ip"] == "192.0.2.1"


def test_forget_keeps_only_a_hash_of_a_never_mailed_reader(place: Places) -> None:
    secret = b"s" * 32
    readers = store(place, secret=secret)
    readers.add("gone@example.org", CONSENT, name="Gone")
    readers.unsubscribe("gone@example.org")
    readers.add("kept@example.org", CONSENT)
    assert readers.forget("Gone@example.org", secret)
    assert readers.forget("kept@example.org", secret)
    assert readers.held("gone@example.org") == {
        "address": "gone@example.org",
        "status": "unsubscribed",
        "reader": None,
        "consents": [],
        "events": [],
    }
    raw = held_bytes(place)
    assert b"gone@example.org" not in raw and b"Gone" not in raw
    readers.add("gone@example.org", CONSENT)
    assert readers.status("gone@example.org") == "unsubscribed"
    assert readers.suppressed(["gone@example.org"]) == {"gone@example.org"}
    readers.add("kept@example.org", CONSENT)
    assert readers.status("kept@example.org") == "subscribed"


def rows(*specs: tuple[str, str]) -> list[ImportedReader]:
    return [
        ImportedReader(line=n + 2, address=address, status=status)  # type: ignore[arg-type]
        for n, (address, status) in enumerate(specs)
    ]


def test_import_counts_merges_and_is_idempotent(place: Places) -> None:
    readers = store(place)
    batch = rows(
        ("a@example.org", "subscribed"),
        ("A@Example.org", "subscribed"),
        ("b@example.org", "unsubscribed"),
        ("c@example.org", "bounced"),
        ("d@example.org", "pending"),
    )
    dry = readers.import_readers(batch, "members.csv (mailchimp)", dry_run=True)
    assert dry.added == 4 and list(readers.readers()) == []
    first = readers.import_readers(batch, "members.csv (mailchimp)")
    assert (first.added, first.never_mailed) == (4, 2)
    events = len(readers.held("a@example.org")["events"])
    again = readers.import_readers(batch, "members.csv (mailchimp)")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 5)
    assert len(readers.held("a@example.org")["events"]) == events
    assert {r.address: r.status for r in readers.readers()} == {
        "a@example.org": "subscribed",
        "b@example.org": "unsubscribed",
        "c@example.org": "bounced",
        "d@example.org": "pending",
    }
    assert readers.suppressed(["b@example.org", "c@example.org", "d@example.org"]) == {
        "b@example.org",
        "c@example.org",
        "d@example.org",
    }
    assert readers.get("a@example.org").consent.method == "import"  # type: ignore[union-attr]


def test_an_import_never_resubscribes(place: Places) -> None:
    readers = store(place)
    readers.add("a@example.org", CONSENT)
    readers.unsubscribe("a@example.org")
    readers.import_readers(rows(("a@example.org", "subscribed")), "other.csv")
    assert readers.status("a@example.org") == "unsubscribed"


def test_a_bad_row_imports_nothing(place: Places) -> None:
    readers = store(place)
    with pytest.raises(InputError):
        readers.import_readers(rows(("a@example.org", "subscribed"), ("bad", "subscribed")), "f")
    assert list(readers.readers()) == []


local = st.text(alphabet="abcdefgXYZ", min_size=1, max_size=8)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=local, flips=st.lists(st.booleans(), min_size=1, max_size=5))
def test_case_variants_merge(tmp_path: Path, name: str, flips: list[bool]) -> None:
    readers = ReaderStore(tmp_path / f"{name}.sqlite3")
    for n, flip in enumerate(flips):
        variant = (name.upper() if flip else name.lower()) + "@example.org"
        readers.add(variant, CONSENT if n % 2 else None)
    assert len(list(readers.readers())) == 1
    readers.close()
    (tmp_path / f"{name}.sqlite3").unlink()


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(["add", "unsubscribe"]), min_size=1, max_size=6))
def test_the_newer_of_add_and_unsubscribe_decides(tmp_path: Path, steps: list[str]) -> None:
    path = tmp_path / "h.sqlite3"
    readers = ReaderStore(path)
    for step in steps:
        if step == "add":
            readers.add("a@example.org", CONSENT)
        else:
            readers.unsubscribe("a@example.org")
    expected = "subscribed" if steps[-1] == "add" else "unsubscribed"
    assert readers.status("a@example.org") == expected
    readers.close()
    for leftover in tmp_path.glob("h.sqlite3*"):
        leftover.unlink()


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=local, again=st.sampled_from(["add", "import"]))
def test_forget_then_add_stays_unsubscribed(tmp_path: Path, name: str, again: str) -> None:
    secret = b"k" * 32
    path = tmp_path / "f.sqlite3"
    readers = ReaderStore(path, secret=secret)
    address = f"{name}@example.org"
    readers.add(address, CONSENT)
    readers.unsubscribe(address)
    readers.forget(address, secret)
    if again == "add":
        readers.add(address.upper(), CONSENT)
    else:
        summary = readers.import_readers(rows((address, "subscribed")), "again.csv")
        # An old export brings nothing of an erased reader back.
        assert (summary.forgotten, summary.added) == (1, 0)
        assert readers.get(address) is None and readers.reader_history(address) == []
    assert readers.status(address) == "unsubscribed"
    readers.close()
    for leftover in tmp_path.glob("f.sqlite3*"):
        leftover.unlink()
