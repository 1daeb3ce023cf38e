"""The web app: unsubscribe pages and provider webhooks, an ASGI application (Starlette).

``make_app(settings)`` gives the application object to run behind any ASGI server
(``uvicorn digest.web:app_from_environment --factory``, or ``digest serve``):

- ``GET /unsubscribe/TOKEN`` (or ``/unsubscribe?token=TOKEN``) shows a page with one button and
  changes nothing: mail scanners open every link.
- ``POST`` to the same URL unsubscribes: with ``List-Unsubscribe=One-Click`` (RFC 8058, what a
  mail client sends) the answer is a short text, from the page's button a page.
- ``POST /webhooks/ses``, ``/webhooks/postmark``, ``/webhooks/resend``: provider events,
  each checked as its provider documents (see ``digest.web.webhooks``).
- ``GET /health``: 200 when the suppression list can be read.
- ``POST /subscribe`` and ``GET``/``POST /confirm/TOKEN``: sign-up with double opt-in, when
  configured (``digest.web.signup``).
- ``GET /c/TOKEN`` and ``GET /o/TOKEN.gif``: a tracked link and the open pixel, with
  ``[tracking]`` (``digest.web.tracking``).

Every body is read streamed and refused (413) the moment it passes ``max_body``, JSON nested
too deep gets 400 (``digest.web.body``); a forged token 404; a request a webhook refuses its
4xx with a one-line reason; nothing is recorded for any of them, and a client that goes away
mid-request is one line of log. The log names the method, the
path with tokens cut out, the status and the provider's reason, never a secret or a token.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.errors import StoreError
from digest.labels import N_
from digest.suppression.events import Event
from digest.suppression.store import SuppressionList
from digest.web.body import (
    ClientDisconnect,
    Refused,
    form_fields,
    log_disconnect,
    read_body,
    redacted_path,
)
from digest.web.pages import page, say
from digest.web.preferences import PreferenceStore, preferences_endpoint
from digest.web.settings import WebSettings
from digest.web.signup import SignUps
from digest.web.tracking import ClickLog, tracking_routes
from digest.web.webhooks import PostmarkWebhook, ResendWebhook, SesWebhook, Webhook

__all__ = ["make_app"]


log = logging.getLogger("digest.web")

ONE_CLICK = ("List-Unsubscribe", "One-Click")

#: Seconds a client is asked to wait (``Retry-After``) when the store does not answer.
RETRY_AFTER = 30

_BAD_LINK = N_("This link does not work")
_BAD_LINK_TEXT = N_(
    "The unsubscribe link is not valid. Use the link in your most recent email, or reply to it."
)
# {name} is the newsletter's name.
_ASK = N_("Unsubscribe from {name}?")
# {address} is the reader's email address, {name} the newsletter's name.
_ASK_TEXT = N_("{address} will get no more emails from {name}.")
_UNSUBSCRIBE = N_("Unsubscribe")
# A link from the unsubscribe page to the preferences page.
_PREFERENCES = N_("Or choose what you get, or pause")
# The store (the database) did not answer: nothing the reader did was recorded.
_AWAY = N_("Please try again in a minute")
# The sentence under it.
_AWAY_TEXT = N_("We could not save this just now, so nothing has changed yet.")
_DONE = N_("You are unsubscribed")
# {address} is the reader's email address, {name} the newsletter's name.
_DONE_TEXT = N_("{address} will get no more emails from {name}. Sorry to see you go.")


class _Recorder:
    """Records events in the suppression list, one thread and connection at a time."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self.store: SuppressionList | None = None
        self.lock = anyio.Lock()

    def _store(self) -> SuppressionList:
        if self.store is None:
            self.store = SuppressionList(
                self.settings.suppressions, soft_bounce_limit=self.settings.soft_bounce_limit
            )
        return self.store

    def _record(self, events: list[Event]) -> int:
        store = self._store()
        return sum(store.record(event) for event in events)

    async def record(self, events: list[Event]) -> int:
        """Record ``events``; how many were new."""
        async with self.lock:
            return await anyio.to_thread.run_sync(self._record, events)

    async def count(self) -> int:
        """How many addresses are suppressed (opening the list if need be)."""
        async with self.lock:
            return await anyio.to_thread.run_sync(lambda: len(self._store()))

    def close(self) -> None:
        """Close the database."""
        if self.store is not None:
            self.store.close()
            self.store = None


