"""Personalised delivery: workers that make and send, a ledger that never sends twice, A/B
subjects, readers from any iterable; and sends killed at random points."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from digest.delivery.ledger import SendLedger, open_ledger
from digest.delivery.mailing import Mailing
from digest.delivery.proofs import dated
from digest.delivery.settings import DeliverySettings, SmtpSettings
from digest.errors import InputError
from digest.mail.readers import csv_rows, reader_chunks
from digest.models import Reader
from digest.store import StoreURL

from ..helpers import ROOT, build_example

pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed")

from ..mailservers import FlakyInbox, Inbox, start_smtp
from ..stores import Places, postgres_url

__all__ = ["postgres_url"]


@pytest.fixture(scope="module")
def digest_() -> object:
    return build_example("riverside")


def readers(count: int, prefix: str = "r") -> list[Reader]:
    return [
        Reader(
            address=f"{prefix}{n}@example.org", name=f"O'Neil & <Co> {n}", unsubscribe_token=f"t{n}"
        )
        for n in range(count)
    ]


def settings(port: int, **options: object) -> DeliverySettings:
    return DeliverySettings.model_validate(
        {
            "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 10},
            "backoff": 0,
            **options,
        }
    )


def delivered(inbox: Inbox) -> Counter[str]:
    return Counter(rcpt for _, rcpts, _ in inbox.received for rcpt in rcpts)


def test_each_reader_gets_their_own_copy_once(digest_: object, tmp_path: Path) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    mailing = Mailing(digest_)  # type: ignore[arg-type]
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    try:
        people = readers(40)
        report = mailing.deliver(people + people[:5], settings(port), ledger, chunk=16)
        again = mailing.deliver(people, settings(port), ledger)
    finally:
        controller.stop()
    assert (
        report.sent == 40 and report.complete and report.skipped == 0
    )  # repeats are not "earlier"
    assert again.sent == 0 and again.skipped == 40
    assert set(delivered(inbox).values()) == {1} and len(delivered(inbox)) == 40
    for _, rcpts, data in inbox.received[:5]:
        message = message_from_bytes(data, policy=policy.default)
        assert [a.addr_spec for a in message["To"].addresses] == rcpts
        token = "t" + rcpts[0].split("@")[0].removeprefix("r")
        assert f"unsubscribe?token={token}\r\n" in message.get_body(("plain",)).get_content()
    assert ledger.summary(mailing.edition_key) == {("", "sent"): 40}


def test_a_process_pool_makes_and_sends_and_returns_only_receipts(
    digest_: object, tmp_path: Path
) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    mailing = Mailing(digest_)  # type: ignore[arg-type]
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    try:
        with ProcessPoolExecutor(max_workers=2) as pool:
            report = mailing.deliver(
                readers(60), settings(port), ledger, executor=pool, workers=2, chunk=7
            )
    finally:
        controller.stop()
    assert report.sent == 60 and report.complete
    assert delivered(inbox) == Counter({r.address: 1 for r in readers(60)})
    serial = {m.reader.address: m.data for m in mailing.copies.messages(readers(60))}
    for _, rcpts, data in inbox.received[:3]:
        # What a worker sent is byte for byte what this process makes, dated when it was sent.
        sent_at = parsedate_to_datetime(
            str(message_from_bytes(data, policy=policy.default)["Date"])
        )
        assert abs(time.time() - sent_at.timestamp()) < 120
        expected = dated(serial[rcpts[0]], sent_at)
        assert data.replace(b"\r\n", b"\n") == expected.replace(b"\r\n", b"\n")


def test_two_drivers_with_worker_pools_share_one_edition_on_postgresql(
    digest_: object, postgres_url: StoreURL, tmp_path: Path
) -> None:
    """Two senders (as on two hosts), each handing chunks to its own workers, claim from one
    PostgreSQL ledger: every reader is sent once, by whichever claimed them."""
    from concurrent.futures import ThreadPoolExecutor

    inbox = Inbox()
    controller, port = start_smtp(inbox)
    mailing = Mailing(digest_)  # type: ignore[arg-type]

    def drive(name: str) -> int:
        with (
            open_ledger(tmp_path / name, postgres_url) as ledger,
            ProcessPoolExecutor(max_workers=1) as pool,
        ):
            report = mailing.deliver(
                readers(80), settings(port), ledger, executor=pool, workers=1, chunk=5
            )
        return report.sent

    try:
        with ThreadPoolExecutor(max_workers=2) as drivers:
            sent = list(drivers.map(drive, ["one", "two"]))
    finally:
        controller.stop()
    assert sum(sent) == 80
    assert delivered(inbox) == Counter({r.address: 1 for r in readers(80)})
    with open_ledger(tmp_path / "check", postgres_url) as ledger:
        assert ledger.summary(mailing.edition_key) == {("", "sent"): 80}


def test_a_pool_reused_for_a_second_mailing_sends_that_mailings_subjects(
    digest_: object, tmp_path: Path
) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    first = Mailing(digest_, subjects=["First: {{ edition.lead.title }}"])  # type: ignore[arg-type]
    second = Mailing(digest_, subjects=["Second {{ edition.lead.title }}"])  # type: ignore[arg-type]
    try:
        with ProcessPoolExecutor(max_workers=1) as pool:
            first.deliver(readers(5, "a"), settings(port), None, executor=pool, workers=1)
            second.deliver(readers(5, "b"), settings(port), None, executor=pool, workers=1)
    finally:
        controller.stop()
    subjects = {
        rcpts[0][0]: message_from_bytes(data, policy=policy.default)["Subject"]
        for _, rcpts, data in inbox.received
    }
    assert subjects["a"].startswith("First: ") and subjects["b"].startswith("Second ")
    assert first.copies.key != second.copies.key


@pytest.mark.slow
def test_dask_workers_in_their_own_processes(
    digest_: object, tmp_path: Path, place: Places
) -> None:
    """Dask's workers make and send; the driver claims and records on either backend."""
    distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed")
    where = place("ledger.sqlite3")
    ledger = place.opened(
        open_ledger(where) if isinstance(where, Path) else open_ledger(tmp_path, where)
    )
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    mailing = Mailing(digest_)  # type: ignore[arg-type]
    try:
        with (
            distributed.Client(
                processes=True, n_workers=2, threads_per_worker=1, dashboard_address=":0"
            ) as client,
            client.get_executor() as executor,
        ):
            pids = set(client.run(os.getpid).values())
            report = mailing.deliver(
                readers(30),
                settings(port),
                ledger,
                executor=executor,
                workers=2,
                chunk=5,
            )
    finally:
        controller.stop()
    assert os.getpid() not in pids and len(pids) == 2
    assert report.sent == 30 and delivered(inbox) == Counter({r.address: 1 for r in readers(30)})
    assert ledger.summary(mailing.edition_key) == {("", "sent"): 30}


