"""The ``digest readers`` commands: the reader store (who is on the list, and their consent)."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from digest.cli.common import CONFIG, load_config
from digest.errors import ConfigError, InputError
from digest.files import read_limited, spreadsheet_csv
from digest.readers.records import STATUSES, ImportSummary

if TYPE_CHECKING:
    from digest.readers import ReaderRecord, ReaderStore, Status

_STATUS = click.option("--status", type=click.Choice(STATUSES), default=None)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_EXPORT_FIELDS = (
    "address",
    "name",
    "sections",
    "timezone",
    "language",
    "status",
    "consent_at",
    "consent_method",
    "consent_source",
    "consent_wording",
    "consent_ip",
)


def _store(config_path: Path) -> ReaderStore:
    from digest.schedule.config import reader_store

    return reader_store(load_config(config_path))


def _count(number: int) -> str:
    """``1 reader``, ``2 readers``."""
    return f"{number:,} reader" + ("" if number == 1 else "s")


def _row(record: ReaderRecord) -> dict[str, Any]:
    consent = record.consent
    return {
        "address": record.address,
        "name": record.name or "",
        "sections": "|".join(record.sections) if record.sections is not None else "",
        "timezone": record.timezone or "",
        "language": record.language or "",
        "status": record.status,
        "consent_at": consent.at.isoformat() if consent else "",
        "consent_method": consent.method if consent else "",
        "consent_source": consent.source if consent else "",
        "consent_wording": consent.wording if consent else "",
        "consent_ip": (consent.ip or "") if consent else "",
        "fields": record.fields,
    }


@click.group()
def readers() -> None:
    """The reader store: readers, their status and consent (GDPR articles 7, 15 and 17).

    Example:

    \b
        digest readers list --config newsletter.toml
    """


@readers.command("add")
@CONFIG
@click.argument("address")
@click.option("--name", default=None)
@click.option("--section", "sections", multiple=True, help="A section they chose (repeat).")
@click.option("--timezone", default=None, help="An IANA zone: Europe/Paris.")
@click.option("--language", default=None)
@click.option("--source", default="digest readers add", show_default=True)
@click.option("--wording", default="", help="The version of the wording they agreed to.")
def readers_add(
    config_path: Path,
    address: str,
    name: str | None,
    sections: tuple[str, ...],
    timezone: str | None,
    language: str | None,
    source: str,
    wording: str,
) -> None:
    """Add a reader who agreed by hand (consent recorded now).

    Example:

    \b
        digest readers add --config newsletter.toml reader@example.org --name Ada
    """
    from digest.fields import check_timezone
    from digest.readers import Consent

    if timezone is not None:
        try:
            check_timezone(timezone)
        except ValueError as error:
            raise InputError(f"--timezone {timezone!r}: {error}") from None
    consent = Consent(datetime.now(UTC), "by-hand", source, wording)
    with _store(config_path) as store:
        status = store.add(
            address,
            consent,
            name=name,
            sections=sections or None,
            timezone=timezone,
            language=language,
        )
    click.echo(f"{address}: {status}")


@readers.command("import")
@CONFIG
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--map", "maps", multiple=True, help='A column onto ours: "Email Address=address".')
@_STATUS
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@_JSON
def readers_import(
    config_path: Path,
    file: Path,
    maps: tuple[str, ...],
    status: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import an export (CSV; Mailchimp, listmonk, Substack, Buttondown, Ghost), all or nothing.

    A zip (Mailchimp's audience export) is read whole: every CSV in it, the leavers' files
    last, none imported unless all are good.

    Example:

    \b
        digest readers import --config newsletter.toml members.csv --dry-run
    """
    from digest.readers.imports import iter_import

    mapping: dict[str, str] = {}
    for item in maps:
        column, sep, ours = item.rpartition("=")
        if not sep or not column or not ours:
            raise InputError(f"--map {item!r}: write it as COLUMN=ours (Email Address=address)")
        mapping[column] = ours
    status_ = cast("Status | None", status)
    files = _import_files(file)
    # Read twice, streamed: all the problems of every file first (nothing is half imported),
    # then the rows straight into the store; a million rows are never held at once.
    totals, tools, bad = [], [], 0
    for name, data in files:
        result = iter_import(data, name, mapping or None, status_)
        totals.append(sum(1 for _ in result))
        tools.append(result.tool)
        for line, message in result.problems:
            click.echo(f"{name}:{line}: {message}", err=True)
        if result.more_problems:
            click.echo(f"... and {result.more_problems} more bad rows", err=True)
        bad += len(result.problems) + result.more_problems
    if bad:
        click.echo(f"{bad} bad rows; nothing imported", err=True)
        sys.exit(1)
    summary = ImportSummary()
    with _store(config_path) as store:
        for (name, data), total, tool in zip(files, totals, tools, strict=True):
            rows = iter_import(data, name, mapping or None, status_)
            source = f"{Path(name).name} ({tool})"
            if sys.stderr.isatty() and not as_json:  # a person watching: a progress bar
                label = "importing" if len(files) == 1 else f"importing {Path(name).name}"
                with click.progressbar(rows, length=total, label=label, file=sys.stderr) as bar:
                    summary = summary.plus(store.import_readers(bar, source, dry_run))
            else:
                summary = summary.plus(store.import_readers(rows, source, dry_run))
    tool = "+".join(dict.fromkeys(tools))
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "tool": tool, **vars(summary)}))
        return
    counts = ", ".join(f"{n} {name}" for name, n in sorted(summary.by_status.items()))
    verb = "would be" if dry_run else "were"
    forgotten = f"; {summary.forgotten} forgotten, left out" if summary.forgotten else ""
    click.echo(
        f"{tool}: {summary.added} added, {summary.updated} updated, "
        f"{summary.unchanged} unchanged {verb} imported: {counts} "
        f"({summary.never_mailed} never mailed){forgotten}"
    )


