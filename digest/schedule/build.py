"""One scheduled build from a config: sources, history, window, email, archive, files.

This is what ``digest build`` runs; it reads in one direction like the rest of the pipeline:
sources -> history (what ran before) -> build_digest -> files and archive -> history record.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from babel.dates import format_date

from digest.check import summarise
from digest.errors import DigestError, InputError
from digest.feeds.data import load_data
from digest.feeds.sources import Fetch, SourceResult, read_sources
from digest.files import BuildLock, StrPath
from digest.mail.message import email_bytes
from digest.mail.variants import with_subject_variants
from digest.models import Article
from digest.pipeline import Digest, build_digest
from digest.plan import Plan
from digest.render.inline import inline_css
from digest.render.renderer import Renderer, RenderOptions
from digest.schedule.archive import FEED_FILE, ArchivedEdition, archive_feed, edition_page
from digest.schedule.clicks import past_click_through
from digest.schedule.commit import Journal
from digest.schedule.config import BuildConfig, history_kept, history_store
from digest.schedule.history import History, record_built
from digest.schedule.record import RECORD_SUFFIX, record_bytes
from digest.select import Fate, edition_window, explain_edition, published_in, window_stories
from digest.store.connection import transaction
from digest.urls import canonical_url

__all__ = [
    "BuildResult",
    "edition_date",
    "edition_message",
    "gather",
    "prepare",
    "recover",
    "refuse_sent",
    "run_build",
    "window_of",
]


@dataclass(frozen=True)
class BuildResult:
    """What a build made: the digest, the files written and what was worth a warning."""

    digest: Digest
    files: list[Path]
    warnings: list[str] = field(default_factory=list)
    window: tuple[datetime, datetime] | None = None
    #: What the edition left out, by why: ``outside the window``, ``featured before``,
    #: ``duplicates`` and ``caps`` (the caps, the size budget or the editor's plan).
    left_out: dict[str, int] = field(default_factory=dict)
    #: With ``explain``: what became of each article read, its place or why it was left out.
    fates: list[Fate] = field(default_factory=list)


def edition_date(config: BuildConfig, on: date | None = None) -> date:
    """The date to build: ``on``, else the newest scheduled date (today without a cadence)."""
    if on is not None:
        return on
    today = datetime.now(config.newsletter.zone).date()
    cadence = config.newsletter.schedule.cadence
    return cadence.latest(today) if cadence else today


def gather(
    config: BuildConfig,
    extra: Sequence[StrPath] = (),
    fetch: Fetch | None = None,
    write_cache: bool = True,
) -> SourceResult:
    """Read the config's JSON data files, any ``extra`` ones, and its sources.

    URL sources are fetched with conditional GET: their last copy is kept beside the history
    (``NAME.history.feeds.sqlite3``), unless the config keeps no history. Only public
    addresses are reached, and the hosts ``[network] allow_hosts`` names. Without
    ``write_cache`` the copies are read but never written (the preview writes nothing).
    """
    data = load_data([*config.data, *extra], config.newsletter)
    result = SourceResult(articles=list(data.articles), quotes=list(data.quotes))
    if fetch is None and any(source.url for source in config.sources):
        from digest.feeds.fetch import FeedCache, Fetcher

        cache = FeedCache(feed_cache_path(config), read_only=not write_cache)
        fetch = Fetcher(
            cache=cache if config.history else None,
            allow_hosts=frozenset(config.network.allow_hosts),
        )
    result.extend(read_sources(config.sources, config.newsletter, fetch))
    return result


def feed_cache_path(config: BuildConfig) -> Path:
    """Where the copies of URL sources are kept for conditional GET: beside the history."""
    return config.beside_history(".history.feeds.sqlite3") or Path("digest.history.feeds.sqlite3")


def open_history(config: BuildConfig, create: bool = True) -> History | None:
    """The config's edition history; None if it keeps none (or has none yet and not ``create``)."""
    where = history_store(config)
    if where is None or (not create and not history_kept(where)):
        return None
    return History(where)