def test_with_an_executor_the_workers_need_settings_not_a_sender(digest_: object) -> None:
    from digest.delivery.smtp import SmtpSender

    mailing = Mailing(digest_)  # type: ignore[arg-type]
    with (
        ProcessPoolExecutor(max_workers=1) as pool,
        pytest.raises(InputError, match="DeliverySettings"),
    ):
        mailing.deliver(readers(1), SmtpSender(SmtpSettings(host="x")), executor=pool)


def test_ab_subjects_are_assigned_by_hash_and_recorded(digest_: object, tmp_path: Path) -> None:
    subjects = ["{{ edition.lead.title }}", "This week: {{ edition.lead.title }}"]
    mailing = Mailing(digest_, subjects=subjects)  # type: ignore[arg-type]
    people = readers(200)
    labels = [mailing.copies.variant_label(mailing.copies.subject_variant(r)) for r in people]
    assert labels == [
        Mailing(digest_, subjects=subjects).copies.variant_label(  # type: ignore[arg-type]
            mailing.copies.subject_variant(r)
        )
        for r in people
    ]  # the same in another process or run
    assert 70 < labels.count("A") < 130  # a fair split
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    try:
        report = mailing.deliver(people, settings(port), ledger)
    finally:
        controller.stop()
    lead = digest_.edition.lead.title  # type: ignore[attr-defined]
    subject_of = {}
    for _, rcpts, data in inbox.received:
        subject_of[rcpts[0]] = message_from_bytes(data, policy=policy.default)["Subject"]
    for reader, label in zip(people, labels, strict=True):
        expected = lead if label == "A" else f"This week: {lead}"
        assert subject_of[reader.address] == expected[: len(subject_of[reader.address])]
    assert report.sent_by_variant == Counter(labels)
    summary = ledger.summary(mailing.edition_key)
    assert summary == {("A", "sent"): labels.count("A"), ("B", "sent"): labels.count("B")}
    assert "sent, subject A" in report.table()


