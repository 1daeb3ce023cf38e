"""Sign-up with double opt-in: ``POST /subscribe``, the confirmation mail, ``/confirm/TOKEN``.

``POST /subscribe`` (a form, or JSON: ``address``, optional ``name`` and ``sections``) answers
202 with the same bytes whatever becomes of it: the address is unknown, already a reader,
suppressed, or over a limit, or the honeypot field is filled. Only a bad field gets 400,
naming it. At most one confirmation mail goes to one address an hour, and ``PER_IP`` sign-ups
an hour are taken from one IP address; both limits are kept in the reader store's file, so
they hold across restarts and across the app's processes (only keyed hashes of the
addresses and IPs, each for an hour: ``digest.readers.signup.take_use``). The mail
(the newsletter's name, brand colour and language) is sent after the answer, through the
configured sender, DKIM-signed when the config signs. Readers already subscribed or paused,
and bounced or complained addresses, get none.

``GET /confirm/TOKEN`` shows a button and changes nothing (mail scanners open links);
``POST`` to it subscribes the reader with the consent record (method ``form``, source
``digest serve``, the wording's version, the IP only with ``[readers] keep_ip``). The token
holds the sign-up itself (``digest.readers.confirm``): nothing is stored before then. A token
older than the reader's last unsubscribe subscribes nobody. No route sends CORS headers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from digest.addresses import address_key, email_address
from digest.delivery.providers import make_sender
from digest.delivery.senders import Outgoing, Sender
from digest.delivery.settings import DeliverySettings
from digest.labels import N_, Message, translate
from digest.mail.confirmation import confirmation_catalog, confirmation_mail
from digest.mail.message import list_id
from digest.readers.confirm import ConfirmTokens, SignUp
from digest.readers.records import Consent, Status
from digest.readers.signup import confirm_sign_up, mail_due, take_use
from digest.readers.store import ReaderStore
from digest.schedule.config import BuildConfig, reader_store
from digest.settings import Newsletter
from digest.web.body import Refused, form_fields, read_body, read_model
from digest.web.pages import page
from digest.web.signup_form import HONEYPOT, signup_origin

__all__ = [
    "PER_ADDRESS",
    "PER_IP",
    "SOURCE",
    "SignUpSettings",
    "SignUps",
    "confirmation_mail",
    "signup_off",
]

log = logging.getLogger("digest.web")

#: Where a consent given on the confirmation page says it came from.
SOURCE = "digest serve"
#: Confirmation mails to one address an hour.
PER_ADDRESS = 1
#: Sign-ups taken from one IP address an hour.
PER_IP = 10
#: The window of both limits, in seconds.
WINDOW = 3600.0

_BODY_LIMIT = 16 * 1024
_MAX_NAME = 200

_CHECK = N_("Check your email")
_REFUSED = N_("This sign-up cannot be taken")
# {name} is the newsletter's name.
_CHECK_TEXT = N_(
    "If the address can get {name}, a link to confirm is on its way. "
    "Follow it to subscribe: nothing is sent until you do."
)
_BAD_LINK = N_("This link does not work")
_BAD_LINK_TEXT = N_(
    "The confirmation link is not valid or has expired. Sign up again to get a new one."
)
# {name} is the newsletter's name.
_CONFIRM = N_("Subscribe to {name}?")
# {address} is the reader's email address, {name} the newsletter's name.
_CONFIRM_TEXT = N_("{address} will get {name} by email.")
_SUBSCRIBE = N_("Subscribe")
_DONE = N_("You are subscribed")
# {address} is the reader's email address, {name} the newsletter's name.
_DONE_TEXT = N_("{address} will get {name}. Welcome!")
_STALE = N_("This link is older than your unsubscribe")
_STALE_TEXT = N_("You left after asking for this link. Sign up again to come back.")
_HELD = N_("You are not subscribed")
# {name} is the newsletter's name.
_HELD_TEXT = N_("This address asked to get nothing more from {name}. Write to us to come back.")


def _needs(
    config: BuildConfig, environ: Mapping[str, str] | None
) -> tuple[ConfirmTokens | None, str | None, DeliverySettings | None]:
    """What sign-up needs of ``config``: the links' tokens, their origin, the delivery."""
    tokens = ConfirmTokens.from_environment(list_id(config.newsletter), environ)
    return tokens, signup_origin(config.newsletter), config.delivery


def signup_off(config: BuildConfig, environ: Mapping[str, str] | None = None) -> list[str]:
    """Why ``digest serve`` takes no sign-ups for ``config`` (nothing: it takes them)."""
    tokens, origin, delivery = _needs(config, environ)
    return [
        why
        for need, why in (
            (tokens, "DIGEST_UNSUBSCRIBE_SECRET is not set"),
            (origin, "[newsletter.contact] unsubscribe_url is not an https link"),
            (delivery, "no [delivery] table to send the confirmation mail"),
        )
        if need is None
    ]


