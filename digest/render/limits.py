"""What a template render may spend: the bounds, the guard of one render, and the measures.

A render runs inside :func:`guarded`, which sets a :class:`Guard` (its deadline and its
markers) for this thread or task; the sandbox asks :func:`current_guard` on every loop turn,
macro call, filter and operator. Sizes are measured with what a value holds
(:func:`size_of`), estimated *before* an operation that could grow without bound
(:func:`estimate`, :func:`percent_size`, :func:`check_integer_growth`) and checked against
``MAX_STRING``, ``MAX_TEMPLATE_NUMBER`` and ``MAX_INTEGER_BITS``; every bound passed is a
Jinja2 ``SecurityError``. ``digest.render.sandbox`` holds them to every template.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2.exceptions import SecurityError

__all__ = [
    "MAX_INTEGER_BITS",
    "MAX_OUTPUT",
    "MAX_STRING",
    "MAX_TEMPLATE_NUMBER",
    "PERCENT_FIELD",
    "Guard",
    "check_integer_growth",
    "check_numbers",
    "check_result",
    "check_size",
    "consumable",
    "current_guard",
    "estimate",
    "guarded",
    "listed",
    "metered",
    "percent_size",
    "size_of",
]


#: The most characters one template may produce.
MAX_OUTPUT = 2_000_000


#: The longest string (or list) any single template operation may make.
MAX_STRING = 1_000_000


#: The largest number a template may pass as a size, count or width.
MAX_TEMPLATE_NUMBER = 100_000


#: The largest integer a template may make, in bits (about 3,000 decimal digits).
MAX_INTEGER_BITS = 10_000


# How deep into nested containers a size is measured; deeper counts as too large.
_DEPTH = 12


_GUARD: ContextVar[Guard | None] = ContextVar("digest_template_guard", default=None)


#: One ``%`` conversion of a format string, its width and precision as groups.
PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")


@dataclass
class Guard:
    """What one render may spend, and what it noted about its markers."""

    deadline: float | None = None
    markers: tuple[str, ...] = ()
    uses: list[str] = field(default_factory=list)

    def tick(self) -> None:
        """Raise once the render has run past its deadline."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SecurityError("the template ran past its time limit")

    def note(self, what: str, values: Iterable[Any]) -> None:
        """Note ``what`` was done to a value holding a marker, if any of ``values`` does."""
        if self.markers and any(_holds_marker(value, self.markers) for value in values):
            self.uses.append(what)


def _holds_marker(value: Any, markers: Sequence[str], depth: int = 2) -> bool:
    if isinstance(value, str):
        return any(marker in value for marker in markers)
    if depth and isinstance(value, Mapping):
        return any(_holds_marker(k, markers, depth - 1) for k in value) or any(
            _holds_marker(v, markers, depth - 1) for v in value.values()
        )
    if depth and isinstance(value, list | tuple | set | frozenset):
        return any(_holds_marker(v, markers, depth - 1) for v in value)
    return False


@contextmanager
def guarded(time_limit: float | None, markers: Sequence[str] = ()) -> Iterator[Guard]:
    """Bound the renders made inside the ``with`` block (in this thread or task)."""
    guard = Guard(
        deadline=None if time_limit is None else time.monotonic() + time_limit,
        markers=tuple(markers),
    )
    token = _GUARD.set(guard)
    try:
        yield guard
    finally:
        _GUARD.reset(token)


def current_guard() -> Guard | None:
    """The guard of the render under way, its deadline checked; None outside ``guarded``."""
    guard = _GUARD.get()
    if guard is not None:
        guard.tick()
    return guard


def size_of(value: Any) -> int:
    """Characters in ``value``: a string's, or a container's with everything it holds."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple | set | frozenset | Mapping):
        return _held(value, MAX_STRING + 1, _DEPTH)
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() // 3 + 1  # about its decimal digits
    return len(str(value))


def _held(value: Any, budget: int, depth: int) -> int:
    """``value``'s size, counting stops once it passes ``budget`` (then anything above it)."""
    if isinstance(value, str | bytes):
        return len(value)
    if not isinstance(value, list | tuple | set | frozenset | Mapping):
        return 1
    if depth == 0:
        return budget + 1
    total = len(value)
    items = value.items() if isinstance(value, Mapping) else value
    for item in items:
        total += _held(item, budget - total, depth - 1)
        if total > budget:
            break
    return total


def check_size(size: int, what: str) -> None:
    """Refuse ``what`` if it would make more than ``MAX_STRING`` characters."""
    if size > MAX_STRING:
        raise SecurityError(f"{what} would make {size:,} characters (at most {MAX_STRING:,})")


