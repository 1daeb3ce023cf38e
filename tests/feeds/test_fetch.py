"""URL sources against real local servers: a trickle, a failing server, conditional GET."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from digest import Newsletter, SourceError
from digest.errors import FetchError
from digest.feeds.fetch import FeedCache, Fetcher
from digest.feeds.sources import Source, read_source

from ..helpers import FIXTURES

FEED = (FIXTURES / "feeds" / "atom.xml").read_bytes()

#: The test servers listen on loopback, which a build reaches only when allowed by name.
LOCAL = frozenset({"127.0.0.1"})

Handler = Callable[[http.server.BaseHTTPRequestHandler, int], None]


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], tuple[str, list[dict[str, str]]]]]:
    """Start a local HTTP server whose GET is ``handler(request, count)``; yields its URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(handler: Handler) -> tuple[str, list[dict[str, str]]]:
        seen: list[dict[str, str]] = []

        class Handle(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(dict(self.headers))
                handler(self, len(seen))

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/feed.xml", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def send(
    request: http.server.BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str
) -> None:
    request.send_response(status)
    for name, value in headers.items():
        request.send_header(name.replace("_", "-"), value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def test_a_trickling_server_is_cut_off_at_the_deadline(serve, newsletter: Newsletter) -> None:  # type: ignore[no-untyped-def]
    def trickle(request: http.server.BaseHTTPRequestHandler, count: int) -> None:
        request.send_response(200)
        request.send_header("Content-Length", str(len(FEED)))
        request.end_headers()
        for byte in FEED:
            request.wfile.write(bytes([byte]))
            request.wfile.flush()
            time.sleep(0.5)

    url, _ = serve(trickle)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"did not finish within the deadline of 1.5 s"):
        read_source(Source(url=url, deadline=1.5), newsletter, Fetcher(allow_hosts=LOCAL))
    assert time.monotonic() - started < 4


def test_server_errors_are_retried_with_backoff(serve, newsletter: Newsletter) -> None:  # type: ignore[no-untyped-def]
    def flaky(request: http.server.BaseHTTPRequestHandler, count: int) -> None:
        send(request, 503) if count < 3 else send(request, 200, FEED)

    url, seen = serve(flaky)
    waits: list[float] = []
    fetch = Fetcher(sleep=waits.append, allow_hosts=LOCAL)
    result = read_source(Source(url=url), newsletter, fetch)
    assert result.articles and len(seen) == 3 and waits == [1.0, 2.0]


def test_retries_end_with_the_last_reason(serve) -> None:  # type: ignore[no-untyped-def]
    url, seen = serve(lambda request, count: send(request, 502))
    with pytest.raises(FetchError, match=r"^HTTP 502 Bad Gateway after 3 tries$"):
        Fetcher(sleep=lambda _: None, allow_hosts=LOCAL)(url)
    assert len(seen) == 3


def test_a_missing_feed_is_not_retried(serve) -> None:  # type: ignore[no-untyped-def]
    url, seen = serve(lambda request, count: send(request, 404))
    with pytest.raises(FetchError, match=r"^HTTP 404 Not Found$"):
        Fetcher(sleep=lambda _: None, allow_hosts=LOCAL)(url)
    assert len(seen) == 1


def validators(request: http.server.BaseHTTPRequestHandler, count: int) -> None:
    """A server that answers 304 to a request naming its ETag."""
    if request.headers.get("If-None-Match") == '"v1"':
        send(request, 304)
    else:
        send(request, 200, FEED, ETag='"v1"', Last_Modified="Mon, 23 Nov 2026 08:00:00 GMT")


def test_conditional_get_reads_an_unchanged_feed_from_the_cache(  # type: ignore[no-untyped-def]
    serve, tmp_path: Path
) -> None:
    url, seen = serve(validators)
    fetch = Fetcher(cache=FeedCache(tmp_path / "feeds.sqlite3"), allow_hosts=LOCAL)
    assert fetch(url) == FEED
    assert fetch(url) == FEED
    assert "If-None-Match" not in seen[0]
    assert seen[1]["If-None-Match"] == '"v1"'
    assert seen[1]["If-Modified-Since"] == "Mon, 23 Nov 2026 08:00:00 GMT"


def test_weekly_builds_keep_the_feed_beside_the_history(  # type: ignore[no-untyped-def]
    serve, tmp_path: Path
) -> None:
    from digest.schedule.build import feed_cache_path, run_build
    from digest.schedule.config import load_config

    url, seen = serve(validators)
    config_path = tmp_path / "weekly.toml"
    config_path.write_text(
        f'[[sources]]\nurl = "{url}"\n[newsletter]\nname = "W"\n'
        '[newsletter.contact]\npostal_address = "1 Main St"\nunsubscribe_url = "https://w.example/u"\n'
        '[newsletter.sender]\nname = "W"\naddress = "w@example.com"\n'
        '[network]\nallow_hosts = ["127.0.0.1"]\n'
    )
    config = load_config(config_path)
    first = run_build(config, tmp_path / "out", on=date(2026, 11, 30))
    second = run_build(config, tmp_path / "out", on=date(2026, 11, 30))
    assert first.digest.html == second.digest.html
    assert [h.get("If-None-Match") for h in seen] == [None, '"v1"']
    assert feed_cache_path(config) == tmp_path / "weekly.history.feeds.sqlite3"
    assert feed_cache_path(config).exists()


