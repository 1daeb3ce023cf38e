"""Sign-up: ``digest serve --form`` prints a form a page can embed; ``POST /subscribe`` mails
a confirmation link through the configured SMTP server (aiosmtpd here), DKIM-signed; the
reader who follows it and presses the button is subscribed, with the consent record.

Through the real app under uvicorn, configured from a config file as ``digest serve`` is.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.readers import ReaderStore
from digest.readers.confirm import ConfirmTokens
from digest.schedule.config import load_config
from digest.suppression.events import Event
from digest.web import make_app, settings_for
from digest.web.signup import PER_IP, SOURCE
from digest.web.signup_form import HONEYPOT

from ..helpers import EXAMPLES, run_digest
from ..mailservers import DkimKey, Inbox, start_smtp
from .served import Served

SECRET = "the-confirmation-secret-of-the-riverside"
ENV = {"DIGEST_UNSUBSCRIBE_SECRET": SECRET}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


class _Form(HTMLParser):
    """The tags of a printed form, with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.mark.parametrize(
    ("example", "action"),
    [
        ("riverside", "https://riverside.example/subscribe"),
        ("tangerangnews", "https://tangerangnews.example/subscribe"),
        ("own-design", "https://riverside.example/subscribe"),
    ],
)
def test_serve_form_prints_an_embeddable_form(example: str, action: str) -> None:
    result = run_digest("serve", "--config", EXAMPLES / example / "newsletter.toml", "--form")
    assert result.returncode == 0, result.stderr
    parser = _Form()
    parser.feed(result.stdout)
    tags = parser.tags
    form = [attrs for tag, attrs in tags if tag == "form"]
    assert form == [{"class": "digest-signup", "method": "post", "action": action}]
    inputs = {attrs["name"]: attrs for tag, attrs in tags if tag == "input"}
    assert inputs["address"]["type"] == "email"
    assert inputs["address"]["autocomplete"] == "email"
    assert "required" in inputs["address"]
    assert inputs["website"]["tabindex"] == "-1"
    hidden = [attrs for tag, attrs in tags if tag == "div"]
    assert hidden and hidden[0]["aria-hidden"] == "true" and "hidden" in hidden[0]
    labels = {attrs["for"] for tag, attrs in tags if tag == "label"}
    assert labels == {f"digest-{name}" for name in inputs}
    assert result.stdout.count("<button") == 1


def test_serve_form_with_a_missing_config_fails(tmp_path: Path) -> None:
    result = run_digest("serve", "--config", tmp_path / "missing.toml", "--form")
    assert result.returncode != 0
    assert "missing.toml" in result.stderr


def config_for(folder: Path, port: int, key: DkimKey | None, keep_ip: bool = False) -> Path:
    """The Riverside example sending through the SMTP server on ``port`` (signing with ``key``)."""
    text = (EXAMPLES / "riverside" / "newsletter.toml").read_text()
    text = text.replace('data = "articles.json"', f'data = "{EXAMPLES}/riverside/articles.json"')
    text = text.replace('assets = "images"', "")
    text += (
        f'\n[suppression]\npath = "{folder}/readers.sqlite3"\n'
        f'\n[readers]\nkeep_ip = {str(keep_ip).lower()}\nwording = "2026-12 form"\n'
        f'\n[delivery]\nprovider = "smtp"\n'
        f'\n[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
    )
    if key is not None:
        text += (
            f'\n[delivery.smtp.dkim]\nselector = "{key.selector}"\ndomain = "{key.domain}"\n'
            f'key_file = "{key.path.name}"\n'
        )
    (folder / "newsletter.toml").write_text(text)
    return folder / "newsletter.toml"


