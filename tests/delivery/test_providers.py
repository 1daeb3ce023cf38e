"""Provider senders against local servers: Postmark and Resend stand-ins that check every
request against the provider's documented schema, and Amazon SES v2 in moto's server mode.

The tests taking the ``api`` fixture are the contract every HTTP provider keeps (one run per
stand-in in ``STAND_INS``): a new provider's stand-in added there runs them all
(docs/adding-a-provider.md)."""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from digest import email_bytes
from digest.delivery.eml import send_eml
from digest.delivery.http import HttpApiSender
from digest.delivery.ledger import SendLedger
from digest.delivery.postmark import PostmarkSender
from digest.delivery.providers import make_sender
from digest.delivery.senders import Outgoing, Throttle
from digest.delivery.ses import SesSender
from digest.delivery.settings import DeliverySettings, PostmarkSettings, ResendSettings, SesSettings

from ..helpers import build_example
from ..mailservers import STAND_INS, LosingProxy, PostmarkApi, ProviderApi, StandInApi

pytest.importorskip("jsonschema", reason="jsonschema checks the requests")


@pytest.fixture(scope="module")
def raw() -> bytes:
    return email_bytes(build_example("tangerangnews"))


def settings_for(api: StandInApi, **options: Any) -> DeliverySettings:
    table: dict[str, Any] = {"base_url": api.url}
    return DeliverySettings.model_validate(
        {"provider": api.provider, api.provider: table, "backoff": 0, **options}
    )


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for stand_in in STAND_INS.values():
        for variable in stand_in.key_variables:
            monkeypatch.setenv(variable, "test-key")


@pytest.fixture(params=sorted(STAND_INS))
def api(request: pytest.FixtureRequest, keys: None) -> Iterator[StandInApi]:
    with ProviderApi(request.param) as server:
        yield server


def addresses(count: int) -> list[str]:
    return [f"reader{n}@example.org" for n in range(count)]


def test_batches_follow_the_documented_schema_and_carry_the_message(
    api: StandInApi, raw: bytes
) -> None:
    with make_sender(settings_for(api, batch_size=3, connections=2)) as sender:
        report = send_eml(raw, addresses(7), sender)
        passed = getattr(sender, "passed_headers", ())
    assert api.problems == [] and report.sent == 7 and report.complete
    assert api.requests == 3  # 3 + 3 + 1
    original = message_from_bytes(raw, policy=policy.default)
    html = original.get_body(("html",)).get_content()
    text = original.get_body(("plain",)).get_content()
    first = api.content(api.received[0])
    assert first["html"] == html and first["text"] == text
    assert first["subject"] == original["Subject"]
    # One-click unsubscribe (RFC 8058) needs both; a provider may forbid another list header.
    for name in {"List-Unsubscribe", "List-Unsubscribe-Post", *passed}:
        assert first["headers"][name] == original[name]
    assert sorted(api.recipient(m) for m in api.received) == sorted(addresses(7))


def test_postmark_sends_on_the_broadcast_stream(keys: None, raw: bytes) -> None:
    with ProviderApi("postmark") as api, make_sender(settings_for(api)) as sender:
        send_eml(raw, addresses(1), sender)
    assert api.received[0]["MessageStream"] == "broadcast"


def test_the_receipts_carry_the_providers_ids_into_the_ledger(
    api: StandInApi, raw: bytes, tmp_path: Path
) -> None:
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    with make_sender(settings_for(api)) as sender:
        report = send_eml(raw, addresses(3), sender, ledger)
    rows = list(ledger.rows(report.edition))
    assert [r.state for r in rows] == ["sent"] * 3
    assert len({r.detail for r in rows}) == 3 and all(r.detail for r in rows)


def test_postmark_refuses_per_message_and_the_rest_go_out(keys: None, raw: bytes) -> None:
    with ProviderApi("postmark") as api, make_sender(settings_for(api)) as sender:
        report = send_eml(raw, ["a@example.org", "inactive@example.org", "b@example.org"], sender)
    assert report.sent == 2
    assert report.refused == {
        "inactive@example.org": "Postmark 406: You tried to send to a recipient that has been"
        " marked as inactive."
    }