def _token(request: Request) -> str:
    return str(request.path_params.get("token") or request.query_params.get("token") or "")


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def make_app(settings: WebSettings) -> Starlette:
    """The ASGI application for one newsletter's settings."""
    recorder = _Recorder(settings)
    readers = PreferenceStore(settings.suppressions, settings.soft_bounce_limit)
    signups = SignUps(settings.signup, settings.clock)
    tracking = settings.tracking
    clicks = (
        ClickLog(settings.suppressions, tracking, settings.soft_bounce_limit)
        if tracking is not None
        else None
    )

    catalog = settings.catalog

    async def unsubscribe(request: Request) -> Response:
        tokens = settings.tokens
        address = tokens.address(_token(request)) if tokens is not None else None
        if address is None:
            return HTMLResponse(
                page(say(_BAD_LINK, catalog), say(_BAD_LINK_TEXT, catalog), catalog=catalog),
                status_code=404,
            )
        if request.method == "GET":
            return HTMLResponse(
                page(
                    say(_ASK, catalog, name=settings.name),
                    say(_ASK_TEXT, catalog, address=address, name=settings.name),
                    button=say(_UNSUBSCRIBE, catalog),
                    action=_here(request),
                    link=(
                        (f"/preferences/{_token(request)}", say(_PREFERENCES, catalog))
                        if settings.preferences is not None
                        else None
                    ),
                    catalog=catalog,
                ),
                headers={"Cache-Control": "no-store"},
            )
        body = await read_body(request, 4096)
        fields = form_fields(body, request.headers.get("content-type", ""))
        one_click = ONE_CLICK in fields
        if not one_click and ("confirm", "1") not in fields:
            return PlainTextResponse("not an unsubscribe request\n", status_code=400)
        # Each POST is one act of the reader, known by its moment and a nonce: a token is
        # the same in every POST, and a no after a resubscribe must count.
        now = datetime.now(UTC)
        occurrence = f"unsubscribe:{now.isoformat()}:{secrets.token_hex(8)}"
        source = "one-click" if one_click else "page"
        await recorder.record([Event(address, "unsubscribed", source, occurrence, now)])
        log.info("unsubscribed one reader (%s)", "one-click" if one_click else "page")
        if one_click:
            return PlainTextResponse("unsubscribed\n")
        return HTMLResponse(
            page(
                say(_DONE, catalog),
                say(_DONE_TEXT, catalog, address=address, name=settings.name),
                catalog=catalog,
            ),
            headers={"Cache-Control": "no-store"},
        )

    def webhook(hook: Webhook) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not hook.enabled(settings):
                return PlainTextResponse("not configured\n", status_code=404)
            try:
                body = await read_body(request, settings.max_body)
                # In a thread: SNS's certificate or subscription URL may be fetched.
                headers = dict(request.headers)
                events = await anyio.to_thread.run_sync(hook.events, body, headers, settings)
            except Refused as refusal:
                log.warning("%s webhook: refused %d: %s", hook.name, refusal.status, refusal.reason)
                basic = refusal.status == 401 and hook.name == "postmark"
                return PlainTextResponse(
                    f"{refusal.reason}\n",
                    status_code=refusal.status,
                    headers={"WWW-Authenticate": 'Basic realm="digest"'} if basic else None,
                )
            new = await recorder.record(events)
            log.info("%s webhook: %d events, %d new", hook.name, len(events), new)
            return JSONResponse({"events": len(events), "new": new})

        return endpoint

    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, Refused)
        return PlainTextResponse(f"{error.reason}\n", status_code=error.status)

    async def store_away(request: Request, error: Exception) -> Response:
        # The database did not answer: nothing was recorded; a provider retries, so may a reader.
        log.warning("%s: the store is away: %s", redacted_path(request.url.path), error)
        headers = {"Retry-After": str(RETRY_AFTER), "Cache-Control": "no-store"}
        if request.url.path.startswith("/webhooks/"):
            return PlainTextResponse(
                "the store is not answering; try again shortly\n", 503, headers=headers
            )
        # A reader's page (an unsubscribe, their preferences, a sign-up): words they read.
        text = page(say(_AWAY, catalog), say(_AWAY_TEXT, catalog), catalog=catalog)
        return HTMLResponse(text, 503, headers=headers)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "suppressed": await recorder.count()})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            if clicks is not None:
                group.start_soon(clicks.run)
            yield
            group.cancel_scope.cancel()
        if clicks is not None:
            await clicks.flush(everything=True)
            clicks.close()
        recorder.close()
        readers.close()
        signups.close()

    routes = [
        Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"]),
        Route("/unsubscribe", unsubscribe, methods=["GET", "POST"]),
        Route("/health", health, methods=["GET"]),
        *signups.routes(),
        *(tracking_routes(tracking, clicks, catalog) if tracking is not None and clicks else []),
        *(
            [
                Route(
                    "/preferences/{token}",
                    preferences_endpoint(settings.tokens, settings.preferences, readers),
                    methods=["GET", "POST"],
                )
            ]
            if settings.preferences is not None
            else []
        ),
        *(
            Route(f"/webhooks/{hook.name}", webhook(hook), methods=["POST"])
            for hook in (SesWebhook(), PostmarkWebhook(), ResendWebhook())
        ),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(_Logged)],
        exception_handlers={Refused: refused, StoreError: store_away},
    )


class _Logged:
    """Logs each request (the path with tokens cut out) and adds the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *_SECURITY_HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except ClientDisconnect:
            log_disconnect(log, scope)  # nobody to answer: one line, no traceback
            return
        except BaseException:
            log.info("%s %s %d", scope["method"], redacted_path(scope["path"]), status)
            raise
        log.info("%s %s %d", scope["method"], redacted_path(scope["path"]), status)


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self';"
        b" frame-ancestors 'none'",
    ),
    (b"referrer-policy", b"no-referrer"),
]