def prepare(
    config: BuildConfig,
    on: date,
    gathered: SourceResult,
    history: History | None,
    number: int | None = None,
    renderer: Renderer | None = None,
    allow_oversize: bool = False,
    check: bool = True,
    plan: Plan | None = None,
) -> tuple[Digest, tuple[datetime, datetime] | None]:
    """Build the edition dated ``on`` in memory, taking the history into account.

    The editor's plan is the one saved in the history for that date, unless ``plan`` is
    given (the desk tries one before saving it). With ``[newsletter.layout] weigh_by =
    "clicks"``, past editions' click-through breaks selection's ties (``past_click_through``).
    """
    newsletter = config.newsletter
    featured: set[str] = set()
    recent: set[str] = set()
    if plan is None and history is not None:
        plan = history.plan(on)
    if history is not None:
        featured = history.featured_before(on)
        recent = history.recent_quotes(on, config.quote_rest)
        number = history.number_for(on, number)
    window = window_of(config, on, history)
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
        allow_oversize=allow_oversize,
        check=check,
        plan=plan,
        click_through=past_click_through(config, history, on),
    )
    return digest, window


def window_of(
    config: BuildConfig, on: date, history: History | None
) -> tuple[datetime, datetime] | None:
    """The window of the edition dated ``on``: after the previous edition, up to this one."""
    if not config.newsletter.schedule.cadence:
        return None
    earlier = history.editions(before=on) if history is not None else []
    return edition_window(config.newsletter, on, earlier[0].date if earlier else None)


def sent_count(config: BuildConfig, out_dir: Path, edition: str) -> int:
    """How many readers the send ledger says got ``edition`` (0 when there is no ledger)."""
    from digest.delivery.ledger import SendLedger
    from digest.schedule.config import server_ledger

    shared = server_ledger(config)
    path = config.beside_history(".sends.sqlite3") or out_dir / "digest.sends.sqlite3"
    if shared is None and not path.exists():
        return 0
    with shared or SendLedger(path) as ledger:
        return sum(n for (_, state), n in ledger.summary(edition).items() if state == "sent")


def refuse_sent(config: BuildConfig, out_dir: Path, digest: Digest) -> None:
    """Refuse to build again an edition that was sent: what was sent stays what was sent."""
    count = sent_count(config, out_dir, digest.edition_key)
    if count:
        raise InputError(
            f"{digest.edition_key} was sent to {count} readers: a sent edition is final, and "
            "its files, archive page and history stay what was sent; build another date"
        )


def run_build(
    config: BuildConfig,
    out_dir: StrPath,
    on: date | None = None,
    number: int | None = None,
    recipients: Sequence[str] = (),
    extra: Sequence[StrPath] = (),
    fetch: Fetch | None = None,
    allow_oversize: bool = False,
    check: bool = True,
    explain: bool = False,
) -> BuildResult:
    """Build, write and record one edition as one commit.

    Builds of one config take turns (a lock beside the history); the files in ``out_dir``, the
    archive and the history change together or not at all, and a build that was interrupted
    is rolled back when the next one starts. With ``explain``, the result's ``fates`` say
    where each article went or why it was left out.
    """
    out_dir = Path(out_dir)
    on = edition_date(config, on)
    gathered = gather(config, extra, fetch)
    created = not out_dir.exists()
    featured: set[str] = set()
    plan: Plan | None = None
    weighed = None
    try:
        with _committing(config, out_dir) as (history, journal, _):
            if history is not None:
                featured = history.featured_before(on)
                plan = history.plan(on)
            if explain:
                weighed = past_click_through(config, history, on)
            digest, window = prepare(
                config,
                on,
                gathered,
                history,
                number,
                allow_oversize=allow_oversize,
                check=check,
                plan=plan,
            )
            refuse_sent(config, out_dir, digest)
            files = {out_dir: edition_files(config, digest, recipients or config.to)}
            if config.archive is not None:
                files[config.archive] = archive_files(config, digest, history)
            written = journal.commit(
                files, record=None if history is None else lambda: _record(history, digest)
            )
    except DigestError as error:
        error.warnings = (*gathered.warnings, *error.warnings)
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()  # only if the failed build left it empty
        raise
    noticed = summarise(f for f in digest.findings if f.severity != "info")
    warnings = [*gathered.warnings, *noticed]
    left_out = left_out_by_reason(config, on, gathered.articles, window, featured, digest)
    fates = (
        explain_edition(
            gathered.articles,
            config.newsletter,
            digest.edition,
            window=window,
            featured_before=featured,
            plan=plan,
            click_through=weighed,
        )
        if explain
        else []
    )
    return BuildResult(
        digest, written, warnings, window, left_out, _in_edition_order(fates, digest)
    )