def _say(message: Message, catalog: str, **values: str) -> str:
    text = translate(message, catalog)
    return text.format(**values) if values else text


@dataclass(frozen=True)
class SignUpSettings:
    """What sign-up needs: the newsletter, its tokens, how to send and what consent keeps."""

    newsletter: Newsletter
    tokens: ConfirmTokens
    #: The origin of the confirmation links (``https://host``).
    origin: str
    #: Makes the configured sender (one per mail; closed after it).
    sender: Callable[[], Sender]
    #: Opens the reader store (on the suppression list's file).
    store: Callable[[], ReaderStore]
    #: Whether a consent record keeps the IP address it came from (``[readers] keep_ip``).
    keep_ip: bool = False
    #: The version of the sign-up wording consent records name (``[readers] wording``).
    wording: str = "1"
    per_address: int = PER_ADDRESS
    per_ip: int = PER_IP

    @classmethod
    def of(
        cls, config: BuildConfig, environ: Mapping[str, str] | None = None
    ) -> SignUpSettings | None:
        """Sign-up for ``config``; None without an https unsubscribe URL, a secret or delivery."""
        tokens, origin, delivery = _needs(config, environ)
        if tokens is None or origin is None or delivery is None:  # signup_off says which
            return None
        return cls(
            newsletter=config.newsletter,
            tokens=tokens,
            origin=origin,
            sender=lambda: make_sender(delivery),
            store=lambda: reader_store(config, environ),
            keep_ip=config.readers.keep_ip,
            wording=config.readers.wording,
        )


class _Body(BaseModel):
    """A JSON sign-up."""

    model_config = ConfigDict(extra="ignore")

    address: str = Field(max_length=320)
    name: str = Field(default="", max_length=_MAX_NAME)
    sections: list[str] = Field(default_factory=list, max_length=50)
    website: str = Field(default="", max_length=1000)


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else ""


