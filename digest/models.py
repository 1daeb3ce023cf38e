"""Input models: the articles, quotes and newsletter settings an edition is made from."""

from __future__ import annotations

import calendar
import difflib
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from digest.addresses import email_address
from digest.labels import LABEL_MESSAGES
from digest.markup import html_to_text, sanitise_html
from digest.text import clean_text, one_line_text
from digest.urls import FORBIDDEN_SCHEMES, LINK_SCHEMES, WEB_SCHEMES, check_url

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


def _scheme(value: str) -> str:
    value = value.strip().lower().removesuffix(":")
    if value in FORBIDDEN_SCHEMES or not re.fullmatch(r"[a-z][a-z0-9+.-]*", value):
        raise ValueError(f"{value!r} cannot be allowed as a link scheme")
    return value


def _quote_text(value: str) -> str:
    """Strip the quote marks around a quotation (scraped text often doubles them)."""
    value = one_line_text(value).strip(_QUOTE_MARKS + " ")
    if not value:
        raise ValueError("a quote needs some text besides quote marks")
    return value


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


_FAMILY = r"""(?:[A-Za-z0-9-][A-Za-z0-9 _-]*|'[A-Za-z0-9 _-]+'|"[A-Za-z0-9 _-]+")"""
_FONT_FAMILY = re.compile(rf"\s*{_FAMILY}\s*(?:,\s*{_FAMILY}\s*)*")
_FONT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]*")


def _font_family(value: str) -> str:
    """A CSS font-family list: names (quoted or not) of letters, digits, spaces, - and _."""
    if not _FONT_FAMILY.fullmatch(value):
        raise ValueError(
            "a font family is a comma-separated list of font names "
            "(letters, digits, spaces, - and _; quoted or not)"
        )
    return value.strip()


def _font_name(value: str) -> str:
    if not _FONT_NAME.fullmatch(value):
        raise ValueError("a font name has only letters, digits, spaces, - and _")
    return value


def _stylesheet_url(value: str) -> str:
    value = _web_url(value)
    if not value.isascii() or any(ch in value for ch in "'\"()\\;<>{}"):
        raise ValueError("a stylesheet URL must be ASCII, without quotes, brackets or ;")
    return value


def _colour(value: str) -> str:
    if not _HEX_COLOUR.fullmatch(value):
        raise ValueError("colours are written as #rrggbb")
    return value.lower()


def _required(value: str) -> str:
    if not value:
        raise ValueError("must not be empty (or only spaces and control characters)")
    return value


# Lengths are checked before cleaning, so a huge value is refused before any work on it.
_Required = AfterValidator(_required)
OneLine = Annotated[str, Field(max_length=500), AfterValidator(one_line_text)]
Name = Annotated[str, Field(max_length=200), AfterValidator(one_line_text), _Required]
ShortName = Annotated[str, Field(max_length=100), AfterValidator(one_line_text), _Required]
Paragraphs = Annotated[str, Field(max_length=20_000), AfterValidator(clean_text)]
WebUrl = Annotated[str, Field(max_length=2_000), AfterValidator(_web_url)]
HttpsUrl = Annotated[str, Field(max_length=2_000), AfterValidator(_https_url)]
ImageUrl = Annotated[str, Field(max_length=2_000), AfterValidator(_image_url)]
Colour = Annotated[str, AfterValidator(_colour)]
LinkUrl = Annotated[str, Field(max_length=2_000), AfterValidator(_link_url)]
EmailAddress = Annotated[str, Field(max_length=254), AfterValidator(email_address)]
SummaryHtml = Annotated[str, Field(max_length=100_000), AfterValidator(_summary_html)]


def _date_pattern(value: str) -> str:
    """A Babel (CLDR) date pattern that formats a date without error."""
    try:
        format_datetime(datetime(2020, 6, 2, 19, 2, tzinfo=UTC), value, locale="en")
    except (ValueError, KeyError, IndexError, AttributeError, TypeError) as error:
        raise ValueError(f"not a date pattern Babel can use: {error}") from None
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


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Article(_Model):
    """One news article: a candidate for the lead story or a section teaser."""

    title: Annotated[OneLine, _Required]
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