@pytest.mark.parametrize("partial", [True, False])
def test_a_4xx_that_gives_each_result_is_read_per_message_only_where_the_sender_says(
    keys: None, raw: bytes, tmp_path: Path, partial: bool
) -> None:
    """An API that sends the good messages of a batch and answers 400 for the rest (as
    Mailjet's does): read as a 400, everyone would be refused, and --retry-refused would send
    the readers it reached again."""

    class PartialApi(PostmarkApi):
        partial_status = 400

    class PartialSender(PostmarkSender):
        pass

    PartialSender.partial = frozenset({400}) if partial else frozenset()
    readers = ["a@example.org", "inactive@example.org", "b@example.org"]
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    with PartialApi() as api:
        delivery = settings_for(api)
        with PartialSender(delivery.postmark, delivery) as sender:
            report = send_eml(raw, readers, sender, ledger)
    assert sorted(api.recipient(m) for m in api.received) == ["a@example.org", "b@example.org"]
    if partial:
        assert report.sent == 2 and list(report.refused) == ["inactive@example.org"]
    else:  # what the rule guards against: readers who got it recorded as refused
        assert report.sent == 0 and sorted(report.refused) == sorted(readers)


def test_throttling_is_retried(api: StandInApi, raw: bytes) -> None:
    api.faults = [429, 429]
    with make_sender(settings_for(api, retries=3)) as sender:
        report = send_eml(raw, addresses(4), sender)
    assert report.sent == 4 and api.requests == 3 and len(api.received) == 4


def test_a_server_error_before_anything_was_taken_is_retried_only_with_a_key(
    api: StandInApi, raw: bytes, tmp_path: Path
) -> None:
    # A 500 cannot be told from one that came after the provider took the messages.
    api.faults = [500]
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    with make_sender(settings_for(api, retries=2)) as sender:
        report = send_eml(raw, addresses(3), sender, ledger)
        idempotent = getattr(sender, "idempotent", False)
    if not idempotent:
        assert report.unknown == addresses(3) and report.sent == 0 and api.requests == 1
    else:
        assert report.sent == 3 and api.requests == 2
    assert not report.deferred


def test_after_the_last_retry_the_batch_is_deferred_not_lost(
    api: StandInApi, raw: bytes, tmp_path: Path
) -> None:
    api.faults = [429, 429]
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    with make_sender(settings_for(api, retries=1)) as sender:
        first = send_eml(raw, addresses(2), sender, ledger)
        assert first.deferred == 2 and first.sent == 0 and "429" in first.stopped
        second = send_eml(raw, addresses(2), sender, ledger)
    assert second.sent == 2 and len(api.received) == 2


@pytest.mark.parametrize("loss", ["drop", "taken-500", "taken-504"])
def test_an_answer_lost_after_the_provider_took_the_batch_never_sends_twice(
    api: StandInApi, raw: bytes, tmp_path: Path, loss: str
) -> None:
    api.faults = [loss]
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    with make_sender(settings_for(api)) as sender:
        report = send_eml(raw, addresses(3), sender, ledger)
        # A second run, with the list grown: a new batch (and a new idempotency key).
        again = send_eml(raw, addresses(5), sender, ledger)
        idempotent = getattr(sender, "idempotent", False)
    if not idempotent:
        # Postmark took them but the answer was lost: reported, never resent on its own.
        assert report.unknown == addresses(3) and again.unknown == addresses(3)
    else:
        # Resend's idempotency key makes the retry return the first answer.
        assert report.sent == 3 and again.skipped == 3
    assert again.sent == 2
    received = [api.recipient(m) for m in api.received]
    assert sorted(received) == addresses(5)  # each address once


def test_a_lost_answer_then_errors_until_the_last_try_leaves_resend_unknown_not_deferred(
    keys: None, raw: bytes, tmp_path: Path
) -> None:
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    with ProviderApi("resend") as api, make_sender(settings_for(api, retries=2)) as sender:
        api.faults = ["drop", 503, 503]
        report = send_eml(raw, addresses(3), sender, ledger)
        assert report.unknown == addresses(3) and report.deferred == 0
        assert {r.state for r in ledger.rows(report.edition)} == {"unknown"}
        again = send_eml(raw, addresses(4), sender, ledger)
        received = [m["to"][0] for m in api.received]
    assert again.unknown == addresses(3) and again.sent == 1
    assert sorted(received) == addresses(4)


