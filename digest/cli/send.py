"""The ``digest send`` command: an edition to its readers, or a proof."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.common import (
    CONFIG,
    QUIET,
    SEND_INCOMPLETE,
    SEND_STOPPED,
    load_config,
    warn,
)
from digest.errors import ConfigError, InputError

if TYPE_CHECKING:
    from digest.schedule.config import BuildConfig
    from digest.suppression import UnsubscribeTokens


@click.command()
@CONFIG
@click.argument("eml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--to", "to", multiple=True, help="Send a proof to this address only ([Proof], not recorded)."
)
@click.option(
    "--recipients",
    "recipients_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of addresses, one a line (default: the config's recipients).",
)
@click.option(
    "--due",
    is_flag=True,
    help="Send only to readers whose local send time has come (run it from cron).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Prepare every message, send none; with --due or a [delivery] pace, print how "
    "many would go out in which hour.",
)
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="Send again to addresses whose earlier delivery has an unknown outcome.",
)
@click.option(
    "--retry-refused",
    is_flag=True,
    help="Send again to addresses an earlier run recorded as refused.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every refused or unknown recipient to this .csv or .json file.",
)
@click.option(
    "--winner",
    type=click.Choice(["A", "B", "C", "D"]),
    help="End the A/B test of subjects: everyone not reached yet gets this one.",
)
@click.option(
    "--allow-placeholder-links",
    is_flag=True,
    help="Send even if the unsubscribe link is a placeholder (example.org, .test, localhost): "
    "for a test list only.",
)
@QUIET
def send(
    config_path: Path,
    eml: Path,
    to: tuple[str, ...],
    recipients_file: Path | None,
    due: bool,
    dry_run: bool,
    resend_unknown: bool,
    retry_refused: bool,
    report_path: Path | None,
    winner: str | None,
    allow_placeholder_links: bool,
    quiet: bool,
) -> None:
    """Send a built .eml through the config's [delivery] provider, one copy per recipient.

    Every recipient's state is kept in a send ledger beside the history, so running the same
    command again after a failure (or a kill) sends only to those not reached yet. Exits with
    status 7 when it stopped (the server or provider cannot be used, the login was refused:
    nobody was refused for it, and the next run sends the rest), and with status 6 when some
    recipients were refused or their outcome is unknown (the others still get it).

    An .eml whose unsubscribe link is a placeholder (example.org, .example, .invalid, .test,
    localhost, a loopback address: digest init's link) is refused with status 8, a dry run
    too, unless --allow-placeholder-links (a test list); a proof (--to) goes with a warning.

    An .eml built with [delivery.subject_test] is an A/B test of its subjects: a run sends
    the sample, later runs (from cron) wait, and the first run after the test's wait sends
    the winner to everyone else; --winner chooses it by hand. A proof (--to) sends every
    subject.

    Example:

    \b
        digest send --config newsletter.toml out/edition-2026-11-30.eml --to me@example.org
    """
    from digest.delivery.eml import (
        local_send_times,
        read_eml,
        read_recipients,
        read_recipients_file,
        send_eml,
    )
    from digest.delivery.ledger import SendLedger
    from digest.delivery.pace import Pace
    from digest.delivery.proofs import proof
    from digest.delivery.providers import make_sender
    from digest.mail.message import list_id
    from digest.mail.variants import subject_variants
    from digest.schedule.config import ledger_path, suppression_path
    from digest.suppression import SuppressionList, UnsubscribeTokens

    config = load_config(config_path)
    if config.delivery is None:
        raise ConfigError(f"{config_path}: no [delivery] table: say how the mail is sent")
    if report_path is not None and not (to or dry_run):
        _check_report_path(report_path)
    unwritten = ""
    zones: dict[str, str] = {}
    if to:
        addresses = read_recipients(to, "--to")
    else:
        source = recipients_file or config.recipients
        if source is None:
            raise click.UsageError("say who gets it: --to, --recipients or recipients = ...")
        addresses = read_recipients_file(source, zones)
    raw = read_eml(eml)
    _check_unsubscribe_links(raw, eml, config, bool(to), allow_placeholder_links, quiet)
    if to:
        variants = subject_variants(raw)
        if len(variants) > 1:
            # A proof of a subject test: one of each subject, with the letter in its own.
            tokens = UnsubscribeTokens.from_environment(list_id(config.newsletter))
            _send_proofs(config, eml, variants, addresses, tokens, quiet)
            return
        raw = proof(raw)  # a test send is a proof: [Proof], its own Message-ID, dated now
    elif config.desk.approval:
        _check_approval(config, raw, eml)
    test = config.delivery.subject_test
    if winner is not None:
        if test is None:
            raise click.UsageError("--winner ends an A/B test: set [delivery.subject_test] first")
        test = test.model_copy(update={"winner": winner})
    when = local_send_times(raw, zones, config.newsletter.timezone) if due and not to else None
    # A proof goes now, whatever the calendar says.
    pace = None if to else Pace.from_settings(config.delivery, config.newsletter.zone)
    if (when is not None or pace is not None) and dry_run and not quiet:
        start = datetime.now(UTC)
        moments = (when(a) for a in addresses) if when is not None else (start for _ in addresses)
        plan = (pace or Pace(config.newsletter.zone)).plan(moments, start)
        click.echo("The plan: readers by the hour their copy would go out (UTC)")
        click.echo(plan.table())
    show = not quiet and sys.stderr.isatty() and len(addresses) > 1
    # Test sends (--to) and dry runs are not recorded.
    ledger = None if dry_run or to else SendLedger(ledger_path(config, eml))
    # A test send (--to) goes to whoever is named, suppressed or not.
    suppressions = (
        None
        if to
        else SuppressionList(
            suppression_path(config), soft_bounce_limit=config.suppression.soft_bounce_limit
        )
    )
    tokens = UnsubscribeTokens.from_environment(list_id(config.newsletter))
    sender = make_sender(config.delivery)
    try:
        with click.progressbar(
            length=len(addresses), label="Sending", file=sys.stderr, hidden=not show
        ) as bar:
            report = send_eml(
                raw,
                addresses,
                sender,
                ledger,
                dry_run=dry_run,
                resend_unknown=resend_unknown,
                retry_refused=retry_refused,
                progress=bar.update,
                suppressions=suppressions,
                tokens=tokens,
                due=when,
                pace=None if dry_run else pace,
                test=None if to or test is None else test.test(),
                events=suppressions,
            )
        if ledger is not None and report_path is not None:
            try:
                count = ledger.write_report(report.edition, report_path)
            except OSError as error:  # checked before sending; the disk may fill up since
                unwritten = f"--report {report_path}: cannot write it: {error.strerror or error}"
            else:
                if not quiet:
                    click.echo(f"{count} refused or unknown recipients written to {report_path}")
    finally:
        sender.close()
        if ledger is not None:
            ledger.close()
        if suppressions is not None:
            suppressions.close()
    if report.content_changed:
        warn(
            f"the edition changed since its first send ({report.edition}): readers it reached "
            "before keep what they got; nobody gets it twice"
        )
    for address, reason in report.refused.items():
        click.echo(f"digest: refused: {address}: {reason}", err=True)
    for address in report.unknown:
        click.echo(
            f"digest: unknown: {address}: handed over with no answer (or a run stopped while "
            "sending it); not resent (--resend-unknown sends it again)",
            err=True,
        )
    if report.stopped:
        click.echo(f"digest: stopped: {report.stopped}", err=True)
    if report.suppressed and not quiet:
        shown = ", ".join(report.suppressed[:5]) + (" …" if len(report.suppressed) > 5 else "")
        click.echo(f"Left out {len(report.suppressed)} suppressed: {shown}")
    if report.waiting and not quiet and report.next_due is not None:
        again = "run it again then" if test is not None and not due else "run --due again then"
        click.echo(
            f"{report.waiting} readers are not due yet; the next at "
            f"{report.next_due.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({again})"
        )
    if report.held and not quiet and report.held_until is not None:
        click.echo(
            f"{report.held} readers are held back by {report.held_reason}; a run from "
            f"{report.held_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC sends more"
        )
    if report.subject_test and not quiet:
        click.echo(f"A/B: {report.subject_test}")
    if not quiet:
        click.echo(report.table())
    if not quiet:
        verb = "Would send" if dry_run else "Sent a proof of" if to else "Sent"
        click.echo(f"{verb} {eml.name} to {report.sent} of {len(addresses)} recipients")
    if unwritten:
        click.echo(f"digest: error: {unwritten}", err=True)
    if report.stopped:
        sys.exit(SEND_STOPPED)
    if not report.complete:
        sys.exit(SEND_INCOMPLETE)
    if unwritten:
        sys.exit(InputError.exit_code)


def _check_report_path(path: Path) -> None:
    """Refuse a --report file that cannot be written, before anything is sent."""
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"--report {path}: {folder} {problem}")
    if not os.access(folder, os.W_OK | os.X_OK) or path.is_dir():
        raise InputError(f"--report {path}: cannot write a file there")


def _check_unsubscribe_links(
    raw: bytes, eml: Path, config: BuildConfig, proof: bool, allowed: bool, quiet: bool
) -> None:
    """Refuse a send whose unsubscribe link is a placeholder; a proof or a test list is warned."""
    from digest.delivery.eml import placeholder_links
    from digest.errors import PlaceholderLinkError, excerpt

    links = placeholder_links(raw, config.newsletter.contact.unsubscribe_url)
    if not links:
        return
    link = excerpt(links[0], 120)
    if not proof and not allowed:
        raise PlaceholderLinkError(
            f"{eml.name}: the unsubscribe link {link} is a placeholder: readers could not "
            "leave; set [newsletter.contact] unsubscribe_url to your own page (or digest "
            "serve's) and build again, or send to a test list with --allow-placeholder-links"
        )
    why = "a proof" if proof else "--allow-placeholder-links"
    if not quiet:
        warn(f"the unsubscribe link {link} is a placeholder; going ahead ({why}): not for readers")


def _send_proofs(
    config: BuildConfig,
    eml: Path,
    variants: dict[str, bytes],
    addresses: list[str],
    tokens: UnsubscribeTokens | None,
    quiet: bool,
) -> None:
    """Proofs of an A/B test's .eml: each address gets every subject, ``[Proof B]`` and all."""
    from digest.delivery.eml import send_eml
    from digest.delivery.proofs import proof
    from digest.delivery.providers import make_sender

    assert config.delivery is not None
    sender = make_sender(config.delivery)
    try:
        reports = {
            label: send_eml(proof(raw, variant=label), addresses, sender, tokens=tokens)
            for label, raw in variants.items()
        }
    finally:
        sender.close()
    stopped = [report.stopped for report in reports.values() if report.stopped]
    for label, report in reports.items():
        for address, reason in report.refused.items():
            click.echo(f"digest: refused: {address} (subject {label}): {reason}", err=True)
    if stopped:
        click.echo(f"digest: stopped: {stopped[0]}", err=True)
        sys.exit(SEND_STOPPED)
    if not quiet:
        sent = min(report.sent for report in reports.values())
        click.echo(
            f"Sent proofs of {eml.name}, subjects {', '.join(reports)}, to {sent} of "
            f"{len(addresses)} recipients"
        )
    if not all(report.complete for report in reports.values()):
        sys.exit(SEND_INCOMPLETE)


def _check_approval(config: BuildConfig, raw: bytes, eml: Path) -> None:
    """Refuse an edition nobody approved, or one that changed after it was approved."""
    from digest.mail.message import edition_key_date
    from digest.mail.mime import read_message
    from digest.schedule.history import History, content_hashes

    message = read_message(raw)
    on = edition_key_date(message.headers.get("X-Digest-Edition", ""))
    if on is None or not isinstance(config.history, Path) or not config.history.exists():
        raise ConfigError(f"{eml.name}: approval = true, and nothing says it was approved")
    with History(config.history) as history:
        approval = history.approval(on)
    if approval is None:
        raise ConfigError(
            f"{eml.name}: the edition of {on} is not approved (approval = true): approve it in "
            f"digest desk, or with digest approve --config ... --date {on}"
        )
    changed = approval.changed(
        content_hashes(message.headers.get("Subject", ""), message.html, message.text)
    )
    if changed:
        raise ConfigError(
            f"{eml.name}: the edition of {on} changed after {approval.approver} approved it "
            f"at {approval.approved_at}: {', '.join(changed)}; look at it again and approve it"
        )
