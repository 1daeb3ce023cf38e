"""Events keep what a report needs: the clicked URL and the message id of every provider's record.

Real payloads (django-anymail's tests, BSD 3-clause: tests/fixtures/webhooks) posted to the
real endpoints, signed as each provider signs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from digest.suppression import Event, SuppressionList
from digest.web import WebSettings, make_app
from digest.web.webhooks.base import MAX_URL, clicked_link

from ..web.sns import TOPIC, Sns
from ..web.test_webhooks import POSTMARK_AUTH, RESEND_SECRET, payload, resend_post


@pytest.fixture
def sns() -> Sns:
    return Sns()


@pytest.fixture
def web(tmp_path: Path, sns: Sns) -> WebSettings:
    return WebSettings(
        suppressions=tmp_path / "suppressions.sqlite3",
        sns_topics=frozenset({TOPIC}),
        postmark_password="pm-password",
        resend_secret=RESEND_SECRET,
        fetch=sns.fetch,
    )


@pytest.fixture
def client(web: WebSettings) -> Iterator[TestClient]:
    with TestClient(make_app(web)) as test_client:
        yield test_client


def stored(web: WebSettings) -> list[tuple[str, str, str, str, str]]:
    with sqlite3.connect(web.suppressions) as db:
        rows = db.execute("SELECT address, reason, message, url, edition FROM events ORDER BY id")
        return list(rows)


def ses_post(client: TestClient, sns: Sns, name: str) -> None:
    answer = client.post("/webhooks/ses", content=json.dumps(sns.notification(payload(name))))
    assert answer.status_code == 200, answer.text


def test_postmark_keeps_the_original_link_and_every_message_id(
    client: TestClient, web: WebSettings
) -> None:
    for name in ("postmark-click", "postmark-bounce", "postmark-open"):
        answer = client.post("/webhooks/postmark", json=payload(name), headers=POSTMARK_AUTH)
        assert answer.status_code == 200, answer.text
    rows = {reason: (message, url) for _, reason, message, url, _ in stored(web)}
    assert rows["clicked"] == (
        "f4830d10-9c35-4f0c-bca3-3d9b459821f8",
        "https://example.com/click/me",
    )
    assert rows["opened"][1] == ""
    bounce = payload("postmark-bounce")
    assert rows["hard-bounce"] == (bounce["MessageID"], "")


def test_resend_keeps_data_click_link(client: TestClient, web: WebSettings) -> None:
    assert resend_post(client, payload("resend-clicked")).status_code == 200
    assert resend_post(client, payload("resend-opened"), msg_id="msg_2").status_code == 200
    assert sorted(stored(web)) == [
        ("to@example.org", "clicked", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
         "https://example.com/test", ""),
        ("to@example.org", "opened", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "", ""),
    ]  # fmt: skip


def test_ses_keeps_click_link_and_the_bounce_message_id(
    client: TestClient, web: WebSettings, sns: Sns
) -> None:
    ses_post(client, sns, "ses-click")
    ses_post(client, sns, "ses-bounce")
    rows = {reason: (message, url) for _, reason, message, url, _ in stored(web)}
    click = payload("ses-click")
    assert rows["clicked"] == (click["mail"]["messageId"], click["click"]["link"])
    assert rows["hard-bounce"] == (payload("ses-bounce")["mail"]["messageId"], "")


def test_a_list_of_the_earlier_form_gets_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE events (id TEXT PRIMARY KEY, address TEXT NOT NULL, reason TEXT NOT NULL,"
            " source TEXT NOT NULL, at TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',"
            " message TEXT NOT NULL DEFAULT '', moment INTEGER NOT NULL DEFAULT 0,"
            " arrival INTEGER NOT NULL DEFAULT 0)"
        )
        db.execute("INSERT INTO events VALUES ('e1', 'a@example.org', 'opened', 'x', "
                   "'2026-12-01T00:00:00+00:00', '', 'm1', 1, 1)")  # fmt: skip
        db.execute("PRAGMA user_version = 1")
    with SuppressionList(path) as events:
        events.record(
            Event("b@example.org", "clicked", "x", "e2", edition="E #1", url="https://a/")
        )
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, edition, url FROM events ORDER BY id").fetchall()
    assert rows == [("e1", "", ""), ("e2", "E #1", "https://a/")]


@pytest.mark.parametrize(
    ("given_link", "kept"),
    [
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("  https://example.com/  ", "https://example.com/"),
        ("https://example.com/\r\nX: y", ""),
        ("x" * (MAX_URL + 1), ""),
        (42, ""),
        (None, ""),
    ],
)
def test_a_clicked_link_is_one_line_of_bounded_text(given_link: object, kept: str) -> None:
    assert clicked_link(given_link) == kept


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=600))
def test_any_link_in_a_postmark_click_is_kept_or_dropped_never_refused(link: str) -> None:
    web = WebSettings(suppressions=Path(":memory:"), postmark_password="pm-password")
    from digest.web.webhooks.postmark import PostmarkWebhook

    body = json.dumps({**payload("postmark-click"), "OriginalLink": link}).encode()
    (event,) = PostmarkWebhook().events(body, POSTMARK_AUTH, web)
    assert event.url == clicked_link(link)
    assert "\n" not in event.url and len(event.url) <= MAX_URL
