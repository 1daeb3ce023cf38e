"""The settings models: a newsletter and its tables by concern, and a reader's own choices.

``Newsletter`` holds who the newsletter is and one table per concern (``Sender``,
``Contact``, ``Brand``, ``Schedule``, ``Layout``, ``Links``); ``Reader`` is one subscriber,
with the sections they chose, their time zone and their unsubscribe link.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from pydantic import AfterValidator, Field, field_validator, model_validator

from digest.cadence import Cadence
from digest.fields import (
    Colour,
    EmailAddress,
    FrozenModel,
    HttpsUrl,
    ImageUrl,
    Name,
    NotEmpty,
    OneLine,
    Paragraphs,
    ShortName,
    WebUrl,
    check_locale,
    check_timezone,
)
from digest.labels import LABEL_MESSAGES
from digest.text import clean_text
from digest.urls import FORBIDDEN_SCHEMES, LINK_SCHEMES, WEB_SCHEMES, check_url

__all__ = [
    "MOVED_SETTINGS",
    "Brand",
    "BrevoSettings",
    "ButtondownSettings",
    "Contact",
    "KitSettings",
    "Layout",
    "Link",
    "Links",
    "ListmonkSettings",
    "Logo",
    "MailchimpSettings",
    "Newsletter",
    "PublishSettings",
    "Reader",
    "Schedule",
    "SectionSpec",
    "Sender",
    "Theme",
    "ToolSettings",
    "Tracking",
    "nested_settings",
]


def _scheme(value: str) -> str:
    value = value.strip().lower().removesuffix(":")
    if value in FORBIDDEN_SCHEMES or not re.fullmatch(r"[a-z][a-z0-9+.-]*", value):
        raise ValueError(f"{value!r} cannot be allowed as a link scheme")
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
    value = check_url(value, WEB_SCHEMES)
    if not value.isascii() or any(ch in value for ch in "'\"()\\;<>{}"):
        raise ValueError("a stylesheet URL must be ASCII, without quotes, brackets or ;")
    return value


def _date_pattern(value: str) -> str:
    """A Babel (CLDR) date pattern that formats a date without error."""
    try:
        format_datetime(datetime(2020, 6, 2, 19, 2, tzinfo=UTC), value, locale="en")
    except (ValueError, KeyError, IndexError, AttributeError, TypeError) as error:
        raise ValueError(f"not a date pattern Babel can use: {error}") from None
    return value


class Sender(FrozenModel):
    """The name and address an edition is sent from."""

    #: The display name in the From header.
    name: Name
    #: The From address (and the envelope sender of every copy).
    address: EmailAddress


class Logo(FrozenModel):
    """The brand's logo, shown at the top of every edition."""

    #: The logo picture: an https URL, or a path below ``asset_base_url``.
    url: ImageUrl
    #: The logo's text for screen readers and blocked pictures (usually the name).
    alt: Annotated[OneLine, NotEmpty]
    #: Its width in CSS pixels (at most 552).
    width: int = Field(default=160, gt=0, le=552)
    #: Its height in CSS pixels.
    height: int = Field(default=40, gt=0, le=400)
    #: A variant for dark backgrounds, swapped in by clients in dark mode; without one, the
    #: logo sits on a light plate there.
    dark_url: ImageUrl | None = None


class Link(FrozenModel):
    """A labelled link, such as a social profile in the footer."""

    #: The words of the link.
    label: ShortName
    #: Where it points (http or https).
    url: WebUrl


class Theme(FrozenModel):
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


def _reader_url(value: str) -> str:
    value = check_url(value, {"https"})
    if not value.isascii() or any(ch in value for ch in "\"'<>"):
        raise ValueError("a reader's URL must be ASCII, without quotes or angle brackets")
    return value


class Reader(FrozenModel):
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


class Tracking(FrozenModel):
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


class SectionSpec(FrozenModel):
    """A section of the edition: its name in the articles, its heading and its teaser limit."""

    #: The section's name as the articles give it (matched without case).
    name: ShortName
    #: Its heading in the email, when not the name.
    label: OneLine | None = None
    #: How many teasers it shows at most, when not ``teasers_per_section``.
    limit: int | None = Field(default=None, ge=0, le=50)


