"""Sending a built ``.eml``: one copy per recipient, each with their own ``To``, through any sender.

The copies go through ``digest.delivery.loop.run_delivery`` in batches, so every recipient's state
is in the send ledger before and after their batch, and a second run sends only to those not
reached yet (see ``digest.delivery.ledger``).
"""

from __future__ import annotations

import copy as _copy
import hashlib
import ipaddress
import re
import secrets
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from email import errors as email_errors
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import parsedate_to_datetime
from itertools import islice
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from digest.addresses import address_key
from digest.delivery.ledger import SendLedger
from digest.delivery.loop import DeliveryReport, now
from digest.delivery.proofs import dated, dated_head
from digest.delivery.recipients import (
    MAX_RECIPIENTS_BYTES as MAX_RECIPIENTS_BYTES,
)
from digest.delivery.recipients import (
    read_recipients,
    read_recipients_csv,
    read_recipients_file,
)
from digest.delivery.send import Send, SendOptions
from digest.delivery.senders import Outgoing, Receipt, Sender
from digest.errors import ConfigError, InputError, RenderError, excerpt
from digest.files import StrPath, read_limited
from digest.mail.message import EDITION_HEADER
from digest.mail.mime import (
    address_header,
    assemble,
    envelope_sender,
    frame,
    quoted_printable,
    write_copy,
)
from digest.mail.placeholders import Split
from digest.mail.tracking import (
    LinkTokens,
    TrackedSplit,
    edition_hrefs,
    edition_number,
    own_links,
    track_split,
)
from digest.mail.unsubscribe import EML_HEADER_STAND_IN, EML_STAND_IN
from digest.mail.variants import subject_index, subject_variants
from digest.suppression.tokens import SECRET_VARIABLE, UnsubscribeTokens
from digest.urls import PLACEHOLDER_HOSTS

__all__ = [
    "STARTER_UNSUBSCRIBE_URL",
    "local_send_times",
    "placeholder_link",
    "placeholder_links",
    "read_eml",
    "read_recipients",
    "read_recipients_csv",
    "read_recipients_file",
    "secret_needed",
    "send_eml",
]


#: The largest .eml sent.
MAX_EML_BYTES = 50_000_000


def local_send_times(
    raw: bytes, zones: Mapping[str, str], default_zone: str
) -> Callable[[str], datetime]:
    """Each recipient's moment: the edition's send time (its ``Date``) in their own zone.

    A Jakarta edition dated 07:00 reaches a reader in Berlin at 07:00 in Berlin; a recipient
    without a zone gets ``default_zone`` (the newsletter's).
    """
    parsed = BytesHeaderParser(policy=email_policy.default).parsebytes(
        raw.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    )
    try:
        dated = parsedate_to_datetime(str(parsed.get("Date", "")))
    except (TypeError, ValueError):
        raise InputError("the .eml has no readable Date: its send time is not known") from None
    wall = dated.replace(tzinfo=None)
    cache: dict[str, datetime] = {}

    def due(address: str) -> datetime:
        zone = zones.get(address_key(address), default_zone)
        if zone not in cache:
            cache[zone] = wall.replace(tzinfo=ZoneInfo(zone))
        return cache[zone]

    return due


def read_eml(path: StrPath) -> bytes:
    """The bytes of a built ``.eml`` (a regular file of at most ``MAX_EML_BYTES``).

    Its header block is read now: a header that cannot be read (an encoded word that hides a
    line break in an address, say) is an ``InputError`` naming it, before anything is sent.
    """
    try:
        raw = read_limited(path, MAX_EML_BYTES)
    except OSError as error:
        raise InputError(f"{path}: cannot read it: {error.strerror or error}") from None
    try:
        _read_head(raw)
    except InputError as error:
        raise InputError(f"{path}: {error}") from None
    return raw


def _head(raw: bytes) -> bytes:
    """The header block of a message, its lines ending in CRLF, and the blank line after it."""
    head, separator, _ = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    if not separator:
        raise InputError("the .eml has no header block")
    return head.replace(b"\n", b"\r\n") + b"\r\n\r\n"