def _in_edition_order(fates: Sequence[Fate], digest: Digest) -> list[Fate]:
    """The fates as the edition shows them (the lead, each section), then those left out."""
    places = ["lead", *(section.label for section in digest.edition.sections)]
    return sorted(
        fates,
        key=lambda fate: (
            (places.index(fate.place), fate.position) if fate.place in places else (len(places), 0)
        ),
    )


def left_out_by_reason(
    config: BuildConfig,
    on: date,
    articles: Sequence[Article],
    window: tuple[datetime, datetime] | None,
    featured: Collection[str],
    digest: Digest,
) -> dict[str, int]:
    """How many stories the edition left out, and why (reasons with none are left out)."""
    inside = published_in(articles, config.newsletter, on, window)
    new = [a for a in inside if canonical_url(a.url) not in featured]
    try:
        stories = window_stories(new, config.newsletter, on, window=window)
    except DigestError:
        stories = []
    counts = {
        "outside the window": len(articles) - len(inside),
        "featured before": len(inside) - len(new),
        "duplicates": len(new) - len(stories),
        "caps": max(0, len(stories) - len(digest.edition.articles)),
    }
    return {reason: count for reason, count in counts.items() if count}


def _lock_path(config: BuildConfig, out_dir: Path) -> Path:
    """What a build locks: a file beside the history, or (with none) the output folder."""
    return config.beside_history(".history.sqlite3.lock") or out_dir


def recover(config: BuildConfig, out_dir: StrPath) -> int:
    """Roll back a build of ``config`` that was interrupted; returns the files rolled back.

    ``digest build`` does this itself before building; call it to tidy up without building.
    """
    out_dir = Path(out_dir)
    if not _lock_path(config, out_dir).exists():
        return 0
    with _committing(config, out_dir, create=False) as (_, _, rolled_back):
        return rolled_back


@contextlib.contextmanager
def _committing(
    config: BuildConfig, out_dir: Path, create: bool = True
) -> Iterator[tuple[History | None, Journal, int]]:
    """Lock the config's builds, open its history and journal, roll back an interrupted build.

    Yields the history (None if the config keeps none), the journal and how many files of an
    interrupted build were rolled back.
    """
    lock_path = _lock_path(config, out_dir)
    if lock_path == out_dir:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DigestError(
                f"{out_dir}: cannot create the output folder: {error.strerror}"
            ) from None
    folders = [out_dir, *([config.archive] if config.archive is not None else [])]
    with BuildLock(lock_path):
        history = open_history(config, create=create)
        with history or contextlib.nullcontext(), _journal_db(history, out_dir) as db:
            journal = Journal(db)
            yield history, journal, journal.recover(folders)


def _record(history: History, digest: Digest) -> None:
    """Record the built edition inside the journal's commit (its own transaction on a server).

    A history in the PostgreSQL store commits just before the journal file lets go of the
    build: a build killed between the two is rolled back on disk and recorded, and the next
    build of its date writes its files again and records it anew.
    """
    if not history.server:
        record_built(history, digest)
        return
    with transaction(history.db):
        record_built(history, digest)


