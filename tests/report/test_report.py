"""``digest report``: an edition built and sent, events recorded as they arrive, exact figures.

The provider payloads are django-anymail's (tests/fixtures/webhooks, BSD 3-clause), posted to
the real webhook endpoints with their recipient and message id set to one of the edition's.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from digest import load_config
from digest.delivery.ledger import SendLedger
from digest.link_map import EditionLink
from digest.report import COMPLAINT_LIMIT, report, stories, trend
from digest.report.forms import FIGURES
from digest.schedule.config import suppression_path
from digest.schedule.history import links_of
from digest.suppression import Event, SuppressionList, UnsubscribeTokens
from digest.web import WebSettings, make_app

from ..helpers import EXAMPLES, FIXTURES, run_digest
from ..mailservers import Inbox, ProviderApi, StandInApi, start_smtp
from ..suppression.test_reports_ours import Sent, good_reports, import_mail, sent  # noqa: F401

SEND = ("send", "--allow-placeholder-links", "--config")
POSTMARK_AUTH = {"authorization": "Basic " + base64.b64encode(b"postmark:pm-password").decode()}
TOKENS = UnsubscribeTokens("unsubscribe-secret-for-the-tests", "tangerangnews.example")


def seed(folder: Path, delivery: str) -> Path:
    """The tangerangnews example with a history, sending as ``delivery`` says."""
    shutil.copytree(EXAMPLES / "tangerangnews", folder / "seed")
    config = folder / "seed" / "newsletter.toml"
    text = config.read_text().replace("history = false", 'history = "weekly.history.sqlite3"')
    config.write_text(text + f"\n[delivery]\n{delivery}")
    return config


def build_and_send(config: Path, folder: Path, count: int, on: str = "2099-01-05") -> Path:
    out = folder / f"out-{on}"
    built = run_digest("build", "--config", config, "--date", on, "--out", out, "-q")
    assert built.returncode == 0, built.stderr
    (eml,) = out.glob("*.eml")
    readers = folder / "readers.txt"
    readers.write_text("".join(f"r{n:03}@example.org\n" for n in range(count)))
    answer = run_digest(*SEND, config, eml, "--recipients", readers)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    return eml


def reported(config: Path, *args: str) -> Any:
    answer = run_digest("report", "--config", config, "--json", *args)
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)


def story_links(config: Path, key: str) -> list[EditionLink]:
    return [link for link in links_of(load_config(config), key) if link.kind != "other"]


@pytest.fixture
def smtp_sent(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """An edition built and sent to 10 readers through aiosmtpd: its config and key."""
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed(tmp_path, f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\n'
                      'security = "none"\n')  # fmt: skip
        build_and_send(config, tmp_path, 10)
    finally:
        controller.stop()
    assert len(inbox.received) == 10
    yield config, reported(config)["edition"]


def test_an_edition_sent_over_smtp_then_clicked_scanned_and_unsubscribed(
    smtp_sent: tuple[Path, str],
) -> None:
    config, key = smtp_sent
    loaded = load_config(config)
    lead, second, *_ = story_links(config, key)
    teaser = next(link for link in story_links(config, key) if link.kind == "teaser")
    assert lead.kind == "lead" and second.story == lead.story  # the lead's picture or button
    clicks = [  # (reader, link): what click tracking records, with the edition and the URL
        ("r000", lead), ("r000", second), ("r000", lead), ("r001", lead), ("r002", teaser),
    ]  # fmt: skip
    with SuppressionList(suppression_path(loaded)) as events:
        for n, (reader, link) in enumerate(clicks):
            events.record(
                Event(f"{reader}@example.org", "clicked", "tracking", f"c{n}", edition=key,
                      url=link.url)
            )  # fmt: skip
        # A link scanner fetched every link of r003's copy within a second: counted apart.
        for n, link in enumerate(story_links(config, key)):
            events.record(
                Event("r003@example.org", "clicked", "tracking", f"s{n}", detail="scanner",
                      edition=key, url=link.url)
            )  # fmt: skip
        events.record(Event("r004@example.org", "opened", "tracking", "o1", edition=key))
    # An unsubscribe on our own page names no edition: it falls within this one's time.
    web = WebSettings(suppressions=suppression_path(loaded), tokens=TOKENS)
    with TestClient(make_app(web)) as client:
        token = TOKENS.token("r005@example.org")
        answer = client.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
        assert answer.status_code == 200
    figures = reported(config)
    counts = {name: figures[name] for name in FIGURES if name in figures}
    assert counts | {"edition": key} == counts
    assert {k: figures[k] for k in ("recipients", "sent", "refused", "delivered")} == {
        "recipients": 10, "sent": 10, "refused": 0, "delivered": 10,
    }  # fmt: skip
    assert (figures["clicks"], figures["total_clicks"], figures["scanner_clicks"]) == (
        3, 5, len(story_links(config, key)),
    )  # fmt: skip
    assert (figures["opens"], figures["unsubscribes"], figures["click_rate"]) == (1, 1, 0.3)
    by_story = {s["story"]: (s["readers"], s["clicks"]) for s in figures["stories"]}
    assert by_story[lead.story] == (2, 4)
    assert by_story[teaser.story] == (1, 1)
    assert sum(clicks for _, clicks in by_story.values()) == 5
    lead_story = next(s for s in figures["stories"] if s["kind"] == "lead")
    assert (lead_story["slot"], lead_story["click_through"]) == (0, 0.2)
    by_url = {
        link["url"]: (link["readers"], link["clicks"], link["index"]) for link in figures["links"]
    }
    assert by_url[lead.url] == (2, 3 if lead.url != second.url else 4, lead.index)
    assert figures["flags"] == [] and figures["unmatched_clicks"] == 0


def test_the_csv_parses_back_to_the_json(smtp_sent: tuple[Path, str]) -> None:
    config, key = smtp_sent
    with SuppressionList(suppression_path(load_config(config))) as events:
        link = story_links(config, key)[0]
        events.record(Event("r001@example.org", "clicked", "t", "c1", edition=key, url=link.url))
    figures = reported(config)
    answer = run_digest("report", "--config", config, "--csv")
    assert answer.returncode == 0, answer.stderr
    (row,) = csv.DictReader(io.StringIO(answer.stdout, newline=""))
    assert list(row) == list(FIGURES)
    for name in FIGURES:
        if name == "flags":
            assert row[name] == ""
        elif isinstance(figures[name], float):
            assert float(row[name]) == pytest.approx(figures[name])
        else:
            assert row[name] == str(figures[name])
    links = run_digest("report", "--config", config, "--csv", "--links")
    (clicked,) = csv.DictReader(io.StringIO(links.stdout, newline=""))
    assert (clicked["url"], clicked["clicks"], clicked["kind"]) == (link.url, "1", "lead")


def test_the_text_report_and_history_json(smtp_sent: tuple[Path, str]) -> None:
    config, key = smtp_sent
    text = run_digest("report", "--config", config)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"{key}: ")
    assert "  sent                  10" in text.stdout
    history = run_digest("history", "--config", config, "--json")
    assert history.returncode == 0, history.stderr
    (edition,) = json.loads(history.stdout)
    assert (edition["number"], edition["date"], edition["key"]) == (1, "2099-01-05", key)


@pytest.fixture
def postmark(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInApi]:
    monkeypatch.setenv("POSTMARK_SERVER_TOKEN", "test-key")
    with ProviderApi("postmark") as server:
        yield server


def record(kind: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / "webhooks" / f"postmark-{kind}.json").read_text())
    body.update(changes)
    return body


def test_postmark_events_through_the_webhook_tie_to_the_edition_by_message_id(
    postmark: StandInApi, tmp_path: Path
) -> None:
    config = seed(
        tmp_path,
        f'provider = "postmark"\nbackoff = 0\n[delivery.postmark]\nbase_url = "{postmark.url}"\n',
    )
    build_and_send(config, tmp_path, 40)
    loaded = load_config(config)
    key = reported(config)["edition"]
    ledger_file = loaded.beside_history(".sends.sqlite3")
    assert ledger_file is not None
    with SendLedger(ledger_file) as ledger:
        ids = {row.address: row.detail for row in ledger.rows(key)}
    lead, *_ = story_links(config, key)
    teaser = next(link for link in story_links(config, key) if link.kind == "teaser")
    now = datetime.now(UTC).isoformat()
    records = [
        record("click", Recipient="r000@example.org", MessageID=ids["r000@example.org"],
               OriginalLink=lead.url, ReceivedAt=now),
        record("click", Recipient="r001@example.org", MessageID=ids["r001@example.org"],
               OriginalLink=teaser.url, ReceivedAt=now),
        record("open", Recipient="r001@example.org", MessageID=ids["r001@example.org"],
               ReceivedAt=now),
        record("bounce", Email="r002@example.org", MessageID=ids["r002@example.org"], ID=1),
        record("spam-complaint", Email="r003@example.org", MessageID=ids["r003@example.org"],
               ID=2),
        # A click on a message of another sender's (not in the ledger) is not this edition's.
        record("click", ReceivedAt=now),
    ]  # fmt: skip
    web = WebSettings(suppressions=suppression_path(loaded), postmark_password="pm-password")
    with TestClient(make_app(web)) as client:
        for body in records:
            answer = client.post("/webhooks/postmark", json=body, headers=POSTMARK_AUTH)
            assert answer.status_code == 200, answer.text
    figures = reported(config, "1")
    assert (figures["sent"], figures["hard_bounces"], figures["delivered"]) == (40, 1, 39)
    assert (figures["complaints"], figures["opens"], figures["clicks"]) == (1, 1, 2)
    assert figures["complaint_rate"] == pytest.approx(1 / 39)
    assert figures["bounce_rate"] == pytest.approx(1 / 40)
    assert {flag["figure"] for flag in figures["flags"]} == {"complaint_rate", "bounce_rate"}
    assert figures["complaint_rate"] > COMPLAINT_LIMIT
    assert "0.3 %" in figures["flags"][0]["says"]
    by_story = {s["story"]: s["readers"] for s in figures["stories"]}
    assert (by_story[lead.story], by_story[teaser.story]) == (1, 1)


def test_a_second_edition_and_the_trend(smtp_sent: tuple[Path, str], tmp_path: Path) -> None:
    config, key = smtp_sent
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        text = config.read_text()
        config.write_text(text.replace("port = ", f"port = {port}  # ", 1))
        # A week later, new stories: the same articles at new addresses.
        data = config.with_name("edition.json")
        data.write_text(data.read_text().replace("/read/", "/read/week-2/"))
        build_and_send(config, tmp_path, 10, on="2099-01-12")
    finally:
        controller.stop()
    loaded = load_config(config)
    reports = trend(loaded, 5)
    assert [r.number for r in reports] == [2, 1]
    assert report(loaded).number == 2 and report(loaded, key).number == 1
    assert report(loaded, "2099-01-05").edition == key
    with SuppressionList(suppression_path(loaded)) as events:
        for n, link in enumerate(story_links(config, reports[0].edition)[:1]):
            events.record(
                Event("r000@example.org", "clicked", "t", f"x{n}", edition=reports[0].edition,
                      url=link.url)
            )  # fmt: skip
    groups = {(g.by, g.name): g for g in stories(loaded, 5)}
    lead = groups[("slot", "0")]
    assert (lead.stories, lead.delivered, lead.readers) == (2, 20, 1)
    assert lead.click_through == pytest.approx(0.05)
    # A section counts its teasers; the lead is slot 0 only.
    sections = sum(g.stories for (by, _), g in groups.items() if by == "section")
    teasers = sum(g.stories for (by, name), g in groups.items() if by == "slot" and name != "0")
    assert sections == teasers > 0
    answer = run_digest("report", "--config", config, "--editions", "2", "--csv")
    assert [row["number"] for row in csv.DictReader(io.StringIO(answer.stdout))] == ["2", "1"]
    shown = run_digest("report", "--config", config, "--stories", "--editions", "2")
    assert "lead (0)" in shown.stdout and "5.0 %" in shown.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("41",), "edition: '41' is no edition of the history"),
        (("--json", "--csv"), "--json and --csv: choose one"),
        (("--links",), "--links: only with --csv"),
        (("1", "--editions", "2"), "--editions and --stories read the last editions"),
    ],
)
def test_mistakes_are_named(smtp_sent: tuple[Path, str], args: tuple[str, ...], says: str) -> None:
    config, _ = smtp_sent
    answer = run_digest("report", "--config", config, *args)
    assert answer.returncode == 1 and says in answer.stderr


def test_a_config_without_history_is_refused(tmp_path: Path) -> None:
    answer = run_digest("report", "--config", EXAMPLES / "tangerangnews" / "newsletter.toml")
    assert answer.returncode != 0 and "history" in answer.stderr


@pytest.fixture(scope="module")
def built_only(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An edition built and never sent: its config and key."""
    folder = tmp_path_factory.mktemp("built")
    config = seed(folder, '[delivery.smtp]\nhost = "127.0.0.1"\nsecurity = "none"\n')
    built = run_digest("build", "--config", config, "--date", "2099-01-05", "--out", folder / "out")
    assert built.returncode == 0, built.stderr
    return config, reported(config)["edition"]


