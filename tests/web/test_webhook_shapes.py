"""Every provider's real payload, broken in shape: a 400 with one line naming the field, nothing kept.

The payloads are django-anymail's (``tests/fixtures/webhooks``); each is broken one way (a
field of the wrong type, a required field missing, a list where an object belongs, a huge
number, deep nesting in SES's inner ``Message``) and posted as its provider would, signed
where it signs: Resend's with the ``svix`` library, SNS messages with ``sns.Sns``.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import svix.webhooks as svix
from starlette.testclient import TestClient

from digest.suppression import SuppressionList
from digest.web import WebSettings, make_app

from ..helpers import FIXTURES
from .sns import TOPIC, Sns

RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-secret-of-the-shape-tests").decode()
POSTMARK_AUTH = {"authorization": "Basic " + base64.b64encode(b"postmark:pm-password").decode()}
HUGE = 10**40

Breakage = Callable[[Any], Any]


def payload(name: str) -> Any:
    return json.loads((FIXTURES / "webhooks" / f"{name}.json").read_text())


def change(path: str, value: Any = None, *, delete: bool = False) -> Breakage:
    """A breakage setting (or deleting) the field at a dotted path (numbers index lists)."""

    def broken(body: Any) -> Any:
        body = copy.deepcopy(body)
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        here = body
        for part in parents:
            here = here[part]
        if delete:
            del here[last]
        else:
            here[last] = value(here[last]) if callable(value) else value
        return body

    return broken


def listed(body: Any) -> Any:
    return [body]


POSTMARK: list[tuple[str, str, Breakage, str]] = []
for name, address in [
    ("postmark-bounce", "Email"),
    ("postmark-spam-complaint", "Email"),
    ("postmark-subscription-change", "Recipient"),
    ("postmark-open", "Recipient"),
    ("postmark-click", "Recipient"),
]:
    POSTMARK += [
        (name, "address a number", change(address, 12345), f"{address}: "),
        (name, "address missing", change(address, delete=True), f"{address}: Field required"),
        (name, "RecordType a number", change("RecordType", 7), "RecordType: "),
        (name, "RecordType missing", change("RecordType", delete=True), "RecordType: Field"),
        (name, "MessageID a huge number", change("MessageID", HUGE), "MessageID: "),
    ]
POSTMARK += [
    ("postmark-bounce", "ID a huge number", change("ID", HUGE), "ID"),
    ("postmark-bounce", "ID a list", change("ID", [901542550]), "ID"),
    ("postmark-bounce", "Type an object", change("Type", {"a": 1}), "Type: "),
    ("postmark-spam-complaint", "BouncedAt a number", change("BouncedAt", HUGE), "BouncedAt: "),
    ("postmark-subscription-change", "SuppressSending a string", change("SuppressSending", "true"),
     "SuppressSending: "),
    ("postmark-subscription-change", "SuppressSending a list", change("SuppressSending", [True]),
     "SuppressSending: "),
    ("postmark-open", "ReceivedAt a huge number", change("ReceivedAt", HUGE), "ReceivedAt: "),
]  # fmt: skip

RESEND: list[tuple[str, str, Breakage, str]] = []
for name in ["resend-bounced", "resend-complained", "resend-opened", "resend-clicked"]:
    RESEND += [
        (name, "to a number", change("data.to", 42), "data.to: "),
        (name, "to holds a number", change("data.to.0", 42), "data.to[0]: "),
        (name, "to missing", change("data.to", delete=True), "data.to: Field required"),
        (name, "to empty", change("data.to", []), "data.to: "),
        (name, "type missing", change("type", delete=True), "type: Field required"),
        (name, "type a list", change("type", ["email.bounced"]), "type: "),
        (name, "data a list", change("data", listed), "data: "),
        (name, "data missing", change("data", delete=True), "data: Field required"),
        (name, "email_id a huge number", change("data.email_id", HUGE), "data.email_id: "),
        (name, "created_at a huge number", change("created_at", HUGE), "created_at: "),
    ]
RESEND += [
    ("resend-bounced", "bounce a list", change("data.bounce", listed), "data.bounce: "),
    ("resend-bounced", "bounce.message a number", change("data.bounce.message", HUGE),
     "data.bounce.message: "),
]  # fmt: skip

SES: list[tuple[str, str, Breakage, str]] = []
for name, kind, recipients in [
    ("ses-bounce", "bounce", "bouncedRecipients"),
    ("ses-complaint", "complaint", "complainedRecipients"),
]:
    field = f"{kind}.{recipients}"
    SES += [
        (name, "address a number", change(f"{field}.0.emailAddress", 5),
         f"Message.{field}[0].emailAddress: "),
        (name, "address missing", change(f"{field}.0.emailAddress", delete=True),
         f"Message.{field}[0].emailAddress: Field required"),
        (name, "recipients missing", change(field, delete=True), f"Message.{field}: Field required"),
        (name, "recipients an object", change(field, lambda v: v[0]), f"Message.{field}: "),
        (name, "recipient a list", change(f"{field}.0", listed), f"Message.{field}[0]: "),
        (name, f"{kind} a list", change(kind, listed), f"Message.{kind}: "),
        (name, f"{kind} missing", change(kind, delete=True), f"Message.{kind}: Field required"),
        (name, "feedbackId a huge number", change(f"{kind}.feedbackId", HUGE),
         f"Message.{kind}.feedbackId: "),
        (name, "timestamp a huge number", change(f"{kind}.timestamp", HUGE),
         f"Message.{kind}.timestamp: "),
        (name, "notificationType a list", change("notificationType", [kind.title()]),
         "Message.notificationType: "),
        (name, "mail a list", change("mail", listed), "Message.mail: "),
    ]  # fmt: skip
for name, kind in [("ses-open", "open"), ("ses-click", "click")]:
    SES += [
        (name, "destination a string", change("mail.destination", "a@example.org"),
         "Message.mail.destination: "),
        (name, "destination holds a number", change("mail.destination.0", HUGE),
         "Message.mail.destination[0]: "),
        (name, "destination missing", change("mail.destination", delete=True),
         "Message.mail.destination: Field required"),
        (name, "mail a list", change("mail", listed), "Message.mail: "),
        (name, "mail missing", change("mail", delete=True), "Message.mail: Field required"),
        (name, f"{kind} a list", change(kind, listed), f"Message.{kind}: "),
        (name, f"{kind} missing", change(kind, delete=True), f"Message.{kind}: Field required"),
        (name, "messageId a huge number", change("mail.messageId", HUGE),
         "Message.mail.messageId: "),
        (name, "eventType a number", change("eventType", 1), "Message.eventType: "),
    ]  # fmt: skip


@pytest.fixture
def sns() -> Sns:
    return Sns()


@pytest.fixture
def settings(tmp_path: Path, sns: Sns) -> WebSettings:
    return WebSettings(
        suppressions=tmp_path / "suppressions.sqlite3",
        sns_topics=frozenset({TOPIC}),
        postmark_password="pm-password",
        resend_secret=RESEND_SECRET,
        fetch=sns.fetch,
        max_body=256 * 1024,
    )


@pytest.fixture
def client(settings: WebSettings) -> Iterator[TestClient]:
    with TestClient(make_app(settings)) as test_client:
        yield test_client


def assert_refused(answer: Any, settings: WebSettings, field: str) -> None:
    """A 400 whose one line names ``field``, and nothing recorded: no suppression, no event."""
    assert answer.status_code == 400, answer.text
    reason = answer.text
    assert reason.endswith("\n") and "\n" not in reason[:-1] and reason.strip(), reason
    assert field in reason, reason
    assert "Traceback" not in reason
    with SuppressionList(settings.suppressions) as listed_here:
        assert list(listed_here) == []
        assert listed_here.db.execute("SELECT count(*) FROM events").fetchone() == (0,)


def resend_post(client: TestClient, body: Any) -> Any:
    data = json.dumps(body)
    now = datetime.now(UTC)
    signature = svix.Webhook(RESEND_SECRET).sign(msg_id="msg_shape", timestamp=now, data=data)
    headers = {
        "svix-id": "msg_shape",
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": signature,
    }
    return client.post("/webhooks/resend", content=data, headers=headers)


@pytest.mark.parametrize(
    ("name", "case", "broken", "field"), POSTMARK, ids=[f"{n}: {c}" for n, c, *_ in POSTMARK]
)
def test_a_postmark_record_of_another_shape_is_refused(
    client: TestClient, settings: WebSettings, name: str, case: str, broken: Breakage, field: str
) -> None:
    answer = client.post("/webhooks/postmark", json=broken(payload(name)), headers=POSTMARK_AUTH)
    assert_refused(answer, settings, field)


@pytest.mark.parametrize(
    ("name", "case", "broken", "field"), RESEND, ids=[f"{n}: {c}" for n, c, *_ in RESEND]
)
def test_a_signed_resend_event_of_another_shape_is_refused(
    client: TestClient, settings: WebSettings, name: str, case: str, broken: Breakage, field: str
) -> None:
    assert_refused(resend_post(client, broken(payload(name))), settings, field)


@pytest.mark.parametrize(
    ("name", "case", "broken", "field"), SES, ids=[f"{n}: {c}" for n, c, *_ in SES]
)
def test_a_signed_ses_notification_of_another_shape_is_refused(
    client: TestClient,
    settings: WebSettings,
    sns: Sns,
    name: str,
    case: str,
    broken: Breakage,
    field: str,
) -> None:
    message = sns.notification(broken(payload(name)))
    assert_refused(client.post("/webhooks/ses", content=json.dumps(message)), settings, field)


@pytest.mark.parametrize("name", ["ses-bounce", "ses-complaint", "ses-open", "ses-click"])
@pytest.mark.parametrize("depth", [33, 20_000])
def test_a_signed_ses_notification_nested_too_deep_is_refused(
    client: TestClient, settings: WebSettings, sns: Sns, name: str, depth: int
) -> None:
    """The inner ``Message`` is depth-limited too: 20,000 deep is no RecursionError (no 500)."""
    inner = json.dumps(payload(name))[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}"
    message = sns.notification({}, Message=inner)
    answer = client.post("/webhooks/ses", content=json.dumps(message))
    assert_refused(answer, settings, "the notification's Message nests deeper than 32 levels")


SNS_FIELDS = ["Message", "MessageId", "Timestamp", "TopicArn", "Type", "Signature"]


@pytest.mark.parametrize("field", SNS_FIELDS)
@pytest.mark.parametrize(
    ("case", "value"), [("a number", HUGE), ("a list", ["x"]), ("an object", {"x": 1})]
)
def test_an_sns_message_whose_fields_are_not_strings_is_refused(
    client: TestClient, settings: WebSettings, sns: Sns, field: str, case: str, value: Any
) -> None:
    """SNS signs strings only, so a field of another type cannot be signed: it is refused first."""
    message = {**sns.notification(payload("ses-complaint")), field: value}
    answer = client.post("/webhooks/ses", content=json.dumps(message))
    assert_refused(answer, settings, f"{field}: Input should be a valid string")
    assert sns.fetched == []  # refused before any certificate is read
