"""What the commands share: exit statuses, options, warnings and loading a config."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from digest.schedule.config import BuildConfig

#: The exit status of ``digest check`` when it finds errors.
CHECK_FAILED = 5
#: The exit status of ``digest send`` when some recipients were refused or are unknown.
SEND_INCOMPLETE = 6
#: The exit status of ``digest send`` when it stopped: the server or provider cannot be used
#: (unreachable, the login refused); those not reached go out on the next run.
SEND_STOPPED = 7
#: The exit status of ``digest suppress import-mail`` when some messages were unreadable (too
#: big, too many parts, nested too deep); every other message was imported.
IMPORT_INCOMPLETE = 6
#: The exit status when digest itself fails (a bug), as sysexits' EX_SOFTWARE.
INTERNAL_ERROR = 70

CONFIG = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The newsletter's TOML config.",
)


def _plausible_date(
    context: click.Context, parameter: click.Parameter, value: datetime | None
) -> datetime | None:
    # Windows and schedules reach a few weeks around the date: keep them inside the calendar.
    if value is not None and not 1900 <= value.year <= 9000:
        raise click.BadParameter(f"{value:%Y-%m-%d} is not a year from 1900 to 9000")
    return value


DATE = click.option(
    "--date",
    "on",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    callback=_plausible_date,
    help="The edition's date, YYYY-MM-DD (default: the newest scheduled date).",
)
QUIET = click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")


def warn(message: str) -> None:
    """Print a warning on stderr."""
    click.echo(f"digest: warning: {message}", err=True)


def load_config(path: Path) -> BuildConfig:
    """The config at ``path`` (the models load here, not when ``--help`` is asked for)."""
    from digest.schedule.config import load_config as load

    return load(path)


def open_desk(config_path: Path, on: datetime | None) -> Any:
    """The desk of the edition dated ``on`` (its sources gathered once)."""
    from digest.schedule.desk import Desk

    return Desk(load_config(config_path), on.date() if on else None)
