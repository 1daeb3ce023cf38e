"""The ``digest`` command: thin commands over the library."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from digest import __version__
from digest.errors import ConfigError, DigestError, InputError

if TYPE_CHECKING:
    from digest.schedule.config import BuildConfig
    from digest.suppression import Reason, SuppressionList, UnsubscribeTokens

# Each command imports what it uses when it runs: ``digest build`` never loads the senders,
# the preview server or the feed parser unless the config asks for feeds.

__all__ = ["cli", "main"]

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
def cli() -> None:
    """Turn a week of news articles into one email digest.

    Exit statuses: 0 done; 1 bad input; 2 wrong usage; 3 nothing new to send; 4 template or
    rendering error; 5 check found errors; 6 some recipients refused (or some reports
    unreadable); 7 mail server error (or another run is sending the same edition); 8 send
    refused a placeholder unsubscribe link.
    """


@cli.command()
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
    config = _load_config(config_path)
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
    )
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
        click.echo(f"  not in it: {shown} (digest plan show lists the window's stories)")
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
every = "week"                  # or "day"
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


@cli.command()
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


def _load_config(path: Path) -> BuildConfig:
    """The config at ``path`` (the models load here, not when ``--help`` is asked for)."""
    from digest.schedule.config import load_config as load

    return load(path)


def _history(config: BuildConfig) -> Path:
    if not isinstance(config.history, Path):
        raise ConfigError("this config keeps no history (history = false)")
    return config.history


@cli.command()
@CONFIG
def history(config_path: Path) -> None:
    """List the editions built so far, newest first, with what each A/B test decided.

    Example:

    \b
        digest history --config newsletter.toml
    """
    config = _load_config(config_path)
    path = _history(config)
    if not path.exists():
        click.echo("No edition built yet.")
        return
    from contextlib import nullcontext

    from digest.delivery.ledger import SendLedger
    from digest.mail.message import edition_key
    from digest.schedule.history import History

    sends = config.beside_history(".sends.sqlite3")
    with (
        History(path) as records,
        SendLedger(sends) if sends is not None and sends.exists() else nullcontext() as ledger,
    ):
        for record in records.editions():
            click.echo(
                f"#{record.number:<4} {record.date.isoformat()}  "
                f"{record.articles:>2} articles  {record.subject}"
            )
            key = edition_key(config.newsletter.name, record.date, record.number)
            decision = ledger.decision(key) if ledger is not None else None
            if decision is not None:
                click.echo(f"      A/B: {decision.describe()}")


@cli.command()
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


@cli.command()
@CONFIG
@click.argument("eml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--to", "to", multiple=True, help="Send a proof to this address only ([Proof], not recorded)."
)
@click.option(
    "--recipients",
    "recipients_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of addresses, one a line (default: the config's recipients).",
)
@click.option(
    "--due",
    is_flag=True,
    help="Send only to readers whose local send time has come (run it from cron).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Prepare every message, send none; with --due or a [delivery] pace, print how "
    "many would go out in which hour.",
)
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="Send again to addresses whose earlier delivery has an unknown outcome.",
)
@click.option(
    "--retry-refused",
    is_flag=True,
    help="Send again to addresses an earlier run recorded as refused.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every refused or unknown recipient to this .csv or .json file.",
)
@click.option(
    "--winner",
    type=click.Choice(["A", "B", "C", "D"]),
    help="End the A/B test of subjects: everyone not reached yet gets this one.",
)
@click.option(
    "--allow-placeholder-links",
    is_flag=True,
    help="Send even if the unsubscribe link is a placeholder (example.org, .test, localhost): "
    "for a test list only.",
)
@QUIET
def send(
    config_path: Path,
    eml: Path,
    to: tuple[str, ...],
    recipients_file: Path | None,
    due: bool,
    dry_run: bool,
    resend_unknown: bool,
    retry_refused: bool,
    report_path: Path | None,
    winner: str | None,
    allow_placeholder_links: bool,
    quiet: bool,
) -> None:
    """Send a built .eml through the config's [delivery] provider, one copy per recipient.

    Every recipient's state is kept in a send ledger beside the history, so running the same
    command again after a failure (or a kill) sends only to those not reached yet. Exits with
    status 7 when it stopped (the server or provider cannot be used, the login was refused:
    nobody was refused for it, and the next run sends the rest), and with status 6 when some
    recipients were refused or their outcome is unknown (the others still get it).

    An .eml whose unsubscribe link is a placeholder (example.org, .example, .invalid, .test,
    localhost, a loopback address: digest init's link) is refused with status 8, a dry run
    too, unless --allow-placeholder-links (a test list); a proof (--to) goes with a warning.

    An .eml built with [delivery.subject_test] is an A/B test of its subjects: a run sends
    the sample, later runs (from cron) wait, and the first run after the test's wait sends
    the winner to everyone else; --winner chooses it by hand. A proof (--to) sends every
    subject.

    Example:

    \b
        digest send --config newsletter.toml out/edition-2026-11-30.eml --to me@example.org
    """
    from digest.delivery.eml import (
        local_send_times,
        read_eml,
        read_recipients,
        read_recipients_file,
        send_eml,
    )
    from digest.delivery.ledger import SendLedger
    from digest.delivery.pace import Pace
    from digest.delivery.proofs import proof
    from digest.delivery.providers import make_sender
    from digest.mail.message import list_id
    from digest.mail.variants import subject_variants
    from digest.schedule.config import ledger_path, suppression_path
    from digest.suppression import SuppressionList, UnsubscribeTokens

    config = _load_config(config_path)
    if config.delivery is None:
        raise ConfigError(f"{config_path}: no [delivery] table: say how the mail is sent")
    if report_path is not None and not (to or dry_run):
        _check_report_path(report_path)
    unwritten = ""
    zones: dict[str, str] = {}
    if to:
        addresses = read_recipients(to, "--to")
    else:
        source = recipients_file or config.recipients
        if source is None:
            raise click.UsageError("say who gets it: --to, --recipients or recipients = ...")
        addresses = read_recipients_file(source, zones)
    raw = read_eml(eml)
    _check_unsubscribe_links(raw, eml, config, bool(to), allow_placeholder_links, quiet)
    if to:
        variants = subject_variants(raw)
        if len(variants) > 1:
            # A proof of a subject test: one of each subject, with the letter in its own.
            tokens = UnsubscribeTokens.from_environment(list_id(config.newsletter))
            _send_proofs(config, eml, variants, addresses, tokens, quiet)
            return
        raw = proof(raw)  # a test send is a proof: [Proof], its own Message-ID, dated now
    elif config.desk.approval:
        _check_approval(config, raw, eml)
    test = config.delivery.subject_test
    if winner is not None:
        if test is None:
            raise click.UsageError("--winner ends an A/B test: set [delivery.subject_test] first")
        test = test.model_copy(update={"winner": winner})
    when = local_send_times(raw, zones, config.newsletter.timezone) if due and not to else None
    # A proof goes now, whatever the calendar says.
    pace = None if to else Pace.from_settings(config.delivery, config.newsletter.zone)
    if (when is not None or pace is not None) and dry_run and not quiet:
        start = datetime.now(UTC)
        moments = (when(a) for a in addresses) if when is not None else (start for _ in addresses)
        plan = (pace or Pace(config.newsletter.zone)).plan(moments, start)
        click.echo("The plan: readers by the hour their copy would go out (UTC)")
        click.echo(plan.table())
    show = not quiet and sys.stderr.isatty() and len(addresses) > 1
    # Test sends (--to) and dry runs are not recorded.
    ledger = None if dry_run or to else SendLedger(ledger_path(config, eml))
    # A test send (--to) goes to whoever is named, suppressed or not.
    suppressions = (
        None
        if to
        else SuppressionList(
            suppression_path(config), soft_bounce_limit=config.suppression.soft_bounce_limit
        )
    )
    tokens = UnsubscribeTokens.from_environment(list_id(config.newsletter))
    sender = make_sender(config.delivery)
    try:
        with click.progressbar(
            length=len(addresses), label="Sending", file=sys.stderr, hidden=not show
        ) as bar:
            report = send_eml(
                raw,
                addresses,
                sender,
                ledger,
                dry_run=dry_run,
                resend_unknown=resend_unknown,
                retry_refused=retry_refused,
                progress=bar.update,
                suppressions=suppressions,
                tokens=tokens,
                due=when,
                pace=None if dry_run else pace,
                test=None if to or test is None else test.test(),
                events=suppressions,
            )
        if ledger is not None and report_path is not None:
            try:
                count = ledger.write_report(report.edition, report_path)
            except OSError as error:  # checked before sending; the disk may fill up since
                unwritten = f"--report {report_path}: cannot write it: {error.strerror or error}"
            else:
                if not quiet:
                    click.echo(f"{count} refused or unknown recipients written to {report_path}")
    finally:
        sender.close()
        if ledger is not None:
            ledger.close()
        if suppressions is not None:
            suppressions.close()
    if report.content_changed:
        warn(
            f"the edition changed since its first send ({report.edition}): readers it reached "
            "before keep what they got; nobody gets it twice"
        )
    for address, reason in report.refused.items():
        click.echo(f"digest: refused: {address}: {reason}", err=True)
    for address in report.unknown:
        click.echo(
            f"digest: unknown: {address}: handed over with no answer (or a run stopped while "
            "sending it); not resent (--resend-unknown sends it again)",
            err=True,
        )
    if report.stopped:
        click.echo(f"digest: stopped: {report.stopped}", err=True)
    if report.suppressed and not quiet:
        shown = ", ".join(report.suppressed[:5]) + (" …" if len(report.suppressed) > 5 else "")
        click.echo(f"Left out {len(report.suppressed)} suppressed: {shown}")
    if report.waiting and not quiet and report.next_due is not None:
        again = "run it again then" if test is not None and not due else "run --due again then"
        click.echo(
            f"{report.waiting} readers are not due yet; the next at "
            f"{report.next_due.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({again})"
        )
    if report.held and not quiet and report.held_until is not None:
        click.echo(
            f"{report.held} readers are held back by {report.held_reason}; a run from "
            f"{report.held_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC sends more"
        )
    if report.subject_test and not quiet:
        click.echo(f"A/B: {report.subject_test}")
    if not quiet:
        click.echo(report.table())
    if not quiet:
        verb = "Would send" if dry_run else "Sent a proof of" if to else "Sent"
        click.echo(f"{verb} {eml.name} to {report.sent} of {len(addresses)} recipients")
    if unwritten:
        click.echo(f"digest: error: {unwritten}", err=True)
    if report.stopped:
        sys.exit(SEND_STOPPED)
    if not report.complete:
        sys.exit(SEND_INCOMPLETE)
    if unwritten:
        sys.exit(InputError.exit_code)


def _check_report_path(path: Path) -> None:
    """Refuse a --report file that cannot be written, before anything is sent."""
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"--report {path}: {folder} {problem}")
    if not os.access(folder, os.W_OK | os.X_OK) or path.is_dir():
        raise InputError(f"--report {path}: cannot write a file there")


def _check_unsubscribe_links(
    raw: bytes, eml: Path, config: BuildConfig, proof: bool, allowed: bool, quiet: bool
) -> None:
    """Refuse a send whose unsubscribe link is a placeholder; a proof or a test list is warned."""
    from digest.delivery.eml import placeholder_links
    from digest.errors import PlaceholderLinkError, excerpt

    links = placeholder_links(raw, config.newsletter.contact.unsubscribe_url)
    if not links:
        return
    link = excerpt(links[0], 120)
    if not proof and not allowed:
        raise PlaceholderLinkError(
            f"{eml.name}: the unsubscribe link {link} is a placeholder: readers could not "
            "leave; set [newsletter.contact] unsubscribe_url to your own page (or digest "
            "serve's) and build again, or send to a test list with --allow-placeholder-links"
        )
    why = "a proof" if proof else "--allow-placeholder-links"
    if not quiet:
        warn(f"the unsubscribe link {link} is a placeholder; going ahead ({why}): not for readers")


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
    newsletter = _load_config(config_path).newsletter if config_path else None
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


def _send_proofs(
    config: BuildConfig,
    eml: Path,
    variants: dict[str, bytes],
    addresses: list[str],
    tokens: UnsubscribeTokens | None,
    quiet: bool,
) -> None:
    """Proofs of an A/B test's .eml: each address gets every subject, ``[Proof B]`` and all."""
    from digest.delivery.eml import send_eml
    from digest.delivery.proofs import proof
    from digest.delivery.providers import make_sender

    assert config.delivery is not None
    sender = make_sender(config.delivery)
    try:
        reports = {
            label: send_eml(proof(raw, variant=label), addresses, sender, tokens=tokens)
            for label, raw in variants.items()
        }
    finally:
        sender.close()
    stopped = [report.stopped for report in reports.values() if report.stopped]
    for label, report in reports.items():
        for address, reason in report.refused.items():
            click.echo(f"digest: refused: {address} (subject {label}): {reason}", err=True)
    if stopped:
        click.echo(f"digest: stopped: {stopped[0]}", err=True)
        sys.exit(SEND_STOPPED)
    if not quiet:
        sent = min(report.sent for report in reports.values())
        click.echo(
            f"Sent proofs of {eml.name}, subjects {', '.join(reports)}, to {sent} of "
            f"{len(addresses)} recipients"
        )
    if not all(report.complete for report in reports.values()):
        sys.exit(SEND_INCOMPLETE)


def _check_approval(config: BuildConfig, raw: bytes, eml: Path) -> None:
    """Refuse an edition nobody approved, or one that changed after it was approved."""
    from digest.mail.message import edition_key_date
    from digest.mail.mime import read_message
    from digest.schedule.history import History, content_hashes

    message = read_message(raw)
    on = edition_key_date(message.headers.get("X-Digest-Edition", ""))
    if on is None or not isinstance(config.history, Path) or not config.history.exists():
        raise ConfigError(f"{eml.name}: approval = true, and nothing says it was approved")
    with History(config.history) as history:
        approval = history.approval(on)
    if approval is None:
        raise ConfigError(
            f"{eml.name}: the edition of {on} is not approved (approval = true): approve it in "
            f"digest desk, or with digest approve --config ... --date {on}"
        )
    changed = approval.changed(
        content_hashes(message.headers.get("Subject", ""), message.html, message.text)
    )
    if changed:
        raise ConfigError(
            f"{eml.name}: the edition of {on} changed after {approval.approver} approved it "
            f"at {approval.approved_at}: {', '.join(changed)}; look at it again and approve it"
        )


def _desk(config_path: Path, on: datetime | None) -> Any:
    """The desk of the edition dated ``on`` (its sources gathered once)."""
    from digest.schedule.desk import Desk

    return Desk(_load_config(config_path), on.date() if on else None)


@cli.command()
@CONFIG
@DATE
@click.option("--name", "approver", default=None, help="Who approves (default: [desk] approver).")
@click.option("--json", "as_json", is_flag=True, help="Print the approval as JSON.")
def approve(config_path: Path, on: datetime | None, approver: str | None, as_json: bool) -> None:
    """Approve an edition as it builds now; with [desk] approval = true, send needs it.

    Example:

    \b
        digest approve --config newsletter.toml --date 2026-11-30 --name "Sam Editor"
    """
    import json

    from digest.schedule.history import content_hashes

    desk = _desk(config_path, on)
    who = approver or desk.config.desk.approver
    if not who:
        raise click.UsageError("say who approves: --name, or approver = ... in [desk]")
    digest = desk.build()
    with desk.history() as history:
        approval = history.approve(
            digest.edition.date, who, content_hashes(digest.subject, digest.html, digest.text)
        )
    if as_json:
        click.echo(json.dumps({"edition": digest.edition_key, **vars(approval)}, indent=1))
    else:
        click.echo(f"Approved {digest.edition_key} as {who} at {approval.approved_at}")


@cli.group()
def plan() -> None:
    """The editor's plan of an edition: lead, left out, brought back, subject, note.

    Example:

    \b
        digest plan show --config newsletter.toml --date 2026-11-30
    """


@plan.command("show")
@CONFIG
@DATE
@click.option("--json", "as_json", is_flag=True, help="Print the plan and the stories as JSON.")
def plan_show(config_path: Path, on: datetime | None, as_json: bool) -> None:
    """Show the plan and every story of the edition's window: in it, or why not.

    Example:

    \b
        digest plan show --config newsletter.toml --date 2026-11-30 --json
    """
    import json

    desk = _desk(config_path, on)
    current = desk.plan()
    digest = desk.build(current)
    stories = desk.stories(digest, current)
    if as_json:
        shown = {
            "edition": digest.edition_key,
            "subject": digest.subject,
            "plan": current.model_dump(mode="json", exclude_defaults=True),
            "stories": [vars(story) for story in stories],
        }
        click.echo(json.dumps(shown, indent=1, ensure_ascii=False))
        return
    click.echo(f"{digest.edition_key}: {digest.subject}")
    for story in stories:
        where = f"{story.place} ({story.why})"
        click.echo(f"  {where:<36} {story.title[:60]}  {story.url}")
    if not current.empty:
        click.echo("Plan: " + current.model_dump_json(exclude_defaults=True))


@plan.command("set")
@CONFIG
@DATE
@click.option(
    "--file",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A plan as JSON (digest plan show --json writes its plan part).",
)
@click.option("--lead", default=None, help="The URL of the story to lead with.")
@click.option("--leave-out", "leave_out", multiple=True, help="The URL of a story to leave out.")
@click.option("--bring-back", "bring_back", multiple=True, help="The URL of a story to bring back.")
@click.option("--subject", default=None, help="This week's subject line.")
@click.option("--preheader", default=None, help="This week's preheader.")
@click.option("--note", default=None, help="An editor's note at the top (plain text).")
@click.option("--clear", is_flag=True, help="Start from an empty plan.")
def plan_set(
    config_path: Path,
    on: datetime | None,
    plan_file: Path | None,
    lead: str | None,
    leave_out: tuple[str, ...],
    bring_back: tuple[str, ...],
    subject: str | None,
    preheader: str | None,
    note: str | None,
    clear: bool,
) -> None:
    """Change the plan: the edition is built with it to check it, then it is saved.

    Example:

    \b
        digest plan set --config newsletter.toml --date 2026-11-30 --lead https://example.org/a
    """
    from digest.errors import InputError
    from digest.files import read_file
    from digest.plan import Plan, read_plan

    desk = _desk(config_path, on)
    base = Plan() if clear else desk.plan()
    if plan_file is not None:
        base = read_plan(read_file(plan_file, "plan file", 1_000_000), str(plan_file))
    changes: dict[str, Any] = {
        key: value or None
        for key, value in (
            ("lead", lead), ("subject", subject), ("preheader", preheader), ("note", note)
        )
        if value is not None
    }  # fmt: skip
    if leave_out:
        changes["leave_out"] = [*base.leave_out, *leave_out]
    if bring_back:
        changes["bring_back"] = [*base.bring_back, *bring_back]
    try:
        new = Plan.model_validate({**base.model_dump(), **changes})
    except ValueError as error:
        raise InputError(f"plan: {error}") from None
    digest = desk.build(new)  # a plan that does not apply is refused before it is saved
    with desk.history() as history:
        history.save_plan(desk.on, new)
    click.echo(f"Saved the plan of {digest.edition_key}: {digest.subject}")


@cli.command()
@CONFIG
@DATE
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Default: [desk] port.")
def desk(config_path: Path, on: datetime | None, port: int | None) -> None:
    """Open the editor's desk: steer, proof and approve the edition in a browser.

    It listens on 127.0.0.1 only and prints a link with a one-time token; open it in a
    browser on this machine. Every change is saved as the edition's plan, which digest build
    follows.

    Example:

    \b
        digest desk --config newsletter.toml --date 2026-11-30
    """
    import socket

    try:
        from digest.web.desk import DeskSession, make_desk, proof_sender
        from digest.web.server import serve as serve_app
    except ImportError as error:
        raise ConfigError(
            f"digest desk needs the web extra ({error.name} is missing): "
            "pip install 'newsletter-digest[web]'"
        ) from None
    edition = _desk(config_path, on)
    config = edition.config
    port = config.desk.port if port is None else port
    if port == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
    session = DeskSession()
    app = make_desk(edition, session, port, proof_sender(config))
    click.echo(f"The desk of {config.newsletter.name}, {edition.on}: open")
    click.echo(f"  http://127.0.0.1:{port}/?token={session.token}")
    click.echo("(the link works once; Ctrl+C to stop)")
    serve_app(app, "127.0.0.1", port)


@cli.command()
@CONFIG
@click.option("--host", default=None, help="The address to listen on (default: [web] host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Default: [web] port.")
def serve(config_path: Path, host: str | None, port: int | None) -> None:
    """Run the web app: unsubscribe pages, provider webhooks and /health.

    The secrets come from the environment: DIGEST_UNSUBSCRIBE_SECRET (the unsubscribe links),
    DIGEST_POSTMARK_WEBHOOK_PASSWORD and DIGEST_RESEND_WEBHOOK_SECRET. It listens on
    loopback by default: put a TLS proxy (Caddy, nginx) in front of it.

    Example:

    \b
        digest serve --config newsletter.toml --port 8025
    """
    import logging

    try:
        from digest.web import make_app, settings_for
        from digest.web.server import serve as serve_app
    except ImportError as error:
        raise ConfigError(
            f"digest serve needs the web extra ({error.name} is missing): "
            "pip install 'newsletter-digest[web]'"
        ) from None
    config = _load_config(config_path)
    settings = settings_for(config)
    if settings.tokens is None:
        warn("DIGEST_UNSUBSCRIBE_SECRET is not set: the unsubscribe pages answer 404")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    host = host or config.web.host
    port = port or config.web.port
    click.echo(f"Serving {config.newsletter.name} on http://{host}:{port} (Ctrl+C to stop)")
    # Uvicorn's own access log would print the tokens in unsubscribe paths: the app logs
    # each request itself, with them cut out. Connections are bounded and timed out.
    serve_app(make_app(settings), host, port)


@cli.group()
def suppress() -> None:
    """The suppression list: readers never sent to again (unsubscribed, bounced, complained).

    Example:

    \b
        digest suppress list --config newsletter.toml
    """


def _suppressions(config_path: Path) -> SuppressionList:
    from digest.schedule.config import suppression_path
    from digest.suppression import SuppressionList

    config = _load_config(config_path)
    return SuppressionList(
        suppression_path(config), soft_bounce_limit=config.suppression.soft_bounce_limit
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
    from digest.delivery.ledger import SendLedger
    from digest.mail.message import list_id
    from digest.suppression import Ours, UnsubscribeTokens, read_reports

    config = _load_config(config_path)
    tokens = UnsubscribeTokens.from_environment(list_id(config.newsletter))
    if not ledgers:
        beside = config.beside_history(".sends.sqlite3")
        if beside is None and config.out is not None:
            beside = config.out / "digest.sends.sqlite3"
        ledgers = (beside,) if beside is not None and beside.is_file() else ()
    if not ledgers and tokens is None:
        warn(
            "no send ledger and no DIGEST_UNSUBSCRIBE_SECRET: no report can be matched with "
            "a message this list sent (name the ledger with --ledger)"
        )
    if trust_unmatched:
        warn(
            "--trust-unmatched: reports that answer no message of this list are believed; "
            "anyone who can mail this mailbox can suppress any address"
        )
    opened = [SendLedger(path) for path in ledgers]

    def sent(edition: str, address: str) -> bool:
        return any(ledger.went_to(edition, address) for ledger in opened)

    # A list whose links carry tokens signs every copy: only the token tells a copy ours.
    signed = "{token}" in (config.newsletter.contact.unsubscribe_url or "")
    ours = Ours(list_id(config.newsletter), tokens, sent, signed=signed)
    reports = skipped = events = new = foreign = unreadable = 0
    try:
        with _suppressions(config_path) as listed:
            for report in read_reports(paths, tokens, ours=ours):
                if isinstance(report, str):
                    skipped += 1
                    continue
                if report.kind == "unreadable":
                    unreadable += 1
                    click.echo(f"{report.where}: unreadable: {report.note}", err=True)
                    continue
                reports += 1
                for event in report.events:
                    events += 1
                    new += listed.record(event)
                for event, why in report.not_ours:
                    foreign += 1
                    trusted = "trusted anyway, " if trust_unmatched else ""
                    click.echo(
                        f"{report.where}: not ours ({trusted}{event.address}): {why}", err=True
                    )
                    if trust_unmatched:
                        events += 1
                        new += listed.record(event)
                if not report.events and not report.not_ours:
                    click.echo(f"{report.where}: {report.note}", err=True)
    finally:
        for ledger in opened:
            ledger.close()
    click.echo(
        f"{reports} reports ({skipped} other messages skipped): {events} events, {new} new; "
        f"{foreign} not ours{' (trusted)' if trust_unmatched and foreign else ''}, "
        f"{unreadable} unreadable"
    )
    if trust_unmatched and foreign:
        warn(f"--trust-unmatched: {foreign} events of reports not ours were recorded")
    if unreadable:
        sys.exit(IMPORT_INCOMPLETE)


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
