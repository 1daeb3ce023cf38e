"""Preview: serve an edition on localhost, phone and desktop side by side, rebuilt on change.

It runs on the server ``digest serve`` and the desk run on (uvicorn, ``digest.web.server``):
connections are bounded, and one idle or trickling its headers is closed after its timeout.
Needs the ``web`` extra.
"""

from __future__ import annotations

import html
import mimetypes
import threading
from datetime import date
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from digest.errors import DigestError, NothingNewError
from digest.models import Article
from digest.render.renderer import Renderer, RenderOptions
from digest.schedule.build import edition_date, gather, open_history, prepare
from digest.schedule.config import BuildConfig, load_config
from digest.schedule.history import History
from digest.web.server import Server, ServerLimits

__all__ = ["DESKTOP_WIDTH", "PHONE_WIDTH", "Preview", "make_app", "make_server"]

#: The widths the preview draws the email at, in CSS pixels: a phone's screen, and a desktop
#: client's reading pane (the email's 600 px body with room on each side and for a scroll bar).
PHONE_WIDTH = 375
DESKTOP_WIDTH = 640

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Preview: {title}</title>
<style>
body {{ margin: 0; font-family: system-ui, sans-serif; background: #e9ebee; }}
header {{ padding: 12px 20px; background: #1f2328; color: #fff; }}
main {{ display: flex; gap: 24px; padding: 20px; align-items: flex-start; flex-wrap: wrap; }}
figure {{ margin: 0; }} figcaption {{ font-size: 13px; color: #555; margin-bottom: 6px; }}
iframe {{ border: 1px solid #ccc; background: #fff; height: 1400px; }}
pre {{ white-space: pre-wrap; background: #fff; padding: 16px; max-width: 640px; }}
.error {{ color: #b00020; white-space: pre-wrap; }}
.note {{ color: #5f4b00; background: #fff4d6; padding: 8px 12px; border-radius: 6px; }}
</style></head><body>
<header><strong>{title}</strong> &middot; {subject}</header>
<main>{body}</main>
<script>
let seen = {version};
setInterval(async () => {{
  const now = await (await fetch('/version')).text();
  if (now !== String(seen)) location.reload();
}}, 1000);
</script></body></html>"""


class Preview:
    """Builds one edition in memory, again whenever a file it came from changes."""

    def __init__(self, config_path: Path, on: date | None = None, base_url: str = "") -> None:
        """Watch the config at ``config_path``; pictures are served below ``base_url``."""
        self.config_path = config_path
        self.on = on
        self.base_url = base_url
        self.version = 0
        self.html = self.text = self.subject = ""
        self.error: str | None = None
        #: Why the preview shows another date than the newest scheduled one, when it does.
        self.note: str | None = None
        self._stamps: dict[Path, float] = {}
        self._lock = threading.Lock()
        self.config: BuildConfig | None = None

    def _watched(self) -> list[Path]:
        files = [self.config_path]
        if self.config is not None:
            files += self.config.data + [s.path for s in self.config.sources if s.path]
            if self.config.templates is not None and self.config.templates.is_dir():
                files += sorted(p for p in self.config.templates.rglob("*") if p.is_file())
        return files

    def _stamp(self) -> dict[Path, float]:
        return {p: p.stat().st_mtime if p.exists() else -1.0 for p in self._watched()}

    def refresh(self) -> None:
        """Rebuild if the config, a data file, a source file or a template changed."""
        with self._lock:
            if self.version and self._stamp() == self._stamps:
                return
            try:
                self.config = load_config(self.config_path)
                self._stamps = self._stamp()
                on = edition_date(self.config, self.on)
                history = open_history(self.config, create=False)
                try:
                    renderer = Renderer(
                        RenderOptions(
                            template_dir=self.config.templates,
                            asset_base_url=self.base_url + "assets/"
                            if self.config.assets
                            else None,
                        )
                    )
                    gathered = gather(self.config, write_cache=False)
                    self.note = None
                    try:
                        digest, _ = prepare(self.config, on, gathered, history, renderer=renderer)
                    except NothingNewError as nothing:
                        if self.on is not None:
                            raise
                        # Without --date, the newest scheduled date may have nothing new yet:
                        # show the newest edition there is rather than an error page.
                        earlier = newest_edition(self.config, gathered.articles, history)
                        if earlier is None or earlier == on:
                            raise
                        digest, _ = prepare(
                            self.config, earlier, gathered, history, renderer=renderer
                        )
                        self.note = (
                            f"Nothing new for {on.isoformat()} yet ({nothing}); this is the "
                            f"edition of {earlier.isoformat()}. Pass --date to preview another."
                        )
                finally:
                    if history is not None:
                        history.close()
                self.html, self.text, self.subject = digest.html, digest.text, digest.subject
                self.error = None
            except DigestError as error:
                self._stamps = self._stamp()
                self.error = str(error)
            self.version += 1

    def page(self) -> str:
        """The preview page: the email at phone and desktop widths, and the text part."""
        self.refresh()
        if self.error:
            body = f'<p class="error">{html.escape(self.error)}</p>'
        else:
            note = (
                f'<p class="note" role="status">{html.escape(self.note)}</p>' if self.note else ""
            )
            body = note + (
                f"<figure><figcaption>Phone, {PHONE_WIDTH} px</figcaption>"
                f'<iframe src="/email.html" width="{PHONE_WIDTH}" '
                'title="The email at phone width"></iframe></figure>'
                f"<figure><figcaption>Desktop, {DESKTOP_WIDTH} px</figcaption>"
                f'<iframe src="/email.html" width="{DESKTOP_WIDTH}" '
                'title="The email at desktop width"></iframe></figure>'
                "<figure><figcaption>Plain text</figcaption>"
                f"<pre>{html.escape(self.text)}</pre></figure>"
            )
        return _PAGE.format(
            title=html.escape(self.config_path.name),
            subject=html.escape(self.subject),
            body=body,
            version=self.version,
        )


def newest_edition(
    config: BuildConfig, articles: list[Article], history: History | None
) -> date | None:
    """The date of the newest edition there is to show (None without articles).

    The last edition built, else the first scheduled date on or after the newest article.
    """
    built = history.editions() if history is not None else []
    if built:
        return built[0].date
    if not articles:
        return None
    newest = max(a.published_at for a in articles).astimezone(config.newsletter.zone).date()
    cadence = config.newsletter.schedule.cadence
    if cadence is None:
        return newest
    return cadence.next(newest)


#: Host names the preview answers to (anything else may be a DNS rebinding attack).
ALLOWED_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
#: Connections served at once, how long an idle one is kept and how long a request's line and
#: headers may take to arrive, however slowly they trickle in (seconds).
LIMITS = ServerLimits(connections=200, keep_alive=5, head_timeout=10.0)


def _host_allowed(header: str | None) -> bool:
    if not header:
        return False
    host = header.strip().lower()
    name = host[: host.find("]") + 1] if host.startswith("[") else host.rsplit(":", 1)[0]
    return name in ALLOWED_HOSTS


def make_app(preview: Preview) -> Starlette:
    """The preview's ASGI application: the page, the email, its text and its pictures."""

    def answer(body: str | bytes, kind: str, status: int = 200) -> Response:
        return Response(body, status, headers={"Cache-Control": "no-store"}, media_type=kind)

    async def page(request: Request) -> Response:
        return answer(await anyio.to_thread.run_sync(preview.page), "text/html; charset=utf-8")

    async def version(request: Request) -> Response:
        await anyio.to_thread.run_sync(preview.refresh)
        return answer(str(preview.version), "text/plain")

    async def email_html(request: Request) -> Response:
        await anyio.to_thread.run_sync(preview.refresh)
        return answer(preview.html or "<p>No edition</p>", "text/html; charset=utf-8")

    async def email_text(request: Request) -> Response:
        await anyio.to_thread.run_sync(preview.refresh)
        return answer(preview.text, "text/plain; charset=utf-8")

    async def asset(request: Request) -> Response:
        folder = preview.config.assets if preview.config else None
        if folder is None:
            return answer("not found", "text/plain", 404)
        root = folder.resolve()
        target = (root / request.path_params["path"]).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return answer("not found", "text/plain", 404)
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return answer(await anyio.Path(target).read_bytes(), kind)

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/email.html", email_html, methods=["GET"]),
        Route("/email.txt", email_text, methods=["GET"]),
        Route("/assets/{path:path}", asset, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(_Guard)])


class _Guard:
    """Answers only hosts named ``localhost`` (DNS rebinding) and paths without a NUL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            refusal = None
            if not _host_allowed(host):
                refusal = Response("this preview answers to localhost only", 403)
            elif "\0" in scope["path"]:
                refusal = Response("bad request", 400)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def make_server(
    preview: Preview, host: str = "127.0.0.1", port: int = 8000, limits: ServerLimits = LIMITS
) -> Server:
    """A server (uvicorn) for ``preview`` on ``host:port`` (port 0 picks a free one).

    Bound at once (``OSError`` when the port is taken); ``serve_forever`` serves.
    """
    server = Server(make_app(preview), host, port, limits)
    preview.base_url = f"http://{host}:{server.server_address[1]}/"
    return server
