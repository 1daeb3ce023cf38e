"""``digest report``, the desk's report page and ``weigh_by = "clicks"`` on both store backends.

Two editions are built with a history; each is handed over through the store's own send
ledger, claims then receipts as ``digest send`` records them (``open_ledger``: the SQLite file
or the PostgreSQL server), and the suppression list's events are those ``SuppressionList``
records: on SQLite its file, on PostgreSQL the same rows in the server's ``events`` table.
An event reaches its edition each of the three ways (it names it, its message id is one the
ledger recorded, or it fell between the edition's first send and the next one's), and every
figure is the same on both backends.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from digest import load_config
from digest.delivery.ledger import SendLedger, open_ledger
from digest.delivery.senders import Receipt
from digest.errors import StoreError
from digest.schedule.build import open_history
from digest.schedule.clicks import open_events, past_click_through
from digest.schedule.config import BuildConfig, suppression_path
from digest.schedule.desk import Desk
from digest.schedule.history import links_of
from digest.store import ENVIRONMENT, PostgresStore, StoreURL, parse_store_url
from digest.store.snapshot import DELIVERIES, EVENTS, copy_tables
from digest.suppression import Event, SuppressionList
from digest.web.desk import DeskSession, make_desk

from ..helpers import EXAMPLES, run_digest
from ..mailservers import free_port
from ..stores import postgres_url

__all__ = ["postgres_url"]

DATES = ("2026-11-02", "2026-11-09")
#: When each edition was first handed over: microseconds the ledger's text leaves out.
FIRST = (
    datetime(2026, 11, 2, 8, 0, 0, 700000, tzinfo=UTC),
    datetime(2026, 11, 9, 8, 0, 0, 300000, tzinfo=UTC),
)
READERS = [f"r{n:03}@example.org" for n in range(20)]


def _seed(folder: Path) -> Path:
    """The TangerangNews example with a history, weighing its sections by clicks."""
    shutil.copytree(EXAMPLES / "tangerangnews", folder / "seed")
    config = folder / "seed" / "newsletter.toml"
    text = config.read_text().replace("history = false", 'history = "weekly.history.sqlite3"')
    text = text.replace("[newsletter.layout]\n", '[newsletter.layout]\nweigh_by = "clicks"\n')
    config.write_text(text)
    return config


def _build(config: Path, env: dict[str, str]) -> list[str]:
    """Both editions built (new stories each week); their keys."""
    data = config.with_name("edition.json")
    first = data.read_text()
    for week, on in enumerate(DATES):
        data.write_text(first.replace("/read/", f"/read/week-{week}/"))
        out = config.parent / f"out-{on}"
        built = run_digest("build", "--config", config, "--date", on, "--out", out, "-q", env=env)
        assert built.returncode == 0, built.stderr
    name = load_config(config).newsletter.name
    return [f"{name} {on} #{number}" for number, on in enumerate(DATES, start=1)]


def _hand_over(config: BuildConfig, url: StoreURL | None, keys: list[str]) -> None:
    """The ledger as two sends leave it: 20 readers of the first edition, 10 of the second."""
    path = config.beside_history(".sends.sqlite3")
    assert path is not None
    with open_ledger(path, url) as ledger:
        run = ledger.new_run()
        ledger.claim(keys[0], READERS, [""] * 20, run, when=FIRST[0])
        receipts = [Receipt(a, "sent", f"pm-{n}") for n, a in enumerate(READERS[:16])]
        receipts += [Receipt(READERS[16], "refused", "550 no such user")]
        receipts += [Receipt(READERS[17], "refused", "550 no such user")]
        receipts += [Receipt(READERS[18], "unknown", "connection lost")]
        ledger.record(keys[0], receipts, when=FIRST[0] + timedelta(minutes=3))
        # READERS[19] stays pending: claimed, never recorded.
        run = ledger.new_run()
        ledger.claim(keys[1], READERS[:10], [""] * 10, run, when=FIRST[1])
        receipts = [Receipt(a, "sent", "") for a in READERS[:10]]  # over SMTP: no ids
        ledger.record(keys[1], receipts, when=FIRST[1] + timedelta(minutes=1))


def _events(config: BuildConfig, keys: list[str]) -> list[Event]:
    """Opens and clicks naming their edition, reports naming a message id, and timed ones."""
    links = [
        [link for link in links_of(config, key) if link.kind in ("lead", "teaser")] for key in keys
    ]
    at = FIRST[0] + timedelta(hours=1)
    events = [
        Event(a, "opened", "tracking", f"o1-{a}", at=at, edition=keys[0]) for a in READERS[:8]
    ]
    events += [
        Event(a, "clicked", "tracking", f"c1-{a}", at=at, edition=keys[0],
              url=links[0][n % len(links[0])].url)
        for n, a in enumerate(READERS[:5])
    ]  # fmt: skip
    events += [
        Event(READERS[0], "clicked", "tracking", "c1-again", at=at, edition=keys[0],
              url=links[0][0].url),
        Event(READERS[7], "clicked", "tracking", "c1-scan", at=at, edition=keys[0],
              url=links[0][1].url, detail="scanner"),
        # Through the ledger: the provider's message id of the first edition's copy.
        Event(READERS[10], "hard-bounce", "postmark", "b-10", at=at, message_id="pm-10"),
        Event(READERS[11], "complaint", "postmark", "x-11", at=at, message_id="pm-11"),
        Event(READERS[1], "opened", "postmark", "o1-pm", at=at, message_id="pm-1"),
        # By time: within the first edition's window, the very second it was first sent.
        Event(READERS[12], "unsubscribed", "link", "u-12",
              at=FIRST[0].replace(microsecond=100000)),
        Event(READERS[13], "soft-bounce", "smtp", "s-13", at=FIRST[0] + timedelta(hours=2),
              message_id="a-copy-over-smtp"),
        # By time: the second edition's window; READERS[14] was never sent it.
        Event(READERS[3], "unsubscribed", "link", "u-3", at=FIRST[1] + timedelta(hours=1)),
        Event(READERS[14], "unsubscribed", "link", "u-14", at=FIRST[1] + timedelta(hours=1)),
        Event(READERS[5], "clicked", "tracking", "c2-5", at=FIRST[1] + timedelta(hours=1),
              edition=keys[1], url=links[1][0].url),
    ]  # fmt: skip
    return events


def _newsletter(folder: Path, url: StoreURL | None) -> tuple[Path, dict[str, str], list[str]]:
    """Both editions built, handed over and reacted to, on SQLite (``url`` None) or PostgreSQL."""
    env = {ENVIRONMENT: url.url if url is not None else ""}
    config = _seed(folder)
    keys = _build(config, env)
    loaded = load_config(config)
    _hand_over(loaded, url, keys)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENVIRONMENT, env[ENVIRONMENT])  # the links: in the store's history
        events = _events(loaded, keys)
    # Where digest suppress, serve and the webhooks record them: the file, or the server.
    on_server = url is not None and url.backend == "postgresql"
    with SuppressionList(url if on_server else suppression_path(loaded)) as listed:  # type: ignore[arg-type]
        for event in events:
            listed.record(event)
    return config, env, keys


@pytest.fixture(params=["sqlite", "sqlite-ledger-file", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreURL | None:
    """None for SQLite files beside the config, the ledger's file ``[store] url`` names, or a
    PostgreSQL store of this test's own."""
    if request.param == "sqlite":
        return None
    if request.param == "sqlite-ledger-file":
        return parse_store_url(f"sqlite:///{tmp_path / 'elsewhere' / 'ledger.sqlite3'}")
    url: StoreURL = request.getfixturevalue("postgres_url")
    return url


