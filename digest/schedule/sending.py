"""Sending a built edition as its config says: to the readers, or as a proof to the editor.

``send_edition`` holds the rules of a send in one place, for ``digest send`` and the desk's
"Send proof" alike: who gets it (the proof's addresses, a recipients file, the config's), the
refusal of a placeholder unsubscribe link, the editor's approval, an A/B test's proofs (one
of each subject, ``[Proof A]``, ``[Proof B]``), the readers' calendar and the pace, the send
ledger, the suppression list and the readers' unsubscribe tokens. The faces parse their
input, show the progress and turn the ``SendOutcome`` (or the error) into what they print.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from digest.addresses import address_key
from digest.delivery.abtest import SubjectTest
from digest.delivery.eml import (
    local_send_times,
    placeholder_links,
    read_eml,
    read_recipients,
    read_recipients_file,
    secret_needed,
    send_eml,
)
from digest.delivery.guard import GuardSettings
from digest.delivery.ledger import open_ledger
from digest.delivery.loop import DeliveryReport
from digest.delivery.mailing import Mailing
from digest.delivery.pace import Pace
from digest.delivery.proofs import proof
from digest.delivery.providers import make_sender
from digest.delivery.send import SendOptions
from digest.errors import (
    ConfigError,
    DigestError,
    InputError,
    PlaceholderLinkError,
    RenderError,
    UsageError,
    excerpt,
)
from digest.mail.copies import Copies
from digest.mail.message import list_id
from digest.mail.tracking import LinkTokens
from digest.mail.variants import subject_variants
from digest.models import Reader
from digest.pipeline import Digest
from digest.schedule.approval import check_approval
from digest.schedule.config import BuildConfig, ledger_path, load_config, reader_store
from digest.schedule.record import read_record, record_path
from digest.store import store_url
from digest.suppression import UnsubscribeTokens

__all__ = [
    "SendOutcome",
    "SendProgress",
    "SendRequest",
    "check_report_path",
    "send_edition",
]


@dataclass(frozen=True)
class SendRequest:
    """What a send of a built edition asks for: ``digest send``'s options, by name."""

    #: A proof to these addresses only (``[Proof]``, never recorded, suppressed or paced).
    to: tuple[str, ...] = ()
    #: A file of addresses, one a line (default: the config's ``recipients``).
    recipients: Path | None = None
    #: Only the readers whose local send time has come (run from cron).
    due: bool = False
    #: Prepare every message and send none.
    dry_run: bool = False
    #: Send again to addresses whose earlier delivery has an unknown outcome.
    resend_unknown: bool = False
    #: Send again to addresses an earlier run recorded as refused.
    retry_refused: bool = False
    #: Write every refused or unknown recipient to this ``.csv`` or ``.json`` file.
    report: Path | None = None
    #: End the A/B test of subjects: everyone not reached yet gets this one.
    winner: Literal["A", "B", "C", "D"] | None = None
    #: Send the rest of a guarded send (``[delivery.guard]``) that its sample stopped.
    release_guard: bool = False
    #: Send even if the unsubscribe link is a placeholder (a test list).
    allow_placeholder_links: bool = False

    @property
    def proof(self) -> bool:
        """Whether this is a proof (``to`` names its addresses)."""
        return bool(self.to)


