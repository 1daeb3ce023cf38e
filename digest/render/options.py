"""Render options: the template folder, asset and link bases, web or email, time limit."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["RenderOptions", "default_template_dir"]


def default_template_dir() -> Path:
    """Return the folder of the default templates (inside the installed package)."""
    packaged = Path(str(resources.files("digest"))) / "templates"
    if packaged.is_dir():
        return packaged
    # A source checkout (or an editable install) keeps them at the top of the repository.
    return Path(__file__).resolve().parents[2] / "templates"


@dataclass(frozen=True)
class RenderOptions:
    """How to render: where user templates live and where relative asset URLs point."""

    template_dir: Path | None = None
    asset_base_url: str | None = None
    text_width: int = 72
    #: Render the web (archive) version: no unsubscribe link, no "view in browser" link.
    web: bool = False
    #: The most seconds one edition's templates may take (None: no limit).
    time_limit: float | None = 10.0

    def __post_init__(self) -> None:
        """Accept any path-like ``template_dir``."""
        if self.template_dir is not None and not isinstance(self.template_dir, Path):
            object.__setattr__(self, "template_dir", Path(self.template_dir))
