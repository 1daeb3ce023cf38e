"""A send's recipients: a file of addresses, or a CSV of readers with columns.

A file of addresses has one a line, each maybe with a time zone after it; a CSV of readers
is any export ``digest readers import`` reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import ValidationError

from digest.addresses import address_key, email_address
from digest.errors import ConfigError, InputError
from digest.files import StrPath, decode_text, read_limited, text_encoding
from digest.models import Reader, check_timezone
from digest.readers.imports import iter_import

__all__ = [
    "MAX_RECIPIENTS_BYTES",
    "read_recipients",
    "read_recipients_csv",
    "read_recipients_file",
]

#: The largest recipients file read (about five million addresses).
MAX_RECIPIENTS_BYTES = 256_000_000


def read_recipients(
    lines: Iterable[str],
    where: str = "recipients",
    zones: dict[str, str] | None = None,
    *,
    header: bool = True,
) -> list[str]:
    """Addresses, one a line; blank lines and ``#`` comments are skipped, duplicates dropped.

    A line may name the reader's time zone after the address (``kim@example.org
    Asia/Tokyo``); with ``zones``, they are put there by ``address_key``. Lines that start
    with a CSV header naming an address column are read as that CSV (``read_recipients_csv``),
    unless ``header`` is false (addresses typed one by one: ``--to email`` is no header).
    """
    lines = iter(lines)
    addresses: dict[str, str] = {}  # by address_key: one reader, however they spelled it
    for number, line in enumerate(lines, start=1):
        if number == 1 and header and _is_csv_header(line):
            text = "\n".join(each.rstrip("\r\n") for each in [line, *lines])
            return read_recipients_csv(text.encode("utf-8"), where, zones)
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        written, _, zone = text.partition(" ")
        try:
            address = email_address(written if zone.strip() else text)
            if zone.strip():
                check_timezone(zone.strip())
        except ValueError as error:
            raise InputError(f"{where}:{number}: {error} (got {text[:60]!r})") from None
        key = address_key(address)
        addresses.setdefault(key, address)
        if zones is not None and zone.strip():
            zones.setdefault(key, zone.strip())
    return list(addresses.values())


# The address columns a recipients file's CSV header names, folded (lower case, no spaces).
_ADDRESS_COLUMNS = frozenset({"address", "email", "e-mail", "emailaddress", "email_address"})


def _is_csv_header(line: str) -> bool:
    """Whether a recipients file's first line is a CSV header naming an address column."""
    if "@" in line:
        return False
    cells = re.split(r"[,;\t]", line.removeprefix("\ufeff"))
    return any(
        re.sub(r"\s+", "", cell.strip().strip('"').lower()) in _ADDRESS_COLUMNS for cell in cells
    )


def read_recipients_csv(
    data: bytes,
    where: str = "recipients",
    zones: dict[str, str] | None = None,
    readers: dict[str, Reader] | None = None,
) -> list[str]:
    """The subscribed readers of a CSV of readers (any export ``digest readers import`` reads).

    Rows of another status (pending, unsubscribed, bounced, ...) are left out, duplicates
    dropped; with ``zones``, each reader's time zone column is put there by ``address_key``,
    and with ``readers``, each row as a ``Reader`` (name, sections, time zone, fields). A bad
    row is an ``InputError`` naming its line, the column and the value.
    """
    reading = iter_import(data, where)
    addresses: dict[str, str] = {}
    for row in reading:
        if row.status != "subscribed" or reading.problems:
            continue
        key = address_key(row.address)
        addresses.setdefault(key, row.address)
        if zones is not None and row.timezone:
            zones.setdefault(key, row.timezone)
        if readers is not None and key not in readers:
            try:
                readers[key] = Reader(
                    address=row.address,
                    name=row.name,
                    sections=row.sections,
                    timezone=row.timezone,
                    fields=row.fields,
                )
            except ValidationError as error:
                problem = error.errors()[0]
                field = ".".join(str(part) for part in problem["loc"]) or "row"
                raise InputError(
                    f"{where}:{row.line}: {field}: {problem['msg']} (got {problem['input']!r:.60})"
                ) from None
    if reading.problems:
        line, message = reading.problems[0]
        more = len(reading.problems) - 1 + reading.more_problems
        also = f" (and {more} more bad rows)" if more else ""
        raise InputError(f"{where}:{line}: {message}{also}")
    return list(addresses.values())


def read_recipients_file(
    path: StrPath,
    zones: dict[str, str] | None = None,
    readers: dict[str, Reader] | None = None,
) -> list[str]:
    """The addresses of a recipients file (UTF-8, with or without BOM, or UTF-16 with BOM).

    A file whose first line is a CSV header naming an address column (address, email,
    "Email Address") is a CSV of readers: ``read_recipients_csv`` reads it (and puts each
    row's ``Reader`` in ``readers``).
    """
    try:
        data = read_limited(path, MAX_RECIPIENTS_BYTES)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it: {error.strerror or error}") from None
    head = data[:4096].decode(text_encoding(data[:4]), errors="replace").lstrip("\ufeff")
    if _is_csv_header(head.split("\n", 1)[0].split("\r", 1)[0]):
        return read_recipients_csv(data, str(path), zones, readers)
    try:
        text = decode_text(data, str(path))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return read_recipients(text.splitlines(), str(path), zones)
