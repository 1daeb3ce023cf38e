"""The whole pipeline in one call: select, render, inline, and the message forms."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from .check import Finding, check_size, check_theme
from .inline import inline_css
from .links import tag_edition
from .message import build_message, message_bytes, message_fields
from .models import Article, Newsletter, Quote, Reader
from .render import Renderer, RenderOptions
from .select import Edition, select_edition

if TYPE_CHECKING:
    from .personal import ReaderMessage

__all__ = ["Digest", "build_digest"]


@dataclass(frozen=True)
class Digest:
    """A finished edition: the selection, and the email ready for any sender."""

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
            self.edition.date, self.newsletter.send_time, tzinfo=self.newsletter.zone
        )

    def _content(self) -> dict[str, Any]:
        return {
            "newsletter": self.newsletter,
            "subject": self.subject,
            "html": self.html,
            "text": self.text,
            "sent_at": self.sent_at,
        }

    def message(self, to: Sequence[str] = ()) -> EmailMessage:
        """Return the email as a ``multipart/alternative`` MIME message."""
        return build_message(**self._content(), to=to)

    def as_bytes(self, to: Sequence[str] = ()) -> bytes:
        """Return the serialised message, ready for ``smtplib`` or an ``.eml`` file."""
        return message_bytes(**self._content(), to=to)

    def messages(
        self, readers: Iterable[Reader], executor: Executor | None = None, chunk: int = 1000
    ) -> Iterator[ReaderMessage]:
        """Each reader's own copy, streamed: ``for message in digest.messages(readers)``.

        See ``digest.personal.Mailing``; pass an ``executor`` to spread chunks over processes.
        """
        from .personal import Mailing  # the personalisation stage builds on this one

        return Mailing(self).messages(readers, executor=executor, chunk=chunk)

    def fields(self, to: Sequence[str] = ()) -> dict[str, str]:
        """Return headers and bodies as plain strings, for an ESP's HTTP API."""
        return message_fields(**self._content(), to=to)


def build_digest(
    articles: Sequence[Article],
    newsletter: Newsletter,
    on: date,
    quotes: Sequence[Quote] = (),
    number: int | None = None,
    renderer: Renderer | None = None,
    options: RenderOptions | None = None,
    *,
    window: tuple[datetime, datetime] | None = None,
    featured_before: Collection[str] = (),
    recent_quotes: Collection[str] = (),
) -> Digest:
    """Select, render and inline the edition of ``newsletter`` dated ``on``.

    Pass a ``Renderer`` to reuse its templates across many builds, or ``options`` to make one.
    """
    edition = select_edition(
        articles,
        newsletter,
        on,
        quotes=quotes,
        number=number,
        window=window,
        featured_before=featured_before,
        recent_quotes=recent_quotes,
    )
    if newsletter.tracking is not None:
        edition = tag_edition(edition, newsletter.tracking)
    renderer = renderer or Renderer(options)
    rendered = renderer.render(edition, newsletter)
    html = inline_css(rendered.html, newsletter.inliner)
    return Digest(
        edition=edition,
        newsletter=newsletter,
        subject=rendered.subject,
        preheader=rendered.preheader,
        html=html,
        text=rendered.text,
        findings=(*check_size(html, newsletter.size_budget_kb), *check_theme(newsletter.theme)),
        options=renderer.options,
    )
