"""The editor's desk in the browser: the edition as readers get it, and the controls to steer it.

``make_desk`` is a Starlette application for one edition (a ``digest.schedule.desk.Desk``):
the email in a frame (phone or desktop width, light or dark, pictures on or off), beside it
every story of the window with buttons to make it the lead, leave it out or bring it back and
move it up or down, fields for the subject, preheader and an editor's note, the build's
findings, "Send proof" and "Approve". Every change is saved as the edition's plan, so that
``digest build`` makes what the desk shows.

``/report`` shows what the newest edition sent did (``digest.report``'s figures): clicks per
story as bars and the open and click rates over the last editions as a line, drawn on the
server as SVG (``digest.web.report_page``), each beside a table of its numbers.

Safe by construction: it is meant for loopback (``digest desk`` binds 127.0.0.1); it opens
with a one-time token in its URL, exchanged for a session cookie (HttpOnly, SameSite=Strict);
every request must carry a ``Host`` of this machine and port (against DNS rebinding); every
change needs the session's CSRF token in ``X-CSRF-Token``; the page loads nothing from
elsewhere (its Content-Security-Policy allows only itself, and the email's pictures). Bodies
are read streamed under 64 KB, as JSON nested at most 32 deep and checked by a model
(``digest.web.body``): a wrong one gets 4xx and a one-line reason. The email is shown in a
``sandbox`` frame (no scripts, an origin of its own) with a policy of its own that runs
nothing and loads only its pictures.
"""

from __future__ import annotations

import base64
import hmac
import logging
import mimetypes
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from digest.errors import DigestError, SendError, UsageError
from digest.pipeline import Digest
from digest.plan import Plan
from digest.schedule.build import edition_message
from digest.schedule.config import BuildConfig
from digest.schedule.desk import Desk
from digest.schedule.history import content_hashes
from digest.schedule.sending import SendRequest, send_edition
from digest.web.body import ClientDisconnect, Refused, log_disconnect, read_body, read_model
from digest.web.report_page import report_page, unreported_page

__all__ = ["DeskSession", "make_desk", "proof_sender"]


_COOKIE = "digest_desk"
#: How many editions the report page's trend shows.
_REPORT_EDITIONS = 12
_MAX_BODY = 64 * 1024

log = logging.getLogger("digest.web.desk")


class _Approval(BaseModel):
    """The body of ``POST /approve``: who approves."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: str = Field(default="", max_length=1000)


@dataclass
class DeskSession:
    """The desk's secrets: the one-time token of its URL, the session and its CSRF token."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    session: str | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def open(self, given: str) -> str | None:
        """Exchange the URL's token (once) for the session id."""
        if self.session is not None or not hmac.compare_digest(given, self.token):
            return None
        self.session = secrets.token_urlsafe(32)
        return self.session

    def valid(self, cookie: str | None) -> bool:
        """Whether a request carries the session."""
        return bool(self.session and cookie and hmac.compare_digest(cookie, self.session))


