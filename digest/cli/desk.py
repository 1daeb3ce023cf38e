"""The editor's commands: approve, plan show/set and the desk in a browser."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from digest.cli.common import (
    CONFIG,
    DATE,
    open_desk,
)
from digest.errors import ConfigError, InputError


@click.command()
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

    desk = open_desk(config_path, on)
    who = approver or desk.config.desk.approver
    if not who:
        raise click.UsageError("say who approves: --name, or approver = ... in [desk]")
    digest, approval = desk.approve(who)
    if as_json:
        click.echo(json.dumps({"edition": digest.edition_key, **vars(approval)}, indent=1))
    else:
        click.echo(f"Approved {digest.edition_key} as {who} at {approval.approved_at}")


@click.group()
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

    desk = open_desk(config_path, on)
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
    from digest.files import read_file
    from digest.plan import Plan, read_plan

    desk = open_desk(config_path, on)
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
    digest = desk.save_plan(new)  # a plan that does not apply is refused before it is saved
    click.echo(f"Saved the plan of {digest.edition_key}: {digest.subject}")


@click.command()
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
    edition = open_desk(config_path, on)
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
