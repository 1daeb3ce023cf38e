"""Rendering: an edition through Jinja2 templates into MJML, then HTML (mjml-python), and text."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from babel import Locale
from markupsafe import Markup

from digest.colour import dark_theme
from digest.edition import Edition
from digest.errors import TemplateError
from digest.labels import labels_for
from digest.models import Newsletter
from digest.render.context import _single_line, edition_context, language_tag
from digest.render.mjml import compile_mjml
from digest.render.options import RenderOptions, default_template_dir
from digest.render.sandbox import (
    MAX_OUTPUT,
    BoundedSandbox,
    ConfinedLoader,
    Guard,
    guarded,
    include_loader,
)
from digest.text import columns, cut_text, wrap

__all__ = ["RenderOptions", "RenderedEdition", "Renderer", "default_template_dir"]


# Invisible characters after the preheader keep the inbox preview from showing body text.
PREHEADER_FILLER = Markup("&#847;&zwnj;&nbsp;" * 60)


EDITION_TEMPLATE = "edition.mjml.j2"


TEXT_TEMPLATE = "edition.txt.j2"


SUBJECT_TEMPLATE = "subject.txt.j2"


PREHEADER_TEMPLATE = "preheader.txt.j2"


ARCHIVE_TEMPLATE = "archive.html.j2"


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

    def subject(self, edition: Edition, newsletter: Newsletter, source: str) -> str:
        """A subject template (an A/B variant) rendered for ``edition``, cut as subjects are."""
        context = {**self.context(edition, newsletter), "reader": None}
        line = self.render_source(source, context, "subject variant")
        return cut_text(_single_line(line), newsletter.layout.subject_length)

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
        if edition.subject and subject_source is None:
            line = edition.subject  # this week's, from an editor's plan
        subject = cut_text(_single_line(line), newsletter.layout.subject_length)
        preheader = edition.preheader or self.render_template(
            PREHEADER_TEMPLATE, context, markup=False
        )
        preheader = cut_text(_single_line(preheader), newsletter.layout.preheader_length)
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
