"""Rendering: an edition through Jinja2 templates into MJML, then HTML (mjml-python), and text."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import jinja2
import mjml
from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from markupsafe import Markup

from .colour import dark_theme
from .errors import InputError, RenderError, TemplateError
from .labels import labels_for
from .models import Article, Newsletter
from .sandbox import MAX_OUTPUT, BoundedSandbox, ConfinedLoader, Guard, guarded, include_loader
from .select import Edition
from .text import columns, cut_text, wrap

if TYPE_CHECKING:
    from .sandbox import IncludeLoader

__all__ = ["RenderOptions", "RenderedEdition", "Renderer", "default_template_dir"]

# Invisible characters after the preheader keep the inbox preview from showing body text.
PREHEADER_FILLER = Markup("&#847;&zwnj;&nbsp;" * 60)
EDITION_TEMPLATE = "edition.mjml.j2"
TEXT_TEMPLATE = "edition.txt.j2"
SUBJECT_TEMPLATE = "subject.txt.j2"
PREHEADER_TEMPLATE = "preheader.txt.j2"
ARCHIVE_TEMPLATE = "archive.html.j2"


def default_template_dir() -> Path:
    """Return the folder of the default templates (inside the installed package)."""
    packaged = Path(str(resources.files("digest"))) / "templates"
    if packaged.is_dir():
        return packaged
    # A source checkout (or an editable install) keeps them at the top of the repository.
    return Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class RenderOptions:
    """How to render: where user templates live and where relative asset URLs point."""

    template_dir: Path | None = None
    asset_base_url: str | None = None
    text_width: int = 72
    #: Render the web (archive) version: no unsubscribe link, no "view in browser" link.
    web: bool = False
    #: The most seconds one edition's templates may take (None: no limit).
    time_limit: float | None = 10.0

    def __post_init__(self) -> None:
        """Accept any path-like ``template_dir``."""
        if self.template_dir is not None and not isinstance(self.template_dir, Path):
            object.__setattr__(self, "template_dir", Path(self.template_dir))


@dataclass(frozen=True)
class RenderedEdition:
    """An edition rendered for email: subject, preheader, HTML (not yet inlined) and text."""

    subject: str
    preheader: str
    html: str
    text: str


class Renderer:
    """Renders editions with one set of templates; build it once and reuse it."""

    def __init__(self, options: RenderOptions | None = None) -> None:
        """Prepare the template environments for ``options``."""
        self.options = options or RenderOptions()
        folders = [default_template_dir()]
        if self.options.template_dir is not None:
            if not self.options.template_dir.is_dir():
                raise TemplateError(f"template_dir: no such folder: {self.options.template_dir}")
            folders.insert(0, self.options.template_dir)
        self._folders = folders
        self._include = include_loader(folders)
        # Renderers of the same templates share their environments, and so the compiled
        # templates (a build renders the email, its local preview and its archive page).
        self._markup_env, self._text_env = _environments(tuple(folders))

    def context(self, edition: Edition, newsletter: Newsletter) -> dict[str, Any]:
        """Return the plain data the templates see: strings, numbers, lists and dicts."""
        return edition_context(edition, newsletter, self.options)

    def render_template(self, name: str, context: Mapping[str, Any], markup: bool) -> str:
        """Render one template by name, turning Jinja2's errors into ``TemplateError``."""
        env = self._markup_env if markup else self._text_env
        return self._generate(lambda: env.get_template(name), name, context)

    def render_source(self, source: str, context: Mapping[str, Any], name: str) -> str:
        """Render a template given as text (a subject variant), as plain text."""
        return self._generate(lambda: self._text_env.from_string(source), name, context)

    def _generate(
        self, template: Callable[[], jinja2.Template], name: str, context: Mapping[str, Any]
    ) -> str:
        try:
            chunks, size = [], 0
            for chunk in template().generate(context):
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise TemplateError(f"{name}: the output is over {MAX_OUTPUT:,} characters")
                chunks.append(chunk)
            return "".join(chunks)
        except jinja2.TemplateNotFound as error:
            raise TemplateError(f"template not found: {error.name}") from None
        except jinja2.TemplateSyntaxError as error:
            raise TemplateError(
                f"{error.filename or error.name}:{error.lineno}: {error.message}"
            ) from None
        except jinja2.TemplateError as error:
            raise TemplateError(f"{name}: {error}") from None
        except TemplateError:
            raise
        except MemoryError:
            raise TemplateError(f"{name}: the template ran out of memory") from None
        except Exception as error:  # a user template can raise anything Python can
            raise TemplateError(f"{name}: {type(error).__name__}: {error}") from None

    def render_archive(self, newsletter: Newsletter, editions: list[dict[str, Any]]) -> str:
        """Render the archive's index page; ``editions`` have href, subject, number and date."""
        locale = Locale.parse(newsletter.locale)
        labels = labels_for(newsletter.locale, newsletter.labels)
        context = {
            "lang": language_tag(locale),
            "dir": "rtl" if locale.character_order == "right-to-left" else "ltr",
            "labels": labels,
            "theme": newsletter.brand.theme.model_dump(),
            "theme_dark": dark_theme(newsletter.brand.theme),
            "newsletter": {"name": newsletter.name},
            "editions": editions,
        }
        with guarded(self.options.time_limit):
            return self.render_template(ARCHIVE_TEMPLATE, context, markup=True)

    def render(
        self, edition: Edition, newsletter: Newsletter, reader: Mapping[str, Any] | None = None
    ) -> RenderedEdition:
        """Render an edition's subject, preheader, HTML and plain text.

        ``reader`` is what templates see as ``reader``: name, address, unsubscribe_url, fields.
        """
        return self.render_guarded(edition, newsletter, reader)[0]

    def render_guarded(
        self,
        edition: Edition,
        newsletter: Newsletter,
        reader: Mapping[str, Any] | None = None,
        markers: Sequence[str] = (),
        subject: str | None = None,
    ) -> tuple[RenderedEdition, Guard]:
        """Render within the time limit; the guard tells what the templates did with ``markers``.

        ``markers`` are strings whose every use other than printing is noted (``Guard.uses``);
        ``subject`` is a template (text) that replaces ``subject.txt.j2``.
        """
        with guarded(self.options.time_limit, markers) as guard:
            return self._render(edition, newsletter, reader, subject), guard

    def _render(
        self,
        edition: Edition,
        newsletter: Newsletter,
        reader: Mapping[str, Any] | None,
        subject: str | None = None,
    ) -> RenderedEdition:
        context = self._full_context(edition, newsletter, reader, subject)
        source = self.render_template(EDITION_TEMPLATE, context, markup=True)
        text = self.render_template(TEXT_TEMPLATE, context, markup=False)
        return RenderedEdition(
            subject=context["subject"],
            preheader=context["preheader"],
            html=compile_mjml(source, self._include),
            text=text.strip() + "\n",
        )

    def mjml(
        self, edition: Edition, newsletter: Newsletter, reader: Mapping[str, Any] | None = None
    ) -> str:
        """The MJML the edition template makes, before it is compiled (to inspect or compare)."""
        with guarded(self.options.time_limit):
            context = self._full_context(edition, newsletter, reader)
            return self.render_template(EDITION_TEMPLATE, context, markup=True)

    def _full_context(
        self,
        edition: Edition,
        newsletter: Newsletter,
        reader: Mapping[str, Any] | None,
        subject_source: str | None = None,
    ) -> dict[str, Any]:
        """The template context with the reader, the subject and the preheader filled in."""
        context = self.context(edition, newsletter)
        context["reader"] = reader
        if subject_source is None:
            line = self.render_template(SUBJECT_TEMPLATE, context, markup=False)
        else:
            line = self.render_source(subject_source, context, "subject variant")
        subject = cut_text(_single_line(line), newsletter.layout.subject_length)
        preheader = cut_text(
            _single_line(self.render_template(PREHEADER_TEMPLATE, context, markup=False)),
            newsletter.layout.preheader_length,
        )
        context.update(subject=subject, preheader=preheader, preheader_filler=PREHEADER_FILLER)
        return context


