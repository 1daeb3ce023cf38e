"""Past click-through as plain data: what ``weigh_by = "clicks"`` hands the selection.

Selection (``digest.select``, ``digest.sections``) never opens a store: the build reads the
figures (``digest.schedule.clicks``) and passes a ``ClickThrough``, and selection uses it
only to break ties, among stories the editor ranks equal (the plan, ``featured`` and
``priority`` always come first).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from digest.errors import InputError
from digest.sections import section_key

__all__ = ["ClickThrough"]


@dataclass(frozen=True)
class ClickThrough:
    """The click-through of each section's teasers across past editions (0 to 1)."""

    #: Section name -> readers who clicked its teasers over the readers they were delivered to.
    sections: Mapping[str, float] = field(default_factory=dict)
    #: How many past editions the figures were read from.
    editions: int = 0
    _keyed: Mapping[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check every rate (a number from 0 to 1) and keep them by ``section_key``."""
        keyed: dict[str, float] = {}
        for name, rate in self.sections.items():
            if not isinstance(name, str) or not name.strip():
                raise InputError(f"click_through.sections: {name!r} is no section name")
            if (
                isinstance(rate, bool)
                or not isinstance(rate, int | float)
                or not math.isfinite(rate)
                or not 0 <= rate <= 1
            ):
                raise InputError(
                    f"click_through.sections[{name[:60]!r}]: {rate!r} is no rate; give a "
                    "number from 0 to 1"
                )
            keyed.setdefault(section_key(name), float(rate))
        if isinstance(self.editions, bool) or not isinstance(self.editions, int):
            raise InputError(f"click_through.editions: {self.editions!r} is no count")
        if self.editions < 0:
            raise InputError(f"click_through.editions: {self.editions} is below 0")
        object.__setattr__(self, "_keyed", MappingProxyType(keyed))  # frozen: set once

    def rate(self, section: str) -> float | None:
        """The section's click-through (its name compared by ``section_key``), or None."""
        return self._keyed.get(section_key(section))

    def weight(self, section: str) -> float:
        """What a story of ``section`` weighs: its rate, or the mean of all when it has none.

        A section without figures (new, or never clicked into) weighs as an average one, so
        that it is neither pushed down nor ahead for lack of them.
        """
        found = self.rate(section)
        if found is not None:
            return found
        keyed = self._keyed
        return sum(keyed.values()) / len(keyed) if keyed else 0.0

    def __bool__(self) -> bool:
        """Whether there is any figure to weigh by."""
        return bool(self.sections)
