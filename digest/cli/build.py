"""The commands that make an edition: build, init, history, preview and check."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from digest.cli.common import (
    CHECK_FAILED,
    CONFIG,
    DATE,
    QUIET,
    load_config,
    warn,
)
from digest.errors import ConfigError, DigestError


@click.command()
@CONFIG
@click.option(
    "--articles",
    "article_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON document of articles and quotes, added to the config's sources.",
)
@DATE
@click.option(
    "--number",
    type=click.IntRange(min=1, max=2**31 - 1),
    default=None,
    help="The edition's number (default: from the history).",
)
@click.option("--to", "recipients", multiple=True, help="A recipient address for the .eml.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The folder to write the files into (default: the config's out).",
)
@click.option(
    "--allow-oversize",
    is_flag=True,
    help="Write an email even if it is over the size budget or Gmail's clipping size.",
)
@click.option(
    "--no-check",
    "no_check",
    is_flag=True,
    help="Write the email even if the checks find errors (they are still printed).",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Print a line for each story: the lead, its section and place, or why it was left out "
    "(printed with --quiet too).",
)
@QUIET
def build(
    config_path: Path,
    article_paths: tuple[Path, ...],
    on: datetime | None,
    number: int | None,
    recipients: tuple[str, ...],
    out_dir: Path | None,
    allow_oversize: bool,
    no_check: bool,
    explain: bool,
    quiet: bool,
) -> None:
    """Build one edition: HTML, plain text, an .eml message and its archive page.

    Exits with status 3, building nothing, when there is nothing new to send, and with status
    5, writing nothing, when the email fails its checks (no unsubscribe link, a picture without
    alt text, an unsafe link, no lang or title, over the size budget); --no-check writes it
    anyway. Warnings are printed once per rule, with a count and the first examples.

    Example:

    \b
        digest build --config examples/tangerangnews/newsletter.toml --out out/
    """
    config = load_config(config_path)
    target = out_dir or config.out
    if target is None:
        raise click.UsageError("say where to write the files: --out DIR, or out = in the config")
    from digest.schedule.build import run_build

    result = run_build(
        config,
        target,
        on=on.date() if on else None,
        number=number,
        recipients=recipients,
        extra=article_paths,
        allow_oversize=allow_oversize,
        check=not no_check,
        explain=explain,
    )
    for fate in result.fates:
        click.echo(fate.describe())
    if quiet:
        return
    for message in result.warnings:
        warn(message)
    edition = result.digest.edition
    number_text = f" #{edition.number}" if edition.number else ""
    click.echo(
        f"Built {config.newsletter.name}{number_text} for {edition.date.isoformat()}: "
        f"{result.digest.subject}"
    )
    if result.window:
        click.echo(
            f"  articles from {result.window[0]:%Y-%m-%d %H:%M} to "
            f"{result.window[1]:%Y-%m-%d %H:%M %Z}: {len(edition.articles)} featured"
        )
    if result.left_out:
        reasons = {
            "outside the window": "published outside the window",
            "featured before": "featured before",
            "duplicates": "copies of another story",
            "caps": "left out by the caps, the size budget or the plan",
        }
        shown = "; ".join(f"{n} {reasons[why]}" for why, n in result.left_out.items())
        click.echo(f"  not in it: {shown} (--explain says why each story was left out)")
    for path in result.files:
        click.echo(f"  {path}")


STARTER = """# A newsletter config for digest (https://pypi.org/project/newsletter-digest/).
# Build an edition:   digest build --config {name}
# Preview it:         digest preview --config {name}

# data = ["quotes.json"]    # JSON documents: {{"articles": [...], "quotes": [...]}}
out = "out"                 # where `digest build` writes
archive = "archive"         # the web archive: a page per edition and an index
# history = "history.sqlite3"   # the edition history (default: next to this file)
# recipients = "recipients.txt" # for `digest send`, one address a line

# Where articles come from: feeds (RSS, Atom, JSON Feed), CSV files, JSON documents.
[[sources]]
url = "https://example.org/feed.xml"
section = "News"        # for items that name no category
# [[sources]]
# path = "extra.csv"    # columns: title, url, published_at, section, summary, image_url, ...

[newsletter]
name = "Example Weekly"
locale = "en"                   # dates and labels follow it (id, ar, en_GB, ...)
timezone = "Europe/London"

[newsletter.contact]
postal_address = "1 Example Street, Exampletown"
# Your own unsubscribe page, or digest serve's with each reader's signed token:
# "https://news.example.org/unsubscribe/{{token}}" (set DIGEST_UNSUBSCRIBE_SECRET).
unsubscribe_url = "https://example.org/unsubscribe"

[newsletter.schedule]
send_time = "07:00:00"

[newsletter.layout]
sections = ["News", "Sport"]    # their order; other sections follow
teasers_per_section = 3