class Quote(_Model):
    """A closing quotation and the person it is attributed to."""

    text: Annotated[str, Field(max_length=1_000), AfterValidator(_quote_text)]
    author: Name


class Sender(_Model):
    """The name and address an edition is sent from."""

    #: The display name in the From header.
    name: Name
    #: The From address (and the envelope sender of every copy).
    address: EmailAddress


class Logo(_Model):
    """The brand's logo, shown at the top of every edition."""

    #: The logo picture: an https URL, or a path below ``asset_base_url``.
    url: ImageUrl
    #: The logo's text for screen readers and blocked pictures (usually the name).
    alt: Annotated[OneLine, _Required]
    #: Its width in CSS pixels (at most 552).
    width: int = Field(default=160, gt=0, le=552)
    #: Its height in CSS pixels.
    height: int = Field(default=40, gt=0, le=400)
    #: A variant for dark backgrounds, swapped in by clients in dark mode; without one, the
    #: logo sits on a light plate there.
    dark_url: ImageUrl | None = None


class Link(_Model):
    """A labelled link, such as a social profile in the footer."""

    #: The words of the link.
    label: ShortName
    #: Where it points (http or https).
    url: WebUrl


class Theme(_Model):
    """Colours and fonts of the default templates."""

    #: The brand colour: the masthead, section headings, kickers and buttons (``#rrggbb``).
    brand: Colour = "#b3121b"
    #: The colour of links.
    accent: Colour = "#0b5394"
    #: The colour of body text.
    text: Colour = "#1f2328"
    #: The colour of dates, captions and the footer.
    muted: Colour = "#59636e"
    #: The colour around the email.
    background: Colour = "#f2f3f5"
    #: The colour behind the email's content.
    surface: Colour = "#ffffff"
    #: The font list of the text, as in CSS; system fonts by default.
    font_family: Annotated[str, Field(max_length=300), AfterValidator(_font_family)] = (
        "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
    )
    #: Web fonts by name and stylesheet URL; none by default (system fonts need no download).
    web_fonts: dict[
        Annotated[str, Field(max_length=100), AfterValidator(_font_name)],
        Annotated[str, Field(max_length=2_000), AfterValidator(_stylesheet_url)],
    ] = Field(default_factory=dict, max_length=5)


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)


