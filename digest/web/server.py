"""The HTTP server of ``digest serve``, ``digest desk`` and ``digest preview``: uvicorn, bounded.

Uvicorn closes a connection idle between requests (``timeout_keep_alive``) and answers 503
over ``limit_concurrency`` connections, but waits for ever for the first request's line and
headers: a client that connects and sends nothing, or one header byte a second, keeps its
connection. ``ServerLimits.head_timeout`` closes a connection whose request head is not in
within that many seconds of the connection (or of the last response), however it trickles.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from digest.errors import DigestError

__all__ = ["Server", "ServerLimits", "serve"]


@dataclass(frozen=True)
class ServerLimits:
    """How many connections a server keeps, and how long it waits for each."""

    #: Connections at once; a request over it gets 503 at once.
    connections: int = 200
    #: Seconds a connection may stay idle between requests.
    keep_alive: int = 5
    #: Seconds a request's line and headers may take to arrive, however slowly they trickle.
    head_timeout: float = 10.0
    #: Bytes a request's line and headers may take (431/400 over it).
    max_head: int = 16 * 1024


def _protocol(limits: ServerLimits) -> type[H11Protocol]:
    """Uvicorn's HTTP/1.1 protocol with a deadline for each request's head."""

    class HeadTimedProtocol(H11Protocol):
        """Closes a connection whose request head is late (``ServerLimits.head_timeout``)."""

        head_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            """Send each write at once (``_no_delay``); start the clock for the first head."""
            _no_delay(transport)
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm()

        def data_received(self, data: bytes) -> None:
            """Stop the clock once a request's head is in."""
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def on_response_complete(self) -> None:
            """Start the clock again for the next request on this connection."""
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            """Stop the clock."""
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self.head_deadline = self.loop.call_later(limits.head_timeout, self._late)

        def _disarm(self) -> None:
            if self.head_deadline is not None:
                self.head_deadline.cancel()
                self.head_deadline = None

        def _late(self) -> None:
            self.head_deadline = None
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self.transport.close()

    return HeadTimedProtocol


def _no_delay(transport: asyncio.BaseTransport) -> None:
    """Turn off Nagle's algorithm on a connection: asyncio does only for a socket made as TCP.

    The listening socket ``Server`` binds is made with protocol 0, not ``IPPROTO_TCP``, and
    asyncio leaves the connections it accepts as they are; a response is written in two
    parts (head, then body), and on a kept-alive connection the body waited for the client's
    delayed ACK: 40 ms a response behind a proxy that keeps its connections.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _config(app: Any, limits: ServerLimits, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=_protocol(limits),
        limit_concurrency=limits.connections,
        timeout_keep_alive=limits.keep_alive,
        h11_max_incomplete_event_size=limits.max_head,
        # Uvicorn's access log would print the tokens in unsubscribe paths: apps log themselves.
        access_log=False,
        log_level=log_level,
    )


class Server:
    """An ASGI app served by uvicorn on ``host:port``, bound at once (port 0 picks one)."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: ServerLimits | None = None,
        log_level: str = "warning",
    ) -> None:
        """Bind the socket now (``OSError`` when the port is taken); serve later."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.create_server((host.strip("[]"), port), family=family)
        #: The host and the port bound.
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self.uvicorn = uvicorn.Server(_config(app, limits or ServerLimits(), log_level))
        self._running = threading.Event()
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        """Serve until ``shutdown`` (or Ctrl+C)."""
        self._running.set()
        try:
            self.uvicorn.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop serving (from another thread), and wait until it has stopped."""
        self.uvicorn.should_exit = True
        if self._running.is_set():
            self._stopped.wait(timeout)

    def server_close(self) -> None:
        """Close the listening socket."""
        self.socket.close()


def serve(app: Any, host: str, port: int, limits: ServerLimits | None = None) -> None:
    """Serve ``app`` on ``host:port`` until Ctrl+C (a ``DigestError`` when it cannot listen)."""
    try:
        server = Server(app, host, port, limits)
    except OSError as error:
        reason = error.strerror or str(error)
        raise DigestError(
            f"cannot serve on {host}:{port}: {reason} (pick another with --port)"
        ) from None
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # Ctrl+C (uvicorn raises the signal again once it has stopped)
        pass
    finally:
        server.server_close()
