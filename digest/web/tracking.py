"""Clicks and opens of our own in ``digest serve``: ``/c/TOKEN`` redirects, ``/o/TOKEN.gif``.

A tracked link (``digest.mail.tracking``) names an edition by its number, the moment its
copy was made, a link by its index and a reader, signed. ``GET /c/TOKEN`` checks the
signature, looks the link up in the edition's links as the history recorded them at build
time (``History.links_of``: only links of that edition resolve, never an open redirect),
answers ``302`` to it at once and records a ``clicked`` event (its edition, the URL, the
reader) just after. An unknown or altered token, or one of an edition the history does not
know, is a 404. ``GET /o/TOKEN.gif`` (with ``[tracking] opens = true``) records an open and
answers a 1x1 GIF that is never cached.

Mail scanners (Microsoft Defender's Safe Links, Mimecast, Barracuda) follow every link of a
message as it arrives: a click within ``scanner_seconds`` of the copy being sent, one of
several links of a copy followed within a second, or a ``HEAD`` request (no browser sends
one for a link) is recorded with ``detail = "scanner"``, so a report counts it apart.
Events wait a second in memory before they are written (in batches, off the request), so
that the first click of a burst is marked too; the rest are written when the server stops.
One process sees the bursts of its own requests: run ``digest serve`` as one worker (it is
one by default).
"""

from __future__ import annotations

import base64
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from digest.edition import edition_key
from digest.errors import ConfigError, StoreError
from digest.labels import N_
from digest.mail.message import list_id
from digest.mail.tracking import OPEN, Click, LinkTokens
from digest.schedule.config import BuildConfig, history_kept, history_store
from digest.schedule.history import History
from digest.store.url import StoreURL
from digest.suppression.events import Engagement, Event
from digest.suppression.store import SuppressionList
from digest.web.pages import page, say

__all__ = [
    "GIF",
    "SOURCE",
    "ClickLog",
    "EditionLinks",
    "WebTracking",
    "tracking_routes",
    "web_tracking",
]


log = logging.getLogger("digest.web")

#: The source of the events ``digest serve`` records for its own links.
SOURCE = "digest serve"

#: A transparent 1x1 GIF (43 bytes).
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

_BURST = 1.0  # several links of one copy within a second: a scanner
_HOLD = 1.0  # how long an event waits before it is written, so a burst is marked whole
_FLUSH_EVERY = 0.25
_MAX_WAITING = 100_000  # events kept in memory while the store is away (each re-recorded once)
_KNOWN_EDITIONS = 256
_RECENT_COPIES = 50_000
_BAD_LINK = N_("This link does not work")


class EditionLinks:
    """Each edition's links by its number, read from the history once each."""

    def __init__(self, history: Path | StoreURL | None, newsletter: str) -> None:
        """Read ``history`` (a file or the store; none: no edition resolves) of ``newsletter``."""
        self.history = history
        self.newsletter = newsletter

    def __call__(self, number: int) -> tuple[str, tuple[str, ...]] | None:
        """The edition's key and its links' URLs (link n is item n), or None when not known."""
        if self.history is None or not history_kept(self.history):
            return None
        with History(self.history) as history:
            record = next((r for r in history.editions() if r.number == number), None)
            if record is None:
                return None
            key = edition_key(self.newsletter, record.date, number)
            links = history.links_of(key)
        return (key, tuple(link.url for link in links)) if links else None


@dataclass
class WebTracking:
    """What ``digest serve`` needs to follow tracked links and record them."""

    #: Checks each token (the newsletter's secret and list id).
    tokens: LinkTokens
    #: An edition's key and links by its number (``EditionLinks``).
    links: Callable[[int], tuple[str, tuple[str, ...]] | None]
    #: Whether ``/o/TOKEN.gif`` records opens (else it answers 404).
    opens: bool = False
    #: A click within this many seconds of the copy being sent is a scanner's.
    scanner_seconds: float = 60
    #: Click and open events older than this many days are forgotten.
    keep_days: int = 180
    #: The time now, as seconds since the epoch.
    clock: Callable[[], float] = time.time
    #: Editions known by number (read once each).
    known: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict, repr=False)


def web_tracking(
    config: BuildConfig, environ: Mapping[str, str] | None = None
) -> WebTracking | None:
    """The tracking of ``config``'s ``[tracking]`` table, or None when it is off."""
    settings = config.tracking
    tokens = settings.tokens(list_id(config.newsletter), environ)
    if tokens is None:
        return None
    history = history_store(config)
    if history is None:
        raise ConfigError(
            "tracking: digest serve finds each edition's links in the history, and this "
            "config keeps none (history = false): keep one, or set [tracking] clicks and "
            "opens to false"
        )
    return WebTracking(
        tokens,
        EditionLinks(history, config.newsletter.name),
        opens=settings.opens,
        scanner_seconds=settings.scanner_seconds,
        keep_days=settings.keep_days,
    )


@dataclass
class _Pending:
    event: Event
    arrived: float
    copy: tuple[int, str]
    index: int


