"""Delivery settings: the provider, its table, pace, connections, retries."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from digest.delivery.guard import GuardSettings
from digest.delivery.subject_test import SubjectTestSettings

__all__ = [
    "DeliverySettings",
    "DkimSettings",
    "GuardSettings",
    "PostmarkSettings",
    "ResendSettings",
    "SesSettings",
    "SmtpSettings",
    "WarmupSettings",
]

#: What an environment variable's name looks like (``password_env = "DIGEST_SMTP_PASSWORD"``).
_VARIABLE_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


def _variable_name(value: str) -> str:
    """The name of an environment variable; anything else is refused without being shown."""
    if not _VARIABLE_NAME.fullmatch(value):
        # It is often the secret itself, pasted where its variable's name goes: never echo it.
        raise ValueError(
            "must be the name of an environment variable (capital letters, digits and _, "
            "such as DIGEST_SMTP_PASSWORD), not the secret itself; the value is not shown"
        )
    return value


#: A setting that names the environment variable holding a secret (``*_env``).
EnvName = Annotated[str, AfterValidator(_variable_name)]

#: The days of the week, as ``days`` in ``[delivery]`` names them.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class DkimSettings(BaseModel):
    """DKIM signing of every message the SMTP sender sends (``[delivery.smtp.dkim]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The selector: the key is published at ``SELECTOR._domainkey.DOMAIN``.
    selector: str = Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62})$")
    #: The signing domain (``d=``): the From address's domain or a parent of it.
    domain: str = Field(max_length=253, pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
    #: The private key, a PEM file (RSA of 1024 bits or more, or Ed25519); keep it out of
    #: version control.
    key_file: Path


class SmtpSettings(BaseModel):
    """How the SMTP sender reaches the mail server; credentials come from the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The mail server's host name.
    host: str = Field(min_length=1, max_length=255)
    #: Its port: 587 for STARTTLS, 465 for SSL, 25 between servers.
    port: int = Field(default=587, gt=0, lt=65536)
    #: ``starttls``, ``ssl``, or ``none`` (no login then, unless ``allow_plain_login``).
    security: Literal["starttls", "ssl", "none"] = "starttls"
    #: The environment variable that holds the login name (no login without it).
    username_env: EnvName = "DIGEST_SMTP_USER"
    #: The environment variable that holds the password.
    password_env: EnvName = "DIGEST_SMTP_PASSWORD"
    #: Seconds to wait for the server at each step.
    timeout: float = Field(default=30, gt=0, le=600)
    #: Log in over a connection without TLS (security = "none"): off unless asked for.
    allow_plain_login: bool = False
    #: How many times a dropped connection (or a 421 reply) is reconnected in a row.
    reconnects: int = Field(default=3, ge=0, le=20)
    #: Sign every message with DKIM (the providers' APIs sign for you; a relay may not).
    dkim: DkimSettings | None = None


def _api_base(value: str) -> str:
    """An API's base URL: https, or http only to this machine (a local test server)."""
    parts = urlsplit(value)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ValueError(f"must be an https URL (http only for localhost), got {value!r}")
    return value.rstrip("/")


ApiBase = Annotated[str, Field(max_length=500), AfterValidator(_api_base)]


class SesSettings(BaseModel):
    """Amazon SES (API v2); credentials come from boto3's usual chain (environment, profile)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The AWS region of the SES account.
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    #: Another endpoint (an emulator such as moto's server); AWS's own when not given.
    endpoint_url: ApiBase | None = None
    #: An SES configuration set to send through (for its event destinations).
    configuration_set: str | None = Field(default=None, max_length=64)


class PostmarkSettings(BaseModel):
    """Postmark's batch API (500 messages a call); the server token comes from the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The environment variable that holds the server token.
    token_env: EnvName = "POSTMARK_SERVER_TOKEN"
    #: The message stream: Postmark asks that newsletters go through a broadcast stream.
    message_stream: str = Field(default="broadcast", max_length=100)
    #: The API's address (https; plain http only to this machine, for a test server).
    base_url: ApiBase = "https://api.postmarkapp.com"


class ResendSettings(BaseModel):
    """Resend's batch API (100 messages a call); the API key comes from the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The environment variable that holds the API key.
    key_env: EnvName = "RESEND_API_KEY"
    #: The API's address (https; plain http only to this machine, for a test server).
    base_url: ApiBase = "https://api.resend.com"


class WarmupSettings(BaseModel):
    """A new sending domain's warm-up: a day's messages rise from ``first_day`` to the list."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The warm-up's first day (in the newsletter's time zone); before it, ``first_day`` holds.
    start: date
    #: How many messages may leave on the first day.
    first_day: int = Field(default=500, ge=1, le=10_000_000)
    #: Each day allows this many times the day before, until the whole list goes in a day.
    growth: float = Field(default=1.5, ge=1.01, le=10)


def _hours(value: str) -> str:
    """Sending hours as ``HH:MM-HH:MM`` (the end not included; past midnight allowed)."""
    start, dash, end = value.partition("-")
    try:
        if not dash:
            raise ValueError
        opens, closes = (
            time(0) if part.strip() == "24:00" else time.fromisoformat(part.strip())
            for part in (start, end)
        )
    except ValueError:
        example = '"HH:MM-HH:MM", such as "08:00-20:00"'
        raise ValueError(f"sending hours are {example} (got {value!r})") from None
    if opens == closes and value.replace(" ", "") != "00:00-24:00":
        raise ValueError(f"sending hours open and close at one moment (got {value!r})")
    return f"{opens:%H:%M}-{'24:00' if closes == time(0) else f'{closes:%H:%M}'}"


def _days(value: tuple[str, ...]) -> tuple[str, ...]:
    """Days of the week, each once, in the week's order."""
    unknown = [day for day in value if day not in WEEKDAYS]
    if unknown:
        raise ValueError(f"days: {unknown[0]!r} is not one of {', '.join(WEEKDAYS)}")
    if not value:
        raise ValueError("days: name at least one day, or leave days out to send any day")
    return tuple(day for day in WEEKDAYS if day in value)


class DeliverySettings(BaseModel):
    """How messages leave: the provider, its settings, the pace and the retries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Who delivers: ``smtp``, ``ses``, ``postmark`` or ``resend``.
    provider: Literal["smtp", "ses", "postmark", "resend"] = "smtp"
    #: The mail server (``[delivery.smtp]``), needed with ``provider = "smtp"``.
    smtp: SmtpSettings | None = None
    #: Amazon SES settings (``[delivery.ses]``).
    ses: SesSettings = SesSettings()
    #: Postmark settings (``[delivery.postmark]``).
    postmark: PostmarkSettings = PostmarkSettings()
    #: Resend settings (``[delivery.resend]``).
    resend: ResendSettings = ResendSettings()
    #: The most messages a second, across all connections of one sender (0: no limit; else
    #: at least 0.01, one message every 100 seconds).
    rate: float = Field(default=0, ge=0, le=100_000)
    #: Connections (SMTP) or concurrent requests (APIs) per sender.
    connections: int = Field(default=4, ge=1, le=64)
    #: Messages per batch: at most the provider's limit (500 Postmark, 100 Resend).
    batch_size: int | None = Field(default=None, ge=1, le=1000)
    #: Tries after a throttled or failed request, waiting longer each time.
    retries: int = Field(default=5, ge=0, le=20)
    #: The first wait before a retry, in seconds; it doubles each time (with jitter).
    backoff: float = Field(default=0.5, ge=0, le=60)
    #: The days messages may leave, in the newsletter's time zone (``["mon", …, "fri"]``):
    #: outside them a run sends nothing, and a later run (``digest send --due``) goes on.
    days: Annotated[tuple[str, ...], AfterValidator(_days)] = WEEKDAYS
    #: The hours messages may leave on those days, in the newsletter's time zone
    #: (``"08:00-20:00"``; ``"22:00-06:00"`` runs past midnight).
    hours: Annotated[str, AfterValidator(_hours)] = "00:00-24:00"
    #: The most messages handed over in one clock hour (UTC), across every edition and run
    #: that share the ledger (0: no cap); the rest wait for a later run.
    hourly_cap: int = Field(default=0, ge=0, le=100_000_000)
    #: A new domain's warm-up (``[delivery.warmup]``): messages a day rising to the list.
    warmup: WarmupSettings | None = None
    #: An A/B test of subjects (``[delivery.subject_test]``): ``digest build`` writes the
    #: variants into the ``.eml``, ``digest send`` sends the sample, then the winner.
    subject_test: SubjectTestSettings | None = None
    #: A guarded send (``[delivery.guard]``): a sample first; the rest only after a wait, and
    #: only if the sample's hard bounces and complaints stay within their limits.
    guard: GuardSettings | None = None

    @model_validator(mode="after")
    def _provider_settings(self) -> DeliverySettings:
        if 0 < self.rate < 0.01:
            raise ValueError(
                f"rate: at least 0.01 messages a second, or 0 for no limit (got {self.rate:g})"
            )
        if self.provider == "smtp" and self.smtp is None:
            raise ValueError('provider "smtp" needs a [delivery.smtp] table with its host')
        return self
