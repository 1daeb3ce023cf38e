"""Mailchimp and listmonk as the tests drive them: the stand-in, the config table, the keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.publish.standin_api import CampaignApi
from tests.publish.standins_listmonk import ListmonkApi
from tests.publish.standins_mailchimp import MailchimpApi


@dataclass(frozen=True)
class Tool:
    """One list manager under test."""

    name: str
    standin: Callable[[], CampaignApi]
    #: The ``[publish.<tool>]`` table for a stand-in at ``url``.
    table: Callable[[str], str]
    #: The environment that holds the stand-in's key.
    environ: Callable[[CampaignApi], dict[str, str]]
    #: Tags the HTML and the text must hold.
    tags: tuple[str, ...]
    #: The tool's states of a sent campaign and a scheduled one.
    sent: str
    scheduled: str

    def __str__(self) -> str:
        return self.name


MAILCHIMP = Tool(
    "mailchimp",
    MailchimpApi,
    lambda url: (
        "[publish.mailchimp]\n"
        f'base_url = "{url}/3.0"\n'
        'list_id = "a1b2c3d4e5"\n'
        'reply_to = "redaksi@tangerangnews.example"\n'
        "backoff = 0\n"
    ),
    lambda api: {"MAILCHIMP_API_KEY": api.key},
    ("*|UNSUB|*", "*|LIST:ADDRESSLINE|*", "*|ARCHIVE|*", "*|UPDATE_PROFILE|*"),
    sent="sent",
    scheduled="schedule",
)

LISTMONK = Tool(
    "listmonk",
    ListmonkApi,
    lambda url: (
        f'[publish.listmonk]\nbase_url = "{url}"\nlists = [1, 2]\n'
        'from_email = "redaksi@tangerangnews.example"\nbackoff = 0\n'
    ),
    lambda api: {"LISTMONK_USER": "digest", "LISTMONK_TOKEN": api.key},
    ("{{ UnsubscribeURL }}", "{{ MessageURL }}", "{{ ManageURL }}"),
    sent="finished",
    scheduled="scheduled",
)

TOOLS = [MAILCHIMP, LISTMONK]
