"""The ``digest`` command: thin commands over the library."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import click

from .check import check_html
from .config import load_config, load_data
from .errors import DigestError
from .output import write_files
from .pipeline import build_digest
from .render import Renderer, RenderOptions

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="digest")
def cli() -> None:
    """Turn a week of news articles into one email digest."""


@cli.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The newsletter's TOML config.",
)
@click.option(
    "--articles",
    "article_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON document of articles and quotes, added to the config's data files.",
)
@click.option(
    "--date",
    "on",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The edition's date, YYYY-MM-DD (default: today in the newsletter's zone).",
)
@click.option(
    "--number",
    type=click.IntRange(min=1),
    default=None,
    help="The edition's number, shown in the header.",
)
@click.option("--to", "recipients", multiple=True, help="A recipient address for the .eml.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write the files into.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def build(
    config_path: Path,
    article_paths: tuple[Path, ...],
    on: datetime | None,
    number: int | None,
    recipients: tuple[str, ...],
    out_dir: Path,
    quiet: bool,
) -> None:
    """Build one edition: HTML, plain text and an .eml message.

    Example:

        digest build --config examples/tangerangnews/newsletter.toml --out out/
    """
    config = load_config(config_path)
    data = load_data([*config.data, *article_paths], config.newsletter)
    newsletter = config.newsletter
    edition_date: date = on.date() if on else datetime.now(newsletter.zone).date()
    renderer = Renderer(RenderOptions(template_dir=config.templates))
    result = build_digest(
        data.articles,
        newsletter,
        edition_date,
        quotes=data.quotes,
        number=number,
        renderer=renderer,
    )
    stem = f"edition-{edition_date.isoformat()}"
    files = {
        f"{stem}.html": result.html.encode(),
        f"{stem}.txt": result.text.encode(),
        f"{stem}.eml": result.as_bytes(to=list(recipients or config.to)),
    }
    if config.assets is not None:
        # The same edition with its pictures taken from the local assets folder.
        local = Renderer(
            RenderOptions(
                template_dir=config.templates, asset_base_url=config.assets.resolve().as_uri()
            )
        )
        preview = build_digest(
            data.articles,
            newsletter,
            edition_date,
            quotes=data.quotes,
            number=number,
            renderer=local,
        )
        files[f"{stem}.preview.html"] = preview.html.encode()
    written = write_files(out_dir, files)
    if not quiet:
        for finding in result.findings:
            click.echo(f"digest: {finding.severity}: {finding.message}", err=True)
        click.echo(f"Built {newsletter.name} for {edition_date.isoformat()}: {result.subject}")
        for path in written:
            click.echo(f"  {path}")


#: The exit status of ``digest check`` when it finds errors.
CHECK_FAILED = 5


@cli.command()
@click.argument("html_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The newsletter's config: checks its theme and unsubscribe URL.",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=1),
    default=None,
    help="The size budget in KB (default: the config's size_budget_kb, or 90).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print errors only.")
def check(html_file: Path, config_path: Path | None, budget: float | None, quiet: bool) -> None:
    """Check an HTML email: size, alt text, links, unsubscribe, headings, contrast, CSS support.

    Exits with status 5 when it finds errors; warnings and notes do not fail.

    Example:

        digest check out/edition-2025-09-16.html --config newsletter.toml
    """
    newsletter = load_config(config_path).newsletter if config_path else None
    try:
        html = html_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise click.FileError(str(html_file), hint=str(error)) from None
    findings = check_html(html, newsletter, budget)
    for finding in findings:
        if finding.severity == "error" or not quiet:
            where = f"{html_file}:{finding.line}" if finding.line else str(html_file)
            click.echo(f"{where}: {finding.severity}: {finding.message} [{finding.rule}]")
    counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
    if not quiet:
        click.echo(
            f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes"
        )
    if counts["error"]:
        sys.exit(CHECK_FAILED)


def main(argv: list[str] | None = None) -> None:
    """Run the command line; library errors become one line on stderr and an exit status."""
    try:
        cli.main(args=argv, prog_name="digest", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("digest: aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except DigestError as error:
        click.echo(f"digest: error: {error}", err=True)
        sys.exit(error.exit_code)