def _read_head(raw: bytes) -> EmailMessage:
    """The headers of a message, each read as the senders read it (``InputError`` if one fails).

    The standard library's header parser raises more than ``HeaderParseError`` on a malformed
    value (``IndexError``, ``AttributeError``, a ``ValueError`` for a line break that an
    encoded word decodes to in an address): each is turned into one line naming the header.
    """
    parsed = BytesHeaderParser(policy=email_policy.default).parsebytes(_head(raw))
    assert isinstance(parsed, EmailMessage)
    for name, value in parsed.raw_items():  # each instance, as the senders will read it
        try:
            str(email_policy.default.header_fetch_parse(name, value))
        except (ValueError, LookupError, AttributeError, TypeError, email_errors.MessageError):
            shown = excerpt(" ".join(value.split()))
            raise InputError(f"the .eml's {name} header cannot be read (got {shown})") from None
    try:
        envelope_sender(_head(raw))  # every sender needs it: refuse the .eml now, not per copy
    except RenderError as error:
        raise InputError(f"the .eml: {error}") from None
    return parsed


#: The unsubscribe link of the starter config ``digest init`` writes.
STARTER_UNSUBSCRIBE_URL = "https://example.org/unsubscribe"

# Names nobody answers at: RFC 2606's example domains and reserved top-level names, and
# this machine (RFC 6761's localhost).
_PLACEHOLDER_TOP_LEVEL = frozenset({"example", "invalid", "test", "localhost"})
_URI = re.compile(r"<([^<>]*)>")


def placeholder_link(uri: str) -> bool:
    """Whether an unsubscribe link leads nowhere a reader can reach: a placeholder.

    Its host (a ``mailto:`` link's domain) is one of the example domains (``example.org``,
    ``.com``, ``.net`` and their subdomains), under a reserved top-level name (``.example``,
    ``.invalid``, ``.test``, ``.localhost``), ``localhost``, a loopback or unspecified
    address, or missing; or it is ``digest init``'s link.
    """
    if uri.strip() == STARTER_UNSUBSCRIBE_URL:
        return True
    try:
        parts = urlsplit(uri.strip())
        if parts.scheme.lower() == "mailto":
            mailbox, at, host = unquote(parts.path).partition("?")[0].rpartition("@")
            host = host if at and mailbox else ""
        else:
            host = parts.hostname or ""
    except ValueError:  # an unreadable host (a bracket not closed): nobody reaches it
        return True
    host = unquote(host).strip().lower().rstrip(".")
    if not host or host.rpartition(".")[2] in _PLACEHOLDER_TOP_LEVEL:
        return True
    if any(host == domain or host.endswith("." + domain) for domain in PLACEHOLDER_HOSTS):
        return True
    return _local_address(host)


def _local_address(host: str) -> bool:
    """Whether ``host`` is a loopback or unspecified IP address, in any form a browser reads."""
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        if not re.fullmatch(r"[0-9a-fx.]+", host):
            return False
        try:  # the short and numeric forms a browser reads too: 127.1, 2130706433, 0x7f.1
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def placeholder_links(raw: bytes, unsubscribe_url: str | None = None) -> list[str]:
    """The unsubscribe links of a built message that are placeholders (``placeholder_link``).

    The links are its ``List-Unsubscribe`` URIs (each reader's own link is made from them);
    a message without that header is taken to carry ``unsubscribe_url``, the config's.
    """
    value = str(_read_head(raw).get("List-Unsubscribe") or "")
    links = _URI.findall(value) if value else ([unsubscribe_url] if unsubscribe_url else [])
    return [link for link in links if placeholder_link(link)]


_TO_LINE = re.compile(rb"^To:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*", re.MULTILINE | re.IGNORECASE)


