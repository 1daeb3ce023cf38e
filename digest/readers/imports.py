"""Reading an export of readers: any CSV, or the export of a tool people leave, row by row.

The bytes may be UTF-8 (with or without BOM), UTF-16 with BOM, or Excel's Windows-1252 (a
file that is not UTF-8); the delimiter a comma, a semicolon (Excel in many European locales)
or a tab, chosen by the header line, which is required. The tool is known by its header
(``digest.readers.tools``); any other CSV names its address column address, email, e-mail or
"Email Address". ``mapping`` maps the file's columns onto ours: address, name, sections,
timezone, language, status, consent_at, consent_ip, or ``fields.NAME``.

Every value is checked; a row with a bad one is a problem (its line, the column, the value)
and the rest of the file is still read, so one run lists them all (the first 100). The file
is read as it is iterated (``iter_import``): a million rows need not be held at once.
"""

from __future__ import annotations

import codecs
import csv
import io
import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from digest.addresses import email_address
from digest.errors import InputError
from digest.fields import check_locale, check_timezone
from digest.files import text_encoding
from digest.readers.records import (
    CONSENT_METHODS,
    STATUSES,
    ConsentMethod,
    ImportedReader,
    Status,
)
from digest.readers.tools import BadValue, Ours, RowReader, recognise
from digest.text import one_line_text

__all__ = ["MAX_PROBLEMS", "OURS", "ImportReading", "ImportResult", "iter_import", "read_import"]

#: The columns a file's columns can be mapped onto (and ``fields.NAME``).
OURS: tuple[str, ...] = (
    "address",
    "name",
    "sections",
    "timezone",
    "language",
    "status",
    "consent_at",
    "consent_ip",
    "consent_method",
    "consent_source",
    "consent_wording",
    "left_at",
)

#: The problems listed; beyond them, only counted.
MAX_PROBLEMS = 100

# Column names of a CSV from anywhere, folded (lower case; spaces, - and _ dropped).
_GENERIC = {
    "address": "address",
    "email": "address",
    "emailaddress": "address",
    "mail": "address",
    "name": "name",
    "fullname": "name",
    "sections": "sections",
    "timezone": "timezone",
    "tz": "timezone",
    "language": "language",
    "lang": "language",
    "locale": "language",
    "status": "status",
    "consentat": "consent_at",
    "consentip": "consent_ip",
    "consentmethod": "consent_method",
    "consentsource": "consent_source",
    "consentwording": "consent_wording",
    "leftat": "left_at",
}
_FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,50}")
_GO_TIME = re.compile(r"(\S+ \d\d:\d\d:\d\d)(\.\d+)? ([+-]\d{4}) [A-Za-z]+", re.ASCII)
_FRACTION = re.compile(r"(\.\d{6})\d+", re.ASCII)
_SECTIONS = re.compile(r"[,|]")
# A plain IPv4 address, written as ipaddress writes it (checked without it: most IPs are).
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}", re.ASCII)
_MAX_FIELDS = 50
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ImportResult:
    """An export read whole: its good rows, its problems and the tool that wrote it."""

    #: In file order, line numbers from the file (header = line 1).
    rows: list[ImportedReader]
    #: (line, message naming the column and the value); the first ``MAX_PROBLEMS``.
    problems: list[tuple[int, str]]
    #: "mailchimp" | "listmonk" | "substack" | "buttondown" | "ghost" | "csv"
    tool: str
    #: Bad rows beyond those listed in ``problems``.
    more_problems: int = 0