class Cadence(_Model):
    """How often editions go out: every day, every week or every few weeks, or every month."""

    #: ``day``, ``week`` or ``month``.
    every: Literal["day", "week", "month"] = "week"
    #: The weekday of a weekly edition, or of a monthly one given by ``nth``.
    weekday: Weekday = "monday"
    #: Every how many weeks a weekly edition goes out (2 for a fortnightly one).
    weeks: int = Field(default=1, ge=1, le=8)
    #: The date of one edition, from which every few ``weeks`` count (by default weeks are
    #: counted from Monday 5 January 1970).
    start: date | None = None
    #: The day of the month of a monthly edition (a shorter month takes its last day).
    day: int | None = Field(default=None, ge=1, le=31)
    #: Or which of the month's weekdays: ``first``, ``second``, ``third``, ``fourth``, ``last``.
    nth: Literal["first", "second", "third", "fourth", "last"] | None = None

    @model_validator(mode="after")
    def _fits(self) -> Cadence:
        if self.every != "month" and (self.day is not None or self.nth is not None):
            raise ValueError('day and nth are for every = "month"')
        if self.every == "month" and self.day is not None and self.nth is not None:
            raise ValueError("a monthly edition has a day or an nth weekday, not both")
        if self.every != "week" and (self.weeks != 1 or self.start is not None):
            raise ValueError('weeks and start are for every = "week"')
        return self

    def latest(self, today: date) -> date:
        """The newest scheduled date on or before ``today``."""
        if self.every == "day":
            return today
        if self.every == "week":
            newest = today - timedelta(days=(today.weekday() - WEEKDAYS.index(self.weekday)) % 7)
            if self.weeks > 1:
                anchor = self.start or date(1970, 1, 5)
                anchor += timedelta(days=(WEEKDAYS.index(self.weekday) - anchor.weekday()) % 7)
                newest -= timedelta(weeks=((newest - anchor).days // 7) % self.weeks)
            return newest
        this_month = self._in_month(today.year, today.month)
        if this_month <= today:
            return this_month
        year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        return self._in_month(year, month)

    def previous(self, on: date) -> date:
        """The scheduled date before ``on``: where a first edition's window begins."""
        return self.latest(on - timedelta(days=1))

    def next(self, day: date) -> date:
        """The first scheduled date on or after ``day``."""
        found = day
        while self.latest(found) != found:
            found += timedelta(days=1)
        return found

    def _in_month(self, year: int, month: int) -> date:
        days = calendar.monthrange(year, month)[1]
        if self.nth is None:
            return date(year, month, min(self.day or 1, days))
        wanted = WEEKDAYS.index(self.weekday)
        if self.nth == "last":
            last = date(year, month, days)
            return last - timedelta(days=(last.weekday() - wanted) % 7)
        first = date(year, month, 1)
        first += timedelta(days=(wanted - first.weekday()) % 7)
        return first + timedelta(weeks=("first", "second", "third", "fourth").index(self.nth))


def _reader_url(value: str) -> str:
    value = _https_url(value)
    if not value.isascii() or any(ch in value for ch in "\"'<>"):
        raise ValueError("a reader's URL must be ASCII, without quotes or angle brackets")
    return value


class Reader(_Model):
    """One subscriber: an address, a name, a choice of sections and an unsubscribe link."""

    address: EmailAddress
    name: OneLine | None = None
    #: The sections this reader chose (the lead is always included); None for all of them.
    sections: tuple[ShortName, ...] | None = None
    #: Their own unsubscribe link; or a token put into the newsletter's (as ``{token}``, or
    #: as a ``token`` parameter).
    unsubscribe_url: Annotated[str, Field(max_length=900), AfterValidator(_reader_url)] | None = (
        None
    )
    unsubscribe_token: Annotated[str, Field(pattern=r"^[A-Za-z0-9._~-]{1,200}$")] | None = None
    #: Where the reader lives (an IANA zone): ``digest send --due`` and
    #: ``Mailing.deliver(due=True)`` send at the newsletter's send time there.
    timezone: Annotated[str, AfterValidator(check_timezone)] | None = None
    #: Values for your own templates, as ``{{ reader.fields.NAME }}``.
    fields: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,50}$")], OneLine] = Field(
        default_factory=dict, max_length=50
    )


class Tracking(_Model):
    """UTM parameters added to article links; ``{date}`` and ``{number}`` are filled in."""

    #: The ``utm_source`` value.
    utm_source: ShortName = "newsletter"
    #: The ``utm_medium`` value.
    utm_medium: ShortName = "email"
    #: The ``utm_campaign`` value; ``{date}`` and ``{number}`` are the edition's.
    utm_campaign: ShortName = "edition-{date}"
    #: The ``utm_content`` value, if any.
    utm_content: ShortName | None = None
    #: Links to these domains (and their subdomains) are left as they are.
    skip_domains: list[ShortName] = Field(default_factory=list, max_length=100)


class SectionSpec(_Model):
    """A section of the edition: its name in the articles, its heading and its teaser limit."""

    #: The section's name as the articles give it (matched without case).
    name: ShortName
    #: Its heading in the email, when not the name.
    label: OneLine | None = None
    #: How many teasers it shows at most, when not ``teasers_per_section``.
    limit: int | None = Field(default=None, ge=0, le=50)


class Brand(_Model):
    """How the newsletter looks: its logo, colours and fonts, footer words and social links."""

    #: The logo at the top (``[newsletter.brand.logo]``); without one, the name in text.
    logo: Logo | None = None
    #: Colours and fonts of the default templates (``[newsletter.brand.theme]``).
    theme: Theme = Theme()
    #: Words of your own in the footer, in paragraphs.
    footer_text: Paragraphs | None = None
    #: Links in the footer, such as social profiles, each with a label.
    social: list[Link] = Field(default_factory=list, max_length=20)


