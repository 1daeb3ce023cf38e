"""``digest publish`` to Mailchimp and listmonk, each against a stand-in of its documented API.

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

from digest.errors import CheckError, ConfigError, PublishError, UsageError
from digest.publish.publishing import PublishResult, campaign_title, publish
from digest.schedule.history import History
from tests.helpers import ROOT, run_digest
from tests.publish.editions import ON, example_config, loaded
from tests.publish.standin_api import CampaignApi
from tests.publish.tools_p1 import LISTMONK, MAILCHIMP, TOOLS, Tool

pytestmark = pytest.mark.parametrize("tool", TOOLS, ids=str)

#: A headline that looks like every tool's merge tags.
HOSTILE = "Banjir *|UNSUB|* {{ UnsubscribeURL }} [[ FNAME ]] {% raw %} di Tangerang"
#: The example's lead story's title, which the hostile one replaces.
LEAD = "COVID-19, Pemkot Tangerang & Akademisi Gali Cara Selamatkan UMKM"


def run(tool: Tool, api: CampaignApi, config: Path, **options: Any) -> PublishResult:
    """Publish the edition of ``config`` to the stand-in, its key in the environment given."""
    return publish(loaded(config), tool.name, ON, environ=tool.environ(api), **options)


def html_of(tool: Tool, api: CampaignApi, campaign_id: str) -> tuple[str, str]:
    """The HTML and text the stand-in holds for a campaign."""
    if tool is MAILCHIMP:
        content = api.contents[campaign_id]  # type: ignore[attr-defined]
        return content["html"], content["plain_text"]
    campaign = api.campaigns[campaign_id]
    return campaign["body"], campaign["altbody"]


def test_an_edition_is_published_once_then_updated_as_a_draft(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        first = run(tool, api, config)
        second = run(tool, api, config, test_to=["redaksi@tangerangnews.example"])
        assert api.problems == []
    assert first.action == "created" and second.action == "updated"
    assert first.campaign is not None and second.campaign is not None
    assert first.campaign.id == second.campaign.id and len(api.campaigns) == 1
    assert api.tests_sent == [(first.campaign.id, ["redaksi@tangerangnews.example"])]
    html, text = html_of(tool, api, first.campaign.id)
    for tag in tool.tags:
        assert tag in html and tag in text, tag
    title = campaign_title(first.edition)
    assert first.edition == "TangerangNews 2025-09-16 #1"
    names = [c.get("name") or c["settings"]["title"] for c in api.campaigns.values()]
    assert names == [title]
    with History(tmp_path / "tangerangnews" / "history.sqlite3") as history:
        (record,) = history.campaigns()
        assert (record.edition, record.tool, record.id, record.status) == (
            first.edition,
            tool.name,
            first.campaign.id,
            "draft",
        )
        assert history.get(ON) is not None  # the edition is in the history, as a build's


def test_a_sent_campaign_is_left_alone_and_the_run_says_so(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        first = run(tool, api, config)
        assert first.campaign is not None
        api.mark(first.campaign.id, tool.sent)
        requests = len(api.requests)
        again = run(tool, api, config, test_to=["redaksi@tangerangnews.example"])
        writes = [r for r in api.requests[requests:] if r[0] != "GET"]
        assert api.problems == []
    assert again.action == "unchanged" and again.campaign is not None
    assert again.campaign.status == "sent" and writes == [] and api.tests_sent == []
    assert "is sent: left as it is" in again.describe()


def test_scheduling_a_draft_then_a_rerun_leaves_it_scheduled(tool: Tool, tmp_path: Path) -> None:
    at = (datetime.now(UTC) + timedelta(days=2)).replace(minute=7, second=0, microsecond=0)
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        result = run(tool, api, config, schedule=at)
        assert result.campaign is not None and result.campaign.status == "scheduled"
        assert api.campaigns[result.campaign.id]["status"] == tool.scheduled
        again = run(tool, api, config)
        assert api.problems == []
    assert again.action == "unchanged" and result.scheduled == at
    if tool is MAILCHIMP:  # moved on to the quarter-hour, as Mailchimp wants
        assert api.schedules[result.campaign.id].endswith(":15:00Z")  # type: ignore[attr-defined]


def test_merge_like_text_in_an_article_reaches_the_tool_escaped(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url), edit=f"{LEAD}=>{HOSTILE}")
        result = run(tool, api, config)
        assert api.problems == [] and result.campaign is not None
        html, text = html_of(tool, api, result.campaign.id)
        subject = result.merged.subject
    for part in (html, text, subject):
        # The only tags are the tool's own: none of the headline's survives as a tag.
        assert "*|UNSUB|* {{" not in part and "[[ FNAME" not in part and "{% raw" not in part
    assert "&#42;|UNSUB|* &#123;{ UnsubscribeURL }} &#91;[ FNAME ]] &#123;% raw %}" in html
    assert "*\u2060|UNSUB|* {\u2060{ UnsubscribeURL }} [\u2060[ FNAME ]] {\u2060% raw %}" in text
    # The tool's own unsubscribe tags are all there still, as many as in a plain edition.
    for tag in tool.tags:
        assert tag in html and tag in text


def test_two_runs_at_once_make_one_campaign(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
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


def test_a_lost_answer_after_creation_is_found_not_made_twice(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        api.faults = [("POST", "drop")]
        result = run(tool, api, config)
        again = run(tool, api, config)
        assert api.problems == []
    assert len(api.campaigns) == 1 and result.action == "created" and again.action == "updated"
    assert result.campaign is not None and again.campaign is not None
    assert result.campaign.id == again.campaign.id


def test_a_5xx_to_the_creation_is_not_sent_again_and_the_next_run_finds_it(
    tool: Tool, tmp_path: Path
) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        api.faults = [("POST", "taken-500")]
        first = run(tool, api, config)  # found at once by its title
        assert len(api.campaigns) == 1 and first.action == "created"
        assert api.problems == []


def test_a_5xx_to_a_read_or_a_put_is_asked_again(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        run(tool, api, config)
        api.faults = [("GET", 503), ("PUT", 500)]  # nothing taken: safe to ask again
        again = run(tool, api, config)
        assert again.action == "updated" and len(api.campaigns) == 1
        assert api.faults == [] and api.problems == []


def test_a_429_after_the_last_retry_is_one_line_and_nothing_made(
    tool: Tool, tmp_path: Path
) -> None:
    table = tool.table("URL").replace("backoff = 0", "backoff = 0\nretries = 1")
    with tool.standin() as api:
        config = example_config(tmp_path, table.replace("URL", api.url))
        api.faults = [429, 429, 429]
        with pytest.raises(PublishError, match=r"429 .*\(after 2 tries\)"):
            run(tool, api, config)
        assert api.campaigns == {}


def test_a_429_is_waited_out_and_the_request_made_again(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        api.faults = [429, 429]
        result = run(tool, api, config)
        assert result.action == "created" and len(api.campaigns) == 1
        assert api.problems == []


def test_a_refused_key_is_one_line_naming_the_tool_without_the_key(
    tool: Tool, tmp_path: Path
) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        wrong = {name: value + "-wrong" for name, value in tool.environ(api).items()}
        with pytest.raises(PublishError) as caught:
            publish(loaded(config), tool.name, ON, environ=wrong)
    message = str(caught.value)
    assert message.startswith(("Mailchimp: the API key was refused", "listmonk: the API key"))
    assert "\n" not in message and all(value not in message for value in wrong.values())
    assert api.campaigns == {}
    with History(tmp_path / "tangerangnews" / "history.sqlite3") as history:
        assert history.campaigns() == []  # the claim was dropped: the next run tries again


def test_a_missing_key_names_its_variable(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        with pytest.raises(PublishError, match="set the environment variable"):
            publish(loaded(config), tool.name, ON, environ={})
        assert api.requests == []


def test_a_campaign_deleted_in_the_tool_is_made_again(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        first = run(tool, api, config)
        assert first.campaign is not None
        del api.campaigns[first.campaign.id]  # deleted by an editor: the tool answers 404
        again = run(tool, api, config)
        assert api.problems == []
    assert again.action == "created" and again.campaign is not None
    assert again.campaign.id != first.campaign.id and len(api.campaigns) == 1


def test_a_refusal_of_the_tool_is_its_own_message(tool: Tool, tmp_path: Path) -> None:
    table = tool.table("URL").replace('"a1b2c3d4e5"', '"nosuchlist"').replace("[1, 2]", "[7]")
    with tool.standin() as api:
        config = example_config(tmp_path, table.replace("URL", api.url))
        with pytest.raises(PublishError) as caught:
            run(tool, api, config)
    assert str(caught.value).startswith(f"{'Mailchimp' if tool is MAILCHIMP else 'listmonk'}: ")
    assert "400" in str(caught.value) and ("list" in str(caught.value))
    api.problems.clear()  # the refusal was the point


def test_without_a_history_the_title_still_makes_one_campaign(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        config.write_text(
            config.read_text(encoding="utf-8").replace(
                'history = "history.sqlite3"', "history = false"
            ),
            encoding="utf-8",
        )
        first = run(tool, api, config)
        second = run(tool, api, config)
        assert api.problems == []
    assert (first.action, second.action) == ("created", "updated") and len(api.campaigns) == 1


def test_a_dry_run_calls_nobody_and_needs_no_key(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        result = publish(loaded(config), tool.name, ON, dry_run=True, environ={})
        shown = run_digest(
            "publish", "--config", config, "--to", tool.name, "--date", ON.isoformat(), "--dry-run"
        )
        assert api.requests == [] and result.campaign is None
    assert all(tag in result.merged.html for tag in tool.tags)
    assert shown.returncode == 0 and "dry run, nothing sent; its tags: " in shown.stdout
    assert all(tag in shown.stdout for tag in tool.tags)


def test_a_footer_without_the_unsubscribe_link_is_refused_before_any_request(
    tool: Tool, tmp_path: Path
) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        # A design of one's own whose footer forgot the unsubscribe link.
        templates = config.parent / "templates"
        templates.mkdir()
        source = (ROOT / "templates" / "blocks.mjml.j2").read_text(encoding="utf-8")
        link = '{% if unsubscribe %} <a href="{{ unsubscribe }}" style="{{ link }}">'
        assert link in source
        source = source.replace(link, '{% if false %} <a href="{{ unsubscribe }}">', 1)
        (templates / "blocks.mjml.j2").write_text(source, encoding="utf-8")
        text = config.read_text(encoding="utf-8").replace(
            'history = "history.sqlite3"', 'history = "history.sqlite3"\ntemplates = "templates"'
        )
        config.write_text(text, encoding="utf-8")
        with pytest.raises(CheckError, match="unsubscribe"):
            run(tool, api, config)
        assert api.requests == []


def test_a_schedule_in_the_past_or_without_a_zone_is_refused(tool: Tool, tmp_path: Path) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        with pytest.raises(UsageError, match="has passed"):
            run(tool, api, config, schedule=datetime(2020, 1, 1, tzinfo=UTC))
        with pytest.raises(UsageError, match="time zone"):
            run(tool, api, config, schedule=datetime(2030, 1, 1))
        assert api.requests == []


def test_a_config_without_the_table_says_which(tool: Tool, tmp_path: Path) -> None:
    config = example_config(tmp_path, "")
    with pytest.raises(ConfigError, match=rf"publish.{tool.name}: the config has no"):
        publish(loaded(config), tool.name, ON, environ={})


def test_the_command_publishes_and_the_history_says_where_it_went(
    tool: Tool, tmp_path: Path
) -> None:
    with tool.standin() as api:
        config = example_config(tmp_path, tool.table(api.url))
        env = {"PATH": "/usr/bin:/bin", **tool.environ(api)}
        args = ("publish", "--config", config, "--to", tool.name, "--date", ON.isoformat())
        first = run_digest(*args, env=env)
        second = run_digest(*args, env=env)
        api.mark(next(iter(api.campaigns)), tool.sent)
        third = run_digest(*args, env=env)
        history = run_digest("history", "--config", config, env=env)
        refused = run_digest(*args, env={"PATH": "/usr/bin:/bin"})
        assert api.problems == []
    assert first.returncode == 0, first.stderr
    assert "created campaign" in first.stdout and "a draft for an editor" in first.stdout
    assert second.returncode == 0 and "updated draft" in second.stdout
    assert third.returncode == 0 and "left as it is" in third.stdout
    assert f"{tool.name}: " in history.stdout and "sent" in history.stdout
    assert refused.returncode == 9 and refused.stderr.count("\n") == 1
    assert "set the environment variable" in refused.stderr


def test_the_command_refuses_an_unknown_tool_and_a_bad_time(tool: Tool, tmp_path: Path) -> None:
    config = example_config(tmp_path, "")
    unknown = run_digest("publish", "--config", config, "--to", "mailman")
    bad = run_digest("publish", "--config", config, "--to", tool.name, "--schedule", "soon")
    naive = run_digest(
        "publish", "--config", config, "--to", tool.name, "--schedule", "2030-01-01T07:00"
    )
    assert unknown.returncode == 2 and "not a list manager digest knows" in unknown.stderr
    assert bad.returncode == 2 and "not an ISO 8601 time" in bad.stderr
    assert naive.returncode == 2 and "time zone" in naive.stderr


def test_listmonk_and_mailchimp_differ_only_in_their_tags(tool: Tool, tmp_path: Path) -> None:
    other = LISTMONK if tool is MAILCHIMP else MAILCHIMP
    tables = tool.table("https://x.example") + other.table("https://y.example")
    config = example_config(tmp_path, tables)
    mine = publish(loaded(config), tool.name, ON, dry_run=True, environ={}).merged
    theirs = publish(loaded(config), other.name, ON, dry_run=True, environ={}).merged
    assert mine.subject == theirs.subject
    assert not any(tag in mine.html for tag in other.tags)
