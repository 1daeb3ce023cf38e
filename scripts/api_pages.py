"""An mkdocs hook: the API reference (pdoc, from the docstrings) built into the site.

mkdocs.yml names it under ``hooks:``, so ``mkdocs build --strict`` alone builds the whole site,
API pages included, on a fresh clone: the pages are written to a temporary folder and handed
to mkdocs as files of the site (so links to ``api/digest.html`` are checked like any other).
pdoc documents the package and each public part; any warning it gives fails the build.
"""

from __future__ import annotations

import pkgutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

#: Where the pages go in the site.
API_DIR = "api"


def api_modules() -> list[str]:
    """``digest`` and each of its public modules and packages, as pdoc takes them."""
    import digest

    parts = [m.name for m in pkgutil.iter_modules(digest.__path__) if not m.name.startswith("_")]
    return ["digest", *(f"digest.{name}" for name in parts)]


def write_api(folder: Path) -> list[Path]:
    """Write the API reference into ``folder``; every warning is an error."""
    import pdoc

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pdoc.pdoc(*api_modules(), output_directory=folder)
    return sorted(path for path in folder.rglob("*") if path.is_file())


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    """Add the API pages to the site's files (mkdocs calls it before building the pages)."""
    folder = Path(tempfile.mkdtemp(prefix="digest-api-"))
    root = folder / API_DIR
    for path in write_api(root):
        files.append(
            File(
                path.relative_to(folder).as_posix(),
                src_dir=str(folder),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files
