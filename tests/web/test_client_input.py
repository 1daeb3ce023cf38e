"""Client input never gets a 500: the desk and ``digest serve`` as processes, and every route.

Real parts: ``digest desk`` and ``digest serve`` started through the entry point, spoken to
over raw sockets on 127.0.0.1 (a 40 MB chunked body, a client gone mid-body) with their logs
read back; then hypothesis drives every route of both apps with random methods, headers and
bodies, and nothing changes without the session or a provider's secret.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route
from starlette.testclient import TestClient

from digest.schedule.build import open_history
from digest.schedule.config import BuildConfig, load_config, suppression_path
from digest.schedule.desk import Desk
from digest.suppression import SuppressionList, UnsubscribeTokens
from digest.web import WebSettings, make_app
from digest.web.body import MAX_DEPTH, json_depth, json_value
from digest.web.desk import DeskSession, make_desk

from ..helpers import EXAMPLES, digest_command
from ..mailservers import free_port

ON = "2026-11-30"
RESEND_SECRET = "whsec_" + base64.b64encode(b"client-input-signing-secret").decode()
DEEP = b"[" * 30_000 + b"]" * 30_000


def riverside(tmp_path: Path) -> Path:
    """A copy of the riverside example with a history (plans and approvals live there)."""
    folder = tmp_path / "riverside"
    shutil.copytree(EXAMPLES / "riverside", folder)
    config = folder / "newsletter.toml"
    text = config.read_text().replace("history = false", 'history = "weekly.history.sqlite3"')
    config.write_text(text + '\n[desk]\napproval = true\napprover = "Sam Editor"\n')
    return config


@dataclass
class Running:
    """A ``digest`` process serving on ``port``; its log is ``log``'s file."""

    process: subprocess.Popen[str]
    port: int
    log: Path

    def stop(self) -> str:
        """Stop it (Ctrl+C) and give its log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.log.read_text()

    def rss(self) -> int:
        """The process's resident memory, in bytes."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) * 1024  # type: ignore[index]


