"""The module paths of 0.2, kept for one release: importing one warns and gives its names.

0.3 put the flat modules into packages by part (``digest.config`` is now
``digest.schedule.config``, ``digest.senders`` is ``digest.delivery.senders``, ...). An import
of an old path still works: a finder on ``sys.meta_path`` makes a module whose names come from
their new homes, with a ``DeprecationWarning`` naming them.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

__all__ = ["MOVED", "install"]

#: Each old module and the new modules its names now live in (the first is its main home).
MOVED: dict[str, tuple[str, ...]] = {
    "config": (
        "schedule.config",
        "feeds.sources",
        "feeds.data",
        "delivery.settings",
        "files",
    ),
    "job": ("schedule.build",),
    "history": ("schedule.history",),
    "output": ("schedule.commit", "files"),
    "sources": ("feeds.sources",),
    "fetch": ("feeds.fetch",),
    "feedtext": ("feeds.cleaning",),
    "pictures": ("feeds.pictures",),
    "dates": ("feeds.dates",),
    "mime": ("mail.mime",),
    "message": ("mail.message",),
    "readers": ("mail.readers",),
    "personal": ("delivery.mailing", "mail.copies"),
    "senders": ("delivery.senders", "delivery.smtp"),
    "providers": (
        "delivery.providers",
        "delivery.ses",
        "delivery.postmark",
        "delivery.resend",
        "delivery.http",
    ),
    "ledger": ("delivery.ledger",),
    "deliver": ("delivery.loop",),
    "send": ("delivery.eml", "schedule.config"),
    "sandbox": ("render.sandbox",),
    "inline": ("render.inline",),
}


class _Moved(types.ModuleType):
    """An old module: each name is looked up in the new modules, in order."""

    def __init__(self, name: str, homes: Sequence[str]) -> None:
        super().__init__(name, f"Moved to {', '.join(homes)}.")
        self._homes = list(homes)

    def __getattr__(self, name: str) -> Any:
        for home in self._homes:
            module = importlib.import_module(home)
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted({n for home in self._homes for n in dir(importlib.import_module(home))})


class _Finder:  # a meta path finder and its loader (importlib.abc costs 10 ms to import)
    """Finds ``digest.OLD`` for the modules that moved."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        prefix, _, old = fullname.partition(".")
        if prefix != "digest" or old not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, cast("Loader", self))

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        old = spec.name.partition(".")[2]
        homes = [f"digest.{home}" for home in MOVED[old]]
        warnings.warn(
            f"{spec.name} has moved to {homes[0]} (its names: {', '.join(homes)}); "
            "the old path goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return _Moved(spec.name, homes)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the names are looked up when used."""


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.append(_Finder())
