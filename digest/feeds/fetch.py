"""Fetching URL sources: an overall deadline, retries with backoff, and conditional GET.

A feed server that trickles a byte every few seconds, fails once, or has not changed since the
last build should cost a build neither its schedule nor a fresh download. :class:`Fetcher`
reads with one deadline over connecting, the status line, the headers and the body (a timer
shuts the request's sockets when it passes, however slowly the bytes come), retries server
errors and lost connections a couple of times, and (with a :class:`FeedCache`) sends
``If-None-Match`` and ``If-Modified-Since`` so an unchanged feed is read from the cache.

Only ``http`` and ``https`` are spoken, and only public addresses are reached (unless the
caller allows a host by name, ``[network] allow_hosts``): the opener of
``digest.feeds.network``, which feeds, the picture probes and SNS's certificates and
subscription URLs all go through. What comes back is bytes, never a path for a parser to open.
"""

from __future__ import annotations

import http.client
import socket
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from urllib.parse import urlsplit

from digest.errors import FetchError
from digest.feeds.network import Watch, public_opener, refused_address, shown_url
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
            raise FetchError(f"{shown_url(url)}: more than {most:,} bytes")
        return body

    def _single(self, url: str, extra: dict[str, str], most: int, deadline: float) -> bytes:
        """At most ``most`` bytes of ``url`` in one request, within ``deadline``."""
        scheme = urlsplit(url).scheme.lower()
        if scheme not in WEB_SCHEMES:
            raise FetchError(f"only http and https URLs are fetched, not {scheme or 'a path'}:")
        ends = time.monotonic() + deadline
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **extra}
        watch = Watch(deadline)
        try:
            request = urllib.request.Request(url, headers=headers)
            opener = public_opener(watch, self.allow_hosts)
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
        watch = Watch(remaining)
        try:
            opener = public_opener(watch, self.allow_hosts)
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
