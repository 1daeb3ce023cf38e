"""Fetching URL sources: an overall deadline, retries with backoff, and conditional GET.

A feed server that trickles a byte every few seconds, fails once, or has not changed since the
last build should cost a build neither its schedule nor a fresh download. :class:`Fetcher`
reads with one deadline over connecting, the status line, the headers and the body (a timer
shuts the request's sockets when it passes, however slowly the bytes come), retries server
errors and lost connections a couple of times, and (with a :class:`FeedCache`) sends
``If-None-Match`` and ``If-Modified-Since`` so an unchanged feed is read from the cache.

Only ``http`` and ``https`` are spoken, on the first request and on every redirect: the
opener has no handler for ``file:``, ``ftp:`` or ``data:`` URLs, and a redirect to one is
refused by name. What comes back is bytes, never a path for a parser to open.

Only public addresses are reached. Each connection is made to an address checked as it is
resolved (so a name that resolves to ``127.0.0.1`` and a redirect to ``169.254.169.254`` are
refused alike, and a second lookup cannot swap the address): loopback, link-local, private,
unique-local, unspecified, multicast and reserved addresses are refused, unless the request's
host is one the caller allows by name (``[network] allow_hosts``). Feeds, the picture probes
and SNS's certificates and subscription URLs all go through this one opener.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from digest.errors import FetchError
from digest.urls import WEB_SCHEMES

__all__ = ["MAX_SOURCE_BYTES", "FeedCache", "FetchError", "Fetcher", "refused_address"]


MAX_SOURCE_BYTES = 20_000_000


USER_AGENT = "digest (newsletter builder)"


# Statuses worth another try: the server is busy or briefly broken.
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


_CHUNK = 65_536


@dataclass(frozen=True)
class CachedFeed:
    """A feed as last read: its body and the validators its server gave."""

    body: bytes
    etag: str | None
    last_modified: str | None


class FeedCache:
    """Feeds read before and their validators, in an SQLite file (for conditional GET)."""

    def __init__(self, path: str | PathLike[str], read_only: bool = False) -> None:
        """Use (and create on first write) the cache at ``path``; ``read_only`` writes nothing."""
        self.path = Path(path)
        self.read_only = read_only

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute(
            "CREATE TABLE IF NOT EXISTS feeds (url TEXT PRIMARY KEY, etag TEXT, "
            "last_modified TEXT, body BLOB NOT NULL, fetched_at REAL NOT NULL)"
        )
        return db

    def get(self, url: str) -> CachedFeed | None:
        """The cached copy of ``url``, if any."""
        if not self.path.exists():
            return None
        try:
            db = self._connect()
            try:
                row = db.execute(
                    "SELECT body, etag, last_modified FROM feeds WHERE url = ?", (url,)
                ).fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            return None  # a damaged cache only costs a download
        return None if row is None else CachedFeed(row[0], row[1], row[2])

    def put(self, url: str, feed: CachedFeed) -> None:
        """Remember ``url``'s body and validators (unless the cache is read-only)."""
        if self.read_only:
            return
        try:
            db = self._connect()
            try:
                db.execute(
                    "INSERT OR REPLACE INTO feeds VALUES (?, ?, ?, ?, ?)",
                    (url, feed.etag, feed.last_modified, feed.body, time.time()),
                )
            finally:
                db.close()
        except sqlite3.Error:
            pass  # the next build downloads it again


