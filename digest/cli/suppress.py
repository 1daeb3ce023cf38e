"""The ``digest suppress`` commands: the list of readers never sent to again."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from digest.cli.common import (
    CONFIG,
    IMPORT_INCOMPLETE,
    load_config,
    warn,
)
from digest.errors import InputError

if TYPE_CHECKING:
    from digest.suppression import Reason, SuppressionList


@click.group()
def suppress() -> None:
    """The suppression list: readers never sent to again (unsubscribed, bounced, complained).

    Example:

    \b
        digest suppress list --config newsletter.toml
    """


def _suppressions(config_path: Path) -> SuppressionList:
    from digest.schedule.config import suppression_store
    from digest.suppression import SuppressionList

    config = load_config(config_path)
    return SuppressionList(
        suppression_store(config), soft_bounce_limit=config.suppression.soft_bounce_limit
    )


@suppress.command("list")
@CONFIG
def suppress_list(config_path: Path) -> None:
    """Print every suppressed address with its reason, source and time.

    Example:

    \b
        digest suppress list --config newsletter.toml
    """
    with _suppressions(config_path) as listed:
        for entry in listed:
            click.echo(f"{entry.address}\t{entry.reason}\t{entry.source}\t{entry.at}")
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(listed.counts().items()))
        click.echo(f"{len(listed)} suppressed" + (f" ({counts})" if counts else ""), err=True)


@suppress.command("add")
@CONFIG
@click.argument("addresses", nargs=-1, required=True)
@click.option(
    "--reason",
    type=click.Choice(["by-hand", "unsubscribed", "hard-bounce", "complaint"]),
    default="by-hand",
    show_default=True,
)
def suppress_add(config_path: Path, addresses: tuple[str, ...], reason: str) -> None:
    """Suppress addresses by hand.

    Example:

    \b
        digest suppress add --config newsletter.toml reader@example.org
    """
    with _suppressions(config_path) as listed:
        for address in addresses:
            added = listed.add(address, cast("Reason", reason), source="digest suppress add")
            click.echo(f"{address}: {'suppressed' if added else 'already suppressed'}")


@suppress.command("remove")
@CONFIG
@click.argument("addresses", nargs=-1, required=True)
def suppress_remove(config_path: Path, addresses: tuple[str, ...]) -> None:
    """Take addresses off the list (a reader who subscribed again), from now on.

    An unsubscribe, bounce or complaint dated before this changes nothing, whenever it
    arrives; a later one suppresses the reader again.

    Example:

    \b
        digest suppress remove --config newsletter.toml reader@example.org
    """
    with _suppressions(config_path) as listed:
        for address in addresses:
            removed = listed.remove(address, source="digest suppress remove")
            click.echo(f"{address}: {'removed' if removed else 'not on the list'}")


@suppress.command("import")
@CONFIG
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def suppress_import(config_path: Path, csv_file: Path) -> None:
    """Add the addresses of a CSV file (an address column; reason, source, detail optional).

    Example:

    \b
        digest suppress import --config newsletter.toml unsubscribed.csv
    """
    with _suppressions(config_path) as listed:
        added, known = listed.import_csv(csv_file, source=csv_file.name)
    click.echo(f"{added} added, {known} already suppressed")


@suppress.command("export")
@CONFIG
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
def suppress_export(config_path: Path, csv_file: Path) -> None:
    """Write the list to a CSV file (address, reason, source, at, detail).

    Example:

    \b
        digest suppress export --config newsletter.toml suppressed.csv
    """
    with _suppressions(config_path) as listed:
        try:
            count = listed.export_csv(csv_file)
        except OSError as error:
            raise InputError(f"{csv_file}: cannot write it: {error.strerror or error}") from None
    click.echo(f"{count} addresses written to {csv_file}")


@suppress.command("import-mail")
@CONFIG
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--ledger",
    "ledgers",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A send ledger to match reports with (default: the one beside the history).",
)
@click.option(
    "--trust-unmatched",
    is_flag=True,
    help="Believe reports that answer no message of this list (a relay that strips it).",
)
def suppress_import_mail(
    config_path: Path, paths: tuple[Path, ...], ledgers: tuple[Path, ...], trust_unmatched: bool
) -> None:
    """Read bounces (DSN) and complaints (ARF) from an mbox, a Maildir or .eml files.

    A report counts only when it answers a message this list sent: the message it encloses
    carries the reader's signed unsubscribe token, or (for a list whose unsubscribe_url has no
    {token}) it was to that reader and its edition (X-Digest-Edition and List-Id) or
    Message-ID went to them by the send ledger. The others are listed as not ours and change
    nothing, unless --trust-unmatched. A message that is no report is
    skipped; one too big, with too many parts or nested too deep is listed as unreadable and
    the rest are still read (exit status 6). Importing the same reports again changes nothing.

    Example:

    \b
        digest suppress import-mail --config newsletter.toml ~/Maildir/.bounces
    """
    from digest.schedule.mailbox import import_mail

    done = import_mail(load_config(config_path), paths, ledgers, trust_unmatched)
    for message in done.warnings:
        warn(message)
    for note in done.notes:
        click.echo(note, err=True)
    click.echo(done.summary())
    if trust_unmatched and done.foreign:
        warn(f"--trust-unmatched: {done.foreign} events of reports not ours were recorded")
    if not done.complete:
        sys.exit(IMPORT_INCOMPLETE)
