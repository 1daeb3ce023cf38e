"""Past clicks feed the next edition: two editions sent and clicked, a third weighed by them.

The TangerangNews example (its sections not listed, so each category is a section of its
own and sections of one size are a tie) is built with a history, sent through a local SMTP
server (aiosmtpd) with ``[tracking]`` on, and readers follow their own copies' ``/c/`` links
through the web app, which records each click. The third edition is built as it is (off by
default: the order of today) and again with ``weigh_by = "clicks"``, which puts the tied
sections in the order of their click-through, the same figures ``digest report --stories``
prints; the editor's featured lead stays the lead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from digest.delivery.eml import read_eml, send_eml
from digest.delivery.ledger import SendLedger
from digest.delivery.smtp import SmtpSender
from digest.errors import ConfigError
from digest.link_map import EditionLink
from digest.mail.message import list_id
from digest.report import stories
from digest.schedule.clicks import past_click_through
from digest.schedule.config import BuildConfig, load_config
from digest.schedule.history import History, links_of
from digest.suppression import UnsubscribeTokens
from digest.web.app import make_app
from digest.web.setup import settings_for

from ..delivery.test_due import seed_sending_to
from ..helpers import EXAMPLES, run_digest
from ..mailservers import Inbox, start_smtp

SECRET = "a-secret-for-the-weighing-tests"
BASE = "https://news.tangerangnews.example"
HOST = "https://tangerangnews.example"
ENV = {"DIGEST_UNSUBSCRIBE_SECRET": SECRET}
READERS = [f"r{n}@example.org" for n in range(10)]
DATES = ["2099-01-05", "2099-01-12", "2099-01-19"]
#: Who follows which section's teaser, in each of the first two editions.
CLICKS = [
    {"PROPERTI": READERS[:4], "OPINI": READERS[4:5]},
    {"PROPERTI": READERS[:2], "OPINI": READERS[5:6]},
]
TRACKING = f'\n[tracking]\nclicks = true\nbase_url = "{BASE}"\nscanner_seconds = 0\n'


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    yield inbox, port
    controller.stop()


def _config(folder: Path, port: int) -> Path:
    config = seed_sending_to(folder, port)
    text = config.read_text().replace("history = false", 'history = "history.sqlite"')
    text = text.replace(
        f'unsubscribe_url = "{HOST}/newsletter/berhenti"',
        f'unsubscribe_url = "{HOST}/unsubscribe/{{token}}"',
    )
    # Each category a section of its own, in the order of their size, then their name.
    text = text.replace('sections = ["BANTEN", "OPINI", "PROPERTI"]\n', "")
    config.write_text(text + TRACKING)
    return config


def _week(config: Path, n: int) -> None:
    """The example's stories at new addresses: what was featured before is not repeated."""
    data = config.with_name("edition.json")
    original = (EXAMPLES / "tangerangnews" / "edition.json").read_text()
    data.write_text(original.replace("/read/", f"/read/week-{n}/"))


def _build(config: Path, on: str, *more: str) -> tuple[Path, list[str]]:
    out = config.parent / f"out-{on}"
    built = run_digest(
        "build", "--config", config, "--date", on, "--out", out, "--explain", "-q", *more
    )
    assert built.returncode == 0, built.stderr
    (eml,) = out.glob("*.eml")
    return eml, built.stdout.splitlines()


def _send(config: BuildConfig, eml: Path) -> None:
    assert config.delivery is not None and config.delivery.smtp is not None
    ledger_path = config.beside_history(".sends.sqlite3")
    assert ledger_path is not None
    sender = SmtpSender(config.delivery.smtp, config.delivery)
    newsletter = config.newsletter
    with SendLedger(ledger_path) as ledger:
        report = send_eml(
            read_eml(eml),
            READERS,
            sender,
            ledger,
            tokens=UnsubscribeTokens(SECRET, list_id(newsletter)),
            clicks=config.tracking.tokens(list_id(newsletter), ENV),
        )
    sender.close()
    assert report.sent == len(READERS)


def _tracked(inbox: Inbox) -> dict[str, list[str]]:
    """Each reader's tracked links, from the HTML part of the copy they received last."""
    found: dict[str, list[str]] = {}
    for _, (address,), data in inbox.received:
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(("html",))
        assert part is not None
        found[address] = re.findall(rf'href="({BASE}/c/[^"]+)"', str(part.get_content()))
    return found


