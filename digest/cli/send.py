"""The ``digest send`` command: an edition to its readers, or a proof."""

from __future__ import annotations

import sys
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import click

from digest.cli.common import CONFIG, QUIET, SEND_INCOMPLETE, SEND_STOPPED, warn
from digest.errors import DigestError, InputError, UsageError

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from digest.schedule.sending import SendOutcome


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
    help="A file of addresses, one a line (default: the config's recipients, else the "
    "reader store's subscribed readers).",
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
    "--release-guard",
    is_flag=True,
    help="Send the rest of a guarded send ([delivery.guard]) that its sample stopped, by hand.",
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
    release_guard: bool,
    allow_placeholder_links: bool,
    quiet: bool,
) -> None:
    """Send a built .eml through the config's [delivery] provider, one copy per recipient.

    It goes to the recipients file (--recipients, or the config's recipients), or without
    one to the reader store's subscribed readers (digest readers add or import). The store
    leaves out whoever it holds as unsubscribed, bounced, complained, pending or paused.

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

    With [delivery.guard], a run sends to a sample of the list first; a run after the wait
    sends the rest only if the sample's hard bounces and complaints stay within the limits,
    else it stops with status 10 (and so does every later run); --release-guard sends the
    rest by hand.

    Example:

    \b
        digest send --config newsletter.toml out/edition-2026-11-30.eml --to me@example.org
    """
    from digest.schedule.sending import SendRequest, send_edition

    request = SendRequest(
        to=to,
        recipients=recipients_file,
        due=due,
        dry_run=dry_run,
        resend_unknown=resend_unknown,
        retry_refused=retry_refused,
        report=report_path,
        winner=cast("Literal['A', 'B', 'C', 'D'] | None", winner),
        release_guard=release_guard,
        allow_placeholder_links=allow_placeholder_links,
    )
    bar = _Bar(quiet)
    try:
        outcome = send_edition(config_path, eml, request, bar)
    except UsageError as error:
        raise click.UsageError(str(error)) from None
    except DigestError as error:
        if quiet:  # what was worth a warning before the error: --quiet prints errors only
            error.warnings = ()
        raise
    finally:
        bar.close()
    if not quiet:
        for message in outcome.warnings:
            warn(message)
    if outcome.subjects:
        _show_proofs(outcome, quiet)
    else:
        _show(outcome, report_path, due, quiet)


class _Bar:
    """The progress bar on a terminal, made once the send knows how many it is for."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: ProgressBar[int] | None = None

    def start(self, total: int) -> None:
        show = not self.quiet and sys.stderr.isatty() and total > 1
        self.bar = click.progressbar(
            length=total, label="Sending", file=sys.stderr, hidden=not show
        )
        self.bar.__enter__()

    def advance(self, count: int) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _show(outcome: SendOutcome, report_path: Path | None, due: bool, quiet: bool) -> None:
    """Print what a send (or a proof, or a dry run) did, and exit with its status."""
    report = outcome.report
    if outcome.plan and not quiet:
        click.echo("The plan: readers by the hour their copy would go out (UTC)")
        click.echo(outcome.plan)
    if outcome.report_written is not None and not quiet:
        count = outcome.report_written
        click.echo(f"{count} refused or unknown recipients written to {report_path}")
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
        waits = outcome.testing or bool(report.guard)
        again = "run it again then" if waits and not due else "run --due again then"
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
    if report.guard and not quiet:
        click.echo(f"guard: {report.guard}")
    if not quiet:
        click.echo(report.table(dry_run=outcome.dry_run))
        verb = "Would send" if outcome.dry_run else "Sent a proof of" if outcome.proof else "Sent"
        click.echo(f"{verb} {outcome.name} to {report.sent} of {outcome.recipients} recipients")
    if outcome.unwritten:
        click.echo(f"digest: error: {outcome.unwritten}", err=True)
    if report.stopped:
        sys.exit(SEND_STOPPED)
    if not report.complete:
        sys.exit(SEND_INCOMPLETE)
    if outcome.unwritten:
        sys.exit(InputError.exit_code)


def _show_proofs(outcome: SendOutcome, quiet: bool) -> None:
    """Print what the proofs of an A/B test's subjects did, and exit with their status."""
    for label, report in outcome.reports.items():
        for address, reason in report.refused.items():
            click.echo(f"digest: refused: {address} (subject {label}): {reason}", err=True)
    if outcome.stopped:
        click.echo(f"digest: stopped: {outcome.stopped}", err=True)
        sys.exit(SEND_STOPPED)
    if not quiet:
        click.echo(
            f"Sent proofs of {outcome.name}, subjects {', '.join(outcome.subjects)}, to "
            f"{outcome.sent} of {outcome.recipients} recipients"
        )
    if not outcome.complete:
        sys.exit(SEND_INCOMPLETE)
