"""The embeddable sign-up form that ``digest serve --form`` prints."""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from digest.labels import N_, Message, catalog_for, translate
from digest.settings import Newsletter

__all__ = ["HONEYPOT", "signup_action", "signup_form", "signup_origin"]

#: The field people never fill: a form that comes back with it filled is a bot's.
HONEYPOT = "website"

_EMAIL = N_("Email address")
_NAME = N_("Name (optional)")
_SUBSCRIBE = N_("Subscribe")
_LEAVE = N_("Leave this field empty")


def signup_origin(newsletter: Newsletter) -> str | None:
    """The origin ``digest serve`` answers on: the unsubscribe URL's, or None without one."""
    url = newsletter.contact.unsubscribe_url or ""
    parts = urlsplit(url.replace("{token}", "t"))
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def signup_action(newsletter: Newsletter) -> str:
    """Where the form posts: the unsubscribe page's origin and ``/subscribe``, or a path."""
    return f"{signup_origin(newsletter) or ''}/subscribe"


def signup_form(newsletter: Newsletter) -> str:
    """An HTML form to paste into a page: labelled fields, a honeypot hidden from everyone."""
    catalog = catalog_for(newsletter.locale).catalog

    def say(message: Message) -> str:
        return escape(translate(message, catalog))

    return (
        f'<form class="digest-signup" method="post" action="{escape(signup_action(newsletter))}">\n'
        '  <label for="digest-address">' + say(_EMAIL) + "</label>\n"
        '  <input id="digest-address" name="address" type="email" required '
        'autocomplete="email">\n'
        '  <label for="digest-name">' + say(_NAME) + "</label>\n"
        '  <input id="digest-name" name="name" type="text" autocomplete="name">\n'
        '  <div aria-hidden="true" style="position:absolute;left:-10000px" hidden>\n'
        f'    <label for="digest-{HONEYPOT}">' + say(_LEAVE) + "</label>\n"
        f'    <input id="digest-{HONEYPOT}" name="{HONEYPOT}" type="text" tabindex="-1" '
        'autocomplete="off">\n'
        "  </div>\n"
        '  <button type="submit">' + say(_SUBSCRIBE) + "</button>\n"
        "</form>\n"
    )
