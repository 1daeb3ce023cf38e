"""The desk hands an approved edition to the list manager: its button, then the campaign's link.

The desk is served by uvicorn and talked to over HTTP with its session and CSRF token, as its
page does; the list manager is the Mailchimp stand-in, which checks every request.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from digest.schedule.desk import Desk
from digest.web.desk import DeskSession, make_desk
from tests.mailservers import free_port
from tests.publish.editions import ON, example_config, loaded
from tests.publish.tools_p1 import MAILCHIMP
from tests.web.served import Served


class DeskClient:
    """The desk's page, as far as the hand-off goes: state, approve, publish."""

    def __init__(self, served: Served, session: DeskSession) -> None:
        self.served = served
        session.session = "the-session"
        self.headers = {
            "Cookie": "digest_desk=the-session",
            "X-CSRF-Token": session.csrf,
            "Content-Type": "application/json",
        }

    def state(self) -> dict[str, Any]:
        status, body = self.served.request("/state", headers=self.headers)
        assert status == 200, body
        data: dict[str, Any] = json.loads(body)
        return data

    def post(self, path: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, body = self.served.request(path, json.dumps(data).encode(), self.headers)
        answer: dict[str, Any] = json.loads(body)
        return status, answer


@pytest.fixture
def desk_and_mailchimp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with MAILCHIMP.standin() as api:
        config = loaded(example_config(tmp_path, MAILCHIMP.table(api.url)))
        for name, value in MAILCHIMP.environ(api).items():
            monkeypatch.setenv(name, value)
        session = DeskSession()
        port = free_port()
        served = Served(make_desk(Desk(config, ON), session, port), port=port)
        try:
            yield DeskClient(served, session), api
        finally:
            served.stop()


def test_an_approved_edition_becomes_a_campaign_and_the_desk_links_to_it(
    desk_and_mailchimp: Any,
) -> None:
    desk, api = desk_and_mailchimp
    before = desk.state()["publish"]
    assert before["label"] == "Create campaign in Mailchimp" and before["approved"] is False
    assert before["campaign"] is None
    status, refused = desk.post("/publish", {})
    assert status == 400 and "approve the edition first" in refused["error"]
    assert api.requests == []
    assert desk.post("/approve", {"name": "Sari Editor"})[0] == 200
    assert desk.state()["publish"]["approved"] is True
    status, after = desk.post("/publish", {})
    assert status == 200, after
    assert after["said"].startswith("Mailchimp: TangerangNews 2025-09-16 #1: created campaign")
    campaign = after["publish"]["campaign"]
    assert campaign["status"] == "draft"
    assert campaign["url"] == "https://us6.admin.mailchimp.com/campaigns/edit?id=1001"
    assert campaign["url"] not in after["said"]  # the page links it beside the line
    assert after["publish"]["label"] == "Update draft in Mailchimp"
    again = desk.post("/publish", {})[1]
    assert "updated draft" in again["said"] and len(api.campaigns) == 1
    assert api.problems == []


def test_an_edition_changed_after_approval_is_not_published(desk_and_mailchimp: Any) -> None:
    desk, api = desk_and_mailchimp
    assert desk.post("/approve", {"name": "Sari Editor"})[0] == 200
    plan = desk.state()["plan"]
    status, _ = desk.post("/plan", {**plan, "subject": "Another subject"})
    assert status == 200
    assert desk.state()["publish"]["approved"] is False
    status, refused = desk.post("/publish", {})
    assert status == 400
    assert "the subject and the HTML part changed after Sari Editor" in refused["error"]
    assert api.requests == []


def test_the_page_has_the_button_and_the_link(desk_and_mailchimp: Any) -> None:
    desk, _ = desk_and_mailchimp
    status, page = desk.served.request("/", headers=desk.headers)
    assert status == 200
    assert b'id="publish"' in page and b'id="campaign"' in page
    status, script = desk.served.request("/static/desk.js")
    assert b"'/publish'" in script and b"handOff.label" in script