def _reported(config: Path, env: dict[str, str], *args: str) -> Any:
    answer = run_digest("report", "--config", config, "--json", *args, env=env)
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)


def test_digest_report_counts_each_way_an_event_reaches_its_edition(
    tmp_path: Path, backend: StoreURL | None
) -> None:
    config, env, keys = _newsletter(tmp_path, backend)
    first = _reported(config, env, "1")
    assert first["edition"] == keys[0]
    assert (first["recipients"], first["sent"], first["refused"]) == (20, 16, 2)
    assert (first["unknown"], first["pending"]) == (1, 1)
    # READERS[10] bounced through its message id; READERS[13]'s copy over SMTP by time.
    assert (first["hard_bounces"], first["soft_bounces"], first["delivered"]) == (1, 1, 14)
    assert (first["complaints"], first["unsubscribes"]) == (1, 1)
    assert (first["opens"], first["total_opens"]) == (8, 9)
    assert (first["clicks"], first["total_clicks"], first["scanner_clicks"]) == (5, 6, 1)
    assert sum(story["clicks"] for story in first["stories"]) == 6
    second = _reported(config, env, "2")
    assert (second["sent"], second["delivered"], second["unsubscribes"]) == (10, 10, 1)
    assert (second["clicks"], second["opens"]) == (1, 0)
    if backend is not None:  # a report reads: no ledger file beside the history
        assert not config.with_name("weekly.sends.sqlite3").exists()


