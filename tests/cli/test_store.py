"""digest store status and upgrade, through the real entry point, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.store import ENVIRONMENT, StoreURL

from ..helpers import run_digest
from ..stores import postgres_url

__all__ = ["postgres_url"]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "newsletter.toml"
    assert run_digest("init", path).returncode == 0
    return path


def test_sqlite_is_the_default_and_needs_no_upgrade(config: Path) -> None:
    status = run_digest("store", "status", "--config", config, env={ENVIRONMENT: ""})
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[0] == "store: SQLite (files beside the config)"
    upgrade = run_digest("store", "upgrade", "--config", config, env={ENVIRONMENT: ""})
    assert "upgrade themselves when they are opened" in upgrade.stdout


def test_postgresql_from_the_environment_upgraded_once(
    config: Path, postgres_url: StoreURL
) -> None:
    env = {ENVIRONMENT: postgres_url.url}
    before = run_digest("store", "status", "--config", config, env=env)
    assert "schema: version 0 of 4" in before.stdout
    assert "run: digest store upgrade" in before.stdout
    first = run_digest("store", "upgrade", "--config", config, env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 1 (the send ledger" in first.stdout
    assert "applied 2 (the suppression list and the reader store" in first.stdout
    assert "applied 3 (the edition history" in first.stdout
    assert "applied 4 (a guarded send's guards" in first.stdout
    second = run_digest("store", "upgrade", "--config", config, env=env)
    assert "the schema is up to date" in second.stdout
    after = run_digest("store", "status", "--config", config, env=env)
    assert "schema: version 4 of 4" in after.stdout and "to apply" not in after.stdout


def test_a_password_in_the_config_is_refused_and_never_printed(config: Path) -> None:
    with config.open("a") as file:
        file.write('\n[store]\nurl = "postgresql://digest:hunter2@db.example.org/news"\n')
    result = run_digest("store", "status", "--config", config, env={ENVIRONMENT: ""})
    assert result.returncode == 1
    assert "store.url" in result.stderr and "PGPASSWORD" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_an_unreachable_server_exits_11_in_one_line(config: Path) -> None:
    env = {ENVIRONMENT: "postgresql://digest:hunter2@127.0.0.1:1/news?connect_timeout=2"}
    result = run_digest("store", "upgrade", "--config", config, env=env)
    assert result.returncode == 11
    assert len(result.stderr.strip().splitlines()) == 1
    assert "postgresql://digest:***@127.0.0.1:1/news" in result.stderr
    assert "hunter2" not in result.stderr


def test_a_send_on_postgresql_is_what_a_rebuild_and_import_mail_read(
    tmp_path: Path, postgres_url: StoreURL
) -> None:
    """No ledger file is written; the build's refusal of a sent edition reads the server's."""
    from ..delivery.test_due import seed_sending_to
    from ..delivery.test_send_abtest import build
    from ..mailservers import Inbox, start_smtp

    env = {ENVIRONMENT: postgres_url.url}
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed_sending_to(tmp_path, port)
        eml = build(config, tmp_path / "out")
        (tmp_path / "list.txt").write_text("ana@example.org\nbo@example.org\n")
        sent = run_digest(
            "send", "--allow-placeholder-links", "--config", config, eml,
            "--recipients", tmp_path / "list.txt", env=env,
        )  # fmt: skip
    finally:
        controller.stop()
    assert sent.returncode == 0, sent.stderr
    assert len(inbox.received) == 2
    assert not list(tmp_path.rglob("*.sends.sqlite3"))
    again = run_digest(
        "build", "--config", config, "--date", "2099-01-05", "--out", tmp_path / "out", env=env
    )
    assert again.returncode == 1
    assert "was sent to 2 readers" in again.stderr
    # On SQLite (no sends file there) the same build is not refused: the server answered.
    local = run_digest(
        "build", "--config", config, "--date", "2099-01-05", "--out", tmp_path / "other",
        "-q", env={ENVIRONMENT: ""},
    )  # fmt: skip
    assert local.returncode == 0, local.stderr


def test_an_ab_test_on_postgresql_samples_then_sends_the_winner_by_hand(
    tmp_path: Path, postgres_url: StoreURL
) -> None:
    """The test's start and winner are the server's: the history reads the winner there."""
    from collections import Counter

    from ..delivery.test_send_abtest import readers, seed
    from ..mailservers import Inbox, start_smtp

    env = {ENVIRONMENT: postgres_url.url}
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        smtp = f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        config = seed(tmp_path, smtp)
        out = tmp_path / "out"
        built = run_digest(
            "build", "--config", config, "--date", "2099-01-05", "--out", out, "-q", env=env
        )
        assert built.returncode == 0, built.stderr
        (eml,) = out.glob("*.eml")
        people = readers(tmp_path, 60)
        send = (
            "send",
            "--allow-placeholder-links",
            "--config",
            config,
            eml,
            "--recipients",
            people,
        )
        first = run_digest(*send, env=env)
        assert first.returncode == 0, first.stderr
        assert "A/B: testing the subjects" in first.stdout
        sample = len(inbox.received)
        assert 5 <= sample < 60
        chosen = run_digest(*send, "--winner", "C", env=env)
        assert chosen.returncode == 0, chosen.stderr
        assert "A/B: subject C chosen by hand on " in chosen.stdout
    finally:
        controller.stop()
    received = Counter(rcpt[0] for _, rcpt, _ in inbox.received)
    assert len(received) == 60 and set(received.values()) == {1}
    assert not list(tmp_path.rglob("*.sends.sqlite3"))
    history = run_digest("history", "--config", config, env=env)
    assert "A/B: subject C chosen by hand on " in history.stdout


def test_a_paced_send_waits_for_another_paced_run_on_the_server(
    tmp_path: Path, postgres_url: StoreURL
) -> None:
    """The pace counts every run's hand-overs: paced runs on any host take turns (exit 7)."""
    from digest.delivery.ledger import open_ledger

    from ..delivery.test_due import seed_sending_to
    from ..delivery.test_send_abtest import build
    from ..mailservers import Inbox, start_smtp

    env = {ENVIRONMENT: postgres_url.url}
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed_sending_to(tmp_path, port, delivery="hourly_cap = 1000\n")
        eml = build(config, tmp_path / "out")
        (tmp_path / "list.txt").write_text("ana@example.org\nbo@example.org\n")
        send = ("send", "--allow-placeholder-links", "--config", config, eml,
                "--recipients", tmp_path / "list.txt")  # fmt: skip
        with open_ledger(Path(), postgres_url) as other, other.lock("another", paced=True):
            refused = run_digest(*send, env=env)
        after = run_digest(*send, env=env)
    finally:
        controller.stop()
    assert refused.returncode == 7
    assert "another paced run is sending now" in refused.stderr
    assert after.returncode == 0, after.stderr
    assert sorted(r[0] for _, r, _ in inbox.received) == ["ana@example.org", "bo@example.org"]
