"""The whole pipeline in one call: select, render, inline and check; content, never bytes.

The message forms (a MIME message, its bytes, an ESP's fields, each reader's copy) are made
from a ``Digest`` by ``digest.mail``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from digest.check import Finding, check_html, check_text, summarise
from digest.click_through import ClickThrough
from digest.edition import Edition, edition_key
from digest.errors import CheckError, InputError, describe_validation_error
from digest.labels import catalog_for
from digest.links import tag_edition
from digest.models import HTML_TAG, Article, Newsletter, Quote
from digest.plan import Plan
from digest.render.inline import inline_css
from digest.render.renderer import RenderedEdition, Renderer, RenderOptions
from digest.sections import Weigh
from digest.select import droppable, select_edition, teasers_by_rank, without_teasers
from digest.urls import canonical_url

__all__ = ["Digest", "build_digest"]


@dataclass(frozen=True)
class Digest:
    """A finished edition: the selection, and the email's content (``digest.mail`` writes it)."""

    edition: Edition
    newsletter: Newsletter
    subject: str
    preheader: str
    html: str
    text: str
    #: What the build noticed: an edition over the size budget, theme colours short of contrast.
    findings: tuple[Finding, ...] = ()
    #: How it was rendered (templates, asset base): personalised copies render the same way.
    options: RenderOptions = field(default_factory=RenderOptions)

    @property
    def sent_at(self) -> datetime:
        """The edition's date at the newsletter's send time, in its time zone."""
        return datetime.combine(
            self.edition.date, self.newsletter.schedule.send_time, tzinfo=self.newsletter.zone
        )

    @property
    def links(self) -> tuple[str, ...]:
        """The links of the edition's stories, the lead first, in reading order."""
        return tuple(str(article.url) for article in self.edition.articles)

    @property
    def edition_key(self) -> str:
        """What the send ledger knows this edition by: the newsletter, the date, the number."""
        return edition_key(self.newsletter.name, self.edition.date, self.edition.number)


def build_digest(
    articles: Sequence[Article | Mapping[str, Any]],
    newsletter: Newsletter | Mapping[str, Any],
    on: date | str,
    quotes: Sequence[Quote | Mapping[str, Any]] = (),
    number: int | None = None,
    renderer: Renderer | None = None,
    options: RenderOptions | None = None,
    *,
    window: tuple[datetime, datetime] | None = None,
    featured_before: Collection[str] = (),
    recent_quotes: Collection[str] = (),
    allow_oversize: bool = False,
    check: bool = True,
    plan: Plan | None = None,
    click_through: ClickThrough | None = None,
) -> Digest:
    """Select, render, inline and check the edition of ``newsletter`` dated ``on``.

    Pass a ``Renderer`` to reuse its templates across many builds, or ``options`` to make one.
    When the HTML would weigh more than ``size_budget_kb``, the lowest-ranked teasers are left
    out until it fits (a finding names them). The finished email is checked (``check_html`` and
    ``check_text``): errors (no unsubscribe link in either part, a picture without alt, a
    forbidden link, no ``lang`` or ``<title>``, over the size budget) raise ``CheckError``
    unless ``check`` is false; ``allow_oversize`` lets an email over the budget through.
    An editor's ``plan`` (``digest.plan.Plan``) is applied by selection; the stories it
    brings back are never left out for size. A past ``click_through`` breaks selection's ties
    (``select_edition`` says how), and the size budget's too.

    ``on`` may be an ISO date (``"2026-11-30"``); articles, quotes and the newsletter may be
    mappings, validated into the models (a mistake is an ``InputError`` naming the item and
    the field). An article given as a mapping whose ``published_at`` names no time zone is
    read in the newsletter's, with a warning in ``findings``.
    """
    newsletter, on, articles, quotes, unzoned = _inputs(newsletter, on, articles, quotes)
    edition = select_edition(
        articles,
        newsletter,
        on,
        quotes=quotes,
        number=number,
        window=window,
        featured_before=featured_before,
        recent_quotes=recent_quotes,
        plan=plan,
        click_through=click_through,
    )
    if newsletter.links.tracking is not None:
        # Tagging keeps the ranking: canonical URLs leave utm_* parameters out.
        edition = tag_edition(edition, newsletter.links.tracking)
    renderer = renderer or Renderer(options)
    findings: list[Finding] = []
    if unzoned:
        findings.append(
            Finding(
                "warning",
                "timezone",
                f"{unzoned} {'article names' if unzoned == 1 else 'articles name'} no time "
                f"zone in published_at, read in the newsletter's, {newsletter.timezone}",
            )
        )
    marked = [a.title for a in edition.articles if HTML_TAG.search(a.summary)]
    if marked:
        more = f" and {len(marked) - 1} more" if len(marked) > 1 else ""
        findings.append(
            Finding(
                "warning",
                "summary-html",
                f"the summary of {marked[0]!r}{more} holds HTML tags, shown to readers as "
                "text: give HTML as summary_html",
            )
        )
    choice = catalog_for(newsletter.locale)
    if choice.note is not None:
        findings.append(Finding("warning", "locale", choice.note))
    rendered, html = _render(edition, newsletter, renderer)
    budget = newsletter.layout.size_budget_kb * 1024
    if _weight(html) > budget and edition.sections:
        kept = {canonical_url(url) for url in plan.bring_back} if plan else set()
        weigh = click_through.weight if click_through else None
        edition, rendered, html, dropped = _fit(edition, newsletter, renderer, budget, kept, weigh)
        if dropped:
            titles = ", ".join(repr(article.title) for article in dropped[:5])
            more = f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
            findings.append(
                Finding(
                    "warning",
                    "size-fit",
                    f"left out {len(dropped)} teasers to stay under the size budget of "
                    f"{newsletter.layout.size_budget_kb:g} KB: {titles}{more}",
                )
            )
    findings += check_html(html, newsletter) + check_text(rendered.text, newsletter)
    failing = [
        f
        for f in findings
        if (f.severity == "error" or f.rule == "size") and not (allow_oversize and f.rule == "size")
    ]
    if check and failing:
        error = CheckError(
            f"the email does not pass its checks ({len(failing)} errors): "
            + "; ".join(summarise(failing))
            + ("; to send it anyway, pass --allow-oversize" if _only_size(failing) else "")
        )
        error.warnings = tuple(
            summarise(f for f in findings if f not in failing and f.severity == "warning")
        )
        raise error
    return Digest(
        edition=edition,
        newsletter=newsletter,
        subject=rendered.subject,
        preheader=rendered.preheader,
        html=html,
        text=rendered.text,
        findings=tuple(findings),
        options=renderer.options,
    )


