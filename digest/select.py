"""Selection: pick the lead story, the section teasers and the closing quote of an edition.

The stories are those of the edition's window, best lead candidate first; the teasers are
grouped into sections under their caps by ``digest.sections`` (whose names are imported from
here too), and ``explain_edition`` says what became of each article. Given the past
``ClickThrough`` (``weigh_by = "clicks"``), a section's click-through breaks ties among the
stories the editor ranks equal (same plan place, ``featured`` and ``priority``), before their
age; the lead's picture still comes first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from digest.click_through import ClickThrough
from digest.edition import Edition
from digest.errors import EmptyEditionError, InputError, NothingNewError, PlanError
from digest.models import Article, Newsletter, Quote
from digest.pixels import is_pixel_size
from digest.plan import Plan
from digest.sections import MORE_NEWS as MORE_NEWS
from digest.sections import Weigh, group_teasers, story_rank
from digest.sections import droppable as droppable
from digest.sections import map_sections as map_sections
from digest.sections import normalise_title as normalise_title
from digest.sections import onto_sections as onto_sections
from digest.sections import section_key as section_key
from digest.sections import teasers_by_rank as teasers_by_rank
from digest.sections import without_teasers as without_teasers
from digest.urls import CanonicalUrls

__all__ = [
    "Fate",
    "edition_window",
    "explain_edition",
    "normalise_title",
    "pick_quote",
    "published_in",
    "section_key",
    "select_edition",
    "window_stories",
]


#: The most articles one edition is chosen from.
MAX_ARTICLES = 10_000


def _lead_rank(
    article: Article, urls: CanonicalUrls, weigh: Weigh | None = None
) -> tuple[bool, int, bool, float, float, str]:
    """Sort key of lead candidates: like ``story_rank``, preferring a story with a picture."""
    featured, priority, weight, newest, url = story_rank(article, urls, weigh)
    return (featured, priority, not has_picture(article), weight, newest, url)


def has_picture(article: Article) -> bool:
    """Whether the article has a real picture (a declared 1x1 or 2x2 one is a tracking pixel)."""
    tiny = is_pixel_size(article.image_width, article.image_height)
    return article.image_url is not None and not tiny


def _unique(articles: Iterable[Article], urls: CanonicalUrls) -> list[Article]:
    """Drop later copies of an article, by canonical URL or by normalised title."""
    return [article for article, original in _copies(articles, urls) if original is None]


def _copies(
    articles: Iterable[Article], urls: CanonicalUrls
) -> list[tuple[Article, Article | None]]:
    """Each article with the earlier one it copies (same canonical URL or title), or None."""
    by_url: dict[str, Article] = {}
    by_title: dict[str, Article] = {}
    found: list[tuple[Article, Article | None]] = []
    for article in articles:
        url, title = urls[article.url], normalise_title(article.title)
        original = by_url.get(url) or by_title.get(title)
        if original is None:
            by_url[url] = by_title[title] = article
        found.append((article, original))
    return found


def pick_quote(quotes: Sequence[Quote], on: date, avoid: Collection[str] = ()) -> Quote | None:
    """Pick one quote for the date ``on``: the same date always gets the same quote.

    Quotes whose text is in ``avoid`` (those that closed recent editions) are left out, unless
    that would leave none.
    """
    unique = {(quote.text, quote.author): quote for quote in quotes}
    pool = [unique[key] for key in sorted(unique)]
    fresh = [quote for quote in pool if quote.text not in avoid]
    pool = fresh or pool
    if not pool:
        return None
    seed = int.from_bytes(hashlib.sha256(on.isoformat().encode()).digest()[:8], "big")
    return pool[seed % len(pool)]


def edition_window(
    newsletter: Newsletter, on: date, previous: date | None
) -> tuple[datetime, datetime]:
    """The articles an edition takes: published after the previous edition, up to this one.

    Both ends are at the newsletter's send time; without a previous edition the window is one
    cadence period long (from the scheduled date before: a day, a week or a few, a month).
    """
    zone = newsletter.zone
    end = datetime.combine(on, newsletter.schedule.send_time, tzinfo=zone)
    if previous is not None and previous < on:
        return datetime.combine(previous, newsletter.schedule.send_time, tzinfo=zone), end
    cadence = newsletter.schedule.cadence
    if cadence is None:
        return end - timedelta(days=7), end
    start = datetime.combine(cadence.previous(on), newsletter.schedule.send_time, tzinfo=zone)
    return start, end


def published_in(
    articles: Sequence[Article],
    newsletter: Newsletter,
    on: date,
    window: tuple[datetime, datetime] | None = None,
) -> list[Article]:
    """The articles an edition dated ``on`` may take: inside ``window``, or by that day's end."""
    if window is None:
        cutoff = datetime.combine(on + timedelta(days=1), time(0), tzinfo=newsletter.zone)
        return [a for a in articles if a.published_at < cutoff]
    start, end = window
    return [a for a in articles if start < a.published_at <= end]


