"""examples/own-site: a site of one's own on digest's reader store, with the library only.

Served by uvicorn, sending through an SMTP server (aiosmtpd) as the Riverside example's config
says: a reader signs up, reads the mail, confirms, changes sections, pauses, resumes and
leaves, and the store says so after each step.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import ModuleType
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.mail.message import list_id
from digest.readers import ConfirmTokens, Consent, ReaderStore
from digest.schedule.config import load_config
from digest.suppression.tokens import UnsubscribeTokens

from .helpers import EXAMPLES
from .mailservers import Inbox, start_smtp
from .web.served import Served
from .web.test_signup import FORM, SECRET, config_for, link_of

APP = EXAMPLES / "own-site" / "app.py"


def own_site() -> ModuleType:
    """The example's ``app.py``, imported from its folder as ``uvicorn app:app`` would."""
    spec = importlib.util.spec_from_file_location("own_site_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Site:
    """The example served with the Riverside config, its SMTP inbox and its reader store."""

    def __init__(self, folder: Path, keep_ip: bool = False) -> None:
        self.inbox = Inbox()
        self.controller, port = start_smtp(self.inbox)
        self.config_path = config_for(folder, port, None, keep_ip)
        environ = {"DIGEST_CONFIG": str(self.config_path), "DIGEST_UNSUBSCRIBE_SECRET": SECRET}
        self.server = Served(own_site().make_app(environ))
        self.store_path = folder / "readers.sqlite3"

    def post(self, path: str, fields: dict[str, str | list[str]]) -> tuple[int, str]:
        status, body = self.server.request(path, urlencode(fields, doseq=True).encode(), FORM)
        return status, body.decode()

    def get(self, path: str) -> tuple[int, str]:
        status, body = self.server.request(path)
        return status, body.decode()

    def mail(self, count: int) -> EmailMessage:
        """The ``count``-th mail the inbox gets (waiting for it to come)."""
        deadline = time.monotonic() + 15
        while len(self.inbox.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        message = message_from_bytes(self.inbox.received[count - 1][2], policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def store(self) -> ReaderStore:
        return ReaderStore(self.store_path)

    def close(self) -> None:
        self.server.stop()
        self.controller.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    made = Site(tmp_path)
    yield made
    made.close()


@pytest.mark.parametrize("keep_ip", [False, True], ids=["no-ip", "keep-ip"])
def test_a_reader_signs_up_confirms_chooses_pauses_and_leaves(
    tmp_path: Path, keep_ip: bool
) -> None:
    site = Site(tmp_path, keep_ip)
    address = "Ana.Reader@example.org"
    try:
        status, body = site.get("/")
        assert status == 200 and "Around town" in body and "What&#x27;s on" in body

        fields: dict[str, str | list[str]] = {"address": address, "name": " Ana  Reader "}
        status, body = site.post("/", {**fields, "section": ["town", "culture", "sport"]})
        assert status == 202 and "Check your email" in body
        with site.store() as store:
            assert store.status(address) is None  # nothing is held before the reader confirms

        mail = site.mail(1)
        assert mail["Subject"] == "Confirm your subscription to The Riverside Weekly"
        assert [a.addr_spec for a in mail["To"].addresses] == [address]
        link = urlsplit(link_of(mail))
        assert f"{link.scheme}://{link.netloc}" == site.server.base  # the site's own link

        status, body = site.get(link.path)  # a mail scanner opening the link changes nothing
        assert status == 200 and "<button>" in body
        with site.store() as store:
            assert store.status(address) is None

        status, body = site.post(link.path, {})
        assert status == 200 and "You are subscribed" in body
        with site.store() as store:
            record = store.get(address)
            assert record is not None and record.status == "subscribed"
            assert record.name == "Ana Reader" and record.sections == ("town", "culture")
            assert record.consent is not None
            consent = record.consent
            assert (consent.method, consent.source, consent.wording) == (
                "form",
                "own site",
                "2026-12 form",
            )
            assert consent.ip == ("127.0.0.1" if keep_ip else None)

        (mine,) = re.findall(r"href='([^']+)'", body)
        token = UnsubscribeTokens(SECRET, list_id(load_config(site.config_path).newsletter))
        assert urlsplit(mine).path == f"/reader/{token.token(address)}"
        page = urlsplit(mine).path
        status, body = site.get(page)
        assert status == 200 and "(subscribed)" in body

        status, _ = site.post(page, {"section": "business", "pause": "0"})
        assert status == 200
        with site.store() as store:
            assert store.get(address).sections == ("business",)  # type: ignore[union-attr]

        status, _ = site.post(page, {"section": ["town", "business", "culture"], "pause": "0"})
        with site.store() as store:
            assert store.get(address).sections is None  # type: ignore[union-attr]

        status, body = site.post(page, {"section": "town", "pause": "2"})
        assert status == 200 and "(paused)" in body
        with site.store() as store:
            record = store.get(address)
            assert record is not None and record.status == "paused"
            assert record.sections == ("town",) and record.paused_until is not None
            ahead = record.paused_until - datetime.now(UTC)
            assert timedelta(days=13) < ahead <= timedelta(days=14)
            assert not store.mailable(address)

        status, body = site.post(page, {"section": "town", "pause": "0"})
        assert status == 200 and "(subscribed)" in body
        with site.store() as store:
            assert store.status(address) == "subscribed"

        status, body = site.post(page, {"leave": "1"})
        assert status == 200 and "no more emails" in body
        with site.store() as store:
            assert store.status(address) == "unsubscribed"
            events = [(e.reason, e.source) for e in store.reader_history(address)]
        assert events == [
            ("subscribed", "own site"),
            ("changed", "own site"),
            ("changed", "own site"),
            ("changed", "own site"),
            ("paused", "own site"),
            ("resumed", "own site"),
            ("unsubscribed", "own site"),
        ]

        # A link asked for before the reader left (a minute ago) subscribes nobody.
        tokens = ConfirmTokens(SECRET, list_id(load_config(site.config_path).newsletter))
        old = tokens.token(address, at=datetime.now(UTC) - timedelta(minutes=1))
        assert site.post(f"/confirm/{old}", {})[0] == 410
        with site.store() as store:
            assert store.status(address) == "unsubscribed"
    finally:
        site.close()


def test_links_that_are_not_this_lists_do_not_work(site: Site) -> None:
    foreign = UnsubscribeTokens(SECRET, "another.list.example").token("ana@example.org")
    for path in ("/confirm/1.e30.AAAA", "/reader/1.bad.token", f"/reader/{foreign}"):
        assert site.get(path)[0] == 404
        assert site.post(path, {"leave": "1"})[0] == 404
    with site.store() as store:
        assert store.status("ana@example.org") is None


def test_a_bad_address_is_named_and_nothing_is_sent(site: Site) -> None:
    status, body = site.post("/", {"address": "not an address"})
    assert status == 400 and "not an email address" in body
    assert site.post("/", {"address": "ok@example.org"})[0] == 202
    assert site.mail(1)["To"].addresses[0].addr_spec == "ok@example.org"
    assert len(site.inbox.received) == 1


@pytest.mark.parametrize("example", ["riverside", "tangerangnews"])
def test_without_delivery_the_link_is_logged_and_follows_to_a_subscription(
    tmp_path: Path, example: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The examples' own configs send nothing: the README's first run logs the link."""
    text = (EXAMPLES / example / "newsletter.toml").read_text()
    text = re.sub(r"^(data|assets) = .*$", "", text, flags=re.M)
    (tmp_path / "newsletter.toml").write_text(
        f'{text}\n[suppression]\npath = "{tmp_path}/readers.sqlite3"\n'
    )
    environ = {
        "DIGEST_CONFIG": str(tmp_path / "newsletter.toml"),
        "DIGEST_UNSUBSCRIBE_SECRET": SECRET,
    }
    server = Served(own_site().make_app(environ))
    try:
        fields = urlencode({"address": "ana@example.org"}).encode()
        assert server.request("/", fields, FORM)[0] == 202
    finally:
        server.stop()  # the answer's background work done
    (said,) = [r.getMessage() for r in caplog.records if r.name == "own-site"]
    link = urlsplit(said.split()[-1])
    server = Served(own_site().make_app(environ))
    try:
        assert server.request(link.path, b"", FORM)[0] == 200
    finally:
        server.stop()
    with ReaderStore(tmp_path / "readers.sqlite3") as store:
        assert store.status("ana@example.org") == "subscribed"


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    made = Site(tmp_path_factory.mktemp("own-site"))
    yield made
    made.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300))
def test_any_sign_up_text_gets_an_answer_and_stores_nothing(shared_site: Site, text: str) -> None:
    for fields in ({"address": text}, {"address": "a@example.org", "name": text, "section": text}):
        status, _ = shared_site.post("/", fields)  # type: ignore[arg-type]
        assert status in (202, 400)
    with shared_site.store() as store:
        assert store.status("a@example.org") is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(section=st.text(max_size=100), pause=st.text(max_size=20))
def test_any_choice_text_keeps_the_reader_within_what_the_page_offers(
    shared_site: Site, section: str, pause: str
) -> None:
    address = "kept@example.org"
    with shared_site.store() as store:
        store.add(address, Consent(datetime.now(UTC), "api", "test"))
    tokens = UnsubscribeTokens(SECRET, list_id(load_config(shared_site.config_path).newsletter))
    status, _ = shared_site.post(
        f"/reader/{tokens.token(address)}", {"section": section, "pause": pause}
    )
    assert status == 200
    with shared_site.store() as store:
        record = store.get(address)
        assert record is not None and record.status in ("subscribed", "paused")
        assert set(record.sections or ()) <= {"town", "business", "culture"}
        assert (record.status == "paused") == (pause in ("1", "2", "4"))


def test_the_example_uses_the_library_only() -> None:
    tree = ast.parse(APP.read_text())
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    digest = {name for name in imported if name.split(".")[0] == "digest"}
    assert digest and not any(name.startswith("digest.web") for name in digest)
    assert not any(name.split(".")[0] == "fastapi" for name in imported)
