"""Reading a written message back: its envelope sender, its headers and its two parts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy as email_policy
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses
from functools import lru_cache

from digest.errors import RenderError

__all__ = ["ReadMessage", "envelope_sender", "read_message"]


_FROM_LINE = re.compile(rb"^From:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*", re.MULTILINE | re.IGNORECASE)


@lru_cache(maxsize=64)
def _address_of(line: bytes) -> str:
    parsed = BytesHeaderParser(policy=email_policy.default).parsebytes(line + b"\r\n\r\n")
    addresses = getaddresses([str(parsed.get("From", ""))])
    if not addresses or "@" not in addresses[0][1]:
        raise RenderError(f"the message has no From address: {line[:80]!r}")
    return addresses[0][1]


def envelope_sender(data: bytes) -> str:
    """The address of a message's From header (its envelope sender), read from its bytes."""
    end = data.find(b"\r\n\r\n")
    match = _FROM_LINE.search(data, 0, len(data) if end < 0 else end)
    if match is None:
        raise RenderError("the message has no From header")
    return _address_of(match.group(0))


@dataclass(frozen=True)
class ReadMessage:
    """A message read back from its bytes: the headers and the text of its two parts."""

    headers: dict[str, str]
    text: str
    html: str


def read_message(data: bytes) -> ReadMessage:
    """Parse a message digest wrote, for the senders that take fields rather than bytes."""
    message = BytesParser(policy=email_policy.default).parsebytes(data)
    bodies = {"plain": "", "html": ""}
    for part in message.walk():
        subtype = part.get_content_subtype()
        if part.get_content_maintype() == "text" and subtype in bodies:
            bodies[subtype] = part.get_content()
    headers = {name: str(value) for name, value in message.items()}
    return ReadMessage(headers, bodies["plain"], bodies["html"])