def test_a_409_while_the_first_request_is_in_flight_is_waited_out_never_refused(
    keys: None, raw: bytes, tmp_path: Path
) -> None:
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    with ProviderApi("resend") as api, make_sender(settings_for(api, retries=2)) as sender:
        api.faults = ["drop", 409]
        report = send_eml(raw, addresses(3), sender, ledger)
        assert report.sent == 3 and not report.refused
        api.faults = [409, 409, 409]
        stuck = send_eml(raw, addresses(6), sender, ledger)
    assert stuck.unknown == addresses(6)[3:] and not stuck.refused and not stuck.deferred


def test_a_refused_key_stops_the_send(api: StandInApi, raw: bytes, monkeypatch: Any) -> None:
    for stand_in in STAND_INS.values():
        for variable in stand_in.key_variables:
            monkeypatch.setenv(variable, "wrong")
    with make_sender(settings_for(api)) as sender:
        report = send_eml(raw, addresses(2), sender)
    assert "the API key was refused (401)" in report.stopped and report.deferred == 2


def test_a_missing_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTMARK_SERVER_TOKEN", raising=False)
    with pytest.raises(Exception, match="set the environment variable POSTMARK_SERVER_TOKEN"):
        PostmarkSender(PostmarkSettings(), DeliverySettings(provider="postmark"))


