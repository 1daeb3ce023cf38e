"""Reading input files: regular files only, within a size limit, in the encodings people save.

A path in a config (the config itself, a data file, a local source, a recipients file) may
name a device or a FIFO (``/dev/zero``, ``/dev/stdin``, a named pipe) whose size says
nothing: ``read_limited`` opens without blocking, refuses anything that is not a regular file
and reads at most one byte past the limit. ``decode_text`` reads UTF-8 (with or without a
byte-order mark) and UTF-16 with one, and refuses any other encoding by name.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
from os import PathLike

__all__ = ["decode_text", "open_regular", "read_limited", "text_encoding"]

_KINDS = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def open_regular(path: str | PathLike[str]) -> int:
    """A file descriptor of ``path``, opened without blocking; ``OSError`` unless a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
            raise OSError(errno.EINVAL, f"it is {kind}, not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_limited(path: str | PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file ``path``; ``OSError`` past ``limit`` bytes."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit:,} bytes")
    return data


def text_encoding(head: bytes) -> str:
    """The codec for a text file that starts with ``head``: by its byte-order mark, else UTF-8."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


def decode_text(data: bytes, where: str) -> str:
    """``data`` as text: UTF-8 (with or without BOM) or UTF-16 with BOM; ``ValueError`` else.

    The message names the first byte that is not UTF-8 and its line, and what to do.
    """
    encoding = text_encoding(data[:4])
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{where}:{line}: not {'UTF-16' if encoding == 'utf-16' else 'UTF-8'} text "
            f"(byte 0x{data[error.start]:02x}); save the file as UTF-8 "
            "(or UTF-16 with a byte-order mark)"
        ) from None
