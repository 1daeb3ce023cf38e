"""Input models: the articles, quotes and newsletter settings an edition is made from."""

from __future__ import annotations

import re
import unicodedata
from datetime import time
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

__all__ = [
    "Article",
    "Link",
    "Logo",
    "Newsletter",
    "Quote",
    "SectionSpec",
    "Sender",
    "Theme",
    "clean_text",
]

# Control characters other than tab and newline, the non-characters U+FFFE/U+FFFF and
# lone surrogates: none of them belongs in an email and MRML refuses some of them.
_UNWANTED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_QUOTE_MARKS = "\"'“”„‟«»‘’‚‛‹›「」『』"  # noqa: RUF001 (these quote marks are the point)
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_EMAIL = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+")
WEB_SCHEMES = frozenset({"http", "https"})


def clean_text(value: str) -> str:
    """Normalise text to NFC, drop control characters and trim each line's spacing."""
    value = _UNWANTED.sub("", unicodedata.normalize("NFC", value.replace("\r\n", "\n")))
    lines = (_SPACES.sub(" ", line).strip() for line in value.split("\n"))
    # Keep paragraph breaks (one blank line), drop runs of blank lines.
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _one_line(value: str) -> str:
    return " ".join(clean_text(value).split())


def _web_url(value: str) -> str:
    value = value.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("a URL may not contain spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.netloc:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


def _image_url(value: str) -> str:
    """Accept an absolute web URL or a relative path resolved against the asset base URL."""
    value = value.strip()
    if value.startswith(("//", "\\")) or ":" in value.split("/", 1)[0]:
        return _web_url(value)
    if not value or any(ch.isspace() or ord(ch) < 32 for ch in value) or ".." in value.split("/"):
        raise ValueError("must be an http(s) URL or a plain relative path such as images/a.png")
    return value


def _quote_text(value: str) -> str:
    """Strip the quote marks around a quotation (scraped text often doubles them)."""
    value = _one_line(value).strip(_QUOTE_MARKS + " ")
    if not value:
        raise ValueError("a quote needs some text besides quote marks")
    return value


def _locale(value: str) -> str:
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError) as error:
        raise ValueError(f"unknown locale: {error}") from None


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone; use an IANA name such as Asia/Jakarta") from None
    return value


def _colour(value: str) -> str:
    if not _HEX_COLOUR.fullmatch(value):
        raise ValueError("colours are written as #rrggbb")
    return value.lower()


def _email_address(value: str) -> str:
    value = value.strip()
    if not _EMAIL.fullmatch(value):
        raise ValueError("not an email address")
    return value


OneLine = Annotated[str, AfterValidator(_one_line), Field(max_length=500)]
Paragraphs = Annotated[str, AfterValidator(clean_text), Field(max_length=20_000)]
WebUrl = Annotated[str, AfterValidator(_web_url), Field(max_length=2_000)]
ImageUrl = Annotated[str, AfterValidator(_image_url), Field(max_length=2_000)]
Colour = Annotated[str, AfterValidator(_colour)]
EmailAddress = Annotated[str, AfterValidator(_email_address), Field(max_length=254)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Article(_Model):
    """One news article: a candidate for the lead story or a section teaser."""

    title: Annotated[OneLine, Field(min_length=1)]
    url: WebUrl
    section: Annotated[OneLine, Field(min_length=1, max_length=100)]
    published_at: AwareDatetime
    summary: Paragraphs = ""
    author: OneLine | None = None
    image_url: ImageUrl | None = None
    image_alt: OneLine | None = None
    image_caption: Paragraphs | None = None
    image_decorative: bool = False
    featured: bool = False
    priority: int = Field(default=0, ge=-1000, le=1000)

    @model_validator(mode="after")
    def _image_needs_alt(self) -> Article:
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


class Quote(_Model):
    """A closing quotation and the person it is attributed to."""

    text: Annotated[str, AfterValidator(_quote_text), Field(min_length=1, max_length=1_000)]
    author: Annotated[OneLine, Field(min_length=1, max_length=200)]


class Sender(_Model):
    """The name and address an edition is sent from."""

    name: Annotated[OneLine, Field(min_length=1, max_length=200)]
    address: EmailAddress


class Logo(_Model):
    """The brand's logo, shown at the top of every edition."""

    url: ImageUrl
    alt: Annotated[OneLine, Field(min_length=1)]
    width: int = Field(default=160, gt=0, le=600)
    height: int = Field(default=40, gt=0, le=400)


class Link(_Model):
    """A labelled link, such as a social profile in the footer."""

    label: Annotated[OneLine, Field(min_length=1, max_length=100)]
    url: WebUrl


class Theme(_Model):
    """Colours and fonts of the default templates."""

    brand: Colour = "#b3121b"
    accent: Colour = "#0b5394"
    text: Colour = "#1f2328"
    muted: Colour = "#59636e"
    background: Colour = "#f2f3f5"
    surface: Colour = "#ffffff"
    font_family: OneLine = (
        "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
    )


class SectionSpec(_Model):
    """A section of the edition: its name in the articles, its heading and its teaser limit."""

    name: Annotated[OneLine, Field(min_length=1, max_length=100)]
    label: OneLine | None = None
    limit: int | None = Field(default=None, ge=0, le=50)


class Newsletter(_Model):
    """The brand and settings of a newsletter, shared by all its editions."""

    name: Annotated[OneLine, Field(min_length=1, max_length=200)]
    tagline: OneLine | None = None
    url: WebUrl | None = None
    logo: Logo | None = None
    theme: Theme = Theme()
    locale: Annotated[str, AfterValidator(_locale)] = "en"
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    sender: Sender
    reply_to: EmailAddress | None = None
    postal_address: Annotated[Paragraphs, Field(min_length=1, max_length=500)]
    unsubscribe_url: WebUrl | None = None
    sections: list[SectionSpec] = Field(default_factory=list, max_length=50)
    teasers_per_section: int = Field(default=3, ge=0, le=50)
    other_sections: bool = True
    social: list[Link] = Field(default_factory=list, max_length=20)
    asset_base_url: WebUrl | None = None
    date_format: OneLine = "EEEE, d MMMM y '|' HH:mm"
    send_time: time = time(7, 0)
    labels: dict[str, OneLine] = Field(default_factory=dict)

    @field_validator("sections", mode="before")
    @classmethod
    def _section_names(cls, value: object) -> object:
        """Accept plain section names as well as tables."""
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The newsletter's time zone."""
        return ZoneInfo(self.timezone)
