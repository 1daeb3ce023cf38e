"""``send_edition``: the rules of a send in the library, the same for the command and the desk."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import ConfigError, PlaceholderLinkError, UsageError
from digest.schedule.config import load_config
from digest.schedule.sending import SendRequest, send_edition

from ..delivery.test_due import seed_sending_to
from ..delivery.test_send_abtest import build, readers, seed
from ..helpers import run_digest
from ..mailservers import Inbox, start_smtp

PLACEHOLDER = (
    "the unsubscribe link 'https://tangerangnews.example/newsletter/berhenti' is a placeholder"
)


def test_a_proof_of_an_ab_edition_as_bytes_sends_each_subject(tmp_path: Path) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        smtp = f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        config = seed(tmp_path, smtp)
        raw = build(config, tmp_path / "out").read_bytes()
        outcome = send_edition(load_config(config), raw, SendRequest(to=("ed@example.org",)))
    finally:
        controller.stop()
    assert outcome.subjects == ["A", "B", "C"] and outcome.proof
    assert (outcome.sent, outcome.recipients, outcome.complete) == (1, 1, True)
    assert outcome.warnings == [f"{PLACEHOLDER}; going ahead (a proof): not for readers"]
    assert len(inbox.received) == 3


def test_a_send_to_readers_needs_a_file_and_someone_to_send_to(tmp_path: Path) -> None:
    config = seed_sending_to(tmp_path, 9)
    eml = build(config, tmp_path / "out")
    loaded = load_config(config)
    with pytest.raises(UsageError, match=r"^say who gets it: --to, --recipients") as nobody:
        send_edition(loaded, eml, SendRequest(allow_placeholder_links=True))
    assert nobody.value.exit_code == 2
    listed = SendRequest(recipients=readers(tmp_path, 2), allow_placeholder_links=True)
    with pytest.raises(UsageError, match=r"reads a built \.eml file, not bytes"):
        send_edition(loaded, eml.read_bytes(), listed)
    with pytest.raises(PlaceholderLinkError, match=r"^edition-2099-01-05\.eml: the unsubscribe"):
        send_edition(config, eml, SendRequest(recipients=readers(tmp_path, 2)))
    no_delivery = tmp_path / "bare.toml"
    no_delivery.write_text(config.read_text().split("\n[delivery]")[0])
    with pytest.raises(ConfigError, match=rf"^{no_delivery}: no \[delivery\] table"):
        send_edition(no_delivery, eml, listed)


def test_what_was_worth_a_warning_goes_with_the_error_and_quiet_drops_it(tmp_path: Path) -> None:
    config = seed_sending_to(tmp_path, 9)
    eml = build(config, tmp_path / "out")
    config.write_text(config.read_text() + "\n[desk]\napproval = true\n")
    request = SendRequest(recipients=readers(tmp_path, 2), allow_placeholder_links=True)
    with pytest.raises(ConfigError, match="approval = true") as refused:
        send_edition(config, eml, request)
    assert refused.value.warnings == (
        f"{PLACEHOLDER}; going ahead (--allow-placeholder-links): not for readers",
    )
    send = ("send", "--config", config, eml, "--recipients", tmp_path / "readers.txt")
    loud = run_digest(*send, "--allow-placeholder-links")
    quiet = run_digest(*send, "--allow-placeholder-links", "-q")
    assert loud.returncode == quiet.returncode == 1
    assert loud.stderr.splitlines()[0].startswith(f"digest: warning: {PLACEHOLDER}")
    assert "approval = true" in loud.stderr.splitlines()[1]
    assert quiet.stderr.count("\n") == 1 and "approval = true" in quiet.stderr


def test_past_editions_need_a_history_and_are_none_before_a_build(tmp_path: Path) -> None:
    from digest.schedule.history import past_editions

    config = seed_sending_to(tmp_path, 9)  # the example keeps no history
    with pytest.raises(ConfigError, match=r"^this config keeps no history \(history = false\)$"):
        past_editions(load_config(config))
    config.write_text(config.read_text().replace("history = false", 'history = "h.sqlite3"'))
    assert past_editions(load_config(config)) == []
    assert run_digest("history", "--config", config).stdout == "No edition built yet.\n"
    build(config, tmp_path / "out")
    (edition,) = past_editions(load_config(config))
    assert (edition.record.date.isoformat(), edition.subject_test) == ("2099-01-05", "")
