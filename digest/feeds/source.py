"""Where articles come from: a source's settings (``[[sources]]``), read by ``feeds.sources``.

Apart from the reading, so a config is validated without the feed readers' imports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from digest.models import check_locale, check_timezone
from digest.urls import WEB_SCHEMES

__all__ = ["Source"]


class Source(BaseModel):
    """Where articles come from: a file or an http(s) URL, and how to read it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: A local file to read (relative to the config).
    path: Path | None = None
    #: An http or https URL to fetch.
    url: str | None = None
    #: What the source is; ``auto`` tells a feed, JSON Feed, CSV or JSON document apart.
    format: Literal["auto", "feed", "jsonfeed", "json", "csv"] = "auto"
    #: How messages name this source (its path or URL by default).
    name: str | None = None
    #: The section of items that name none (no category or tag); by default "News" in the
    #: edition's language (the ``news`` label: "Berita", "Actualités", "ニュース"…).
    section: str | None = Field(default=None, min_length=1, max_length=100)
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
        if self.url is not None and urlsplit(self.url).scheme not in WEB_SCHEMES:
            raise ValueError(f"url must be http(s), got {self.url!r}")
        return self

    @property
    def label(self) -> str:
        """How messages name this source."""
        return self.name or str(self.path or self.url)
