"""What every provider's webhook shares: a refusal with its status, and the JSON body.

A payload is read depth-limited (``body.json_value``) and its shape checked by the provider's
pydantic model (only the fields digest reads, named as the provider documents them); a
payload of another shape is ``Refused`` (400) with one line naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from digest.addresses import email_address
from digest.errors import describe_validation_error
from digest.suppression.events import Event
from digest.web.body import Refused, json_value
from digest.web.settings import WebSettings

__all__ = [
    "MAX_URL",
    "Refused",
    "Webhook",
    "clicked_link",
    "json_object",
    "parse_time",
    "reader_address",
    "shaped",
]

#: The longest clicked link kept; a longer one is kept as "" (its click still counts).
MAX_URL = 4096

Shape = TypeVar("Shape", bound=BaseModel)


class Webhook(Protocol):
    """One provider's endpoint: checks a request and reads its events."""

    #: The provider's name, in the path (``/webhooks/NAME``) and as the events' source.
    name: str

    def enabled(self, settings: WebSettings) -> bool:
        """Whether the settings hold what this endpoint needs to check requests."""
        ...

    def events(self, body: bytes, headers: Mapping[str, str], settings: WebSettings) -> list[Event]:
        """The events of a request, after checking it; ``Refused`` when it is not taken."""
        ...


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (nested at most ``MAX_DEPTH`` deep), or ``Refused`` (400)."""
    value = json_value(body)
    if not isinstance(value, dict):
        raise Refused(400, "the body is not a JSON object")
    return value


def shaped(model: type[Shape], value: object, where: tuple[str, ...] = ()) -> Shape:
    """``value`` checked by ``model``; ``Refused`` (400) naming the field (under ``where``)."""
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise Refused(400, describe_validation_error(error, where)) from None


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time from a payload (``Z`` and 7-digit fractions too), or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # .NET writes seven digits of fraction; Python reads six
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def reader_address(value: object) -> str | None:
    """A recipient address of a payload, checked; None when it is not one."""
    if not isinstance(value, str):
        return None
    address = value.strip()
    if "<" in address and address.endswith(">"):
        address = address.rsplit("<", 1)[1][:-1]
    try:
        return email_address(address)
    except ValueError:
        return None


def clicked_link(value: object) -> str:
    """The link a click event names, as the message had it; "" when it is none or too long.

    It is kept to count clicks per link (a report matches it to the edition's links), never
    followed or shown as a link: any text of at most ``MAX_URL`` characters on one line.
    """
    if not isinstance(value, str):
        return ""
    link = value.strip()
    if not link or len(link) > MAX_URL or any(c in link for c in "\r\n\0"):
        return ""
    return link
