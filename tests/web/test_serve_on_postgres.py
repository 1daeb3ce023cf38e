"""``digest serve`` on a PostgreSQL store: two servers, a send between them, and the store away.

Two real ``digest serve`` processes on one PostgreSQL schema take one-click unsubscribes and
the providers' webhooks (django-anymail's payloads, BSD 3-clause, each post's ids and
addresses its own, Resend's signed with ``svix``) from several threads, every one posted to
both servers at once (a provider's retry racing the first try), while a real ``digest send``
in a third process sends the example edition through aiosmtpd in batches of five, reading
the suppression list before each. Every distinct event is in ``events`` once, the list
``digest suppress list`` prints is exactly the readers the events suppress, nobody got the
edition twice, the ledger says sent of exactly those the server received, and nobody who had
unsubscribed before the send began got it.

The store away: the app reaches the shared server through a TCP forwarder of the test's own
(to the server's Unix socket, so peer authentication holds), closed with every connection it
carries and opened again on the same port; the server itself, which other tests use, never
stops. While it is away a webhook or an unsubscribe answers 503 with ``Retry-After`` and
records nothing; once it is back the provider's retry is recorded, once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
import svix.webhooks as svix
from starlette.testclient import TestClient

from digest.delivery.ledger import open_ledger
from digest.mail.message import list_id
from digest.mail.tracking import OPEN, Click, LinkTokens
from digest.schedule.config import load_config
from digest.store import ENVIRONMENT, StoreURL, parse_store_url
from digest.suppression import UnsubscribeTokens
from digest.web import WebSettings, make_app
from digest.web.settings import POSTMARK_PASSWORD_VARIABLE, RESEND_SECRET_VARIABLE
from digest.web.tracking import ClickLog, WebTracking

from ..delivery.test_due import seed_sending_to
from ..delivery.test_send_abtest import build
from ..helpers import FIXTURES, digest_serve, run_command
from ..mailservers import Inbox, free_port, start_smtp
from ..stores import in_schema, postgres_base, postgres_url, run_sql

__all__ = ["postgres_url"]

SECRET = "a-secret-for-serving-on-postgresql"
PASSWORD = "pm-password-on-postgresql"
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-secret-on-postgresql").decode()
POSTMARK_AUTH = "Basic " + base64.b64encode(f"postmark:{PASSWORD}".encode()).decode()
ONE_CLICK = b"List-Unsubscribe=One-Click"
SOCKET = "/var/run/postgresql/.s.PGSQL.5432"

COUNT = 300
EVERYONE = [f"r{n:03}@example.org" for n in range(COUNT)]


def payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / "webhooks" / f"{name}.json").read_text())
    return loaded


@dataclass(frozen=True)
class Post:
    """One event as its sender posts it: where, the body, and how each try is signed."""

    kind: str  # "one-click", "postmark-bounce", "postmark-subscription-change", "resend-…"
    address: str
    reason: str
    path: str
    body: bytes
    svix_id: str = ""

    def headers(self) -> dict[str, str]:
        """This try's headers: a Resend retry is signed again, with the same ``svix-id``."""
        if self.kind == "one-click":
            return {"content-type": "application/x-www-form-urlencoded"}
        if self.kind.startswith("postmark"):
            return {"authorization": POSTMARK_AUTH, "content-type": "application/json"}
        now = datetime.now(UTC)
        signature = svix.Webhook(RESEND_SECRET).sign(
            msg_id=self.svix_id, timestamp=now, data=self.body.decode()
        )
        return {
            "svix-id": self.svix_id,
            "svix-timestamp": str(int(now.timestamp())),
            "svix-signature": signature,
            "content-type": "application/json",
        }


def one_click(tokens: UnsubscribeTokens, address: str) -> Post:
    """A mail client's one-click unsubscribe (RFC 8058) of ``address``."""
    path = f"/unsubscribe/{tokens.token(address)}"
    return Post("one-click", address, "unsubscribed", path, ONE_CLICK)


def postmark_bounce(address: str, n: int) -> Post:
    """Postmark's hard bounce of ``address``, an occurrence of its own (``ID``)."""
    body = {**payload("postmark-bounce"), "ID": 700_000 + n, "Email": address}
    body["MessageID"] = f"2706ee8a-737c-4285-b032-{n:012}"
    return Post("postmark-bounce", address, "hard-bounce", "/webhooks/postmark", _json(body))


def postmark_change(address: str, n: int) -> Post:
    """Postmark's subscription change (the reader unsubscribed) of ``address``."""
    body = {**payload("postmark-subscription-change"), "Recipient": address}
    body["MessageID"] = f"a4909a96-73d7-4c49-b148-{n:012}"
    body["ChangedAt"] = f"2026-12-06T07:{n % 60:02}:00Z"
    path = "/webhooks/postmark"
    return Post("postmark-subscription-change", address, "unsubscribed", path, _json(body))


