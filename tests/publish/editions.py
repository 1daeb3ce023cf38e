"""A real edition to publish: the TangerangNews example copied, with a history and a tool."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from digest.schedule.config import BuildConfig, load_config

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "examples" / "tangerangnews"
#: The example's edition (its snapshots are of this date).
ON = date(2025, 9, 16)


def example_config(tmp_path: Path, tables: str, edit: str = "") -> Path:
    """The example copied into ``tmp_path`` with a history and ``tables`` (``[publish.…]``).

    ``edit`` replaces text of the example's ``edition.json`` (``old=>new``), for hostile titles.
    """
    folder = tmp_path / "tangerangnews"
    shutil.copytree(EXAMPLE, folder)
    config = folder / "newsletter.toml"
    text = config.read_text(encoding="utf-8").replace(
        "history = false", 'history = "history.sqlite3"'
    )
    config.write_text(text + "\n" + tables, encoding="utf-8")
    if edit:
        old, new = edit.split("=>")
        data = folder / "edition.json"
        source = data.read_text(encoding="utf-8")
        assert old in source
        data.write_text(source.replace(old, new, 1), encoding="utf-8")
    return config


def loaded(path: Path) -> BuildConfig:
    """The config at ``path``."""
    return load_config(path)
