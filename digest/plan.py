"""An editor's plan for one edition: the lead, what is left out or brought back, the order.

Selection picks an edition on its own; a ``Plan`` records what an editor changed of it:
the lead, teasers left out and brought back (any story of the window, those the caps or the
size budget left out included), the order within a section, a story moved to another
section, this week's subject and preheader, a short note at the top, and the quote. It is
stored with the edition in the history and applied by ``select_edition``, so that
``digest build`` makes exactly what the desk showed. Stories are named by URL; a plan that
names a story no longer in the window is refused (``PlanError``), never quietly dropped.
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from digest.errors import InputError, PlanError, describe_validation_error
from digest.models import LinkUrl, OneLine, Paragraphs, ShortName
from digest.urls import canonical_url

__all__ = ["Plan", "PlanError", "read_plan"]


Urls = Annotated[list[LinkUrl], Field(max_length=500)]


class Plan(BaseModel):
    """What an editor decided for one edition; everything left empty is selection's choice."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    #: The story to lead with (its URL).
    lead: LinkUrl | None = None
    #: Stories left out of this edition.
    leave_out: Urls = Field(default_factory=list)
    #: Stories brought back: in the edition whatever the caps or the size budget say.
    bring_back: Urls = Field(default_factory=list)
    #: Stories moved to another section: URL → section name.
    sections: dict[LinkUrl, ShortName] = Field(default_factory=dict, max_length=500)
    #: The order of stories within sections (those listed first, in this order).
    order: Urls = Field(default_factory=list)
    #: This week's subject line, instead of the template's.
    subject: OneLine | None = None
    #: This week's preheader (the inbox preview text), instead of the template's.
    preheader: OneLine | None = None
    #: An editor's note at the top: plain text (blank lines between paragraphs; links as URLs).
    note: Annotated[Paragraphs, Field(max_length=2000)] | None = None
    #: The text of the closing quote to use (one of the quotes given to the build).
    quote: Annotated[str, Field(max_length=2000)] | None = None

    def named(self) -> set[str]:
        """The canonical URLs of every story the plan names."""
        urls = [*self.leave_out, *self.bring_back, *self.sections, *self.order]
        if self.lead:
            urls.append(self.lead)
        return {canonical_url(url) for url in urls}

    @property
    def empty(self) -> bool:
        """Whether the plan changes nothing."""
        return self == Plan()


def read_plan(text: str | bytes, where: str = "plan") -> Plan:
    """A plan from its JSON text; an ``InputError`` naming the field and the value otherwise."""
    try:
        return Plan.model_validate(json.loads(text))
    except ValueError as error:
        if isinstance(error, ValidationError):
            raise InputError(f"{where}: {describe_validation_error(error)}") from None
        raise InputError(f"{where}: not JSON: {error}") from None