def start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Running:
    """``digest ARGS --port PORT`` as a process, once it has said it is serving."""
    port = free_port()
    log = tmp_path / f"{args[0]}.log"
    out = tmp_path / f"{args[0]}.out"
    with out.open("w") as stdout, log.open("w") as stderr:
        process = subprocess.Popen(
            [*digest_command(), *args, "--port", str(port)],
            stdout=stdout,
            stderr=stderr,
            text=True,
            env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
    return Running(process, port, log)


@pytest.fixture
def desk_process(tmp_path: Path) -> Iterator[tuple[Running, dict[str, str], Path]]:
    """``digest desk`` running, a session opened: its headers, and the config."""
    config = riverside(tmp_path)
    running = start(tmp_path, "desk", "--config", str(config), "--date", ON)
    try:
        printed = ""
        deadline = time.monotonic() + 30
        while "token=" not in printed and time.monotonic() < deadline:
            printed = (tmp_path / "desk.out").read_text()
            time.sleep(0.05)
        token = re.search(r"token=(\S+)", printed)[1]  # type: ignore[index]
        connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
        connection.request("GET", f"/?token={token}", headers={"Host": host(running)})
        with connection.getresponse() as answer:
            assert answer.status == 303
            cookie = answer.headers["set-cookie"].split(";", 1)[0]
        connection.request("GET", "/", headers={"Host": host(running), "Cookie": cookie})
        with connection.getresponse() as answer:
            page = answer.read().decode()
        connection.close()
        csrf = re.search(r'name="csrf" content="([^"]+)"', page)[1]  # type: ignore[index]
        headers = {
            "Host": host(running),
            "Cookie": cookie,
            "X-CSRF-Token": csrf,
            "Content-Type": "application/json",
        }
        yield running, headers, config
    finally:
        running.stop()


def host(running: Running) -> str:
    return f"127.0.0.1:{running.port}"


def post(running: Running, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers={"Host": host(running), **headers})
        with connection.getresponse() as answer:
            return answer.status, answer.read()
    finally:
        connection.close()


def saved(config: Path | BuildConfig) -> tuple[str, str | None]:
    """The plan and the approval saved for the edition (what a change would touch)."""
    history = open_history(load_config(config) if isinstance(config, Path) else config)
    assert history is not None
    with history:
        approval = history.approval(date.fromisoformat(ON))
        plan = history.plan(date.fromisoformat(ON))
    return plan.model_dump_json(), approval.approver if approval else None


def one_line_error(body: bytes) -> str:
    error = json.loads(body)["error"]
    assert isinstance(error, str) and error and "\n" not in error
    return error


def test_approve_takes_an_object_only(
    desk_process: tuple[Running, dict[str, str], Path],
) -> None:
    running, headers, config = desk_process
    before = saved(config)
    for body in (b"[]", b'"x"', b"null", b"3", b'{"name": ["Sam"]}', b"{nope"):
        status, answer = post(running, "/approve", body, headers)
        assert status == 400, (body, answer)
        one_line_error(answer)
    _, answer = post(running, "/approve", b"null", headers)
    assert one_line_error(answer) == "the body is not a JSON object (it is null)"
    assert saved(config) == before
    status, answer = post(running, "/approve", b'{"name": "Sam Editor"}', headers)
    assert status == 200 and json.loads(answer)["approver"] == "Sam Editor"
    assert "Traceback" not in running.stop()


def test_json_nested_30000_deep_is_refused_before_it_is_parsed(
    desk_process: tuple[Running, dict[str, str], Path],
) -> None:
    running, headers, config = desk_process
    before = saved(config)
    for path in ("/plan", "/approve"):
        for body in (DEEP, b'{"name": ' + DEEP + b"}", b'{"lead": ' + b"{" * 9000):
            status, answer = post(running, path, body, headers)
            assert status == 400, (path, answer[:200])
            assert "nests deeper than 32" in one_line_error(answer)
    assert saved(config) == before
    assert "Traceback" not in running.stop()


def chunked_post(
    running: Running, path: str, headers: dict[str, str], total: int
) -> tuple[bytes, int]:
    """POST ``total`` bytes in 64 KB chunks until the server answers; the answer, bytes sent."""
    sock = socket.create_connection(("127.0.0.1", running.port), timeout=30)
    head = f"POST {path} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
    headers = {"Host": host(running), **headers}
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    sock.sendall(head.encode())
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    pending, sent, answer = b"", 0, b""
    sock.setblocking(False)
    try:
        while sent < total:
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
            if answer:
                break
            pending = pending or chunk
            try:
                written = sock.send(pending)
            except BlockingIOError:
                time.sleep(0.005)
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            sent, pending = sent + written, pending[written:]
        sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in answer:
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
        except (ConnectionResetError, TimeoutError):
            pass
    finally:
        sock.close()
    return answer, sent


def test_a_40_mb_chunked_plan_is_cut_at_64_kb(
    desk_process: tuple[Running, dict[str, str], Path],
) -> None:
    running, headers, config = desk_process
    before, rss = saved(config), running.rss()
    answer, sent = chunked_post(running, "/plan", headers, 40 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 8 * 1024 * 1024, f"{sent} bytes went in before the answer"
    grown = running.rss() - rss
    assert grown < 20 * 1024 * 1024, f"the desk grew {grown / 2**20:.0f} MB"
    # A Content-Length that owns up to it is refused unread.
    status, _ = post(running, "/plan", b"{}", {**headers, "Content-Length": "41943040"})
    assert status == 413
    assert saved(config) == before
    assert "Traceback" not in running.stop()


def gone_mid_body(running: Running, path: str, headers: dict[str, str]) -> None:
    """Send half a body, then go away."""
    sock = socket.create_connection(("127.0.0.1", running.port), timeout=10)
    head = f"POST {path} HTTP/1.1\r\nContent-Length: 60000\r\n"
    headers = {"Host": host(running), **headers}
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    sock.sendall(head.encode() + b'{"name": "' + b"x" * 1000)
    time.sleep(0.3)
    sock.close()


def test_a_desk_client_gone_mid_body_is_one_line_of_log(
    desk_process: tuple[Running, dict[str, str], Path],
) -> None:
    running, headers, _ = desk_process
    gone_mid_body(running, "/approve", headers)
    time.sleep(0.5)
    assert post(running, "/approve", b'{"name": "Sam"}', headers)[0] == 200  # still serving
    log = running.stop()
    assert "Traceback" not in log, log
    lines = [line for line in log.splitlines() if "went away" in line]
    assert lines == ["POST /approve: the client went away mid-request"], log


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[Running, Path]]:
    config = tmp_path / "newsletter.toml"
    text = (EXAMPLES / "riverside" / "newsletter.toml").read_text()
    config.write_text(text.replace('data = "articles.json"', "").replace('assets = "images"', ""))
    env = {
        "DIGEST_UNSUBSCRIBE_SECRET": "a-secret-for-the-client-input-test",
        "DIGEST_RESEND_WEBHOOK_SECRET": RESEND_SECRET,
        "DIGEST_POSTMARK_WEBHOOK_PASSWORD": "pm-password",
    }
    running = start(tmp_path, "serve", "--config", str(config), env=env)
    try:
        yield running, config
    finally:
        running.stop()


def suppressions(config: Path) -> list[Any]:
    path = suppression_path(load_config(config))
    if not path.exists():
        return []
    with SuppressionList(path) as listed:
        return list(listed)


def test_a_400_digit_svix_timestamp_is_refused_not_a_500(
    serve_process: tuple[Running, Path],
) -> None:
    running, config = serve_process
    for stamp in ("9" * 400, "-1", "1e9", "\u00b2\u00b3", " 12"):
        status, answer = post(
            running,
            "/webhooks/resend",
            b'{"type": "email.bounced", "data": {"to": ["a@example.org"]}}',
            {"svix-id": "msg_1", "svix-timestamp": stamp, "svix-signature": "v1,AAAA"},
        )
        assert status in (400, 401), (stamp, answer)
        assert answer.count(b"\n") == 1
    status, answer = post(running, "/webhooks/postmark", DEEP, {"Authorization": "Basic x"})
    assert status == 401
    assert suppressions(config) == []
    assert "Traceback" not in running.stop()


def test_a_serve_client_gone_mid_body_is_one_line_of_log(
    serve_process: tuple[Running, Path],
) -> None:
    running, _ = serve_process
    gone_mid_body(running, "/webhooks/resend", {})
    time.sleep(0.5)
    answer, sent = chunked_post(running, "/webhooks/resend", {}, 40 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413") and sent < 8 * 1024 * 1024
    log = running.stop()
    assert "Traceback" not in log, log
    lines = [line for line in log.splitlines() if "went away" in line]
    assert len(lines) == 1 and lines[0].endswith(
        "POST /webhooks/resend: the client went away mid-request"
    ), log


# The property: every route of both apps, random methods, headers and bodies.

METHODS = st.one_of(
    st.just("POST"),
    st.just("GET"),
    st.sampled_from(["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "X-WHAT"]),
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSONISH.map(lambda value: json.dumps(value).encode()),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    st.sampled_from(
        [b"", b"[]", b'"x"', b"null", b"{}", b"List-Unsubscribe=One-Click", b"confirm=1"]
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "lead": st.text(max_size=40),
            "name": JSONISH,
            "leave_out": st.lists(st.text(max_size=40), max_size=3),
            "subject": JSONISH,
            "Type": st.sampled_from(["Notification", "SubscriptionConfirmation"]),
            "RecordType": st.sampled_from(["Bounce", "SpamComplaint", "SubscriptionChange"]),
            "type": st.sampled_from(["email.bounced", "email.complained"]),
        },
    ).map(lambda value: json.dumps(value).encode()),
)
HEADER_VALUES = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
) | st.sampled_from(["9" * 400, "-1", "application/json", "Basic cG9zdG1hcms6eA=="])
ANY_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "content-type",
            "x-csrf-token",
            "authorization",
            "svix-id",
            "svix-timestamp",
            "svix-signature",
            "x-amz-sns-message-type",
            "cookie",
            "accept",
        ]
    ),
    HEADER_VALUES,
    max_size=5,
)
SIGNED_LOOKING = st.fixed_dictionaries(
    {
        "svix-id": st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1),
        "svix-timestamp": st.one_of(st.just("9" * 400), st.integers().map(str), HEADER_VALUES),
        "svix-signature": st.sampled_from(["v1,AAAA", "v1,", "v2,x y"]),
    }
)
HEADERS = st.one_of(ANY_HEADERS, SIGNED_LOOKING)
SEGMENTS = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
    min_size=1,
    max_size=30,
)


