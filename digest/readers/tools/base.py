"""What the tools' modules share: the shape of a row read into our columns, and its checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from digest.errors import InputError

__all__ = ["BadValue", "Ours", "RowReader", "first", "put", "truth"]

#: Our columns as a tool's row gives them: ours -> (the file's column, its value).
Ours = dict[str, tuple[str, str]]
#: Reads one row (lower-case column names onto values) into our columns.
RowReader = Callable[[Mapping[str, str]], Ours]

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0", ""})


class BadValue(InputError):
    """A value of a tool's column that the tool itself would not write (a problem of its row)."""

    def __init__(self, column: str, value: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.value = value


def truth(row: Mapping[str, str], column: str) -> bool:
    """A true/false column of a tool's export (empty is false); ``BadValue`` for other text."""
    value = row.get(column, "")
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise BadValue(column, value, "not true or false")


def first(row: Mapping[str, str], *columns: str) -> tuple[str, str] | None:
    """The first of ``columns`` with a value in ``row``, as (column, value); None if none."""
    for column in columns:
        value = row.get(column, "").strip()
        if value:
            return column, value
    return None


def put(ours: Ours, key: str, found: tuple[str, str] | None) -> None:
    """Set ``ours[key]`` to ``found`` when a column held it."""
    if found is not None:
        ours[key] = found
