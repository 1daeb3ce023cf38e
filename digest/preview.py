"""Preview: serve an edition on localhost, phone and desktop side by side, rebuilt on change."""

from __future__ import annotations

import contextlib
import html
import mimetypes
import socket
import threading
from datetime import date
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from digest.errors import DigestError, NothingNewError
from digest.models import Article
from digest.render.renderer import Renderer, RenderOptions
from digest.schedule.build import edition_date, gather, open_history, prepare
from digest.schedule.config import BuildConfig, load_config
from digest.schedule.history import History

__all__ = ["Preview", "make_server"]

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
                "<figure><figcaption>Phone, 375 px</figcaption>"
                '<iframe src="/email.html" width="375" title="The email at phone width"></iframe>'
                "</figure><figure><figcaption>Desktop, 600 px</figcaption>"
                '<iframe src="/email.html" width="640" title="The email at desktop width">'
                "</iframe></figure><figure><figcaption>Plain text</figcaption>"
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
#: Connections served at once, and how long an idle connection is kept (seconds).
MAX_CONNECTIONS = 16
IDLE_TIMEOUT = 10.0
#: Seconds a request's line and headers may take to arrive, however slowly they trickle in.
REQUEST_DEADLINE = 10.0


class _BoundedServer(ThreadingHTTPServer):
    """A threading server that serves at most ``MAX_CONNECTIONS`` connections at once."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve in a thread while a slot is free; otherwise close the connection at once."""
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection, then free its slot."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _host_allowed(header: str | None) -> bool:
    if not header:
        return False
    host = header.strip().lower()
    name = host[: host.find("]") + 1] if host.startswith("[") else host.rsplit(":", 1)[0]
    return name in ALLOWED_HOSTS


def make_server(preview: Preview, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server for ``preview`` on ``host:port`` (port 0 picks a free one)."""

    class Handler(BaseHTTPRequestHandler):
        timeout = IDLE_TIMEOUT

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def handle_one_request(self) -> None:
            # The socket timeout is per read: one byte every few seconds would keep a slot
            # for ever. A timer closes the connection once the head is late as a whole.
            self._late = threading.Timer(REQUEST_DEADLINE, self._cut)
            self._late.daemon = True
            self._late.start()
            try:
                super().handle_one_request()
            finally:
                self._late.cancel()

        def parse_request(self) -> bool:
            parsed = super().parse_request()
            self._late.cancel()  # the head is in: building the page may take its time
            return parsed

        def _cut(self) -> None:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

        def _send(self, body: str | bytes, kind: str, status: int = HTTPStatus.OK) -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if not _host_allowed(self.headers.get("Host")):
                self._send("this preview answers to localhost only", "text/plain", 403)
                return
            path = self.path.split("?", 1)[0]
            if "\0" in path or not path.startswith("/"):
                self._send("bad request", "text/plain", HTTPStatus.BAD_REQUEST)
                return
            if path == "/":
                self._send(preview.page(), "text/html; charset=utf-8")
            elif path == "/version":
                preview.refresh()
                self._send(str(preview.version), "text/plain")
            elif path == "/email.html":
                preview.refresh()
                self._send(preview.html or "<p>No edition</p>", "text/html; charset=utf-8")
            elif path == "/email.txt":
                preview.refresh()
                self._send(preview.text, "text/plain; charset=utf-8")
            elif path.startswith("/assets/") and preview.config and preview.config.assets:
                root = preview.config.assets.resolve()
                target = (root / path.removeprefix("/assets/")).resolve()
                if target.is_relative_to(root) and target.is_file():
                    kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                    self._send(target.read_bytes(), kind)
                else:
                    self._send("not found", "text/plain", HTTPStatus.NOT_FOUND)
            else:
                self._send("not found", "text/plain", HTTPStatus.NOT_FOUND)

    server = _BoundedServer((host, port), Handler)
    preview.base_url = f"http://{host}:{server.server_address[1]}/"
    return server
