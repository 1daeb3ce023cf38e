"""A newsroom's own site that keeps its newsletter list in digest's reader store.

Sign-up with double opt-in, a reader's own page (sections, a pause) and leaving, with the
library alone: ``digest.readers`` for the list, ``digest.mail.confirmation`` and
``digest.delivery`` for the confirmation mail. It never imports ``digest.web``: this is what
a Django or FastAPI site does in its own views. Run it with ``uvicorn app:app`` (README.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from html import escape
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from digest.delivery.providers import make_sender
from digest.delivery.senders import Outgoing
from digest.errors import InputError
from digest.mail.confirmation import confirmation_mail
from digest.mail.message import list_id
from digest.readers import (
    NEVER_MAILED,
    ConfirmTokens,
    Consent,
    ReaderStore,
    confirm_sign_up,
    mail_due,
)
from digest.schedule.config import BuildConfig, load_config, reader_store
from digest.suppression.tokens import UnsubscribeTokens

log = logging.getLogger("own-site")

SOURCE = "own site"  # what the store's consent records and events say they came from
PAUSE_WEEKS = (1, 2, 4)


class Site:
    """What every view needs, made once at start-up from the config and the environment."""

    def __init__(self, config: BuildConfig, environ: Mapping[str, str]) -> None:
        """Read the secret: one secret signs both kinds of link, each for this list only."""
        self.config, self.environ = config, environ
        secret = environ["DIGEST_UNSUBSCRIBE_SECRET"]
        self.confirm_tokens = ConfirmTokens(secret, list_id(config.newsletter))
        self.reader_tokens = UnsubscribeTokens(secret, list_id(config.newsletter))
        self.sections = {s.name: s.label or s.name for s in config.newsletter.layout.sections}

    def store(self) -> ReaderStore:
        """The reader store, opened per call: SQLite in WAL mode lets threads share the file."""
        return reader_store(self.config, self.environ)

    def send_confirmation(
        self, address: str, name: str, sections: tuple[str, ...], base: str
    ) -> None:
        """Mail the link that holds the sign-up itself: nothing is stored until it is followed."""
        link = f"{base}confirm/{self.confirm_tokens.token(address, name, sections)}"
        if self.config.delivery is None:  # the examples' configs send nothing: log the link
            log.warning("no [delivery] in the config; %s would get %s", address, link)
            return
        hours = int(self.confirm_tokens.lifetime.total_seconds() // 3600)
        data = confirmation_mail(self.config.newsletter, address, link, hours, datetime.now(UTC))
        sender = make_sender(self.config.delivery)  # SMTP, SES, Postmark or Resend, as configured
        try:
            sender.send([Outgoing(address, data)])
        finally:
            sender.close()


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A bare page; a real site renders its own templates here."""
    html = f"<!doctype html><html lang='en'><title>{escape(title)}</title><h1>{escape(title)}</h1>"
    return HTMLResponse(f"{html}{body}", status, headers={"Cache-Control": "no-store"})


async def fields(request: Request) -> list[tuple[str, str]]:
    """A URL-encoded form's fields (the forms here post no files), at most 16 KB of them."""
    body = await request.body()
    return parse_qsl(body[:16384].decode("utf-8", "replace"), keep_blank_values=True)


def boxes(site: Site, chosen: tuple[str, ...] | None) -> str:
    """A checkbox a section; ``chosen`` None means every section, new ones too."""
    return "".join(
        f"<label><input type=checkbox name=section value='{escape(name)}'"
        f"{' checked' if chosen is None or name in chosen else ''}> {escape(label)}</label>"
        for name, label in site.sections.items()
    )


async def sign_up(request: Request) -> HTMLResponse:
    """GET: the form. POST: the same answer whatever becomes of it, so nobody learns who reads."""
    site: Site = request.app.state.site
    if request.method == "GET":
        return page(
            f"Sign up for {site.config.newsletter.name}",
            "<form method=post><label>Email <input type=email name=address required></label>"
            f"<label>Name <input name=name></label>{boxes(site, None)}"
            "<button>Sign up</button></form>",
        )
    form = await fields(request)
    values = dict(form)
    address, name = values.get("address", "").strip(), " ".join(values.get("name", "").split())
    sections = tuple(dict.fromkeys(v for k, v in form if k == "section" and v in site.sections))
    if set(sections) == set(site.sections):
        sections = ()  # every section, as no choice means: new ones too
    try:
        site.confirm_tokens.token(address)  # the library's check of an address
    except InputError as error:
        return page("That address does not work", f"<p>{escape(str(error))}</p>", 400)

    def due() -> bool:
        with site.store() as store:
            return mail_due(store, address)  # not to readers already in, nor to the bounced

    answer = page("Check your email", "<p>Follow the link in it to subscribe.</p>", 202)
    if await run_in_threadpool(due):  # mail after answering: the same time for every address
        args = (address, name, sections, str(request.base_url))
        answer.background = BackgroundTask(site.send_confirmation, *args)
    return answer