class SignUpWorld:
    """An SMTP inbox, the app configured to send through it, and the reader store."""

    def __init__(
        self, folder: Path, signing: bool = True, keep_ip: bool = False, per_address: int = 1
    ) -> None:
        self.key = DkimKey(folder, domain="riverside.example") if signing else None
        self.inbox = Inbox()
        self.controller, port = start_smtp(self.inbox)
        self.config = load_config(config_for(folder, port, self.key, keep_ip))
        self.now = [time.time()]
        settings = dataclasses.replace(settings_for(self.config, ENV), clock=lambda: self.now[0])
        if per_address != 1:
            assert settings.signup is not None
            signup = dataclasses.replace(settings.signup, per_address=per_address)
            settings = dataclasses.replace(settings, signup=signup)
        self.settings = settings
        self.server = Served(make_app(settings))
        self.store_path = folder / "readers.sqlite3"

    def sign_up(
        self, fields: dict[str, Any], as_json: bool = False, ip: str = "192.0.2.1"
    ) -> tuple[int, bytes]:
        data = json.dumps(fields).encode() if as_json else urlencode(fields, doseq=True).encode()
        headers = {**(JSON if as_json else FORM), "X-Forwarded-For": ip}
        return self.server.request("/subscribe", data, headers)

    def mails(self, count: int) -> list[EmailMessage]:
        """The first ``count`` mails the inbox gets (waiting for them to come)."""
        deadline = time.monotonic() + 15
        while len(self.inbox.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return [self.parsed(raw) for _, _, raw in self.inbox.received]

    @staticmethod
    def parsed(raw: bytes) -> EmailMessage:
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def finished(self) -> list[tuple[str, list[str], bytes]]:
        """Stop the app (its mails sent, the answers' background work done): what arrived."""
        self.server.stop()
        return list(self.inbox.received)

    def store(self) -> ReaderStore:
        return ReaderStore(self.store_path, keep_ip=True)

    def close(self) -> None:
        self.server.stop()
        self.controller.stop()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SignUpWorld]:
    made = SignUpWorld(tmp_path)
    yield made
    made.close()


def link_of(message: EmailMessage) -> str:
    """The confirmation link of a mail's text part."""
    body = message.get_body(("plain",))
    assert body is not None
    (link,) = [w for w in str(body.get_content()).split() if "/confirm/" in w]
    return link


@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
@pytest.mark.parametrize("keep_ip", [False, True], ids=["no-ip", "keep-ip"])
@pytest.mark.parametrize("signing", [True, False], ids=["dkim", "unsigned"])
def test_a_reader_signs_up_confirms_and_is_subscribed_with_consent(
    tmp_path: Path, as_json: bool, keep_ip: bool, signing: bool
) -> None:
    world = SignUpWorld(tmp_path, signing=signing, keep_ip=keep_ip)
    try:
        address = "Ana.Reader@Example.org"
        written = "Ana.Reader@example.org"  # the domain in lower case, the local part as typed
        sections = ["Town", "culture"]  # matched without case, kept as the config names them
        fields: dict[str, Any] = {"address": address, "name": "Ana  Reader", "website": ""}
        fields["sections" if as_json else "section"] = sections
        status, body = world.sign_up(fields, as_json, ip="198.51.100.7")
        assert status == 202
        if as_json:
            assert json.loads(body) == {"status": "accepted"}
        else:
            assert b"Check your email" in body
        (mail,) = world.mails(1)
        ((mail_from, recipients, raw),) = world.inbox.received
        assert recipients == [written] and mail_from == "letters@riverside.example"
        assert mail["Subject"] == "Confirm your subscription to The Riverside Weekly"
        assert mail["From"].addresses[0].addr_spec == "letters@riverside.example"
        assert "List-Unsubscribe" not in mail
        if world.key is not None:
            assert world.key.verify(raw)
        else:
            assert "DKIM-Signature" not in mail
        html = mail.get_body(("html",))
        assert html is not None and "#0f6b5c" in html.get_content()  # the brand colour
        link = link_of(mail)
        assert link.startswith("https://riverside.example/confirm/")
        path = urlsplit(link).path
        with world.store() as store:
            assert store.status(address) is None  # nothing is kept before confirmation

        status, page = world.server.request(path)  # a mail scanner's GET
        assert status == 200 and b"<button" in page and written.encode() in page
        with world.store() as store:
            assert store.status(address) is None

        status, page = world.server.request(
            path, b"confirm=1", {**FORM, "X-Forwarded-For": "203.0.113.9"}
        )
        assert status == 200 and b"You are subscribed" in page
        with world.store() as store:
            assert store.status("ana.reader@example.org") == "subscribed"
            record = store.get(address)
            assert record is not None and record.consent is not None
            assert record.name == "Ana Reader" and record.sections == ("town", "culture")
            consent = record.consent
            assert (consent.method, consent.source, consent.wording) == (
                "form",
                SOURCE,
                "2026-12 form",
            )
            assert consent.ip == ("203.0.113.9" if keep_ip else None)
            assert abs(consent.at - datetime.now(UTC)) < timedelta(minutes=5)
    finally:
        world.close()


