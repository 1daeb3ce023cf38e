"""Buttondown, Brevo and Kit against their stand-ins: each call as the tool documents it.

Every stand-in checks each request against the tool's published API description
(``tests/fixtures/publish/``) and keeps what it refused in ``problems``: a test that ends
with problems has sent something the tool would refuse.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import ConfigError, PublishError
from digest.publish.base import LostAnswer
from tests.publish.editions import example_config, loaded
from tests.publish.tools import TOOLS, Tool, content

NAMES = list(TOOLS)


@pytest.fixture(params=NAMES)
def tool(request: pytest.FixtureRequest) -> Tool:
    return TOOLS[request.param]


def test_a_campaign_is_made_as_a_draft_with_the_edition_in_it(tool: Tool) -> None:
    with tool.standin() as api:
        publisher = tool.make(api)
        made = content(tool)
        campaign = publisher.create(made)
        assert campaign.status == "draft" and campaign.editable
        assert api.problems == []
        [stored] = api.created()
        assert stored["status"] == "draft"  # never Buttondown's default, about_to_send
        assert made.subject in str(stored)
        assert publisher.status(campaign.id) == campaign


def test_the_edition_reaches_the_tool_in_its_merge_tags(tool: Tool) -> None:
    with tool.standin() as api:
        tool.make(api).create(content(tool))
        [stored] = api.created()
        html = stored.get("body") or stored.get("htmlContent") or stored.get("content")
        assert tool.language.unsubscribe_url in html
        assert "https://riverside.example/unsubscribe" not in html
        assert api.problems == []


def test_a_draft_is_updated_in_place(tool: Tool) -> None:
    with tool.standin() as api:
        publisher = tool.make(api)
        campaign = publisher.create(content(tool))
        changed = content(tool)
        changed = type(changed)(**{**changed.__dict__, "subject": "A new subject"})
        updated = publisher.update(campaign, changed)
        assert updated.id == campaign.id and updated.status == "draft"
        [stored] = api.created()
        assert stored["subject"] == "A new subject"
        assert api.problems == []


def test_a_campaign_sent_in_the_tool_reads_as_sent(tool: Tool) -> None:
    sent = {"buttondown": "sent", "brevo": "sent", "kit": "completed"}[tool.name]
    with tool.standin() as api:
        publisher = tool.make(api)
        campaign = publisher.create(content(tool))
        api.mark(campaign.id, sent)
        now = publisher.status(campaign.id)
        assert now is not None and now.status == "sent" and not now.editable


def test_a_campaign_the_tool_no_longer_has_is_none(tool: Tool) -> None:
    with tool.standin() as api:
        assert tool.make(api).status("999999") is None


def test_a_draft_is_scheduled(tool: Tool) -> None:
    with tool.standin() as api:
        publisher = tool.make(api)
        campaign = publisher.create(content(tool))
        at = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
        scheduled = publisher.schedule(campaign, at)
        assert scheduled.status == "scheduled"
        again = publisher.status(campaign.id)
        assert again is not None and again.status == "scheduled"
        assert api.problems == []


@pytest.mark.parametrize("others", [0, 7])
def test_a_campaign_whose_answer_was_lost_is_found_by_its_marker(tool: Tool, others: int) -> None:
    with tool.standin() as api:
        publisher = tool.make(api)
        for number in range(others):  # older campaigns, so that finding it reads pages
            publisher.create(content(tool, marker=f"riverside-{number}"))
        api.faults.append(("POST", "drop"))
        with pytest.raises(LostAnswer, match="may have been taken"):
            publisher.create(content(tool))
        assert len(api.created()) == others + 1  # the tool made it; the answer never came
        found = publisher.find("riverside-48")
        assert found is not None and found.id == str(api.created()[-1]["id"])
        assert publisher.find("riverside-49") is None
        assert api.problems == []


def test_busy_answers_are_waited_out(tool: Tool) -> None:
    with tool.standin() as api:
        api.faults += [429, 429]
        campaign = tool.make(api).create(content(tool))
        assert campaign.status == "draft"
        assert len(api.created()) == 1
        assert [method for method, _, _ in api.requests] == ["POST"] * 3


def test_a_look_up_is_tried_again_after_a_server_error(tool: Tool) -> None:
    with tool.standin() as api:
        publisher = tool.make(api)
        campaign = publisher.create(content(tool))
        api.faults.append(503)
        assert publisher.status(campaign.id) == campaign


def test_a_refused_key_is_one_line_that_never_shows_the_key(tool: Tool) -> None:
    with tool.standin(key="the-right-key-1234") as api:
        publisher = tool.publisher(tool.make(api).settings, {tool.key_variable: "a-wrong-key-5678"})
        with pytest.raises(PublishError) as caught:
            publisher.create(content(tool))
    message = str(caught.value)
    assert message.startswith(f"{tool.language.tool}: the API key was refused (401)")
    assert "\n" not in message and "5678" not in message and "1234" not in message


def test_a_missing_key_names_its_variable(tool: Tool) -> None:
    with tool.standin() as api:
        publisher = tool.publisher(tool.make(api).settings, {})
        with pytest.raises(PublishError, match=f"set the environment variable {tool.key_variable}"):
            publisher.create(content(tool))
        assert api.requests == []


@pytest.mark.parametrize(
    ("name", "settings", "says"),
    [
        ("kit", {"email_template_id": 999}, "Email template not found"),
        ("brevo", {"list_ids": []}, "recipients.listIds is required"),
        ("buttondown", {}, "can no longer be edited. (status_invalid)"),
    ],
)
def test_a_refusal_says_the_tools_own_words(
    name: str, settings: dict[str, object], says: str
) -> None:
    tool = TOOLS[name]
    with tool.standin() as api:
        publisher = tool.make(api, **settings)
        with pytest.raises(PublishError) as caught:
            if name == "kit":
                publisher.create(content(tool))
            elif name == "brevo":
                campaign = publisher.create(content(tool))
                publisher.schedule(campaign, datetime(2026, 12, 7, 6, 0, tzinfo=UTC))
            else:
                campaign = publisher.create(content(tool))
                api.mark(campaign.id, "sent")
                publisher.update(campaign, content(tool))
    message = str(caught.value)
    assert message.startswith(f"{tool.language.tool}: ") and says in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["buttondown", "brevo"])
def test_a_test_send_reaches_the_addresses(name: str) -> None:
    tool = TOOLS[name]
    with tool.standin() as api:
        publisher = tool.make(api)
        campaign = publisher.create(content(tool))
        publisher.test_send(campaign, ["editor@riverside.example"])
        assert api.tests_sent == [(campaign.id, ["editor@riverside.example"])]
        assert api.problems == []


def test_kit_says_its_api_has_no_test_send() -> None:
    tool = TOOLS["kit"]
    with tool.standin() as api:
        publisher = tool.make(api)
        campaign = publisher.create(content(tool))
        with pytest.raises(PublishError, match=r"Kit: its API \(v4\) has no test send"):
            publisher.test_send(campaign, ["editor@riverside.example"])
        assert api.tests_sent == []


def test_kit_sends_to_segments_and_tags_as_one_filter_group() -> None:
    tool = TOOLS["kit"]
    with tool.standin() as api:
        tool.make(api, segment_ids=[18], tag_ids=[4, 5], match="any").create(content(tool))
        tool.make(api, segment_ids=[18]).create(content(tool))
        tool.make(api).create(content(tool))
        filters = [b["subscriber_filter"] for b in api.created()]
        assert filters[0] == [
            {
                "all": [],
                "any": [{"type": "segment", "ids": [18]}, {"type": "tag", "ids": [4, 5]}],
                "none": None,
            }
        ]
        assert filters[1] == [
            {"all": [{"type": "segment", "ids": [18]}], "any": None, "none": None}
        ]
        assert filters[2] == [{"all": [], "any": None, "none": None}]  # every subscriber
        assert api.problems == []


def test_buttondown_sends_to_tags_with_a_filter_and_in_its_naked_template() -> None:
    tool = TOOLS["buttondown"]
    with tool.standin() as api:
        tool.make(api, tag_ids=["tag_0a", "tag_0b"], archive=False).create(content(tool))
        [email] = api.created()
        assert email["filters"]["predicate"] == "or"
        assert [f["value"] for f in email["filters"]["filters"]] == ["tag_0a", "tag_0b"]
        assert email["template"] == "naked" and email["archival_mode"] == "disabled"
        assert email["body"].startswith("<!-- buttondown-editor-mode: fancy -->")
        assert email["metadata"]["digest_edition"] == "riverside-48"
        assert api.problems == []


def test_brevo_takes_its_sender_by_address_or_by_id() -> None:
    from pydantic import ValidationError

    from digest.settings import BrevoSettings

    tool = TOOLS["brevo"]
    with tool.standin() as api:
        tool.make(api, sender_email=None, sender_id=3).create(content(tool))
        [(_, _, body)] = api.requests
        assert body["sender"] == {"name": "The Riverside Weekly", "id": 3}
        assert api.problems == []
    with pytest.raises(ValidationError, match="sender_email or sender_id"):
        BrevoSettings()


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('[publish.buttondown]\ntemplate = "fancy"\n', "publish.buttondown.template"),
        ("[publish.buttondown]\ntag_ids = [1]\n", "publish.buttondown.tag_ids[0]"),
        ("[publish.brevo]\nlist_ids = [7]\n", "sender_email or sender_id: give one"),
        (
            '[publish.brevo]\nsender_email = "a@b.example"\nsender_id = 3\n',
            "sender_email or sender_id: give one",
        ),
        ('[publish.brevo]\nsender_email = "not an address"\n', "publish.brevo.sender_email"),
        ("[publish.kit]\nsegment_ids = [0]\n", "publish.kit.segment_ids[0]"),
        ('[publish.kit]\nmatch = "some"\n', "publish.kit.match"),
        ('[publish.kit]\napi_key = "kit_123"\n', "publish.kit.api_key"),
    ],
)
def test_a_bad_table_names_its_key(tmp_path: Path, table: str, says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)) as caught:
        loaded(example_config(tmp_path, table))
    assert "kit_123" not in str(caught.value)
