"""The ``digest store`` commands: the store's schema, on SQLite or PostgreSQL."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.common import CONFIG, load_config

if TYPE_CHECKING:
    from digest.schedule.config import BuildConfig
    from digest.store import StoreURL
    from digest.store.copy import Mode, Source


@click.group()
def store() -> None:
    """The store: where digest keeps its ledger ([store] url, DIGEST_DATABASE_URL).

    Example:

    \b
        digest store status --config newsletter.toml
    """


@store.command("upgrade")
@CONFIG
def store_upgrade(config_path: Path) -> None:
    """Bring the store's schema up to date (safe to run twice, or from two hosts at once).

    Example:

    \b
        DIGEST_DATABASE_URL=postgresql://digest@db/news digest store upgrade --config n.toml
    """
    from digest.store import store_url
    from digest.store.admin import upgrade_store

    url = store_url(load_config(config_path).store)
    applied = upgrade_store(url)
    if url.backend == "sqlite":
        click.echo(f"{url}: SQLite files upgrade themselves when they are opened")
    elif not applied:
        click.echo(f"{url}: the schema is up to date")
    for migration in applied:
        click.echo(f"{url}: applied {migration.version} ({migration.name})")


@store.command("status")
@CONFIG
def store_status(config_path: Path) -> None:
    """Say which store a config uses and where its schema stands.

    Example:

    \b
        digest store status --config newsletter.toml
    """
    from digest.store import store_url
    from digest.store.admin import store_status as status_of

    upgrade = f"digest store upgrade --config {shlex.quote(str(config_path))}"
    for line in status_of(store_url(load_config(config_path).store)).lines(upgrade):
        click.echo(line)


@store.command("copy")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The newsletter's TOML config: its ledger, suppression list and history are copied.",
)
@click.option(
    "--ledger",
    "ledgers",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A send ledger file to copy instead of the config's (again for another one).",
)
@click.option(
    "--suppressions",
    "suppression_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A suppression list's file (with the reader store's tables) instead of the config's.",
)
@click.option(
    "--history",
    "history_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An edition history's file instead of the config's.",
)
@click.option(
    "--to",
    "to",
    default=None,
    metavar="URL",
    help="The PostgreSQL store to copy into (default: DIGEST_DATABASE_URL, then [store] url).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing: compare each table's rows by count and checksum (exit 11 if one differs).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="A row the target holds with other values takes the source's (else: exit 11).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write nothing, connect to nothing (no store needs naming): count what would be copied.",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 100_000),
    default=5000,
    show_default=True,
    help="Rows a transaction on the target.",
)
def store_copy(
    config_path: Path | None,
    ledgers: tuple[Path, ...],
    suppression_files: tuple[Path, ...],
    history_files: tuple[Path, ...],
    to: str | None,
    check: bool,
    replace: bool,
    dry_run: bool,
    batch: int,
) -> None:
    """Copy every row of the SQLite files into the PostgreSQL store, then verify it.

    Each batch is one transaction that adds only what the target lacks, so a copy that was
    stopped (Ctrl-C, kill -9, a lost server) finishes when run again, and a second run
    copies nothing. Every table ends with its counts and a checksum of both sides; a row the
    target holds with other values is named and left as it is (exit 11), or replaced with
    --replace. A history's edition whose date the target holds under another number is named
    and left out with its stories, links, plan, approval and campaigns, even with --replace.

    Example:

    \b
        DIGEST_DATABASE_URL=postgresql://digest@db/news digest store copy --config n.toml
    """
    from digest.errors import UsageError
    from digest.store import StoreSettings, parse_store_url, store_url
    from digest.store.copy import Source, copy_store

    if check and dry_run:
        raise UsageError("--check and --dry-run: choose one (both write nothing)")
    if replace and (check or dry_run):
        raise UsageError("--replace writes: it goes with neither --check nor --dry-run")
    config = load_config(config_path) if config_path is not None else None
    sources = [Source("ledger", path.absolute()) for path in ledgers]
    sources += [Source("suppressions", path.absolute()) for path in suppression_files]
    sources += [Source("history", path.absolute()) for path in history_files]
    if not sources and config is not None:
        sources = _config_sources(config)
    if not sources:
        raise UsageError(
            "no SQLite file to copy: name the config (--config) or the files (--ledger, "
            "--suppressions, --history)"
        )
    if to is not None:
        url = parse_store_url(to, "--to", secret_ok=True)
    else:
        url = store_url(config.store if config is not None else StoreSettings())
    target: StoreURL | None = url
    if url.backend != "postgresql":
        if not dry_run or to is not None:
            raise UsageError(
                f"the store to copy into is {url}, not PostgreSQL: name it with --to or "
                "DIGEST_DATABASE_URL (postgresql://user@host/database)"
            )
        target = None  # a dry run reads only the files
    mode: Mode = "check" if check else "dry-run" if dry_run else "copy"
    for source in sources:
        click.echo(f"from {source.path} ({_WHAT[source.kind]})")
    if mode == "copy":
        _bring_up_to_date(sources, url)
    report = copy_store(
        sources,
        target,
        mode=mode,
        replace=replace,
        batch=batch,
        on_table=lambda table: click.echo("\n".join(table.lines(mode))),
    )
    failure = report.error()
    if failure is not None:
        raise failure
    click.echo(report.summary())


_WHAT = {
    "ledger": "send ledger",
    "suppressions": "suppression list and reader store",
    "history": "edition history",
}


def _config_sources(config: BuildConfig) -> list[Source]:
    """The SQLite files ``config`` uses that exist: send ledger, suppression list, history."""
    from digest.schedule.config import suppression_path
    from digest.store import parse_store_url
    from digest.store.copy import Source

    own = parse_store_url(config.store.url)
    ledger = own.path if own.path is not None else config.beside_history(".sends.sqlite3")
    if ledger is None and config.out is not None:
        ledger = config.out / "digest.sends.sqlite3"
    history = config.history if isinstance(config.history, Path) else None
    found = []
    for kind, path in (
        ("ledger", ledger),
        ("suppressions", suppression_path(config)),
        ("history", history),
    ):
        if path is not None and path.is_file():
            found.append(Source(kind, path))  # type: ignore[arg-type]
        elif path is not None:
            click.echo(f"no {_WHAT[kind]} at {path}: nothing to copy from it")
    return found


def _bring_up_to_date(sources: list[Source], url: StoreURL) -> None:
    """Open each source as digest does (an older file is upgraded), and the target's schema."""
    from digest.delivery.ledger import SendLedger
    from digest.schedule.history import History
    from digest.store.admin import upgrade_store
    from digest.store.connection import Database
    from digest.suppression.store import SuppressionList

    for source in sources:
        opened: Database = (
            SendLedger(source.path)
            if source.kind == "ledger"
            else SuppressionList(source.path)
            if source.kind == "suppressions"
            else History(source.path)
        )
        opened.close()
    for migration in upgrade_store(url):
        click.echo(f"{url}: applied {migration.version} ({migration.name})")
