"""The bodies: quoted-printable parts of one ``multipart/alternative`` container, and the join.

``assemble`` writes a whole message from its written head and encoded parts; ``write_copy``
joins a copy made of pre-written pieces (``digest.mail.mime.plan``) the same way.
"""

from __future__ import annotations

import quopri
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from digest.errors import RenderError
from digest.mail.mime.headers import token_header

__all__ = [
    "EncodedBody",
    "MessageSpec",
    "Part",
    "assemble",
    "container_headers",
    "frame",
    "quoted_printable",
    "write_copy",
]


def _wrapped(line: bytes, limit: int) -> list[bytes]:
    """Cut an encoded line into soft-broken pieces of at most ``limit`` characters."""
    pieces = []
    while len(line) > limit:
        cut = limit - 1
        while b"=" in line[cut - 2 : cut]:  # do not cut an =XX escape in two
            cut -= 1
        pieces.append(line[:cut] + b"=")
        line = _no_leading_dot(line[cut:])
    return [*pieces, line]


def _no_leading_dot(line: bytes) -> bytes:
    """A line that starts with a dot starts with ``=2E`` instead: SMTP need not stuff it."""
    return b"=2E" + line[1:] if line.startswith(b".") else line


def quoted_printable(data: str) -> bytes:
    """Quoted-printable with CRLF line ends and a soft break at the end, ready to join.

    Every line stays within the 76 characters of RFC 2045, the added soft break included, and
    none starts with a dot (written ``=2E``), so the message goes through SMTP unchanged.
    """
    lines = quopri.encodestring(data.encode("utf-8")).split(b"\n")
    if any(line.startswith(b".") for line in lines):
        lines = [_no_leading_dot(line) for line in lines]
    # quopri lets a line with tabs run past 76 characters, and the last line gets a soft break
    # added below: only those lines need another look (in Python, so only when needed).
    if len(lines[-1]) > 75 or max(map(len, lines)) > 76:
        last = len(lines) - 1
        lines = [
            piece
            for n, line in enumerate(lines)
            for piece in _wrapped(line, 75 if n == last else 76)
        ]
    encoded = b"\r\n".join(lines)
    if not encoded or encoded.endswith(b"\r\n"):
        return encoded
    return encoded + b"=\r\n"


_PART_HEAD = (
    b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
)


_BOUNDARY = re.compile(r"[A-Za-z0-9'()+_,./:=?-]{1,69}")


def container_headers(boundary: str) -> bytes:
    """The MIME-Version and Content-Type lines of the ``multipart/alternative`` container."""
    if not _BOUNDARY.fullmatch(boundary):
        raise RenderError(f"not a MIME boundary: {boundary!r}")
    return token_header("MIME-Version", "1.0") + (
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'.encode("ascii")
    )


def frame(boundary: str, subtypes: Sequence[str]) -> list[bytes]:
    """The bytes around the parts of a ``multipart/alternative`` message, one more than parts.

    The first holds the container's headers, the blank line and the first part's head; each
    next one ends a part and starts another; the last ends the container.
    """
    mark = b"--" + boundary.encode("ascii")
    heads = [_PART_HEAD % subtype.encode("ascii") for subtype in subtypes]
    pieces = [container_headers(boundary) + b"\r\n" + mark + b"\r\n" + heads[0]]
    pieces += [b"\r\n" + mark + b"\r\n" + head for head in heads[1:]]
    return [*pieces, b"\r\n" + mark + b"--\r\n"]


def assemble(head: bytes, boundary: str, parts: Sequence[tuple[str, bytes]]) -> bytes:
    """The whole message: written headers, then each ``(subtype, quoted-printable body)`` part.

    ``head`` holds the message's own headers; the container's are added here.
    """
    framing = frame(boundary, [subtype for subtype, _ in parts])
    out = [head]
    for piece, (_, body) in zip(framing, parts, strict=False):
        out += (piece, body)
    out.append(framing[-1])
    return b"".join(out)


@dataclass(frozen=True)
class Part:
    """One alternative of the message: ``plain`` or ``html`` text."""

    subtype: str
    body: str


@dataclass(frozen=True)
class MessageSpec:
    """A message before it is written: its header block (already written), boundary, parts."""

    head: bytes
    boundary: str
    parts: tuple[Part, ...]

    def as_bytes(self) -> bytes:
        """Serialise: the one place a whole message's bytes are made from parts."""
        return assemble(
            self.head,
            self.boundary,
            [(part.subtype, quoted_printable(part.body)) for part in self.parts],
        )


class EncodedBody(Protocol):
    """A body cut where each copy's values go, its pieces encoded once."""

    def extend_encoded(
        self, out: list[bytes], values: Mapping[str, str], done: dict[tuple[str, str], bytes]
    ) -> None:
        """Append the encoded pieces and values to ``out``; each value is encoded once."""


def write_copy(
    head: Sequence[bytes],
    framing: Sequence[bytes],
    bodies: Sequence[EncodedBody],
    values: Mapping[str, str],
) -> bytes:
    """One copy's bytes: its written head pieces, then each body filled in, inside ``framing``.

    ``framing`` is ``frame(...)`` of the bodies (one piece more than bodies), or empty for a
    message that is head pieces only. Values shared by the bodies are encoded once. A
    ``head`` given as a list is extended in place (the fast path's own list, never copied).
    """
    out = head if isinstance(head, list) else list(head)  # a list is joined in place
    done: dict[tuple[str, str], bytes] = {}
    for piece, body in zip(framing, bodies, strict=False):
        out.append(piece)
        body.extend_encoded(out, values, done)
    out.extend(framing[len(bodies) :])
    return b"".join(out)