@pytest.mark.parametrize("mistake", ["an undocumented field", "no recipient"])
def test_the_stand_ins_refuse_what_the_providers_would(
    api: StandInApi, raw: bytes, mistake: str
) -> None:
    """The schema check can fail: a message the sender made, spoiled, is refused with a 422."""
    with make_sender(settings_for(api)) as sender:
        assert isinstance(sender, HttpApiSender)
        batch = [Outgoing("b@example.org", raw)]
        item = sender.item(batch[0])
        if mistake == "no recipient":
            del item[next(key for key in item if key.lower() == "to")]
        else:
            item["Colour"] = "red"
        headers = sender.auth_headers(batch)
        body = sender.payload([item])
    request = urllib.request.Request(
        api.url + api.path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    with pytest.raises(urllib.request.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    answer.value.close()
    assert answer.value.code == 422
    assert api.problems and api.received == []


def test_api_urls_must_be_https_except_on_this_machine() -> None:
    with pytest.raises(ValueError, match="must be an https URL"):
        ResendSettings(base_url="http://api.example.org")
    assert ResendSettings(base_url="http://127.0.0.1:8080").base_url == "http://127.0.0.1:8080"


def test_the_throttle_keeps_the_pace() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = Throttle(100, clock=lambda: now[0], sleep=sleep)
    for _ in range(10):
        throttle.wait()
    throttle.wait(50)
    assert now[0] == pytest.approx(0.10)  # 10 messages at 100/s, then 50 more may start
    throttle.wait()
    assert now[0] == pytest.approx(0.60)


# Amazon SES v2, against moto's server (a real HTTP endpoint speaking the SES protocol).


def test_ses_sends_the_raw_message_and_refuses_an_unverified_sender(
    ses_endpoint: str, raw: bytes, aws_test_keys: None
) -> None:
    import boto3

    client = boto3.client("sesv2", region_name="eu-west-1", endpoint_url=ses_endpoint)
    # moto's server is shared by the session: another test may have verified the sender.
    with contextlib.suppress(client.exceptions.NotFoundException):
        client.delete_email_identity(EmailIdentity="tangerangnews.example")
    settings = DeliverySettings(
        provider="ses", ses=SesSettings(region="eu-west-1", endpoint_url=ses_endpoint)
    )
    with SesSender(settings.ses, settings) as sender:
        unverified = sender.send([Outgoing("a@example.org", raw)])
    assert unverified[0].state == "refused" and "MessageRejected" in unverified[0].detail
    client.create_email_identity(EmailIdentity="tangerangnews.example")
    with SesSender(settings.ses, settings) as sender:
        receipts = sender.send([Outgoing(a, raw) for a in addresses(3)])
    assert [r.state for r in receipts] == ["sent"] * 3
    assert len({r.detail for r in receipts}) == 3  # SES's message ids

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    sent = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages
    # moto lists the envelope recipient (and the From it read from the raw message).
    assert sorted(m.destinations[0] for m in sent[-3:]) == addresses(3)
    assert sent[-1].raw_data.replace("\r\n", "\n") == raw.decode().replace("\r\n", "\n")


@pytest.mark.parametrize("loss", ["drop", "taken-500"])
def test_an_ses_answer_lost_after_ses_took_the_message_is_unknown_and_never_resent(
    ses_endpoint: str, raw: bytes, aws_test_keys: None, tmp_path: Path, loss: str
) -> None:
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    boto3.client("sesv2", region_name="eu-west-1", endpoint_url=ses_endpoint).create_email_identity(
        EmailIdentity="tangerangnews.example"
    )
    sent = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages
    before = len(sent)
    ledger = SendLedger(tmp_path / "sends.sqlite3")
    with LosingProxy(ses_endpoint) as proxy:
        settings = DeliverySettings(
            provider="ses",
            retries=3,
            backoff=0,
            connections=1,
            ses=SesSettings(region="eu-west-1", endpoint_url=proxy.url),
        )
        proxy.faults = [loss]
        with SesSender(settings.ses, settings) as sender:
            first = send_eml(raw, addresses(2), sender, ledger)
            again = send_eml(raw, addresses(3), sender, ledger)
    assert first.unknown == addresses(2)[:1] and first.sent == 1
    assert again.unknown == addresses(2)[:1] and again.skipped == 1 and again.sent == 1
    assert sorted(m.destinations[0] for m in sent[before:]) == addresses(3)  # each once


def table(output: str) -> dict[str, int]:
    """The summary table ``digest send`` prints, as numbers by row."""
    rows = {}
    for line in output.splitlines():
        name, _, count = line.rpartition("  ")
        if name.strip() and count.strip().replace(",", "").isdigit():
            rows[name.strip()] = int(count.replace(",", ""))
    return rows


def test_the_send_command_through_a_provider_with_a_report(
    keys: None, raw: bytes, tmp_path: Path
) -> None:
    from ..helpers import EXAMPLES, run_digest

    with ProviderApi("postmark") as api:
        text = (EXAMPLES / "tangerangnews" / "newsletter.toml").read_text()
        text = text.replace('data = "edition.json"', "").replace('assets = "images"', "")
        text += (
            f'\n[delivery]\nprovider = "postmark"\n[delivery.postmark]\nbase_url = "{api.url}"\n'
        )
        (tmp_path / "newsletter.toml").write_text(text)
        (tmp_path / "edition.eml").write_bytes(raw)
        (tmp_path / "list.txt").write_text("a@example.org\ninactive@example.org\nb@example.org\n")
        args = [
            "send", "--config", tmp_path / "newsletter.toml", tmp_path / "edition.eml",
            "--recipients", tmp_path / "list.txt", "--report", tmp_path / "refusals.csv",
            "--allow-placeholder-links",  # a test list: the example's unsubscribe link is a placeholder
        ]  # fmt: skip
        first = run_digest(*args)
        again = run_digest(*args)
    assert first.returncode == 6, first.stderr
    assert "digest: refused: inactive@example.org: Postmark 406" in first.stderr
    assert table(first.stdout)["sent"] == 2 and table(first.stdout)["refused"] == 1
    report = (tmp_path / "refusals.csv").read_text().splitlines()
    assert report[0] == '"address","state","detail","variant","updated"'
    assert report[1].startswith('"inactive@example.org","refused","Postmark 406: You tried')
    assert len(api.received) == 2  # the second run sent nobody again
    assert table(again.stdout)["skipped (earlier runs)"] == 3 and table(again.stdout)["sent"] == 0


def test_an_smtp_table_of_an_earlier_release_names_its_new_place(tmp_path: Path) -> None:
    from digest.schedule.config import load_config

    from ..helpers import EXAMPLES

    text = (EXAMPLES / "tangerangnews" / "newsletter.toml").read_text()
    (tmp_path / "n.toml").write_text(text + '\n[smtp]\nhost = "smtp.example.org"\n')
    with pytest.raises(Exception, match=r"\[smtp\] has moved to \[delivery\.smtp\]"):
        load_config(tmp_path / "n.toml")


def test_a_message_that_cannot_be_read_back_is_refused_alone(api: StandInApi, raw: bytes) -> None:
    broken = raw.replace(b"From: ", b"X-Was-From: ", 1)
    batch = [Outgoing("a@example.org", raw), Outgoing("b@example.org", broken)]
    batch.append(Outgoing("c@example.org", raw))
    with make_sender(settings_for(api)) as sender:
        receipts = sender.send(batch)
    assert [r.state for r in receipts] == ["sent", "refused", "sent"]
    assert "no From header" in receipts[1].detail and len(api.received) == 2