def test_the_same_data_reads_the_same_on_sqlite_and_postgresql(
    tmp_path: Path, postgres_url: StoreURL
) -> None:
    on_files = _newsletter(tmp_path / "files", None)
    on_server = _newsletter(tmp_path / "server", postgres_url)
    for args in (("1",), ("2",), ("--editions", "2"), ("--stories",)):
        assert _reported(*on_server[:2], *args) == _reported(*on_files[:2], *args), args


def test_a_report_on_postgresql_changes_nothing_on_the_server(
    tmp_path: Path, postgres_url: StoreURL
) -> None:
    config, env, _ = _newsletter(tmp_path, postgres_url)
    store = PostgresStore(postgres_url, size=1)
    tables = ("deliveries", "events", "editions", "subject_tests", "schema_versions")

    def dump() -> list[list[tuple[Any, ...]]]:
        return [store.run(f"SELECT * FROM {table} ORDER BY 1, 2") for table in tables]

    try:
        before = dump()
        _reported(config, env)
        _reported(config, env, "--stories")
        assert dump() == before
        # Nor a file beside the config: the ledger and the events are the server's.
        assert not config.with_name("weekly.sends.sqlite3").exists()
        assert not config.with_name("weekly.suppressions.sqlite3").exists()
    finally:
        store.close()


def test_the_ledger_text_is_the_sqlite_ledger_s_to_the_second(
    tmp_path: Path, postgres_url: StoreURL
) -> None:
    config, _, keys = _newsletter(tmp_path, postgres_url)
    files = tmp_path / "files"
    files.mkdir()
    sqlite_url = parse_store_url(f"sqlite:///{files / 'weekly.sends.sqlite3'}")
    _hand_over(load_config(config), sqlite_url, keys)
    db = sqlite3.connect(":memory:")
    db.execute("ATTACH DATABASE ':memory:' AS ledger")
    db.execute(
        "CREATE TABLE ledger.deliveries (edition TEXT, address TEXT, state TEXT, detail TEXT,"
        " variant TEXT, updated TEXT, run TEXT, PRIMARY KEY (edition, address))"
    )
    db.execute(
        "CREATE TABLE main.events (id TEXT PRIMARY KEY, address TEXT, reason TEXT, source TEXT,"
        " at TEXT, detail TEXT, message TEXT, moment INTEGER, arrival INTEGER, edition TEXT,"
        " url TEXT)"
    )
    copied = copy_tables(postgres_url, db, (DELIVERIES, EVENTS), batch=7)
    assert copied == {"deliveries": 30, "events": 23}
    query = "SELECT edition, address, state, detail, updated FROM {} ORDER BY 1, 2"
    server = db.execute(query.format("ledger.deliveries")).fetchall()
    ledger = sqlite3.connect(files / "weekly.sends.sqlite3")
    assert server == ledger.execute(query.format("deliveries")).fetchall()
    ledger.close()
    assert server[0][4] == "2026-11-02T08:03:00+00:00"
    (first,) = db.execute("SELECT min(updated) FROM ledger.deliveries").fetchone()
    assert first == "2026-11-02T08:00:00+00:00"
    assert datetime.fromisoformat(first) == FIRST[0].replace(microsecond=0)
    db.close()


