"""The webhooks: real provider payloads, signed as each provider signs, and every way to forge.

Payloads from django-anymail's tests (BSD 3-clause); Resend's requests signed with the
``svix`` library; SNS messages signed with a key made in the test (``sns.Sns``).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import svix.webhooks as svix
from starlette.testclient import TestClient

from digest.suppression import SuppressionList, UnsubscribeTokens
from digest.web import WebSettings, make_app
from digest.web.webhooks.ses import sns_url_ok

from ..helpers import EXAMPLES, FIXTURES, digest_command, run_digest
from ..mailservers import free_port
from .sns import TOPIC, Sns

PAYLOADS = FIXTURES / "webhooks"
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-test-signing-secret").decode()
TOKENS = UnsubscribeTokens("unsubscribe-secret-for-the-tests", "weekly.example.org")


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


@pytest.fixture
def sns() -> Sns:
    return Sns()


@pytest.fixture
def settings(tmp_path: Path, sns: Sns) -> WebSettings:
    return WebSettings(
        suppressions=tmp_path / "suppressions.sqlite3",
        name="The Weekly",
        tokens=TOKENS,
        sns_topics=frozenset({TOPIC}),
        postmark_password="pm-password",
        resend_secret=RESEND_SECRET,
        fetch=sns.fetch,
        max_body=64 * 1024,
    )


@pytest.fixture
def client(settings: WebSettings) -> Iterator[TestClient]:
    with TestClient(make_app(settings)) as test_client:
        yield test_client


def suppressed(settings: WebSettings) -> dict[str, str]:
    with SuppressionList(settings.suppressions) as listed:
        return {entry.address: entry.reason for entry in listed}


def resend_post(
    client: TestClient,
    body: dict[str, Any],
    msg_id: str = "msg_2Zbm8fOHmTsKjWJg",
    when: datetime | None = None,
    secret: str = RESEND_SECRET,
) -> Any:
    data = json.dumps(body)
    when = when or datetime.now(UTC)
    signature = svix.Webhook(secret).sign(msg_id=msg_id, timestamp=when, data=data)
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(int(when.timestamp())),
        "svix-signature": signature,
        "content-type": "application/json",
    }
    return client.post("/webhooks/resend", content=data, headers=headers)


POSTMARK_AUTH = {"authorization": "Basic " + base64.b64encode(b"postmark:pm-password").decode()}


@pytest.mark.parametrize(
    ("name", "address", "reason"),
    [
        ("postmark-bounce", "bounce@example.com", "hard-bounce"),
        ("postmark-spam-complaint", "spam@example.com", "complaint"),
        ("postmark-subscription-change", "john@example.com", "unsubscribed"),
    ],
)
def test_postmark_records(
    client: TestClient, settings: WebSettings, name: str, address: str, reason: str
) -> None:
    body = payload(name)
    answer = client.post("/webhooks/postmark", json=body, headers=POSTMARK_AUTH)
    assert answer.status_code == 200 and answer.json() == {"events": 1, "new": 1}
    assert suppressed(settings) == {address: reason}
    again = client.post("/webhooks/postmark", json=body, headers=POSTMARK_AUTH)  # Postmark retries
    assert again.json() == {"events": 1, "new": 0}


@pytest.mark.parametrize(
    "auth",
    [
        {},
        {"authorization": "Basic " + base64.b64encode(b"postmark:wrong").decode()},
        {"authorization": "Basic not base64!"},
        {"authorization": "Bearer pm-password"},
    ],
)
def test_postmark_without_the_password_is_refused(
    client: TestClient, settings: WebSettings, auth: dict[str, str]
) -> None:
    answer = client.post("/webhooks/postmark", json=payload("postmark-bounce"), headers=auth)
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Basic")
    assert suppressed(settings) == {}


@pytest.mark.parametrize(
    ("name", "address", "reason"),
    [
        ("resend-bounced", "bounced@resend.dev", "hard-bounce"),
        ("resend-complained", "complained@resend.dev", "complaint"),
    ],
)
def test_resend_signed_by_svix(
    client: TestClient, settings: WebSettings, name: str, address: str, reason: str
) -> None:
    answer = resend_post(client, payload(name))
    assert answer.status_code == 200, answer.text
    assert suppressed(settings) == {address: reason}
    assert resend_post(client, payload(name)).json()["new"] == 0  # a retry: the same svix-id


def test_resend_delivered_changes_nothing(client: TestClient, settings: WebSettings) -> None:
    assert resend_post(client, payload("resend-delivered")).json() == {"events": 0, "new": 0}
    assert suppressed(settings) == {}


def test_resend_forgeries_and_replays_are_refused(
    client: TestClient, settings: WebSettings
) -> None:
    body = payload("resend-complained")
    other = "whsec_" + base64.b64encode(b"someone-else-s-secret").decode()
    assert resend_post(client, body, secret=other).status_code == 401
    old = datetime.now(UTC) - timedelta(minutes=6)
    assert resend_post(client, body, when=old).status_code == 401
    future = datetime.now(UTC) + timedelta(minutes=6)
    assert resend_post(client, body, when=future).status_code == 401
    assert client.post("/webhooks/resend", json=body).status_code == 401  # unsigned
    # A signature of one body does not carry another.
    data = json.dumps(body)
    when = datetime.now(UTC)
    signature = svix.Webhook(RESEND_SECRET).sign(msg_id="msg_1", timestamp=when, data=data)
    tampered = data.replace("complained@resend.dev", "victim@example.org")
    headers = {
        "svix-id": "msg_1",
        "svix-timestamp": str(int(when.timestamp())),
        "svix-signature": signature,
    }
    assert client.post("/webhooks/resend", content=tampered, headers=headers).status_code == 401
    assert suppressed(settings) == {}


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ses-bounce", {"jane@example.com": "hard-bounce"}),
        ("ses-complaint", {"richard@example.com": "complaint"}),
    ],
)
def test_ses_through_sns(
    client: TestClient,
    settings: WebSettings,
    sns: Sns,
    version: str,
    name: str,
    expected: dict[str, str],
) -> None:
    message = sns.notification(payload(name))
    message = sns.sign(
        {
            k: v
            for k, v in message.items()
            if k not in ("Signature", "SignatureVersion", "SigningCertURL")
        },
        version,
    )
    answer = client.post(
        "/webhooks/ses", content=json.dumps(message), headers={"content-type": "text/plain"}
    )
    assert answer.status_code == 200, answer.text
    assert suppressed(settings) == expected
    assert client.post("/webhooks/ses", content=json.dumps(message)).json()["new"] == 0
    assert (
        sns.fetched.count(
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
        )
        == 1
    )


def test_an_sns_subscription_is_confirmed(client: TestClient, sns: Sns) -> None:
    answer = client.post("/webhooks/ses", content=json.dumps(sns.confirmation()))
    assert answer.status_code == 200
    assert sns.fetched[-1].startswith(
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
    )


def _forged(sns: Sns) -> dict[str, dict[str, Any]]:
    good = sns.notification(payload("ses-complaint"))
    other = Sns().notification(payload("ses-complaint"))  # signed with another key
    return {
        "unsigned": {k: v for k, v in good.items() if k != "Signature"},
        "tampered": {**good, "Message": good["Message"].replace("richard@", "victim@")},
        "another key": other,
        "certificate elsewhere": {
            **good,
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
        },
        "certificate over http": {
            **good,
            "SigningCertURL": good["SigningCertURL"].replace("https:", "http:"),
        },
        "not base64": {**good, "Signature": "!!!"},
        "old": sns.notification(
            payload("ses-complaint"), Timestamp=(datetime.now(UTC) - timedelta(hours=2)).isoformat()
        ),
        "another topic": sns.notification(
            payload("ses-complaint"), TopicArn="arn:aws:sns:us-east-1:999999999999:theirs"
        ),
        "unknown version": {**good, "SignatureVersion": "3"},
    }


@pytest.mark.parametrize("case", list(_forged(Sns())))
def test_forged_sns_messages_are_refused(
    client: TestClient, settings: WebSettings, sns: Sns, case: str
) -> None:
    message = _forged(sns)[case]
    answer = client.post("/webhooks/ses", content=json.dumps(message))
    assert 400 <= answer.status_code < 500, (case, answer.status_code, answer.text)
    assert suppressed(settings) == {}


def test_a_subscribe_url_elsewhere_is_not_visited(client: TestClient, sns: Sns) -> None:
    message = sns.confirmation()
    message = sns.sign(
        {
            **{k: v for k, v in message.items() if k != "Signature"},
            "SubscribeURL": "https://evil.example/?Action=ConfirmSubscription",
        }
    )
    assert client.post("/webhooks/ses", content=json.dumps(message)).status_code == 400
    assert not any("evil" in url for url in sns.fetched)


# Hosts that are not SNS though they look like it: S3 serves a bucket named ``sns`` at the first
# three, whoever owns it.
LOOK_ALIKES = [
    "https://sns.s3.amazonaws.com/x.pem",
    "https://sns.s3-external-1.amazonaws.com/x.pem",
    "https://sns.s3-us-west-2.amazonaws.com/x.pem",
    "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
    "https://sns.us-east-1.amazonaws.com@evil.example/x.pem",
    "https://user:pass@sns.us-east-1.amazonaws.com/x.pem",
    "http://sns.us-east-1.amazonaws.com/x.pem",
    "https://sns.us-east-1.amazonaws.com:8443/x.pem",
    "https://sns.amazonaws.com/x.pem",
    "https://sns.us-east-1.amazonaws.com./x.pem",
    "https://sns.cn-north-1.amazonaws.com.cn.evil.example/x.pem",
]

REAL_SNS_HOSTS = [
    "sns.us-east-1.amazonaws.com",
    "sns.eu-central-1.amazonaws.com",
    "sns.ap-southeast-2.amazonaws.com",
    "sns.us-gov-west-1.amazonaws.com",
    "sns.us-iso-east-1.amazonaws.com",
    "sns.cn-north-1.amazonaws.com.cn",
    "sns.cn-northwest-1.amazonaws.com.cn",
]


def _serving_anywhere(sns: Sns) -> Callable[[str], bytes]:
    """A fetch that serves the certificate at any URL, as a bucket named ``sns`` would."""

    def fetch(url: str) -> bytes:
        sns.fetched.append(url)
        return sns.pem if url.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"

    return fetch


@pytest.mark.parametrize("url", LOOK_ALIKES)
def test_a_certificate_from_a_look_alike_host_is_never_read_or_trusted(
    settings: WebSettings, sns: Sns, url: str
) -> None:
    settings = dataclasses.replace(settings, fetch=_serving_anywhere(sns))
    message = {**sns.notification(payload("ses-complaint")), "SigningCertURL": url}
    with TestClient(make_app(settings)) as client:
        answer = client.post("/webhooks/ses", content=json.dumps(message))
    assert answer.status_code == 401, answer.text
    assert answer.text == "SigningCertURL is not an SNS certificate URL\n"
    assert sns.fetched == []
    assert suppressed(settings) == {}


@pytest.mark.parametrize("url", LOOK_ALIKES)
def test_a_subscribe_url_at_a_look_alike_host_is_never_visited(
    settings: WebSettings, sns: Sns, url: str
) -> None:
    settings = dataclasses.replace(settings, fetch=_serving_anywhere(sns))
    visit = url.removesuffix("x.pem") + f"?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=t"
    confirmation = {k: v for k, v in sns.confirmation().items() if k != "Signature"}
    message = sns.sign({**confirmation, "SubscribeURL": visit})
    with TestClient(make_app(settings)) as client:
        answer = client.post("/webhooks/ses", content=json.dumps(message))
    assert answer.status_code == 400, answer.text
    assert visit not in sns.fetched
    assert all(sns_url_ok(fetched) for fetched in sns.fetched)


@pytest.mark.parametrize("host", REAL_SNS_HOSTS)
def test_a_certificate_from_snss_own_hosts_is_trusted(
    settings: WebSettings, sns: Sns, host: str
) -> None:
    url = f"https://{host}/SimpleNotificationService-0123456789abcdef.pem"
    settings = dataclasses.replace(settings, fetch=_serving_anywhere(sns))
    message = {**sns.notification(payload("ses-complaint")), "SigningCertURL": url}
    with TestClient(make_app(settings)) as client:
        answer = client.post("/webhooks/ses", content=json.dumps(message))
    assert answer.status_code == 200, answer.text
    assert sns.fetched == [url]
    assert suppressed(settings) == {"richard@example.com": "complaint"}


def test_digest_serve_trusts_no_certificate_from_an_s3_bucket_named_sns(
    tmp_path: Path, sns: Sns
) -> None:
    """Through the real command: each S3 look-alike is refused before anything is fetched."""
    config = tmp_path / "newsletter.toml"
    text = (EXAMPLES / "riverside" / "newsletter.toml").read_text()
    text = text.replace('data = "articles.json"', "").replace('assets = "images"', "")
    config.write_text(text + f'\n[web]\nsns_topics = ["{TOPIC}"]\n')
    port = free_port()
    process = subprocess.Popen(
        [*digest_command(), "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    base = f"http://127.0.0.1:{port}"
    answers = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except OSError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "digest serve did not answer"
                time.sleep(0.1)
        for url in LOOK_ALIKES[:3]:
            message = {**sns.notification(payload("ses-complaint")), "SigningCertURL": url}
            request = urllib.request.Request(
                f"{base}/webhooks/ses", data=json.dumps(message).encode()
            )
            try:
                urllib.request.urlopen(request, timeout=10).close()
            except urllib.error.HTTPError as error:
                with error:
                    answers.append((error.code, error.read()))
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    assert answers == [(401, b"SigningCertURL is not an SNS certificate URL\n")] * 3, err
    assert run_digest("suppress", "list", "--config", config).stdout == ""


@pytest.mark.parametrize(
    "url", [*LOOK_ALIKES, "https://sns.us-east-1.amazonaws.com/x.txt", 7, None]
)
def test_only_snss_own_certificate_urls_pass_the_check(url: object) -> None:
    assert not sns_url_ok(url, pem=True)


@pytest.mark.parametrize("path", ["/webhooks/ses", "/webhooks/postmark", "/webhooks/resend"])
@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[1, 2]", b'{"a": ' * 5000, b'{"Type": "Notification"}']
)
def test_malformed_bodies_get_a_4xx(
    client: TestClient, settings: WebSettings, path: str, body: bytes
) -> None:
    headers = POSTMARK_AUTH if path.endswith("postmark") else {}
    assert 400 <= client.post(path, content=body, headers=headers).status_code < 500
    assert suppressed(settings) == {}


@pytest.mark.parametrize(
    "path", ["/webhooks/ses", "/webhooks/postmark", "/webhooks/resend", "/unsubscribe/x"]
)
def test_a_10_mb_body_is_refused_unread(
    client: TestClient, settings: WebSettings, path: str
) -> None:
    big = b"{" + b" " * (10 * 1024 * 1024) + b"}"
    answer = client.post(path, content=big, headers=POSTMARK_AUTH)
    assert answer.status_code in (404, 413)  # the forged unsubscribe token is refused first
    streamed = client.post(path, content=iter([b" " * 65536] * 160), headers=POSTMARK_AUTH)
    assert streamed.status_code in (404, 413)
    assert suppressed(settings) == {}


def test_an_endpoint_without_its_secret_is_not_there(tmp_path: Path) -> None:
    settings = WebSettings(suppressions=tmp_path / "s.sqlite3")
    with TestClient(make_app(settings)) as client:
        for path in ("/webhooks/ses", "/webhooks/postmark", "/webhooks/resend"):
            assert client.post(path, json={}).status_code == 404
        assert client.get(f"/unsubscribe/{TOKENS.token('a@example.org')}").status_code == 404
        assert client.get("/health").json() == {"status": "ok", "suppressed": 0}


def test_unsubscribe_get_changes_nothing_and_one_click_post_unsubscribes(
    client: TestClient, settings: WebSettings
) -> None:
    token = TOKENS.token("Reader@Example.org")
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "reader@example.org" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert suppressed(settings) == {}
    answer = client.post(
        f"/unsubscribe/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200 and answer.text == "unsubscribed\n"
    assert suppressed(settings) == {"reader@example.org": "unsubscribed"}
    query = client.post(
        f"/unsubscribe?token={TOKENS.token('b@example.org')}", data={"confirm": "1"}
    )
    assert query.status_code == 200 and "You are unsubscribed" in query.text
    assert suppressed(settings)["b@example.org"] == "unsubscribed"


@pytest.mark.parametrize(
    "token",
    [
        "1.cmVhZGVyQGV4YW1wbGUub3Jn.AAAAAAAAAAAAAAAAAAAAAA",
        UnsubscribeTokens("another-secret-entirely-123", "weekly.example.org").token(
            "a@example.org"
        ),
        "../../etc/passwd",
        "x" * 1000,
    ],
)
def test_forged_tokens_are_refused(client: TestClient, settings: WebSettings, token: str) -> None:
    assert client.get(f"/unsubscribe/{token}").status_code == 404
    answer = client.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert answer.status_code == 404
    assert suppressed(settings) == {}


def test_a_post_that_is_not_an_unsubscribe_changes_nothing(
    client: TestClient, settings: WebSettings
) -> None:
    token = TOKENS.token("a@example.org")
    assert client.post(f"/unsubscribe/{token}", content=b"hello").status_code == 400
    assert suppressed(settings) == {}


def test_the_log_never_holds_a_token_or_secret(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = TOKENS.token("a@example.org")
    with caplog.at_level("INFO", logger="digest.web"):
        client.get(f"/unsubscribe/{token}")
        client.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
        client.post("/webhooks/postmark", json=payload("postmark-bounce"), headers=POSTMARK_AUTH)
        resend_post(client, payload("resend-complained"))
    text = caplog.text
    assert "GET /unsubscribe/… 200" in text and "POST /webhooks/postmark 200" in text
    for secret in (token, "pm-password", RESEND_SECRET, "a@example.org"):
        assert secret not in text


@pytest.mark.parametrize(
    ("name", "address", "kind", "message_id"),
    [
        ("postmark-open", "recipient@example.com", "opened", "f4830d10-9c35-4f0c-bca3-3d9b459821f8"),
        ("postmark-click", "recipient@example.com", "clicked", "f4830d10-9c35-4f0c-bca3-3d9b459821f8"),
        ("resend-opened", "to@example.org", "opened", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        ("resend-clicked", "to@example.org", "clicked", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        ("ses-open", "recipient@example.com", "opened", "7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"),
        ("ses-click", "recipient@example.com", "clicked", "7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"),
    ],
)  # fmt: skip
def test_opens_and_clicks_are_kept_with_their_message_and_suppress_nobody(
    client: TestClient,
    settings: WebSettings,
    sns: Sns,
    name: str,
    address: str,
    kind: str,
    message_id: str,
) -> None:
    body = payload(name)
    if name.startswith("postmark"):
        answer = client.post("/webhooks/postmark", json=body, headers=POSTMARK_AUTH)
        again = client.post("/webhooks/postmark", json=body, headers=POSTMARK_AUTH)
    elif name.startswith("resend"):
        answer, again = resend_post(client, body), resend_post(client, body)
    else:
        message = json.dumps(sns.notification(body))
        answer = client.post("/webhooks/ses", content=message)
        again = client.post("/webhooks/ses", content=message)
    assert answer.status_code == 200 and answer.json() == {"events": 1, "new": 1}, answer.text
    assert again.json() == {"events": 1, "new": 0}  # a retry counts once
    assert suppressed(settings) == {}
    with SuppressionList(settings.suppressions) as listed:
        other = "opened" if kind == "clicked" else "clicked"
        assert listed.engaged([message_id, "another-id"], kind) == {message_id}  # type: ignore[arg-type]
        assert listed.engaged([message_id], other) == set()  # type: ignore[arg-type]
        (row,) = listed.db.execute("SELECT address, reason FROM events").fetchall()
    assert row == (address, kind)