async def confirm(request: Request) -> HTMLResponse:
    """GET shows a button and changes nothing (mail scanners open links); POST subscribes."""
    site: Site = request.app.state.site
    signup = site.confirm_tokens.check(request.path_params["token"])
    if signup is None:
        return page("This link does not work", "<p>Sign up again for a new one.</p>", 404)
    if request.method == "GET":
        return page(f"Subscribe {signup.address}?", "<form method=post><button>Yes</button></form>")
    ip = request.client.host if request.client else None  # kept only with [readers] keep_ip
    consent = Consent(datetime.now(UTC), "form", SOURCE, site.config.readers.wording, ip)

    def subscribe() -> str | None:
        with site.store() as store:
            return confirm_sign_up(store, signup, consent)

    status = await run_in_threadpool(subscribe)
    if status not in ("subscribed", "paused"):  # None: they left after asking for this link
        return page("You are not subscribed", "<p>Sign up again to come back.</p>", 410)
    mine = f"{request.base_url}reader/{site.reader_tokens.token(signup.address)}"
    return page("You are subscribed", f"<p><a href='{escape(mine)}'>Your choices</a></p>")


async def reader(request: Request) -> HTMLResponse:
    """A reader's own page, the link their unsubscribe token makes: sections, a pause, leaving."""
    site: Site = request.app.state.site
    token = request.path_params["token"]
    address = site.reader_tokens.address(token)
    if address is None:
        return page("This link does not work", "<p>Use the link in your latest email.</p>", 404)
    form = await fields(request) if request.method == "POST" else []

    def apply() -> tuple[str | None, tuple[str, ...] | None]:
        """Make the change the form asks for (each one an event in the store); the status after."""
        with site.store() as store:
            if ("leave", "1") in form:
                store.unsubscribe(address, SOURCE)
            elif "pause" in dict(form) and store.status(address) in ("subscribed", "paused"):
                chosen: tuple[str, ...] | None = tuple(
                    v for k, v in form if k == "section" and v in site.sections
                )
                if set(chosen or ()) == set(site.sections):
                    chosen = None  # every section: new ones too
                record = store.get(address)
                if record is not None and chosen != record.sections:
                    store.change(
                        address, sections=chosen, all_sections=chosen is None, source=SOURCE
                    )
                weeks = dict(form)["pause"]
                if weeks in map(str, PAUSE_WEEKS):
                    until = datetime.now(UTC) + timedelta(weeks=int(weeks))
                    store.pause(address, until, SOURCE)
                elif store.status(address) == "paused":
                    store.resume(address, SOURCE)
            record = store.get(address)
            return store.status(address), None if record is None else record.sections

    status, sections = await run_in_threadpool(apply)
    leave = "<form method=post><input type=hidden name=leave value=1><button>Leave</button></form>"
    if status in NEVER_MAILED:
        return page("You get no more emails", f"<p>{escape(address)} is off the list.</p>")
    if status not in ("subscribed", "paused"):  # a reader of a list kept elsewhere can only leave
        return page("Your emails", f"<p>No choices are kept for {escape(address)}.</p>{leave}")
    pauses = "".join(
        f"<label><input type=radio name=pause value={weeks}> Pause {weeks} week(s)</label>"
        for weeks in PAUSE_WEEKS
    )
    return page(
        f"Your emails ({status})",
        f"<form method=post>{boxes(site, sections)}"
        f"<label><input type=radio name=pause value=0 checked> Keep them coming</label>{pauses}"
        f"<button>Save</button></form>{leave}",
    )


def make_app(environ: Mapping[str, str] = os.environ) -> Starlette:
    """The site; the config (``DIGEST_CONFIG``) is read when the server starts."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.site = Site(load_config(environ["DIGEST_CONFIG"]), environ)
        yield

    routes = [
        Route("/", sign_up, methods=["GET", "POST"]),
        Route("/confirm/{token}", confirm, methods=["GET", "POST"]),
        Route("/reader/{token}", reader, methods=["GET", "POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


app = make_app()
