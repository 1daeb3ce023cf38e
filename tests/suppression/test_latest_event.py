"""A reader's state is their newest event: ids per occurrence, any arrival order, every path.

Through the real ``digest`` command and ``digest serve`` (a no after a resubscribe), uvicorn
and Starlette's test client for the providers' own payloads (``tests/fixtures/webhooks``), a
suppression list written by an older digest (``tests/fixtures/suppression``), and hypothesis
over any sequence of events in any arrival order with replays.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import shutil
import sqlite3
import tempfile
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import svix.webhooks as svix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from digest import email_bytes
from digest.delivery.eml import send_eml
from digest.delivery.ledger import SendLedger
from digest.delivery.mailing import Mailing
from digest.delivery.providers import make_sender
from digest.delivery.settings import DeliverySettings
from digest.errors import DigestError, InputError
from digest.mail.message import list_id
from digest.models import Reader
from digest.schedule.config import load_config, suppression_path
from digest.suppression import Event, SuppressionList, UnsubscribeTokens
from digest.web import WebSettings, make_app

from ..helpers import EXAMPLES, FIXTURES, build_example, digest_serve, run_command
from ..mailservers import Inbox, start_smtp
from ..stores import Places
from ..web.served import Served
from ..web.sns import TOPIC, Sns

SECRET = "a-secret-for-the-latest-event-tests"
TOKENS = UnsubscribeTokens(SECRET, "weekly.example.org")
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-secret-of-the-latest-tests").decode()
POSTMARK_AUTH = {
    "authorization": "Basic " + base64.b64encode(b"postmark:pm-password").decode(),
    "content-type": "application/json",
}
ONE_CLICK = b"List-Unsubscribe=One-Click"


def payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / "webhooks" / f"{name}.json").read_text())
    return loaded


def reasons(path: Path) -> dict[str, str]:
    with SuppressionList(path) as listed:
        return {entry.address: entry.reason for entry in listed}


# --- a no after a resubscribe, through ``digest serve`` and ``digest suppress remove`` ------


def _config(folder: Path) -> Path:
    config = folder / "newsletter.toml"
    text = (EXAMPLES / "riverside" / "newsletter.toml").read_text()
    config.write_text(text.replace('data = "articles.json"', "").replace('assets = "images"', ""))
    return config


@contextlib.contextmanager
def _digest_serve(config: Path) -> Iterator[str]:
    env = {"DIGEST_UNSUBSCRIBE_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    with digest_serve(config, env) as serving:
        yield serving.base


def _one_click(url: str) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, data=ONE_CLICK), timeout=10) as answer:
        assert answer.status == 200
        body: bytes = answer.read()
        return body


def test_a_no_after_a_resubscribe_is_recorded(tmp_path: Path) -> None:
    config = _config(tmp_path)
    token = UnsubscribeTokens(SECRET, list_id(load_config(config).newsletter)).token(
        "kim@example.org"
    )
    with _digest_serve(config) as base:
        assert _one_click(f"{base}/unsubscribe/{token}") == b"unsubscribed\n"
        removed = run_command("suppress", "remove", "--config", config, "Kim@Example.org")
        assert removed.returncode == 0 and removed.stdout == "Kim@Example.org: removed\n"
        assert run_command("suppress", "list", "--config", config).stdout == ""
        # The same link, in the same email: the reader says no again.
        assert _one_click(f"{base}/unsubscribe/{token}") == b"unsubscribed\n"
    listed = run_command("suppress", "list", "--config", config)
    assert listed.stdout.startswith("kim@example.org\tunsubscribed\tone-click\t"), listed
    with SuppressionList(suppression_path(load_config(config))) as store:
        assert store.suppressed(["kim@example.org"]) == {"kim@example.org"}
        steps = [(e.reason, e.source) for e in store.history("kim@example.org")]
    assert steps == [
        ("unsubscribed", "one-click"),
        ("resubscribed", "digest suppress remove"),
        ("unsubscribed", "one-click"),
    ]


# --- the providers' own payloads: one event per occurrence, the newest decides -------------


def test_two_postmark_subscription_changes_without_ids_suppress_both_readers(
    tmp_path: Path,
) -> None:
    store = tmp_path / "suppressions.sqlite3"
    served = Served(make_app(WebSettings(suppressions=store, postmark_password="pm-password")))
    record = payload("postmark-subscription-change")
    del record["MessageID"], record["ChangedAt"]  # neither is promised
    try:
        for address in ("ann@example.org", "bob@example.org"):
            body = json.dumps({**record, "Recipient": address}).encode()
            status, answer = served.request("/webhooks/postmark", body, POSTMARK_AUTH)
            assert (status, json.loads(answer)) == (200, {"events": 1, "new": 1})
        status, answer = served.request("/webhooks/postmark", body, POSTMARK_AUTH)  # a retry
        assert (status, json.loads(answer)) == (200, {"events": 1, "new": 0})
    finally:
        served.stop()
    assert reasons(store) == {"ann@example.org": "unsubscribed", "bob@example.org": "unsubscribed"}


@dataclass
class Provider:
    """Posts a provider's fixture as that provider would: a new occurrence, or a retry."""

    client: TestClient
    sns: Sns

    def post(self, name: str, occurrence: str, at: datetime | None = None) -> dict[str, Any]:
        body = payload(name)
        stamp = at.isoformat().replace("+00:00", "Z") if at is not None else None
        if name.startswith("postmark"):
            body["ID"] = occurrence
            body["BouncedAt"] = stamp or body["BouncedAt"]
            answer = self.client.post("/webhooks/postmark", json=body, headers=POSTMARK_AUTH)
        elif name.startswith("resend"):
            body["created_at"] = stamp or body["created_at"]
            data = json.dumps(body)
            now = datetime.now(UTC)
            signature = svix.Webhook(RESEND_SECRET).sign(
                msg_id=occurrence, timestamp=now, data=data
            )
            headers = {
                "svix-id": occurrence,
                "svix-timestamp": str(int(now.timestamp())),
                "svix-signature": signature,
            }
            answer = self.client.post("/webhooks/resend", content=data, headers=headers)
        else:
            kind = "bounce" if "bounce" in name else "complaint"
            body[kind]["feedbackId"] = occurrence
            # AWS documents a timestamp on every complaint; this trimmed example has none.
            body[kind]["timestamp"] = stamp or body[kind].get("timestamp", "2016-01-27T15:00:01Z")
            message = self.sns.notification(body, MessageId=f"sns-{occurrence}")
            answer = self.client.post("/webhooks/ses", content=json.dumps(message))
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[Provider]:
    sns = Sns()
    web = WebSettings(
        suppressions=tmp_path / "suppressions.sqlite3",
        sns_topics=frozenset({TOPIC}),
        postmark_password="pm-password",
        resend_secret=RESEND_SECRET,
        fetch=sns.fetch,
        tokens=TOKENS,
    )
    with TestClient(make_app(web)) as client:
        yield Provider(client, sns)