@dataclass
class SendOutcome:
    """What a send did: a report per subject sent, and what is worth telling its editor."""

    #: The ``.eml``'s file name ("the edition" for a message given as bytes).
    name: str
    #: How many recipients it was for.
    recipients: int
    #: Whether it was a proof, and whether a dry run.
    proof: bool = False
    dry_run: bool = False
    #: What was worth a warning before sending (a placeholder unsubscribe link).
    warnings: list[str] = field(default_factory=list)
    #: A dry run's plan by the calendar or the pace: readers by the hour their copy would go.
    plan: str = ""
    #: The run's report by subject: ``""`` for a send, ``A``, ``B`` … for an A/B test's proofs.
    reports: dict[str, DeliveryReport] = field(default_factory=dict)
    #: Whether an A/B test of subjects is on (a later run sends the winner).
    testing: bool = False
    #: How many refused or unknown recipients ``SendRequest.report`` got, once written.
    report_written: int | None = None
    #: Why ``SendRequest.report`` could not be written after the send (the disk filled up).
    unwritten: str = ""

    @property
    def report(self) -> DeliveryReport:
        """The report of a send (of subject A for an A/B test's proofs)."""
        return next(iter(self.reports.values()))

    @property
    def subjects(self) -> list[str]:
        """The subjects proofed, ``A``, ``B`` …; empty for anything but an A/B test's proofs."""
        return [label for label in self.reports if label]

    @property
    def sent(self) -> int:
        """How many recipients got it (every subject, for an A/B test's proofs)."""
        return min(report.sent for report in self.reports.values())

    @property
    def stopped(self) -> str:
        """Why the send stopped early (the server or provider cannot be used); "" if it did not."""
        return next((report.stopped for report in self.reports.values() if report.stopped), "")

    @property
    def complete(self) -> bool:
        """Whether everyone was reached: nothing refused, unknown or stopped (later is fine)."""
        return all(report.complete for report in self.reports.values())


class SendProgress(Protocol):
    """Told how many recipients a send is for, then how many each step handed over."""

    def start(self, total: int) -> None:
        """The send begins, for ``total`` recipients."""

    def advance(self, count: int) -> None:
        """``count`` more recipients were dealt with."""


def send_edition(
    config: BuildConfig | Path,
    eml: Path | bytes,
    request: SendRequest,
    progress: SendProgress | None = None,
) -> SendOutcome:
    """Send the built edition ``eml`` as ``config`` (or the config file) and ``request`` say.

    Raises ``UsageError`` for a send that names nobody or a winner without a test,
    ``PlaceholderLinkError`` for a send to readers whose unsubscribe link is a placeholder,
    ``ConfigError`` for an edition not approved (``[desk] approval = true``), ``GuardError``
    for a guarded send its sample stopped (``[delivery.guard]``), and the delivery's errors;
    what was worth a warning before an error is in its ``warnings``.
    """
    where = ""
    if isinstance(config, Path):
        where = f"{config}: "
        config = load_config(config)
    if config.delivery is None:
        raise ConfigError(f"{where}no [delivery] table: say how the mail is sent")
    if request.release_guard and config.delivery.guard is None:
        raise UsageError("--release-guard ends a guarded send: set [delivery.guard] first")
    if request.report is not None and not (request.proof or request.dry_run):
        check_report_path(request.report)
    zones: dict[str, str] = {}
    unconsented: list[str] = []
    readers: list[Reader] | None = None
    if request.proof:
        addresses = read_recipients(request.to, "--to", header=False)
    else:
        addresses, unconsented, readers = _readers(config, request, zones)
    raw = read_eml(eml) if isinstance(eml, Path) else eml
    name = eml.name if isinstance(eml, Path) else "the edition"
    outcome = SendOutcome(name, len(addresses), proof=request.proof, dry_run=request.dry_run)
    if unconsented:
        outcome.warnings.append(_unconsented_warning(unconsented))
    copies: tuple[Digest, list[Reader]] | None = None
    if readers is not None and isinstance(eml, Path) and any(map(_personal, readers)):
        made, why = read_record(config, eml, raw)
        if made is not None:
            copies = made, readers
        else:
            outcome.warnings.append(
                f"{why or f'{record_path(eml).name} is missing'}: every reader gets the .eml as "
                "it is (their sections and names left out); build the edition again to "
                "personalise"
            )
    try:
        outcome.warnings += _placeholder_warnings(config, raw, name, request)
        if request.proof:
            _send(config, _proofs(raw), addresses, request, outcome, progress=progress)
            return outcome
        if not isinstance(eml, Path):
            raise UsageError("a send to readers reads a built .eml file, not bytes")
        if config.desk.approval:
            check_approval(config, raw, name)
        test = config.delivery.subject_test
        if request.winner is not None:
            if test is None:
                raise UsageError("--winner ends an A/B test: set [delivery.subject_test] first")
            test = test.model_copy(update={"winner": request.winner})
        outcome.testing = test is not None
        when = local_send_times(raw, zones, config.newsletter.timezone) if request.due else None
        pace = Pace.from_settings(config.delivery, config.newsletter.zone)
        if (when is not None or pace is not None) and request.dry_run:
            start = datetime.now(UTC)
            moments = (
                (when(a) for a in addresses) if when is not None else (start for _ in addresses)
            )
            outcome.plan = (pace or Pace(config.newsletter.zone)).plan(moments, start).table()
        _send(
            config,
            {"": raw},
            addresses,
            request,
            outcome,
            progress=progress,
            # A dry run is not recorded.
            ledger=None if request.dry_run else ledger_path(config, eml),
            due=when,
            pace=None if request.dry_run else pace,
            test=None if test is None else test.test(),
            guard=config.delivery.guard,
            copies=copies,
        )
    except DigestError as error:
        error.warnings = (*error.warnings, *outcome.warnings)
        raise
    return outcome


