"""The validated field types every model is built from: text, URLs, addresses, colours, zones.

Lengths are checked before cleaning, so a huge value is refused before any work on it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from digest.addresses import email_address
from digest.markup import sanitise_html
from digest.text import clean_text, one_line_text
from digest.urls import LINK_SCHEMES, WEB_SCHEMES, check_url

__all__ = [
    "Colour",
    "EmailAddress",
    "FrozenModel",
    "HttpsUrl",
    "ImageUrl",
    "LinkUrl",
    "Name",
    "NotEmpty",
    "OneLine",
    "Paragraphs",
    "ShortName",
    "SummaryHtml",
    "WebUrl",
    "check_locale",
    "check_timezone",
]

_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def _context(info: ValidationInfo, key: str) -> Any:
    return info.context.get(key) if isinstance(info.context, dict) else None


def _web_url(value: str) -> str:
    return check_url(value, WEB_SCHEMES)


def _https_url(value: str) -> str:
    """An https URL (unsubscribe links: RFC 8058 one-click needs https)."""
    return check_url(value, {"https"})


def _link_url(value: str, info: ValidationInfo) -> str:
    schemes = _context(info, "url_schemes") or LINK_SCHEMES
    return check_url(value, schemes, _context(info, "base_url"))


def _image_url(value: str) -> str:
    """Accept an absolute web URL or a relative path resolved against the asset base URL."""
    value = value.strip()
    if value.startswith(("//", "\\")) or ":" in value.split("/", 1)[0]:
        return _web_url(value)
    if not value or any(ch.isspace() or ord(ch) < 32 for ch in value) or ".." in value.split("/"):
        raise ValueError("must be an http(s) URL or a plain relative path such as images/a.png")
    return value


def _summary_html(value: str, info: ValidationInfo) -> str:
    return sanitise_html(
        value, _context(info, "url_schemes") or LINK_SCHEMES, _context(info, "base_url")
    )


def check_locale(value: str) -> str:
    """A locale name Babel knows, in its canonical form (``pt-BR`` becomes ``pt_BR``)."""
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError) as error:
        raise ValueError(f"unknown locale: {error}") from None


def check_timezone(value: str) -> str:
    """An IANA time zone name."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone; use an IANA name such as Asia/Jakarta") from None
    return value


def _colour(value: str) -> str:
    if not _HEX_COLOUR.fullmatch(value):
        raise ValueError("colours are written as #rrggbb")
    return value.lower()


def _required(value: str) -> str:
    if not value:
        raise ValueError("must not be empty (or only spaces and control characters)")
    return value


#: Refuses a text left empty once cleaned (or only spaces and control characters).
NotEmpty = AfterValidator(_required)
#: One line of text: control characters and line breaks become spaces.
OneLine = Annotated[str, Field(max_length=500), AfterValidator(one_line_text)]
#: A name of someone or something: one line, not empty.
Name = Annotated[str, Field(max_length=200), AfterValidator(one_line_text), NotEmpty]
#: A short name, such as a section's: one line, not empty.
ShortName = Annotated[str, Field(max_length=100), AfterValidator(one_line_text), NotEmpty]
#: Text in paragraphs, its control characters cleaned.
Paragraphs = Annotated[str, Field(max_length=20_000), AfterValidator(clean_text)]
#: An http or https URL.
WebUrl = Annotated[str, Field(max_length=2_000), AfterValidator(_web_url)]
#: An https URL (unsubscribe links: RFC 8058 one-click needs https).
HttpsUrl = Annotated[str, Field(max_length=2_000), AfterValidator(_https_url)]
#: A picture: an http(s) URL, or a plain relative path below the asset base URL.
ImageUrl = Annotated[str, Field(max_length=2_000), AfterValidator(_image_url)]
#: A colour written as ``#rrggbb`` (kept in lower case).
Colour = Annotated[str, AfterValidator(_colour)]
#: An article's link, in the newsletter's schemes, resolved against its link base URL.
LinkUrl = Annotated[str, Field(max_length=2_000), AfterValidator(_link_url)]
#: An email address.
EmailAddress = Annotated[str, Field(max_length=254), AfterValidator(email_address)]
#: A summary in HTML, sanitised to the tags and links an email may show.
SummaryHtml = Annotated[str, Field(max_length=100_000), AfterValidator(_summary_html)]


class FrozenModel(BaseModel):
    """The base of the models: frozen, refusing unknown keys, text stripped of outer spaces."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
