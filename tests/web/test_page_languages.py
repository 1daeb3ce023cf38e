"""The reader's pages and the confirmation mail speak the newsletter's language.

Indonesian (the reference edition, ``examples/tangerangnews``), Arabic (right to left) and
Japanese: the unsubscribe and preferences pages, the sign-up answers, the confirmation mail and
the ``--form`` labels, through the real app under uvicorn, configured from a config file as
``digest serve`` is (``settings_for``), the mail through an SMTP server (aiosmtpd).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import escape
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.labels import Message, available, translate
from digest.readers import Consent, ReaderStore
from digest.schedule.config import load_config
from digest.web import make_app, settings_for
from digest.web.pages import page_catalog, say

from ..helpers import EXAMPLES, run_digest
from ..mailservers import Inbox, start_smtp
from ..test_catalog_scripts import OTHER_FORM, SCRIPTS, letters, script_of
from ..test_labels import extraction_sources, messages_in
from .served import Served

ENV = {"DIGEST_UNSUBSCRIBE_SECRET": "the-secret-of-the-page-language-tests"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
KIM = "kim@example.org"
NEW = "new@example.org"


@dataclass(frozen=True)
class Edition:
    """An example in one language, and the words its pages must show (from its catalog)."""

    example: str
    locale: str | None  # None: the example's own
    catalog: str
    html: str
    ask: str
    prefs_title: str
    save: str
    saved: str
    paused: str
    bad_pause: str
    done: str
    check: str
    subject: str
    button: str
    hours: str
    confirm_title: str
    welcome: str
    form_email: str


INDONESIAN = Edition(
    example="tangerangnews",
    locale=None,
    catalog="id",
    html='<html lang="id">',
    ask="Berhenti berlangganan TangerangNews?",
    prefs_title="Email Anda dari TangerangNews",
    save="Simpan",
    saved="Pilihan Anda sudah disimpan.",
    paused="Dijeda hingga ",
    bad_pause="jeda '3' bukan salah satu dari 1, 2, 4, 8",
    done="Anda sudah berhenti berlangganan",
    check="Periksa email Anda",
    subject="Konfirmasi langganan Anda ke TangerangNews",
    button="Ya, daftarkan saya",
    hours="selama 48 jam",
    confirm_title="Berlangganan TangerangNews?",
    welcome=f"{NEW} akan menerima TangerangNews. Selamat datang!",
    form_email="Alamat email",
)
ARABIC = Edition(
    example="riverside",
    locale="ar",
    catalog="ar",
    html='<html lang="ar" dir="rtl">',
    ask="إلغاء الاشتراك في The Riverside Weekly؟",
    prefs_title="رسائلك من The Riverside Weekly",
    save="حفظ",
    saved="تم حفظ اختياراتك.",
    paused="متوقف مؤقتًا حتى ",
    bad_pause="الإيقاف المؤقت '3' ليس من بين 1, 2, 4, 8",
    done="تم إلغاء اشتراكك",
    check="تحقق من بريدك الإلكتروني",
    subject="أكّد اشتراكك في The Riverside Weekly",
    button="نعم، اشتركني",
    hours="لمدة 48 ساعة",
    confirm_title="الاشتراك في The Riverside Weekly؟",
    welcome=f"سيتلقى {NEW} النشرة The Riverside Weekly. أهلًا بك!",
    form_email="عنوان البريد الإلكتروني",
)
JAPANESE = Edition(
    example="riverside",
    locale="ja",
    catalog="ja",
    html='<html lang="ja">',
    ask="The Riverside Weeklyの配信を停止しますか？",  # noqa: RUF001
    prefs_title="The Riverside Weeklyからのメール",
    save="保存",
    saved="選択内容を保存しました。",
    paused="まで一時停止中です。",
    bad_pause="一時停止 '3' は 1, 2, 4, 8 のいずれでもありません",
    done="配信を停止しました",
    check="メールをご確認ください",
    subject="The Riverside Weeklyの購読を確認してください",
    button="はい、購読します",
    hours="有効期限は48時間です",
    confirm_title="The Riverside Weeklyを購読しますか？",  # noqa: RUF001
    welcome=f"{NEW} にThe Riverside Weeklyをお届けします。ようこそ！",  # noqa: RUF001
    form_email="メールアドレス",
)
EDITIONS = [INDONESIAN, ARABIC, JAPANESE]


def config_file(folder: Path, edition: Edition, port: int) -> Path:
    """The edition's example in its language, sending through the SMTP server on ``port``."""
    source = EXAMPLES / edition.example / "newsletter.toml"
    text = source.read_text()
    text = re.sub(r'^data = "(.+)"$', rf'data = "{source.parent}/\1"', text, flags=re.M)
    text = re.sub(r'^assets = ".+"$', "", text, flags=re.M)
    if edition.locale is not None:
        text = re.sub(r'^locale = ".+"$', f'locale = "{edition.locale}"', text, flags=re.M)
    text += (
        f'\n[suppression]\npath = "{folder}/readers.sqlite3"\n'
        f'\n[delivery]\nprovider = "smtp"\n'
        f'\n[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
    )
    path = folder / "newsletter.toml"
    path.write_text(text)
    return path