def window_stories(
    articles: Sequence[Article],
    newsletter: Newsletter,
    on: date,
    *,
    window: tuple[datetime, datetime] | None = None,
    featured_before: Collection[str] = (),
    urls: CanonicalUrls | None = None,
) -> list[Article]:
    """The stories an edition dated ``on`` is chosen from, the best lead candidate first.

    Without a ``window``, articles published after the end of that day (in the newsletter's
    time zone) are left for a later edition; with one, only articles published inside it
    count. Articles whose canonical URL is in ``featured_before`` are not repeated, and copies
    of one story (by URL or title) count once. ``urls`` remembers canonical forms for the
    caller's selection (a new one when it is None).
    """
    urls = CanonicalUrls() if urls is None else urls
    if not articles:
        raise EmptyEditionError("no articles: an edition needs at least one article")
    if len(articles) > MAX_ARTICLES:
        raise InputError(f"articles: {len(articles):,} is more than the {MAX_ARTICLES:,} allowed")
    published = published_in(articles, newsletter, on, window)
    if window is None and not published:
        raise EmptyEditionError(
            f"none of the {len(articles)} articles was published by {on.isoformat()} "
            f"({newsletter.timezone}); the earliest is dated "
            f"{min(a.published_at for a in articles).isoformat()}"
        )
    where = f" from {window[0].isoformat()} to {window[1].isoformat()}" if window else ""
    if not published:
        newest = max(a.published_at for a in articles).isoformat()
        raise NothingNewError(
            f"nothing new: none of the {len(articles)} articles was published{where} "
            f"(the newest is dated {newest})"
        )
    new = [a for a in published if urls[a.url] not in featured_before]
    if not new:
        raise NothingNewError(
            f"nothing new: all {len(published)} articles published{where} were featured "
            "in earlier editions"
        )
    placed = onto_sections(new, newsletter.layout)
    return _unique(sorted(placed, key=lambda article: _lead_rank(article, urls)), urls)


def select_edition(
    articles: Sequence[Article],
    newsletter: Newsletter,
    on: date,
    quotes: Sequence[Quote] = (),
    number: int | None = None,
    *,
    window: tuple[datetime, datetime] | None = None,
    featured_before: Collection[str] = (),
    recent_quotes: Collection[str] = (),
    plan: Plan | None = None,
    click_through: ClickThrough | None = None,
) -> Edition:
    """Choose the lead, the section teasers and the quote of the edition dated ``on``.

    The stories are those of ``window_stories`` (which says how the window, the earlier
    editions and copies count); quotes in ``recent_quotes`` are avoided. An editor's ``plan``
    is applied on top: a story it names that is not among the window's is a ``PlanError``.
    With ``click_through``, stories the editor ranks equal go by their section's past
    click-through before their age (none given: the order is the same as without).
    """
    return _choose(
        articles,
        newsletter,
        on,
        quotes,
        number,
        window=window,
        featured_before=featured_before,
        recent_quotes=recent_quotes,
        plan=plan,
        click_through=click_through,
    )[0]


