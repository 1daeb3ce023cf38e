"""An A/B test of subjects from the command line: ``digest build`` writes the variants into the
.eml, ``digest send`` (run again and again, as from cron) sends the sample, then the winner
(from real webhook clicks into the Postmark stand-in's readers, or chosen by hand) to
everyone else, each reader once."""

from __future__ import annotations

import functools
import json
import shutil
import time
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from digest import email_bytes, load_config
from digest.delivery.abtest import SubjectTest
from digest.delivery.ledger import SendLedger
from digest.mail.mime import one_line
from digest.mail.variants import subject_variants, with_subject_variants
from digest.schedule.config import ledger_path, suppression_path
from digest.web import WebSettings, make_app

from ..helpers import EXAMPLES, build_example, run_digest
from ..mailservers import Inbox, ProviderApi, start_smtp
from ..test_properties import QUICK
from .test_abtest import click

SUBJECTS = (
    '["A: {{ edition.lead.title }}", "B: {{ edition.lead.title }}", "C: {{ edition.lead.title }}"]'
)
LEAD = "COVID-19, Pemkot Tangerang & Akademisi"


#: ``digest send`` to a test list: the example's unsubscribe link is on a placeholder host.
SEND = ("send", "--allow-placeholder-links", "--config")


def seed(folder: Path, delivery: str, test: str = "sample = 0.3\nwait_hours = 3\n") -> Path:
    """The tangerangnews example, sending as ``delivery`` says, with a subject test."""
    shutil.copytree(EXAMPLES / "tangerangnews", folder / "seed")
    config = folder / "seed" / "newsletter.toml"
    table = f"\n[delivery.subject_test]\nsubjects = {SUBJECTS}\n{test}" if test else ""
    text = config.read_text().replace("history = false", 'history = "weekly.history.sqlite3"')
    config.write_text(text + f"\n[delivery]\n{delivery}{table}")
    return config


def build(config: Path, out: Path) -> Path:
    built = run_digest("build", "--config", config, "--date", "2099-01-05", "--out", out, "-q")
    assert built.returncode == 0, built.stderr
    (eml,) = out.glob("*.eml")
    return eml


def readers(folder: Path, count: int) -> Path:
    path = folder / "readers.txt"
    path.write_text("".join(f"r{n:03}@example.org\n" for n in range(count)))
    return path


def test_build_writes_every_subject_and_send_reads_them_back(tmp_path: Path) -> None:
    config = seed(tmp_path, '[delivery.smtp]\nhost = "127.0.0.1"\nsecurity = "none"\n')
    raw = build(config, tmp_path / "out").read_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"].startswith(f"A: {LEAD}")
    assert parsed["X-Digest-Subject-B"].startswith(f"B: {LEAD}")
    assert parsed["X-Digest-Subject-C"].startswith(f"C: {LEAD}")
    assert "X-Digest-Subject-D" not in head
    variants = subject_variants(raw)
    assert list(variants) == ["A", "B", "C"]
    for label, data in variants.items():
        message = message_from_bytes(data, policy=policy.default)
        assert message["Subject"].startswith(f"{label}: {LEAD}")
        assert not [name for name in message if name.startswith("X-Digest-Subject")]
        # Only the subject differs: the parts are the edition's, byte for byte.
        assert data.split(b"\r\n\r\n", 1)[1] == raw.split(b"\r\n\r\n", 1)[1]
    assert subject_variants(variants["A"]) == {"": variants["A"]}


@pytest.mark.parametrize(
    ("subjects", "message"),
    [
        (["only one"], "subjects: a test has two to four, not 1"),
        (["1", "2", "3", "4", "5"], "subjects: a test has two to four, not 5"),
    ],
)
def test_a_test_has_two_to_four_subjects(subjects: list[str], message: str) -> None:
    raw = b"From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"
    with pytest.raises(ValueError, match=message):
        with_subject_variants(raw, subjects)


@pytest.mark.slow
def test_cron_runs_send_the_sample_then_the_winner_of_real_clicks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTMARK_SERVER_TOKEN", "test-key")
    with ProviderApi("postmark") as postmark:
        delivery = f'provider = "postmark"\nbackoff = 0\n[delivery.postmark]\nbase_url = "{postmark.url}"\n'
        # Ten seconds: the sample, the clicks and a run before the end fit in them on a loaded
        # machine, and the test waits out the rest.
        wait = 10 / 3600
        config = seed(tmp_path, delivery, f"sample = 0.3\nwait_hours = {wait}\n")
        eml = build(config, tmp_path / "out")
        people = readers(tmp_path, 200)

        def send() -> str:
            result = run_digest(*SEND, config, eml, "--recipients", people)
            assert result.returncode == 0, result.stderr
            return result.stdout

        started = time.monotonic()
        first = send()
        assert "A/B: testing the subjects on 30% of the list; the winner is decided from" in first
        assert "readers are not due yet; the next at " in first and "(run it again then)" in first
        sample = {item["To"]: str(item["Subject"])[0] for item in postmark.received}
        assert 40 <= len(sample) <= 80 and set(sample.values()) == {"A", "B", "C"}
        edition = str(message_from_bytes(eml.read_bytes())["X-Digest-Edition"])
        assert all(SubjectTest(sample=0.3).in_sample(edition, a) for a in sample)
        assert not any("X-Digest-Subject" in json.dumps(item) for item in postmark.received)
        # B's readers click, as Postmark reports it to digest serve's webhook.
        web = WebSettings(
            suppressions=suppression_path(load_config(config)), postmark_password="pm-password"
        )
        with SendLedger(ledger_path(load_config(config), eml)) as ledger:
            ids = {row.address: row.detail for row in ledger.rows(edition)}
        with TestClient(make_app(web)) as client:
            for n, (address, label) in enumerate(sorted(sample.items())):
                if label == "B" or n % 9 == 0:
                    click(client, ids[address], address)
        early = send()
        assert "A/B: testing the subjects" in early and len(postmark.received) == len(sample)
        time.sleep(max(0.0, started + wait * 3600 + 0.5 - time.monotonic()))
        won = send()
        assert "A/B: subject B won on " in won
        again = send()
        history = run_digest("history", "--config", config)
    assert history.returncode == 0, history.stderr
    assert "A/B: subject B won on " in history.stdout
    assert "Sent edition-2099-01-05.eml to 0 of 200 recipients" in again
    received = Counter(item["To"] for item in postmark.received)
    assert len(received) == 200 and set(received.values()) == {1}  # everyone, once
    rest = {str(item["Subject"])[0] for item in postmark.received if item["To"] not in sample}
    assert rest == {"B"}


