"""The list managers digest can publish to, by the name ``--to`` and ``[publish.<tool>]`` use."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from digest.errors import ConfigError, UsageError
from digest.publish.base import Publisher
from digest.settings import PublishSettings, ToolSettings

__all__ = ["TOOLS", "desk_tool", "publisher_for", "tool_settings"]


#: Each tool's publisher, as ``module:class`` (imported only when used).
TOOLS: Mapping[str, str] = {
    "mailchimp": "digest.publish.mailchimp:Mailchimp",
    "listmonk": "digest.publish.listmonk:Listmonk",
    "buttondown": "digest.publish.buttondown:Buttondown",
    "brevo": "digest.publish.brevo:Brevo",
    "kit": "digest.publish.kit:Kit",
}


def tool_settings(settings: PublishSettings, tool: str) -> ToolSettings:
    """The ``[publish.<tool>]`` table of a config; a ``ConfigError`` when it has none."""
    if tool not in TOOLS:
        raise UsageError(f"--to {tool!r}: not a list manager digest knows ({', '.join(TOOLS)})")
    found = getattr(settings, tool, None)
    if not isinstance(found, ToolSettings):
        raise ConfigError(
            f"publish.{tool}: the config has no [publish.{tool}] table "
            "(see docs/publishing.md for what it holds)"
        )
    return found


def desk_tool(settings: PublishSettings) -> str | None:
    """The tool the desk publishes to: ``[publish] desk``, else the only one configured."""
    if settings.desk is not None:
        tool_settings(settings, settings.desk)
        return settings.desk
    configured = [tool for tool in TOOLS if getattr(settings, tool, None) is not None]
    return configured[0] if len(configured) == 1 else None


def publisher_for(
    settings: PublishSettings, tool: str, environ: Mapping[str, str] | None = None
) -> Publisher:
    """The publisher of ``tool`` with its ``[publish.<tool>]`` settings (keys read when used)."""
    table = tool_settings(settings, tool)
    module, _, name = TOOLS[tool].partition(":")
    kind = getattr(importlib.import_module(module), name)
    publisher: Publisher = kind(table, environ)
    return publisher
