"""Selection: pick the lead story, the section teasers and the closing quote of an edition."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from digest.edition import Edition, Section
from digest.errors import EmptyEditionError, InputError, NothingNewError, PlanError
from digest.models import Article, Layout, Newsletter, Quote
from digest.pixels import is_pixel_size
from digest.plan import Plan
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


def normalise_title(title: str) -> str:
    """Return a form of ``title`` that ignores case, punctuation and spacing."""
    text = unicodedata.normalize("NFKC", title).casefold()
    kept = "".join(" " if unicodedata.category(ch)[0] in "PZC" else ch for ch in text)
    return " ".join(kept.split())


def _rank(article: Article, urls: CanonicalUrls) -> tuple[bool, int, float, str]:
    """Sort key: editor's picks, then priority, then newest; the URL breaks ties."""
    return (
        not article.featured,
        -article.priority,
        -article.published_at.timestamp(),
        urls[article.url],
    )


def _lead_rank(article: Article, urls: CanonicalUrls) -> tuple[bool, int, bool, float, str]:
    """Sort key of lead candidates: like ``_rank``, preferring a story with a picture."""
    featured, priority, newest, url = _rank(article, urls)
    return (featured, priority, not has_picture(article), newest, url)


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


#: The name of the section that gathers the stories of sections beyond ``max_sections``.
MORE_NEWS = "More news"


def _sections(
    teasers: Sequence[Article],
    newsletter: Newsletter,
    urls: CanonicalUrls,
    kept: Collection[str] = frozenset(),
    order: Sequence[str] = (),
) -> tuple[tuple[Section, ...], dict[str, str]]:
    """Group teasers by section in the newsletter's order, each within its limit.

    Beyond ``max_sections``, the smallest sections' stories gather in one "More news" section;
    beyond ``max_stories``, the lowest-ranked teasers are left out. Stories whose canonical URL
    is in ``kept`` (an editor brought them back) stay whatever the limits say, and those in
    ``order`` come first in their section, in that order. Also returns why each teaser left
    out was, by canonical URL.
    """
    place = {url: n for n, url in enumerate(order)}
    layout = newsletter.layout
    reasons: dict[str, str] = {}

    def rank(article: Article) -> tuple[int, tuple[bool, int, float, str]]:
        return (place.get(urls[article.url], len(place)), _rank(article, urls))

    groups: dict[str, list[Article]] = {}
    for article in sorted(teasers, key=rank):
        groups.setdefault(article.section.casefold(), []).append(article)
    specs = {spec.name.casefold(): spec for spec in layout.sections}
    order = list(specs)
    default = layout.default_section.casefold() if layout.default_section else None
    if default is not None and default not in specs:
        order.append(default)
    others = [key for key in groups if key not in order]
    if layout.other_sections:
        # The biggest sections first, so the ones that give way are the smallest.
        order += sorted(others, key=lambda k: (-len(groups[k]), k))
    else:
        for key in others:
            for article in groups[key]:
                reasons[urls[article.url]] = (
                    f"its section {article.section!r} is not one of layout.sections "
                    "(other_sections = false)"
                )
    sections = []
    for key in order:
        spec = specs.get(key)
        limit = layout.teasers_per_section if spec is None or spec.limit is None else spec.limit
        setting = "teasers_per_section" if spec is None or spec.limit is None else "its limit"
        group = groups.get(key, [])
        chosen = [a for n, a in enumerate(group) if n < limit or urls[a.url] in kept]
        if len(chosen) < len(group):
            name = spec.name if spec else group[0].section
            for article in group:
                if article not in chosen:
                    reasons[urls[article.url]] = (
                        f"the cap of section {name!r}: {_teasers(limit)} ({setting})"
                    )
        if chosen:
            name = spec.name if spec else chosen[0].section
            label = spec.label if spec and spec.label else name
            sections.append(Section(name=name, label=label, teasers=tuple(chosen)))
    if len(sections) > layout.max_sections:
        first, rest = sections[: layout.max_sections - 1], sections[layout.max_sections - 1 :]
        gathered = sorted((t for section in rest for t in section.teasers), key=rank)
        limit = max(layout.teasers_per_section, 1)
        more = [a for n, a in enumerate(gathered) if n < limit or urls[a.url] in kept]
        for section in rest:
            for article in section.teasers:
                if article not in more:
                    reasons[urls[article.url]] = (
                        f"max_sections = {layout.max_sections}: its section {section.name!r} "
                        f"gathered in {MORE_NEWS!r}, whose cap is {_teasers(limit)}"
                    )
        sections = [
            *first,
            Section(name=MORE_NEWS, label=MORE_NEWS, teasers=tuple(more), gathered=True),
        ]
    within = _within(sections, layout.max_stories - 1, urls, kept)
    placed = {id(t) for section in within for t in section.teasers}
    for article in _ranked(sections, urls):
        if id(article) not in placed:
            reasons[urls[article.url]] = f"max_stories = {layout.max_stories}"
    return within, reasons


def _ranked(sections: Iterable[Section], urls: CanonicalUrls) -> list[Article]:
    """The teasers of ``sections``, best-ranked first."""
    teasers = (t for section in sections for t in section.teasers)
    return sorted(teasers, key=lambda article: _rank(article, urls))


def _without(sections: Iterable[Section], dropped: Iterable[Article]) -> tuple[Section, ...]:
    """``sections`` without the teasers in ``dropped``, and without the sections left empty."""
    gone = {id(article) for article in dropped}
    kept = []
    for section in sections:
        teasers = tuple(t for t in section.teasers if id(t) not in gone)
        if len(teasers) == len(section.teasers):
            kept.append(section)
        elif teasers:
            kept.append(section.model_copy(update={"teasers": teasers}))
    return tuple(kept)