def test_a_body_over_the_size_limit_is_refused(serve, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import digest.feeds.fetch

    monkeypatch.setattr(digest.feeds.fetch, "MAX_SOURCE_BYTES", len(FEED) - 1)
    url, _ = serve(lambda request, count: send(request, 200, FEED))
    with pytest.raises(FetchError, match=f"larger than {len(FEED) - 1:,} bytes"):
        Fetcher(allow_hosts=LOCAL)(url)


def test_a_status_line_and_headers_trickled_in_are_cut_off_at_the_deadline(  # type: ignore[no-untyped-def]
    serve, newsletter: Newsletter
) -> None:
    def trickle_head(request: http.server.BaseHTTPRequestHandler, count: int) -> None:
        for byte in (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml\r\nX-Slow: " + b"a" * 50
        ):
            try:
                request.wfile.write(bytes([byte]))
                request.wfile.flush()
            except OSError:
                return
            time.sleep(0.3)

    url, _ = serve(trickle_head)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"did not finish within the deadline of 1.5 s"):
        read_source(Source(url=url, deadline=1.5), newsletter, Fetcher(allow_hosts=LOCAL))
    assert time.monotonic() - started < 4


@pytest.mark.parametrize(
    "target", ["ftp://127.0.0.1/feed.xml", "file:///etc/passwd", "data:,<rss></rss>"]
)
def test_a_redirect_to_anything_but_http_is_refused_by_name(  # type: ignore[no-untyped-def]
    serve, newsletter: Newsletter, target: str
) -> None:
    url, seen = serve(lambda request, count: send(request, 302, Location=target))
    with pytest.raises(SourceError, match=r"only http and https|redirect"):
        read_source(Source(url=url), newsletter, Fetcher(allow_hosts=LOCAL))
    assert len(seen) == 1


@pytest.mark.parametrize("body", [b"/etc/passwd", b"/dev/zero", b"/dev/stdin", b"  /etc/hostname"])
def test_a_feed_body_that_names_a_file_is_never_opened(  # type: ignore[no-untyped-def]
    serve, newsletter: Newsletter, body: bytes
) -> None:
    # feedparser opens bytes that name a file: the body must reach it as a file object.
    url, _ = serve(lambda request, count: send(request, 200, body))
    with pytest.raises(SourceError, match=r"not an RSS or Atom feed|no items"):
        read_source(Source(url=url, deadline=5), newsletter, Fetcher(allow_hosts=LOCAL))


def test_fetching_anything_but_http_is_refused() -> None:
    for url in ("file:///etc/passwd", "/etc/passwd", "ftp://127.0.0.1/x"):
        with pytest.raises(FetchError, match="only http and https"):
            Fetcher()(url)


def test_local_sources_that_are_devices_or_fifos_are_refused(
    tmp_path: Path, newsletter: Newsletter
) -> None:
    import os

    fifo = tmp_path / "feed.xml"
    os.mkfifo(fifo)  # nobody writes to it: reading would wait forever
    for path, kind in ((fifo, "FIFO"), (Path("/dev/zero"), "character device")):
        started = time.monotonic()
        with pytest.raises(SourceError, match=f"it is a {kind}"):
            read_source(Source(path=path), newsletter)
        assert time.monotonic() - started < 2


PICTURES = FIXTURES / "pictures"


def _tiny_png(side: int) -> bytes:
    """A real PNG of ``side`` pixels square (one colour), as an icon would be."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\x10\x20\x30" * side for _ in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_pictures_without_a_size_are_probed_and_icons_dropped(
    serve, newsletter: Newsletter
) -> None:  # type: ignore[no-untyped-def]
    files = {"/flower.jpg": (PICTURES / "flower.jpg").read_bytes(), "/p2.png": _tiny_png(16)}
    ranges: list[str] = []

    def site(request: http.server.BaseHTTPRequestHandler, count: int) -> None:
        if request.path == "/feed.xml":
            body = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>A flower show</title><link>https://t.example/a</link><pubDate>Mon, 23 Nov 2026 09:00:00 +0000</pubDate>
<description>&lt;p&gt;Blooms.&lt;/p&gt;&lt;img src="{base}/flower.jpg" alt="Tulips"&gt;</description></item>
<item><title>A tiny picture only</title><link>https://t.example/b</link><pubDate>Mon, 23 Nov 2026 10:00:00 +0000</pubDate>
<description>&lt;p&gt;Words.&lt;/p&gt;&lt;img src="{base}/p2.png" alt="A picture"&gt;</description></item>
</channel></rss>""".encode()
        else:
            body = files[request.path]
            ranges.append(request.headers.get("Range", ""))
        request.send_response(200)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    url, _ = serve(site)
    base = url.removesuffix("/feed.xml")
    result = read_source(Source(url=url), newsletter, Fetcher(retries=0, allow_hosts=LOCAL))
    flower, tiny = sorted(result.articles, key=lambda a: a.title)
    assert (flower.image_width, flower.image_height) == (480, 360)  # as Pillow reads it
    assert tiny.image_url is None  # 16 px square, read from its header: an icon
    assert tiny.title == "A tiny picture only"
    assert ranges == ["bytes=0-65535", "bytes=0-65535"]
