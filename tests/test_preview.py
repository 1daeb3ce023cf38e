"""``digest preview``: the server answers over HTTP and rebuilds when a source file changes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from digest.preview import DESKTOP_WIDTH, PHONE_WIDTH, Preview, make_server
from digest.web.server import ServerLimits

from .helpers import EXAMPLES


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "seed"
    shutil.copytree(EXAMPLES / "tangerangnews", folder)
    preview = Preview(folder / "newsletter.toml", on=date(2025, 9, 16))
    server = make_server(preview, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield preview.base_url, folder
    server.shutdown()
    server.server_close()


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_the_preview_pages(served: tuple[str, Path]) -> None:
    base, _ = served
    status, kind, body = get(base)
    assert status == 200 and kind.startswith("text/html")
    page = body.decode()
    # Each frame is drawn at the width its caption says.
    drawn = re.findall(
        r"<figcaption>(\w+), (\d+) px</figcaption><iframe [^>]*width=\"(\d+)\"", page
    )
    assert [(name, int(said)) for name, said, _ in drawn] == [
        ("Phone", PHONE_WIDTH),
        ("Desktop", DESKTOP_WIDTH),
    ]
    assert all(said == width for _, said, width in drawn)
    assert "Baca selengkapnya" in page  # the text part, shown beside the two widths
    status, _, email = get(base + "email.html")
    assert status == 200 and b'lang="id"' in email
    assert (base + "assets/lead-umkm.png").encode() in email
    status, kind, picture = get(base + "assets/lead-umkm.png")
    assert status == 200 and kind == "image/png" and picture.startswith(b"\x89PNG")
    assert get(base + "assets/../newsletter.toml")[0] == 404
    assert get(base + "email.txt")[2].decode().startswith("TangerangNews")


def test_the_preview_rebuilds_when_the_data_changes(served: tuple[str, Path]) -> None:
    base, folder = served
    version = int(get(base + "version")[2])
    data_file = folder / "edition.json"
    data = json.loads(data_file.read_text())
    data["articles"][0]["title"] = "A changed headline for the lead story"
    data_file.write_text(json.dumps(data))
    later = time.time() + 5
    os.utime(data_file, (later, later))
    assert int(get(base + "version")[2]) == version + 1
    assert b"A changed headline for the lead story" in get(base + "email.html")[2]


def test_a_broken_edit_shows_the_error(served: tuple[str, Path]) -> None:
    base, folder = served
    data_file = folder / "edition.json"
    data_file.write_text("{ broken")
    later = time.time() + 10
    os.utime(data_file, (later, later))
    page = get(base)[2].decode()
    assert 'class="error"' in page and "not valid JSON" in page


def test_only_localhost_hosts_and_well_formed_paths_are_served() -> None:
    import http.client

    from digest.preview import ALLOWED_HOSTS, Preview, make_server

    from .helpers import EXAMPLES

    server = make_server(Preview(EXAMPLES / "riverside" / "newsletter.toml"), port=0)
    thread = __import__("threading").Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        for host, status in [("evil.example", 403), (f"localhost:{port}", 200), ("[::1]", 200)]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/email.txt", headers={"Host": host})
            with connection.getresponse() as response:
                assert response.status == status, host
            connection.close()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/assets/a%00b", headers={"Host": "localhost"})
        with connection.getresponse() as response:
            assert response.status in (400, 404)
        connection.close()
        assert "localhost" in ALLOWED_HOSTS
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def preview_on(folder: Path, limits: ServerLimits) -> Iterator[int]:
    """The preview of ``folder``'s edition served with ``limits``; its port."""
    preview = Preview(folder / "newsletter.toml", on=date(2025, 9, 16))
    server = make_server(preview, port=0, limits=limits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` (an empty read or a reset) within ``within`` s."""
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return True


def test_connections_that_trickle_their_headers_are_cut_and_others_still_served(
    served: tuple[str, Path],
) -> None:
    _, folder = served
    limits = ServerLimits(connections=20, keep_alive=1, head_timeout=1.0)
    with preview_on(folder, limits) as port:
        slow = []
        for _ in range(16):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /email.txt HTTP/1.1\r\nHost: localhost\r\n")
            slow.append(sock)
        started = time.monotonic()
        for _ in range(6):  # one header byte every 0.4 s: never idle for long
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X")
            time.sleep(0.4)
        status, _, _ = get(f"http://127.0.0.1:{port}/email.txt")  # a real reader is served
        assert status == 200
        for sock in slow:  # each was cut at its deadline: the server closed it
            assert closed_by_server(sock, 3)
            sock.close()
        assert time.monotonic() - started < 10


def test_100_idle_connections_do_not_keep_a_reader_waiting(served: tuple[str, Path]) -> None:
    """The old preview (16 threads) answered the next request 11.5 s later."""
    base, _ = served
    port = int(base.rstrip("/").rsplit(":", 1)[1])
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(100)]
    try:
        started = time.monotonic()
        status, _, text = get(base + "email.txt")
        took = time.monotonic() - started
        assert status == 200 and text.startswith(b"TangerangNews")
        assert took < 2, f"the 101st connection waited {took:.1f} s"
    finally:
        for sock in idle:
            sock.close()


def test_an_idle_connection_is_closed_after_its_timeout(served: tuple[str, Path]) -> None:
    _, folder = served
    with preview_on(folder, ServerLimits(keep_alive=1, head_timeout=1.5)) as port:
        silent = socket.create_connection(("127.0.0.1", port), timeout=10)  # never says a word
        kept = socket.create_connection(("127.0.0.1", port), timeout=10)  # idle after a request
        kept.sendall(b"GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert closed_by_server(kept, 5) and closed_by_server(silent, 5)
        assert 0.5 < time.monotonic() - started < 5
        silent.close()
        kept.close()
        assert get(f"http://127.0.0.1:{port}/version")[0] == 200  # and it still serves


def test_only_get_is_answered_and_never_with_a_500(served: tuple[str, Path]) -> None:
    base, _ = served
    for method in ("POST", "PUT", "DELETE"):
        request = urllib.request.Request(base + "email.html", data=b"x", method=method)
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except urllib.error.HTTPError as error:
            assert error.code == 405
            error.close()
        else:
            raise AssertionError(f"{method} was answered")


def test_the_preview_writes_nothing(tmp_path: Path) -> None:
    """Not the history, not the feed cache: a preview of a feed source only reads."""
    import http.server

    feed = (Path(__file__).parent / "fixtures" / "feeds" / "atom.xml").read_bytes()

    class Feed(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", str(len(feed)))
            self.end_headers()
            self.wfile.write(feed)

        def log_message(self, *args: object) -> None:
            pass

    feed_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=feed_server.serve_forever, daemon=True).start()
    folder = tmp_path / "site"
    shutil.copytree(EXAMPLES / "riverside", folder)
    before = sorted(p.name for p in folder.iterdir())
    url = f"http://127.0.0.1:{feed_server.server_address[1]}/atom.xml"
    (folder / "newsletter.toml").write_text(
        (EXAMPLES / "riverside" / "newsletter.toml")
        .read_text()
        .replace("history = false", "history = true")
        + f'\n[[sources]]\nurl = "{url}"\n[network]\nallow_hosts = ["127.0.0.1"]\n'
    )
    try:
        preview = Preview(folder / "newsletter.toml", date(2026, 11, 30), "http://localhost:9/")
        preview.refresh()
        assert preview.error is None, preview.error
        # The feed's stories were read: its entry stands in both parts of the email.
        assert "Tide tables for December" in preview.text
        assert "Tide tables for December" in preview.html
    finally:
        feed_server.shutdown()
        feed_server.server_close()
    assert sorted(p.name for p in folder.iterdir()) == before


@pytest.mark.parametrize("history", [False, True])
def test_without_a_date_the_preview_shows_the_newest_edition_not_an_error(
    tmp_path: Path, history: bool
) -> None:
    from .helpers import run_digest

    folder = tmp_path / "riverside"
    shutil.copytree(EXAMPLES / "riverside", folder)
    # Stories of September: the newest scheduled date (today's week) has nothing new.
    articles = folder / "articles.json"
    articles.write_text(articles.read_text().replace("2026-11-", "2026-09-"))
    config = folder / "newsletter.toml"
    config.write_text(
        config.read_text() + '\n[newsletter.schedule.cadence]\nevery = "week"\nweekday = "monday"\n'
    )
    if history:
        config.write_text(config.read_text().replace("history = false", "history = true"))
        built = run_digest(
            "build", "--config", config, "--date", "2026-09-28", "--out", folder / "o"
        )
        assert built.returncode == 0, built.stderr
    preview = Preview(config)
    server = make_server(preview, port=0)
    try:
        page = preview.page()
    finally:
        server.server_close()
    assert preview.error is None, preview.error
    assert "Nothing new for" in page and "this is the edition of 2026-09-28" in page
    assert "Footbridge reopens" in preview.text
