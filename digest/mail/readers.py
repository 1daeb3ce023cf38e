"""Readers from anywhere: rows of a CSV file, a database cursor or a list, validated in bulk.

``reader_chunks`` turns any iterable of ``Reader`` objects or mappings into lists of
validated readers, a chunk at a time (one pydantic call per chunk), so a million rows never
sit in memory at once. A row that does not validate is an ``InputError`` naming its number,
the field and the value. ``csv_rows`` reads a CSV file whose header names the fields:
``address``, ``name``, ``sections`` (separated by ``;``), ``unsubscribe_url``,
``unsubscribe_token``, ``timezone``, and ``fields.NAME`` for template values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

from pydantic import TypeAdapter, ValidationError

from digest.errors import InputError, describe_validation_error
from digest.files import StrPath, open_regular, text_encoding
from digest.models import Reader

__all__ = ["csv_rows", "reader_chunks", "validate_readers"]


_READERS = TypeAdapter(list[Reader])


def reader_chunks(
    rows: Iterable[Reader | Mapping[str, Any]], size: int = 1000, first: int = 1
) -> Iterator[list[Reader]]:
    """Validated readers, ``size`` at a time; ``Reader`` objects pass as they are.

    An ``InputError`` names the row by its number, counting from ``first``.
    """
    remaining = iter(rows)
    while chunk := list(islice(remaining, size)):
        yield validate_readers(chunk, range(first, first + len(chunk)))
        first += len(chunk)


def validate_readers(
    rows: Sequence[Reader | Mapping[str, Any]], numbers: Sequence[int]
) -> list[Reader]:
    """``rows`` validated in one call; an ``InputError`` names the first bad one's number."""
    if all(isinstance(row, Reader) for row in rows):
        return list(rows)  # type: ignore[arg-type]
    raw = [row.model_dump() if isinstance(row, Reader) else row for row in rows]
    try:
        return _READERS.validate_python(raw)
    except ValidationError as error:
        index = error.errors()[0]["loc"][0]
        position = index if isinstance(index, int) else 0
        try:
            Reader.model_validate(raw[position])
            problem = describe_validation_error(error)
        except ValidationError as own:
            problem = describe_validation_error(own)
        raise InputError(f"reader {numbers[position]}: {problem}") from None


def csv_rows(path: StrPath) -> Iterator[dict[str, Any]]:
    """The rows of a readers CSV file as mappings ``Reader`` accepts, read as they are needed.

    The file is UTF-8 (with or without a byte-order mark) or UTF-16 with one; a row that is
    not is an ``InputError`` saying so, and a field longer than the csv module allows
    (131,072 characters) one naming its line.
    """
    try:
        fd = open_regular(path)
    except OSError as error:
        raise InputError(f"{path}: cannot read it: {error.strerror or error}") from None
    with open(fd, "rb") as raw:
        encoding = text_encoding(raw.peek(4)[:4])
        file = io.TextIOWrapper(raw, encoding=encoding, newline="")
        rows = csv.DictReader(file)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise InputError(
                    f"{path}: not {encoding.upper().removesuffix('-SIG')} text;"
                    " save the file as UTF-8 (or UTF-16 with a byte-order mark)"
                ) from None
            except csv.Error as error:
                raise InputError(f"{path}:{rows.line_num + 1}: {error}") from None
            reader: dict[str, Any] = {}
            fields: dict[str, str] = {}
            for key, value in row.items():
                if key is None or value in (None, ""):
                    continue
                if key.startswith("fields."):
                    fields[key.removeprefix("fields.")] = value
                elif key == "sections":
                    reader[key] = [s.strip() for s in value.split(";") if s.strip()]
                else:
                    reader[key] = value
            if fields:
                reader["fields"] = fields
            yield reader
