"""The desk's "Send proof" is ``digest send --to``: every subject of an A/B test, the same refusals.

Real parts: the desk served by uvicorn, an aiosmtpd inbox, the riverside example with a
subject test; the command runs through its entry point.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from digest.schedule.config import load_config
from digest.schedule.desk import Desk
from digest.web.desk import DeskSession, make_desk, proof_sender

from ..helpers import EXAMPLES, run_digest
from ..mailservers import Inbox, free_port, start_smtp
from .served import Served

ON = "2026-11-30"
SUBJECTS = '["A: {{ edition.lead.title }}", "B: {{ edition.lead.title }}"]'


def _desk(folder: Path, proof_to: str, subject_test: bool) -> Iterator[dict[str, Any]]:
    shutil.copytree(EXAMPLES / "riverside", folder)
    inbox = Inbox()
    controller, smtp_port = start_smtp(inbox)
    config = folder / "newsletter.toml"
    text = config.read_text().replace("history = false", 'history = "weekly.history.sqlite3"')
    text += (
        f'\n[delivery]\nprovider = "smtp"\n[delivery.smtp]\nhost = "127.0.0.1"\n'
        f'port = {smtp_port}\nsecurity = "none"\n'
        f"\n[desk]\nproof_to = [{proof_to}]\n"
    )
    if subject_test:
        text += f"\n[delivery.subject_test]\nsubjects = {SUBJECTS}\n"
    config.write_text(text)
    loaded = load_config(config)
    session = DeskSession()
    port = free_port()
    served = Served(
        make_desk(Desk(loaded, date(2026, 11, 30)), session, port, proof_sender(loaded)), port=port
    )
    try:
        yield {"config": config, "session": session, "served": served, "inbox": inbox}
    finally:
        served.stop()
        controller.stop()


@pytest.fixture
def ab_desk(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from _desk(tmp_path / "riverside", '"editor@riverside.example"', subject_test=True)


def post_proof(desk: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Open the desk's session from its link and press "Send proof"."""
    base, session = desk["served"].base, desk["session"]
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(f"{base}/?token={session.token}", timeout=10) as answer:
        assert answer.status == 200
    headers = {"Content-Type": "application/json", "X-CSRF-Token": session.csrf}
    request = urllib.request.Request(f"{base}/proof", data=b"{}", headers=headers)
    try:
        with opener.open(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def subjects(inbox: Inbox) -> list[str]:
    return sorted(
        str(message_from_bytes(raw, policy=policy.default)["Subject"])
        for _, _, raw in inbox.received
    )


def test_a_desk_proof_of_an_ab_edition_sends_every_subject(ab_desk: dict[str, Any]) -> None:
    status, answer = post_proof(ab_desk)
    assert status == 200, answer
    assert answer == {"sent": 1, "to": ["editor@riverside.example"]}
    received = subjects(ab_desk["inbox"])
    assert len(received) == 2, received
    assert received[0].startswith("[Proof A] A: ") and received[1].startswith("[Proof B] B: ")
    assert received[0].removeprefix("[Proof A] A: ") == received[1].removeprefix("[Proof B] B: ")
    for _, to, raw in ab_desk["inbox"].received:
        assert to == ["editor@riverside.example"]
        assert b"X-Digest-Subject-" not in raw.split(b"\r\n\r\n", 1)[0]


def test_the_desk_and_send_to_proof_the_same_subjects(ab_desk: dict[str, Any]) -> None:
    assert post_proof(ab_desk)[0] == 200
    from_desk = subjects(ab_desk["inbox"])
    ab_desk["inbox"].received.clear()
    config = ab_desk["config"]
    out = config.parent / "out"
    assert run_digest("build", "--config", config, "--date", ON, "--out", out, "-q").returncode == 0
    (eml,) = out.glob("*.eml")
    sent = run_digest("send", "--config", config, eml, "--to", "editor@riverside.example")
    assert sent.returncode == 0, sent.stderr
    assert (
        "Sent proofs of edition-2026-11-30.eml, subjects A, B, to 1 of 1 recipients" in sent.stdout
    )
    assert subjects(ab_desk["inbox"]) == from_desk


def test_a_refused_desk_proof_says_so(tmp_path: Path) -> None:
    for desk in _desk(tmp_path / "riverside", '"refused@riverside.example"', subject_test=False):
        status, answer = post_proof(desk)
        assert status == 400
        assert answer["error"].startswith("the proof to refused@riverside.example was refused: ")
        assert "550" in answer["error"]
        assert desk["inbox"].received == []


def test_a_desk_proof_of_one_subject_is_one_proof(tmp_path: Path) -> None:
    for desk in _desk(tmp_path / "riverside", '"editor@riverside.example"', subject_test=False):
        status, answer = post_proof(desk)
        assert (status, answer["sent"]) == (200, 1)
        (subject,) = subjects(desk["inbox"])
        assert subject.startswith("[Proof] ") and not subject.startswith("[Proof A]")
