"""The edition: its lead, its sections of teasers and its quote, as selection made it."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from digest.models import Article, Quote

__all__ = ["Edition", "Section"]


class Section(BaseModel):
    """A labelled group of teasers in an edition."""

    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    teasers: tuple[Article, ...] = Field(min_length=1)
    #: True for the section that gathers stories of sections beyond ``max_sections``.
    gathered: bool = False


class Edition(BaseModel):
    """What one email holds: its date, the lead story, the sections and the closing quote."""

    model_config = ConfigDict(frozen=True)

    date: date
    number: int | None = None
    lead: Article
    sections: tuple[Section, ...] = ()
    quote: Quote | None = None
    #: This week's subject and preheader from an editor's plan (else the templates' own).
    subject: str | None = None
    preheader: str | None = None
    #: An editor's note at the top of the email: plain text, paragraphs between blank lines.
    note: str | None = None

    @property
    def articles(self) -> tuple[Article, ...]:
        """Every article in the edition, the lead first, in reading order."""
        return (self.lead, *(t for s in self.sections for t in s.teasers))