class _HostCheck:
    """Refuses a request whose Host is not this machine at this port (DNS rebinding)."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app, self.allowed = app, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            if host not in self.allowed:
                response = HTMLResponse(
                    f"wrong Host {escape(host[:100])!r}: open the desk from its link", 421
                )
                await response(scope, receive, send)
                return
            try:
                await self.app(scope, receive, send)
            except ClientDisconnect:
                log_disconnect(log, scope)  # nobody to answer: one line, no traceback
            return
        await self.app(scope, receive, send)


_IMG_SRC = re.compile(r"(<img\b[^>]*?\ssrc=)([\"'])(.*?)\2", re.IGNORECASE)


def _email_variant(
    html: str,
    scheme: str,
    pictures: bool,
    local: str | None = None,
    assets: Path | None = None,
) -> str:
    """The email as a reader in dark or light mode, with pictures blocked or not, sees it.

    The desk makes no request outside the machine: a picture below ``local`` (the
    newsletter's ``asset_base_url``) is read from the config's ``assets`` folder into the
    email itself (a ``data:`` URL: the sandboxed frame has no origin to send the session
    from), and any other picture is shown as blocked.
    """
    if scheme == "dark":
        html = html.replace("(prefers-color-scheme: dark)", "all")
    elif scheme == "light":
        html = html.replace("(prefers-color-scheme: dark)", "not all")

    def picture(match: re.Match[str]) -> str:
        before, quote, url = match.groups()
        if pictures and local and assets and url.startswith(local):
            inline = _inline_picture(assets, url[len(local) :])
            if inline:
                return f"{before}{quote}{inline}{quote}"
        return f"{before.removesuffix('src=')}data-blocked-src={quote}{url}{quote}"

    return _IMG_SRC.sub(picture, html)


_MAX_PICTURE = 8 * 1024 * 1024


def _inline_picture(folder: Path, name: str) -> str | None:
    """A picture of the assets folder as a ``data:`` URL (None outside it, or too big)."""
    root = folder.resolve()
    try:
        path = (root / unquote(name.split("?", 1)[0])).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        if path.stat().st_size > _MAX_PICTURE:
            return None
        data = path.read_bytes()
    except (OSError, ValueError):  # a NUL in the name, a file that went away
        return None
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def _findings(digest: Digest) -> list[dict[str, str]]:
    found = [
        {"severity": f.severity, "rule": f.rule, "message": f.message}
        for f in digest.findings  # the build's checks: size, alt, contrast, the placeholder link
        if f.severity != "info"
    ]
    size = len(digest.html.encode("utf-8")) / 1024
    budget = digest.newsletter.layout.size_budget_kb
    found.insert(
        0, {"severity": "info", "rule": "size", "message": f"{size:.1f} KB of {budget:g} KB"}
    )
    return found


def proof_sender(config: BuildConfig) -> Callable[[bytes, list[str]], int]:
    """Sends proofs of an edition as ``digest send --to`` does; how many got every subject."""

    def send_proof(raw: bytes, to: list[str]) -> int:
        # An A/B test's edition sends one proof of each subject, [Proof A], [Proof B] ...
        outcome = send_edition(config, raw, SendRequest(to=tuple(to)))
        if outcome.stopped:
            raise SendError(f"the proof stopped: {outcome.stopped}")
        for report in outcome.reports.values():
            for address, reason in report.refused.items():
                raise SendError(f"the proof to {address} was refused: {reason}")
        return outcome.sent

    return send_proof


def make_desk(
    desk: Desk,
    session: DeskSession,
    port: int,
    send_proof: Callable[[bytes, list[str]], int] | None = None,
) -> Starlette:
    """The desk's application for ``desk``'s edition, served on ``port`` of this machine."""
    allowed = frozenset(f"{host}:{port}" for host in ("127.0.0.1", "localhost", "[::1]"))
    state: dict[str, Any] = {}

    def current() -> tuple[Plan, Digest]:
        if "digest" not in state:
            plan = desk.plan()
            state.update(plan=plan, digest=desk.build(plan))
        return state["plan"], state["digest"]

    def summary() -> dict[str, Any]:
        plan, digest = current()
        stories = desk.stories(digest, plan)
        named = [spec.name for spec in digest.newsletter.layout.sections]
        sections = list(dict.fromkeys([*named, *(story.section for story in stories)]))
        return {
            "edition": digest.edition_key,
            "subject": digest.subject,
            "preheader": digest.preheader,
            "plan": plan.model_dump(mode="json"),
            "stories": [vars(s) for s in stories],
            "sections": sections,
            "quotes": [q.text for q in desk.gathered.quotes],
            "quote": digest.edition.quote.text if digest.edition.quote else None,
            "findings": _findings(digest),
            "proof_to": list(desk.config.desk.proof_to),
            "approver": desk.config.desk.approver or "",
            "publish": _hand_off(desk, digest),
        }

    def authorised(request: Request, change: bool) -> Response | None:
        if not session.valid(request.cookies.get(_COOKIE)):
            return HTMLResponse("open the desk from the link digest desk printed", 403)
        if change and not hmac.compare_digest(
            request.headers.get("x-csrf-token", ""), session.csrf
        ):
            return JSONResponse({"error": "missing or wrong CSRF token"}, 403)
        return None

    async def home(request: Request) -> Response:
        given = request.query_params.get("token")
        if given is not None:
            opened = session.open(given)
            if opened is None:
                return HTMLResponse(
                    "this link was used already, or is wrong: run digest desk again", 403
                )
            response = RedirectResponse("/", 303)
            response.set_cookie(_COOKIE, opened, httponly=True, samesite="strict")
            return response
        refused = authorised(request, change=False)
        if refused is not None:
            return refused
        return HTMLResponse(
            _page(session.csrf),
            headers={"Cache-Control": "no-store", "Content-Security-Policy": _DESK_POLICY},
        )

    async def email(request: Request) -> Response:
        refused = authorised(request, change=False)
        if refused is not None:
            return refused
        _, digest = current()
        scheme = request.query_params.get("scheme", "light")
        pictures = request.query_params.get("pictures", "on") != "off"
        local = digest.newsletter.links.asset_base_url if desk.config.assets else None
        variant = await anyio.to_thread.run_sync(
            _email_variant, digest.html, scheme, pictures, local, desk.config.assets
        )
        return HTMLResponse(
            variant,
            headers={"Cache-Control": "no-store", "Content-Security-Policy": _EMAIL_POLICY},
        )

    async def get_state(request: Request) -> Response:
        refused = authorised(request, change=False)
        return refused or JSONResponse(summary())

    async def set_plan(request: Request) -> Response:
        refused = authorised(request, change=True)
        if refused is not None:
            return refused
        plan = read_model(await read_body(request, _MAX_BODY), Plan, empty=True)
        try:
            digest = desk.save_plan(plan)
        except DigestError as error:
            return JSONResponse({"error": " ".join(str(error).split())}, 400)
        state.update(plan=plan, digest=digest)
        return JSONResponse(summary())

    async def proof(request: Request) -> Response:
        refused = authorised(request, change=True)
        if refused is not None:
            return refused
        if send_proof is None or not desk.config.desk.proof_to:
            return JSONResponse({"error": "no proof addresses: set proof_to in [desk]"}, 400)
        _, digest = current()
        try:
            sent = await anyio.to_thread.run_sync(
                send_proof, edition_message(desk.config, digest), list(desk.config.desk.proof_to)
            )
        except DigestError as error:
            return JSONResponse({"error": str(error)}, 400)
        return JSONResponse({"sent": sent, "to": list(desk.config.desk.proof_to)})

    async def approve(request: Request) -> Response:
        refused = authorised(request, change=True)
        if refused is not None:
            return refused
        approval_body = read_model(await read_body(request, _MAX_BODY), _Approval, empty=True)
        name = approval_body.name[:100]
        if not name:
            return JSONResponse({"error": "type who approves"}, 400)
        _, approval = desk.approve(name, current()[1])  # what the desk shows
        return JSONResponse({"approver": approval.approver, "approved_at": approval.approved_at})

    async def publish(request: Request) -> Response:
        refused = authorised(request, change=True)
        if refused is not None:
            return refused
        _, digest = current()
        try:
            said = await anyio.to_thread.run_sync(_publish, desk, digest)
        except DigestError as error:
            return JSONResponse({"error": " ".join(str(error).split())}, 400)
        return JSONResponse({**summary(), "said": said})

    async def asset(request: Request) -> Response:
        refused = authorised(request, change=False)
        if refused is not None:
            return refused
        folder = desk.config.assets
        if folder is None:
            return Response("no assets folder", 404)
        path = (folder / request.path_params["path"]).resolve()
        if not path.is_relative_to(folder.resolve()) or not path.is_file():
            return Response("not found", 404)
        return FileResponse(path)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ("desk.css", "desk.js", "report.css"):
            return Response("not found", 404)
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return Response(_STATIC[name], media_type=kind)

    async def report_view(request: Request) -> Response:
        refused = authorised(request, change=False)
        if refused is not None:
            return refused
        try:
            page = await anyio.to_thread.run_sync(_report, desk.config)
        except DigestError as error:
            page = unreported_page(str(error))
        return HTMLResponse(
            page, headers={"Cache-Control": "no-store", "Content-Security-Policy": _DESK_POLICY}
        )

    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, Refused)
        return JSONResponse({"error": error.reason}, error.status)

    routes = [
        Route("/", home, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/assets/{path:path}", asset, methods=["GET"]),
        Route("/email", email, methods=["GET"]),
        Route("/state", get_state, methods=["GET"]),
        Route("/plan", set_plan, methods=["POST"]),
        Route("/proof", proof, methods=["POST"]),
        Route("/approve", approve, methods=["POST"]),
        Route("/publish", publish, methods=["POST"]),
        Route("/report", report_view, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(_HostCheck, allowed=allowed)],
        exception_handlers={Refused: refused},
    )


def _hand_off(desk: Desk, digest: Digest) -> dict[str, Any] | None:
    """The desk's hand-off to the list manager: its button, and the campaign once made."""
    from digest.publish.tools import desk_tool, publisher_for

    tool = desk_tool(desk.config.publish)
    if tool is None:
        return None
    name = publisher_for(desk.config.publish, tool).name
    with desk.history() as history:
        approval = history.approval(desk.on)
        record = history.campaign(digest.edition_key, tool)
    hashes = content_hashes(digest.subject, digest.html, digest.text)
    campaign = None
    if record is not None and record.id:
        campaign = {"id": record.id, "status": record.status, "url": record.url}
    return {
        "tool": tool,
        "name": name,
        "label": f"Create campaign in {name}" if campaign is None else f"Update draft in {name}",
        "approved": approval is not None and not approval.changed(hashes),
        "campaign": campaign,
    }


def _publish(desk: Desk, digest: Digest) -> str:
    """Publish the edition shown, once approved as shown; what happened, in one line."""
    from digest.publish.publishing import publish_digest
    from digest.publish.tools import desk_tool, publisher_for

    tool = desk_tool(desk.config.publish)
    if tool is None:
        raise UsageError("no list manager to publish to: add a [publish.TOOL] table")
    with desk.history() as history:
        approval = history.approval(desk.on)
        hashes = content_hashes(digest.subject, digest.html, digest.text)
        if approval is None:
            raise UsageError("approve the edition first: only an approved edition is published")
        changed = approval.changed(hashes)
        if changed:
            raise UsageError(
                f"{' and '.join(changed)} changed after {approval.approver} approved it: "
                "approve it again"
            )
        publisher = publisher_for(desk.config.publish, tool)
        # The page links the campaign beside this line: the line need not spell its URL.
        return publish_digest(digest, publisher, history).describe(link=False)


def _report(config: BuildConfig) -> str:
    """The report page of the config's newest edition and the trend of its last ones."""
    from digest.report import report, trend

    return report_page(report(config), trend(config, _REPORT_EDITIONS))


def _page(csrf: str) -> str:
    return _STATIC["desk.html"].replace("{{csrf}}", escape(csrf))


_STATIC = {
    name: (Path(__file__).parent / "static" / name).read_text(encoding="utf-8")
    for name in ("desk.html", "desk.css", "desk.js", "report.css")
}

#: The desk page's own policy: its script, style and pictures from itself, nothing else.
_DESK_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'self'"
)
#: The email's own policy (it is shown in a sandboxed frame too): no script, no form, no
#: frame, no connection; only its inline styles and its pictures, inline as data: URLs.
_EMAIL_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox"
)