def _within(
    sections: Sequence[Section],
    most: int,
    urls: CanonicalUrls,
    kept: Collection[str] = frozenset(),
) -> tuple[Section, ...]:
    """The sections with only their ``most`` best-ranked teasers in all, the ``kept`` among them."""
    ranked = _ranked(sections, urls)
    others = droppable(ranked, kept, urls)
    return _without(sections, others[max(0, most - (len(ranked) - len(others))) :])


def droppable(
    ranked: Sequence[Article], kept: Collection[str], urls: CanonicalUrls | None = None
) -> list[Article]:
    """``ranked`` with the stories an editor brought back (``kept`` URLs) taken out."""
    if not kept:
        return list(ranked)
    urls = CanonicalUrls() if urls is None else urls
    return [a for a in ranked if urls[a.url] not in kept]


def without_teasers(edition: Edition, dropped: Collection[Article]) -> Edition:
    """The edition without the teasers in ``dropped`` (and without sections left empty)."""
    return edition.model_copy(update={"sections": _without(edition.sections, dropped)})


def teasers_by_rank(edition: Edition, urls: CanonicalUrls | None = None) -> list[Article]:
    """The edition's teasers, best-ranked first."""
    return _ranked(edition.sections, CanonicalUrls() if urls is None else urls)


def map_sections(articles: Sequence[Article], section_map: Mapping[str, str]) -> list[Article]:
    """Articles with their section renamed by ``section_map`` (case does not matter)."""
    if not section_map:
        return list(articles)
    folded = {key.casefold(): value for key, value in section_map.items()}
    return [
        article.model_copy(update={"section": folded[article.section.casefold()]})
        if article.section.casefold() in folded
        else article
        for article in articles
    ]


def _singular(word: str) -> str:
    """``word`` without an English plural ending (stories -> story, sports -> sport)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def section_key(name: str) -> str:
    """A section name as compared: ignoring case, accents, punctuation, spacing and a plural s."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_singular(word) for word in normalise_title(bare).split())


def onto_sections(articles: Sequence[Article], layout: Layout) -> list[Article]:
    """Articles with their section renamed by ``section_map`` and put onto ``layout.sections``.

    A section that names a configured one (``section_key``) takes its name; when the layout
    names sections, one that names none goes to ``default_section`` if there is one.
    """
    mapped = map_sections(articles, layout.section_map)
    if not layout.sections:
        return mapped
    names = {section_key(spec.name): spec.name for spec in layout.sections}
    placed = []
    for article in mapped:
        name = names.get(section_key(article.section), layout.default_section)
        if name is None or name == article.section:
            placed.append(article)
        else:
            placed.append(article.model_copy(update={"section": name}))
    return placed


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
) -> Edition:
    """Choose the lead, the section teasers and the quote of the edition dated ``on``.

    The stories are those of ``window_stories`` (which says how the window, the earlier
    editions and copies count); quotes in ``recent_quotes`` are avoided. An editor's ``plan``
    is applied on top: a story it names that is not among the window's is a ``PlanError``.
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
) -> tuple[Edition, dict[str, str]]:
    """``select_edition``, and why each story of the window it left out was (by URL)."""
    urls = CanonicalUrls() if urls is None else urls
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
    if plan.lead is not None:
        lead = next(a for a in stories if urls[a.url] == urls[plan.lead])
    quote = pick_quote(quotes, on, recent_quotes)
    if plan.quote is not None:
        quote = next((q for q in quotes if q.text == plan.quote), None)
        if quote is None:
            raise PlanError(f"plan: the quote {plan.quote[:60]!r} is not among the quotes given")
    order = [urls[url] for url in plan.order]
    teasers = [a for a in stories if a is not lead]
    sections, reasons = _sections(teasers, newsletter, urls, kept, order)
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

    def describe(self) -> str:
        """One line: where the article went or why it was left out, then its title."""
        if self.reason is not None:
            return f"left out, {self.reason}: {self.article.title}"
        where = "lead" if self.position == 0 else f"{self.place}, {self.position}"
        return f"{where}: {self.article.title}"


def explain_edition(
    articles: Sequence[Article],
    newsletter: Newsletter,
    edition: Edition,
    *,
    window: tuple[datetime, datetime] | None = None,
    featured_before: Collection[str] = (),
    plan: Plan | None = None,
) -> list[Fate]:
    """What became of each of ``articles`` in ``edition``: its place, or the one reason why not.

    ``edition`` is what ``select_edition`` chose from them with the same ``window``,
    ``featured_before`` and ``plan``, less the teasers the size budget left out afterwards.
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
        )
    places: dict[str, tuple[str, int]] = {urls[edition.lead.url]: ("lead", 0)}
    for section in edition.sections:
        for n, teaser in enumerate(section.teasers, 1):
            places[urls[teaser.url]] = (section.label, n)
    selected = {urls[a.url] for a in chosen.articles} if chosen else set()
    budget = f"the size budget ({newsletter.layout.size_budget_kb:g} KB)"
    fates = []
    for article in articles:
        url = urls[article.url]
        reason = reasons.get(id(article))
        if reason is None and url in places:
            place, position = places[url]
            fates.append(Fate(article, place=place, position=position))
            continue
        if reason is None:
            reason = budget if url in selected else why.get(url, "not chosen")
        fates.append(Fate(article, reason=reason))
    return fates


def _teasers(count: int) -> str:
    return f"{count} {'teaser' if count == 1 else 'teasers'}"
