"""Config and data files: a TOML newsletter config and JSON documents of articles and quotes."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from os import PathLike
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError, InputError, describe_validation_error
from .files import read_limited
from .models import Article, EmailAddress, Newsletter, Quote, check_locale, check_timezone

__all__ = [
    "BuildConfig",
    "DeliverySettings",
    "EditionData",
    "PostmarkSettings",
    "ResendSettings",
    "SesSettings",
    "SmtpSettings",
    "Source",
    "load_config",
    "load_data",
    "parse_edition_data",
]

MAX_DATA_BYTES = 50_000_000
#: A file system path: a string or any path-like object.
StrPath = str | PathLike[str]


class EditionData(BaseModel):
    """A JSON data document: ``{"articles": [...], "quotes": [...]}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    articles: list[Article] = Field(default_factory=list, max_length=10_000)
    quotes: list[Quote] = Field(default_factory=list, max_length=10_000)

    def merge(self, other: EditionData) -> EditionData:
        """Return this document with the articles and quotes of ``other`` added."""
        return EditionData(
            articles=[*self.articles, *other.articles], quotes=[*self.quotes, *other.quotes]
        )


class Source(BaseModel):
    """Where articles come from: a file or an http(s) URL, and how to read it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path | None = None
    url: str | None = None
    format: Literal["auto", "feed", "jsonfeed", "json", "csv"] = "auto"
    name: str | None = None
    #: The section of items that name none (no category or tag).
    section: str = Field(default="News", min_length=1, max_length=100)
    #: The zone of dates that name none (IANA name); else the newsletter's, with a warning.
    timezone: Annotated[str, AfterValidator(check_timezone)] | None = None
    #: The language of day and month names in dates, when the feed does not say (``pt_BR``).
    language: Annotated[str, AfterValidator(check_locale)] | None = None
    #: Seconds a URL source may take in all, retries included.
    deadline: float = Field(default=30, gt=0, le=600)

    @model_validator(mode="after")
    def _one_location(self) -> Source:
        if (self.path is None) == (self.url is None):
            raise ValueError("a source needs exactly one of path or url")
        if self.url is not None and urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"url must be http(s), got {self.url!r}")
        return self

    @property
    def label(self) -> str:
        """How messages name this source."""
        return self.name or str(self.path or self.url)


class SmtpSettings(BaseModel):
    """How the SMTP sender reaches the mail server; credentials come from the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=587, gt=0, lt=65536)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username_env: str = "DIGEST_SMTP_USER"
    password_env: str = "DIGEST_SMTP_PASSWORD"
    timeout: float = Field(default=30, gt=0, le=600)
    #: Log in over a connection without TLS (security = "none"): off unless asked for.
    allow_plain_login: bool = False
    #: How many times a dropped connection (or a 421 reply) is reconnected in a row.
    reconnects: int = Field(default=3, ge=0, le=20)


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

    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    #: Another endpoint (an emulator such as moto's server); AWS's own when not given.
    endpoint_url: ApiBase | None = None
    configuration_set: str | None = Field(default=None, max_length=64)


class PostmarkSettings(BaseModel):
    """Postmark's batch API (500 messages a call); the server token comes from the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token_env: str = "POSTMARK_SERVER_TOKEN"
    #: The message stream: Postmark asks that newsletters go through a broadcast stream.
    message_stream: str = Field(default="broadcast", max_length=100)
    base_url: ApiBase = "https://api.postmarkapp.com"


class ResendSettings(BaseModel):
    """Resend's batch API (100 messages a call); the API key comes from the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_env: str = "RESEND_API_KEY"
    base_url: ApiBase = "https://api.resend.com"


class DeliverySettings(BaseModel):
    """How messages leave: the provider, its settings, the pace and the retries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Literal["smtp", "ses", "postmark", "resend"] = "smtp"
    smtp: SmtpSettings | None = None
    ses: SesSettings = SesSettings()
    postmark: PostmarkSettings = PostmarkSettings()
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


class BuildConfig(BaseModel):
    """A newsletter config file: the newsletter, its data files, templates and assets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    newsletter: Newsletter
    data: list[Path] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list, max_length=100)
    templates: Path | None = None
    assets: Path | None = None
    to: list[EmailAddress] = Field(default_factory=list)
    #: The edition history (SQLite): a path, or false to keep none.
    history: Path | bool = True
    #: The folder of the web archive (one page per edition and an index), if any.
    archive: Path | None = None
    #: Where ``digest build`` writes when ``--out`` is not given.
    out: Path | None = None
    delivery: DeliverySettings | None = None
    #: A file of recipient addresses for ``digest send``, one a line.
    recipients: Path | None = None
    #: Cadence-based windows need the previous edition: how many editions a quote rests.
    quote_rest: int = Field(default=4, ge=0, le=100)


def _read(path: Path, what: str) -> bytes:
    try:
        return read_limited(path, MAX_DATA_BYTES)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {what}: {error.strerror or error}") from None


def load_config(path: StrPath) -> BuildConfig:
    """Read a TOML config; its relative paths are taken from the config's own folder."""
    path = Path(path)
    raw = _read(path, "config file")
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not usable TOML: arrays or tables nested too deeply") from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise ConfigError(f"{path}: not usable TOML: {error}") from None
    data = document.get("data", [])
    if isinstance(data, str):
        document["data"] = [data]
    if "smtp" in document:
        raise ConfigError(
            f'{path}: [smtp] has moved to [delivery.smtp] (with provider = "smtp" in '
            "[delivery]); the keys inside it are the same"
        )
    try:
        config = BuildConfig.model_validate(document)
    except ValidationError as error:
        raise ConfigError(f"{path}: {describe_validation_error(error)}") from None
    base = path.parent

    def under(value: Path | None) -> Path | None:
        return None if value is None else base / value

    history = config.history
    if history is True:
        history = base / f"{path.stem}.history.sqlite3"
    elif isinstance(history, Path):
        history = base / history
    sources = [
        s if s.path is None else s.model_copy(update={"path": base / s.path})
        for s in config.sources
    ]
    return config.model_copy(
        update={
            "data": [base / p for p in config.data],
            "sources": sources,
            "templates": under(config.templates),
            "assets": under(config.assets),
            "history": history,
            "archive": under(config.archive),
            "out": under(config.out),
            "recipients": under(config.recipients),
        }
    )


def parse_edition_data(document: object, newsletter: Newsletter | None = None) -> EditionData:
    """Validate a data document (parsed JSON) against ``newsletter``'s link rules."""
    context = newsletter.validation_context if newsletter else None
    try:
        return EditionData.model_validate(document, context=context)
    except ValidationError as error:
        raise InputError(describe_validation_error(error)) from None


def load_data(paths: Iterable[StrPath], newsletter: Newsletter | None = None) -> EditionData:
    """Read and merge JSON data documents of articles and quotes."""
    merged = EditionData()
    for path in map(Path, paths):
        raw = _read(path, "data file")
        try:
            document = json.loads(raw)
        except UnicodeDecodeError as error:
            raise ConfigError(f"{path}: not UTF-8 text ({error.reason})") from None
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}"
            ) from None
        except ValueError as error:  # an integer of thousands of digits
            raise ConfigError(f"{path}: not usable JSON: {error}") from None
        except RecursionError:
            raise ConfigError(f"{path}: not usable JSON: nested too deeply") from None
        try:
            merged = merged.merge(parse_edition_data(document, newsletter))
        except InputError as error:
            raise ConfigError(f"{path}: {error}") from None
    return merged
