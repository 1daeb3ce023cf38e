"""Output files, written so that a failure never leaves a half-written or partial set."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .errors import DigestError

__all__ = ["write_files"]


def write_files(folder: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write every file into ``folder`` as one set: all of them, or none (the old ones stay).

    Each file is staged in a temporary file beside its target and synced; only then are they
    renamed into place. If a rename fails, the files already replaced get their old content
    back from hard-linked backups.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DigestError(f"{folder}: cannot create the output folder: {error.strerror}") from None
    staged: list[tuple[Path, Path]] = []
    backups: dict[Path, Path] = {}
    replaced: list[Path] = []
    try:
        for name, content in files.items():
            handle, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            staged.append((Path(temp_name), folder / name))
            os.chmod(temp_name, 0o644)
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
                stream.flush()
                os.fsync(stream.fileno())
        for _, final in staged:
            if final.exists():
                backup = final.with_name(f".{final.name}.{os.getpid()}.bak")
                backup.unlink(missing_ok=True)
                os.link(final, backup)
                backups[final] = backup
        for temp, final in staged:
            os.replace(temp, final)
            replaced.append(final)
    except OSError as error:
        for final in replaced:
            if final in backups:
                os.replace(backups.pop(final), final)
            else:
                final.unlink(missing_ok=True)
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        raise DigestError(f"{folder}: cannot write the output: {error.strerror or error}") from None
    finally:
        for backup in backups.values():
            backup.unlink(missing_ok=True)
    return [final for _, final in staged]