@dataclass(frozen=True)
class Fetcher:
    """Reads http(s) URLs within a deadline, with retries and an optional cache."""

    #: Seconds the whole request may take, retries included.
    deadline: float = 30.0
    #: How many more times a failed request is tried (server errors, lost connections).
    retries: int = 2
    #: Seconds before the first retry; each further retry waits twice as long.
    backoff: float = 1.0
    cache: FeedCache | None = None
    sleep: Callable[[float], None] = time.sleep
    #: Hosts reached whatever their address (a feed on this machine or an intranet), by name.
    allow_hosts: frozenset[str] = frozenset()

    def __call__(self, url: str, deadline: float | None = None) -> bytes:
        """The body of ``url``; raises ``FetchError`` naming what went wrong."""
        scheme = urlsplit(url).scheme.lower()
        if scheme not in WEB_SCHEMES:
            raise FetchError(f"only http and https URLs are fetched, not {scheme or 'a path'}:")
        limit = self.deadline if deadline is None else deadline
        ends = time.monotonic() + limit
        cached = self.cache.get(url) if self.cache is not None else None
        attempt = 0
        while True:
            try:
                return self._once(url, ends, limit, cached)
            except _Retry as retry:
                attempt += 1
                wait = self.backoff * 2 ** (attempt - 1)
                if attempt > self.retries or time.monotonic() + wait >= ends:
                    tries = f" after {attempt} tries" if attempt > 1 else ""
                    raise FetchError(f"{retry}{tries}") from None
                self.sleep(wait)

    def head(self, url: str, size: int = 64 * 1024, deadline: float = 5.0) -> bytes:
        """The first ``size`` bytes of ``url`` (asked for with Range), within ``deadline``.

        For a picture's header: its size is in its first bytes. The same schemes, redirects,
        addresses and deadline rules as a feed; no retries, no cache.
        """
        return self._single(url, {"Range": f"bytes=0-{size - 1}"}, size, deadline)

    def small(self, url: str, most: int = 64 * 1024, deadline: float = 10.0) -> bytes:
        """The body of ``url``, refused if over ``most`` bytes: one try, no cache."""
        body = self._single(url, {}, most + 1, deadline)
        if len(body) > most:
            raise FetchError(f"{_shown(url)}: more than {most:,} bytes")
        return body

    def _single(self, url: str, extra: dict[str, str], most: int, deadline: float) -> bytes:
        """At most ``most`` bytes of ``url`` in one request, within ``deadline``."""
        scheme = urlsplit(url).scheme.lower()
        if scheme not in WEB_SCHEMES:
            raise FetchError(f"only http and https URLs are fetched, not {scheme or 'a path'}:")
        ends = time.monotonic() + deadline
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **extra}
        watch = _Watch(deadline)
        try:
            request = urllib.request.Request(url, headers=headers)
            opener = _opener(watch, self.allow_hosts)
            with opener.open(request, timeout=min(deadline, 10.0)) as response:
                return _read(response, ends, deadline, most=most)
        except FetchError:
            raise
        except urllib.error.HTTPError as error:
            error.close()
            raise FetchError(f"HTTP {error.code} {error.reason}") from None
        except (OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, FetchError):
                raise reason from None
            raise FetchError(str(reason) or type(error).__name__) from None
        finally:
            watch.stop()

    def _once(self, url: str, ends: float, limit: float, cached: CachedFeed | None) -> bytes:
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        remaining = ends - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"no answer within the deadline of {limit:g} s")
        request = urllib.request.Request(url, headers=headers)
        watch = _Watch(remaining)
        try:
            opener = _opener(watch, self.allow_hosts)
            with opener.open(request, timeout=min(remaining, 10.0)) as response:
                body = _read(response, ends, limit)
                etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
            if watch.expired:  # the sockets were shut: what was read is cut short
                raise FetchError(_LATE.format(limit))
        except FetchError:
            raise
        except urllib.error.HTTPError as error:
            error.close()  # the error holds the response and its socket
            if error.code == 304 and cached is not None:
                return cached.body
            if error.code in _RETRY_STATUSES:
                raise _Retry(f"HTTP {error.code} {error.reason}") from None
            raise FetchError(f"HTTP {error.code} {error.reason}") from None
        except urllib.error.URLError as error:
            if watch.expired:
                raise FetchError(_LATE.format(limit)) from None
            reason = error.reason
            if isinstance(reason, FetchError):  # an address refused: no retry changes it
                raise reason from None
            if isinstance(reason, TimeoutError | socket.timeout | ConnectionError):
                raise _Retry(str(reason) or type(reason).__name__) from None
            raise FetchError(str(reason)) from None
        except (OSError, http.client.HTTPException) as error:
            if watch.expired:
                raise FetchError(_LATE.format(limit)) from None
            raise _Retry(str(error) or type(error).__name__) from None
        finally:
            watch.stop()
        if self.cache is not None and (etag or modified):
            self.cache.put(url, CachedFeed(body, etag, modified))
        return body


class _Retry(Exception):
    """A failure worth another try."""


_LATE = "the server did not finish within the deadline of {:g} s"