def _readers(
    config: BuildConfig, request: SendRequest, zones: dict[str, str]
) -> tuple[list[str], list[str], list[Reader] | None]:
    """Who a send to the list is for, who ``[readers] require_consent`` left out, the readers.

    A recipients file (``--recipients``, ``recipients = ...``) names them (a CSV of readers
    returns them whole too); without one, the reader store's subscribed readers, each with
    their time zone (and returned whole, with their name, fields and sections). With
    ``require_consent``, an address of a file that the store does not hold as subscribed
    (with its consent record) is left out and named.
    """
    source = request.recipients or config.recipients
    if source is not None:
        people: dict[str, Reader] = {}
        addresses = read_recipients_file(source, zones, people)
        if not config.readers.require_consent:
            return addresses, [], [people[address_key(a)] for a in addresses] if people else None
        keys = {address: address_key(address) for address in addresses}
        with reader_store(config) as store:
            held = store.known(list(keys.values()))
            held -= store.suppressed(list(held))  # pending, paused, never to be mailed
        kept = [a for a in addresses if keys[a] in held]
        return (
            kept,
            [a for a in addresses if keys[a] not in held],
            [people[keys[a]] for a in kept] if people else None,
        )
    with reader_store(config) as store:
        readers = list(store.subscribed())
    if not readers:
        raise UsageError(
            "say who gets it: --to, --recipients, recipients = ..., or readers in the "
            "reader store (digest readers add or import): it holds no subscribed reader"
        )
    for reader in readers:
        if reader.timezone is not None:
            zones[address_key(reader.address)] = reader.timezone
    return [reader.address for reader in readers], [], readers


def _personal(reader: Reader) -> bool:
    """Whether a reader's copy may differ from the ``.eml``: their sections, name or fields."""
    return reader.sections is not None or bool(reader.name) or bool(reader.fields)


def _unconsented_warning(addresses: list[str]) -> str:
    """The warning naming the addresses ``require_consent`` left out (the first five)."""
    named = ", ".join(addresses[:5]) + (
        f" and {len(addresses) - 5} more" if len(addresses) > 5 else ""
    )
    return (
        f"left out {len(addresses)} address(es) the reader store holds no consent for "
        f"([readers] require_consent): {named}"
    )


def check_report_path(path: Path) -> None:
    """Refuse a report file that cannot be written, before anything is sent."""
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"--report {path}: {folder} {problem}")
    if not os.access(folder, os.W_OK | os.X_OK) or path.is_dir():
        raise InputError(f"--report {path}: cannot write a file there")


def _placeholder_warnings(
    config: BuildConfig, raw: bytes, name: str, request: SendRequest
) -> list[str]:
    """Refuse a send whose unsubscribe link is a placeholder; a proof or a test list is warned."""
    links = placeholder_links(raw, config.newsletter.contact.unsubscribe_url)
    if not links:
        return []
    link = excerpt(links[0], 120)
    if not request.proof and not request.allow_placeholder_links:
        raise PlaceholderLinkError(
            f"{name}: the unsubscribe link {link} is a placeholder: readers could not "
            "leave; set [newsletter.contact] unsubscribe_url to your own page (or digest "
            "serve's) and build again, or send to a test list with --allow-placeholder-links"
        )
    why = "a proof" if request.proof else "--allow-placeholder-links"
    return [f"the unsubscribe link {link} is a placeholder; going ahead ({why}): not for readers"]


