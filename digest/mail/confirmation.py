"""The confirmation mail of double opt-in: short, in the newsletter's language, brand and name.

Written through the one MIME writer (``digest.mail.mime``) with the edition's own headers
(``Headers``), without ``List-Unsubscribe``: it is no edition, and nobody is on a list yet.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import format_datetime
from html import escape

from babel import Locale

from digest.addresses import email_address
from digest.labels import N_, Message, catalog_for, translate
from digest.mail.message import Headers, message_id
from digest.mail.mime import MessageSpec, Part
from digest.settings import Newsletter

__all__ = ["confirmation_catalog", "confirmation_mail"]

# {name} is the newsletter's name.
_MAIL_SUBJECT = N_("Confirm your subscription to {name}")
# {address} is the reader's email address, {name} the newsletter's name.
_MAIL_ASK = N_("Someone, we hope you, asked for {name} to be sent to {address}.")
_MAIL_BUTTON = N_("Yes, subscribe me")
# {hours} is how many hours the link works.
_MAIL_EXPIRES = N_(
    "The link works for {hours} hours. If you did not ask, ignore this email: "
    "you will not be subscribed."
)


def confirmation_catalog(newsletter: Newsletter) -> str:
    """The newsletter's catalog when it has the sign-up's words; English otherwise."""
    catalog = catalog_for(newsletter.locale).catalog
    return catalog if translate(_MAIL_SUBJECT, catalog) != _MAIL_SUBJECT.text else "en"


def _say(message: Message, catalog: str, **values: str) -> str:
    text = translate(message, catalog)
    return text.format(**values) if values else text


def confirmation_mail(
    newsletter: Newsletter, address: str, link: str, hours: int, sent_at: datetime
) -> bytes:
    """The confirmation mail's bytes: short, in the newsletter's language, brand and name."""
    catalog = confirmation_catalog(newsletter)
    name = newsletter.name
    subject = _say(_MAIL_SUBJECT, catalog, name=name)
    ask = _say(_MAIL_ASK, catalog, name=name, address=address)
    button = _say(_MAIL_BUTTON, catalog)
    expires = _say(_MAIL_EXPIRES, catalog, hours=str(hours))
    text = f"{ask}\n\n{button}:\n{link}\n\n{expires}\n\n-- \n{name}\n"
    theme = newsletter.brand.theme
    lang = catalog.replace("_", "-") if catalog != "en" else "en"
    rtl = Locale.parse(catalog).character_order == "right-to-left"
    direction = ' dir="rtl"' if rtl else ""
    html = (
        f'<!doctype html>\n<html lang="{lang}"{direction}><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head>"
        f'<body style="margin:0;padding:24px;background:{theme.background};color:{theme.text};'
        f'font-family:{escape(theme.font_family)};font-size:16px;line-height:1.5">'
        f'<div style="max-width:32rem;margin:0 auto;padding:24px;background:{theme.surface}">'
        f'<p style="margin:0 0 16px;font-weight:700;color:{theme.brand}">{escape(name)}</p>'
        f'<p style="margin:0 0 24px">{escape(ask)}</p>'
        f'<p style="margin:0 0 24px"><a href="{escape(link)}" style="display:inline-block;'
        f"padding:12px 24px;background:{theme.brand};color:#ffffff;font-weight:700;"
        f'text-decoration:none;border-radius:6px">{escape(button)}</a></p>'
        f'<p style="margin:0;color:{theme.muted};font-size:14px">{escape(expires)}</p>'
        "</div></body></html>\n"
    )
    key = hashlib.sha256(f"{address}\0{link}".encode()).hexdigest()[:20]
    headers = Headers(
        sender=(newsletter.sender.name, newsletter.sender.address),
        to=(email_address(address),),
        reply_to=newsletter.contact.reply_to,
        subject=" ".join(subject.split()),
        date=format_datetime(sent_at),
        message_id=message_id(sent_at, newsletter.sender.address, "confirm", key),
        unsubscribe=(),
        content_key=key,
    )
    spec = MessageSpec(
        head=headers.lines(),
        boundary=f"=_digest_{key}",
        parts=(Part("plain", text), Part("html", html)),
    )
    return spec.as_bytes()
