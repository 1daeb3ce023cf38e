"""Input models: the articles and quotes an edition is made from.

The settings models (the ``Newsletter`` and its tables, a ``Reader``) live in
``digest.settings``, the cadence in ``digest.cadence`` and the field types in
``digest.fields``; each is imported from here too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, model_validator

from digest.cadence import WEEKDAYS as WEEKDAYS
from digest.cadence import Cadence as Cadence
from digest.cadence import Weekday as Weekday
from digest.fields import Colour as Colour
from digest.fields import EmailAddress as EmailAddress
from digest.fields import FrozenModel, NotEmpty
from digest.fields import HttpsUrl as HttpsUrl
from digest.fields import ImageUrl as ImageUrl
from digest.fields import LinkUrl as LinkUrl
from digest.fields import Name as Name
from digest.fields import OneLine as OneLine
from digest.fields import Paragraphs as Paragraphs
from digest.fields import ShortName as ShortName
from digest.fields import SummaryHtml as SummaryHtml
from digest.fields import WebUrl as WebUrl
from digest.fields import check_locale as check_locale
from digest.fields import check_timezone as check_timezone
from digest.markup import html_to_text
from digest.settings import MOVED_SETTINGS as MOVED_SETTINGS
from digest.settings import Brand as Brand
from digest.settings import Contact as Contact
from digest.settings import Layout as Layout
from digest.settings import Link as Link
from digest.settings import Links as Links
from digest.settings import Logo as Logo
from digest.settings import Newsletter as Newsletter
from digest.settings import Reader as Reader
from digest.settings import Schedule as Schedule
from digest.settings import SectionSpec as SectionSpec
from digest.settings import Sender as Sender
from digest.settings import Theme as Theme
from digest.settings import Tracking as Tracking
from digest.settings import nested_settings as nested_settings
from digest.text import one_line_text

__all__ = [
    "Article",
    "Brand",
    "Cadence",
    "Contact",
    "Layout",
    "Link",
    "Links",
    "Logo",
    "Newsletter",
    "Quote",
    "Reader",
    "Schedule",
    "SectionSpec",
    "Sender",
    "Theme",
    "Tracking",
    "nested_settings",
]

_QUOTE_MARKS = "\"'“”„‟«»‘’‚‛‹›「」『』"  # noqa: RUF001 (these quote marks are the point)


def _quote_text(value: str) -> str:
    """Strip the quote marks around a quotation (scraped text often doubles them)."""
    value = one_line_text(value).strip(_QUOTE_MARKS + " ")
    if not value:
        raise ValueError("a quote needs some text besides quote marks")
    return value


def _zoned(value: object) -> object:
    """Refuse a moment without a time zone with what to do about it."""
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return value  # pydantic says what is wrong with it
    if isinstance(moment, datetime) and moment.tzinfo is None:
        raise ValueError(
            f"{moment.isoformat()} has no timezone: add one (+00:00, or "
            "tzinfo=ZoneInfo(...)); build_digest reads an article given as a dict in the "
            "newsletter's timezone"
        )
    return value


#: Tags that show a text field holds HTML written into it (shown as text, with a warning).
HTML_TAG = re.compile(r"</?(?:p|br|a|div|em|strong|b|i|ul|ol|li|img|span|h[1-6])\b[^>]*>", re.I)


def _reasonable_moment(value: datetime) -> datetime:
    """A moment that exists in UTC too (year 1 with a positive offset does not)."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date is out of range once converted to UTC") from None
    return value


class Article(FrozenModel):
    """One news article: a candidate for the lead story or a section teaser."""

    title: Annotated[OneLine, NotEmpty]
    url: LinkUrl
    section: ShortName
    published_at: Annotated[
        AwareDatetime, BeforeValidator(_zoned), AfterValidator(_reasonable_moment)
    ]
    #: False when the source gave only the day: editions show its date without a time.
    time_known: bool = True
    summary: Paragraphs = ""
    summary_html: SummaryHtml | None = None
    author: OneLine | None = None
    image_url: ImageUrl | None = None
    image_alt: OneLine | None = None
    image_caption: Paragraphs | None = None
    image_decorative: bool = False
    #: Who took or owns the picture (Media RSS ``media:credit``).
    image_credit: OneLine | None = None
    image_width: int | None = Field(default=None, gt=0, le=10_000)
    image_height: int | None = Field(default=None, gt=0, le=10_000)
    featured: bool = False
    priority: int = Field(default=0, ge=-1000, le=1000)

    @model_validator(mode="after")
    def _derived_fields(self) -> Article:
        if self.summary_html is not None and not html_to_text(self.summary_html):
            object.__setattr__(self, "summary_html", None)
        if self.summary_html is not None and not self.summary:
            # The text part and the teasers need the summary as text.
            object.__setattr__(self, "summary", html_to_text(self.summary_html))
        if self.image_url is None:
            return self
        if self.image_decorative:
            object.__setattr__(self, "image_alt", "")
        elif not self.image_alt:
            raise ValueError(
                f"image_alt: the image {self.image_url!r} needs alt text describing it "
                "(an empty alt is allowed only with image_decorative: true)"
            )
        return self


class Quote(FrozenModel):
    """A closing quotation and the person it is attributed to."""

    text: Annotated[str, Field(max_length=1_000), AfterValidator(_quote_text)]
    author: Name
