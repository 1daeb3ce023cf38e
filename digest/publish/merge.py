"""Merge languages: an edition written in a list manager's own tags, article text escaped.

The edition is rendered once with a reader whose every value is a placeholder (a random
nonce, as ``digest.mail.placeholders`` does for copies): the name, the address, each field,
the unsubscribe and preferences links, and, in the newsletter, the postal address and the
"view in browser" link. Text in the rendered parts that a tool would read as its own tags
(``*|…|*``, ``{{ … }}``, ``{% … %}``, ``{# … #}``, ``[[ … ]]``) is then broken so it is
never expanded; only after that are the placeholders replaced by the tool's tags, so that
the tags are the only merge language in what the tool receives. ``merge_edition`` does it
all and refuses an edition whose footer lacks a tag the tool requires.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from digest.errors import CheckError
from digest.render.inline import inline_css
from digest.render.renderer import Renderer

if TYPE_CHECKING:
    from digest.pipeline import Digest

__all__ = [
    "BREVO",
    "BUTTONDOWN",
    "KIT",
    "LISTMONK",
    "MAILCHIMP",
    "MergeLanguage",
    "Merged",
    "escape_html",
    "escape_text",
    "merge_edition",
    "tags_in",
]


#: What a reader's value is called in the edition (``reader.<key>``) and in the newsletter.
KEYS = ("name", "address", "unsubscribe_url", "preferences_url", "view_online", "postal_address")


@dataclass(frozen=True)
class MergeLanguage:
    """A tool's tags for the values digest puts in an edition per reader."""

    #: The tool's name as people write it, for messages.
    tool: str
    #: The reader's name (the tool's first name or full name).
    name: str
    #: The reader's email address.
    address: str
    #: The tool's own unsubscribe link (it keeps the list, so it must be its link).
    unsubscribe_url: str
    #: The tool's "view in browser" page of the campaign; None: digest's archive page, if any.
    view_online: str | None
    #: The tool's page where a reader changes what they get; None: none in the footer.
    preferences_url: str | None
    #: The list's postal address as the tool prints it; None: the newsletter's own address.
    postal_address: str | None
    #: The tag of one of the reader's fields, by its name (a name of letters, digits and _).
    field: Callable[[str], str]
    #: What the tool refuses to send without: a description, and tags any one of which will do.
    required: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def tag(self, key: str) -> str:
        """The tag standing for ``key`` (a key of ``KEYS`` or ``fields.<name>``); "" if none."""
        if key.startswith("fields."):
            name = key.removeprefix("fields.")
            return self.field(name) if _FIELD_NAME.fullmatch(name) else ""
        value = getattr(self, key, None) if key in KEYS else None
        return value if isinstance(value, str) else ""


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,49}")


#: Mailchimp's merge tags (mailchimp.com/help/all-the-merge-tags-cheat-sheet). Its campaign
#: checklist refuses a campaign without an unsubscribe link and the list's postal address.
MAILCHIMP = MergeLanguage(
    tool="Mailchimp",
    name="*|FNAME|*",
    address="*|EMAIL|*",
    unsubscribe_url="*|UNSUB|*",
    view_online="*|ARCHIVE|*",
    preferences_url="*|UPDATE_PROFILE|*",
    postal_address="*|LIST:ADDRESSLINE|*",
    field=lambda name: f"*|{name.upper()[:10]}|*",
    required=(
        ("an unsubscribe link", ("*|UNSUB|*",)),
        (
            "the list's postal address",
            ("*|LIST:ADDRESSLINE|*", "*|LIST:ADDRESS|*", "*|HTML:LIST_ADDRESS_HTML|*"),
        ),
    ),
)

#: listmonk's template expressions (listmonk.app/docs/templating): Go templates.
LISTMONK = MergeLanguage(
    tool="listmonk",
    name="{{ .Subscriber.FirstName }}",
    address="{{ .Subscriber.Email }}",
    unsubscribe_url="{{ UnsubscribeURL }}",
    view_online="{{ MessageURL }}",
    preferences_url="{{ ManageURL }}",
    postal_address=None,
    field=lambda name: f"{{{{ .Subscriber.Attribs.{name} }}}}",
    required=(("an unsubscribe link", ("{{ UnsubscribeURL }}",)),),
)

#: Buttondown's template variables (docs.buttondown.com/templating, Django's language); an
#: email in its "naked" template must hold ``{{ unsubscribe_url }}`` (docs: naked-mode).
BUTTONDOWN = MergeLanguage(
    tool="Buttondown",
    name="{{ subscriber.metadata.first_name }}",
    address="{{ subscriber.email }}",
    unsubscribe_url="{{ unsubscribe_url }}",
    view_online="{{ email.absolute_url }}",
    preferences_url="{{ manage_subscription_url }}",
    postal_address=None,
    field=lambda name: f"{{{{ subscriber.metadata.{name} }}}}",
    required=(("an unsubscribe link", ("{{ unsubscribe_url }}",)),),
)

#: Brevo's template language (help.brevo.com, "Brevo template language"): contact attributes
#: in capitals, and the campaign's own links; a campaign needs its unsubscribe link.
BREVO = MergeLanguage(
    tool="Brevo",
    name="{{ contact.FIRSTNAME }}",
    address="{{ contact.EMAIL }}",
    unsubscribe_url="{{ unsubscribe }}",
    view_online="{{ mirror }}",
    preferences_url="{{ update_profile }}",
    postal_address=None,
    field=lambda name: f"{{{{ contact.{name.upper()} }}}}",
    required=(("an unsubscribe link", ("{{ unsubscribe }}",)),),
)