@pytest.mark.parametrize(
    ("name", "address", "reason"),
    [
        ("postmark-bounce", "bounce@example.com", "hard-bounce"),
        ("postmark-spam-complaint", "spam@example.com", "complaint"),
        ("resend-bounced", "bounced@resend.dev", "hard-bounce"),
        ("resend-complained", "complained@resend.dev", "complaint"),
        ("ses-bounce", "jane@example.com", "hard-bounce"),
        ("ses-complaint", "richard@example.com", "complaint"),
    ],
)
def test_an_old_event_arriving_late_does_not_undo_a_newer_resubscribe(
    tmp_path: Path, provider: Provider, name: str, address: str, reason: str
) -> None:
    store = tmp_path / "suppressions.sqlite3"
    assert provider.post(name, "first")["new"] == 1  # the fixture's own time: years ago
    assert reasons(store) == {address: reason}
    assert provider.post(name, "first")["new"] == 0  # the provider retries: nothing changes
    with SuppressionList(store) as listed:
        assert listed.remove(address) is True
    assert reasons(store) == {}
    # Another report of that old time, delivered only now: kept, and it changes nothing.
    assert provider.post(name, "second")["new"] == 1
    assert reasons(store) == {}
    # A new one counts.
    assert provider.post(name, "third", datetime.now(UTC))["new"] == 1
    assert reasons(store) == {address: reason}


# --- any sequence, any arrival order, replays: the newest event decides --------------------

ADDRESSES = ["ann@example.org", "Bob@Example.org", "cy@example.org"]
KINDS = [
    "unsubscribed",
    "resubscribed",
    "hard-bounce",
    "soft-bounce",
    "complaint",
    "by-hand",
    "soft-bounces",
    "opened",
    "clicked",
]
SOURCES = ["ses", "postmark", "resend", "dsn", "arf", "one-click", "page", "by hand", "import"]
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def newest(history: list[Event], limit: int) -> Event | None:
    """The model: the event whose state is the reader's (None: they may be mailed).

    The newest unsubscribe, bounce, complaint, addition or resubscribe decides; after a
    resubscribe (or with none), the ``limit``-th soft bounce suppresses.
    """
    changes = [e for e in history if e.reason not in ("opened", "clicked")]
    deciding = [n for n, e in enumerate(changes) if e.reason != "soft-bounce"]
    if deciding and changes[deciding[-1]].reason != "resubscribed":
        return changes[deciding[-1]]
    soft = changes[deciding[-1] + 1 :] if deciding else changes
    return soft[limit - 1] if len(soft) >= limit else None