@contextlib.contextmanager
def _journal_db(history: History | None, out_dir: Path) -> Iterator[sqlite3.Connection]:
    """The history's file, or (with no history, or one on a server) a journal file in ``out_dir``.

    The journal file is removed again once no build is pending in it.
    """
    if history is not None and isinstance(history.db, sqlite3.Connection):
        yield history.db
        return
    path = out_dir / ".digest-journal.sqlite3"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None)
    except OSError as error:
        raise DigestError(f"{out_dir}: cannot create the output folder: {error.strerror}") from None
    except sqlite3.Error as error:
        raise DigestError(f"{path}: cannot open the build journal: {error}") from None
    try:
        yield db
    finally:
        done = not Journal(db).pending()
        db.close()
        if done:
            path.unlink(missing_ok=True)


def edition_message(config: BuildConfig, digest: Digest, recipients: Sequence[str] = ()) -> bytes:
    """The edition's ``.eml`` as ``digest build`` writes it, with an A/B test's subjects."""
    eml = email_bytes(digest, to=list(recipients))
    test = config.delivery.subject_test if config.delivery is not None else None
    if test is not None:
        renderer = Renderer(digest.options)
        subjects = [renderer.subject(digest.edition, digest.newsletter, s) for s in test.subjects]
        eml = with_subject_variants(eml, subjects)
    return eml


def edition_files(
    config: BuildConfig, digest: Digest, recipients: Sequence[str]
) -> dict[str, bytes]:
    """The edition's files for the output folder: HTML, text, .eml, its record, a preview.

    With ``[delivery.subject_test]``, the ``.eml`` has subject A as its ``Subject`` and the
    other variants in ``X-Digest-Subject-B`` … (``digest.mail.variants``), for ``digest send``.
    The record (``.digest.json``, ``digest.schedule.record``) is what ``digest send`` makes
    each reader's own copy from. A preview is written with local assets.
    """
    stem = f"edition-{digest.edition.date.isoformat()}"
    eml = edition_message(config, digest, recipients)
    named = {
        f"{stem}.html": digest.html.encode(),
        f"{stem}.txt": digest.text.encode(),
        f"{stem}.eml": eml,
        f"{stem}{RECORD_SUFFIX}": record_bytes(digest, eml),
    }
    if config.assets is not None:
        # The same edition with its pictures taken from the local assets folder.
        local = Renderer(
            RenderOptions(
                template_dir=config.templates, asset_base_url=config.assets.resolve().as_uri()
            )
        )
        named[f"{stem}.preview.html"] = inline_css(
            local.render(digest.edition, config.newsletter).html, config.newsletter.layout.inliner
        ).encode()
    return named


def archive_files(config: BuildConfig, digest: Digest, history: History | None) -> dict[str, bytes]:
    """The edition's web page (no unsubscribe link), the archive's index and its Atom feed."""
    newsletter = config.newsletter
    web = Renderer(RenderOptions(template_dir=config.templates, web=True))
    page = inline_css(web.render(digest.edition, newsletter).html, newsletter.layout.inliner)
    edition = digest.edition
    records = [
        ArchivedEdition(r.date, r.subject, r.number)
        for r in (history.editions() if history is not None else [])
        if r.date != edition.date
    ]
    records.append(ArchivedEdition(edition.date, digest.subject, edition.number))
    records.sort(key=lambda r: r.date, reverse=True)
    listed = [
        {
            "href": edition_page(r.date),
            "subject": r.subject,
            "number": r.number,
            "date": format_date(r.date, "full", locale=newsletter.locale),
        }
        for r in records
    ]
    index = web.render_archive(newsletter, listed)
    return {
        edition_page(edition.date): page.encode(),
        "index.html": index.encode(),
        FEED_FILE: archive_feed(newsletter, records),
    }