def _fold(column: str) -> str:
    return re.sub(r"[\s_-]+", "", column.lower())


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8, checked a megabyte at a time (no second copy of the file)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(data), _CHUNK):
            decoder.decode(view[start : start + _CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _text(data: bytes, where: str) -> io.TextIOWrapper:
    """The file as a stream of text, in the encoding its bytes say."""
    encoding = text_encoding(data[:4])
    if encoding == "utf-8" and (b"\x00" in data[:4096] or not _is_utf8(data)):
        if b"\x00" in data[:4096]:
            raise InputError(f"{where}: not a text file (it holds NUL bytes); export it as CSV")
        encoding = "cp1252"
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")


def _delimiter(header: str) -> str:
    """The delimiter of a CSV by its header line: the most frequent of , ; and tab."""
    counts = {mark: header.count(mark) for mark in (",", ";", "\t")}
    best = max(counts, key=lambda mark: counts[mark])
    return best if counts[best] else ","


def _moment(value: str) -> datetime:
    """A date and time as the tools write them (ISO 8601, Go's, Mailchimp's); naive is UTC."""
    text = value.strip()
    go = _GO_TIME.fullmatch(text)
    if go:
        text = f"{go[1]}{go[2] or ''}{go[3]}"
    text = _FRACTION.sub(r"\1", text.removesuffix("Z").removesuffix("z"))
    if value.strip()[-1:] in ("Z", "z"):
        text += "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not a date and time (write it as 2024-03-01T09:00:00Z)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _mapped(mapping: Mapping[str, str], header: list[str], where: str) -> dict[int, str]:
    """The file's column positions onto ours, from ``mapping``; ``InputError`` if it is wrong."""
    positions: dict[int, str] = {}
    for column, ours in mapping.items():
        name = ours.strip()
        if name not in OURS and not (
            name.startswith("fields.") and _FIELD_NAME.fullmatch(name.removeprefix("fields."))
        ):
            raise InputError(
                f"--map {column}={ours}: {ours!r} is not one of ours: "
                f"{', '.join(OURS)}, or fields.NAME (letters, digits, _; 50 at most)"
            )
        matches = [i for i, c in enumerate(header) if c.strip() == column.strip()] or [
            i for i, c in enumerate(header) if c.strip().lower() == column.strip().lower()
        ]
        if not matches:
            raise InputError(
                f"--map {column}={ours}: {where} has no column {column!r} "
                f"(its columns: {', '.join(header)[:300]})"
            )
        positions[matches[0]] = name
    return positions


def _generic(header: list[str]) -> dict[int, str]:
    """The columns of a CSV from anywhere that are plainly ours (or ``fields.NAME``)."""
    positions: dict[int, str] = {}
    for index, column in enumerate(header):
        name = column.strip()
        ours = _GENERIC.get(_fold(name))
        if name.lower().startswith("fields.") and _FIELD_NAME.fullmatch(name[7:]):
            ours = "fields." + name[7:]
        if ours is not None and ours not in positions.values():
            positions[index] = ours
    return positions


class ImportReading:
    """One export read row by row: iterate it once; ``problems`` fill in as it goes.

    The header is read when it is made (``InputError`` for a file that cannot be read at
    all); ``tool`` names what wrote it.
    """

    def __init__(
        self,
        data: bytes,
        where: str,
        mapping: Mapping[str, str] | None = None,
        status: Status | None = None,
    ) -> None:
        if status is not None and status not in STATUSES:
            raise InputError(f"status {status!r}: not one of {', '.join(STATUSES)}")
        self.where = where
        self.status = status
        #: (line, message) of the first ``MAX_PROBLEMS`` bad rows.
        self.problems: list[tuple[int, str]] = []
        #: Bad rows beyond those listed.
        self.more_problems = 0
        self._stream = _text(data, where)
        try:
            first_line = self._stream.readline()
        except UnicodeDecodeError as error:
            raise InputError(f"{where}: not text ({error.reason}); export it as CSV") from None
        # Excel's "sep=;" first line names the delimiter; the header is the next line.
        hint = first_line.strip()
        self._skipped = 1 if len(hint) == 5 and hint.lower().startswith("sep=") else 0
        if self._skipped:
            delimiter = hint[4]
            header_at = self._stream.tell()
            first_line = self._stream.readline()
            self._stream.seek(header_at)
        else:
            self._stream.seek(0)
            delimiter = _delimiter(first_line)
        if not first_line.strip():
            line = 1 + self._skipped
            raise InputError(f"{where}:{line}: no header line: the first line names the columns")
        self._rows = csv.reader(self._stream, delimiter=delimiter, strict=False)
        self._line = 0
        self.header = [column.strip() for column in self._next() or []]
        lowered = [column.lower() for column in self.header]
        tool = recognise(frozenset(lowered))
        self.tool = tool.name if tool is not None else "csv"
        self._lowered = lowered
        self._reader: RowReader | None = tool.reader(frozenset(lowered)) if tool else None
        self._columns = {
            **(_generic(self.header) if tool is None else {}),
            **_mapped(mapping or {}, self.header, where),
        }
        self._original = dict(zip(lowered, self.header, strict=True))
        if tool is None and "address" not in self._columns.values():
            raise InputError(
                f"{where}:{1 + self._skipped}: no address column: name one address, email or "
                f'"Email Address", or map one with --map "COLUMN=address" (its columns: '
                f"{', '.join(self.header)[:300]})"
            )

    def _next(self) -> list[str] | None:
        """The next record, and its first line in ``self._line``; None at the end."""
        start = self._rows.line_num + 1 + self._skipped
        try:
            record = next(self._rows)
        except StopIteration:
            return None
        except csv.Error as error:
            raise InputError(f"{self.where}:{start}: not CSV: {error}") from None
        except UnicodeDecodeError as error:
            raise InputError(f"{self.where}:{start}: not text ({error.reason})") from None
        self._line = start
        return record

    def __iter__(self) -> Iterator[ImportedReader]:
        """The good rows, in file order; each bad one becomes a problem instead."""
        while (record := self._next()) is not None:
            if not any(cell.strip() for cell in record):
                continue
            try:
                yield self._row(record)
            except BadValue as error:
                self._problem(
                    f"column {self._name(error.column)!r}: {error} (got {error.value[:60]!r})"
                )

    def _name(self, column: str) -> str:
        return self._original.get(column, column)

    def _problem(self, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((self._line, message))
        else:
            self.more_problems += 1

    def _row(self, record: list[str]) -> ImportedReader:
        """One record as a reader; ``BadValue`` (the first bad column) if it is not one."""
        ours: Ours = {}
        if self._reader is not None:
            ours = self._reader(dict(zip(self._lowered, record, strict=False)))
        for index, name in self._columns.items():
            ours[name] = (self._lowered[index], record[index] if index < len(record) else "")
        if self.status is not None:  # the file's own status is overridden, so not checked
            ours.pop("status", None)
        return _reader(self._line, ours, self.status)


def _reader(line: int, ours: Ours, status: Status | None) -> ImportedReader:
    """Our columns checked and turned into a reader; ``BadValue`` names the first bad one."""
    values: dict[str, object] = {}
    fields: dict[str, str] = {}
    for name, (column, raw) in ours.items():
        value = raw.strip()
        try:
            if name == "address":
                if not value:
                    raise ValueError("no address")
                values[name] = email_address(value)
            elif not value:
                continue
            elif name.startswith("fields."):
                fields[name.removeprefix("fields.")] = _one_line(value, 500)
            elif name == "name":
                values[name] = _one_line(value, 500)
            elif name == "status":
                if value.lower() not in STATUSES:
                    raise ValueError(f"not a status digest knows ({', '.join(STATUSES)})")
                values[name] = value.lower()
            elif name == "timezone":
                values[name] = check_timezone(value)
            elif name == "language":
                values[name] = check_locale(value)
            elif name == "sections":
                sections = tuple(_one_line(s, 100) for s in _SECTIONS.split(value) if s.strip())
                values[name] = sections or None
            elif name in ("consent_at", "left_at"):
                values[name] = _moment(value)
            elif name == "consent_method":
                if value.lower() not in CONSENT_METHODS:
                    known = ", ".join(CONSENT_METHODS)
                    raise ValueError(f"not a way of consent digest knows ({known})")
                values[name] = value.lower()
            elif name in ("consent_source", "consent_wording"):
                values[name] = _one_line(value, 500)
            elif name == "consent_ip":
                ip = value if _IPV4.fullmatch(value) else str(ipaddress.ip_address(value))
                values[name] = ip
        except ValueError as error:
            message = str(error) if name != "consent_ip" else "not an IP address"
            raise BadValue(column, raw, message) from None
    if "address" not in values:
        raise BadValue("address", "", "no address")
    if len(fields) > _MAX_FIELDS:
        raise BadValue("fields", "", f"more than {_MAX_FIELDS} fields")
    return ImportedReader(
        line=line,
        address=cast(str, values["address"]),
        status=status or cast(Status, values.get("status", "subscribed")),
        name=cast("str | None", values.get("name")),
        fields=fields,
        sections=cast("tuple[str, ...] | None", values.get("sections")),
        timezone=cast("str | None", values.get("timezone")),
        language=cast("str | None", values.get("language")),
        consent_at=cast("datetime | None", values.get("consent_at")),
        consent_ip=cast("str | None", values.get("consent_ip")),
        consent_method=cast("ConsentMethod | None", values.get("consent_method")),
        consent_source=cast("str | None", values.get("consent_source")),
        consent_wording=cast("str | None", values.get("consent_wording")),
        left_at=cast("datetime | None", values.get("left_at")),
    )


def _one_line(value: str, limit: int) -> str:
    # A cell a CSV export kept from running as a formula (``files.csv_cell``) comes back as it was.
    if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@"):
        value = value[1:]
    text = one_line_text(value)
    if len(text) > limit:
        raise ValueError(f"longer than {limit} characters")
    if not text:
        raise ValueError("only spaces and control characters")
    return text


def iter_import(
    data: bytes,
    where: str,
    mapping: Mapping[str, str] | None = None,
    status: Status | None = None,
) -> ImportReading:
    """One export file to be read row by row (iterate the result once); see ``read_import``."""
    return ImportReading(data, where, mapping, status)


def read_import(
    data: bytes,
    where: str,
    mapping: Mapping[str, str] | None = None,
    status: Status | None = None,
) -> ImportResult:
    """Read one export file whole (``where`` names it in messages).

    ``mapping`` maps the file's column names to ours (address, name, sections, timezone,
    language, status, consent_at, consent_ip, or fields.NAME); ``status`` overrides the
    status for every row (a Mailchimp unsubscribed file whose columns do not say). Raises
    InputError for a file that cannot be read at all (no address column, not text).
    """
    reading = iter_import(data, where, mapping, status)
    rows = list(reading)
    return ImportResult(rows, reading.problems, reading.tool, reading.more_problems)
