"""One rule for every outgoing request: public addresses only, unless a host is allowed by name.

Feeds, picture probes and SNS's certificate and subscription URLs share one opener. These tests
run it against a real HTTP server on 127.0.0.1 (which the rule refuses unless allowed), through
the library, the ``digest`` command and the SES webhook.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from digest import Newsletter, SourceError
from digest.errors import FetchError
from digest.feeds.fetch import Fetcher, refused_address
from digest.feeds.sources import Source, read_source
from digest.web import WebSettings, make_app
from digest.web.settings import fetch_https

from ..helpers import FIXTURES
from ..web.sns import CERT_URL, TOPIC, Sns

PICTURE = (FIXTURES / "pictures" / "flower.jpg").read_bytes()


@dataclass
class Site:
    """A real HTTP server on 127.0.0.1: the paths asked for, and every connection accepted."""

    port: int
    pages: dict[str, tuple[int, dict[str, str], bytes]]
    hits: list[str] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def site() -> Iterator[Site]:
    made = Site(0, {})

    class Handle(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            made.hits.append(self.path)
            status, headers, body = made.pages.get(self.path, (404, {}, b"not here"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self) -> tuple[socket.socket, object]:
            sock, address = super().get_request()
            made.connections.append(str(address))
            return sock, address

    server = Server(("127.0.0.1", 0), Handle)
    made.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield made
    server.shutdown()
    server.server_close()


def feed(*pictures: str) -> bytes:
    """An RSS feed of one story per picture URL (none declares its size)."""
    items = "".join(
        f"<item><title>Story {n}</title><link>https://news.example/{n}</link>"
        f"<pubDate>Mon, 23 Nov 2026 0{n}:00:00 +0000</pubDate>"
        f'<description>&lt;p&gt;Words.&lt;/p&gt;&lt;img src="{url}" alt="A view"&gt;</description>'
        "</item>"
        for n, url in enumerate(pictures, 1)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>{items}'
        "</channel></rss>"
    ).encode()


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and "\r" not in text, text
    return text


# --- the addresses refused ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "reserved"),  # carrier-grade NAT: not on the internet
        ("::ffff:127.0.0.1", "loopback"),  # IPv4 in IPv6 is judged as itself
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("93.184.215.14", None),
        ("8.8.8.8", None),
        ("172.32.0.1", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_the_addresses_refused_and_why(address: str, kind: str | None) -> None:
    assert refused_address(address) == kind


PRIVATE = [
    ipaddress.ip_network(net)
    for net in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")
]


@given(st.sampled_from(PRIVATE), st.integers(min_value=0, max_value=2**24 - 1))
def test_every_address_of_a_private_network_is_refused_and_so_is_its_ipv6_form(
    network: ipaddress.IPv4Network, offset: int
) -> None:
    address = network[offset % network.num_addresses]
    kind = refused_address(str(address))
    assert kind is not None
    assert refused_address(f"::ffff:{address}") == kind


# --- feeds ---------------------------------------------------------------------------------


def test_a_feed_at_a_loopback_address_is_refused_unless_allowed(
    site: Site, newsletter: Newsletter
) -> None:
    site.pages["/feed.xml"] = (200, {}, feed())
    url = site.url("/feed.xml")
    with pytest.raises(FetchError) as refused:
        Fetcher()(url)
    assert one_line(refused.value) == (
        f"{url}: refused to connect to 127.0.0.1, a loopback address "
        "(name the host in [network] allow_hosts to allow it)"
    )
    with pytest.raises(SourceError, match=r"refused to connect to 127\.0\.0\.1"):
        read_source(Source(url=url), newsletter)  # the default fetcher allows nothing
    assert site.connections == []
    assert Fetcher(allow_hosts=frozenset({"127.0.0.1"}))(url) == feed()
    assert site.hits == ["/feed.xml"]


def test_a_name_is_judged_by_the_address_it_resolves_to(site: Site) -> None:
    site.pages["/feed.xml"] = (200, {}, feed())
    with pytest.raises(FetchError, match=r"refused to connect to (127\.0\.0\.1|::1), a loopback"):
        Fetcher()(site.url("/feed.xml", host="localhost"))
    with pytest.raises(FetchError, match="refused"):  # allowing the address is not the name
        Fetcher(allow_hosts=frozenset({"127.0.0.1"}))(site.url("/feed.xml", host="localhost"))
    assert site.connections == []
    assert Fetcher(allow_hosts=frozenset({"localhost"}))(site.url("/feed.xml", "localhost"))


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1:{port}/feed.xml", "http://[::1]:{port}/feed.xml", "http://169.254.169.254/"],
)
def test_a_redirect_from_an_allowed_host_to_a_refused_address_is_refused(
    site: Site, target: str
) -> None:
    location = target.format(port=site.port)
    site.pages["/moved"] = (302, {"Location": location}, b"")
    site.pages["/feed.xml"] = (200, {}, feed())
    started = time.monotonic()
    with pytest.raises(FetchError) as refused:
        Fetcher(allow_hosts=frozenset({"localhost"}))(site.url("/moved", host="localhost"))
    assert time.monotonic() - started < 2  # nothing waited on 169.254.169.254
    message = one_line(refused.value)
    assert message.startswith(f"{location}: refused to connect to ")
    assert site.hits == ["/moved"]


def test_a_redirect_loop_is_one_line(site: Site) -> None:
    site.pages["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(FetchError) as looped:
        Fetcher(allow_hosts=frozenset({"127.0.0.1"}), retries=0)(site.url("/loop"))
    assert one_line(looped.value).startswith(f"{site.url('/loop')}: HTTP 302 redirects in a loop")


def test_169_254_169_254_is_refused_without_connecting() -> None:
    """In a process of its own that records every connection attempt (an audit hook)."""
    code = (
        "import json, sys\n"
        "tried = []\n"
        "sys.addaudithook(lambda e, a: tried.append(repr(a[1])) if e == 'socket.connect' else 0)\n"
        "from digest.feeds.fetch import Fetcher, FetchError\n"
        "try:\n"
        "    Fetcher(retries=0).head('http://169.254.169.254/latest/meta-data/iam/x.png')\n"
        "except FetchError as error:\n"
        "    print(json.dumps([str(error), tried]))\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 30
    message, tried = json.loads(done.stdout)
    assert tried == []
    assert "refused to connect to 169.254.169.254, a link-local address" in message


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_through_a_proxy_the_target_is_checked_before_the_proxy_is_asked(
    site: Site, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    """The proxy the environment names is reached (on loopback here); the target is judged."""
    monkeypatch.setenv(f"{scheme}_proxy", site.url(""))
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    for target in ("169.254.169.254/latest/meta-data/", "127.0.0.1:9/", "[::1]/", "localhost/"):
        with pytest.raises(FetchError, match=r"refused to connect to \S+, a (link-local|loopback)"):
            Fetcher(retries=0)(f"{scheme}://{target}")
    assert site.connections == []
    # A public name (or one only the proxy can resolve) goes to the proxy.
    site.pages["http://feeds.example/feed.xml"] = (200, {}, feed())
    if scheme == "http":
        assert Fetcher(retries=0)("http://feeds.example/feed.xml") == feed()
        assert site.hits == ["http://feeds.example/feed.xml"]


# --- pictures ------------------------------------------------------------------------------


def test_a_picture_at_a_refused_address_is_never_probed(site: Site, newsletter: Newsletter) -> None:
    site.pages["/feed.xml"] = (200, {}, feed(site.url("/pixel.jpg")))
    site.pages["/pixel.jpg"] = (200, {}, PICTURE)
    result = read_source(
        Source(url=site.url("/feed.xml", host="localhost")),
        newsletter,
        Fetcher(allow_hosts=frozenset({"localhost"}), retries=0),
    )
    assert site.hits == ["/feed.xml"]
    (story,) = result.articles
    assert story.image_width is None  # its size was not read
    # The same feed with the picture's host allowed: the probe is made, and seen.
    read_source(
        Source(url=site.url("/feed.xml", host="localhost")),
        newsletter,
        Fetcher(allow_hosts=frozenset({"localhost", "127.0.0.1"}), retries=0),
    )
    assert site.hits == ["/feed.xml", "/feed.xml", "/pixel.jpg"]


CONFIG = """\
[[sources]]
url = "{feed}"
[newsletter]
name = "W"
[newsletter.contact]
postal_address = "1 Main St"
unsubscribe_url = "https://w.example/u"
[newsletter.sender]
name = "W"
address = "w@example.com"
"""


def digest_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_digest_build_probes_no_picture_at_loopback(site: Site, tmp_path: Path) -> None:
    site.pages["/feed.xml"] = (200, {}, feed(site.url("/pixel.jpg")))
    site.pages["/pixel.jpg"] = (200, {}, PICTURE)
    config = tmp_path / "weekly.toml"
    config.write_text(
        CONFIG.format(feed=site.url("/feed.xml", host="localhost"))
        + '[network]\nallow_hosts = ["localhost"]\n'
    )
    args = ("build", "--config", str(config), "--out", "out", "--date", "2026-11-30", "-q")
    done = digest_command(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert site.hits == ["/feed.xml"]  # and never /pixel.jpg


def test_digest_build_refuses_a_feed_at_loopback_in_one_line(site: Site, tmp_path: Path) -> None:
    site.pages["/feed.xml"] = (200, {}, feed())
    config = tmp_path / "weekly.toml"
    config.write_text(CONFIG.format(feed=site.url("/feed.xml")))
    args = ("build", "--config", str(config), "--out", "out", "--date", "2026-11-30")
    done = digest_command(*args, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"{site.url('/feed.xml')}: refused to connect to 127.0.0.1, a loopback" in done.stderr
    assert site.connections == []


@pytest.mark.parametrize(
    "host",
    [
        "localhost:8000",
        "127.0.0.1:18040",
        "[::1]:8000",
        "::::::::",
        "127.0.0.1.",
        "[127.0.0.1]",
        "feeds..internal",
        "http://feeds.internal",
        "a/b",
        "x y",
        "",
    ],
)
def test_allow_hosts_takes_host_names_only(tmp_path: Path, host: str) -> None:
    from digest.errors import ConfigError
    from digest.schedule.config import load_config

    config = tmp_path / "weekly.toml"
    config.write_text(
        CONFIG.format(feed="https://feeds.example/f.xml")
        + f"[network]\nallow_hosts = [{json.dumps(host)}]\n"
    )
    with pytest.raises(ConfigError, match=r"allow_hosts"):
        load_config(config)


@pytest.mark.parametrize(
    ("host", "kept"),
    [
        ("localhost", "localhost"),
        ("FEEDS.Internal", "feeds.internal"),
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("fd00::10", "fd00::10"),
    ],
)
def test_allow_hosts_takes_names_and_addresses_as_urls_write_them(
    tmp_path: Path, host: str, kept: str
) -> None:
    from digest.schedule.config import load_config

    config = tmp_path / "weekly.toml"
    config.write_text(
        CONFIG.format(feed="https://feeds.example/f.xml")
        + f"[network]\nallow_hosts = [{json.dumps(host)}]\n"
    )
    assert load_config(config).network.allow_hosts == [kept]


def test_the_refusal_names_the_kind_of_address_in_plain_words() -> None:
    with pytest.raises(
        FetchError, match=r"refused to connect to 0\.0\.0\.0, an unspecified address"
    ):
        Fetcher(retries=0)("http://0.0.0.0:9/feed.xml")


# --- SNS -----------------------------------------------------------------------------------


def test_snss_fetch_takes_the_same_rule(site: Site) -> None:
    site.pages["/x.pem"] = (200, {}, b"-----BEGIN CERTIFICATE-----")
    with pytest.raises(FetchError, match=r"refused to connect to 127\.0\.0\.1, a loopback address"):
        fetch_https(f"https://127.0.0.1:{site.port}/x.pem")
    assert site.connections == []


@pytest.mark.parametrize(
    "subscribe",
    [
        "https://sns.s3.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com@127.0.0.1:{port}/?Action=ConfirmSubscription",
        "https://127.0.0.1:{port}/?Action=ConfirmSubscription",
    ],
)
def test_a_subscribe_url_at_a_look_alike_host_is_never_fetched(
    site: Site, tmp_path: Path, subscribe: str
) -> None:
    sns = Sns()
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return sns.pem if url == CERT_URL else fetch_https(url)

    settings = WebSettings(
        suppressions=tmp_path / "suppressions.sqlite3", sns_topics=frozenset({TOPIC}), fetch=fetch
    )
    confirmation = {k: v for k, v in sns.confirmation().items() if k != "Signature"}
    message = sns.sign({**confirmation, "SubscribeURL": subscribe.format(port=site.port)})
    with TestClient(make_app(settings)) as client:
        answer = client.post("/webhooks/ses", content=json.dumps(message))
    assert (answer.status_code, answer.text) == (400, "SubscribeURL is not an SNS URL\n")
    assert fetched == [CERT_URL]
    assert site.connections == []
