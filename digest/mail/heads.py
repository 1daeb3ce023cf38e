"""The header lines of readers' copies: the ones all copies share written once, each reader's own.

Every line is written by the one header writer (``digest.mail.mime``) and checked: the shared
lines once as a block, a reader's own lines one by one. ``CopyHeads`` also gives the lines a
``CopyPlan`` is cut from, and the content a copy rendered from scratch is written with.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from digest.mail.message import (
    EDITION_HEADER,
    HEADER_ORDER,
    ONE_CLICK_LINE,
    Headers,
    MessageContent,
    in_order,
    message_id,
)
from digest.mail.mime import (
    address_header,
    check_header_block,
    check_header_line,
    id_header,
    text_header,
    uri_list_header,
)
from digest.mail.unsubscribe import STAND_IN, UnsubscribeLinks, one_click, unsubscribe_uris
from digest.models import Reader

if TYPE_CHECKING:
    from digest.pipeline import Digest

__all__ = ["CopyHeads"]


class CopyHeads:
    """The header lines of each reader's copy of one edition."""

    def __init__(self, digest: Digest, links: UnsubscribeLinks) -> None:
        """Write the heads of ``digest``'s copies, with the newsletter's ``links``."""
        self.digest, self.links = digest, links
        self._shared: dict[str, bytes] | None = None

    def message_id(self, address: str, subject: str) -> str:
        """The Message-ID of the copy with ``subject`` to ``address``."""
        return self.id_of(subject, hashlib.sha256(address.encode()).hexdigest()[:12])

    def id_of(self, subject: str, who: str) -> str:
        """The Message-ID of a copy with ``subject``, ``who`` the hash of its address."""
        what = hashlib.sha256(subject.encode()).hexdigest()[:8]
        return message_id(self.digest.sent_at, self.digest.newsletter.sender.address, what, who)

    def content(self, reader: Reader, subject: str, html: str, text: str) -> MessageContent:
        """What the reader's copy is written from by the general message writer."""
        return {
            "newsletter": self.digest.newsletter,
            "subject": subject,
            "html": html,
            "text": text,
            "sent_at": self.digest.sent_at,
            "to": [reader.address],
            "unsubscribe_url": self.links.url_for(reader),
            "message_id": self.message_id(reader.address, subject),
            "edition": self.digest.edition_key,
        }

    def shared(self) -> dict[str, bytes]:
        """The header lines every reader's copy shares, written and checked once."""
        if self._shared is None:
            headers = Headers.of(
                newsletter=self.digest.newsletter,
                subject="",
                html="",
                text="",
                sent_at=self.digest.sent_at,
                edition=self.digest.edition_key,
            )
            written = headers.written()
            common = ("From", "Reply-To", "Date", "List-Id", "Feedback-ID")
            shared = {name: written[name] for name in common}
            # Whether a copy offers one click depends on the reader's link: kept for each.
            shared["List-Unsubscribe-Post"] = ONE_CLICK_LINE
            shared[EDITION_HEADER] = written[EDITION_HEADER]
            expected = [(name, None) for name in HEADER_ORDER if shared.get(name)]
            check_header_block(in_order(shared), expected)
            self._shared = shared
        return self._shared

    def head(self, reader: Reader, url: str, subject: str, subject_line: bytes | None) -> bytes:
        """The reader's header block: their own lines written and checked, the shared ones."""
        uris = self.links.uris_for(reader, url)
        own = {
            # Reader addresses are checked (and IDNA-encoded) by the model: plain ASCII.
            "To": address_header("To", [("", reader.address)]),
            "Subject": subject_line or text_header("Subject", subject),
            "Message-ID": id_header("Message-ID", self.message_id(reader.address, subject)),
            "List-Unsubscribe": uri_list_header("List-Unsubscribe", uris) if uris else b"",
        }
        for line in own.values():
            if line:
                check_header_line(line)
        lines = {**self.shared(), **own}
        if not one_click(uris):
            lines["List-Unsubscribe-Post"] = b""
        return in_order(lines)

    def plan_lines(self, subject: str, subject_line: bytes) -> dict[str, bytes]:
        """The lines a ``CopyPlan`` is cut from, ``STAND_IN`` where each reader's bytes go."""
        newsletter = self.digest.newsletter
        shared = self.shared()
        base, mailto = newsletter.contact.unsubscribe_url, unsubscribe_uris(newsletter, None)[1:]
        fixed_uris = unsubscribe_uris(newsletter, base)
        tokened = b""
        if self.links.uri_place is not None:
            uri = self.links.uri_place[0] + STAND_IN + self.links.uri_place[1]
            tokened = uri_list_header("List-Unsubscribe", [uri, *mailto])
        fixed = uri_list_header("List-Unsubscribe", fixed_uris) if fixed_uris else b""
        return {
            **shared,
            "Subject": subject_line,
            # The reader's hash goes where the stand-in stands in the one Message-ID form.
            "Message-ID": id_header("Message-ID", self.id_of(subject, STAND_IN)),
            "List-Unsubscribe": tokened,
            "Fixed-List-Unsubscribe": fixed,
            "List-Unsubscribe-Post": shared["List-Unsubscribe-Post"]
            if one_click(fixed_uris)
            else b"",
        }
