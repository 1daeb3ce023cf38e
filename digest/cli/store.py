"""The ``digest store`` commands: the store's schema, on SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.common import CONFIG, load_config


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

    for line in status_of(store_url(load_config(config_path).store)).lines():
        click.echo(line)