#: Kit's Liquid tags (help.kit.com: personalization, HTML email templates); an email must
#: hold ``{{ unsubscribe_url }}`` (or ``{{ unsubscribe_link }}``) to be valid.
KIT = MergeLanguage(
    tool="Kit",
    name="{{ subscriber.first_name }}",
    address="{{ subscriber.email_address }}",
    unsubscribe_url="{{ unsubscribe_url }}",
    view_online=None,
    preferences_url="{{ subscriber_preferences_url }}",
    postal_address=None,
    field=lambda name: f"{{{{ subscriber.{name} }}}}",
    required=(("an unsubscribe link", ("{{ unsubscribe_url }}", "{{ unsubscribe_link }}")),),
)


# What opens a tag in one of the tools: Mailchimp *|, Go, Liquid, Django and Handlebars {{,
# Liquid, Django and Jinja {%, Django's comments {#, and [[ (Brevo's older tags).
_OPENERS = re.compile(r"\*(?=\|)|\{(?=[{%#])|\[(?=\[)")
_ENTITIES = {"*": "&#42;", "{": "&#123;", "[": "&#91;"}
#: An invisible character that joins nothing: it splits an opener in the text part.
WORD_JOINER = "\u2060"
# The elements whose text is not HTML (a character reference would be read as it is).
_RAW_TEXT = re.compile(r"(<(style|script)\b[^>]*>)(.*?)(</\2\s*>)", re.IGNORECASE | re.DOTALL)


def escape_text(text: str) -> str:
    """Text with every tag opener split by a word joiner: shown the same, expanded by none."""
    return _OPENERS.sub(lambda m: m.group(0) + WORD_JOINER, text)


def escape_html(html: str) -> str:
    """HTML with every tag opener's first character written as a character reference.

    A browser shows ``&#123;{`` as ``{{``; a tool's template engine, which reads the source,
    sees no ``{{``. In style and script elements, where references are not read, a space
    splits the opener instead (the same CSS).
    """
    out, last = [], 0
    for match in _RAW_TEXT.finditer(html):
        out.append(_OPENERS.sub(lambda m: _ENTITIES[m.group(0)], html[last : match.start()]))
        out += [match.group(1), _OPENERS.sub(r"\g<0> ", match.group(3)), match.group(4)]
        last = match.end()
    out.append(_OPENERS.sub(lambda m: _ENTITIES[m.group(0)], html[last:]))
    return "".join(out)


@dataclass(frozen=True)
class Merged:
    """An edition's parts in a tool's merge language."""

    subject: str
    preheader: str
    html: str
    text: str


class _Fields(dict[str, str]):
    """``reader.fields`` while rendering for a tool: every name has its placeholder."""

    def __init__(self, token: Callable[[str], str]) -> None:
        super().__init__()
        self.token = token

    def __missing__(self, key: str) -> str:
        return self.token(f"fields.{key}")


def merge_edition(digest: Digest, language: MergeLanguage) -> Merged:
    """``digest``'s edition rendered in ``language``'s tags, checked for the tags it needs."""
    nonce = secrets.token_hex(8)

    def token(key: str) -> str:
        return f"@@{nonce}.{key}@@"

    newsletter = digest.newsletter
    contact = newsletter.contact
    links = newsletter.links
    if language.postal_address is not None:
        contact = contact.model_copy(update={"postal_address": token("postal_address")})
    if language.preferences_url is not None:
        contact = contact.model_copy(update={"preferences_url": token("preferences_url")})
    view_online = f"https://view-online.invalid/{nonce}/"
    if language.view_online is not None:
        links = links.model_copy(update={"archive_url": view_online})
    newsletter = newsletter.model_copy(update={"contact": contact, "links": links})
    reader: dict[str, Any] = {
        key: token(key) if language.tag(key) else ""
        for key in ("name", "address", "unsubscribe_url", "preferences_url")
    }
    reader["fields"] = _Fields(token)
    rendered, _ = Renderer(digest.options).render_guarded(digest.edition, newsletter, reader=reader)
    html = inline_css(rendered.html, newsletter.layout.inliner)
    tags = re.compile(rf"{re.escape(view_online)}[^\s\"'<>]*|@@{nonce}\.([A-Za-z0-9_.]+)@@")

    def fill(part: str) -> str:
        return tags.sub(lambda m: language.tag(m.group(1) or "view_online"), part)

    merged = Merged(
        subject=fill(escape_text(rendered.subject)),
        preheader=fill(escape_text(rendered.preheader)),
        html=fill(escape_html(html)),
        text=fill(escape_text(rendered.text)),
    )
    check_tags(merged, language)
    return merged


def check_tags(merged: Merged, language: MergeLanguage) -> None:
    """Refuse an edition whose HTML or text lacks a tag the tool requires (``CheckError``)."""
    for what, choices in language.required:
        for part, body in (("HTML", merged.html), ("text", merged.text)):
            if not any(choice in body for choice in choices):
                raise CheckError(
                    f"{language.tool}: the edition's {part} part has no {what} "
                    f"({' or '.join(choices)}); the template's footer must print "
                    "reader.unsubscribe_url and the newsletter's postal address"
                )


def tags_in(merged: Merged) -> Mapping[str, int]:
    """How often each tag-like sequence appears in the HTML (for tests and ``--dry-run``)."""
    found: dict[str, int] = {}
    for match in re.finditer(r"\*\|[^|]*\|\*|\{\{[^}]*\}\}", merged.html):
        found[match.group(0)] = found.get(match.group(0), 0) + 1
    return found
