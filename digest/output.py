"""Output files, written so that a failure never leaves a half-written or partial set."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .errors import DigestError

__all__ = ["write_files"]


def write_files(folder: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write every file into ``folder``: all are staged first, then each is renamed into place."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DigestError(f"{folder}: cannot create the output folder: {error.strerror}") from None
    staged: list[tuple[str, Path]] = []
    try:
        for name, content in files.items():
            handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            staged.append((temp, folder / name))
            os.chmod(temp, 0o644)
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
                stream.flush()
                os.fsync(stream.fileno())
        for temp, final in staged:
            os.replace(temp, final)
    except OSError as error:
        for temp, _ in staged:
            Path(temp).unlink(missing_ok=True)
        raise DigestError(f"{folder}: cannot write the output: {error.strerror or error}") from None
    return [final for _, final in staged]
