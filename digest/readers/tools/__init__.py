"""The exports of the tools people leave, one module each, chosen by their header.

Each module names its tool, says whether a header is its export (``recognises``, on the
header's column names in lower case) and makes the reader of its rows for that header
(``reader``): a row (lower-case column names onto values) becomes our columns, each with the
file's column it came from, so a problem names that column. ``digest.readers.imports`` reads
the file, checks each value and keeps what is ours. To add a tool, add a module and a line
to ``TOOLS``; the first tool that recognises a header reads it (the generic CSV reads the rest).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from digest.readers.tools import buttondown, ghost, listmonk, mailchimp, substack
from digest.readers.tools.base import BadValue, Ours, RowReader

__all__ = ["TOOLS", "BadValue", "Ours", "RowReader", "Tool", "recognise"]


class Tool(NamedTuple):
    """One tool's export: its name, how its header is known, how its rows read."""

    name: str
    recognises: Callable[[frozenset[str]], bool]
    reader: Callable[[frozenset[str]], RowReader]


#: In the order they are tried: the most telling headers first.
TOOLS: tuple[Tool, ...] = (
    Tool(mailchimp.NAME, mailchimp.recognises, mailchimp.reader),
    Tool(listmonk.NAME, listmonk.recognises, listmonk.reader),
    Tool(ghost.NAME, ghost.recognises, ghost.reader),
    Tool(substack.NAME, substack.recognises, substack.reader),
    Tool(buttondown.NAME, buttondown.recognises, buttondown.reader),
)


def recognise(columns: frozenset[str]) -> Tool | None:
    """The tool whose export has this header (lower-case column names), or None."""
    return next((tool for tool in TOOLS if tool.recognises(columns)), None)