class Contact(_Model):
    """How readers reach the newsletter or leave it: reply address, postal address, unsubscribe."""

    #: Where replies go, when not to the sender's address.
    reply_to: EmailAddress | None = None
    #: The sender's postal address, printed in the footer (the law asks for it in many countries).
    postal_address: Annotated[str, Field(max_length=500), AfterValidator(clean_text), _Required]
    #: The one-click unsubscribe link (https), in the footer and List-Unsubscribe.
    unsubscribe_url: HttpsUrl | None = None
    #: An address that unsubscribes whoever writes to it, added to List-Unsubscribe.
    unsubscribe_mailto: EmailAddress | None = None


class Schedule(_Model):
    """When editions go out: the time of day and, for weekly builds, the cadence."""

    #: The time of day an edition is dated and sent, in the newsletter's time zone.
    send_time: time = time(7, 0)
    #: How often editions go out (``[newsletter.schedule.cadence]``); each edition's window is
    #: that long.
    cadence: Cadence | None = None


class Layout(_Model):
    """What an edition holds and how it is written: sections, limits, dates, lengths, inliner."""

    #: The sections, in order: names (``["town", "business"]``) or tables with a heading and a
    #: limit.
    sections: list[SectionSpec] = Field(default_factory=list, max_length=50)
    #: How many teasers each section shows at most.
    teasers_per_section: int = Field(default=3, ge=0, le=50)
    #: Whether stories of sections not listed get sections of their own after the listed ones.
    other_sections: bool = True
    #: The most stories in an edition, the lead included; the lowest-ranked teasers give way.
    max_stories: int = Field(default=30, ge=1, le=500)
    #: The most sections; beyond it, the stories of the smallest sections gather in "More news".
    max_sections: int = Field(default=8, ge=1, le=50)
    #: Feed categories renamed or merged into sections: ``{"US news" = "World"}``. A category
    #: that names one of ``sections`` ignoring case, accents and a plural s needs no entry.
    section_map: dict[
        Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=100)]
    ] = Field(default_factory=dict, max_length=500)
    #: The section of stories whose category (after ``section_map``) is none of ``sections``:
    #: one of them or another name, shown after them. Unset, each such category is a section
    #: of its own (see ``other_sections``).
    default_section: ShortName | None = None
    #: How article dates are written: a style of the locale's own (full, long, medium, short)
    #: or a CLDR pattern such as ``EEEE, d MMMM y '|' HH:mm``.
    date_format: Annotated[OneLine, AfterValidator(_date_pattern)] = "full"
    #: The time after the date, in a style of the locale (or none); unused with a pattern.
    time_format: Literal["full", "long", "medium", "short"] | None = "short"
    #: The most the inlined HTML may weigh (KiB); teasers are dropped until it fits.
    size_budget_kb: float = Field(default=100, gt=0, le=10_000)
    #: The subject and the inbox preview are cut at a word to this many characters (not bytes).
    subject_length: int = Field(default=78, ge=20, le=500)
    #: The inbox preview (preheader) is cut at a word to this many characters.
    preheader_length: int = Field(default=110, ge=20, le=500)
    #: Feed summaries are cut at a word to at most this many characters (an ellipsis mid-sentence).
    summary_length: int = Field(default=600, ge=50, le=20_000)
    #: The CSS inliner: premailer, or css-inline (faster;
    #: ``pip install 'newsletter-digest[fast]'``).
    inliner: Literal["premailer", "css-inline"] = "premailer"

    @field_validator("sections", mode="before")
    @classmethod
    def _section_names(cls, value: object) -> object:
        """Accept plain section names as well as tables."""
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value


