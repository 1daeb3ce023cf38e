"""Sections: how titles and section names compare, and the teasers each section shows.

A story's section is compared by ``section_key`` and put onto the layout's sections by
``onto_sections``; ``group_teasers`` fills each section in the newsletter's order under its
caps (``teasers_per_section`` or its own limit, ``max_sections``, ``max_stories``), saying
why each teaser left out was. A ``Weigh`` (a section's past click-through, with
``weigh_by = "clicks"``) breaks ties among stories the editor ranks equal.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from digest.edition import Edition, Section
from digest.models import Article, Layout, Newsletter
from digest.urls import CanonicalUrls

__all__ = [
    "MORE_NEWS",
    "Weigh",
    "droppable",
    "group_teasers",
    "map_sections",
    "normalise_title",
    "onto_sections",
    "section_key",
    "story_rank",
    "teasers_by_rank",
    "without_teasers",
]


def normalise_title(title: str) -> str:
    """Return a form of ``title`` that ignores case, punctuation and spacing."""
    text = unicodedata.normalize("NFKC", title).casefold()
    kept = "".join(" " if unicodedata.category(ch)[0] in "PZC" else ch for ch in text)
    return " ".join(kept.split())


#: What a story of a section weighs in a tie, by the section's name (its past click-through).
Weigh = Callable[[str], float]


def story_rank(
    article: Article, urls: CanonicalUrls, weigh: Weigh | None = None
) -> tuple[bool, int, float, float, str]:
    """Sort key: editor's picks, priority, what its section ``weigh``s, newest; then the URL."""
    return (
        not article.featured,
        -article.priority,
        -weigh(article.section) if weigh is not None else 0.0,
        -article.published_at.timestamp(),
        urls[article.url],
    )


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


#: The name of the section that gathers the stories of sections beyond ``max_sections``.
MORE_NEWS = "More news"


def group_teasers(
    teasers: Sequence[Article],
    newsletter: Newsletter,
    urls: CanonicalUrls,
    kept: Collection[str] = frozenset(),
    order: Sequence[str] = (),
    weigh: Weigh | None = None,
) -> tuple[tuple[Section, ...], dict[str, str]]:
    """Group teasers by section in the newsletter's order, each within its limit.

    Beyond ``max_sections``, the smallest sections' stories gather in one "More news" section;
    beyond ``max_stories``, the lowest-ranked teasers are left out. Stories whose canonical URL
    is in ``kept`` (an editor brought them back) stay whatever the limits say, and those in
    ``order`` come first in their section, in that order. With ``weigh``, stories the editor
    ranks equal go by their section's weight before their age, and of the sections not
    listed, those of one size go by it too. Also returns why each teaser left out was, by
    canonical URL.
    """
    place = {url: n for n, url in enumerate(order)}
    layout = newsletter.layout
    reasons: dict[str, str] = {}

    def rank(article: Article) -> tuple[int, tuple[bool, int, float, float, str]]:
        return (place.get(urls[article.url], len(place)), story_rank(article, urls, weigh))

    def weight(key: str) -> float:
        return weigh(groups[key][0].section) if weigh is not None else 0.0

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
        order += sorted(others, key=lambda k: (-len(groups[k]), -weight(k), k))
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
    within = _within(sections, layout.max_stories - 1, urls, kept, weigh)
    placed = {id(t) for section in within for t in section.teasers}
    for article in _ranked(sections, urls, weigh):
        if id(article) not in placed:
            reasons[urls[article.url]] = f"max_stories = {layout.max_stories}"
    return within, reasons


def _ranked(
    sections: Iterable[Section], urls: CanonicalUrls, weigh: Weigh | None = None
) -> list[Article]:
    """The teasers of ``sections``, best-ranked first."""
    teasers = (t for section in sections for t in section.teasers)
    return sorted(teasers, key=lambda article: story_rank(article, urls, weigh))


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
    weigh: Weigh | None = None,
) -> tuple[Section, ...]:
    """The sections with only their ``most`` best-ranked teasers in all, the ``kept`` among them."""
    ranked = _ranked(sections, urls, weigh)
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


def teasers_by_rank(
    edition: Edition, urls: CanonicalUrls | None = None, weigh: Weigh | None = None
) -> list[Article]:
    """The edition's teasers, best-ranked first (with ``weigh``, as ``story_rank`` says)."""
    return _ranked(edition.sections, CanonicalUrls() if urls is None else urls, weigh)


def _teasers(count: int) -> str:
    return f"{count} {'teaser' if count == 1 else 'teasers'}"
