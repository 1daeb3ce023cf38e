"""Resend's webhooks, signed by Svix: the id, the timestamp and the signature checked.

Resend signs each delivery as Svix documents: HMAC-SHA256 with the endpoint's secret
(``whsec_`` and base64) over ``svix-id.svix-timestamp.body``, in ``svix-signature`` as one or
more ``v1,BASE64`` values. A timestamp more than five minutes from now is refused, so a
captured request cannot be replayed later; a retry has the same ``svix-id``, which makes the
event happen once. ``email.bounced`` (permanent or transient) and ``email.complained`` are
events; everything else is acknowledged and ignored. An event read here whose fields have
another shape than Resend documents (``data.to`` a number, ``data.bounce`` a list…) is
refused (400), naming the field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr

from digest.suppression.events import Engagement, Event, Reason
from digest.web.settings import WebSettings
from digest.web.webhooks.base import (
    Refused,
    clicked_link,
    json_object,
    parse_time,
    reader_address,
    shaped,
)

__all__ = ["ResendWebhook", "svix_verify"]


class _Envelope(BaseModel):
    """What every Resend event has: its type, its time and its data."""

    model_config = ConfigDict(extra="ignore")

    type: StrictStr
    created_at: StrictStr | None = None
    data: dict[str, Any]


class _Bounce(BaseModel):
    """``data.bounce`` of ``email.bounced``."""

    model_config = ConfigDict(extra="ignore")

    message: StrictStr | None = None
    type: StrictStr | None = None


def _listed(value: object) -> object:
    """One recipient written as a string is a list of one."""
    return [value] if isinstance(value, str) else value


class _Click(BaseModel):
    """``data.click`` of ``email.clicked``: the link followed."""

    model_config = ConfigDict(extra="ignore")

    link: StrictStr | None = None


class _EmailData(BaseModel):
    """``data`` of an ``email.*`` event: its recipients and the email's id."""

    model_config = ConfigDict(extra="ignore")

    to: Annotated[list[StrictStr], BeforeValidator(_listed), Field(min_length=1)]
    email_id: StrictStr | None = None
    bounce: _Bounce | None = None
    click: _Click | None = None


def svix_verify(
    body: bytes, headers: Mapping[str, str], secret: str, now: float, tolerance: float
) -> str:
    """Check a Svix signature; the ``svix-id``, or ``Refused`` (401 or 400)."""
    message_id = headers.get("svix-id", "")
    stamp = headers.get("svix-timestamp", "")
    signatures = headers.get("svix-signature", "")
    if not (message_id and stamp and signatures):
        raise Refused(401, "no Svix signature headers")
    # Seconds since the epoch: ten digits today; a longer number is no time (int() of 400
    # digits is fine, but subtracting it from a float overflows).
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise Refused(400, "svix-timestamp is not a time (at most 12 digits)")
    sent = int(stamp)
    if abs(now - sent) > tolerance:
        raise Refused(401, "svix-timestamp too old or too new (a replay?)")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"))
    except (binascii.Error, ValueError):
        raise Refused(500, "the Resend signing secret is not base64") from None
    signed = message_id.encode() + b"." + stamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return message_id
    raise Refused(401, "bad Svix signature")


class ResendWebhook:
    """``POST /webhooks/resend``."""

    name = "resend"

    def enabled(self, settings: WebSettings) -> bool:
        """Only with a signing secret to check against."""
        return bool(settings.resend_secret)

    def events(self, body: bytes, headers: Mapping[str, str], settings: WebSettings) -> list[Event]:
        """The events of a signed bounce, complaint, open or click (``email.bounced`` …).

        Opens and clicks are kept for A/B tests; they never suppress.
        """
        secret = settings.resend_secret or ""
        message_id = svix_verify(body, headers, secret, settings.clock(), settings.svix_tolerance)
        payload = shaped(_Envelope, json_object(body))
        kind = payload.type
        if kind not in ("email.opened", "email.clicked", "email.complained", "email.bounced"):
            return []
        data = shaped(_EmailData, payload.data, ("data",))
        reason: Reason | Engagement
        detail = ""
        if kind in ("email.opened", "email.clicked"):
            reason = "opened" if kind == "email.opened" else "clicked"
        elif kind == "email.complained":
            reason = "complaint"
        else:
            bounce = data.bounce or _Bounce()
            detail = " ".join((bounce.message or "").split())
            transient = bounce.type == "Transient" or "soft bounce" in detail
            reason = "soft-bounce" if transient else "hard-bounce"
        addresses = [reader_address(a) for a in data.to]
        if None in addresses:
            raise Refused(400, f"a {kind} event without a valid address")
        at = parse_time(payload.created_at)
        email_id = data.email_id or ""
        url = clicked_link(data.click.link) if data.click and kind == "email.clicked" else ""
        return [
            Event(
                a,
                reason,
                self.name,
                f"resend:{message_id}:{a.lower()}",
                at,
                detail,
                email_id,
                url=url,
            )
            for a in addresses
            if a is not None
        ]
