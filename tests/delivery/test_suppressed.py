"""Suppressed readers are never sent to, on every path, even when they leave mid-send."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from digest import email_bytes
from digest.delivery.eml import send_eml
from digest.delivery.ledger import SendLedger
from digest.delivery.mailing import Mailing
from digest.delivery.providers import make_sender
from digest.delivery.settings import DeliverySettings
from digest.models import Reader
from digest.suppression import Event, SuppressionList, UnsubscribeTokens

from ..helpers import build_example
from ..mailservers import Inbox, start_smtp

TOKENS = UnsubscribeTokens(
    "a-secret-for-the-suppression-tests", "the-riverside-weekly.riverside.example"
)


class LeavingInbox(Inbox):
    """When the first message arrives, the last readers unsubscribe (in another connection)."""

    def __init__(self, suppressions: Path, leaving: list[str]) -> None:
        super().__init__()
        self.suppressions, self.leaving = suppressions, leaving

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.received:
            with SuppressionList(self.suppressions) as listed:
                for address in self.leaving:
                    listed.record(Event(address, "unsubscribed", "one-click", f"u:{address}"))
        return await super().handle_DATA(server, session, envelope)


def settings(port: int) -> DeliverySettings:
    return DeliverySettings.model_validate(
        {"smtp": {"host": "127.0.0.1", "port": port, "security": "none"}, "batch_size": 10}
    )


@pytest.mark.parametrize("path", ["eml", "mailing", "workers"])
def test_an_unsubscribe_during_a_long_send_is_honoured_for_the_rest(
    tmp_path: Path, path: str
) -> None:
    store = tmp_path / "suppressions.sqlite3"
    addresses = [f"r{n:02}@example.org" for n in range(60)]
    with SuppressionList(store) as listed:
        listed.add("R05@example.org")  # suppressed before the send, spelled otherwise
    inbox = LeavingInbox(store, addresses[-20:])
    controller, port = start_smtp(inbox)
    try:
        with SuppressionList(store) as listed, SendLedger(tmp_path / "sends.sqlite3") as ledger:
            if path == "eml":
                with make_sender(settings(port)) as sender:
                    raw = email_bytes(build_example("riverside"))
                    report = send_eml(raw, addresses, sender, ledger, suppressions=listed)
            else:
                mailing = Mailing(build_example("riverside"), tokens=TOKENS)
                people = [Reader(address=a) for a in addresses]
                if path == "mailing":
                    report = mailing.deliver(
                        people, settings(port), ledger, chunk=10, suppressions=listed
                    )
                else:
                    with ProcessPoolExecutor(max_workers=2) as pool:
                        report = mailing.deliver(
                            people, settings(port), ledger, executor=pool, workers=1, chunk=10,
                            suppressions=listed,
                        )  # fmt: skip
    finally:
        controller.stop()
    got = Counter(r for _, rcpts, _ in inbox.received for r in rcpts)
    assert "r05@example.org" not in got and set(got.values()) == {1}
    # Chunks already handed over when the unsubscribe came go out; every later one leaves
    # the readers out.
    late = [a for a in addresses[-20:] if a not in got]
    assert len(late) >= 10
    assert report.suppressed == ["r05@example.org", *late]
    assert report.sent == len(got) == 60 - 1 - len(late)
    if path != "eml":  # each copy signed for its reader, in this process or in a worker
        for _, rcpts, data in inbox.received:
            link = str(message_from_bytes(data, policy=policy.default)["List-Unsubscribe"])
            assert TOKENS.address(link.strip("<>").rsplit("token=", 1)[1]) == rcpts[0]


def test_each_copy_carries_its_reader_s_signed_link(tmp_path: Path) -> None:
    mailing = Mailing(build_example("riverside"), tokens=TOKENS)
    for reader in (
        Reader(address="Kim@Example.org"),
        Reader(address="o'neil@example.org", name="O'Neil"),
    ):
        message = message_from_bytes(mailing.copies.message_bytes(reader), policy=policy.default)
        link = str(message["List-Unsubscribe"]).strip("<>")
        token = link.rsplit("token=", 1)[1]
        assert TOKENS.address(token) == reader.address.lower()
        assert link in message.get_body(("html",)).get_content().replace("&amp;", "&")
        assert link in message.get_body(("plain",)).get_content()
    own = Reader(address="a@example.org", unsubscribe_token="their-own")
    assert "token=their-own" in str(
        message_from_bytes(mailing.copies.message_bytes(own))["List-Unsubscribe"]
    )
