"""The pages a reader sees, in the newsletter's language: one button to leave, and what happened."""

from __future__ import annotations

from html import escape

from babel import Locale, UnknownLocaleError

from digest.labels import N_, Message, catalog_for, translate

__all__ = ["STYLE", "html_start", "page", "page_catalog", "say"]

_PROBE = N_("This link does not work")


#: The pages' style sheet: light and dark, 48 px targets, a visible focus.
STYLE = """
:root { color-scheme: light dark; }
body { margin: 0; padding: 0 1rem; background: #f4f5f7; color: #1d2430;
  font: 18px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { box-sizing: border-box; max-width: 32rem; margin: 12vh auto; padding: 2rem 1.5rem;
  background: #fff; border-radius: 12px; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 1rem; }
p { margin: 0 0 1.25rem; overflow-wrap: anywhere; }
button { font: inherit; font-weight: 600; min-height: 48px; min-width: 48px;
  padding: 0.75rem 1.5rem; border: 0; border-radius: 8px; background: #0b57d0; color: #fff;
  cursor: pointer; }
button:focus-visible, a:focus-visible { outline: 3px solid #f9ab00; outline-offset: 3px; }
a { color: #0b57d0; display: inline-block; min-height: 48px; line-height: 48px; }
.other { margin: 1.5rem 0 0; }
@media (prefers-color-scheme: dark) {
  body { background: #111418; color: #e8eaed; }
  main { background: #1f2329; }
  button { background: #8ab4f8; color: #0b1a33; }
  a { color: #8ab4f8; }
}
"""


def page_catalog(locale: str) -> str:
    """The catalog of the reader's pages for ``locale``: its nearest, or English without them.

    A catalog that translates "This link does not work" has every word of the pages.
    """
    catalog = catalog_for(locale).catalog
    return catalog if translate(_PROBE, catalog) != _PROBE.text else "en"


def say(message: Message, catalog: str, **values: str) -> str:
    """``message`` in the words of ``catalog``, its placeholders filled with ``values``."""
    text = translate(message, catalog)
    return text.format(**values) if values else text


def html_start(catalog: str = "en") -> str:
    """The ``<html>`` tag in the language of ``catalog``, right to left where it writes so."""
    lang = catalog.replace("_", "-")
    try:
        rtl = Locale.parse(catalog).character_order == "right-to-left"
    except (UnknownLocaleError, ValueError):
        rtl = False
    direction = ' dir="rtl"' if rtl else ""
    return f'<html lang="{escape(lang)}"{direction}>'


def page(
    title: str,
    text: str,
    *,
    button: str = "",
    action: str = "",
    link: tuple[str, str] | None = None,
    catalog: str = "en",
) -> str:
    """A small, accessible HTML page: a heading, a sentence, maybe a button and a link.

    ``catalog`` names the language the words are in (``<html lang>``, and ``dir="rtl"``).
    """
    form = ""
    if button:
        form = (
            f'<form method="post" action="{escape(action)}">'
            '<input type="hidden" name="confirm" value="1">'
            f'<button type="submit">{escape(button)}</button></form>'
        )
    if link is not None:
        form += f'<p class="other"><a href="{escape(link[0])}">{escape(link[1])}</a></p>'
    return (
        f'<!doctype html>\n{html_start(catalog)}<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1><p>{escape(text)}</p>{form}</main></body></html>\n"
    )
