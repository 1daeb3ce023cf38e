"""The network side of every outgoing request: public addresses only, http(s) only, a deadline.

Only ``http`` and ``https`` are spoken, on the first request and on every redirect: the
opener has no handler for ``file:``, ``ftp:`` or ``data:`` URLs, and a redirect to one is
refused by name.

Only public addresses are reached. Each connection is made to an address checked as it is
resolved (so a name that resolves to ``127.0.0.1`` and a redirect to ``169.254.169.254`` are
refused alike, and a second lookup cannot swap the address): loopback, link-local, private,
unique-local, unspecified, multicast and reserved addresses are refused, unless the request's
host is one the caller allows by name (``[network] allow_hosts``). A :class:`Watch` shuts a
request's sockets when its deadline passes. ``digest.feeds.fetch`` reads through this opener.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Collection
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from digest.errors import FetchError
from digest.urls import WEB_SCHEMES

__all__ = ["Watch", "public_opener", "refused_address", "shown_url"]


class Watch:
    """The sockets of one request, shut down when its deadline passes."""

    def __init__(self, seconds: float) -> None:
        """Start the timer of ``seconds``."""
        self.sockets: list[socket.socket] = []
        self.expired = False
        self.lock = threading.Lock()
        self.timer = threading.Timer(seconds, self.expire)
        self.timer.daemon = True
        self.timer.start()

    def track(self, sock: socket.socket) -> socket.socket:
        """Watch ``sock`` (closed at once if the deadline has passed)."""
        with self.lock:
            self.sockets.append(sock)
            expired = self.expired
        if expired:
            sock.close()
        return sock

    def expire(self) -> None:
        """Shut every socket watched: the deadline has passed."""
        with self.lock:
            self.expired = True
            sockets = list(self.sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Stop the timer: the request is over."""
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


def shown_url(url: str) -> str:
    """``url`` fit for a message: without a user or password, and at most 200 characters."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    text = parts.geturl()
    return text if len(text) <= 200 else text[:199] + "…"


class _Guard:
    """The connections of one request: to checked addresses only, each handed to the watch."""

    def __init__(self, watch: Watch, allow_hosts: Collection[str]) -> None:
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
                    f"{shown_url(url)}: refused to connect to {address}, "
                    f"{_article(reason)} {reason} address "
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
                f"{shown_url(req.full_url)}: HTTP {code} redirects in a loop "
                f"(to {shown_url(target)} again, after {sum(visited.values())} redirects)"
            ) from None

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def public_opener(watch: Watch, allow_hosts: Collection[str] = ()) -> urllib.request.OpenerDirector:
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


def _article(word: str) -> str:
    """``a`` or ``an`` before ``word`` (an address's kind: "an unspecified", "a loopback")."""
    return "an" if word[:1] in "aeiou" else "a"