def _inputs(
    newsletter: Newsletter | Mapping[str, Any],
    on: date | str,
    articles: Sequence[Article | Mapping[str, Any]],
    quotes: Sequence[Quote | Mapping[str, Any]],
) -> tuple[Newsletter, date, list[Article], list[Quote], int]:
    """The arguments of ``build_digest`` as models: checked, with clear errors."""
    if not isinstance(newsletter, Newsletter):
        if not isinstance(newsletter, Mapping):
            raise InputError(
                f"newsletter: give a Newsletter or a mapping, not {type(newsletter).__name__}"
            )
        try:
            newsletter = Newsletter.model_validate(newsletter)
        except ValidationError as error:
            raise InputError(f"newsletter: {describe_validation_error(error)}") from None
    if isinstance(on, datetime):
        on = on.date()
    elif isinstance(on, str):
        written = on
        try:
            on = date.fromisoformat(written.strip())
        except ValueError:
            shown = written[:40]
            raise InputError(f"on: {shown!r} is not a date: give a date or YYYY-MM-DD") from None
    elif not isinstance(on, date):
        raise InputError(f"on: give a date or YYYY-MM-DD, not {type(on).__name__}")
    if isinstance(articles, Mapping | str | bytes):
        raise InputError("articles: give a list of articles, not one")
    made, unzoned = [], 0
    for index, item in enumerate(articles):
        if isinstance(item, Article):
            made.append(item)
            continue
        if not isinstance(item, Mapping):
            raise InputError(
                f"articles[{index}]: give an Article or a mapping, not {type(item).__name__}"
            )
        data = dict(item)
        moment = data.get("published_at")
        if isinstance(moment, str):
            with contextlib.suppress(ValueError):
                moment = datetime.fromisoformat(moment.strip())
        if isinstance(moment, datetime) and moment.tzinfo is None:
            data["published_at"] = moment.replace(tzinfo=newsletter.zone)
            unzoned += 1
        try:
            made.append(Article.model_validate(data, context=newsletter.validation_context))
        except ValidationError as error:
            raise InputError(f"articles[{index}]: {describe_validation_error(error)}") from None
    chosen = []
    for index, quote in enumerate(quotes):
        try:
            chosen.append(quote if isinstance(quote, Quote) else Quote.model_validate(quote))
        except ValidationError as error:
            raise InputError(f"quotes[{index}]: {describe_validation_error(error)}") from None
    return newsletter, on, made, chosen, unzoned


def _only_size(findings: Sequence[Finding]) -> bool:
    return all(f.rule == "size" for f in findings)


def _weight(html: str) -> int:
    return len(html.encode("utf-8"))


def _render(
    edition: Edition, newsletter: Newsletter, renderer: Renderer
) -> tuple[RenderedEdition, str]:
    """Render and inline."""
    rendered = renderer.render(edition, newsletter)
    return rendered, inline_css(rendered.html, newsletter.layout.inliner)


def _fit(
    edition: Edition,
    newsletter: Newsletter,
    renderer: Renderer,
    budget: float,
    kept: Collection[str] = frozenset(),
    weigh: Weigh | None = None,
) -> tuple[Edition, RenderedEdition, str, list[Article]]:
    """The edition with as many of its best-ranked teasers as fit in ``budget`` bytes.

    Searches the number of teasers kept by bisection: a few renders, not one per teaser.
    Teasers an editor brought back (``kept`` URLs) stay.
    """
    ranked = droppable(teasers_by_rank(edition, weigh=weigh), kept)
    best = without_teasers(edition, ranked)
    rendered, html = _render(best, newsletter, renderer)
    low, high = 0, len(ranked) - 1  # ``low`` teasers fit; more than ``high`` do not
    while low < high:
        middle = (low + high + 1) // 2
        trial = without_teasers(edition, ranked[middle:])
        trial_rendered, trial_html = _render(trial, newsletter, renderer)
        if _weight(trial_html) <= budget:
            low, best, rendered, html = middle, trial, trial_rendered, trial_html
        else:
            high = middle - 1
    return best, rendered, html, ranked[low:]
