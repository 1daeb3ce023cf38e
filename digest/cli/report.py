"""``digest report``: what an edition did, over ``digest.report``."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.common import CONFIG, load_config
from digest.errors import InputError

__all__ = ["report"]


@click.command()
@CONFIG
@click.argument("edition", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the figures as CSV.")
@click.option(
    "--editions",
    type=click.IntRange(1, 1000),
    default=None,
    help="The trend: the last N editions, a line (a CSV row) each.",
)
@click.option(
    "--stories",
    is_flag=True,
    help="Click-through per section and per slot across the last --editions (8 by default).",
)
@click.option(
    "--links", is_flag=True, help="With --csv: the clicks per link of the edition, a row each."
)
def report(
    config_path: Path,
    edition: str | None,
    as_json: bool,
    as_csv: bool,
    editions: int | None,
    stories: bool,
    links: bool,
) -> None:
    """Sent, delivered, bounced, complained, unsubscribed, opened and clicked, per link and story.

    EDITION is a number (12), a date (2026-12-07) or an edition key; the newest by default.
    A complaint rate over 0.1 % or a bounce rate over 2 % is flagged.

    Example:

    \b
        digest report --config newsletter.toml 12
        digest report --config newsletter.toml --editions 8 --csv
        digest report --config newsletter.toml --stories --editions 12
    """
    from digest.report import figures, forms

    if as_json and as_csv:
        raise InputError("--json and --csv: choose one")
    if edition is not None and (editions is not None or stories):
        raise InputError(f"edition {edition!r}: --editions and --stories read the last editions")
    if links and (not as_csv or editions is not None or stories):
        raise InputError("--links: only with --csv, for one edition")
    config = load_config(config_path)
    if stories:
        count = editions or 8
        trends = figures.stories(config, count)
        if as_json:
            click.echo(forms.as_json(trends), nl=False)
        elif as_csv:
            click.echo(forms.stories_csv(trends), nl=False)
        else:
            click.echo("\n".join(forms.stories_lines(trends, count)))
        return
    if editions is not None:
        reports = figures.trend(config, editions)
        if as_json:
            click.echo(forms.as_json(reports), nl=False)
        elif as_csv:
            click.echo(forms.reports_csv(reports), nl=False)
        else:
            click.echo("\n".join(forms.trend_lines(reports)))
        return
    one = figures.report(config, edition)
    if as_json:
        click.echo(forms.as_json(one), nl=False)
    elif as_csv:
        click.echo(forms.links_csv(one) if links else forms.reports_csv([one]), nl=False)
    else:
        click.echo("\n".join(forms.report_lines(one)))