def _choose(
    articles: Sequence[Article],
    newsletter: Newsletter,
    on: date,
    quotes: Sequence[Quote] = (),
    number: int | None = None,
    *,
    window: tuple[datetime, datetime] | None = None,
    featured_before: Collection[str] = (),
    recent_quotes: Collection[str] = (),
    plan: Plan | None = None,
    urls: CanonicalUrls | None = None,
    click_through: ClickThrough | None = None,
) -> tuple[Edition, dict[str, str]]:
    """``select_edition``, and why each story of the window it left out was (by URL)."""
    urls = CanonicalUrls() if urls is None else urls
    weigh = click_through.weight if click_through else None
    candidates = window_stories(
        articles, newsletter, on, window=window, featured_before=featured_before, urls=urls
    )
    plan = plan or Plan()
    by_url = {urls[a.url]: a for a in candidates}
    unknown = sorted(plan.named() - set(by_url))
    if unknown:
        named = "a story" if len(unknown) == 1 else f"{len(unknown)} stories"
        raise PlanError(
            f"plan: it names {named} not among the {len(candidates)} of this edition's window "
            f"(featured before, published outside it, or gone from the source): "
            f"{', '.join(unknown[:3])}{' …' if len(unknown) > 3 else ''}; take "
            f"{'it' if len(unknown) == 1 else 'them'} out of the plan"
        )
    left = {urls[url] for url in plan.leave_out}
    kept = {urls[url] for url in plan.bring_back}
    if left & kept:
        raise PlanError(f"plan: left out and brought back at once: {sorted(left & kept)[0]}")
    moved = {urls[url]: section for url, section in plan.sections.items()}
    stories = [
        a.model_copy(update={"section": moved[key]}) if key in moved else a
        for a in candidates
        if (key := urls[a.url]) not in left
    ]
    if plan.lead is not None and urls[plan.lead] in left:
        raise PlanError(f"plan: the lead {plan.lead} is also left out")
    if not stories:
        raise PlanError("plan: every story of the window is left out; bring one back")
    lead = stories[0]
    if weigh is not None:
        lead = min(stories, key=lambda article: _lead_rank(article, urls, weigh))
    if plan.lead is not None:
        lead = next(a for a in stories if urls[a.url] == urls[plan.lead])
    quote = pick_quote(quotes, on, recent_quotes)
    if plan.quote is not None:
        quote = next((q for q in quotes if q.text == plan.quote), None)
        if quote is None:
            raise PlanError(f"plan: the quote {plan.quote[:60]!r} is not among the quotes given")
    order = [urls[url] for url in plan.order]
    teasers = [a for a in stories if a is not lead]
    sections, reasons = group_teasers(teasers, newsletter, urls, kept, order, weigh)
    reasons.update(dict.fromkeys(left, "left out by the editor's plan"))
    edition = Edition(
        date=on,
        number=number,
        lead=lead,
        sections=sections,
        quote=quote,
        subject=plan.subject,
        preheader=plan.preheader,
        note=plan.note,
    )
    return edition, reasons


@dataclass(frozen=True)
class Fate:
    """Where one article went in an edition, or (``reason``) why it was left out."""

    article: Article
    #: "lead", or the label of the section that shows it; None when it was left out.
    place: str | None = None
    #: Its position in that section, from 1 (0 for the lead).
    position: int = 0
    #: Why it is not in the edition; None when it is.
    reason: str | None = None
    #: When past clicks broke a tie that placed it (``weigh_by = "clicks"``): its section's
    #: click-through, and where it would be by the rules without them.
    clicks: str | None = None

    def describe(self) -> str:
        """One line: where the article went or why it was left out, then its title."""
        weighed = f" ({self.clicks})" if self.clicks is not None else ""
        if self.reason is not None:
            return f"left out, {self.reason}: {self.article.title}{weighed}"
        where = "lead" if self.position == 0 else f"{self.place}, {self.position}"
        return f"{where}: {self.article.title}{weighed}"