[newsletter.links]
archive_url = "https://example.org/newsletter/"   # where the archive folder is published

[newsletter.schedule.cadence]
every = "week"                  # or "day", "month"
weekday = "monday"

[newsletter.sender]
name = "Example Weekly"
address = "news@example.org"

[newsletter.links.tracking]           # UTM parameters on article links
utm_source = "newsletter"
utm_medium = "email"
utm_campaign = "weekly-{{date}}"
skip_domains = []

[newsletter.brand.theme]
brand = "#b3121b"
accent = "#0b5394"

[delivery]                      # for `digest send`
provider = "smtp"               # or "ses", "postmark", "resend" (see the README)
rate = 0                        # the most messages a second (0: no limit)
connections = 4                 # SMTP connections, or API requests at once

[delivery.smtp]                 # credentials come from the environment
host = "smtp.example.org"
port = 587
security = "starttls"           # or "ssl" or "none"
username_env = "DIGEST_SMTP_USER"
password_env = "DIGEST_SMTP_PASSWORD"
"""


@click.command()
@click.argument(
    "path", type=click.Path(dir_okay=False, path_type=Path), default=Path("newsletter.toml")
)
def init(path: Path) -> None:
    """Write a commented starter config (never over an existing file).

    Example:

    \b
        digest init newsletter.toml
    """
    try:
        with path.open("x", encoding="utf-8") as stream:
            stream.write(STARTER.format(name=path.name))
    except FileExistsError:
        raise ConfigError(f"{path}: the file exists; choose another name") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot write it: {error.strerror}") from None
    click.echo(
        f"Wrote {path}: edit the sources and [newsletter], then run digest build --config {path}"
    )


@click.command()
@CONFIG
@click.option("--json", "as_json", is_flag=True, help="Print the editions as JSON.")
def history(config_path: Path, as_json: bool) -> None:
    """List the editions built so far, newest first, and where each went.

    With each edition: what its A/B test of subjects decided, and its campaigns in list
    managers (digest publish).

    Example:

    \b
        digest history --config newsletter.toml
        digest history --config newsletter.toml --json
    """
    from digest.schedule.history import past_editions

    config = load_config(config_path)
    past = past_editions(config)
    if as_json:
        import json

        from digest.edition import edition_key

        rows = [
            {
                "number": e.record.number,
                "date": e.record.date.isoformat(),
                "key": edition_key(config.newsletter.name, e.record.date, e.record.number),
                "subject": e.record.subject,
                "articles": e.record.articles,
                "lead_url": e.record.lead_url,
                "subject_test": e.subject_test,
                "campaigns": [
                    {"tool": c.tool, "id": c.id, "status": c.status, "url": c.url, "at": c.at}
                    for c in e.campaigns
                ],
            }
            for e in past
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not past:
        click.echo("No edition built yet.")
    for edition in past:
        record = edition.record
        click.echo(
            f"#{record.number:<4} {record.date.isoformat()}  "
            f"{record.articles:>2} {'article ' if record.articles == 1 else 'articles'}"
            f"  {record.subject}"
        )
        if edition.subject_test:
            click.echo(f"      A/B: {edition.subject_test}")
        for campaign in edition.campaigns:
            where = " ".join(p for p in (campaign.id, campaign.status, campaign.url or "") if p)
            click.echo(f"      {campaign.tool}: {where}")


@click.command()
@CONFIG
@DATE
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
def preview(config_path: Path, on: datetime | None, port: int) -> None:
    """Serve the edition on localhost, phone and desktop side by side, rebuilt on change.

    Example:

    \b
        digest preview --config newsletter.toml --port 8000
    """
    try:
        from digest.preview import Preview, make_server
    except ImportError as error:
        raise ConfigError(
            f"digest preview needs the web extra ({error.name} is missing): "
            "pip install 'newsletter-digest[web]'"
        ) from None

    watcher = Preview(config_path, on.date() if on else None)
    try:
        server = make_server(watcher, port=port)
    except OSError as error:
        raise DigestError(
            f"cannot serve on port {port}: {error.strerror or error} (pick another with --port)"
        ) from None
    watcher.refresh()
    if watcher.error:
        warn(watcher.error)
    click.echo(f"Serving {watcher.base_url} (Ctrl+C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@click.command()
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
    help="The size budget in KB (default: the config's size_budget_kb, or 100).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print errors only.")
def check(html_file: Path, config_path: Path | None, budget: float | None, quiet: bool) -> None:
    """Check an HTML email: size, alt text, links, unsubscribe, headings, contrast, CSS support.

    Exits with status 5 when it finds errors; warnings and notes do not fail.

    Example:

    \b
        digest check out/edition-2025-09-16.html --config newsletter.toml
    """
    newsletter = load_config(config_path).newsletter if config_path else None
    try:
        html = html_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise click.FileError(str(html_file), hint=str(error)) from None
    from digest.check import check_html

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
