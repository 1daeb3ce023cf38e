"""The header writer: every header line of every message, from a validated value of a known kind.

Text, addresses, a message ID, URIs, each written only as printable ASCII: text that is not
plain ASCII, or that holds anything an email parser would decode (``=?...?=``), goes out as
UTF-8 encoded words, so an encoded word in an article title stays text and never becomes a
line break. ``check_header_block`` parses a written block again and compares names and
decoded values; ``check_header_line`` is the cheap structural check for lines written per reader.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from email import policy as email_policy
from email.parser import BytesHeaderParser
from urllib.parse import quote, urlsplit, urlunsplit

from digest.errors import RenderError
from digest.text import one_line

__all__ = [
    "FOLD_AT",
    "address_header",
    "check_header_block",
    "check_header_line",
    "header_uri",
    "id_header",
    "list_id_header",
    "one_line",
    "text_header",
    "token_header",
    "uri_list_header",
]


#: Where a plain ASCII header is folded (RFC 5322 asks for 78 characters; 998 is the limit).
FOLD_AT = 78


# An encoded word is at most 75 characters; 39 bytes make "=?utf-8?b?" + 52 + "?=", 64 in all,
# so that even the first word fits on the line of a name such as "Reply-To: ".
_WORD_BYTES = 39


_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")


_PRINTABLE = re.compile(r"[\x20-\x7e]*")


_ADDR_SPEC = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,253}")


_MSG_ID = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,200}@[A-Za-z0-9.-]{1,253}>")


_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,75}")


_LINE = re.compile(rb"[A-Za-z][A-Za-z0-9-]*: [\x20-\x7e]*(?:\r\n[ \t][\x20-\x7e]*)*\r\n")


# Characters kept as they are in a header URI: RFC 3986's unreserved and reserved sets, less
# the comma and angle brackets that separate the URIs of List-Unsubscribe (RFC 2369).
_URI_SAFE = "/:?#[]@!$&'()*+;=%-._~"


def _name(name: str) -> str:
    if not _HEADER_NAME.fullmatch(name):
        raise RenderError(f"not a header name: {name[:80]!r}")
    return name


def _plain(value: str) -> bool:
    """Whether ``value`` can be written as it is: printable ASCII, nothing a parser decodes."""
    return value.isascii() and _PRINTABLE.fullmatch(value) is not None and "=?" not in value


def _encoded_words(value: str, size: int = _WORD_BYTES) -> list[str]:
    """``value`` as UTF-8 base64 encoded words of at most 75 characters (RFC 2047)."""
    words, chunk = [], b""
    for char in value:
        data = char.encode("utf-8", "surrogatepass")
        if len(chunk) + len(data) > size:
            words.append(chunk)
            chunk = b""
        chunk += data
    words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words if w]


def _fold(name: str, words: Sequence[str]) -> bytes:
    """Join ``words`` with spaces, folding before a word that would pass ``FOLD_AT``."""
    lines, line = [], f"{name}:"
    for word in words:
        if len(line) + 1 + len(word) > FOLD_AT and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def text_header(name: str, value: str) -> bytes:
    """An unstructured header (such as Subject) holding ``value`` as text, whatever it says."""
    value = one_line(value)
    if _plain(value) and all(len(word) <= FOLD_AT - 2 for word in value.split(" ")):
        return _fold(_name(name), value.split(" ") if value else [])
    return _fold(_name(name), _encoded_words(value))


def _display_name(name: str) -> str:
    name = one_line(name)
    if not name:
        return ""
    if _plain(name):
        if all(_ATEXT.fullmatch(word) for word in name.split(" ")):
            return name
        if len(name) < FOLD_AT - 20:
            return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    # Words of 45 bytes (72 characters, which still fit after "From: "): most names fit in
    # one, and Python's parser reads a space between the encoded words of a display name.
    return " ".join(_encoded_words(name, 45))


def _addr_spec(address: str) -> str:
    if not _ADDR_SPEC.fullmatch(address) or "=?" in address:
        raise RenderError(f"not an ASCII address for a header: {address[:80]!r}")
    return address


def address_header(name: str, addresses: Sequence[tuple[str, str]]) -> bytes:
    """An address header: ``(display name, address)`` pairs, the address already checked."""
    if not addresses:
        raise RenderError(f"{name}: no address")
    items = []
    for display, address in addresses:
        shown = _display_name(display)
        spec = _addr_spec(address)
        items.append(f"{shown} <{spec}>" if shown else spec)
    words = []
    for index, item in enumerate(items):
        words += (item + ("," if index < len(items) - 1 else "")).split(" ")
    return _fold(_name(name), words)


_LIST_ID = re.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,10}")


def list_id_header(name: str, label: str, list_id: str) -> bytes:
    """A List-Id (RFC 2919): the list's name as a phrase and its dotted ``list-id``."""
    if not _LIST_ID.fullmatch(list_id):
        raise RenderError(f"{name}: not a list id: {list_id[:80]!r}")
    shown = _display_name(label)
    return _fold(_name(name), [*(shown.split(" ") if shown else []), f"<{list_id}>"])