@contextmanager
def empty_list(place: Places, limit: int) -> Iterator[SuppressionList]:
    """A suppression list with nothing in it: a new file, or the test's schema emptied."""
    if place.backend == "sqlite":
        with (
            tempfile.TemporaryDirectory() as folder,
            SuppressionList(Path(folder) / "s.sqlite3", soft_bounce_limit=limit) as listed,
        ):
            yield listed
        return
    with SuppressionList(place("s"), soft_bounce_limit=limit) as listed:
        listed.db.execute("TRUNCATE events, suppressions")
        yield listed


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    happenings=st.lists(
        st.tuples(
            st.sampled_from(ADDRESSES),
            st.sampled_from(KINDS),
            st.sampled_from(SOURCES),
            st.integers(0, 12),  # minutes after START: ties happen
        ),
        min_size=1,
        max_size=24,
    ),
    limit=st.integers(1, 3),
    data=st.data(),
)
def test_the_newest_event_decides_whatever_the_arrival_order(
    place: Places, happenings: list[tuple[str, str, str, int]], limit: int, data: st.DataObject
) -> None:
    events = [
        Event(address, kind, source, f"{source}:{n}", START + timedelta(minutes=minute))  # type: ignore[arg-type]
        for n, (address, kind, source, minute) in enumerate(happenings)
    ]
    arrivals = data.draw(st.permutations(events), label="arrival order")
    replays = data.draw(
        st.lists(st.tuples(st.integers(0, len(events)), st.sampled_from(events)), max_size=8),
        label="replays",
    )
    delivered = list(arrivals)
    for position, event in replays:
        delivered.insert(position, copy.copy(event))
    with empty_list(place, limit) as listed:
        seen: list[str] = []
        for event in delivered:
            assert listed.record(event) is (event.id not in seen)
            seen.append(event.id)
        first = {event_id: n for n, event_id in reversed(list(enumerate(seen)))}
        expected: dict[str, Event] = {}
        for address in {a.lower() for a in ADDRESSES}:
            mine = [e for e in events if e.address.lower() == address]
            mine.sort(key=lambda e: (e.at, first[e.id]))
            decided = newest(mine, limit)
            if decided is not None:
                expected[address] = decided
        keys = [a.lower() for a in ADDRESSES]
        assert listed.suppressed(keys) == set(expected)  # what every send path asks
        for address in keys:
            entry = listed.get(address)
            assert (address in listed) is (address in expected) is (entry is not None)
            if entry is not None:
                decided = expected[address]
                soft = decided.reason == "soft-bounce"
                assert entry.reason == ("soft-bounces" if soft else decided.reason)
                assert entry.source == decided.source
                assert entry.at == decided.at.isoformat()  # type: ignore[union-attr]


# --- every send path leaves out the same readers ------------------------------------------


def _smtp(port: int) -> DeliverySettings:
    return DeliverySettings.model_validate(
        {"smtp": {"host": "127.0.0.1", "port": port, "security": "none"}, "batch_size": 2}
    )


@pytest.mark.parametrize("path", ["eml", "mailing"])
def test_every_send_path_mails_exactly_those_whose_newest_event_lets_them(
    tmp_path: Path, provider: Provider, path: str
) -> None:
    store = tmp_path / "suppressions.sqlite3"

    def one_click(address: str) -> None:
        answer = provider.client.post(f"/unsubscribe/{TOKENS.token(address)}", content=ONE_CLICK)
        assert answer.text == "unsubscribed\n"

    def resubscribe(address: str) -> None:
        with SuppressionList(store) as listed:
            listed.remove(address)

    for address in ("gone@example.org", "back@example.org", "again@example.org"):
        one_click(address)
    resubscribe("back@example.org")
    resubscribe("again@example.org")
    one_click("again@example.org")  # the same link after a resubscribe
    resubscribe("late@example.org")
    provider.post("ses-bounce", "late")  # jane@: a bounce of 2016, arriving now: suppresses
    resubscribe("jane@example.com")  # she fixed her mailbox
    provider.post("ses-bounce", "later")  # another of 2016: changes nothing
    provider.post("postmark-bounce", "pm-1", datetime.now(UTC))
    readers = [
        "gone@example.org",
        "back@example.org",
        "again@example.org",
        "late@example.org",
        "jane@example.com",
        "bounce@example.com",
    ]
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        with SuppressionList(store) as listed, SendLedger(tmp_path / "sends.sqlite3") as ledger:
            if path == "eml":
                with make_sender(_smtp(port)) as sender:
                    raw = email_bytes(build_example("riverside"))
                    report = send_eml(raw, readers, sender, ledger, suppressions=listed)
            else:
                mailing = Mailing(build_example("riverside"), tokens=TOKENS)
                people = [Reader(address=a) for a in readers]
                report = mailing.deliver(people, _smtp(port), ledger, chunk=2, suppressions=listed)
    finally:
        controller.stop()
    got = Counter(r for _, rcpts, _ in inbox.received for r in rcpts)
    assert sorted(got) == ["back@example.org", "jane@example.com", "late@example.org"]
    assert set(got.values()) == {1}
    assert report.suppressed == ["gone@example.org", "again@example.org", "bounce@example.com"]