def test_the_copy_has_the_columns_of_the_sqlite_files(
    tmp_path: Path, postgres_url: StoreURL, monkeypatch: pytest.MonkeyPatch
) -> None:
    def columns(db: sqlite3.Connection, table: str) -> list[tuple[str, str, int, str]]:
        return [(n, t, null, d) for _, n, t, null, d, _ in db.execute(f"PRAGMA {table}")]

    with SuppressionList(tmp_path / "list.sqlite3") as listed:
        assert isinstance(listed.db, sqlite3.Connection)
        events = columns(listed.db, "table_info(events)")
    with SendLedger(tmp_path / "ledger.sqlite3") as ledger:
        deliveries = columns(ledger.db, "table_info(deliveries)")
    monkeypatch.setenv(ENVIRONMENT, postgres_url.url)
    with open_events(load_config(_seed(tmp_path))) as db:
        assert sorted(columns(db, "main.table_info(events)")) == sorted(events)
        assert columns(db, "ledger.table_info(deliveries)") == deliveries
    assert list(DELIVERIES.columns) == [name for name, *_ in deliveries]
    assert sorted(EVENTS.columns) == sorted(name for name, *_ in events)


def test_a_schema_never_upgraded_reads_as_nothing_sent_and_stays_so(
    tmp_path: Path, postgres_url: StoreURL, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT, postgres_url.url)
    with open_events(load_config(_seed(tmp_path))) as db:
        assert db.execute("SELECT count(*) FROM ledger.deliveries").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM main.events").fetchone() == (0,)
    store = PostgresStore(postgres_url, size=1)
    try:  # a report creates nothing there
        assert store.run("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()") == [
            (0,)
        ]
    finally:
        store.close()


def test_an_unreachable_server_is_one_line_exit_11(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _seed(tmp_path)
    _build(config, {ENVIRONMENT: ""})
    env = {ENVIRONMENT: "postgresql://digest:hunter2@127.0.0.1:1/news?connect_timeout=2"}
    answer = run_digest("report", "--config", config, env=env)
    assert answer.returncode == 11, answer.stderr
    assert len(answer.stderr.strip().splitlines()) == 1
    assert "postgresql://digest:***@127.0.0.1:1/news" in answer.stderr
    assert "hunter2" not in answer.stderr
    monkeypatch.setenv(ENVIRONMENT, env[ENVIRONMENT])
    with pytest.raises(StoreError, match="cannot connect"), open_events(load_config(config)):
        pass


def test_the_desk_s_report_page_shows_the_store_s_figures(
    tmp_path: Path, backend: StoreURL | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, env, _ = _newsletter(tmp_path, backend)
    monkeypatch.setenv(ENVIRONMENT, env[ENVIRONMENT])
    session, port = DeskSession(), free_port()
    app = make_desk(Desk(load_config(config), date(2026, 11, 16)), session, port)
    with TestClient(app, base_url=f"http://127.0.0.1:{port}") as client:
        assert client.get(f"/?token={session.token}").status_code == 200
        answer = client.get("/report")
    assert answer.status_code == 200, answer.text
    assert "Nothing to report yet" not in answer.text
    # The newest edition: 10 sent, one reader unsubscribed, one clicked.
    text = " ".join(answer.text.split())
    assert "<dt>Sent</dt><dd>10</dd>" in text.replace("> <", "><"), text[:3000]


def test_weighing_by_clicks_reads_the_store_s_clicks(
    tmp_path: Path, backend: StoreURL | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, env, _ = _newsletter(tmp_path, backend)
    monkeypatch.setenv(ENVIRONMENT, env[ENVIRONMENT])
    loaded = load_config(config)
    with open_history(loaded, create=False) as history:  # type: ignore[union-attr]
        weights = past_click_through(loaded, history, date(2026, 11, 16))
    assert weights is not None and weights.editions == 2
    stories = _reported(config, env, "--stories")
    expected = {
        group["name"]: group["click_through"] for group in stories if group["by"] == "section"
    }
    assert dict(weights.sections) == pytest.approx(expected)
    assert any(rate > 0 for rate in expected.values())
