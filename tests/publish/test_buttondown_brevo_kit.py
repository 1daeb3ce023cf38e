"""``digest publish`` to Buttondown, Brevo and Kit, each against a stand-in of its documented API.

The stand-ins check every request against the tool's own API description (a request off it is
kept in ``problems``, which every test expects empty) and answer as the tool documents. The
edition is the TangerangNews example, built with a history as ``digest publish`` builds it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.errors import PublishError
from digest.publish.publishing import PublishResult, campaign_title, publish
from digest.schedule.history import History
from tests.helpers import run_command, run_digest
from tests.publish.editions import ON, example_config, loaded
from tests.publish.standin_api import CampaignApi
from tests.publish.tools import TOOLS, Tool

pytestmark = pytest.mark.parametrize("tool", list(TOOLS.values()), ids=str)

#: A headline that looks like every tool's merge tags.
HOSTILE = "Banjir *|UNSUB|* {{ unsubscribe_url }} [[ FNAME ]] {% raw %} di Tangerang"
#: The example's lead story's title, which the hostile one replaces.
LEAD = "COVID-19, Pemkot Tangerang & Akademisi Gali Cara Selamatkan UMKM"


def run(tool: Tool, api: CampaignApi, config: Path, **options: Any) -> PublishResult:
    """Publish the edition of ``config`` to the stand-in, its key in the environment given."""
    return publish(loaded(config), tool.name, ON, environ=tool.environ(api), **options)


def html_of(api: CampaignApi, campaign_id: str) -> str:
    """The HTML the stand-in holds for a campaign (none of the three takes a text part)."""
    campaign = api.campaigns[campaign_id]
    return str(campaign.get("body") or campaign.get("htmlContent") or campaign.get("content"))


def titles(api: CampaignApi) -> list[str]:
    """Where each tool keeps the campaign's marker: Brevo's name, Kit's description, Buttondown's
    metadata."""
    where = {"brevo": "name", "kit": "description"}
    return [
        str(c[where[api.tool]] if api.tool in where else c["metadata"]["digest_edition"])
        for c in api.campaigns.values()
    ]


def test_an_edition_is_published_once_then_updated_as_a_draft(tool: Tool, tmp_path: Path) -> None:
    tests = [] if tool.name == "kit" else ["redaksi@tangerangnews.example"]
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api))
        first = run(tool, api, config)
        second = run(tool, api, config, test_to=tests)
        assert api.problems == []
    assert first.action == "created" and second.action == "updated"
    assert first.campaign is not None and second.campaign is not None
    assert first.campaign.id == second.campaign.id and len(api.campaigns) == 1
    assert api.tests_sent == [(first.campaign.id, tests)] * bool(tests)
    html = html_of(api, first.campaign.id)
    for tag in tool.tags:  # the HTML the tool holds, and the text it would make from it
        assert tag in html and tag in second.merged.text, tag
    assert titles(api) == [campaign_title(first.edition)]
    assert [c["status"] for c in api.campaigns.values()] == ["draft"]
    with History(tmp_path / "tangerangnews" / "history.sqlite3") as history:
        (record,) = history.campaigns()
        assert (record.edition, record.tool, record.id, record.status) == (
            first.edition,
            tool.name,
            first.campaign.id,
            "draft",
        )


@pytest.mark.parametrize("state", ["sent", "scheduled"])
def test_a_sent_or_scheduled_campaign_is_left_alone(tool: Tool, tmp_path: Path, state: str) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api))
        first = run(tool, api, config)
        assert first.campaign is not None
        api.mark(first.campaign.id, tool.sent if state == "sent" else tool.scheduled)
        requests = len(api.requests)
        again = run(tool, api, config)
        writes = [r for r in api.requests[requests:] if r[0] != "GET"]
        assert api.problems == []
    assert again.action == "unchanged" and again.campaign is not None
    assert again.campaign.status == state and writes == []
    assert f"is {state}: left as it is" in again.describe()


def test_scheduling_a_draft_then_a_rerun_leaves_it_scheduled(tool: Tool, tmp_path: Path) -> None:
    at = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api))
        result = run(tool, api, config, schedule=at)
        assert result.campaign is not None and result.campaign.status == "scheduled"
        stored = api.campaigns[result.campaign.id]
        assert stored["status"] == tool.scheduled
        when = stored.get("publish_date") or stored.get("scheduledAt") or stored.get("send_at")
        assert datetime.fromisoformat(str(when).replace("Z", "+00:00")) == at
        again = run(tool, api, config)
        assert api.problems == []
    assert again.action == "unchanged" and result.scheduled == at


def test_merge_like_text_in_an_article_reaches_the_tool_escaped(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api), edit=f"{LEAD}=>{HOSTILE}")
        result = run(tool, api, config)
        assert api.problems == [] and result.campaign is not None
        html = html_of(api, result.campaign.id)
        stored = api.campaigns[result.campaign.id]
    for part in (html, result.merged.text, result.merged.subject, str(stored["subject"])):
        assert "*|UNSUB|* {{" not in part and "[[ FNAME" not in part and "{% raw" not in part
    assert "&#42;|UNSUB|* &#123;{ unsubscribe_url }} &#91;[ FNAME ]] &#123;% raw %}" in html
    text = "*\u2060|UNSUB|* {\u2060{ unsubscribe_url }} [\u2060[ FNAME ]] {\u2060% raw %}"
    assert text in result.merged.text
    for tag in tool.tags:  # the tool's own tags are all there still
        assert html.count(tag) == 1, tag


def test_a_lost_answer_after_creation_is_found_not_made_twice(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api))
        api.faults = [("POST", "drop")]
        result = run(tool, api, config)
        again = run(tool, api, config)
        assert api.problems == []
    assert len(api.campaigns) == 1 and result.action == "created" and again.action == "updated"
    assert result.campaign is not None and again.campaign is not None
    assert result.campaign.id == again.campaign.id


def test_a_creation_answered_500_is_not_made_again(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api))
        api.faults = [("POST", "taken-500")]
        first = run(tool, api, config)  # found at once by its marker
        second = run(tool, api, config)
        assert api.problems == []
    assert len(api.campaigns) == 1 and first.action == "created"
    assert second.action == "updated"


def test_a_lost_answer_found_on_the_next_run_when_the_tool_was_slow_to_list_it(
    tool: Tool, tmp_path: Path
) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api))
        # The answer is lost, and the look-up right after it fails too: the run stops.
        api.faults = [("POST", "drop"), ("GET", 503), ("GET", 503), ("GET", 503)]
        with pytest.raises(PublishError, match="503"):
            run(tool, api, config)
        assert len(api.campaigns) == 1  # made, though no run could tell yet
        again = run(tool, api, config)
        assert api.problems == []
    assert len(api.campaigns) == 1 and again.action == "updated"


def test_two_runs_at_once_make_one_campaign(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api))
        results: list[PublishResult] = []
        errors: list[BaseException] = []

        def one() -> None:
            try:
                results.append(run(tool, api, config))
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=one) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert api.problems == []
    assert errors == [] and len(api.campaigns) == 1
    assert sorted(r.action for r in results) == ["created", "updated"]


def test_a_campaign_deleted_in_the_tool_is_made_again(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api))
        first = run(tool, api, config)
        assert first.campaign is not None
        del api.campaigns[first.campaign.id]  # deleted by an editor: the tool answers 404
        again = run(tool, api, config)
        assert api.problems == []
    assert again.action == "created" and again.campaign is not None
    assert again.campaign.id != first.campaign.id and len(api.campaigns) == 1


def test_a_refused_key_is_one_line_naming_the_tool_without_the_key(
    tool: Tool, tmp_path: Path
) -> None:
    with tool.standin(key="the-right-key-1234") as api:
        config = example_config(tmp_path, tool.table(api))
        wrong = {tool.key_variable: "a-wrong-key-5678"}
        with pytest.raises(PublishError) as caught:
            publish(loaded(config), tool.name, ON, environ=wrong)
    message = str(caught.value)
    assert message.startswith(f"{tool.language.tool}: the API key was refused (401)")
    assert "\n" not in message and "5678" not in message and "1234" not in message
    assert api.campaigns == {}


def test_a_dry_run_calls_nobody_and_needs_no_key(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api))
        result = publish(loaded(config), tool.name, ON, dry_run=True, environ={})
        assert api.requests == [] and result.campaign is None
    for tag in tool.tags:
        assert tag in result.merged.html and tag in result.merged.text


def test_the_command_publishes_and_the_history_says_where_it_went(
    tool: Tool, tmp_path: Path
) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api))
        env = {"PATH": "/usr/bin:/bin", **tool.environ(api)}
        args = ("publish", "--config", config, "--to", tool.name, "--date", ON.isoformat())
        first = run_command(*args, env=env)  # the installed command, in its own process
        second = run_digest(*args, env=env)
        api.mark(next(iter(api.campaigns)), tool.sent)
        third = run_digest(*args, env=env)
        history = run_digest("history", "--config", config, env=env)
        refused = run_digest(*args, env={"PATH": "/usr/bin:/bin"})
        assert api.problems == []
    assert first.returncode == 0, first.stderr
    assert "created campaign" in first.stdout and "a draft for an editor" in first.stdout
    assert second.returncode == 0 and "updated draft" in second.stdout
    assert third.returncode == 0 and "is sent: left as it is" in third.stdout
    assert f"{tool.name}: " in history.stdout and "sent" in history.stdout
    assert refused.returncode == 9 and refused.stderr.count("\n") == 1
    assert f"set the environment variable {tool.key_variable}" in refused.stderr
    assert api.key not in first.stdout + first.stderr + second.stdout + history.stdout


def test_a_test_send_goes_through_the_tool_or_says_it_cannot(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api))
        if tool.name == "kit":  # Kit's API has no test send: the draft is made, the run says so
            with pytest.raises(PublishError, match="no test send; send a preview"):
                run(tool, api, config, test_to=["redaksi@tangerangnews.example"])
            again = run(tool, api, config)
            assert again.action == "updated" and api.tests_sent == []
        else:
            result = run(tool, api, config, test_to=["redaksi@tangerangnews.example"])
            assert result.campaign is not None
            assert api.tests_sent == [(result.campaign.id, ["redaksi@tangerangnews.example"])]
            assert "test sent to redaksi@tangerangnews.example" in result.describe()
        assert len(api.campaigns) == 1 and api.problems == []
