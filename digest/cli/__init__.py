"""The ``digest`` command: thin commands over the library."""

from __future__ import annotations

import logging
import os
import sys

import click

from digest import __version__
from digest.cli import build, desk, publish, readers, report, send, serve, store, suppress
from digest.cli.common import INTERNAL_ERROR, warn
from digest.errors import DigestError

# Each command imports what it uses when it runs: ``digest build`` never loads the senders,
# the preview server or the feed parser unless the config asks for feeds.

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
def cli() -> None:
    """Turn a week of news articles into one email digest.

    Exit statuses: 0 done; 1 bad input; 2 wrong usage; 3 nothing new to send; 4 template or
    rendering error; 5 check found errors; 6 some recipients refused (or some reports
    unreadable); 7 mail server error (or another run is sending the same edition); 8 send
    refused a placeholder unsubscribe link; 9 a list manager refused the campaign or lost
    its answer.
    """


# The commands in the order of a week: make the edition, send it, steer it, serve the list.
cli.add_command(build.build)
cli.add_command(build.init)
cli.add_command(build.history)
cli.add_command(build.preview)
cli.add_command(send.send)
cli.add_command(report.report)
cli.add_command(publish.publish)
cli.add_command(build.check)
cli.add_command(desk.approve)
cli.add_command(desk.plan)
cli.add_command(desk.desk)
cli.add_command(serve.serve)
cli.add_command(suppress.suppress)
cli.add_command(readers.readers)
cli.add_command(store.store)


def main(argv: list[str] | None = None) -> None:
    """Run the command line; library errors become one line on stderr and an exit status."""
    # psycopg's pool logs each failed try to connect; a command says what failed once, below.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    try:
        cli.main(args=argv, prog_name="digest", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("digest: aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except DigestError as error:
        for message in error.warnings:  # what the build noticed before it failed
            warn(message)
        click.echo(f"digest: error: {error}", err=True)
        sys.exit(error.exit_code)
    except Exception as error:  # a bug: one line, and the traceback only when asked for
        if os.environ.get("DIGEST_DEBUG"):
            raise
        click.echo(
            f"digest: internal error: {type(error).__name__}: {error} "
            "(please report it; DIGEST_DEBUG=1 shows the traceback)",
            err=True,
        )
        sys.exit(INTERNAL_ERROR)