def test_the_winner_by_hand_over_smtp_and_proofs_of_every_subject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    # Each reader's own signed unsubscribe link, in their copy and in every proof.
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", "a-secret-of-sixteen-or-more")
    try:
        config = seed(
            tmp_path, f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        )
        config.write_text(
            config.read_text().replace(
                "https://tangerangnews.example/newsletter/berhenti",
                "https://tangerangnews.example/unsubscribe/{token}",
            )
        )
        eml = build(config, tmp_path / "out")
        people = readers(tmp_path, 60)
        proofs = run_digest("send", "--config", config, eml, "--to", "editor@example.org")
        assert proofs.returncode == 0, proofs.stderr
        assert "Sent proofs of edition-2099-01-05.eml, subjects A, B, C, to 1 of 1" in proofs.stdout
        subjects = [
            str(message_from_bytes(raw, policy=policy.default)["Subject"])
            for _, _, raw in inbox.received
        ]
        assert [s[: len("[Proof A] A: ")] for s in subjects] == [
            "[Proof A] A: ", "[Proof B] B: ", "[Proof C] C: "
        ]  # fmt: skip
        inbox.received.clear()
        first = run_digest(*SEND, config, eml, "--recipients", people)
        assert first.returncode == 0, first.stderr
        sample = {rcpt[0] for _, rcpt, _ in inbox.received}
        assert 5 <= len(sample) < 60
        chosen = run_digest(*SEND, config, eml, "--recipients", people, "--winner", "C")
        assert chosen.returncode == 0, chosen.stderr
        assert "A/B: subject C chosen by hand on " in chosen.stdout
    finally:
        controller.stop()
    received = Counter(rcpt[0] for _, rcpt, _ in inbox.received)
    assert len(received) == 60 and set(received.values()) == {1}
    for _, (address,), raw in inbox.received:
        message = message_from_bytes(raw, policy=policy.default)
        assert message["To"] == address
        assert "{token}" not in str(message["List-Unsubscribe"])
        assert "%7Btoken%7D" not in str(message["List-Unsubscribe"])
        assert not [name for name in message if name.lower().startswith("x-digest-subject")]
        if address not in sample:
            assert str(message["Subject"]).startswith(f"C: {LEAD}")


def test_a_test_and_its_eml_must_agree(tmp_path: Path) -> None:
    smtp = '[delivery.smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\n'
    config = seed(tmp_path, smtp)
    eml = build(config, tmp_path / "out")
    people = readers(tmp_path, 3)
    plain = tmp_path / "plain"
    plain_config = seed(plain, smtp, test="")
    single = build(plain_config, plain / "out")
    without = run_digest(*SEND, plain_config, eml, "--recipients", people)
    assert without.returncode != 0
    assert (
        "the .eml has subject variants A, B, C for an A/B test: set [delivery.subject_test] "
        "to send them (or send a proof with --to)"
    ) in without.stderr
    mismatched = run_digest(*SEND, config, single, "--recipients", people)
    assert mismatched.returncode != 0
    assert (
        "the .eml has a single subject: build it again with [delivery.subject_test] to test "
        "subjects"
    ) in mismatched.stderr
    no_test = run_digest(*SEND, plain_config, single, "--recipients", people, "--winner", "B")
    assert no_test.returncode == 2
    assert "--winner ends an A/B test: set [delivery.subject_test] first" in no_test.stderr


@QUICK
@given(st.lists(st.text(min_size=1, max_size=120), min_size=2, max_size=4))
def test_any_subjects_come_back_exactly_as_written(subjects: list[str]) -> None:
    subjects = [one_line(s) or "x" for s in subjects]
    raw = build_example_bytes()
    variants = subject_variants(with_subject_variants(raw, subjects))
    assert list(variants) == list("ABCD"[: len(subjects)])
    for subject, data in zip(subjects, variants.values(), strict=True):
        message = message_from_bytes(data, policy=policy.default)
        assert str(message["Subject"]) == subject
        assert max(len(line) for line in data.split(b"\r\n")) <= 998
        assert data.split(b"\r\n\r\n", 1)[1] == raw.split(b"\r\n\r\n", 1)[1]


@functools.cache
def build_example_bytes() -> bytes:
    return email_bytes(build_example("tangerangnews"))
