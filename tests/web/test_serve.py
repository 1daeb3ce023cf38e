"""``digest serve`` as a process: it answers, unsubscribes, logs without tokens and stops."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

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


def _multipart(name: str, value: str) -> tuple[bytes, str]:
    """A form as RFC 7578 writes it, and its Content-Type."""
    boundary = "----digest-test-boundary-7MA4YWxkTrZu0gW"
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
        f"{value}\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    return body, f"multipart/form-data; boundary={boundary}"


URLENCODED = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("body", "content_type", "taken"),
    [
        # RFC 8058 section 3.2: the POST SHOULD be multipart/form-data, MAY be URL-encoded.
        (*_multipart("List-Unsubscribe", "One-Click"), True),
        (b"List-Unsubscribe=One-Click", URLENCODED, True),
        (b"List-Unsubscribe=One-Click\r\n", URLENCODED, True),
        (b"List-Unsubscribe=One-Click", "", True),
        (b"List-Unsubscribe=One-Click&utm=x", "text/plain", True),
        (*_multipart("List-Unsubscribe", "Something-Else"), False),
        (*_multipart("other", "One-Click"), False),
        (b"List-Unsubscribe=Two-Clicks", URLENCODED, False),
        (b"--x\r\nnot a form", "multipart/form-data", False),
    ],
    ids=[
        "multipart",
        "urlencoded",
        "urlencoded-crlf",
        "no-type",
        "text-plain",
        "multipart-other-value",
        "multipart-other-name",
        "urlencoded-other-value",
        "multipart-broken",
    ],
)
def test_a_one_click_post_in_either_form_rfc_8058_allows_unsubscribes(
    tmp_path: Path, body: bytes, content_type: str, taken: bool
) -> None:
    config = tmp_path / "newsletter.toml"
    text = (EXAMPLES / "riverside" / "newsletter.toml").read_text()
    config.write_text(text.replace('data = "articles.json"', "").replace('assets = "images"', ""))
    env = {"DIGEST_UNSUBSCRIBE_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    token = UnsubscribeTokens(SECRET, list_id(load_config(config).newsletter)).token(
        "kim@example.org"
    )
    headers = {"Content-Type": content_type} if content_type else {}
    with digest_serve(config, env) as serving:
        request = urllib.request.Request(
            f"{serving.base}/unsubscribe/{token}", data=body, headers=headers
        )
        if not content_type:  # urllib would add a type of its own
            request.remove_header("Content-type")
            request.add_unredirected_header("Content-Type", "")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                status, said = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, said = error.code, error.read()
    assert status == (200 if taken else 400), said
    assert "Traceback" not in serving.err
    listed = run_digest("suppress", "list", "--config", config).stdout
    assert listed.startswith("kim@example.org\tunsubscribed\tone-click\t") is taken, listed
