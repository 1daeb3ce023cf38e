"""The edition: its lead, its sections of teasers and its quote, as selection made it."""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from digest.models import Article, Quote
from digest.text import one_line

__all__ = ["Edition", "Section", "edition_key", "edition_key_date"]


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


def edition_key(newsletter_name: str, on: date, number: int | None) -> str:
    """What the send ledger knows an edition by: the newsletter, the date, the number."""
    suffix = f" #{number}" if number is not None else ""
    return f"{one_line(newsletter_name)} {on.isoformat()}{suffix}"


_KEY_DATE = re.compile(r" (\d{4}-\d{2}-\d{2})(?: #\d+)?\Z")


def edition_key_date(key: str) -> date | None:
    """The date an ``edition_key`` names (its newsletter's name may hold dates too)."""
    found = _KEY_DATE.search(key)
    try:
        return date.fromisoformat(found.group(1)) if found else None
    except ValueError:
        return None