def resend(name: str, address: str, n: int) -> Post:
    """Resend's ``email.bounced`` or ``email.complained`` of ``address``, svix-id its own."""
    body = payload(name)
    body["data"] = {**body["data"], "to": [address], "email_id": f"aaaaaaaa-bbbb-{n:012}"}
    reason = "hard-bounce" if name == "resend-bounced" else "complaint"
    return Post(name, address, reason, "/webhooks/resend", _json(body), f"msg_{n:06}")


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def deliver(base: str, post: Post) -> tuple[int, str, dict[str, str]]:
    """POST one try of ``post`` to the server at ``base``: the status, the body, the headers."""
    request = urllib.request.Request(base + post.path, data=post.body, headers=post.headers())
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode(), dict(error.headers)


def post_twice_at_once(bases: list[str], posts: list[Post], seed: int) -> dict[Post, list[str]]:
    """Each post to both servers, the two tries in flight together; the answers by post."""
    tries = [(post, base) for post in posts for base in bases]
    random.Random(seed).shuffle(tries)
    answers: dict[Post, list[str]] = {post: [] for post in posts}
    lock = threading.Lock()

    def one(job: tuple[Post, str]) -> None:
        post, base = job
        status, text, _ = deliver(base, post)
        assert status == 200, (post.kind, status, text)
        with lock:
            answers[post].append(text)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(one, tries))
    return answers


def serve_env(url: str) -> dict[str, str]:
    """What ``digest serve`` and ``digest send`` run with: the store and the secrets."""
    return {
        **os.environ,
        ENVIRONMENT: url,
        "DIGEST_UNSUBSCRIBE_SECRET": SECRET,
        POSTMARK_PASSWORD_VARIABLE: PASSWORD,
        RESEND_SECRET_VARIABLE: RESEND_SECRET,
    }