class SignUps:
    """The sign-up routes of one app, their limits and their connection to the reader store."""

    def __init__(
        self, settings: SignUpSettings | None, clock: Callable[[], float] = time.time
    ) -> None:
        """Sign-up as ``settings`` says (None: no routes)."""
        self.settings = settings
        self.clock = clock
        self.per_address = settings.per_address if settings else PER_ADDRESS
        self.per_ip = settings.per_ip if settings else PER_IP
        self.lock = anyio.Lock()
        self.send_lock = anyio.Lock()
        self.store: ReaderStore | None = None
        self.catalog = confirmation_catalog(settings.newsletter) if settings else "en"

    def routes(self) -> list[Route]:
        """``/subscribe`` and ``/confirm/{token}`` (none when sign-up is not configured)."""
        if self.settings is None:
            return []
        return [
            Route("/subscribe", self.subscribe, methods=["POST"]),
            Route("/confirm/{token}", self.confirm, methods=["GET", "POST"]),
        ]

    def close(self) -> None:
        """Close the reader store."""
        if self.store is not None:
            self.store.close()
            self.store = None

    # -- pages

    def _page(
        self, title: str, text: str, status: int = 200, button: str = "", action: str = ""
    ) -> HTMLResponse:
        html = page(title, text, button=button, action=action, catalog=self.catalog)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    def _say(self, message: Message, **values: str) -> str:
        return _say(message, self.catalog, **values)

    def _accepted(self, as_json: bool) -> Response:
        if as_json:
            return JSONResponse({"status": "accepted"}, status_code=202)
        assert self.settings is not None
        name = self.settings.newsletter.name
        return self._page(self._say(_CHECK), self._say(_CHECK_TEXT, name=name), 202)

    def _refused(self, as_json: bool, reason: str) -> Response:
        if as_json:
            return JSONResponse({"error": reason}, status_code=400)
        return self._page(self._say(_REFUSED), reason, 400)

    # -- POST /subscribe

    def _fields(self, data: bytes, content_type: str, as_json: bool) -> _Body:
        if as_json:
            return read_model(data, _Body)
        fields = form_fields(data, content_type)

        def last(name: str) -> str:
            values = [value for key, value in fields if key == name]
            return values[-1] if values else ""

        body = _Body.model_construct(
            address=last("address"),
            name=last("name"),
            sections=[value for key, value in fields if key == "section"],
            website=last(HONEYPOT),
        )
        return body

    def _checked(self, body: _Body) -> tuple[str, str, tuple[str, ...]] | str:
        """The address, name and sections of a sign-up, or what is wrong (naming the field)."""
        assert self.settings is not None
        try:
            address = email_address(body.address.strip())
        except ValueError as error:
            return f"address: not an email address: {body.address[:100]!r} ({error})"
        name = " ".join(body.name.split())
        if len(name) > _MAX_NAME:
            return f"name: longer than {_MAX_NAME} characters ({len(name)})"
        # Matched without case, as the articles' sections are; kept as the config names them.
        known = {spec.name.lower(): spec.name for spec in self.settings.newsletter.layout.sections}
        chosen = []
        for section in body.sections:
            if section.strip().lower() not in known:
                offered = ", ".join(known.values())
                return f"sections: {section[:60]!r} is not one of this newsletter's ({offered})"
            chosen.append(known[section.strip().lower()])
        return address, name, tuple(dict.fromkeys(chosen))

    async def subscribe(self, request: Request) -> Response:
        """``POST /subscribe``: 202, the same bytes whatever becomes of the sign-up."""
        content_type = request.headers.get("content-type", "")
        as_json = content_type.split(";")[0].strip().lower() == "application/json"
        data = await read_body(request, _BODY_LIMIT)
        try:
            body = self._fields(data, content_type, as_json)
        except Refused as refusal:
            if refusal.status != 400:
                raise
            return self._refused(as_json, refusal.reason)
        checked = self._checked(body)
        if isinstance(checked, str):
            return self._refused(as_json, checked)
        if body.website.strip():
            log.info("sign-up: the honeypot was filled; nothing sent")
            return self._accepted(as_json)
        address, name, sections = checked
        now = self.clock()
        async with self.lock:
            mail = await anyio.to_thread.run_sync(self._mail_due, _client(request), address, now)
        answer = self._accepted(as_json)
        if mail:
            answer.background = BackgroundTask(self._send, address, name, sections, now)
        return answer

    def _open(self) -> ReaderStore:
        if self.store is None:
            assert self.settings is not None
            self.store = self.settings.store()
        return self.store

    def _mail_due(self, client: str, address: str, now: float) -> bool:
        """Whether a confirmation mail goes to ``address`` now, asked from ``client``.

        Every sign-up counts against its IP address's limit; a mail that goes counts against
        the address's. Both are kept in the reader store's file (``take_use``).
        """
        store = self._open()
        return (
            take_use(store, "ip", client, self.per_ip, WINDOW, now)
            and mail_due(store, address)
            and take_use(store, "address", address_key(address), self.per_address, WINDOW, now)
        )

    async def _send(self, address: str, name: str, sections: tuple[str, ...], now: float) -> None:
        assert self.settings is not None
        settings = self.settings
        at = datetime.fromtimestamp(now, UTC)
        token = settings.tokens.token(address, name, sections, at)
        hours = int(settings.tokens.lifetime.total_seconds() // 3600)
        data = confirmation_mail(
            settings.newsletter, address, f"{settings.origin}/confirm/{token}", hours, at
        )

        def send() -> str:
            sender = settings.sender()
            try:
                (receipt,) = sender.send([Outgoing(address, data)])
            finally:
                sender.close()
            return f"{receipt.state} {receipt.detail}".strip()

        async with self.send_lock:
            try:
                said = await anyio.to_thread.run_sync(send)
            except Exception as error:  # the answer is gone: log it, never raise into uvicorn
                said = f"failed: {type(error).__name__}"
        log.info("sign-up: confirmation mail %s", said[:200])

    # -- /confirm/TOKEN

    async def confirm(self, request: Request) -> Response:
        """``GET /confirm/TOKEN`` asks; ``POST`` subscribes the reader with their consent."""
        assert self.settings is not None
        settings = self.settings
        token = str(request.path_params.get("token", ""))
        now = datetime.fromtimestamp(self.clock(), UTC)
        signup = settings.tokens.check(token, now)
        if signup is None:
            return self._page(self._say(_BAD_LINK), self._say(_BAD_LINK_TEXT), 404)
        name = settings.newsletter.name
        if request.method == "GET":
            return self._page(
                self._say(_CONFIRM, name=name),
                self._say(_CONFIRM_TEXT, address=signup.address, name=name),
                button=self._say(_SUBSCRIBE),
                action=request.url.path,
            )
        body = await read_body(request, 4096)
        if ("confirm", "1") not in form_fields(body, request.headers.get("content-type", "")):
            return self._page(self._say(_BAD_LINK), "not a confirmation", 400)
        ip = _client(request) if settings.keep_ip else None
        consent = Consent(now, "form", SOURCE, settings.wording, ip or None)
        async with self.lock:
            status = await anyio.to_thread.run_sync(self._subscribe, signup, consent)
        if status is None:
            return self._page(self._say(_STALE), self._say(_STALE_TEXT), 410)
        if status not in ("subscribed", "paused"):  # an address forgotten while unsubscribed
            return self._page(self._say(_HELD), self._say(_HELD_TEXT, name=name), 409)
        return self._page(
            self._say(_DONE), self._say(_DONE_TEXT, address=signup.address, name=name)
        )

    def _subscribe(self, signup: SignUp, consent: Consent) -> Status | None:
        """Subscribe a confirmed sign-up: the reader's status; None if they left since."""
        status = confirm_sign_up(self._open(), signup, consent)
        log.info("sign-up: a reader confirmed (%s)", status)
        return status