@lru_cache(maxsize=16)
def _environments(folders: tuple[Path, ...]) -> tuple[BoundedSandbox, BoundedSandbox]:
    """The markup and text environments of one list of template folders.

    Their per-render state (the time limit, the guard) lives in context variables, so one
    environment serves every renderer and thread; Jinja2 reloads a template whose file changed.
    """
    # User templates come first; "default/NAME" always reaches the shipped template, so a
    # user template can extend the one it replaces and override single blocks.
    loader = jinja2.ChoiceLoader(
        [
            ConfinedLoader(list(folders)),
            jinja2.PrefixLoader({"default": ConfinedLoader([default_template_dir()])}),
        ]
    )

    def environment(autoescape: bool) -> BoundedSandbox:
        return BoundedSandbox(
            # Plain text measured in display columns, with links kept whole.
            filters={"wrap": wrap, "columns": columns},
            loader=loader,
            autoescape=autoescape,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    return environment(True), environment(False)


#: How deeply elements may nest in the MJML handed to the compiler, which is recursive: tens
#: of thousands of nested elements overflow its stack and end the process.
MAX_MJML_DEPTH = 200
_TAG = re.compile(r"<(/?)([A-Za-z][\w:-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>|<!--.*?-->", re.DOTALL)
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
# What MRML escapes in an attribute (Rust's Debug form): non-ASCII marks, backslashes, tabs
# and line breaks; all non-ASCII is written as references, to be safe from its next version.
_ESCAPED_BY_MRML = re.compile(r"[^\x20-\x5b\x5d-\x7e]")
_TITLE = re.compile(r"(<mj-title\b[^>]*>)(.*?)(</mj-title>)", re.DOTALL)
# Elements with no end tag in HTML (MJML passes HTML through in mj-text, mj-button, mj-raw).
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)


