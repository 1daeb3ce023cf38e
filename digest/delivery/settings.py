"""Delivery settings: the provider, its table, pace, connections, retries."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DeliverySettings",
    "DkimSettings",
    "PostmarkSettings",
    "ResendSettings",
    "SesSettings",
    "SmtpSettings",
]


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
    username_env: str = "DIGEST_SMTP_USER"
    #: The environment variable that holds the password.
    password_env: str = "DIGEST_SMTP_PASSWORD"
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
    token_env: str = "POSTMARK_SERVER_TOKEN"
    #: The message stream: Postmark asks that newsletters go through a broadcast stream.
    message_stream: str = Field(default="broadcast", max_length=100)
    #: The API's address (https; plain http only to this machine, for a test server).
    base_url: ApiBase = "https://api.postmarkapp.com"


class ResendSettings(BaseModel):
    """Resend's batch API (100 messages a call); the API key comes from the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The environment variable that holds the API key.
    key_env: str = "RESEND_API_KEY"
    #: The API's address (https; plain http only to this machine, for a test server).
    base_url: ApiBase = "https://api.resend.com"


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

    @model_validator(mode="after")
    def _provider_settings(self) -> DeliverySettings:
        if 0 < self.rate < 0.01:
            raise ValueError(
                f"rate: at least 0.01 messages a second, or 0 for no limit (got {self.rate:g})"
            )
        if self.provider == "smtp" and self.smtp is None:
            raise ValueError('provider "smtp" needs a [delivery.smtp] table with its host')
        return self
