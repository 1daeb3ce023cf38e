"""A kept-alive connection gets each answer at once: the server's writes are not held back.

A response goes out in two writes, its head and then its body. With Nagle's algorithm on the
server's connection the body waits for the client to acknowledge the head, and a client
(or a proxy that keeps its connections) delays that acknowledgement by 40 ms: every answer
after a connection's first took 40 ms. Through ``digest.web.server.Server`` and the real
``digest serve``, on one kept-alive socket, the middle one of twenty answers is far under it.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from digest.web.server import Server

from ..helpers import EXAMPLES, digest_serve

#: Linux's shortest delayed acknowledgement is 40 ms; an answer not held back takes well under 1.
HELD_BACK = 0.030


def middle_answer(port: int, request: bytes, rounds: int = 20) -> float:
    """The median time, in seconds, of ``rounds`` requests on one kept-alive connection.

    Not the shortest: a connection's first answers are acknowledged at once, held back or not.
    """
    times = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        for _ in range(rounds):
            start = time.perf_counter()
            connection.sendall(request)
            data = b""
            while not (b"\r\n\r\n" in data and data.endswith(b"}")):
                chunk = connection.recv(65536)
                assert chunk, "the server closed the connection"
                data += chunk
            times.append(time.perf_counter() - start)
            assert data.startswith(b"HTTP/1.1 200"), data[:80]
    return statistics.median(times)


@contextmanager
def served(app: Starlette) -> Iterator[int]:
    server = Server(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.uvicorn.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


async def answer(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_server_answers_a_kept_alive_connection_at_once(method: str) -> None:
    app = Starlette(routes=[Route("/", answer, methods=[method])])
    body = b'{"a": 1}' if method == "POST" else b""
    request = (
        f"{method} / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with served(app) as port:
        assert middle_answer(port, request) < HELD_BACK


def test_digest_serve_answers_a_kept_alive_connection_at_once(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    text = (EXAMPLES / "riverside" / "newsletter.toml").read_text()
    config.write_text(text.replace('data = "articles.json"', "").replace('assets = "images"', ""))
    with digest_serve(config, {"PATH": "/usr/bin:/bin"}) as serving:
        port = int(serving.base.rsplit(":", 1)[1])
        request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        assert middle_answer(port, request) < HELD_BACK
