"""``digest serve`` as a process: it answers, unsubscribes, logs without tokens and stops."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from digest.mail.message import list_id
from digest.schedule.config import load_config
from digest.suppression import UnsubscribeTokens

from ..helpers import EXAMPLES, digest_serve, run_digest

SECRET = "a-secret-for-the-serve-command-test"


def test_digest_serve(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    text = (EXAMPLES / "riverside" / "newsletter.toml").read_text()
    config.write_text(text.replace('data = "articles.json"', "").replace('assets = "images"', ""))
    env = {"DIGEST_UNSUBSCRIBE_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    token = UnsubscribeTokens(SECRET, list_id(load_config(config).newsletter)).token(
        "kim@example.org"
    )
    with digest_serve(config, env) as serving:
        request = urllib.request.Request(
            f"{serving.base}/unsubscribe/{token}", data=b"List-Unsubscribe=One-Click"
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.read() == b"unsubscribed\n"
        try:
            urllib.request.urlopen(f"{serving.base}/unsubscribe/{token[:-2]}AA", timeout=5)
        except urllib.error.HTTPError as error:
            assert error.code == 404
        else:
            raise AssertionError("a forged token was taken")
    out, err = serving.out, serving.err
    assert f"Serving The Riverside Weekly on {serving.base}" in out
    assert "POST /unsubscribe/… 200" in err and "GET /unsubscribe/… 404" in err
    assert token not in err + out and token[:20] not in err + out
    listed = run_digest("suppress", "list", "--config", config)
    assert listed.stdout.startswith("kim@example.org\tunsubscribed\tone-click\t")
