"""A picture's size from its first bytes: PNG, GIF, JPEG and WebP headers.

A feed that names no size for a picture would have it drawn at the lead's full width, however
small it is; when the build may fetch, the first 64 KB of the picture are read
(``Fetcher.head``) and its size taken from its header, so an icon is known as one and a
lead picture is drawn at its own ratio. The read follows the feeds' rule: a picture at a
loopback, private or link-local address (``http://127.0.0.1/pixel``) is never asked for,
unless ``[network] allow_hosts`` names its host.
"""

from __future__ import annotations

import struct

__all__ = ["image_size"]


def image_size(head: bytes) -> tuple[int, int] | None:
    """The width and height in a picture's first bytes; None when they are not there."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return _sane(width, height)
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return _sane(width, height)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _webp(head)
    if head.startswith(b"\xff\xd8"):
        return _jpeg(head)
    return None


def _sane(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if 0 < width <= 100_000 and 0 < height <= 100_000 else None


def _webp(head: bytes) -> tuple[int, int] | None:
    kind = head[12:16]
    if kind == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return _sane(width & 0x3FFF, height & 0x3FFF)
    if kind == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return _sane((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if kind == b"VP8X" and len(head) >= 30:
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return _sane(width, height)
    return None


# JPEG markers that carry the frame's size (SOF0 to SOF15 but DHT, JPG and DAC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(head: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 <= len(head):
        if head[at] != 0xFF:
            return None
        marker = head[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        (length,) = struct.unpack(">H", head[at + 2 : at + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", head[at + 5 : at + 9])
            return _sane(width, height)
        at += 2 + length
    return None