def explain_edition(
    articles: Sequence[Article],
    newsletter: Newsletter,
    edition: Edition,
    *,
    window: tuple[datetime, datetime] | None = None,
    featured_before: Collection[str] = (),
    plan: Plan | None = None,
    click_through: ClickThrough | None = None,
) -> list[Fate]:
    """What became of each of ``articles`` in ``edition``: its place, or the one reason why not.

    ``edition`` is what ``select_edition`` chose from them with the same ``window``,
    ``featured_before``, ``plan`` and ``click_through``, less the teasers the size budget left
    out afterwards. A fate whose place past clicks decided (a tie they broke) says so.
    """
    on = edition.date
    urls = CanonicalUrls()
    inside = {id(a) for a in published_in(articles, newsletter, on, window)}
    reasons: dict[int, str] = {}
    where = (
        f"{window[0].isoformat()} to {window[1].isoformat()}"
        if window
        else f"by the end of {on.isoformat()}"
    )
    fresh = []
    for article in articles:
        if id(article) not in inside:
            reasons[id(article)] = f"published outside the window ({where})"
        elif urls[article.url] in featured_before:
            reasons[id(article)] = "nothing new: featured in an earlier edition"
        else:
            fresh.append(article)
    by_lead_rank = sorted(fresh, key=lambda article: _lead_rank(article, urls))
    for article, original in _copies(by_lead_rank, urls):
        if original is not None:
            reasons[id(article)] = f"a duplicate of {original.title!r}"
    chosen: Edition | None = None
    why: dict[str, str] = {}
    if fresh:
        chosen, why = _choose(
            articles,
            newsletter,
            on,
            window=window,
            featured_before=featured_before,
            plan=plan,
            urls=urls,
            click_through=click_through,
        )
    weighed: dict[str, str] = {}
    if fresh and chosen is not None and click_through:
        weighed = _weighed(
            chosen,
            why,
            _choose(
                articles,
                newsletter,
                on,
                window=window,
                featured_before=featured_before,
                plan=plan,
                urls=urls,
            ),
            click_through,
            urls,
        )
    places = _places(edition, urls)
    selected = {urls[a.url] for a in chosen.articles} if chosen else set()
    budget = f"the size budget ({newsletter.layout.size_budget_kb:g} KB)"
    fates = []
    for article in articles:
        url = urls[article.url]
        reason = reasons.get(id(article))
        clicks = weighed.get(url) if id(article) not in reasons else None
        if reason is None and url in places:
            place, position, _ = places[url]
            fates.append(Fate(article, place=place, position=position, clicks=clicks))
            continue
        if reason is None:
            reason = budget if url in selected else why.get(url, "not chosen")
        fates.append(Fate(article, reason=reason, clicks=clicks))
    return fates


def _places(edition: Edition, urls: CanonicalUrls) -> dict[str, tuple[str, int, int]]:
    """Where each story of ``edition`` is, by canonical URL: (label, slot, section's number).

    The lead is ("lead", 0, 0); the sections are numbered from 1 in the order shown.
    """
    places: dict[str, tuple[str, int, int]] = {urls[edition.lead.url]: ("lead", 0, 0)}
    for number, section in enumerate(edition.sections, 1):
        for n, teaser in enumerate(section.teasers, 1):
            places[urls[teaser.url]] = (section.label, n, number)
    return places


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, … 11th, 12th, 13th, … 21st."""
    last = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{last}"


def _weighed(
    chosen: Edition,
    why: dict[str, str],
    plain: tuple[Edition, dict[str, str]],
    click_through: ClickThrough,
    urls: CanonicalUrls,
) -> dict[str, str]:
    """Each story whose fate past clicks changed (by URL): its section's figure, its plain fate."""
    weighed_places, plain_places = _places(chosen, urls), _places(plain[0], urls)
    sections = {urls[a.url]: a.section for a in (*chosen.articles, *plain[0].articles)}
    count = click_through.editions
    editions = f"{count} {'edition' if count == 1 else 'editions'}"
    notes = {}
    for url in {*weighed_places, *plain_places, *why, *plain[1]}:
        was = plain_places.get(url)
        if weighed_places.get(url) == was and url in weighed_places:
            continue
        if was is None and url not in weighed_places:
            continue  # left out either way
        now = weighed_places.get(url)
        if was is None:
            without = f"left out, {plain[1].get(url, 'not chosen')}"
        elif now is not None and now[:2] == was[:2]:  # the same slot of a section moved
            without = f"its section would come {_ordinal(was[2])}"
        else:
            without = "lead" if was[1] == 0 else f"{was[0]}, {was[1]}"
        section = sections.get(url, "")
        rate = click_through.rate(section)
        figure = (
            f"{section} {rate * 100:.1f} %"
            if rate is not None
            else f"{section} no figure, weighed as the average"
        )
        notes[url] = (
            f"a tie broken by past clicks ({figure} click-through over {editions}); "
            f"without them: {without}"
        )
    return notes