def test_an_edition_never_sent_reports_nothing_and_writes_nothing(
    built_only: tuple[Path, str],
) -> None:
    config, key = built_only
    loaded = load_config(config)
    listed = suppression_path(loaded).exists()  # the property test below may have made it
    figures = report(loaded)
    assert (figures.edition, figures.recipients, figures.sent, figures.delivered) == (key, 0, 0, 0)
    assert (figures.bounce_rate, figures.complaint_rate, figures.flags) == (0.0, 0.0, ())
    assert suppression_path(loaded).exists() == listed  # a report makes no suppression list
    assert next(s.kind for s in figures.stories) == "lead"


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.text(max_size=120) | st.sampled_from(["", "https://x.example/?a=1"]), max_size=6)
)
def test_any_clicked_urls_add_up(built_only: tuple[Path, str], urls: list[str]) -> None:
    config, key = built_only
    loaded = load_config(config)
    known = [link.url for link in links_of(loaded, key)]
    with SuppressionList(suppression_path(loaded)) as events:
        for url in [*urls, *known[:1]]:
            events.record(
                Event("r001@example.org", "clicked", "t", uuid.uuid4().hex, edition=key, url=url)
            )
    figures = report(loaded)
    assert sum(link.clicks for link in figures.links) == figures.total_clicks
    on_stories = sum(story.clicks for story in figures.stories)
    on_other = sum(
        link.clicks for link in figures.links if link.index is not None and not link.story
    )
    assert on_stories + on_other + figures.unmatched_clicks == figures.total_clicks
    assert figures.clicks == 1 and figures.scanner_clicks == 0


def test_bounces_and_complaints_read_from_mail_count_for_the_edition_they_name(
    sent: Sent,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    """Real DSN and ARF reports (sisimai's) returning our copies: their X-Digest-Edition."""
    config = sent.copy_to(tmp_path / "news")
    imported = import_mail(config, good_reports(sent, tmp_path / "reports"), secret=False)
    assert imported.returncode == 0, imported.stderr
    figures = reported(config, "12")
    # The reports are dated years before the send: only the edition they name ties them.
    assert (figures["sent"], figures["hard_bounces"], figures["soft_bounces"]) == (6, 2, 0)
    assert (figures["complaints"], figures["unsubscribes"], figures["delivered"]) == (1, 1, 4)