def _mailing(
    config: BuildConfig,
    digest: Digest,
    readers: list[Reader],
    tokens: UnsubscribeTokens | None,
    clicks: LinkTokens | None,
    outcome: SendOutcome,
) -> Mailing | None:
    """Each reader's own copy of ``digest``; None (with a warning) when the templates cannot.

    Templates that show no reader's value (``{{ reader.unsubscribe_url }}``) make one copy
    for everyone: the ``.eml`` is sent then, as it is.
    """
    contact = config.newsletter.contact
    if tokens is None and "{token}" in (contact.unsubscribe_url or "") + (
        contact.preferences_url or ""
    ):
        raise secret_needed("the unsubscribe link")
    test = config.delivery.subject_test if config.delivery is not None else None
    copies = Copies(digest, subjects=test.subjects if test else (), tokens=tokens, clicks=clicks)
    try:
        copies.render(next(r for r in readers if _personal(r)))
    except RenderError as error:
        outcome.warnings.append(f"{error}: every reader gets the .eml as it is")
        return None
    return Mailing(copies)


def _proofs(raw: bytes) -> dict[str, bytes]:
    """The proofs of ``raw``: ``[Proof]``, or an A/B test's every subject, ``[Proof B]`` and all."""
    variants = subject_variants(raw)
    if len(variants) == 1:
        return {"": proof(raw)}
    return {label: proof(data, variant=label) for label, data in variants.items()}


def _send(
    config: BuildConfig,
    messages: dict[str, bytes],
    addresses: list[str],
    request: SendRequest,
    outcome: SendOutcome,
    *,
    progress: SendProgress | None,
    ledger: Path | None = None,
    due: Callable[[str], datetime] | None = None,
    pace: Pace | None = None,
    test: SubjectTest | None = None,
    guard: GuardSettings | None = None,
    copies: tuple[Digest, list[Reader]] | None = None,
) -> None:
    """Send each of ``messages`` (one, or an A/B test's proofs) through the config's sender.

    A proof goes to whoever is named, suppressed or not, and is never recorded; a send to
    the list is recorded in the ``ledger`` and leaves out the suppressed. With ``copies``
    (the edition's digest and the store's readers), each reader gets their own copy, made
    as ``Mailing`` makes it, instead of the ``.eml``.
    """
    assert config.delivery is not None
    tokens = UnsubscribeTokens.from_environment(list_id(config.newsletter))
    # A proof is never tracked: its clicks are the editor's, not a reader's.
    clicks = None if request.proof else config.tracking.tokens(list_id(config.newsletter))
    recorded = (
        None
        if ledger is None
        else open_ledger(ledger, store_url(config.store), config.store.lease_seconds)
    )
    # The reader store answers "may we mail X?": the suppressed, the paused, the pending.
    suppressions = None if request.proof else reader_store(config)
    sender = make_sender(config.delivery)
    try:
        if progress is not None:
            progress.start(len(addresses) * len(messages))
        options = SendOptions(
            dry_run=request.dry_run,
            resend_unknown=request.resend_unknown,
            retry_refused=request.retry_refused,
            progress=progress.advance if progress is not None else None,
            suppressions=suppressions,
            tokens=tokens,
            due=due,
            pace=pace,
            test=test,
            events=suppressions,
            guard=guard,
            release_guard=request.release_guard,
        )
        mailing = None if copies is None else _mailing(config, *copies, tokens, clicks, outcome)
        for label, raw in messages.items():
            if mailing is not None and copies is not None:
                mine = replace(options, due=due is not None)
                outcome.reports[label] = mailing.deliver(copies[1], sender, recorded, mine)
            else:
                outcome.reports[label] = send_eml(
                    raw, addresses, sender, recorded, options, clicks=clicks
                )
        if recorded is not None and request.report is not None:
            try:
                outcome.report_written = recorded.write_report(
                    outcome.report.edition, request.report
                )
            except OSError as error:  # checked before sending; the disk may fill up since
                outcome.unwritten = (
                    f"--report {request.report}: cannot write it: {error.strerror or error}"
                )
    finally:
        sender.close()
        if recorded is not None:
            recorded.close()
        if suppressions is not None:
            suppressions.close()