class Brand(FrozenModel):
    """How the newsletter looks: its logo, colours and fonts, footer words and social links."""

    #: The logo at the top (``[newsletter.brand.logo]``); without one, the name in text.
    logo: Logo | None = None
    #: Colours and fonts of the default templates (``[newsletter.brand.theme]``).
    theme: Theme = Theme()
    #: Words of your own in the footer, in paragraphs.
    footer_text: Paragraphs | None = None
    #: Links in the footer, such as social profiles, each with a label.
    social: list[Link] = Field(default_factory=list, max_length=20)


class Contact(FrozenModel):
    """How readers reach the newsletter or leave it: reply address, postal address, unsubscribe."""

    #: Where replies go, when not to the sender's address.
    reply_to: EmailAddress | None = None
    #: The sender's postal address, printed in the footer (the law asks for it in many countries).
    postal_address: Annotated[str, Field(max_length=500), AfterValidator(clean_text), NotEmpty]
    #: The one-click unsubscribe link (https), in the footer and List-Unsubscribe.
    unsubscribe_url: HttpsUrl | None = None
    #: An address that unsubscribes whoever writes to it, added to List-Unsubscribe.
    unsubscribe_mailto: EmailAddress | None = None
    #: Each reader's preferences page, with ``{token}`` where their token goes (``digest
    #: serve``'s ``https://HOST/preferences/{token}``), linked in the footer beside unsubscribe.
    preferences_url: HttpsUrl | None = None

    @field_validator("preferences_url")
    @classmethod
    def _preferences_token(cls, value: str | None) -> str | None:
        """A preferences page is each reader's own: its link names their ``{token}``."""
        if value is not None and value.count("{token}") != 1:
            raise ValueError(
                f"needs {{token}} once, where each reader's token goes (got {value!r}); "
                "digest serve's page is https://HOST/preferences/{token}"
            )
        return value


class Schedule(FrozenModel):
    """When editions go out: the time of day and, for weekly builds, the cadence."""

    #: The time of day an edition is dated and sent, in the newsletter's time zone.
    send_time: time = time(7, 0)
    #: How often editions go out (``[newsletter.schedule.cadence]``); each edition's window is
    #: that long.
    cadence: Cadence | None = None


class Layout(FrozenModel):
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
    #: What breaks ties in the lead and teaser order, after the editor's plan, ``featured`` and
    #: ``priority``: ``"clicks"`` puts the stories of sections readers clicked more in past
    #: editions first (their teasers' click-through, from ``digest report``; the lead's picture
    #: still comes first), then the newest; ``"none"`` (the default) goes by the newest alone.
    #: Needs a history, and clicks recorded (tracking or a provider's webhook).
    weigh_by: Literal["none", "clicks"] = "none"
    #: How many past editions the click-through of ``weigh_by = "clicks"`` is read from.
    weigh_editions: int = Field(default=8, ge=1, le=100)
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


class Links(FrozenModel):
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


class Newsletter(FrozenModel):
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


def _tool_api(value: str) -> str:
    """A list manager's address: https (its key goes with every request), http to loopback."""
    parts = urlsplit(value)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ValueError(f"must be an https URL (http only to this machine), got {value!r}")
    return value.rstrip("/")


class ToolSettings(FrozenModel):
    """What every ``[publish.<tool>]`` table may say: where the API is, the sender, retries."""

    #: The tool's address, https (each tool has its own default; a self-hosted one sets it).
    base_url: Annotated[WebUrl, AfterValidator(_tool_api)] | None = None
    #: The name the campaign comes from (the newsletter's sender name by default).
    from_name: OneLine | None = None
    #: Where replies go (the newsletter's reply-to, else its sender, by default).
    reply_to: EmailAddress | None = None
    #: ``draft``: leave the campaign for an editor to send; ``schedule``: schedule it for the
    #: edition's send time (``digest publish --schedule`` picks another time).
    mode: Literal["draft", "schedule"] = "draft"
    #: Tries after the first when the tool answers 429 or cannot be reached at all.
    retries: int = Field(default=3, ge=0, le=10)
    #: The first wait before a retry, in seconds (doubling after each).
    backoff: float = Field(default=1.0, ge=0, le=60)


class MailchimpSettings(ToolSettings):
    """Mailchimp: the audience a campaign goes to (its key in ``MAILCHIMP_API_KEY``)."""

    #: The audience (list) id, from Audience → Settings → Audience name and defaults.
    list_id: ShortName
    #: A saved segment or tag of the audience to send to, by its id (the whole audience without).
    segment_id: int | None = Field(default=None, ge=1)


