"""One scheduled build from a config: sources, history, window, email, archive, files.

This is what ``digest build`` runs; it reads in one direction like the rest of the pipeline:
sources -> history (what ran before) -> build_digest -> files and archive -> history record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from babel.dates import format_date

from .config import BuildConfig, load_data
from .history import History
from .inline import inline_css
from .output import write_files
from .pipeline import Digest, build_digest
from .render import Renderer, RenderOptions
from .select import edition_window
from .sources import Fetch, SourceResult, fetch_url, read_sources

__all__ = ["BuildResult", "edition_date", "gather", "prepare", "run_build"]


@dataclass(frozen=True)
class BuildResult:
    """What a build made: the digest, the files written and what was worth a warning."""

    digest: Digest
    files: list[Path]
    warnings: list[str] = field(default_factory=list)
    window: tuple[datetime, datetime] | None = None


def edition_date(config: BuildConfig, on: date | None = None) -> date:
    """The date to build: ``on``, else the newest scheduled date (today without a cadence)."""
    if on is not None:
        return on
    today = datetime.now(config.newsletter.zone).date()
    cadence = config.newsletter.cadence
    return cadence.latest(today) if cadence else today


def gather(
    config: BuildConfig, extra: Sequence[Path] = (), fetch: Fetch = fetch_url
) -> SourceResult:
    """Read the config's JSON data files, any ``extra`` ones, and its sources."""
    data = load_data([*config.data, *extra], config.newsletter)
    result = SourceResult(articles=list(data.articles), quotes=list(data.quotes))
    result.extend(read_sources(config.sources, config.newsletter, fetch))
    return result


def open_history(config: BuildConfig, create: bool = True) -> History | None:
    """The config's edition history; None if it keeps none (or has none yet and not ``create``)."""
    if not isinstance(config.history, Path):
        return None
    if not create and not config.history.exists():
        return None
    return History(config.history)


def prepare(
    config: BuildConfig,
    on: date,
    gathered: SourceResult,
    history: History | None,
    number: int | None = None,
    renderer: Renderer | None = None,
) -> tuple[Digest, tuple[datetime, datetime] | None]:
    """Build the edition dated ``on`` in memory, taking the history into account."""
    newsletter = config.newsletter
    previous: date | None = None
    featured: set[str] = set()
    recent: set[str] = set()
    if history is not None:
        earlier = history.editions(before=on)
        previous = earlier[0].date if earlier else None
        featured = history.featured_before(on)
        recent = history.recent_quotes(on, config.quote_rest)
        number = number or history.number_for(on)
    window = edition_window(newsletter, on, previous) if newsletter.cadence else None
    digest = build_digest(
        gathered.articles,
        newsletter,
        on,
        quotes=gathered.quotes,
        number=number,
        renderer=renderer or Renderer(RenderOptions(template_dir=config.templates)),
        window=window,
        featured_before=featured,
        recent_quotes=recent,
    )
    return digest, window


def run_build(
    config: BuildConfig,
    out_dir: Path,
    on: date | None = None,
    number: int | None = None,
    recipients: Sequence[str] = (),
    extra: Sequence[Path] = (),
    fetch: Fetch = fetch_url,
) -> BuildResult:
    """Build, write and record one edition; a failure leaves files and history as they were."""
    on = edition_date(config, on)
    gathered = gather(config, extra, fetch)
    history = open_history(config)
    with history or contextlib.nullcontext():
        digest, window = prepare(config, on, gathered, history, number)
        edition = digest.edition
        stem = f"edition-{on.isoformat()}"
        files = {
            f"{stem}.html": digest.html.encode(),
            f"{stem}.txt": digest.text.encode(),
            f"{stem}.eml": digest.as_bytes(to=list(recipients or config.to)),
        }
        if config.assets is not None:
            # The same edition with its pictures taken from the local assets folder.
            local = Renderer(
                RenderOptions(
                    template_dir=config.templates, asset_base_url=config.assets.resolve().as_uri()
                )
            )
            files[f"{stem}.preview.html"] = inline_css(
                local.render(edition, config.newsletter).html, config.newsletter.inliner
            ).encode()
        recording = (
            history.recording(edition, digest.subject)
            if history is not None
            else contextlib.nullcontext()
        )
        with recording:
            written = write_files(out_dir, files)
            if config.archive is not None:
                written += write_archive(config, digest, history)
    warnings = [*gathered.warnings, *(f.message for f in digest.findings)]
    return BuildResult(digest=digest, files=written, warnings=warnings, window=window)


def write_archive(config: BuildConfig, digest: Digest, history: History | None) -> list[Path]:
    """Write the edition's web page (no unsubscribe link) and the archive's index."""
    assert config.archive is not None
    newsletter = config.newsletter
    web = Renderer(RenderOptions(template_dir=config.templates, web=True))
    page = inline_css(web.render(digest.edition, newsletter).html, newsletter.inliner)
    records = history.editions() if history is not None else []
    listed = [
        {
            "href": f"{r.date.isoformat()}.html",
            "subject": r.subject,
            "number": r.number,
            "date": format_date(r.date, "full", locale=newsletter.locale),
        }
        for r in records
    ] or [
        {
            "href": f"{digest.edition.date.isoformat()}.html",
            "subject": digest.subject,
            "number": digest.edition.number,
            "date": format_date(digest.edition.date, "full", locale=newsletter.locale),
        }
    ]
    index = web.render_archive(newsletter, listed)
    return write_files(
        config.archive,
        {
            f"{digest.edition.date.isoformat()}.html": page.encode(),
            "index.html": index.encode(),
        },
    )