def secret_needed(link: str) -> ConfigError:
    """The refusal of ``link`` with ``{token}`` in it when no secret signs readers' tokens."""
    return ConfigError(
        f"{link} has a {STAND_IN} for each reader's own token: set {SECRET_VARIABLE} to the "
        "newsletter's unsubscribe secret"
    )


class _Message:
    """A built message, ready to be addressed to one recipient after another."""

    def __init__(self, raw: bytes, clicks: LinkTokens | None = None) -> None:
        head, separator, body = (
            raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").partition(b"\r\n\r\n")
        )
        if not separator:
            raise InputError("the .eml has no header block")
        parsed = _read_head(raw)
        # The edition digest wrote it for; an .eml from elsewhere is known by its Message-ID.
        self.key = (
            str(parsed.get(EDITION_HEADER, ""))
            or str(parsed.get("Message-ID", ""))
            or hashlib.sha256(raw).hexdigest()
        )
        subject = str(parsed.get("Subject", "")).encode()
        self.content = hashlib.sha256(subject + b"\0" + body).hexdigest()
        head += b"\r\n"
        match = _TO_LINE.search(head)
        self.before = head[: match.start()] if match else head
        self.after = (head[match.end() :] if match else b"") + b"\r\n" + body

        self.links: _ReaderLinks | None = None
        self.stand_in = _HEADER_STAND_IN in head or STAND_IN.encode() in body
        if self.stand_in or clicks is not None:
            unsubscribe = _URI.findall(str(parsed.get("List-Unsubscribe", "")))
            self.links = _ReaderLinks(self.before, self.after, clicks, self.key, unsubscribe)

    def dated(self, when: datetime) -> _Message:
        """The message dated ``when``: every copy of a batch is handed over at one moment."""
        copy = _copy.copy(self)
        if self.links is None:
            copy.after = dated(self.after, when)
        else:
            copy.links = _copy.copy(self.links)
            own = dated_head(_HEADER_STAND_IN.join(self.links.own), when)
            copy.links.own = own.split(_HEADER_STAND_IN)
        return copy

    def check_tokens(self, tokens: UnsubscribeTokens | None) -> None:
        """Refuse a message of per-reader links without the tokens to fill them in."""
        if self.stand_in and tokens is None:
            raise secret_needed("the .eml's unsubscribe link")

    def to(self, recipient: str, tokens: UnsubscribeTokens | None = None) -> bytes:
        """The message with ``recipient`` as its only ``To`` (and their own unsubscribe link)."""
        to = address_header("To", [("", recipient)])
        if self.links is None:
            return write_copy((self.before, to, self.after), (), (), {})
        self.check_tokens(tokens)
        return self.links.fill(to, tokens.token(recipient) if tokens is not None else "", recipient)


#: What a built ``.eml`` holds where each reader's token goes (``unsubscribe_url`` with it).
STAND_IN = EML_STAND_IN
_HEADER_STAND_IN = EML_HEADER_STAND_IN
_TOKEN = re.compile(r"\{(token)\}")


