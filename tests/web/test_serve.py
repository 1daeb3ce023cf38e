"""``digest serve`` as a process: it answers, unsubscribes, logs without tokens and stops."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from digest.mail.message import list_id
from digest.schedule.config import load_config
from digest.suppression import UnsubscribeTokens

from ..helpers import EXAMPLES, digest_command, run_digest
from ..mailservers import free_port

SECRET = "a-secret-for-the-serve-command-test"


def test_digest_serve(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    text = (EXAMPLES / "riverside" / "newsletter.toml").read_text()
    config.write_text(text.replace('data = "articles.json"', "").replace('assets = "images"', ""))
    port = free_port()
    env = {"DIGEST_UNSUBSCRIBE_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(
        [*digest_command(), "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    token = UnsubscribeTokens(SECRET, list_id(load_config(config).newsletter)).token(
        "kim@example.org"
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "digest serve did not answer"
                time.sleep(0.1)
        request = urllib.request.Request(
            f"{base}/unsubscribe/{token}", data=b"List-Unsubscribe=One-Click"
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.read() == b"unsubscribed\n"
        try:
            urllib.request.urlopen(f"{base}/unsubscribe/{token[:-2]}AA", timeout=5)
        except urllib.error.HTTPError as error:
            assert error.code == 404
        else:
            raise AssertionError("a forged token was taken")
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert f"Serving The Riverside Weekly on http://127.0.0.1:{port}" in out
    assert "POST /unsubscribe/… 200" in err and "GET /unsubscribe/… 404" in err
    assert token not in err + out and token[:20] not in err + out
    listed = run_digest("suppress", "list", "--config", config)
    assert listed.stdout.startswith("kim@example.org\tunsubscribed\tone-click\t")
