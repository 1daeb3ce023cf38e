"""Bounces and complaints from a mailbox into a config's suppression list.

``import_mail`` reads DSN bounces and ARF complaints (an mbox, a Maildir or ``.eml`` files)
and records those that answer a message this list sent: the enclosed copy carries the reader's
signed token, or (a list without ``{token}`` links) the send ledger says the edition went to
them. It opens the config's ledger and suppression list, and says what each report did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from digest.delivery.ledger import SendLedger
from digest.mail.message import list_id
from digest.schedule.config import BuildConfig, server_ledger, suppression_store
from digest.suppression import Ours, SuppressionList, UnsubscribeTokens, read_reports

__all__ = ["MailImport", "import_mail"]


@dataclass
class MailImport:
    """What an import of a mailbox did: counts, and a line for each report worth naming."""

    #: Reports read (not counting messages that are no report, nor unreadable ones).
    reports: int = 0
    #: Messages that are no report.
    skipped: int = 0
    #: Events recorded, and how many of them were new.
    events: int = 0
    new: int = 0
    #: Events of reports that answer no message of this list.
    foreign: int = 0
    #: Messages too big, with too many parts or nested too deep.
    unreadable: int = 0
    #: Whether reports not ours were believed anyway.
    trusted: bool = False
    #: What was worth a warning before reading (nothing to match reports with, trusting all).
    warnings: list[str] = field(default_factory=list)
    #: One line per message worth naming, in the mailbox's order: ``WHERE: what happened``.
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every message could be read."""
        return not self.unreadable

    def summary(self) -> str:
        """The import in one line."""
        trusted = " (trusted)" if self.trusted and self.foreign else ""
        return (
            f"{self.reports} reports ({self.skipped} other messages skipped): {self.events} "
            f"events, {self.new} new; {self.foreign} not ours{trusted}, "
            f"{self.unreadable} unreadable"
        )


def import_mail(
    config: BuildConfig,
    paths: Sequence[Path],
    ledgers: Sequence[Path] = (),
    trust_unmatched: bool = False,
) -> MailImport:
    """Record the bounces and complaints in ``paths`` that answer a message this list sent.

    ``ledgers`` are the send ledgers to match reports with (default: the one beside the
    history, or in the ``out`` folder); with ``trust_unmatched``, reports that answer no
    message of this list are recorded too.
    """
    done = MailImport(trusted=trust_unmatched)
    tokens = UnsubscribeTokens.from_environment(list_id(config.newsletter))
    # Without --ledger: the ledger on the store's server, or the file beside the history.
    shared = None if ledgers else server_ledger(config)
    if not ledgers and shared is None:
        beside = config.beside_history(".sends.sqlite3")
        if beside is None and config.out is not None:
            beside = config.out / "digest.sends.sqlite3"
        ledgers = (beside,) if beside is not None and beside.is_file() else ()
    if not ledgers and shared is None and tokens is None:
        done.warnings.append(
            "no send ledger and no DIGEST_UNSUBSCRIBE_SECRET: no report can be matched with "
            "a message this list sent (name the ledger with --ledger)"
        )
    if trust_unmatched:
        done.warnings.append(
            "--trust-unmatched: reports that answer no message of this list are believed; "
            "anyone who can mail this mailbox can suppress any address"
        )
    opened = [SendLedger(path) for path in ledgers]
    if shared is not None:  # the send ledger on the store's server, not a file here
        opened.append(shared)

    def sent(edition: str, address: str) -> bool:
        return any(ledger.went_to(edition, address) for ledger in opened)

    # A list whose links carry tokens signs every copy: only the token tells a copy ours.
    signed = "{token}" in (config.newsletter.contact.unsubscribe_url or "")
    ours = Ours(list_id(config.newsletter), tokens, sent, signed=signed)
    try:
        with SuppressionList(
            suppression_store(config), soft_bounce_limit=config.suppression.soft_bounce_limit
        ) as listed:
            for report in read_reports(paths, tokens, ours=ours):
                if isinstance(report, str):
                    done.skipped += 1
                    continue
                if report.kind == "unreadable":
                    done.unreadable += 1
                    done.notes.append(f"{report.where}: unreadable: {report.note}")
                    continue
                done.reports += 1
                for event in report.events:
                    done.events += 1
                    done.new += listed.record(event)
                for event, why in report.not_ours:
                    done.foreign += 1
                    trusted = "trusted anyway, " if trust_unmatched else ""
                    done.notes.append(f"{report.where}: not ours ({trusted}{event.address}): {why}")
                    if trust_unmatched:
                        done.events += 1
                        done.new += listed.record(event)
                if not report.events and not report.not_ours:
                    done.notes.append(f"{report.where}: {report.note}")
    finally:
        for ledger in opened:
            ledger.close()
    return done