# --- manual changes and imports are events too --------------------------------------------


def test_add_and_remove_are_events_and_an_old_export_does_not_undo_a_resubscribe(
    place: Places, tmp_path: Path
) -> None:
    with SuppressionList(place("s.sqlite3")) as listed:
        assert listed.add("kim@example.org", "unsubscribed") is True
        assert listed.add("kim@example.org") is False  # already: the reason stays
        exported = tmp_path / "export.csv"
        assert listed.export_csv(exported) == 1
        assert listed.remove("kim@example.org") is True
        assert listed.remove("kim@example.org") is False
        assert listed.import_csv(exported) == (0, 1)  # the row is older than the resubscribe
        assert "kim@example.org" not in listed
        # The exported row's time is to the second: just before the addition it came from.
        assert [(e.reason, e.source) for e in listed.history("kim@example.org")] == [
            ("unsubscribed", "by hand"),
            ("unsubscribed", "by hand"),
            ("resubscribed", "by hand"),
            ("resubscribed", "by hand"),
        ]
        plain = tmp_path / "plain.csv"
        plain.write_text("address,reason\nlee@example.org,complaint\n")
        assert listed.import_csv(plain) == (1, 0)
        listed.remove("lee@example.org")
        assert listed.import_csv(plain) == (0, 1)  # the same rows again: nothing new
        assert "lee@example.org" not in listed
        bad = tmp_path / "bad.csv"
        bad.write_text("address,at\nok@example.org,2026-01-02T03:04:05Z\nx@example.org,soon\n")
        with pytest.raises(InputError, match=r"bad.csv:3: at 'soon' is not a time"):
            listed.import_csv(bad)
        assert "ok@example.org" not in listed
        # A time to come counts from the event's arrival: it cannot pin a reader for years.
        later = datetime.now(UTC) + timedelta(days=3650)
        listed.record(Event("kim@example.org", "complaint", "postmark", "postmark:1", later))
        assert listed.remove("kim@example.org") is True
        assert listed.suppressed(["kim@example.org"]) == set()


# --- a list written by an older digest --------------------------------------------------------


def test_a_list_of_the_first_format_keeps_every_reader_s_state_and_then_listens(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    shutil.copyfile(FIXTURES / "suppression" / "format-0.sqlite3", path)
    before = reasons_raw(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (0,)
    with SuppressionList(path) as listed:
        assert (
            {e.address: e.reason for e in listed}
            == before
            == {
                "csv@example.org": "unsubscribed",
                "hand@example.org": "by-hand",
                "left@example.org": "unsubscribed",
                "soft3@example.org": "soft-bounces",
            }
        )
        assert listed.engaged(["m1"], "opened") == {"m1"}
        # Taken off before: a bounce of before their removal changes nothing …
        old = datetime(2026, 1, 4, tzinfo=UTC)
        listed.record(Event("gone@example.org", "hard-bounce", "dsn", "dsn:late", old))
        assert "gone@example.org" not in listed
        # … a new unsubscribe counts, where the old id had blocked it.
        listed.record(Event("back@example.org", "unsubscribed", "one-click", "unsubscribe:x"))
        assert listed.get("back@example.org").reason == "unsubscribed"  # type: ignore[union-attr]
        # Soft bounces go on counting to the limit.
        listed.record(Event("soft2@example.org", "soft-bounce", "dsn", "dsn:s2-2"))
        assert listed.get("soft2@example.org").reason == "soft-bounces"  # type: ignore[union-attr]
        assert "twice@example.org" not in listed
        # And a resubscribe lifts what an old row said.
        listed.remove("hand@example.org")
        assert "hand@example.org" not in listed
        count = len(listed.history("left@example.org"))
    with SuppressionList(path) as again:  # upgraded once
        assert len(again.history("left@example.org")) == count
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (1,)
    db.execute("PRAGMA user_version = 9")
    db.commit()
    db.close()
    with pytest.raises(DigestError, match=r"old.sqlite3: .*newer digest \(format 9"):
        SuppressionList(path)


def reasons_raw(path: Path) -> dict[str, str]:
    """The list as format 0 kept it, read without upgrading it."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return dict(db.execute("SELECT address, reason FROM suppressions").fetchall())