def test_the_answer_is_the_same_for_every_address(world: SignUpWorld) -> None:
    with world.store() as store:
        store.add("kim@example.org", _consent())
        store.add("sam@example.org", _consent())
        store.unsubscribe("sam@example.org")
        store.record(Event("bo@example.org", "hard-bounce", "test", "bounce-1"))
        store.record(Event("cy@example.org", "complaint", "test", "complaint-1"))
    for as_json in (False, True):
        answers = {
            address: world.sign_up({"address": address}, as_json, ip=f"192.0.2.{n}")
            for n, address in enumerate(
                [
                    "new@example.org",  # unknown
                    "kim@example.org",  # subscribed
                    "sam@example.org",  # unsubscribed
                    "bo@example.org",  # bounced
                    "cy@example.org",  # complained
                    "NEW@example.org",  # asked again within the hour
                ]
            )
        }
        answers["bot"] = world.sign_up({"address": "bot@example.org", HONEYPOT: "x"}, as_json)
        assert len(set(answers.values())) == 1, answers
        assert next(iter(answers.values()))[0] == 202
    received = world.finished()
    # Only the unknown and the unsubscribed get a link, once each, however often asked.
    assert sorted(r[1][0] for r in received) == ["new@example.org", "sam@example.org"]


def test_one_confirmation_mail_an_hour_to_one_address(world: SignUpWorld) -> None:
    for n, written in enumerate(["lee@example.org", "Lee@Example.org", "lee@example.org"]):
        assert world.sign_up({"address": written}, ip=f"192.0.2.{n}")[0] == 202
    world.mails(1)
    world.now[0] += 3599
    assert world.sign_up({"address": "lee@example.org"}, ip="192.0.2.9")[0] == 202
    world.now[0] += 2
    assert world.sign_up({"address": "lee@example.org"}, ip="192.0.2.9")[0] == 202
    received = world.finished()
    assert [r[1] for r in received] == [["lee@example.org"], ["lee@example.org"]]


def test_one_ip_address_signs_up_so_many_an_hour(world: SignUpWorld) -> None:
    for n in range(PER_IP + 2):
        assert world.sign_up({"address": f"r{n}@example.org"}, ip="192.0.2.50")[0] == 202
    assert world.sign_up({"address": "other@example.org"}, ip="192.0.2.51")[0] == 202
    received = {r[1][0] for r in world.finished()}
    assert received == {f"r{n}@example.org" for n in range(PER_IP)} | {"other@example.org"}


@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"address": "not-an-address"}, "address"),
        ({"address": "a@example.org\r\nBcc: b@example.org"}, "address"),
        ({"address": ""}, "address"),
        ({"address": "a@example.org", "name": "x" * 201}, "name"),
        ({"address": "a@example.org", "sections": ["sport"]}, "sections"),
    ],
)
def test_a_bad_field_is_a_400_naming_it(
    world: SignUpWorld, as_json: bool, fields: dict[str, Any], named: str
) -> None:
    if not as_json and "sections" in fields:
        fields = {"section" if k == "sections" else k: v for k, v in fields.items()}
    status, body = world.sign_up(fields, as_json)
    assert status == 400
    said = json.loads(body)["error"] if as_json else body.decode()
    assert named in said
    assert world.finished() == []


def test_a_json_body_without_an_address_is_a_400(world: SignUpWorld) -> None:
    status, body = world.server.request("/subscribe", b'{"name": "x"}', JSON)
    assert status == 400 and b"address" in body


def _consent() -> Any:
    from digest.readers import Consent

    return Consent(datetime.now(UTC), "form", "test")


