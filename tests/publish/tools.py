"""Buttondown, Brevo and Kit side by side for the tests: each one's publisher, settings and
stand-in, and an edition's content in its merge language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from digest.pipeline import Digest
from digest.publish.base import Content, Publisher
from digest.publish.brevo import Brevo
from digest.publish.buttondown import Buttondown
from digest.publish.kit import Kit
from digest.publish.merge import BREVO, BUTTONDOWN, KIT, MergeLanguage, merge_edition
from digest.settings import BrevoSettings, ButtondownSettings, KitSettings, ToolSettings
from tests.helpers import build_example
from tests.publish.standin_api import CampaignApi
from tests.publish.standins_brevo import BrevoApi
from tests.publish.standins_buttondown import ButtondownApi
from tests.publish.standins_kit import KitApi


@dataclass(frozen=True)
class Tool:
    """One list manager as the tests use it."""

    name: str
    publisher: type[Publisher]
    settings: Callable[..., ToolSettings]
    standin: type[CampaignApi]
    language: MergeLanguage
    key_variable: str
    #: The API's path under the stand-in's address.
    prefix: str
    #: The tool's states of a sent campaign and a scheduled one.
    sent: str = "sent"
    scheduled: str = "scheduled"
    #: The settings a test needs beyond the base URL (Brevo's sender and lists).
    needs: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        return self.name

    def environ(self, api: CampaignApi) -> dict[str, str]:
        """An environment holding the stand-in's key."""
        return {self.key_variable: api.key}

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags every edition's HTML and text hold in this tool's language."""
        language = self.language
        found = (language.unsubscribe_url, language.view_online, language.preferences_url)
        return tuple(tag for tag in found if tag)

    def make(self, api: CampaignApi, **settings: Any) -> Publisher:
        """The publisher for ``api``, with no wait between retries."""
        values = {
            "base_url": api.url + self.prefix,
            "retries": 2,
            "backoff": 0,
            **dict(self.needs),
            **settings,
        }
        return self.publisher(self.settings(**values), {self.key_variable: api.key})

    def table(self, api: CampaignApi) -> str:
        """The ``[publish.<tool>]`` table of a config for ``api``."""
        lines = [f"[publish.{self.name}]", f'base_url = "{api.url}{self.prefix}"']
        lines += ["retries = 1", "backoff = 0"]
        for key, value in self.needs:
            lines.append(f"{key} = {_toml(value)}")
        return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


TOOLS = {
    "buttondown": Tool(
        "buttondown",
        Buttondown,
        ButtondownSettings,
        ButtondownApi,
        BUTTONDOWN,
        "BUTTONDOWN_API_KEY",
        "/v1",
    ),
    "brevo": Tool(
        "brevo",
        Brevo,
        BrevoSettings,
        BrevoApi,
        BREVO,
        "BREVO_API_KEY",
        "/v3",
        scheduled="queued",
        needs=(("sender_email", "news@riverside.example"), ("list_ids", [7])),
    ),
    "kit": Tool("kit", Kit, KitSettings, KitApi, KIT, "KIT_API_KEY", "", sent="completed"),
}


@cache
def riverside() -> Digest:
    """The riverside example's edition, built once for these tests."""
    return build_example("riverside")


def content(tool: Tool, edition: Digest | None = None, marker: str = "riverside-48") -> Content:
    """An edition's content in ``tool``'s merge language, as publishing hands it over."""
    merged = merge_edition(edition or riverside(), tool.language)
    return Content(
        subject=merged.subject,
        preheader=merged.preheader,
        html=merged.html,
        text=merged.text,
        title=f"The Riverside Weekly No. 48 [{marker}]",
        marker=marker,
        from_name="The Riverside Weekly",
        reply_to="letters@riverside.example",
    )
