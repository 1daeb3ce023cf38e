"""Where templates come from: their folders only, never through a symbolic link.

:class:`ConfinedLoader` gives Jinja2 the template files of a list of folders, and
:func:`include_loader` gives MJML its ``mj-include`` files from the same folders: a name with
``..``, an absolute path, a drive or a symbolic link on the way is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Protocol

import jinja2
from jinja2.exceptions import SecurityError

__all__ = ["ConfinedLoader", "IncludeLoader", "include_loader"]


class IncludeLoader(Protocol):
    """What MJML calls to read an ``mj-include`` file: its path in, its text out."""

    def __call__(self, path: str) -> str:
        """The text of the file at ``path``."""
        ...


def _confined(root: Path, relative: str) -> Path | None:
    """``root / relative`` if it is a plain file inside ``root`` reached through no symlink."""
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if not parts or any(p in ("..", "") or ":" in p for p in parts) or relative.startswith("/"):
        return None
    candidate = root
    for part in parts:
        candidate = candidate / part
        if candidate.is_symlink():
            raise SecurityError(f"templates may not be symbolic links: {relative!r}")
    return candidate if candidate.is_file() else None


class ConfinedLoader(jinja2.BaseLoader):
    """Load templates from folders, refusing symlinks and anything outside the folders."""

    def __init__(self, folders: Sequence[Path]) -> None:
        """Search ``folders`` in order."""
        self.roots = [Path(folder).resolve() for folder in folders]

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        """Read ``template`` from the first folder that has it."""
        for root in self.roots:
            path = _confined(root, template)
            if path is None:
                continue
            mtime = path.stat().st_mtime
            source = path.read_text(encoding="utf-8")
            return source, str(path), lambda p=path, m=mtime: p.stat().st_mtime == m
        raise jinja2.TemplateNotFound(template)

    def list_templates(self) -> list[str]:
        """Every template file in the folders (symlinks left out)."""
        found = {
            path.relative_to(root).as_posix()
            for root in self.roots
            for path in root.rglob("*")
            if path.is_file() and not path.is_symlink()
        }
        return sorted(found)


def include_loader(folders: Sequence[Path]) -> IncludeLoader:
    """Load ``mj-include`` files from the template folders only (no ``..``, no symlinks)."""
    roots = [folder.resolve() for folder in folders]

    def load(path: str) -> str:
        try:
            for root in roots:
                candidate = _confined(root, path)
                if candidate is not None:
                    return candidate.read_text(encoding="utf-8")
        except SecurityError as error:
            raise ValueError(f"mj-include: {error}") from None
        if ":" in path or path.startswith("/") or ".." in path.replace("\\", "/").split("/"):
            raise ValueError(f"mj-include may only name a file in the template folder: {path!r}")
        raise ValueError(f"mj-include: no such file in the template folder: {path!r}")

    return load