class _ReaderLinks:
    """A built message cut where each reader's token goes, its parts encoded once.

    The bodies are quoted-printable, where a token could be cut by a soft line break: they
    are read back and cut at the stand-in (``Split``, as personalised copies are), so a
    reader's message is joined by the MIME writer (``write_copy``), never encoded again.
    """

    def __init__(
        self,
        before: bytes,
        after: bytes,
        clicks: LinkTokens | None = None,
        edition: str = "",
        unsubscribe: Sequence[str] = (),
    ) -> None:
        message = BytesParser(policy=email_policy.default).parsebytes(before + after)
        boundary = message.get_boundary()
        parts = [
            (part.get_content_subtype(), part.get_content().replace("\r\n", "\n"))
            for part in (message.iter_parts() if message.is_multipart() else [])
        ]
        if boundary is None or not parts or any(not isinstance(t, str) for _, t in parts):
            raise InputError(
                f"the .eml has a per-reader unsubscribe link ({STAND_IN}) but was not written "
                "by digest build (not one multipart/alternative of text parts)"
            )
        written = assemble(b"", boundary, [(sub, quoted_printable(t)) for sub, t in parts])
        if not after.endswith(written):
            raise InputError(
                f"the .eml has a per-reader unsubscribe link ({STAND_IN}) but its parts are not "
                "as digest build writes them: build it again"
            )
        own = after[: len(after) - len(written)]
        self.before = before.split(_HEADER_STAND_IN)
        self.own = own.split(_HEADER_STAND_IN)
        self.frame = frame(boundary, [sub for sub, _ in parts])
        self.parts = [Split.of(t, _TOKEN, markup=False) for _, t in parts]
        self.clicks, self.number = clicks, 0
        if clicks is not None:
            # Each reader's links lead through digest serve (digest.mail.tracking).
            number = edition_number(edition)
            if number is None:
                raise ConfigError(
                    "tracking: tracked links name the edition's number, and this .eml has "
                    f"none ({EDITION_HEADER}: {edition[:80]!r}): build it with a history"
                )
            self.number = number
            nonce = "Tk" + secrets.token_hex(12)
            marks = re.compile(
                rf"(?:\{{(?=token\}})|@@{nonce}\.(?=[a-z0-9.]+@@))([a-z0-9.]+)(?:\}}|@@)"
            )
            self.parts = [
                track_split(
                    text,
                    marks,
                    lambda key: f"@@{nonce}.{key}@@",
                    edition_hrefs(text) if clicks.clicks else (),
                    own_links(clicks.base_url, *unsubscribe),
                    clicks.opens,
                )
                if subtype == "html"
                else split
                for (subtype, text), split in zip(parts, self.parts, strict=True)
            ]

    def fill(self, to: bytes, token: str, address: str) -> bytes:
        """The message for one reader: their ``To`` line, their token and tracked links."""
        mark = token.encode("ascii")
        head = [mark.join(self.before), to, mark.join(self.own)]
        values = {"token": token}
        if self.clicks is not None:
            for part in self.parts:
                if isinstance(part, TrackedSplit):
                    part.links.values(self.clicks, self.number, address, values)
        return write_copy(head, self.frame, self.parts, values)


class _EmlOutbox:
    """A built ``.eml`` to a list: each recipient's copy, their own ``To`` and token put in."""

    def __init__(
        self,
        raw: bytes,
        recipients: Iterable[str],
        sender: Sender,
        options: SendOptions,
        clicks: LinkTokens | None = None,
    ) -> None:
        variants = subject_variants(raw)
        labels = [label for label in variants if label]
        if labels and options.test is None:
            raise InputError(
                f"the .eml has subject variants {', '.join(labels)} for an A/B test: set "
                "[delivery.subject_test] to send them (or send a proof with --to)"
            )
        if options.test is not None and not labels:
            raise InputError(
                "the .eml has a single subject: build it again with [delivery.subject_test] "
                "to test subjects"
            )
        if options.due is True:
            raise InputError("due: give each address's moment (local_send_times) for a .eml")
        self.messages = {label: _Message(data, clicks) for label, data in variants.items()}
        message = self.messages[labels[0] if labels else ""]
        message.check_tokens(options.tokens)  # before anything is claimed
        self.key, self.content, self.labels = message.key, message.content, labels
        if labels:
            every = "\0".join(self.messages[label].content for label in labels)
            self.content = hashlib.sha256(every.encode()).hexdigest()
        self.recipients, self.sender, self.options = recipients, sender, options
        self.in_flight = 2
        self.winner: str | None = None
        self._hands: ThreadPoolExecutor | None = None

    def with_winner(self, label: str) -> _EmlOutbox:
        """Everyone not reached gets the winner."""
        outbox = _copy.copy(self)
        outbox.winner = label
        return outbox

    @contextmanager
    def opened(self) -> Iterator[object]:
        """A thread of its own hands each batch over while the next is claimed and made."""
        with ThreadPoolExecutor(1, thread_name_prefix="digest-hand-over") as hands:
            self._hands = hands
            try:
                yield hands
            finally:
                self._hands = None

    def chunks(self) -> Iterator[list[str]]:
        """The recipients, a sender's batch at a time."""
        addresses = iter(self.recipients)
        return iter(lambda: list(islice(addresses, self.sender.batch_size)), [])

    def address(self, item: str) -> str:
        """A recipient is their address."""
        return item

    def label(self, item: str) -> str:
        """The winner, or each address's variant by a hash of the edition and the address."""
        if self.winner is not None:
            return self.winner
        if not self.labels:
            return ""
        return self.labels[subject_index(self.key, item, len(self.labels))]

    def readers(self) -> int | None:
        """How many recipients, when they came as a list."""
        return len(self.recipients) if isinstance(self.recipients, Sized) else None

    def local_due(self) -> Callable[[str], datetime] | None:
        """Each address's moment (``local_send_times``), when given."""
        due = self.options.due
        return due if callable(due) else None

    def hand_over(self, batch: list[str]) -> Future[list[Receipt]]:
        """Address each copy (dated the moment its batch is made) and hand the batch over."""
        when = datetime.now(UTC)
        made: dict[str, _Message] = {}
        outgoing = []
        tokens = self.options.tokens
        for address in batch:
            label = self.label(address)
            if label not in made:
                made[label] = self.messages[label].dated(when)
            outgoing.append(Outgoing(address, made[label].to(address, tokens), label))
        if self.options.dry_run:
            return now(lambda: [Receipt(o.address, "sent", "dry run") for o in outgoing])
        assert self._hands is not None
        return self._hands.submit(self.sender.send, outgoing)


