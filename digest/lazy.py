"""Names a package imports from its modules when first used (PEP 562's module ``__getattr__``).

``import digest`` and the ``digest`` command stay quick: a build never imports the senders,
``digest --help`` never the reader store's import reader.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, modules: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name of ``modules`` from its module.

    ``modules`` maps a public name to its module, relative to the package (``"mail.message"``);
    a name is imported on first use and kept in ``namespace`` (the package's ``globals()``).
    """

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    return __getattr__
