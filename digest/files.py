"""Files: inputs read safely, one file written whole, and locks.

A path in a config (the config itself, a data file, a local source, a recipients file) may
name a device or a FIFO (``/dev/zero``, ``/dev/stdin``, a named pipe) whose size says
nothing: ``read_limited`` opens without blocking, refuses anything that is not a regular file
and reads at most one byte past the limit. ``decode_text`` reads UTF-8 (with or without a
byte-order mark) and UTF-16 with one, and refuses any other encoding by name.

``write_file`` replaces one file whole (a temporary, synced, then renamed); ``BuildLock`` is a
lock the kernel holds for a process; ``transaction`` is one SQLite write transaction. (A set of
files across folders is committed by ``digest.schedule.commit``.)
"""

from __future__ import annotations

import codecs
import csv
import errno
import fcntl
import io
import os
import secrets
import socket
import stat
import time
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

from digest.errors import ConfigError, DigestError

__all__ = [
    "BuildLock",
    "StrPath",
    "decode_text",
    "inert_cell",
    "open_regular",
    "read_file",
    "read_limited",
    "spreadsheet_csv",
    "text_encoding",
    "write_file",
]

#: A file system path: a string or any path-like object.
StrPath = str | PathLike[str]

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


def read_file(path: StrPath, what: str, limit: int) -> bytes:
    """The bytes of ``path`` (``what`` it is, for the message); ``ConfigError`` if unreadable."""
    try:
        return read_limited(path, limit)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {what}: {error.strerror or error}") from None


def write_file(path: StrPath, data: bytes) -> Path:
    """Replace ``path`` with ``data`` whole: a reader sees the old file or the new, never half."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temp, "xb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def _holder(fd: int) -> str:
    """What a lock file says of the process that holds it."""
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""


class BuildLock:
    """An exclusive lock on a file or folder, held for one build; a second waits, then fails.

    The kernel holds it (``flock``), so a process killed with ``kill -9`` lets it go. A lock
    file names its holder (process, host, since when), so a refusal can name it too.
    """

    def __init__(
        self,
        path: Path,
        timeout: float = 120.0,
        busy: str = "another build of this newsletter is running",
        error: type[DigestError] = DigestError,
    ) -> None:
        """Lock ``path`` (a file, created if needed, or a folder), waiting up to ``timeout`` s.

        ``busy`` begins the message of the ``error`` raised when the lock stays taken.
        """
        self.path = path
        self.timeout = timeout
        self.busy = busy
        self.error = error
        self._fd: int | None = None

    def __enter__(self) -> BuildLock:
        """Take the lock."""
        try:
            if self.path.is_dir():
                fd = os.open(self.path, os.O_RDONLY)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise DigestError(
                f"{self.path}: cannot open the build lock: {error.strerror}"
            ) from None
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = "" if self.path.is_dir() else _holder(fd)
                    os.close(fd)
                    waited = f"; waited {self.timeout:g} s" if self.timeout else ""
                    raise self.error(
                        f"{self.busy} ({holder or f'it holds {self.path}'}){waited}"
                    ) from None
                time.sleep(0.05)
        if not self.path.is_dir():
            note = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%c')}"
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        """Release the lock."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def inert_cell(cell: str) -> str:
    """A CSV cell no spreadsheet runs as a formula (OWASP's CSV injection rule: a leading ')."""
    return "'" + cell if cell.startswith(("=", "+", "-", "@", "\t", "\r")) else cell


def spreadsheet_csv(rows: Iterable[Iterable[object]]) -> str:
    """CSV a spreadsheet reads as data: every cell quoted and inert, lines ending in CRLF.

    A cell is quoted even without a comma in it: a carriage return inside an unquoted cell
    would start a row of its own there, whose first cell could be a formula (RFC 4180's lines,
    OWASP's leading ``'``).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerows([inert_cell(str(cell)) for cell in row] for row in rows)
    return buffer.getvalue()