def _token(at: datetime, list_id: str = "the-riverside-weekly.riverside.example") -> str:
    return ConfirmTokens(SECRET, list_id).token("late@example.org", at=at)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_token(datetime.now(UTC) - timedelta(days=3)), id="expired"),
        pytest.param(_token(datetime.now(UTC))[:-2] + "AA", id="altered"),
        pytest.param(_token(datetime.now(UTC), "another.example"), id="another-list"),
        pytest.param("nonsense", id="nonsense"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_bad_confirmation_link_is_a_404_and_subscribes_nobody(
    world: SignUpWorld, token: str, method: str
) -> None:
    data = b"confirm=1" if method == "POST" else None
    status, body = world.server.request(f"/confirm/{token}", data, FORM)
    assert status == 404 and b"This link does not work" in body
    with world.store() as store:
        assert store.status("late@example.org") is None


def test_a_link_older_than_the_readers_unsubscribe_does_nothing(world: SignUpWorld) -> None:
    asked = datetime.now(UTC) - timedelta(hours=1)
    token = ConfirmTokens(SECRET, "the-riverside-weekly.riverside.example").token(
        "late@example.org", at=asked
    )
    assert world.server.request(f"/confirm/{token}", b"confirm=1", FORM)[0] == 200
    with world.store() as store:
        store.unsubscribe("late@example.org")
    status, body = world.server.request(f"/confirm/{token}", b"confirm=1", FORM)
    assert status == 410 and b"older than your unsubscribe" in body
    with world.store() as store:
        assert store.status("late@example.org") == "unsubscribed"
    # A new sign-up after the unsubscribe subscribes again.
    again = ConfirmTokens(SECRET, "the-riverside-weekly.riverside.example").token(
        "late@example.org", at=datetime.now(UTC) + timedelta(seconds=2)
    )
    assert world.server.request(f"/confirm/{again}", b"confirm=1", FORM)[0] == 200
    with world.store() as store:
        assert store.status("late@example.org") == "subscribed"


def test_a_forgotten_unsubscribed_address_stays_unsubscribed(world: SignUpWorld) -> None:
    with world.store() as store:
        store.add("late@example.org", _consent())
        store.unsubscribe("late@example.org")
        assert store.forget("late@example.org", SECRET.encode())
    status, body = world.server.request(f"/confirm/{_token(datetime.now(UTC))}", b"confirm=1", FORM)
    assert status == 409 and b"You are not subscribed" in body
    with ReaderStore(world.store_path, secret=SECRET.encode()) as store:
        assert store.status("late@example.org") == "unsubscribed"


def test_a_confirmation_without_the_button_is_refused(world: SignUpWorld) -> None:
    token = _token(datetime.now(UTC))
    status, _ = world.server.request(f"/confirm/{token}", b"", FORM)
    assert status == 400
    with world.store() as store:
        assert store.status("late@example.org") is None


def test_no_cross_origin_headers(world: SignUpWorld) -> None:
    import urllib.request

    request = urllib.request.Request(
        world.server.base + "/subscribe",
        data=b"address=a%40example.org",
        headers={**FORM, "Origin": "https://elsewhere.example"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 202
        assert not [h for h in answer.headers if h.lower().startswith("access-control-")]
    status, _ = world.server.request("/subscribe", None, {"Origin": "https://elsewhere.example"})
    assert status == 405  # a GET (and a preflight) is not a sign-up


def test_without_a_secret_or_delivery_there_are_no_signup_routes(tmp_path: Path) -> None:
    config = load_config(config_for(tmp_path, 2525, None))
    for web in (
        settings_for(config, {}),  # no secret
        settings_for(config.model_copy(update={"delivery": None}), ENV),
    ):
        assert web.signup is None
        server = Served(make_app(web))
        try:
            assert server.request("/subscribe", b"address=a%40example.org", FORM)[0] == 404
            assert server.request(f"/confirm/{_token(datetime.now(UTC))}")[0] == 404
        finally:
            server.stop()


def test_any_text_in_any_field_is_a_202_or_a_400_naming_a_field(tmp_path: Path) -> None:
    # One app for every example; it mails nobody (a sender's thread running beside the
    # examples would touch the random module under Hypothesis's feet).
    world = SignUpWorld(tmp_path, signing=False, per_address=0)

    @given(
        address=st.text(max_size=80) | st.emails(),
        name=st.text(max_size=250),
        sections=st.lists(st.text(max_size=20), max_size=3),
        as_json=st.booleans(),
    )
    @settings(max_examples=60, deadline=None)
    def sign_up(address: str, name: str, sections: list[str], as_json: bool) -> None:
        fields: dict[str, Any] = {"address": address, "name": name, HONEYPOT: ""}
        fields["sections" if as_json else "section"] = sections
        # A different IP each time: the per-IP limit is not what this is about.
        ip = f"10.0.{len(address)}.{len(name) % 250}"
        status, body = world.sign_up(fields, as_json, ip=ip)
        assert status in (202, 400), body[:300]
        if status == 400:
            said = json.loads(body)["error"] if as_json else body.decode()
            assert any(field in said for field in ("address", "name", "sections")), said

    try:
        sign_up()
        assert world.finished() == []
    finally:
        world.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from ..test_browser import _chromium

    yield from _chromium()


@pytest.mark.browser
def test_a_reader_signs_up_on_the_printed_form_by_keyboard_and_confirms(
    browser: Any, world: SignUpWorld, tmp_path: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    printed = run_digest("serve", "--config", tmp_path / "newsletter.toml", "--form", env=ENV)
    assert printed.returncode == 0, printed.stderr
    form = printed.stdout.replace(
        'action="https://riverside.example/subscribe"',
        f'action="{world.server.base}/subscribe"',
    )
    page = tmp_path / "page.html"
    page.write_text(f'<!doctype html><html lang="en"><body><h1>Our news</h1>{form}</body></html>')
    browser.get(page.as_uri())
    _wait_for(browser, "Our news")
    # The keyboard starts in the page, as a reader's first Tab after the page has loaded.
    browser.execute_script(
        "window.focus(); document.activeElement && document.activeElement.blur()"
    )
    keys = ActionChains(browser)
    keys.send_keys(Keys.TAB, "rosa@example.org", Keys.TAB, "Rosa", Keys.TAB).perform()
    active = browser.switch_to.active_element
    assert active.tag_name == "button"  # the honeypot is never reached by keyboard
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    _wait_for(browser, "Check your email")

    (mail,) = world.mails(1)
    browser.get(world.server.base + urlsplit(link_of(mail)).path)
    _wait_for(browser, "Subscribe to The Riverside Weekly?")
    with world.store() as store:
        assert store.status("rosa@example.org") is None
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.switch_to.active_element.tag_name == "button"
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    _wait_for(browser, "You are subscribed")
    with world.store() as store:
        record = store.get("rosa@example.org")
        assert record is not None and record.status == "subscribed" and record.name == "Rosa"


def _wait_for(browser: Any, heading: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        headings = [h.text for h in browser.find_elements("tag name", "h1")]
        if heading in headings:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {heading!r} heading: {browser.page_source[:500]}")


def test_serve_form_says_when_sign_up_is_off_and_why(tmp_path: Path) -> None:
    config = config_for(tmp_path, 9, None)
    on = run_digest("serve", "--config", config, "--form", env=ENV)
    assert on.returncode == 0 and on.stderr == ""
    off = run_digest("serve", "--config", config, "--form", env={"DIGEST_UNSUBSCRIBE_SECRET": ""})
    assert off.returncode == 0 and "<form" in off.stdout
    assert off.stderr == (
        "digest: warning: sign-up is off in digest serve: DIGEST_UNSUBSCRIBE_SECRET is not set\n"
    )
    example = run_digest(
        "serve", "--config", EXAMPLES / "tangerangnews" / "newsletter.toml", "--form", env=ENV
    )
    assert "no [delivery] table to send the confirmation mail" in example.stderr


def test_the_limits_hold_across_a_restart_and_keep_no_address(tmp_path: Path) -> None:
    first = SignUpWorld(tmp_path)
    try:
        assert first.sign_up({"address": "lee@example.org"}, ip="192.0.2.7")[0] == 202
        for n in range(PER_IP - 1):
            assert first.sign_up({"address": f"r{n}@example.org"}, ip="192.0.2.8")[0] == 202
        assert len(first.finished()) == PER_IP
    finally:
        first.close()
    # The app starts again (another process, or after a deploy) over the same store.
    again = SignUpWorld(tmp_path)
    try:
        assert again.sign_up({"address": "lee@example.org"}, ip="192.0.2.9")[0] == 202
        assert again.sign_up({"address": "new@example.org"}, ip="192.0.2.8")[0] == 202
        assert again.sign_up({"address": "new@example.org"}, ip="192.0.2.10")[0] == 202
        # Lee had a mail this hour; 192.0.2.8 had its ten sign-ups; from .10, new@ gets one.
        assert [r[1] for r in again.finished()] == [["new@example.org"]]
    finally:
        again.close()
    held = b"".join(p.read_bytes() for p in tmp_path.glob("readers.sqlite3*"))
    assert b"lee@example.org" not in held and b"192.0.2." not in held
