"""Config and data files: a TOML newsletter config and JSON documents of articles and quotes."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError, InputError, describe_validation_error
from .models import Article, EmailAddress, Newsletter, Quote

__all__ = ["BuildConfig", "EditionData", "load_config", "load_data", "parse_edition_data"]

MAX_DATA_BYTES = 50_000_000


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


class BuildConfig(BaseModel):
    """A newsletter config file: the newsletter, its data files, templates and assets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    newsletter: Newsletter
    data: list[Path] = Field(default_factory=list)
    templates: Path | None = None
    assets: Path | None = None
    to: list[EmailAddress] = Field(default_factory=list)


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_DATA_BYTES:
            raise ConfigError(f"{path}: the {what} is larger than {MAX_DATA_BYTES:,} bytes")
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {what}: {error.strerror or error}") from None


def load_config(path: Path) -> BuildConfig:
    """Read a TOML config; its relative paths are taken from the config's own folder."""
    raw = _read(path, "config file")
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    data = document.get("data", [])
    if isinstance(data, str):
        document["data"] = [data]
    try:
        config = BuildConfig.model_validate(document)
    except ValidationError as error:
        raise ConfigError(f"{path}: {describe_validation_error(error)}") from None
    base = path.parent
    return config.model_copy(
        update={
            "data": [base / p for p in config.data],
            "templates": None if config.templates is None else base / config.templates,
            "assets": None if config.assets is None else base / config.assets,
        }
    )


def parse_edition_data(document: object, newsletter: Newsletter | None = None) -> EditionData:
    """Validate a data document (parsed JSON) against ``newsletter``'s link rules."""
    context = newsletter.validation_context if newsletter else None
    try:
        return EditionData.model_validate(document, context=context)
    except ValidationError as error:
        raise InputError(describe_validation_error(error)) from None


def load_data(paths: Iterable[Path], newsletter: Newsletter | None = None) -> EditionData:
    """Read and merge JSON data documents of articles and quotes."""
    merged = EditionData()
    for path in paths:
        raw = _read(path, "data file")
        try:
            document = json.loads(raw)
        except UnicodeDecodeError as error:
            raise ConfigError(f"{path}: not UTF-8 text ({error.reason})") from None
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}"
            ) from None
        try:
            merged = merged.merge(parse_edition_data(document, newsletter))
        except InputError as error:
            raise ConfigError(f"{path}: {error}") from None
    return merged