def sender(config: Path, eml: Path, readers: Path, env: dict[str, str], log: Path) -> Any:
    """``digest send`` of the edition in a process of its own."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "digest", "send", "--allow-placeholder-links", "--config",
             str(config), str(eml), "--recipients", str(readers)],
            stdout=out, stderr=out, env=env,
        )  # fmt: skip


def rows_of(url: StoreURL, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url.url, autocommit=True) as conn:
        return conn.execute(sql.encode()).fetchall()


def test_two_servers_and_a_send_on_one_store(tmp_path: Path, postgres_url: StoreURL) -> None:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    env = serve_env(postgres_url.url)
    log = tmp_path / "send.log"
    try:
        config = seed_sending_to(tmp_path, port, delivery="batch_size = 5\n")
        tokens = UnsubscribeTokens(SECRET, list_id(load_config(config).newsletter))
        eml = build(config, tmp_path / "out")
        readers = tmp_path / "readers.txt"
        readers.write_text("".join(f"{a}\n" for a in EVERYONE))
        # Before the send: twenty readers say no, each click posted twice (two servers).
        early = [one_click(tokens, a) for a in EVERYONE[:20]]
        # During it: bounces, complaints and unsubscribes of readers all down the list, and of
        # two addresses it does not hold.
        during = [
            *(postmark_bounce(a, n) for n, a in enumerate(EVERYONE[40:280:8])),
            *(postmark_change(a, n) for n, a in enumerate(EVERYONE[41:281:12])),
            *(resend("resend-bounced", a, n) for n, a in enumerate(EVERYONE[42:282:12])),
            *(resend("resend-complained", a, 100 + n) for n, a in enumerate(EVERYONE[43:283:16])),
            *(one_click(tokens, a) for a in EVERYONE[44:284:16]),
            postmark_bounce("elsewhere@example.net", 999),
            resend("resend-complained", "stranger@example.net", 999),
        ]
        assert len({p.address for p in early + during}) == len(early + during)
        with digest_serve(config, env) as one, digest_serve(config, env) as two:
            bases = [one.base, two.base]
            before = post_twice_at_once(bases, early, seed=1)
            send = sender(config, eml, readers, env, log)
            try:
                deadline = time.monotonic() + 60
                while not inbox.received and send.poll() is None:  # the send has begun
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.01)
                answers = post_twice_at_once(bases, during, seed=2)
                under_way = send.poll() is None
                assert send.wait(timeout=120) == 0, log.read_text()
            finally:
                if send.poll() is None:
                    send.kill()
                    send.wait()
    finally:
        controller.stop()
    assert under_way, "the send was over before the events were: nothing overlapped"
    # Every try answered; of a webhook's two tries one was new, the retry not.
    for post, texts in {**before, **answers}.items():
        if post.kind == "one-click":
            assert texts == ["unsubscribed\n"] * 2  # each click is the reader's act, both kept
        else:
            news = sorted(json.loads(text)["new"] for text in texts)
            assert news == [0, 1], (post.kind, texts)
    # The events table: a webhook's event once, by its id; each click of a reader once.
    events = rows_of(postgres_url, "SELECT id, address, reason, source FROM events")
    assert len({row[0] for row in events}) == len(events)
    by_address = Counter((address, reason, source) for _, address, reason, source in events)
    expected = Counter(
        {
            (p.address, p.reason, p.kind if p.kind == "one-click" else p.kind.split("-")[0]): (
                2 if p.kind == "one-click" else 1
            )
            for p in early + during
        }
    )
    assert by_address == expected
    ids = {row[0] for row in events}
    for post in during:
        if post.kind == "postmark-bounce":
            assert f"postmark:Bounce:{json.loads(post.body)['ID']}" in ids
        elif post.kind.startswith("resend"):
            assert f"resend:{post.svix_id}:{post.address}" in ids
    # The suppression list, as the command prints it from the store.
    listed = run_command("suppress", "list", "--config", config, env=env)
    assert listed.returncode == 0, listed.stderr
    suppressed = dict(line.split("\t")[:2] for line in listed.stdout.splitlines())
    assert suppressed == {p.address: p.reason for p in early + during}
    # The inbox and the ledger.
    got = Counter(rcpt for _, rcpts, _ in inbox.received for rcpt in rcpts)
    assert got and max(got.values()) == 1, "a reader got the edition twice"
    assert not set(got) & {p.address for p in early}, "a reader who had said no got it"
    assert set(EVERYONE) - set(suppressed) <= set(got), "a reader never suppressed was missed"
    with open_ledger(tmp_path / "unused.sqlite3", postgres_url) as ledger:
        (edition,) = {e for (e,) in ledger.store.run("SELECT DISTINCT edition FROM deliveries")}  # type: ignore[attr-defined]
        states = {row.address: row.state for row in ledger.rows(edition)}
    assert states == dict.fromkeys(got, "sent"), "the ledger and the inbox differ"


# --- the store away: a forwarder of the test's own, closed and opened again ------------------


class Forwarder:
    """TCP on 127.0.0.1 to the server's Unix socket: up, down (every connection cut), up."""

    def __init__(self, target: str = SOCKET) -> None:
        self.target = target
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def up(self) -> None:
        """Listen on the port (the same one each time)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.05)
        self.listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        thread.start()
        self.threads.append(thread)

    def down(self) -> None:
        """Stop listening and cut every connection carried."""
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()
        with self.lock:
            cut, self.sockets = self.sockets, []
        for each in cut:
            with contextlib.suppress(OSError):  # the other side had gone already
                each.shutdown(socket.SHUT_RDWR)
            each.close()

    def _accept(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            server = socket.socket(socket.AF_UNIX)
            server.connect(self.target)
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # cut
        finally:
            for each in (source, sink):
                with contextlib.suppress(OSError):
                    each.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def forwarded() -> Iterator[tuple[StoreURL, StoreURL, Forwarder]]:
    """A schema of its own, reached directly and through a ``Forwarder``."""
    base = postgres_base()
    if not os.path.exists(SOCKET):
        pytest.skip(f"no PostgreSQL socket at {SOCKET} to forward to")
    schema = "t_" + os.urandom(6).hex()
    run_sql(base, f"CREATE SCHEMA {schema}")
    forwarder = Forwarder()
    forwarder.up()
    database = base.rsplit("/", 1)[1].split("?", 1)[0]
    through = in_schema(f"postgresql://127.0.0.1:{forwarder.port}/{database}", schema)
    try:
        yield (
            parse_store_url(in_schema(base, schema), secret_ok=True),
            parse_store_url(through, secret_ok=True),
            forwarder,
        )
    finally:
        forwarder.down()
        run_sql(base, f"DROP SCHEMA {schema} CASCADE")


def try_with(client: TestClient) -> Callable[[Post], tuple[int, str, dict[str, str]]]:
    def deliver_to_app(post: Post) -> tuple[int, str, dict[str, str]]:
        answer = client.post(post.path, content=post.body, headers=post.headers())
        return answer.status_code, answer.text, dict(answer.headers)

    return deliver_to_app


@pytest.mark.parametrize("kind", ["postmark-bounce", "resend-complained", "one-click"])
def test_while_the_store_is_away_a_webhook_answers_503_and_the_retry_counts_once(
    forwarded: tuple[StoreURL, StoreURL, Forwarder], kind: str
) -> None:
    direct, through, forwarder = forwarded
    tokens = UnsubscribeTokens(SECRET, "weekly.example.org")
    settings = WebSettings(
        suppressions=through,
        tokens=tokens,
        postmark_password=PASSWORD,
        resend_secret=RESEND_SECRET,
    )

    def made(address: str, n: int) -> Post:
        if kind == "postmark-bounce":
            return postmark_bounce(address, n)
        if kind == "resend-complained":
            return resend(kind, address, n)
        return one_click(tokens, address)

    first, lost = made("first@example.org", 1), made("while-away@example.org", 2)
    with TestClient(make_app(settings)) as client:
        deliver_to_app = try_with(client)
        assert deliver_to_app(first)[0] == 200  # the app is connected through the forwarder
        forwarder.down()
        # Twice: the connection the app held is cut, then a new one cannot be made.
        for _ in range(2):
            status, text, headers = deliver_to_app(lost)
            assert status == 503, text
            assert headers["retry-after"] == "30"
            if kind == "one-click":  # a mail client's POST to the reader's unsubscribe URL
                assert "<h1>Please try again in a minute</h1>" in text
            else:
                assert text == "the store is not answering; try again shortly\n"
        assert rows_of(direct, "SELECT address FROM events") == [("first@example.org",)]
        forwarder.up()
        status, text, _ = deliver_to_app(lost)  # the provider's retry, once it is back
        assert status == 200, text
        if kind != "one-click":
            assert json.loads(text) == {"events": 1, "new": 1}
            assert json.loads(deliver_to_app(lost)[1]) == {"events": 1, "new": 0}
    events = rows_of(direct, "SELECT address, reason FROM events ORDER BY arrival")
    assert events == [("first@example.org", first.reason), ("while-away@example.org", lost.reason)]
    assert {a for (a,) in rows_of(direct, "SELECT address FROM suppressions")} == {
        "first@example.org",
        "while-away@example.org",
    }


@pytest.mark.parametrize(
    ("catalog", "heading"),
    [("en", "Please try again in a minute"), ("id", "Silakan coba lagi sebentar lagi")],
)
def test_a_reader_who_unsubscribes_while_the_store_is_away_reads_a_page_in_their_language(
    forwarded: tuple[StoreURL, StoreURL, Forwarder], catalog: str, heading: str
) -> None:
    direct, through, forwarder = forwarded
    tokens = UnsubscribeTokens(SECRET, "weekly.example.org")
    settings = WebSettings(suppressions=through, tokens=tokens, catalog=catalog)
    path = f"/unsubscribe/{tokens.token('reader@example.org')}"
    with TestClient(make_app(settings)) as client:
        assert client.get(path).status_code == 200  # the page asking; nothing read yet
        forwarder.down()
        answer = client.post(path, data={"confirm": "1"})
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "30"
        assert answer.headers["content-type"].startswith("text/html")
        assert f'<html lang="{catalog}">' in answer.text
        assert f"<h1>{heading}</h1>" in answer.text
        forwarder.up()
        assert client.post(path, data={"confirm": "1"}).status_code == 200  # pressed again
    assert rows_of(direct, "SELECT address, reason FROM events") == [
        ("reader@example.org", "unsubscribed")
    ]


def test_tracked_clicks_wait_while_the_store_is_away_and_are_written_once_it_is_back(
    forwarded: tuple[StoreURL, StoreURL, Forwarder],
) -> None:
    direct, through, forwarder = forwarded
    tokens = LinkTokens(SECRET, "weekly.example.org", "https://news.example.org/t")
    clicks = ClickLog(through, WebTracking(tokens, lambda number: None), hold=0)
    url = "https://example.org/story"

    async def click_while_away_then_back() -> None:
        clicks.add(Click(7, 0, 0, "first@example.org"), "2026-12-01", url)
        await clicks.flush()  # connected through the forwarder
        forwarder.down()
        clicks.add(Click(7, 0, 0, "while-away@example.org"), "2026-12-01", url)
        clicks.add(Click(7, 0, OPEN, "while-away@example.org"), "2026-12-01", "")
        for _ in range(2):  # the held connection cut, then no new one
            await clicks.flush()
            assert (len(clicks.pending), clicks.recorded) == (2, 1)
        forwarder.up()
        await clicks.flush()
        assert (len(clicks.pending), clicks.recorded) == (0, 3)

    anyio.run(click_while_away_then_back)
    clicks.close()
    assert rows_of(direct, "SELECT address, reason FROM events ORDER BY arrival") == [
        ("first@example.org", "clicked"),
        ("while-away@example.org", "clicked"),
        ("while-away@example.org", "opened"),
    ]