class World:
    """The edition's app under uvicorn, its reader store with one reader, and an SMTP inbox."""

    def __init__(self, folder: Path, edition: Edition) -> None:
        self.inbox = Inbox()
        self.controller, port = start_smtp(self.inbox)
        self.config_path = config_file(folder, edition, port)
        self.settings = settings_for(load_config(self.config_path), ENV)
        with ReaderStore(folder / "readers.sqlite3") as store:
            store.add(KIM, Consent(datetime.now(UTC), "form", "the sign-up form"))
        self.server = Served(make_app(self.settings))

    def get(self, path: str) -> tuple[int, str]:
        status, body = self.server.request(path)
        return status, body.decode()

    def post(self, path: str, fields: list[tuple[str, str]]) -> tuple[int, str]:
        status, body = self.server.request(path, urlencode(fields).encode(), FORM)
        return status, body.decode()

    def mail(self) -> EmailMessage:
        """The first mail the inbox gets (waiting for it to come)."""
        deadline = time.monotonic() + 15
        while not self.inbox.received and time.monotonic() < deadline:
            time.sleep(0.02)
        message = message_from_bytes(self.inbox.received[0][2], policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def close(self) -> None:
        self.server.stop()
        self.controller.stop()


@pytest.fixture(params=EDITIONS, ids=lambda e: e.catalog)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[World, Edition]]:
    edition: Edition = request.param
    made = World(tmp_path, edition)
    yield made, edition
    made.close()


def unfilled(text: str) -> list[str]:
    """Placeholders left in ``text``."""
    return re.findall(r"\{[a-z_]+\}", text)


def shown(page: str, edition: Edition) -> str:
    """The page, checked to be one in the edition's language, with nothing left unfilled."""
    assert page.startswith(f"<!doctype html>\n{edition.html}<head>"), page[:80]
    assert not unfilled(page)
    return page


def test_the_settings_take_the_newsletters_catalog(world: tuple[World, Edition]) -> None:
    app, edition = world
    assert app.settings.catalog == edition.catalog
    assert app.settings.preferences is not None
    assert app.settings.preferences.catalog == edition.catalog


def test_the_unsubscribe_pages_speak_the_language(world: tuple[World, Edition]) -> None:
    app, edition = world
    tokens = app.settings.tokens
    assert tokens is not None
    path = f"/unsubscribe/{tokens.token(KIM)}"
    status, page = app.get(path)
    assert status == 200
    assert f"<title>{escape(edition.ask)}</title>" in shown(page, edition)
    assert KIM in page and ">Unsubscribe<" not in page
    status, page = app.get("/unsubscribe/1.forged.token")
    assert status == 404 and "does not work" not in shown(page, edition)
    status, page = app.post(path, [("confirm", "1")])
    assert status == 200 and f"<h1>{escape(edition.done)}</h1>" in shown(page, edition)


