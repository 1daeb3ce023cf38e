"""``digest preview``: the server answers over HTTP and rebuilds when a source file changes."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from digest.preview import Preview, make_server

from .helpers import EXAMPLES


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "seed"
    shutil.copytree(EXAMPLES / "tangerangnews", folder)
    preview = Preview(folder / "newsletter.toml", on=date(2025, 9, 16))
    server = make_server(preview, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield preview.base_url, folder
    server.shutdown()
    server.server_close()


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_the_preview_pages(served: tuple[str, Path]) -> None:
    base, _ = served
    status, kind, body = get(base)
    assert status == 200 and kind.startswith("text/html")
    page = body.decode()
    assert 'src="/email.html" width="375"' in page and 'width="640"' in page
    assert "Baca selengkapnya" in page  # the text part, shown beside the two widths
    status, _, email = get(base + "email.html")
    assert status == 200 and b'lang="id"' in email
    assert (base + "assets/lead-umkm.png").encode() in email
    status, kind, picture = get(base + "assets/lead-umkm.png")
    assert status == 200 and kind == "image/png" and picture.startswith(b"\x89PNG")
    assert get(base + "assets/../newsletter.toml")[0] == 404
    assert get(base + "email.txt")[2].decode().startswith("TangerangNews")


def test_the_preview_rebuilds_when_the_data_changes(served: tuple[str, Path]) -> None:
    base, folder = served
    version = int(get(base + "version")[2])
    data_file = folder / "edition.json"
    data = json.loads(data_file.read_text())
    data["articles"][0]["title"] = "A changed headline for the lead story"
    data_file.write_text(json.dumps(data))
    later = time.time() + 5
    os.utime(data_file, (later, later))
    assert int(get(base + "version")[2]) == version + 1
    assert b"A changed headline for the lead story" in get(base + "email.html")[2]


def test_a_broken_edit_shows_the_error(served: tuple[str, Path]) -> None:
    base, folder = served
    data_file = folder / "edition.json"
    data_file.write_text("{ broken")
    later = time.time() + 10
    os.utime(data_file, (later, later))
    page = get(base)[2].decode()
    assert 'class="error"' in page and "not valid JSON" in page


def test_only_localhost_hosts_and_well_formed_paths_are_served() -> None:
    import http.client

    from digest.preview import ALLOWED_HOSTS, Preview, make_server

    from .helpers import EXAMPLES

    server = make_server(Preview(EXAMPLES / "riverside" / "newsletter.toml"), port=0)
    thread = __import__("threading").Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        for host, status in [("evil.example", 403), (f"localhost:{port}", 200), ("[::1]", 200)]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/email.txt", headers={"Host": host})
            assert connection.getresponse().status == status, host
            connection.close()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/assets/a%00b", headers={"Host": "localhost"})
        assert connection.getresponse().status in (400, 404)
        assert "localhost" in ALLOWED_HOSTS
    finally:
        server.shutdown()
        server.server_close()