class ListmonkSettings(ToolSettings):
    """listmonk: the lists a campaign goes to (``LISTMONK_USER`` and ``LISTMONK_TOKEN``)."""

    #: The ids of the lists to send to.
    lists: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=100)
    #: The From address (listmonk's default from its settings when left out).
    from_email: EmailAddress | None = None


class ButtondownSettings(ToolSettings):
    """``[publish.buttondown]``: who gets the email and how (key: ``BUTTONDOWN_API_KEY``)."""

    #: Tag ids (``tag_…``) whose subscribers get the email, any of them (every one without).
    tag_ids: list[ShortName] = Field(default_factory=list, max_length=50)
    #: Buttondown's template around the HTML: ``naked`` sends digest's HTML as it is.
    template: Literal["naked", "classic", "modern", "plaintext", "custom"] = "naked"
    #: Whether the email appears in the newsletter's web archive on Buttondown.
    archive: bool = True


class BrevoSettings(ToolSettings):
    """``[publish.brevo]``: the lists a campaign goes to and its sender (``BREVO_API_KEY``)."""

    #: The ids of the contact lists to send to (needed to schedule; a draft may leave them out).
    list_ids: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list, max_length=100)
    #: The ids of lists whose contacts are left out.
    exclusion_list_ids: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list, max_length=100
    )
    #: A sender verified in Brevo, by its address (this or ``sender_id`` is needed).
    sender_email: EmailAddress | None = None
    #: A sender by its id (for a dedicated IP), instead of ``sender_email``.
    sender_id: int | None = Field(default=None, ge=1)
    #: The campaign's tag in Brevo.
    tag: ShortName | None = None

    @model_validator(mode="after")
    def _one_sender(self) -> BrevoSettings:
        """Brevo takes a campaign's sender by address or by id: exactly one of them."""
        if (self.sender_email is None) == (self.sender_id is None):
            raise ValueError(
                "sender_email or sender_id: give one, a sender verified in Brevo "
                f"(got sender_email={self.sender_email!r}, sender_id={self.sender_id!r})"
            )
        return self


class KitSettings(ToolSettings):
    """``[publish.kit]``: the subscribers a broadcast goes to (key: ``KIT_API_KEY``)."""

    #: Segment ids to send to (every subscriber when neither segments nor tags are set).
    segment_ids: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list, max_length=50)
    #: Tag ids to send to.
    tag_ids: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list, max_length=50)
    #: ``all``: subscribers in every one of the segments and tags (Kit's own example: its
    #: description requires an ``all`` group); ``any``: in any of them.
    match: Literal["all", "any"] = "all"
    #: The email template, by its id (the account's default without).
    email_template_id: int | None = Field(default=None, ge=1)
    #: A sending address of the account (its default without).
    email_address: EmailAddress | None = None
    #: Whether the broadcast is also published on the creator profile and landing pages.
    public: bool = False


class PublishSettings(FrozenModel):
    """The list managers ``digest publish --to TOOL`` hands an edition to."""

    #: Mailchimp (``[publish.mailchimp]``).
    mailchimp: MailchimpSettings | None = None
    #: listmonk (``[publish.listmonk]``).
    listmonk: ListmonkSettings | None = None
    #: Buttondown (``[publish.buttondown]``).
    buttondown: ButtondownSettings | None = None
    #: Brevo (``[publish.brevo]``).
    brevo: BrevoSettings | None = None
    #: Kit (``[publish.kit]``).
    kit: KitSettings | None = None
    #: The tool the desk's "Create campaign" button publishes to (the only one set by default).
    desk: str | None = Field(default=None, max_length=30)

    @model_validator(mode="after")
    def _desk_tool_is_set(self) -> PublishSettings:
        """The desk's tool must be one whose table the config has."""
        if self.desk is not None and getattr(self, self.desk, None) is None:
            tables = [name for name in type(self).model_fields if name != "desk"]
            if self.desk not in tables:
                raise ValueError(
                    f"desk: not a list manager ({', '.join(tables)}), got {self.desk!r}"
                )
            raise ValueError(
                f"desk: names {self.desk!r}, but the config has no [publish.{self.desk}]"
            )
        return self