def test_the_preferences_page_speaks_the_language(world: tuple[World, Edition]) -> None:
    app, edition = world
    tokens = app.settings.tokens
    assert tokens is not None
    path = f"/preferences/{tokens.token(KIM)}"
    status, page = app.get(path)
    assert status == 200
    assert f"<h1>{escape(edition.prefs_title)}</h1>" in shown(page, edition)
    assert f'<button type="submit">{escape(edition.save)}</button>' in page
    status, page = app.post(path, [("pause", "3")])
    assert status == 400 and escape(edition.bad_pause) in shown(page, edition)
    status, page = app.post(path, [("pause", "1")])
    assert status == 200 and f'role="status">{escape(edition.saved)}' in shown(page, edition)
    assert edition.paused in page


def test_sign_up_and_the_confirmation_mail_speak_the_language(
    world: tuple[World, Edition],
) -> None:
    app, edition = world
    status, page = app.post("/subscribe", [("address", NEW)])
    assert status == 202 and f"<h1>{escape(edition.check)}</h1>" in shown(page, edition)
    mail = app.mail()
    assert mail["Subject"] == edition.subject
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    words = str(text.get_content()).replace("\r\n", "\n")
    markup = str(html.get_content())
    assert f"{edition.button}:\n" in words and edition.hours in words and not unfilled(words)
    assert edition.html in markup and escape(edition.button) in markup
    (link,) = [word for word in words.split() if "/confirm/" in word]
    path = urlsplit(link).path
    status, page = app.get(path)
    assert status == 200 and f"<h1>{escape(edition.confirm_title)}</h1>" in shown(page, edition)
    status, page = app.post(path, [("confirm", "1")])
    assert status == 200 and escape(edition.welcome) in shown(page, edition)
    with ReaderStore(app.settings.suppressions) as store:
        assert store.status(NEW) == "subscribed"


def test_the_printed_form_speaks_the_language(world: tuple[World, Edition]) -> None:
    app, edition = world
    result = run_digest("serve", "--config", app.config_path, "--form")
    assert result.returncode == 0, result.stderr
    assert f">{escape(edition.form_email)}</label>" in result.stdout


def test_a_language_without_the_pages_words_gets_english_pages() -> None:
    assert [page_catalog(locale) for locale in ("sw", "en_GB", "id_ID", "ar_EG", "zh_TW")] == [
        "en",
        "en",
        "id",
        "ar",
        "zh_Hant",
    ]


def reader_messages() -> list[Message]:
    """The messages of the reader's pages and mail (every extracted one but the labels)."""
    found = set().union(
        *(messages_in(path) for path in extraction_sources() if path.name != "labels.py")
    )
    return [Message(text, context) for context, text in sorted(found, key=str)]


@pytest.mark.parametrize("catalog", sorted(available()))
def test_every_pages_word_is_in_the_catalogs_script(catalog: str) -> None:
    strays = {
        (message.text, ch)
        for message in reader_messages()
        for ch in letters(re.sub(r"\{[a-z_]+\}|IANA", "", translate(message, catalog)))
        if script_of(ch) not in SCRIPTS[catalog]
    }
    assert not strays, f"{catalog}: {sorted(strays)}"
    if catalog in OTHER_FORM:
        wrong = OTHER_FORM[catalog]()
        mixed = {
            (message.text, ch)
            for message in reader_messages()
            for ch in translate(message, catalog)
            if ch in wrong
        }
        assert not mixed, f"{catalog}: characters of the other Chinese form: {sorted(mixed)}"


@settings(max_examples=60, deadline=None)
@given(
    catalog=st.sampled_from(sorted(available() | {"en"})),
    value=st.text(min_size=1, max_size=40),
)
def test_any_text_fills_every_placeholder_of_every_catalog_as_it_is(
    catalog: str, value: str
) -> None:
    for message in reader_messages():
        values = {name: f"[{name}:{value}]" for name in re.findall(r"\{([a-z_]+)\}", message.text)}
        filled = say(message, catalog, **values)
        assert all(text in filled for text in values.values()), (catalog, message, filled)