def check_result(result: Any, what: str) -> Any:
    """``result`` of ``what``, once measured within ``MAX_STRING`` and ``MAX_INTEGER_BITS``."""
    if isinstance(result, str | bytes | list | tuple | set | frozenset | Mapping):
        check_size(size_of(result), what)
    elif isinstance(result, int) and result.bit_length() > MAX_INTEGER_BITS:
        raise SecurityError(f"{what} would make an integer of {result.bit_length():,} bits")
    return result


def metered(items: Iterable[Any], what: str) -> Iterator[Any]:
    """``items`` as they come, stopped once what they hold passes ``MAX_STRING``."""
    total = 0
    for item in items:
        total += _held(item, MAX_STRING + 1, _DEPTH) + 1
        check_size(total, what)
        yield item


def check_numbers(values: Iterable[Any], what: str) -> None:
    """Refuse any of ``values`` above ``MAX_TEMPLATE_NUMBER`` used as a size by ``what``."""
    for value in values:
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and abs(value) > MAX_TEMPLATE_NUMBER
        ):
            raise SecurityError(f"the number {value} is too large for {what}")


def percent_size(template: str, args: Any) -> int:
    """An upper bound of the length of ``template % args``."""
    values = list(args.values()) if isinstance(args, Mapping) else args
    values = values if isinstance(values, list | tuple) else [values]
    longest = max((size_of(v) for v in values), default=0)
    size = len(template)
    for match in PERCENT_FIELD.finditer(template):
        size += longest + sum(int(n) for n in match.groups() if n and n != "*")
        size += MAX_TEMPLATE_NUMBER * sum(1 for n in match.groups() if n == "*")
    return size


def listed(value: Any) -> Any:
    """An iterable to be joined, as a list (so its size can be known before joining)."""
    if value is None or isinstance(value, list | tuple | str):
        return value
    return list(metered(value, "join"))


def consumable(value: Any) -> bool:
    """Whether ``value`` is an iterator a filter would drain (not a container or a string)."""
    return isinstance(value, Iterator) and not isinstance(value, str | bytes)


def estimate(name: str, target: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    """An upper bound of the size of ``name`` applied to ``target`` (0 when not estimated)."""
    if name == "format":  # the format filter: ``target % args``
        return percent_size(str(target), list(args) or dict(kwargs))
    if not isinstance(target, str):
        if name == "join" and isinstance(target, list | tuple):
            return sum(size_of(v) for v in target) + len(target) * size_of(args[0] if args else "")
        return 0
    length = len(target)

    def arg(index: int, key: str, default: Any) -> Any:
        return args[index] if len(args) > index else kwargs.get(key, default)

    if name == "replace":
        old, new = arg(0, "old", ""), arg(1, "new", "")
        count = target.count(old) if old else length + 1
        limit = arg(2, "count", -1)
        if isinstance(limit, int) and limit >= 0:
            count = min(count, limit)
        return length + count * max(0, size_of(new) - (size_of(old) if old else 0))
    if name == "expandtabs":
        return length + target.count("\t") * int(arg(0, "tabsize", 8))
    if name in ("zfill", "center", "ljust", "rjust"):
        width = arg(0, "width", 80)
        return max(length, width if isinstance(width, int) else 0)
    if name == "indent":
        width = arg(0, "width", 4)
        unit = len(width) if isinstance(width, str) else int(width)
        return length + (target.count("\n") + 1) * unit
    if name == "wordwrap":
        width = max(1, int(arg(0, "width", 79)))
        wrap = arg(2, "wrapstring", None) or "\n"
        return length + (length // width + target.count("\n") + 1) * len(wrap)
    if name == "wrap":  # digest.text.wrap: a newline and an indent at most every character
        indent = arg(1, "indent", "")
        return length + (length + 1) * (1 + size_of(indent))
    if name == "join":
        items = arg(0, "iterable", ())
        if isinstance(items, list | tuple):
            return sum(size_of(v) for v in items) + len(items) * length
    if name == "translate":
        table = arg(0, "table", {})
        if isinstance(table, Mapping):
            return length * max((size_of(v) for v in table.values() if v is not None), default=1)
    return 0


def check_integer_growth(operator: str, left: Any, right: Any) -> None:
    """Refuse ``*`` and ``**`` of integers whose result would pass ``MAX_INTEGER_BITS``.

    Estimated before: multiplying two integers of a million bits each takes long enough to
    stall a render inside one operation, where the time limit cannot look.
    """
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right)):
        return
    if operator == "*":
        bits = left.bit_length() + right.bit_length()
    elif operator == "**" and right > 0:
        bits = left.bit_length() * right
    else:
        return
    if bits > MAX_INTEGER_BITS:
        raise SecurityError(f"{operator} would make an integer of about {bits:,} bits")