class _Watch:
    """The sockets of one request, shut down when its deadline passes."""

    def __init__(self, seconds: float) -> None:
        self.sockets: list[socket.socket] = []
        self.expired = False
        self.lock = threading.Lock()
        self.timer = threading.Timer(seconds, self.expire)
        self.timer.daemon = True
        self.timer.start()

    def track(self, sock: socket.socket) -> socket.socket:
        with self.lock:
            self.sockets.append(sock)
            expired = self.expired
        if expired:
            sock.close()
        return sock

    def expire(self) -> None:
        with self.lock:
            self.expired = True
            sockets = list(self.sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.timer.cancel()


_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def refused_address(address: str) -> str | None:
    """Why digest never connects to ``address`` (``"loopback"``, ``"private"`` …); None: public."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
            address.split("%", 1)[0]  # an IPv6 zone (fe80::1%eth0)
        )
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address carried in IPv6 is judged as itself.
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip.teredo is not None:
            ip = ip.teredo[1]
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    kinds = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unique-local", ip in _UNIQUE_LOCAL),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("reserved", not ip.is_global),  # shared (100.64/10) and the like: not the internet
    )
    return next((kind for kind, found in kinds if found), None)


def _shown(url: str) -> str:
    """``url`` fit for a message: without a user or password, and at most 200 characters."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    text = parts.geturl()
    return text if len(text) <= 200 else text[:199] + "…"


class _Guard:
    """The connections of one request: to checked addresses only, each handed to the watch."""

    def __init__(self, watch: _Watch, allow_hosts: Collection[str]) -> None:
        self.watch = watch
        self.allow_hosts = frozenset(host.lower().strip("[]") for host in allow_hosts)

    def allowed(self, url: str) -> bool:
        """Whether ``url``'s host is allowed by name, whatever its address."""
        return (urlsplit(url).hostname or "") in self.allow_hosts

    def check(self, url: str, infos: list[Any]) -> None:
        """Refuse ``url`` if any address its host resolved to is not public."""
        for info in infos:
            address = str(info[4][0])
            reason = refused_address(address)
            if reason is not None:
                raise FetchError(
                    f"{_shown(url)}: refused to connect to {address}, {_article(reason)} {reason} "
                    "address "
                    "(name the host in [network] allow_hosts to allow it)"
                )

    def connection(
        self, base: type[http.client.HTTPConnection], req: urllib.request.Request
    ) -> Any:
        """``base`` that connects only where the rule allows, for the request ``req``."""
        url = req.full_url
        free = self.allowed(url)
        # Through a proxy (named in the environment by whoever runs digest) the proxy
        # resolves the host: its addresses are checked here, before the request, as far as
        # this machine can resolve them (a name only the proxy knows is left to the proxy).
        proxied = req.has_proxy() or getattr(req, "_tunnel_host", None) is not None
        if proxied and not free:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            try:
                infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
            except OSError:
                infos = []
            self.check(url, infos)
        guard = self

        class Guarded(base):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)

                def connect(
                    where: tuple[str, int], timeout: Any = None, source: Any = None
                ) -> socket.socket:
                    infos = socket.getaddrinfo(*where, type=socket.SOCK_STREAM)
                    if not (free or proxied):
                        guard.check(url, infos)
                    return guard.watch.track(_connect(infos, timeout, source))

                self._create_connection = connect

        return Guarded


def _connect(infos: list[Any], timeout: Any, source: Any) -> socket.socket:
    """A socket connected to the first of ``infos`` that answers (the addresses checked)."""
    failure: OSError = OSError("the host has no address")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            if isinstance(timeout, int | float):
                sock.settimeout(timeout)
            if source:
                sock.bind(source)
            sock.connect(address)
        except OSError as error:
            sock.close()
            failure = error
            continue
        return sock
    raise failure


class _Http(urllib.request.HTTPHandler):
    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        self.guard = guard

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self.guard.connection(http.client.HTTPConnection, req), req)


class _Https(urllib.request.HTTPSHandler):
    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        self.guard = guard

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        context = getattr(self, "_context", None)
        connection = self.guard.connection(http.client.HTTPSConnection, req)
        return self.do_open(connection, req, context=context)


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Redirects to http and https only (urllib alone would follow one to ``ftp:``)."""

    def http_error_302(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
    ) -> IO[bytes] | None:
        location = headers.get("Location") or headers.get("URI") or ""
        target = urljoin(req.full_url, location.strip())
        scheme = urlsplit(target).scheme.lower()
        if location and scheme not in WEB_SCHEMES:
            fp.close()
            raise FetchError(
                f"HTTP {code} redirects to a {scheme}: URL ({target[:80]!r}); "
                "only http and https are followed"
            )
        visited: dict[str, int] = getattr(req, "redirect_dict", {})
        try:
            return super().http_error_302(req, fp, code, msg, headers)
        except urllib.error.HTTPError as error:
            if not str(error.msg).startswith(self.inf_msg):
                raise
            error.close()  # urllib's own words span four lines
            raise FetchError(
                f"{_shown(req.full_url)}: HTTP {code} redirects in a loop "
                f"(to {_shown(target)} again, after {sum(visited.values())} redirects)"
            ) from None

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener(watch: _Watch, allow_hosts: Collection[str] = ()) -> urllib.request.OpenerDirector:
    """An opener that speaks http(s) to public addresses only (with the environment's proxies)."""
    guard = _Guard(watch, allow_hosts)
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        _Http(guard),
        _Https(guard),
        urllib.request.HTTPDefaultErrorHandler(),
        _Redirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _read(
    response: http.client.HTTPResponse, ends: float, limit: float, most: int | None = None
) -> bytes:
    """Read the body in chunks, stopping at the deadline and at the size limit.

    With ``most``, reading stops (without an error) once that many bytes are in: a probe
    of a picture's header needs no more.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > ends:
            raise FetchError(_LATE.format(limit))
        chunk = response.read1(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if most is not None and size >= most:
            chunks.append(chunk)
            return b"".join(chunks)[:most]
        if size > MAX_SOURCE_BYTES:
            raise FetchError(f"larger than {MAX_SOURCE_BYTES:,} bytes")
        chunks.append(chunk)


def _article(word: str) -> str:
    """``a`` or ``an`` before ``word`` (an address's kind: "an unspecified", "a loopback")."""
    return "an" if word[:1] in "aeiou" else "a"