class Links(_Model):
    """Where links and pictures point: base URLs, allowed schemes, UTM tags, the archive."""

    #: The base URL that relative picture paths are resolved against.
    asset_base_url: WebUrl | None = None
    #: The base URL that relative article links are resolved against (else they are refused).
    link_base_url: WebUrl | None = None
    #: The schemes article links may use (``javascript`` and the like never).
    url_schemes: list[Annotated[str, AfterValidator(_scheme)]] = Field(
        default_factory=lambda: sorted(LINK_SCHEMES), min_length=1, max_length=10
    )
    #: UTM parameters added to article links (``[newsletter.links.tracking]``); none by default.
    tracking: Tracking | None = None
    #: The public web address of the edition archive: the email links to its page there.
    archive_url: WebUrl | None = None


#: Where each setting of the 0.2 ``[newsletter]`` table lives now.
MOVED_SETTINGS = {
    **{key: "brand" for key in Brand.model_fields},
    **{key: "contact" for key in Contact.model_fields},
    **{key: "schedule" for key in Schedule.model_fields},
    **{key: "layout" for key in Layout.model_fields},
    **{key: "links" for key in Links.model_fields},
}


def nested_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Newsletter settings written flat (as in 0.2) moved into the tables of their concerns."""
    nested: dict[str, Any] = {}
    for key, value in values.items():
        place = MOVED_SETTINGS.get(key)
        if place is None:
            nested[key] = value
        else:
            nested.setdefault(place, {})[key] = value
    return nested


class Newsletter(_Model):
    """A newsletter: who it is, and its settings by concern, shared by all its editions.

    In a config file each concern is a table of its own: ``[newsletter.brand]``,
    ``[newsletter.contact]``, ``[newsletter.schedule]``, ``[newsletter.layout]`` and
    ``[newsletter.links]``.
    """

    #: The newsletter's name: the masthead, the subject's start, the sender's default name.
    name: Name
    #: A line under the name in the masthead.
    tagline: OneLine | None = None
    #: The newsletter's home page, linked from the masthead.
    url: WebUrl | None = None
    #: The language and region of labels and dates, such as ``id`` or ``pt_BR``.
    locale: Annotated[str, AfterValidator(check_locale)] = "en"
    #: The IANA time zone of the send time and of dates without one (``Asia/Jakarta``).
    timezone: Annotated[str, AfterValidator(check_timezone)] = "UTC"
    #: Who the edition comes from (``[newsletter.sender]``).
    sender: Sender
    #: Reply address, postal address and unsubscribe links (``[newsletter.contact]``).
    contact: Contact
    #: Logo, colours, fonts, footer words and social links (``[newsletter.brand]``).
    brand: Brand = Brand()
    #: The send time and the cadence (``[newsletter.schedule]``).
    schedule: Schedule = Schedule()
    #: Sections, limits, date styles, lengths, the size budget and the inliner
    #: (``[newsletter.layout]``).
    layout: Layout = Layout()
    #: Base URLs, allowed link schemes, UTM tagging and the archive (``[newsletter.links]``).
    links: Links = Links()
    #: Words of the templates to replace, by key (see ``digest.labels.LABEL_MESSAGES``).
    labels: dict[str, OneLine] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, value: object) -> object:
        """Refuse a setting of the flat 0.2 table, naming the table it has moved to."""
        if isinstance(value, dict):
            for key in value:
                place = MOVED_SETTINGS.get(key)
                if place is not None:
                    raise ValueError(
                        f"{key!r} has moved to [newsletter.{place}]: write it there "
                        f"(newsletter.{place}.{key})"
                    )
        return value

    @field_validator("labels")
    @classmethod
    def _known_labels(cls, value: dict[str, str]) -> dict[str, str]:
        """Refuse a label key the templates do not use, suggesting the nearest one."""
        for key in value:
            if key not in LABEL_MESSAGES:
                near = difflib.get_close_matches(key, list(LABEL_MESSAGES), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise ValueError(
                    f"unknown label {key!r}{hint} (the labels are: {', '.join(LABEL_MESSAGES)})"
                )
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The newsletter's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def validation_context(self) -> dict[str, Any]:
        """The context to validate this newsletter's articles with (link schemes, base URL)."""
        return {
            "url_schemes": frozenset(self.links.url_schemes),
            "base_url": self.links.link_base_url,
        }