def test_readers_validate_in_bulk_with_the_row_named(tmp_path: Path) -> None:
    rows = [{"address": f"a{n}@example.org"} for n in range(5)] + [{"address": "nope"}]
    with pytest.raises(InputError, match=r"reader 6: address: .*not an email address"):
        list(reader_chunks(rows, size=4))
    (tmp_path / "readers.csv").write_text(
        "address,name,sections,fields.plan\nann@example.org,Ann,town; culture,gold\nbo@example.org,,,\n"
    )
    chunk = next(reader_chunks(csv_rows(tmp_path / "readers.csv")))
    assert chunk[0].sections == ("town", "culture") and chunk[0].fields == {"plan": "gold"}
    assert chunk[1].name is None and chunk[1].sections is None


def test_a_dropped_connection_mid_delivery_is_picked_up(digest_: object, tmp_path: Path) -> None:
    inbox = FlakyInbox(drops={3, 9}, silent={15})
    controller, port = start_smtp(inbox)
    mailing = Mailing(digest_)  # type: ignore[arg-type]
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    try:
        report = mailing.deliver(readers(20), settings(port, connections=1), ledger)
        again = mailing.deliver(readers(20), settings(port, connections=1), ledger)
    finally:
        controller.stop()
    assert report.sent == 19 and len(report.unknown) == 1 and again.unknown == report.unknown
    assert set(delivered(inbox).values()) == {1} and len(delivered(inbox)) == 20


# Kill -9 at random points: however a send ends, no address gets the edition twice, and
# every address is in the ledger as sent, refused or unknown, or gets it on the next run.

