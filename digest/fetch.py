"""Fetching URL sources: an overall deadline, retries with backoff, and conditional GET.

A feed server that trickles a byte every few seconds, fails once, or has not changed since the
last build should cost a build neither its schedule nor a fresh download. :class:`Fetcher`
reads with a deadline for the whole request, retries server errors and lost connections a
couple of times, and (with a :class:`FeedCache`) sends ``If-None-Match`` and
``If-Modified-Since`` so an unchanged feed is read from the cache.
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

from .errors import FetchError

__all__ = ["MAX_SOURCE_BYTES", "FeedCache", "FetchError", "Fetcher"]

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

    def __init__(self, path: str | PathLike[str]) -> None:
        """Use (and create on first write) the cache at ``path``."""
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
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
        """Remember ``url``'s body and validators."""
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

    def __call__(self, url: str, deadline: float | None = None) -> bytes:
        """The body of ``url``; raises ``FetchError`` naming what went wrong."""
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
        try:
            with urllib.request.urlopen(request, timeout=min(remaining, 10.0)) as response:
                body = _read(response, ends, limit)
                etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        except urllib.error.HTTPError as error:
            error.close()  # the error holds the response and its socket
            if error.code == 304 and cached is not None:
                return cached.body
            if error.code in _RETRY_STATUSES:
                raise _Retry(f"HTTP {error.code} {error.reason}") from None
            raise FetchError(f"HTTP {error.code} {error.reason}") from None
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, TimeoutError | socket.timeout | ConnectionError):
                raise _Retry(str(reason) or type(reason).__name__) from None
            raise FetchError(str(reason)) from None
        except (TimeoutError, ConnectionError, http.client.HTTPException) as error:
            raise _Retry(str(error) or type(error).__name__) from None
        if self.cache is not None and (etag or modified):
            self.cache.put(url, CachedFeed(body, etag, modified))
        return body


class _Retry(Exception):
    """A failure worth another try."""


def _read(response: http.client.HTTPResponse, ends: float, limit: float) -> bytes:
    """Read the body in chunks, stopping at the deadline and at the size limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > ends:
            raise FetchError(f"the server did not finish within the deadline of {limit:g} s")
        chunk = response.read1(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_SOURCE_BYTES:
            raise FetchError(f"larger than {MAX_SOURCE_BYTES:,} bytes")
        chunks.append(chunk)
