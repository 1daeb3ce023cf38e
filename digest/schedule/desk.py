"""The editor's desk without the browser: one edition, its window's stories and its plan.

``Desk`` gathers an edition's sources once and builds it with any plan, as ``digest build``
would; ``stories`` lists every story of the window with its place (the lead, a section, or
why it is left out), so an editor sees what the caps left out and can bring it back. The web
desk (``digest.web.desk``) and ``digest plan`` both work through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from digest.pipeline import Digest
from digest.plan import Plan
from digest.schedule.build import edition_date, gather, open_history, prepare, window_of
from digest.schedule.config import BuildConfig
from digest.schedule.history import Approval, History, content_hashes
from digest.select import window_stories
from digest.urls import canonical_url

__all__ = ["Desk", "Story"]


@dataclass(frozen=True)
class Story:
    """One story of an edition's window and where it is."""

    url: str
    title: str
    section: str
    published: str
    #: ``lead``, ``teaser`` or ``left out``.
    place: str
    #: The section it is in, or why it is left out ("by the editor", "by the caps or the size").
    why: str


class Desk:
    """One edition of one config, gathered once, built with any plan."""

    def __init__(self, config: BuildConfig, on: date | None = None) -> None:
        """Gather the sources of the edition dated ``on`` (the newest scheduled by default)."""
        self.config = config
        self.on = edition_date(config, on)
        self.gathered = gather(config, write_cache=False)

    def history(self) -> History:
        """The config's history (plans and approvals live there)."""
        history = open_history(self.config)
        if history is None:
            from digest.errors import ConfigError

            raise ConfigError("plans and approvals live in the history: keep one (history = true)")
        return history

    def plan(self) -> Plan:
        """The plan saved for this edition."""
        with self.history() as history:
            return history.plan(self.on)

    def build(self, plan: Plan | None = None) -> Digest:
        """The edition as ``digest build`` makes it with ``plan`` (the saved one by default)."""
        with self.history() as history:
            digest, _ = prepare(self.config, self.on, self.gathered, history, plan=plan)
        return digest

    def save_plan(self, plan: Plan) -> Digest:
        """Build the edition with ``plan``, then save it (a plan that does not apply is refused)."""
        digest = self.build(plan)
        with self.history() as history:
            history.save_plan(self.on, plan)
        return digest

    def approve(self, approver: str, digest: Digest | None = None) -> tuple[Digest, Approval]:
        """Record ``approver``'s approval of the edition: ``digest`` as shown, or as built now."""
        digest = self.build() if digest is None else digest
        hashes = content_hashes(digest.subject, digest.html, digest.text)
        with self.history() as history:
            return digest, history.approve(self.on, approver, hashes)

    def stories(self, digest: Digest, plan: Plan) -> list[Story]:
        """Every story of the window, the edition's first in their order, then those left out."""
        with self.history() as history:
            window = window_of(self.config, self.on, history)
            featured = history.featured_before(self.on)
        candidates = window_stories(
            self.gathered.articles,
            self.config.newsletter,
            self.on,
            window=window,
            featured_before=featured,
        )
        placed: dict[str, tuple[str, str]] = {
            canonical_url(digest.edition.lead.url): ("lead", digest.edition.lead.section)
        }
        for section in digest.edition.sections:
            for teaser in section.teasers:
                placed[canonical_url(teaser.url)] = ("teaser", section.label)
        left = {canonical_url(url) for url in plan.leave_out}
        edition_order = [canonical_url(a.url) for a in digest.edition.articles]
        by_url = {canonical_url(a.url): a for a in candidates}
        ordered = edition_order + [url for url in by_url if url not in placed]
        stories = []
        for url in ordered:
            article = by_url.get(url)
            if article is None:
                continue
            place, why = placed.get(
                url,
                ("left out", "by the editor" if url in left else "by the caps or the size"),
            )
            stories.append(
                Story(
                    url=article.url,
                    title=article.title,
                    section=article.section,
                    published=article.published_at.isoformat(),
                    place=place,
                    why=why,
                )
            )
        return stories