def _character_references(source: str) -> str:
    r"""Non-ASCII characters (and ``\``, tabs, line breaks) in attributes as references.

    mjml-python (MRML) writes a combining mark in an attribute as a Rust escape (the alt
    text ``न्यूज़18`` became ``न\u{94d}य…``) but passes character references through; the
    HTML parser after it reads them back as the characters they stand for. The text of
    ``mj-title`` is written so too: MRML copies it into the ``aria-label`` of the body.
    """

    def tag(match: re.Match[str]) -> str:
        text = match.group(0)
        if match.group(3) is None or not _ESCAPED_BY_MRML.search(text):
            return text
        return _QUOTED.sub(lambda value: _references(value.group(0)), text)

    source = _TITLE.sub(lambda m: m.group(1) + _references(m.group(2)) + m.group(3), source)
    return _TAG.sub(tag, source)


def _references(text: str) -> str:
    return _ESCAPED_BY_MRML.sub(lambda c: f"&#x{ord(c.group(0)):x};", text)


def _check_depth(source: str) -> None:
    """Refuse MJML whose elements nest deeper than ``MAX_MJML_DEPTH``."""
    depth = deepest = 0
    for match in _TAG.finditer(source):
        closing, name, rest = match.group(1), match.group(2), match.group(3)
        if name is None or name.lower() in _VOID or rest.rstrip().endswith("/"):
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_MJML_DEPTH:
                raise RenderError(
                    f"the MJML nests elements more than {MAX_MJML_DEPTH} deep "
                    f"(<{name}> at character {match.start():,}); the compiler would crash"
                )


def compile_mjml(source: str, loader: IncludeLoader | None = None) -> str:
    """Compile MJML to HTML with mjml-python, without MJML's default web fonts.

    ``loader`` reads ``mj-include`` files; without one, ``mj-include`` is an error. Web fonts
    come only from ``mj-font`` elements in the template (the theme's ``web_fonts``). The
    source (and every included file) is checked for depth and has the non-ASCII characters
    of its attribute values written as references (see ``_character_references``).
    """
    source = _prepared(source)
    included = None if loader is None else _prepared_loader(loader)
    try:
        html: str = mjml.mjml2html(source, fonts={}, disable_comments=True, include_loader=included)
    except (ValueError, OSError) as error:
        raise RenderError(f"MJML did not compile: {error}") from None
    return html


def _prepared(source: str) -> str:
    _check_depth(source)
    return _character_references(source)


def _prepared_loader(loader: IncludeLoader) -> IncludeLoader:
    def load(path: str) -> str:
        return _prepared(loader(path))

    return load


def _single_line(text: str) -> str:
    return " ".join(text.split())


def _paragraphs(text: str | None) -> list[str]:
    return [" ".join(p.split()) for p in (text or "").split("\n\n") if p.strip()]


def archive_page_url(newsletter: Newsletter, edition: Edition) -> str | None:
    """The public address of an edition's archive page, when the newsletter has an archive."""
    if newsletter.links.archive_url is None:
        return None
    return urljoin(
        newsletter.links.archive_url.rstrip("/") + "/", f"{edition.date.isoformat()}.html"
    )


DATE_STYLES = ("full", "long", "medium", "short")


def language_tag(locale: Locale) -> str:
    """The BCP 47 tag of a locale, for ``lang`` attributes: ``en-GB``, ``zh-Hans``, ``id``."""
    return "-".join(part for part in (locale.language, locale.script, locale.territory) if part)


def format_moment(moment: datetime, newsletter: Newsletter, locale: Locale) -> str:
    """An article's date and time in the newsletter's zone, as the locale writes them.

    ``date_format`` is a style of the locale (full, long, medium, short), joined with the time
    in ``time_format`` the way the locale joins them, or a CLDR pattern used as it is.
    """
    if newsletter.layout.date_format not in DATE_STYLES:
        return format_datetime(
            moment, newsletter.layout.date_format, tzinfo=newsletter.zone, locale=locale
        )
    local = moment.astimezone(newsletter.zone)
    day = format_date(local, newsletter.layout.date_format, locale=locale)
    if newsletter.layout.time_format is None:
        return day
    clock = format_time(local, newsletter.layout.time_format, tzinfo=newsletter.zone, locale=locale)
    joined = str(locale.datetime_formats[newsletter.layout.date_format])
    # CLDR quotes literal words in the joining pattern: "{1} 'at' {0}".
    joined = re.sub(r"'([^']*)'", r"\1", joined)
    return joined.replace("{1}", day).replace("{0}", clock)