_SENDER_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from digest.delivery.settings import DeliverySettings
    from digest.delivery.ledger import SendLedger, open_ledger
    from digest.delivery.mailing import Mailing
    from tests.helpers import build_example

    port, ledger_path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    mailing = Mailing(build_example("riverside"))
    settings = DeliverySettings.model_validate({{
        "smtp": {{"host": "127.0.0.1", "port": port, "security": "none"}},
        "rate": 400, "connections": 2,
    }})
    rows = ({{"address": f"k{{n}}@example.org", "name": f"K {{n}}"}} for n in range(count))
    report = mailing.deliver(rows, settings, SendLedger(ledger_path), chunk=50)
    print(report.sent, len(report.unknown))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_sends_killed_at_random_points_never_send_twice(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    script = tmp_path / "send.py"
    script.write_text(_SENDER_SCRIPT.format(root=str(ROOT)))
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    ledger_path = tmp_path / "sends.sqlite3"
    count = 600
    try:
        for _ in range(2):
            before = len(inbox.received)
            with (tmp_path / "stderr.txt").open("wb") as errors:
                process = subprocess.Popen(
                    [sys.executable, str(script), str(port), str(ledger_path), str(count)],
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                )
                # Wait until it is sending, then kill it somewhere in the middle.
                deadline = time.monotonic() + 60
                while len(inbox.received) == before and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.05, 0.6))
                process.send_signal(signal.SIGKILL)
                process.wait()
            assert len(inbox.received) > before, (tmp_path / "stderr.txt").read_text()
        final = subprocess.run(
            [sys.executable, str(script), str(port), str(ledger_path), str(count)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert final.returncode == 0, final.stderr
    finally:
        controller.stop()
    got = delivered(inbox)
    assert max(got.values()) == 1, "an address got the edition twice"
    ledger = SendLedger(ledger_path)
    states = {row.address: row.state for row in ledger.rows("The Riverside Weekly 2026-11-30 #48")}
    everyone = {f"k{n}@example.org" for n in range(count)}
    assert set(states) == everyone
    assert {a for a, s in states.items() if s == "sent"} <= set(got)
    # Whatever is not sent was being sent when a kill came: reported as unknown, not resent.
    assert set(states.values()) <= {"sent", "pending"}
    pending = sum(1 for s in states.values() if s == "pending")
    assert pending <= 2 * 50  # at most the chunk each kill interrupted
    assert final.stdout.split()[1] == str(pending)  # the last run reported them all
    ledger.close()
    assert len(everyone - set(got)) <= sum(1 for s in states.values() if s == "pending")


def test_a_failing_worker_leaves_its_chunk_unknown_and_the_others_recorded(
    tmp_path: Path,
) -> None:
    from concurrent.futures import Future

    from digest.delivery.loop import run_delivery
    from digest.delivery.senders import Receipt

    def submit(batch: list[str]) -> Future[list[Receipt]]:
        future: Future[list[Receipt]] = Future()
        if batch[0] == "b1@example.org":
            future.set_exception(RuntimeError("the worker died"))
        else:
            future.set_result([Receipt(a, "sent", "id") for a in batch])
        return future

    ledger = SendLedger(tmp_path / "sends.sqlite3")
    chunks = [[f"{c}{n}@example.org" for n in range(1, 3)] for c in "abc"]
    with pytest.raises(RuntimeError, match="the worker died"):
        run_delivery(chunks, str, submit, "E", ledger, in_flight=3)
    states = {row.address: row.state for row in ledger.rows("E")}
    assert states == {
        "a1@example.org": "sent", "a2@example.org": "sent",
        "b1@example.org": "pending", "b2@example.org": "pending",
        "c1@example.org": "sent", "c2@example.org": "sent",
    }  # fmt: skip
    again = run_delivery(chunks, str, submit, "E", ledger)
    assert again.unknown == ["b1@example.org", "b2@example.org"] and again.skipped == 4


class Collect:
    """A sender of one's own: keeps the addresses it is given (in the worker's process)."""

    batch_size = 10

    def send(self, batch: list[object]) -> list[object]:
        from digest.delivery.senders import Receipt

        return [Receipt(m.address, "sent", f"id-{m.address}", m.variant) for m in batch]  # type: ignore[attr-defined]

    def close(self) -> None:
        pass


def test_workers_validate_the_rows_and_a_bad_one_stops_before_its_chunk_is_sent(
    digest_: object, tmp_path: Path
) -> None:
    mailing = Mailing(digest_)  # type: ignore[arg-type]
    rows: list[dict[str, object]] = [{"address": f"r{n}@example.org"} for n in range(50)]
    rows[23]["sections"] = "not a list"  # row 24: the address is good, the rest is not
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    with ProcessPoolExecutor(max_workers=2) as pool:
        with pytest.raises(InputError, match=r"^reader 24: sections"):
            mailing.deliver(rows, Collect, ledger, executor=pool, workers=2, chunk=10)
        states = Counter(row.state for row in ledger.rows(mailing.edition_key))
        assert states["pending"] == 0  # the bad chunk was never handed over: not unknown
        assert states["sent"] in (40, 30, 20)  # the chunks before it (and after, in flight)
        del rows[23]["sections"]
        again = mailing.deliver(rows, Collect, ledger, executor=pool, workers=2, chunk=10)
        bad_address = [{"address": "not an address"}]
        with pytest.raises(InputError, match=r"^reader 1: address: not an email address"):
            mailing.deliver(bad_address, Collect, ledger, executor=pool)
    assert again.sent + again.skipped == 50 and again.sent == 50 - states["sent"]
    assert {row.state for row in ledger.rows(mailing.edition_key)} == {"sent"}
    detail = {row.address: row.detail for row in ledger.rows(mailing.edition_key)}
    assert detail["r7@example.org"] == "id-r7@example.org"  # the worker's receipts, unpacked


def test_a_function_that_makes_a_sender_must_reach_the_workers(digest_: object) -> None:
    mailing = Mailing(digest_)  # type: ignore[arg-type]
    with (
        ProcessPoolExecutor(max_workers=1) as pool,
        pytest.raises(InputError, match="a function that makes a sender must pickle"),
    ):
        mailing.deliver(readers(1), lambda: Collect(), executor=pool)  # type: ignore[arg-type,return-value]
    report = mailing.deliver(readers(3), Collect)  # type: ignore[arg-type]
    assert report.sent == 3


def test_packed_receipts_come_back_in_order_or_not_at_all() -> None:
    import pickle

    from digest.delivery.senders import PackedReceipts, Receipt
    from digest.errors import SendError

    receipts = [Receipt("a@x.org", "sent", "1", "A"), Receipt("b@x.org", "refused", "550", "B")]
    packed = pickle.loads(pickle.dumps(PackedReceipts(receipts)))
    assert packed.unpack(["a@x.org", "b@x.org"]) == receipts
    assert b"a@x.org" not in pickle.dumps(PackedReceipts(receipts))
    with pytest.raises(SendError, match="2 receipts came back for 1 messages"):
        packed.unpack(["a@x.org"])


def test_a_run_without_a_ledger_remembers_every_address_past_its_memory() -> None:
    from digest.delivery.loop import _Seen

    seen = _Seen(in_memory=5)
    seen.add([f"a{n}" for n in range(4)])
    assert seen.db is None and seen.known(["a1", "b1"]) == {"a1"}
    seen.add(["a4", "a5", "a1"])  # past five: moved to the temporary table, none forgotten
    assert seen.db is not None and not seen.keys
    assert seen.known(["a0", "a5", "b2", "a3"]) == {"a0", "a5", "a3"}
    seen.add(["b2"])
    assert seen.known(["b2", "b3"]) == {"b2"}
    seen.close()


@pytest.mark.slow
def test_a_dask_cluster_started_as_on_several_machines(digest_: object, tmp_path: Path) -> None:
    """``dask scheduler`` and two ``dask worker`` processes, as a user starts them on machines."""
    distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed")
    from ..mailservers import free_port

    dask = Path(sys.executable).parent / "dask"
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = [(tmp_path / f"{name}.log").open("w") for name in ("scheduler", "w0", "w1")]
    common = {"cwd": tmp_path, "stderr": subprocess.STDOUT}
    processes = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
            stdout=logs[0], **common,  # type: ignore[arg-type]
        )
    ]  # fmt: skip
    for n in range(2):
        processes.append(
            subprocess.Popen(
                [dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{n}"],
                stdout=logs[1 + n], **common,  # type: ignore[arg-type]
            )
        )  # fmt: skip
    inbox = Inbox()
    controller, smtp_port = start_smtp(inbox)
    mailing = Mailing(
        digest_, subjects=["A: {{ edition.lead.title }}", "B: {{ edition.lead.title }}"]
    )  # type: ignore[arg-type]
    rows = [{"address": f"c{n}@example.org", "name": f"Reader {n}"} for n in range(80)]
    try:
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            pids = set(client.run(os.getpid).values())
            with (
                SendLedger(tmp_path / "sends.sqlite3") as ledger,
                client.get_executor() as executor,
            ):
                report = mailing.deliver(
                    rows, settings(smtp_port), ledger, executor=executor, workers=2, chunk=10
                )
                again = mailing.deliver(rows, settings(smtp_port), ledger, executor=executor)
                summary = ledger.summary(mailing.edition_key)
    finally:
        controller.stop()
        for process in processes[::-1]:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for log in logs:
            log.close()
    assert len(pids) == 2 and os.getpid() not in pids
    assert not pids & {process.pid for process in processes[:1]}
    assert report.sent == 80 and report.complete and again.sent == 0 and again.skipped == 80
    assert delivered(inbox) == Counter({row["address"]: 1 for row in rows})
    assert summary[("A", "sent")] + summary[("B", "sent")] == 80 and summary[("A", "sent")] > 20
    subjects = {
        rcpts[0]: str(message_from_bytes(data, policy=policy.default)["Subject"])
        for _, rcpts, data in inbox.received
    }
    assert all(
        mailing.copies.variant_label(mailing.copies.subject_variant(a)) == s[0]
        for a, s in subjects.items()
    )