def _click(config: BuildConfig, key: str, inbox: Inbox, who: dict[str, list[str]]) -> None:
    """Each reader named follows their own copy's link to their section's teaser."""
    settings = settings_for(config, ENV)
    assert settings.tracking is not None
    tokens = settings.tracking.tokens
    links: dict[int, EditionLink] = {link.index: link for link in links_of(config, key)}
    # Clicks minutes apart (the app's clock): readers, never a scanner's burst.
    moments = iter(range(int(time.time()), 10**10, 300))
    reading = replace(settings.tracking, clock=lambda: float(next(moments)))
    copies = _tracked(inbox)
    with TestClient(make_app(replace(settings, tracking=reading))) as client:
        for section, readers in who.items():
            for address in readers:
                url = next(
                    url
                    for url in copies[address]
                    if (click := tokens.read(url.rsplit("/", 1)[1])) is not None
                    and links[click.index].kind == "teaser"
                    and links[click.index].section == section
                )
                answer = client.get(url.replace(BASE, ""), follow_redirects=False)
                assert answer.status_code == 302, answer.text


def _order(lines: list[str]) -> list[str]:
    """Where each story went, as ``digest build --explain`` prints it (lead, then sections)."""
    return [line.split(":", 1)[0] for line in lines if not line.startswith("left out")]


def test_a_third_edition_orders_its_tied_sections_by_past_click_through(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    path = _config(tmp_path, port)
    for n, (on, who) in enumerate(zip(DATES[:2], CLICKS, strict=True), start=1):
        _week(path, n)
        eml, _ = _build(path, on)
        config = load_config(path)
        inbox.received.clear()
        _send(config, eml)
        key = f"{config.newsletter.name} {on} #{n}"
        _click(config, key, inbox, who)
    _week(path, 3)
    # Off by default: the order of today, sections of one size by their names.
    _, today = _build(path, DATES[2])
    assert _order(today) == ["lead", "BANTEN, 1", "OPINI, 1", "PROPERTI, 1"]
    assert not any("clicks" in line for line in today)
    lead = today[0]
    # Weighed by clicks: PROPERTI (6 of 20 readers), OPINI (2 of 20), BANTEN (none).
    text = path.read_text()
    path.write_text(
        text.replace("[newsletter.layout]\n", '[newsletter.layout]\nweigh_by = "clicks"\n')
    )
    _, weighed = _build(path, DATES[2])
    assert _order(weighed) == ["lead", "PROPERTI, 1", "OPINI, 1", "BANTEN, 1"]
    assert weighed[0] == lead  # the editor's featured lead stays the lead
    says = "a tie broken by past clicks ({} click-through over 2 editions); without them: {}"
    assert weighed[1].endswith(says.format("PROPERTI 30.0 %", "its section would come 3rd") + ")")
    assert "clicks" not in weighed[2]  # OPINI comes second either way
    assert weighed[3].endswith(says.format("BANTEN 0.0 %", "its section would come 1st") + ")")
    # The figures are the report's own: digest report --stories over the same two editions
    # (and the third, built and not sent: it reached no reader and weighs nothing).
    config = load_config(path)
    groups = {g.name: g.click_through for g in stories(config, 3) if g.by == "section"}
    assert groups == pytest.approx({"BANTEN": 0.0, "OPINI": 0.1, "PROPERTI": 0.3})
    with History(path.with_name("history.sqlite")) as history:
        weights = past_click_through(config, history, date(2099, 1, 19))
    assert weights is not None and weights.editions == 2
    assert dict(weights.sections) == pytest.approx(groups)
    shown = run_digest("report", "--config", path, "--stories", "--editions", "3")
    assert "PROPERTI" in shown.stdout and "30.0 %" in shown.stdout


def test_weighing_by_clicks_needs_a_history(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    example = EXAMPLES / "tangerangnews"
    text = (example / "newsletter.toml").read_text()
    config.write_text(
        text.replace('data = "edition.json"', f'data = "{example / "edition.json"}"').replace(
            "[newsletter.layout]\n", '[newsletter.layout]\nweigh_by = "clicks"\n'
        )
    )
    built = run_digest("build", "--config", config, "--date", "2025-09-16", "--out", tmp_path)
    assert built.returncode == 1
    assert "newsletter.layout.weigh_by: 'clicks' reads past editions' clicks" in built.stderr
    with pytest.raises(ConfigError, match="history = false"):
        past_click_through(load_config(config), None, date(2025, 9, 16))