def resolve_asset(url: str, base: str | None, where: str) -> str:
    """Resolve a relative image path against the asset base URL."""
    if "://" in url:
        return url
    if base is None:
        raise InputError(
            f"{where}: {url!r} is a relative path but the newsletter has no asset_base_url"
        )
    return urljoin(base if base.endswith("/") else base + "/", url)


def edition_context(
    edition: Edition, newsletter: Newsletter, options: RenderOptions | None = None
) -> dict[str, Any]:
    """Build the template context of an edition as plain, JSON-like data."""
    options = options or RenderOptions()
    locale = Locale.parse(newsletter.locale)
    base = options.asset_base_url or newsletter.links.asset_base_url
    labels = labels_for(newsletter.locale, newsletter.labels)
    labels["why"] = labels["why"].replace("{name}", newsletter.name)
    return {
        **_document_context(newsletter, locale, labels, options),
        "view_online_url": archive_page_url(newsletter, edition) or "",
        "newsletter": _brand_context(newsletter, base),
        "edition": _stories_context(edition, newsletter, locale, base, labels),
    }


def _document_context(
    newsletter: Newsletter, locale: Locale, labels: dict[str, str], options: RenderOptions
) -> dict[str, Any]:
    """The whole document's part: language, direction, words, colours, layout switches."""
    return {
        "text_width": options.text_width,
        "web": options.web,
        "reader": None,
        "lang": language_tag(locale),
        "locale": str(locale),
        "dir": "rtl" if locale.character_order == "right-to-left" else "ltr",
        "labels": labels,
        "theme": newsletter.brand.theme.model_dump(),
        "theme_dark": dark_theme(newsletter.brand.theme),
    }


def _brand_context(newsletter: Newsletter, base: str | None) -> dict[str, Any]:
    """The masthead's and the footer's part: name, logo, sender, address, links."""
    logo = newsletter.brand.logo
    return {
        "name": newsletter.name,
        "tagline": newsletter.tagline or "",
        "footer_text": newsletter.brand.footer_text or "",
        "url": newsletter.url or "",
        "logo": None
        if logo is None
        else {
            "url": resolve_asset(logo.url, base, "newsletter.brand.logo.url"),
            "dark_url": resolve_asset(logo.dark_url, base, "newsletter.brand.logo.dark_url")
            if logo.dark_url
            else "",
            "alt": logo.alt,
            "width": logo.width,
            "height": logo.height,
        },
        "sender": newsletter.sender.model_dump(),
        "postal_address": [line for line in newsletter.contact.postal_address.split("\n") if line],
        "unsubscribe_url": newsletter.contact.unsubscribe_url or "",
        "social": [link.model_dump() for link in newsletter.brand.social],
    }


def _stories_context(
    edition: Edition,
    newsletter: Newsletter,
    locale: Locale,
    base: str | None,
    labels: dict[str, str],
) -> dict[str, Any]:
    """The stories' part: the date, the lead, the sections of teasers and the quote."""
    section_labels = {
        spec.name.casefold(): spec.label or spec.name for spec in newsletter.layout.sections
    }

    def article(item: Article) -> dict[str, Any]:
        return _article_context(item, newsletter, locale, base, section_labels)

    return {
        "date": format_date(edition.date, "full", locale=locale),
        "date_iso": edition.date.isoformat(),
        "number": edition.number,
        "lead": article(edition.lead),
        "sections": [
            {
                "name": section.name,
                "label": labels["more_news"] if section.gathered else section.label,
                "teasers": [article(teaser) for teaser in section.teasers],
            }
            for section in edition.sections
        ],
        "quote": None if edition.quote is None else edition.quote.model_dump(),
    }


def _article_context(
    item: Article,
    newsletter: Newsletter,
    locale: Locale,
    base: str | None,
    section_labels: Mapping[str, str],
) -> dict[str, Any]:
    """One story: the lead or a teaser, with its picture."""
    image = None
    if item.image_url is not None:
        image = {
            "url": resolve_asset(item.image_url, base, f"image_url of {item.url}"),
            "alt": item.image_alt or "",
            "caption": item.image_caption or "",
            "credit": item.image_credit or "",
            # Height over width, when the article gives the picture's size.
            "ratio": item.image_height / item.image_width
            if item.image_width and item.image_height
            else None,
        }
    return {
        "title": item.title,
        "url": item.url,
        "section": section_labels.get(item.section.casefold(), item.section),
        "author": item.author or "",
        "published": format_moment(item.published_at, newsletter, locale),
        "published_iso": item.published_at.isoformat(),
        "summary": _paragraphs(item.summary),
        # Sanitised by the model (nh3): only paragraphs, emphasis, breaks and safe links.
        "summary_html": Markup(item.summary_html) if item.summary_html else "",
        "image": image,
    }