def send_eml(
    raw: bytes,
    recipients: Iterable[str],
    sender: Sender,
    ledger: SendLedger | None = None,
    options: SendOptions | None = None,
    *,
    clicks: LinkTokens | None = None,
    **settings: Any,
) -> DeliveryReport:
    """Send the message in ``raw`` to each recipient, with their own ``To`` header.

    With a ``ledger``, every recipient's state is recorded around their batch, and a second
    run picks up where the first stopped, never sending anyone the edition twice. The ledger
    knows the edition by its ``X-Digest-Edition`` header (newsletter, date, number), so a
    rebuilt ``.eml`` resumes the first send (``report.content_changed`` says it differs);
    a second run of the edition while one is going on is refused (``SendError``).

    Each message's ``Date`` is the moment its batch is handed over. Readers on
    ``suppressions`` are left out, named in the report. A message built with a
    per-reader unsubscribe link (``{token}`` in the config's ``unsubscribe_url``) gets each
    reader's signed token from ``tokens`` in its links and its ``List-Unsubscribe``. With
    ``due`` (each recipient's moment: ``local_send_times``), only those due by ``at`` (now, by
    default) go; the others wait for a later run. A ``pace`` (``Pace.from_settings``: the
    sending calendar, the hourly cap, the warm-up) may hold some back for a later run too.

    A message built with subject variants (``[delivery.subject_test]``) needs the ``test``
    (``digest.delivery.abtest``): its sample gets the variants, each reader by a hash of the
    edition and their address, the others wait; after the test's wait, everyone not reached
    gets the winner, decided from the opens or clicks in ``events`` and recorded in the
    ledger. A dry run gives everyone their variant by hash and starts no test.

    With ``clicks`` (``[tracking]``, ``digest.mail.tracking``), each recipient's links in the
    HTML part lead through ``digest serve``, signed for them (the unsubscribe link and
    ``mailto:`` never); the edition needs its number (``X-Digest-Edition``).

    It is ``Send(ledger, options).deliver(...)`` of the ``.eml``'s outbox; the ``options``
    (``SendOptions``) may be given as keywords instead (``dry_run=True``).
    """
    chosen = options or SendOptions(**settings)
    return Send(ledger, chosen).deliver(_EmlOutbox(raw, recipients, sender, chosen, clicks))
