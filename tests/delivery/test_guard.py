"""A guarded send into a real SMTP server (aiosmtpd): the sample, the wait, the stop, the release.

The server refuses chosen recipients with ``550 5.1.1`` (each a hard bounce at hand-over), and
complaints arrive as events in a real suppression list, as a webhook or an ARF report records
them. Each run is given its moment (``SendOptions.at``), so no test waits for the clock.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from digest import email_bytes
from digest.delivery.eml import send_eml
from digest.delivery.guard import GuardReading, GuardSettings
from digest.delivery.ledger import open_ledger
from digest.delivery.loop import DeliveryReport
from digest.delivery.send import SendOptions
from digest.delivery.settings import SmtpSettings
from digest.delivery.smtp import SmtpSender
from digest.delivery.subject_test import SubjectTest
from digest.errors import GuardError
from digest.store import ENVIRONMENT, StoreURL
from digest.suppression.events import Event
from digest.suppression.store import SuppressionList

from ..helpers import EXAMPLES, build_example, run_digest
from ..mailservers import Inbox, start_smtp
from ..stores import Places

pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed")

READERS = [f"r{n:03}@example.org" for n in range(200)]
#: ``digest send`` to a test list: the example's unsubscribe link is on a placeholder host.
SEND = ("send", "--allow-placeholder-links", "--config")
GUARD = GuardSettings(sample=0.2, wait_minutes=30, bounce_limit=2, complaint_limit=0.5)


class BouncingInbox(Inbox):
    """Refuses the chosen addresses with 550, as a mailbox that does not exist."""

    def __init__(self, bounces: set[str]) -> None:
        super().__init__()
        self.bounces = bounces

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.bounces:
            return "550 5.1.1 No such mailbox"
        return await super().handle_RCPT(server, session, envelope, address, options)

    def addresses(self) -> list[str]:
        return [to for _, tos, _ in self.received for to in tos]


@pytest.fixture(scope="module")
def raw() -> bytes:
    return email_bytes(build_example("tangerangnews"))


def edition_of(raw: bytes) -> str:
    return str(message_from_bytes(raw, policy=policy.default)["X-Digest-Edition"])


def sample_of(raw: bytes, share: float = GUARD.sample) -> list[str]:
    edition = edition_of(raw)
    return [a for a in READERS if SubjectTest(sample=share).in_sample(edition, a)]


class Run:
    """Runs of one send of ``raw`` to ``READERS`` through an inbox, each at its own moment."""

    def __init__(
        self,
        tmp_path: Path,
        raw: bytes,
        inbox: BouncingInbox,
        guard: GuardSettings,
        store: StoreURL | None = None,
    ) -> None:
        """On SQLite files in ``tmp_path``, or on the PostgreSQL ``store``."""
        self.raw, self.inbox, self.guard = raw, inbox, guard
        self.controller, port = start_smtp(inbox)
        self.settings = SmtpSettings(host="127.0.0.1", port=port, security="none")
        self.ledger = open_ledger(tmp_path / "sends.sqlite3", store)
        self.events = SuppressionList(store or tmp_path / "events.sqlite3")
        self.start = datetime.now(UTC)

    def __call__(self, minutes: float, release: bool = False) -> DeliveryReport:
        options = SendOptions(
            at=self.start + timedelta(minutes=minutes),
            guard=self.guard,
            release_guard=release,
            suppressions=self.events,
            events=self.events,
        )
        with SmtpSender(self.settings) as sender:
            return send_eml(self.raw, READERS, sender, self.ledger, options)

    def close(self) -> None:
        self.controller.stop()
        self.ledger.close()
        self.events.close()


@pytest.fixture
def runs(tmp_path: Path, raw: bytes, place: Places) -> Iterator[Any]:
    """Makes sends of ``raw``, each on a store of its own: SQLite files, then PostgreSQL."""
    made: list[Run] = []

    def make(bounces: set[str] = frozenset(), guard: GuardSettings = GUARD) -> Run:  # type: ignore[assignment]
        store = place(f"run{len(made)}")
        run = Run(
            tmp_path / str(len(made)),
            raw,
            BouncingInbox(set(bounces)),
            guard,
            store if isinstance(store, StoreURL) else None,
        )
        made.append(run)
        return run

    for n in range(3):
        (tmp_path / str(n)).mkdir()
    yield make
    for run in made:
        run.close()


def test_a_sample_that_bounces_ten_per_cent_stops_the_send(runs: Any, raw: bytes) -> None:
    sample = sample_of(raw)
    assert 25 <= len(sample) <= 55  # about a fifth of 200
    bounced = set(sample[: round(len(sample) / 10)])
    send = runs(bounced)

    first = send(0)
    assert first.sent == len(sample) - len(bounced)
    assert set(first.refused) == bounced
    assert first.waiting == len(READERS) - len(sample)
    assert first.guard.startswith("sending to a sample of 20% of the list first; the rest from")
    assert sorted(send.inbox.addresses()) == sorted(set(sample) - bounced)

    # Before the wait is over, a run sends nothing more.
    early = send(10)
    assert (early.sent, early.waiting) == (0, len(READERS) - len(sample))

    with pytest.raises(GuardError) as stopped:
        send(31)
    assert stopped.value.exit_code == 10
    message = str(stopped.value)
    rate = 100 * len(bounced) / len(sample)
    assert f"the sample of {len(sample)} reader(s) had {len(bounced)} hard bounce(s)" in message
    assert f"({rate:.1f} %, limit 2 %)" in message
    assert "hard bounces over 2 %" in message and "--release-guard" in message
    # Stopped it stays, run after run, and nobody else got it.
    with pytest.raises(GuardError):
        send(90)
    assert len(send.inbox.addresses()) == len(sample) - len(bounced)

    released = send(95, release=True)
    assert released.sent == len(READERS) - len(sample)
    assert released.guard.startswith("released by hand; the sample of")
    assert sorted(send.inbox.addresses()) == sorted(set(READERS) - bounced)
    # Released once, later runs go on without a word from the guard.
    assert send(96).guard == ""


def test_a_clean_sample_goes_on_after_the_wait(runs: Any, raw: bytes) -> None:
    sample = sample_of(raw)
    send = runs()
    assert send(0).sent == len(sample)
    rest = send(30)
    assert rest.sent == len(READERS) - len(sample)
    assert rest.guard == (
        f"released: the sample of {len(sample)} reader(s) had 0 hard bounce(s) (0.0 %, limit "
        "2 %) and 0 complaint(s) (0.0 %, limit 0.5 %)"
    )
    assert sorted(send.inbox.addresses()) == READERS


def test_complaints_and_later_bounces_recorded_as_events_count(runs: Any, raw: bytes) -> None:
    sample = sample_of(raw)
    send = runs()
    send(0)
    # One complaint (an ARF report, a provider's webhook) and one DSN's hard bounce, since.
    send.events.record(Event(sample[0], "complaint", "arf", "c-1"))
    send.events.record(Event(sample[1], "hard-bounce", "dsn", "b-1"))
    # An event from before the guard started counts for nothing.
    send.events.record(
        Event(sample[2], "complaint", "arf", "c-0", at=send.start - timedelta(days=1))
    )
    with pytest.raises(GuardError, match=r"1 complaint\(s\) \(\d\.\d %, limit 0.5 %\)") as stopped:
        send(30)
    assert "complaints over 0.5 %" in str(stopped.value)
    assert "1 hard bounce(s)" in str(stopped.value)


def test_with_no_wait_the_rest_still_waits_for_a_later_run(runs: Any, raw: bytes) -> None:
    send = runs(guard=GUARD.model_copy(update={"wait_minutes": 0}))
    first = send(0)
    assert first.sent == len(sample_of(raw)) and first.waiting
    assert send(0.1).guard.startswith("released: ")


@pytest.mark.parametrize(
    ("sample", "bounced", "complained", "over"),
    [
        (100, 2, 0, []),  # at the limit goes on
        (100, 3, 0, ["hard bounces over 2 %"]),
        (1000, 0, 1, []),
        (1000, 0, 2, ["complaints over 0.1 %"]),
        (10, 1, 1, ["hard bounces over 2 %", "complaints over 0.1 %"]),
        (0, 0, 0, []),
    ],
)
def test_the_limits(sample: int, bounced: int, complained: int, over: list[str]) -> None:
    assert GuardReading(sample, bounced, complained, 2, 0.1).over == over


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ({"sample": 0}, "sample"),
        ({"sample": 1.5}, "sample"),
        ({"wait_minutes": -1}, "wait_minutes"),
        ({"bounce_limit": 101}, "bounce_limit"),
        ({"complaint_limit": -0.1}, "complaint_limit"),
        ({"sample_size": 0}, "sample_size"),
        ({"limit": 2}, "limit"),
    ],
)
def test_bad_guard_settings_are_named(table: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        GuardSettings.model_validate(table)


# From the command line: digest send, run again as from cron, with [delivery.guard].


def seed(folder: Path, port: int, bounce_limit: float = 2) -> Path:
    """The TangerangNews example sending over SMTP to ``port`` with a guard of no wait."""
    shutil.copytree(EXAMPLES / "tangerangnews", folder / "seed")
    config = folder / "seed" / "newsletter.toml"
    text = config.read_text().replace("history = false", 'history = "weekly.history.sqlite3"')
    config.write_text(
        text + f'\n[delivery]\n[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\n'
        f'security = "none"\n[delivery.guard]\nsample = 0.2\nwait_minutes = 0\n'
        f"bounce_limit = {bounce_limit}\n"
    )
    return config


def built(config: Path, out: Path, env: dict[str, str] | None = None) -> Path:
    made = run_digest(
        "build", "--config", config, "--date", "2099-01-05", "--out", out, "-q", env=env
    )
    assert made.returncode == 0, made.stderr
    (eml,) = out.glob("*.eml")
    return eml


@pytest.mark.parametrize("bounces", [True, False])
def test_digest_send_stops_a_bouncing_sample_and_releases_by_hand(
    tmp_path: Path, bounces: bool, place: Places
) -> None:
    store = place("store")
    env = {ENVIRONMENT: store.url if isinstance(store, StoreURL) else ""}
    inbox = BouncingInbox(set())
    controller, port = start_smtp(inbox)
    try:
        config = seed(tmp_path, port)
        eml = built(config, tmp_path / "out", env)
        readers = tmp_path / "readers.txt"
        readers.write_text("".join(f"{a}\n" for a in READERS))
        sample = sample_of(eml.read_bytes())
        if bounces:
            inbox.bounces |= set(sample[: round(len(sample) / 10)])

        def send(*more: str) -> Any:
            return run_digest(*SEND, config, eml, "--recipients", readers, *more, env=env)

        first = send()
        assert first.returncode == (6 if bounces else 0), first.stderr
        assert "guard: sending to a sample of 20% of the list first" in first.stdout
        assert len(inbox.addresses()) == len(sample) - len(inbox.bounces)
        second = send()
        if not bounces:  # a clean sample: the rest goes
            assert second.returncode == 0, second.stderr
            assert "guard: released: the sample of" in second.stdout
            assert sorted(inbox.addresses()) == READERS
            return
        assert second.returncode == 10, second.stdout + second.stderr
        assert "digest: error: guard: the send of" in second.stderr
        assert "hard bounces over 2 %" in second.stderr
        assert len(inbox.addresses()) == len(sample) - len(inbox.bounces)  # the rest held
        assert send().returncode == 10  # and held it stays
        released = send("--release-guard")
        assert released.returncode == 0, released.stderr
        assert "guard: released by hand; the sample of" in released.stdout
        assert sorted(inbox.addresses()) == sorted(set(READERS) - inbox.bounces)
    finally:
        controller.stop()


def test_release_guard_without_a_guard_is_a_usage_error(tmp_path: Path) -> None:
    config = seed(tmp_path, 9)
    config.write_text(config.read_text().split("[delivery.guard]")[0])
    eml = built(config, tmp_path / "out")
    answer = run_digest(*SEND, config, eml, "--to", "me@example.org", "--release-guard")
    assert answer.returncode == 2
    assert "--release-guard" in answer.stderr and "[delivery.guard]" in answer.stderr
