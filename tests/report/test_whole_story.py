"""What an edition did, end to end: sent with click tracking, clicked, scanned, reported.

The edition goes through aiosmtpd with ``[tracking]`` on; readers follow links of their own
copies through the app, a link scanner fetches every link of one copy in the same second, a
Postmark click and a Resend open arrive through the real webhook endpoints (django-anymail's
payloads, BSD 3-clause, given the readers' addresses), and ``digest report --json`` counts
exactly that: per link, per story, the scanner apart.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from starlette.testclient import TestClient

from digest import load_config
from digest.mail.message import list_id
from digest.mail.tracking import LinkTokens
from digest.schedule.history import links_of
from digest.web import make_app
from digest.web.setup import settings_for

from ..helpers import run_digest
from ..mailservers import Inbox, start_smtp
from ..web.test_webhooks import POSTMARK_AUTH, RESEND_SECRET, payload, resend_post
from .test_report import reported, seed

SECRET = "a-secret-for-the-whole-story"
BASE = "https://news.tangerangnews.example"
ENV = {
    "DIGEST_UNSUBSCRIBE_SECRET": SECRET,
    "DIGEST_POSTMARK_WEBHOOK_PASSWORD": "pm-password",
    "DIGEST_RESEND_WEBHOOK_SECRET": RESEND_SECRET,
}
READERS = [f"r{n}@example.org" for n in range(6)]


def _tracked(inbox: Inbox) -> dict[str, list[str]]:
    """Each reader's tracked links, in the order of their copy."""
    links = {}
    for _, (address,), data in inbox.received:
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        html = message.get_body(("html",))
        assert html is not None
        links[address] = re.findall(rf'href="({BASE}/c/[^"]+)"', str(html.get_content()))
    return links


def test_tracked_clicks_a_scanner_and_webhooks_add_up_in_the_report(tmp_path: Path) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        config = seed(
            tmp_path,
            f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            f'\n[tracking]\nclicks = true\nbase_url = "{BASE}"\nscanner_seconds = 0\n',
        )
        built = run_digest("build", "--config", config, "--date", "2099-01-05", "--out", tmp_path)
        assert built.returncode == 0, built.stderr
        (eml,) = tmp_path.glob("*.eml")
        readers = tmp_path / "readers.txt"
        readers.write_text("\n".join(READERS) + "\n")
        sent = run_digest(
            "send", "--allow-placeholder-links", "--config", config, eml,
            "--recipients", readers, env=ENV,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
    finally:
        controller.stop()
    loaded = load_config(config)
    key = reported(config)["edition"]
    tokens = LinkTokens(SECRET, list_id(loaded.newsletter), BASE)
    tracked = _tracked(inbox)
    assert sorted(tracked) == READERS
    links = {link.index: link for link in links_of(loaded, key)}

    def link_of(url: str) -> int:
        click = tokens.read(url.rsplit("/", 1)[1])
        assert click is not None
        return click.index

    settings = settings_for(loaded, ENV)
    assert settings.tracking is not None
    moments = iter(range(int(time.time()), 10**10, 300))  # a reader's clicks minutes apart
    now = [float(next(moments))]
    settings = replace(settings, tracking=replace(settings.tracking, clock=lambda: now[0]))

    def of_kind(address: str, kind: str) -> str:
        return next(u for u in tracked[address] if links[link_of(u)].kind == kind)

    lead = of_kind("r0@example.org", "lead")
    with TestClient(make_app(settings), base_url=BASE) as client:

        def click(url: str) -> str:
            answer = client.get(url.removeprefix(BASE), follow_redirects=False)
            assert answer.status_code == 302, answer.text
            return str(answer.headers["location"])

        # r0 reads the lead twice; r1 the lead and the first teaser; r2 nothing.
        assert click(lead) == links[link_of(lead)].url
        for url in (lead, of_kind("r1@example.org", "lead")):
            now[0] = float(next(moments))
            click(url)
        teaser = of_kind("r1@example.org", "teaser")
        now[0] = float(next(moments))
        click(teaser)
        # A scanner fetches every link of r3's copy within the same second.
        now[0] = float(next(moments))
        for url in tracked["r3@example.org"]:
            click(url)
        # r4's click and r5's open come from the providers' webhooks.
        # (The payloads' own times are years old: they happen now, after the edition was sent.)
        when = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        postmark = payload("postmark-click") | {
            "Recipient": "r4@example.org", "OriginalLink": links[link_of(teaser)].url,
            "ReceivedAt": when,
        }  # fmt: skip
        answer = client.post("/webhooks/postmark", json=postmark, headers=POSTMARK_AUTH)
        assert answer.status_code == 200, answer.text
        opened = payload("resend-opened")
        opened["data"]["to"] = ["r5@example.org"]
        opened["created_at"] = when
        assert resend_post(client, opened).status_code == 200
    figures = reported(config)
    assert (figures["sent"], figures["clicks"], figures["total_clicks"]) == (6, 3, 5)
    assert figures["scanner_clicks"] == len(tracked["r3@example.org"])
    assert figures["opens"] == 1
    by_url = {link["url"]: (link["readers"], link["clicks"]) for link in figures["links"]}
    assert by_url[links[link_of(lead)].url] == (2, 3)
    assert by_url[links[link_of(teaser)].url] == (2, 2)
    by_story = {s["story"]: (s["kind"], s["readers"], s["clicks"]) for s in figures["stories"]}
    assert by_story[links[link_of(lead)].story] == ("lead", 2, 3)
    assert by_story[links[link_of(teaser)].story] == ("teaser", 2, 2)
    assert figures["unmatched_clicks"] == 0