class ClickLog:
    """Clicks and opens on their way to the suppression list's events, scanners marked."""

    def __init__(
        self,
        path: Path | StoreURL,
        tracking: WebTracking,
        soft_bounce_limit: int = 3,
        hold: float = _HOLD,
    ) -> None:
        """Record into the list at ``path``; each event waits ``hold`` seconds first."""
        self.path = path
        self.tracking = tracking
        self.soft_bounce_limit = soft_bounce_limit
        self.hold = hold
        self.pending: list[_Pending] = []
        #: The latest clicks of each copy (edition, reader): moment and link.
        self.recent: OrderedDict[tuple[int, str], list[tuple[float, int]]] = OrderedDict()
        self.store: SuppressionList | None = None
        self.recorded = 0
        self.lock = anyio.Lock()
        self._forgotten = 0.0

    def add(self, click: Click, edition: str, url: str, scanner: bool = False) -> None:
        """Note a click (or an open, ``click.index == OPEN``) now; it is written soon after.

        ``scanner`` says it is a scanner's already (a ``HEAD`` request: no browser sends one).
        """
        now = self.tracking.clock()
        scanner = scanner or now - click.sent < self.tracking.scanner_seconds
        copy = (click.edition, click.address)
        if click.index != OPEN:
            seen = self.recent.pop(copy, [])
            seen = [(at, index) for at, index in seen if now - at < _BURST]
            if any(index != click.index for _, index in seen):
                scanner = True
                for waiting in self.pending:
                    if waiting.copy == copy and waiting.index != OPEN:
                        waiting.event = _scanner(waiting.event)
            seen.append((now, click.index))
            self.recent[copy] = seen
            if len(self.recent) > _RECENT_COPIES:
                self.recent.popitem(last=False)
        reason: Engagement = "opened" if click.index == OPEN else "clicked"
        moment = datetime.fromtimestamp(now, UTC)
        event = Event(
            click.address,
            reason,
            SOURCE,
            f"{reason}:{moment.isoformat()}:{secrets.token_hex(8)}",
            moment,
            "scanner" if scanner else "",
            edition=edition,
            url=url,
        )
        self.pending.append(_Pending(event, time.monotonic(), copy, click.index))

    def _open(self) -> SuppressionList:
        if self.store is None:
            self.store = SuppressionList(self.path, self.soft_bounce_limit)
        return self.store

    def _write(self, events: list[Event]) -> None:
        store = self._open()
        self.recorded += sum(store.record(event) for event in events)
        now = self.tracking.clock()
        if now - self._forgotten > 3600:  # an hour apart: old clicks and opens forgotten
            self._forgotten = now
            before = datetime.fromtimestamp(now, UTC) - timedelta(days=self.tracking.keep_days)
            store.forget_engagements(before, SOURCE)

    async def flush(self, everything: bool = False) -> None:
        """Write the events that have waited long enough (``everything``: all of them)."""
        async with self.lock:
            start = time.monotonic()
            due = [p for p in self.pending if everything or start - p.arrived >= self.hold]
            if not due:
                return
            self.pending = self.pending[len(due) :] if not everything else []
            try:
                await anyio.to_thread.run_sync(self._write, [p.event for p in due])
            except StoreError as error:  # the database is away: kept, written when it is back
                if len(self.pending) + len(due) <= _MAX_WAITING:
                    self.pending[:0] = due
                    log.warning("tracking: %d events wait for the store: %s", len(due), error)
                else:
                    log.error("tracking: %d events not recorded: %s", len(due), error)
            except Exception as error:  # the redirect was answered: say so, keep serving
                log.error("tracking: %d events not recorded: %s", len(due), error)

    async def run(self) -> None:
        """Write events as they come due, until cancelled."""
        while True:
            await anyio.sleep(_FLUSH_EVERY)
            await self.flush()

    def close(self) -> None:
        """Close the database."""
        if self.store is not None:
            self.store.close()
            self.store = None


def _scanner(event: Event) -> Event:
    return Event(
        event.address,
        event.reason,
        event.source,
        event.id,
        event.at,
        "scanner",
        event.message_id,
        edition=event.edition,
        url=event.url,
    )


def tracking_routes(tracking: WebTracking, clicks: ClickLog, catalog: str = "en") -> list[Route]:
    """``GET /c/{token}`` and ``GET /o/{token}.gif`` (a page in ``catalog``'s words for 404)."""

    def not_found() -> Response:
        return HTMLResponse(page(say(_BAD_LINK, catalog), "", catalog=catalog), status_code=404)

    reading = anyio.Lock()  # one look-up in the history at a time; the others wait for it

    async def edition_of(click: Click) -> tuple[str, tuple[str, ...]] | None:
        known = tracking.known.get(click.edition)
        if known is not None:
            return known
        async with reading:
            known = tracking.known.get(click.edition)
            if known is None:
                found = await anyio.to_thread.run_sync(tracking.links, click.edition)
                if found is None:
                    return None
                if len(tracking.known) >= _KNOWN_EDITIONS:
                    tracking.known.clear()
                known = tracking.known[click.edition] = found
        return known

    async def follow(request: Request) -> Response:
        click = tracking.tokens.read(str(request.path_params["token"]))
        if click is None or click.index == OPEN:
            return not_found()
        known = await edition_of(click)
        if known is None or click.index >= len(known[1]):
            return not_found()
        key, links = known
        url = links[click.index]
        if not url.lower().startswith(("https://", "http://")):
            return not_found()
        clicks.add(click, key, url, scanner=request.method == "HEAD")
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})

    async def opened(request: Request) -> Response:
        click = tracking.tokens.read(str(request.path_params["token"]))
        if not tracking.opens or click is None or click.index != OPEN:
            return not_found()
        known = await edition_of(click)
        if known is None:
            return not_found()
        clicks.add(click, known[0], "")
        return Response(
            GIF, media_type="image/gif", headers={"Cache-Control": "no-store, max-age=0"}
        )

    return [
        Route("/c/{token}", follow, methods=["GET"]),
        Route("/o/{token}.gif", opened, methods=["GET"]),
    ]