def id_header(name: str, message_id: str) -> bytes:
    """A Message-ID style header: ``<left@right>`` in the characters RFC 5322 allows."""
    if not _MSG_ID.fullmatch(message_id):
        raise RenderError(f"{name}: not a message ID: {message_id[:80]!r}")
    return f"{_name(name)}: {message_id}\r\n".encode("ascii")


def token_header(name: str, value: str) -> bytes:
    """A header of fixed ASCII text written by digest itself (MIME-Version, a Post value)."""
    if not value.isascii() or not _PRINTABLE.fullmatch(value):
        raise RenderError(f"{name}: not printable ASCII: {value[:80]!r}")
    return f"{_name(name)}: {value}\r\n".encode("ascii")


def header_uri(uri: str) -> str:
    """``uri`` as an ASCII URI fit for a header: IDNA host, percent-encoded path and query.

    An IRI becomes a URI (RFC 3987); spaces, quotes, commas and angle brackets are encoded
    too, so the value can never end one URI and start another, and a ``?`` after ``=`` is
    written ``%3F``, so nothing in it reads as an encoded word (``=?utf-8?q?=0D=0A?=``).
    """
    parts = urlsplit(uri)
    host = parts.hostname or ""
    try:
        host = host.encode("idna").decode("ascii") if host and not host.isascii() else host
    except UnicodeError:
        raise RenderError(f"the host of {uri[:80]!r} cannot be IDNA-encoded") from None
    netloc = host
    if parts.port is not None:
        netloc += f":{parts.port}"

    def encode(piece: str) -> str:
        return quote(piece, safe=_URI_SAFE)

    uri = urlunsplit(
        (parts.scheme, netloc, encode(parts.path), encode(parts.query), encode(parts.fragment))
    )
    return uri.replace("=?", "=%3F")


def uri_list_header(name: str, uris: Sequence[str]) -> bytes:
    """A header of angle-bracketed URIs (List-Unsubscribe), already made ASCII by ``header_uri``.

    A URI that is not (a space, quote, comma, angle bracket, non-ASCII) is refused.
    """
    encoded = list(uris)
    for uri in encoded:
        if (
            not uri
            or any(c in uri for c in ' <>,"\\')
            or "=?" in uri
            or not _PRINTABLE.fullmatch(uri)
        ):
            raise RenderError(f"{name}: not a URI for a header: {uri[:80]!r}")
    line = f"{_name(name)}: " + ", ".join(f"<{uri}>" for uri in encoded)
    if len(line) > 998:
        raise RenderError(f"{name}: the URIs are longer than a header line may be")
    return (line + "\r\n").encode("ascii")


def check_header_line(line: bytes) -> bytes:
    """Check one written header (and its folded continuations): printable ASCII, one header."""
    if not _LINE.fullmatch(line):
        raise RenderError(f"a header line is not well formed: {line[:80]!r}")
    return line


def check_header_block(block: bytes, expected: Sequence[tuple[str, str | None]]) -> bytes:
    """Parse ``block`` again: exactly the expected names, in order, with the expected values.

    A value of ``None`` is not compared (structured headers are compared by name only).
    """
    for line in re.split(rb"\r\n(?=[^ \t])", block):
        check_header_line(line if line.endswith(b"\r\n") else line + b"\r\n")
    parsed = BytesHeaderParser(policy=email_policy.default).parsebytes(block + b"\r\n")
    names = list(parsed.keys())
    if names != [name for name, _ in expected]:
        raise RenderError(f"the message's headers do not survive a round trip: {names!r}")
    for (name, value), got in zip(expected, parsed.values(), strict=True):
        if value is not None and str(got) != value:
            raise RenderError(f"{name}: the header reads back as {str(got)[:80]!r}")
    return block
