"""Data files: JSON documents of articles and quotes (``data = [...]`` in a config)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from digest.errors import ConfigError, InputError, describe_validation_error
from digest.files import StrPath, read_file
from digest.models import Article, Newsletter, Quote

__all__ = ["EditionData", "load_data", "parse_edition_data"]


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
        raw = read_file(path, "data file", MAX_DATA_BYTES)
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
