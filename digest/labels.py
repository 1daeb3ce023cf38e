"""The words of the default templates, from gettext catalogs; a newsletter can override any.

Each label is a message in the ``digest`` domain (``digest/locales/LOCALE/LC_MESSAGES``):
``pybabel extract`` finds them here, translators edit the ``.po`` files, and the compiled
``.mo`` files ship in the wheel. A locale without a catalog takes the nearest one (``pt`` takes
``pt_PT``, ``zh_CN`` takes ``zh_Hans``, ``zh_TW``, ``zh_HK`` and ``zh_MO`` take ``zh_Hant``, an
unknown language takes English), and :func:`catalog_for` says when the words are not in the
edition's own language or variant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.support import NullTranslations, Translations

__all__ = ["CATALOGS", "LABEL_MESSAGES", "CatalogChoice", "catalog_for", "labels_for"]

DOMAIN = "digest"
CATALOGS = Path(__file__).parent / "locales"


@dataclass(frozen=True)
class Message:
    """A message to translate, with the context that tells translators what it is for."""

    text: str
    context: str | None = None


def N_(text: str) -> Message:
    """Mark a message for extraction."""
    return Message(text)


def C_(context: str, text: str) -> Message:
    """Mark a message with a context for extraction."""
    return Message(text, context)


#: Every label the default templates use, by key, in English.
LABEL_MESSAGES: Mapping[str, Message] = {
    "edition": N_("Edition"),
    # {number} is the edition's number.
    "edition_number": N_("Edition #{number}"),
    "read_more": N_("Read more"),
    # Read out by screen readers before the story's title: "Read more about: <title>".
    "read_more_about": N_("Read more about"),
    "by": C_("before the author's name", "By"),
    "photo": C_("before a picture's caption or credit", "Photo"),
    "quote": N_("Quote of the week"),
    "quote_open": C_("opening quotation mark", "“"),
    "quote_close": C_("closing quotation mark", "”"),
    "follow_us": N_("Connect with us"),
    # {name} is the newsletter's name.
    "why": N_("You are receiving this email because you subscribed to {name}."),
    "unsubscribe": N_("Unsubscribe"),
    # The footer's link to the reader's preferences page (sections, pause, time zone).
    "preferences": N_("Choose what you get"),
    # Starts the inbox preview that lists the other stories.
    "also": N_("Also"),
    "view_online": N_("View this edition in your browser"),
    "archive": N_("All editions"),
    # The archive page's link to its Atom feed, which a feed reader follows for new editions.
    "archive_feed": N_("Follow new editions in a feed reader"),
    # The section that gathers stories from sections too small to stand alone.
    "more_news": N_("More news"),
    # The section of stories whose feed names no category.
    "news": C_("the section of stories that name none", "News"),
}

# Where a language's own CLDR default is not the variant most newsrooms write.
_PREFERRED = {"pt": "pt_PT", "zh": "zh_Hans"}


@dataclass(frozen=True)
class CatalogChoice:
    """The catalog an edition's words come from, and why, when it is not its own."""

    locale: str
    catalog: str
    #: Set when the catalog is another language or variant than ``locale``.
    note: str | None = None


@lru_cache(maxsize=1)
def available() -> frozenset[str]:
    """The locales that have a compiled catalog."""
    return frozenset(
        path.parent.parent.name for path in CATALOGS.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")
    )


def catalog_for(locale: str) -> CatalogChoice:
    """The catalog nearest to ``locale``: itself or a parent, the preferred variant, or English."""
    have = available()
    try:
        parsed = Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return CatalogChoice(locale, "en", f"locale {locale!r} is unknown; labels are in English")
    name = str(parsed)
    language, territory = parsed.language, parsed.territory
    # zh_CN is written in Hans, zh_TW in Hant: CLDR's likely subtags know which.
    script = parsed.script or _likely_script(language, territory)
    parents = [
        "_".join(part for part in parts if part)
        for parts in ((language, script, territory), (language, territory), (language, script))
    ]
    if language == "en" or language in have:
        parents.append(language)
    for parent in dict.fromkeys(parents):
        if parent in have or parent == "en":
            return CatalogChoice(name, parent)
    nearest = _PREFERRED.get(language)
    if nearest not in have:
        nearest = min((c for c in have if c.split("_")[0] == language), default="en")
    words = "English" if nearest == "en" else nearest
    return CatalogChoice(name, nearest, f"locale {name!r} has no catalog; labels are in {words}")


def _likely_script(language: str, territory: str | None) -> str | None:
    likely: Mapping[str, str] = get_global("likely_subtags")
    full = likely.get(f"{language}_{territory}") or likely.get(language) or ""
    parts = full.split("_")
    return parts[1] if len(parts) > 2 and len(parts[1]) == 4 else None


@lru_cache(maxsize=64)
def _translations(catalog: str) -> NullTranslations:
    if catalog == "en":
        return NullTranslations()
    return Translations.load(str(CATALOGS), [catalog], DOMAIN)


def translate(message: Message, catalog: str) -> str:
    """``message`` in the words of ``catalog``."""
    translations = _translations(catalog)
    if message.context is not None:
        return str(translations.pgettext(message.context, message.text))
    return str(translations.gettext(message.text))


def labels_for(locale: str, overrides: Mapping[str, str] = {}) -> dict[str, str]:
    """The labels for ``locale`` from its nearest catalog, with ``overrides`` applied."""
    catalog = catalog_for(locale).catalog
    labels = {key: translate(message, catalog) for key, message in LABEL_MESSAGES.items()}
    labels.update(overrides)
    return labels


#: Words of a link that only point to the full article, in the languages feeds are most often
#: written in (lower case). Feed cleaning drops trailers that say them; the check flags links
#: whose whole text is one of them (with the catalogs' own "Read more").
READ_MORE_PHRASES = (
    "continue reading",
    "read more",
    "read full story",
    "read full article",
    "read the full story",
    "read the full article",
    "read on",
    "full story",
    "weiterlesen",
    "mehr lesen",
    "lire la suite",
    "lire plus",
    "leia mais",
    "ler mais",
    "continuar lendo",
    "continuar leyendo",
    "seguir leyendo",
    "leer más",
    "leer mas",
    "leggi tutto",
    "leggi di più",
    "leggi di piu",
    "continua a leggere",
    "lees meer",
    "lees verder",
    "verder lezen",
    "baca selengkapnya",
    "selengkapnya",
    "читать далее",
    "続きを読む",
    "阅读全文",
    "閱讀全文",
    "اقرأ المزيد",
)


@lru_cache(maxsize=16)
def every_translation(key: str) -> frozenset[str]:
    """One label in every catalog, case folded (to recognise it in any language)."""
    message = LABEL_MESSAGES[key]
    return frozenset(translate(message, catalog).casefold() for catalog in available() | {"en"})