def paths(app: Any) -> list[str]:
    """A path for each route of ``app`` (its parameters left to fill)."""
    found = [route.path for route in app.routes if isinstance(route, Route)]
    assert found
    return found


def fill(path: str, draw: Any) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: draw(SEGMENTS), path)


def serve_app(tmp_path: Path) -> tuple[Any, WebSettings]:
    tokens = UnsubscribeTokens("unsubscribe-secret-for-the-tests", "weekly.example.org")
    web = WebSettings(
        suppressions=tmp_path / "suppressions.sqlite3",
        tokens=tokens,
        sns_topics=frozenset({"arn:aws:sns:us-east-1:123456789012:bounces"}),
        postmark_password="pm-password",
        resend_secret=RESEND_SECRET,
        fetch=lambda url: (_ for _ in ()).throw(OSError("no network in the test")),
        max_body=64 * 1024,
    )
    return make_app(web), web


def test_every_route_of_serve_answers_random_requests_without_a_5xx(tmp_path: Path) -> None:
    app, web = serve_app(tmp_path)
    routes = paths(app)
    assert {"/unsubscribe/{token}", "/webhooks/ses", "/webhooks/resend"} <= set(routes)

    with TestClient(app, raise_server_exceptions=False) as client:

        @settings(max_examples=300, deadline=None, derandomize=True)
        @given(st.data(), METHODS, st.sampled_from(routes), HEADERS, BODIES)
        def check(data: Any, method: str, route: str, headers: Any, body: bytes) -> None:
            path = fill(route, data.draw)
            answer = client.request(method, path, content=body, headers=headers)
            assert answer.status_code < 500, (method, path, headers, body[:100], answer.text)
            assert "\n" not in answer.text.rstrip("\n") or answer.headers.get(
                "content-type", ""
            ).startswith("text/html")

        check()
    with SuppressionList(web.suppressions) as listed:
        assert list(listed) == []  # no secret, no valid token: nothing recorded


