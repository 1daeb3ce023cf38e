"""The ``digest publish`` command: the edition as a campaign in the team's list manager."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from digest.cli.common import CONFIG, DATE, QUIET, load_config
from digest.errors import UsageError


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 time with its zone (``2026-12-07T07:00+07:00``, ``…Z``)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--schedule {value!r}: not an ISO 8601 time (2026-12-07T07:00+07:00)"
        ) from None
    if moment.tzinfo is None:
        raise UsageError(f"--schedule {value!r}: give its time zone (+07:00, or Z for UTC)")
    return moment


@click.command()
@CONFIG
@click.option(
    "--to",
    "tool",
    required=True,
    metavar="TOOL",
    help="The list manager: mailchimp, listmonk, buttondown, brevo or kit "
    "(its [publish.TOOL] table in the config).",
)
@DATE
@click.option(
    "--schedule",
    callback=_moment,
    metavar="ISO",
    help="Schedule the campaign for this time (ISO 8601 with its zone); by default it stays "
    'a draft, or goes at the edition\'s send time with [publish.TOOL] mode = "schedule".',
)
@click.option(
    "--test-to",
    "test_to",
    multiple=True,
    metavar="ADDR",
    help="Have the tool send a test of the campaign to this address (repeatable).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Build the edition in the tool's merge tags and check them; send nothing.",
)
@QUIET
def publish(
    config_path: Path,
    tool: str,
    on: datetime | None,
    schedule: datetime | None,
    test_to: tuple[str, ...],
    dry_run: bool,
    quiet: bool,
) -> None:
    """Create (or update) the edition's campaign in Mailchimp, listmonk and the like.

    Once per edition: a rerun updates the draft while it is a draft and leaves a scheduled or
    sent campaign alone. The key comes from the environment (MAILCHIMP_API_KEY,
    LISTMONK_USER and LISTMONK_TOKEN...).

    Example:

    \b
        MAILCHIMP_API_KEY=... digest publish --config newsletter.toml --to mailchimp
        digest publish --config newsletter.toml --to listmonk --schedule 2026-12-07T07:00+07:00
    """
    from digest.publish.publishing import publish as publish_edition

    result = publish_edition(
        load_config(config_path),
        tool,
        on.date() if on else None,
        schedule=schedule,
        test_to=test_to,
        dry_run=dry_run,
    )
    if not quiet:
        click.echo(result.describe())