@readers.command("export")
@CONFIG
@click.argument("file", default="-")
@_STATUS
def readers_export(config_path: Path, file: str, status: str | None) -> None:
    """Write the readers to a CSV file (or - for standard output) that import reads back whole.

    Each field is a column of its own (fields.NAME); the consent's time, way, source, wording
    and IP come back with an import as they were.

    Example:

    \b
        digest readers export --config newsletter.toml readers.csv
    """
    with _store(config_path) as store:
        rows = [_row(r) for r in store.readers(cast("Status | None", status))]
    names = sorted({name for r in rows for name in r["fields"]})
    header = [*_EXPORT_FIELDS, *(f"fields.{name}" for name in names)]
    text = spreadsheet_csv(
        [
            header,
            *(
                [str(r[f]) for f in _EXPORT_FIELDS] + [r["fields"].get(n, "") for n in names]
                for r in rows
            ),
        ]
    )
    if file == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(file).write_text(text, encoding="utf-8", newline="")
    except OSError as error:
        raise InputError(f"{file}: cannot write it: {error.strerror or error}") from None
    click.echo(f"{_count(len(rows))} written to {file}", err=True)


@readers.command("list")
@CONFIG
@_STATUS
@_JSON
def readers_list(config_path: Path, status: str | None, as_json: bool) -> None:
    """Print every reader (of a status) with their status.

    Example:

    \b
        digest readers list --config newsletter.toml --status subscribed
    """
    with _store(config_path) as store:
        rows = [_row(r) for r in store.readers(cast("Status | None", status))]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['address']}\t{row['status']}\t{row['name']}")
    click.echo(_count(len(rows)), err=True)


@readers.command("show")
@CONFIG
@click.argument("address")
@_JSON
def readers_show(config_path: Path, address: str, as_json: bool) -> None:
    """Print everything held about one reader (GDPR article 15).

    Example:

    \b
        digest readers show --config newsletter.toml reader@example.org
    """
    with _store(config_path) as store:
        held = store.held(address)
    if held["reader"] is None and not held["events"]:
        raise InputError(f"address {address!r}: nothing is held about it")
    if as_json:
        click.echo(json.dumps(held, indent=2))
        return
    click.echo(f"address: {held['address']}\nstatus: {held['status']}")
    for name, value in (held["reader"] or {}).items():
        if name != "status":
            click.echo(f"{name}: {value}")
    for consent in held["consents"]:
        click.echo(
            f"consent: {consent['at']} {consent['method']} {consent['source']}"
            + (f" wording {consent['wording']}" if consent["wording"] else "")
        )
    for event in held["events"]:
        click.echo(f"event: {event['at']} {event['reason']} ({event['source']})")


@readers.command("remove")
@CONFIG
@click.argument("address")
def readers_remove(config_path: Path, address: str) -> None:
    """Unsubscribe a reader by hand (their record is kept).

    Example:

    \b
        digest readers remove --config newsletter.toml reader@example.org
    """
    with _store(config_path) as store:
        store.unsubscribe(address, source="digest readers remove")
    click.echo(f"{address}: unsubscribed")


@readers.command("forget")
@CONFIG
@click.argument("address")
def readers_forget(config_path: Path, address: str) -> None:
    """Erase everything held about a reader (GDPR article 17), keeping a keyed hash if unsubscribed.

    The key is DIGEST_UNSUBSCRIBE_SECRET, as for unsubscribe links.

    Example:

    \b
        digest readers forget --config newsletter.toml reader@example.org
    """
    from digest.suppression.tokens import SECRET_VARIABLE, signing_key

    try:
        key = signing_key(os.environ.get(SECRET_VARIABLE, ""))
    except ConfigError:
        raise InputError(
            f"{SECRET_VARIABLE}: set it (16 characters or more) to forget a reader: "
            "the keyed hash that keeps them unsubscribed is made with it"
        ) from None
    with _store(config_path) as store:
        forgotten = store.forget(address, key)
    click.echo(f"{address}: {'forgotten' if forgotten else 'nothing was held'}")


#: The most a file of an import, or a zip's CSV files together, may hold.
_IMPORT_LIMIT = 2 << 30


def _import_files(file: Path) -> list[tuple[str, bytes]]:
    """The CSV files of an import: ``file``, or each CSV of a zip (leavers' files last)."""
    try:
        if not zipfile.is_zipfile(file):
            return [(str(file), read_limited(file, _IMPORT_LIMIT))]
        with zipfile.ZipFile(file) as archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir()
                and info.filename.lower().endswith(".csv")
                and not Path(info.filename).name.startswith(".")
            ]
            if not members:
                raise InputError(f"{file}: a zip with no .csv file in it")
            if sum(info.file_size for info in members) > _IMPORT_LIMIT:
                raise InputError(f"{file}: its CSV files hold over {_IMPORT_LIMIT >> 30} GiB")
            leaving = ("unsubscribed", "cleaned")
            members.sort(key=lambda i: (any(w in i.filename.lower() for w in leaving), i.filename))
            return [(f"{file}:{info.filename}", archive.read(info)) for info in members]
    except (OSError, zipfile.BadZipFile) as error:
        problem = error.strerror if isinstance(error, OSError) else str(error)
        raise InputError(f"{file}: cannot read it: {problem or error}") from None