@pytest.fixture(scope="module")
def desk_edition(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    config = riverside(tmp_path_factory.mktemp("desk"))
    return Desk(load_config(config), date.fromisoformat(ON))


def test_every_route_of_the_desk_answers_random_requests_without_a_5xx(
    desk_edition: Desk,
) -> None:
    session = DeskSession()
    port = 8765
    app = make_desk(desk_edition, session, port, send_proof=None)
    routes = paths(app)
    assert {"/plan", "/approve", "/email", "/state", "/proof"} <= set(routes)
    base = f"http://127.0.0.1:{port}"
    before = saved(desk_edition.config)

    with TestClient(app, base_url=base, raise_server_exceptions=False) as stranger:

        @settings(
            max_examples=200,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(st.data(), METHODS, st.sampled_from(routes), HEADERS, BODIES)
        def anonymous(data: Any, method: str, route: str, headers: Any, body: bytes) -> None:
            path = fill(route, data.draw)
            answer = stranger.request(method, path, content=body, headers=headers)
            assert answer.status_code < 500, (method, path, headers, body[:100], answer.text)

        anonymous()
    assert saved(desk_edition.config) == before  # no session: nothing changed
    assert session.session is None

    with TestClient(app, base_url=base, raise_server_exceptions=False) as editor:
        assert editor.get(f"/?token={session.token}", follow_redirects=False).status_code == 303

        @settings(
            max_examples=300,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(st.data(), METHODS, st.sampled_from(routes), HEADERS, BODIES, st.booleans())
        def signed_in(
            data: Any, method: str, route: str, headers: Any, body: bytes, csrf: bool
        ) -> None:
            path = fill(route, data.draw)
            if csrf:
                headers = {**headers, "x-csrf-token": session.csrf}
            answer = editor.request(method, path, content=body, headers=headers)
            assert answer.status_code < 500, (method, path, headers, body[:100], answer.text)
            json_answer = answer.headers.get("content-type") == "application/json"
            if answer.status_code >= 400 and route in ("/plan", "/approve") and json_answer:
                one_line_error(answer.content)

        signed_in()


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_value(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    with pytest.raises(Exception, match="nests deeper than 32"):
        json_value(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))


@given(JSONISH)
def test_any_json_within_the_depth_reads_back_as_json_does(value: Any) -> None:
    text = json.dumps(value).encode()
    if json_depth(text) <= MAX_DEPTH:
        assert json_value(text) == json.loads(text)


def test_the_email_has_a_policy_of_its_own_that_runs_nothing(desk_edition: Desk) -> None:
    session = DeskSession()
    app = make_desk(desk_edition, session, 8766, send_proof=None)
    with TestClient(app, base_url="http://127.0.0.1:8766") as editor:
        assert editor.get(f"/?token={session.token}", follow_redirects=False).status_code == 303
        page = editor.get("/").text
        email = editor.get("/email?scheme=dark&pictures=on")
    assert re.search(r'<iframe id="email"[^>]* sandbox>', page)
    policy = email.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'self'" in policy and policy.endswith("sandbox")
    assert "data:image/" in email.text  # the assets' pictures, inline: no request to make


def test_a_body_that_trickles_in_is_cut_at_its_deadline() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse

    from digest.web.body import Refused, read_body

    from .served import Served

    async def echo(request: Any) -> Any:
        try:
            return PlainTextResponse(str(len(await read_body(request, 1000, deadline=1.0))))
        except Refused as refused:
            return PlainTextResponse(refused.reason, refused.status)

    served = Served(Starlette(routes=[Route("/", echo, methods=["POST"])]))
    try:
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n")
        started, answer = time.monotonic(), b""
        for _ in range(40):  # a byte every 0.1 s: never idle, never done
            sock.sendall(b"x")
            time.sleep(0.1)
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                answer = sock.recv(4096)
            sock.setblocking(True)
            if answer:
                break
        sock.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - started < 2.5
    finally:
        served.stop()
