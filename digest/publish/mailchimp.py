"""Mailchimp (Marketing API 3.0): a regular campaign for an audience or a segment.

A campaign is created (``POST /campaigns``), given its content (``PUT
/campaigns/{id}/content``), tested (``POST /campaigns/{id}/actions/test``) and scheduled
(``POST /campaigns/{id}/actions/schedule``); ``GET /campaigns/{id}`` tells its state and
``GET /campaigns`` finds one by its title after a lost answer. The key is read from
``MAILCHIMP_API_KEY``; its suffix (``-us6``) names the data centre the API lives in.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from digest.errors import ConfigError
from digest.publish.base import Campaign, CampaignStatus, Content, NotFound, Publisher
from digest.publish.merge import MAILCHIMP, MergeLanguage
from digest.settings import MailchimpSettings

__all__ = ["Mailchimp"]


_STATES: dict[str, CampaignStatus] = {
    "save": "draft",
    "paused": "draft",
    "schedule": "scheduled",
    "sending": "sending",
    "sent": "sent",
}


class Mailchimp(Publisher):
    """Mailchimp's Marketing API: campaigns for one audience (``[publish.mailchimp]``)."""

    name = "Mailchimp"
    tool = "mailchimp"
    key_variables = ("MAILCHIMP_API_KEY",)
    settings: MailchimpSettings

    #: Mailchimp schedules only on the quarter-hour.
    quarter: ClassVar[timedelta] = timedelta(minutes=15)

    @property
    def language(self) -> MergeLanguage:
        """Mailchimp's merge tags (``*|UNSUB|*``, ``*|FNAME|*``...)."""
        return MAILCHIMP

    @property
    def datacentre(self) -> str:
        """The data centre the key belongs to (``us6`` of ``…-us6``)."""
        key = self.keys["MAILCHIMP_API_KEY"]
        centre = key.rpartition("-")[2]
        if not key.count("-") or not centre.isalnum() or not 2 <= len(centre) <= 10:
            raise ConfigError(
                "MAILCHIMP_API_KEY: does not end in its data centre (such as -us6); "
                "copy the whole key from Account → Extras → API keys (the value is not shown)"
            )
        return centre

    def base_url(self) -> str:
        """``https://<dc>.api.mailchimp.com/3.0``, the data centre read off the key."""
        return f"https://{self.datacentre}.api.mailchimp.com/3.0"

    def auth_headers(self) -> dict[str, str]:
        """HTTP basic authentication with any user name and the key as the password."""
        pair = f"digest:{self.keys['MAILCHIMP_API_KEY']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    def error_text(self, answer: Any) -> str:
        """Mailchimp's problem document: its title, detail and each field's error."""
        data = answer.json()
        if not isinstance(data, dict):
            return super().error_text(answer)
        parts = [str(data.get(key)) for key in ("title", "detail") if data.get(key)]
        for error in data.get("errors") or []:
            if isinstance(error, dict):
                parts.append(f"{error.get('field', '')}: {error.get('message', '')}")
        return "; ".join(parts) or super().error_text(answer)

    def _campaign(self, data: Any) -> Campaign:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise self.fail("an answer without a campaign id")
        web_id = data.get("web_id")
        url = (
            f"https://{self.datacentre}.admin.mailchimp.com/campaigns/edit?id={web_id}"
            if isinstance(web_id, int)
            else None
        )
        return Campaign(data["id"], _STATES.get(str(data.get("status")), "other"), url)

    def _settings(self, content: Content) -> dict[str, Any]:
        return {
            "subject_line": content.subject,
            "preview_text": content.preheader,
            "title": content.title,
            "from_name": content.from_name,
            "reply_to": content.reply_to,
        }

    def create(self, content: Content) -> Campaign:
        """A regular campaign for the audience (or its segment), then its HTML and text."""
        recipients: dict[str, Any] = {"list_id": self.settings.list_id}
        if self.settings.segment_id is not None:
            recipients["segment_opts"] = {"saved_segment_id": self.settings.segment_id}
        body = {"type": "regular", "recipients": recipients, "settings": self._settings(content)}
        campaign = self._campaign(self.request("POST", "/campaigns", body))
        self._put_content(campaign, content)
        return campaign

    def _put_content(self, campaign: Campaign, content: Content) -> None:
        body = {"html": content.html, "plain_text": content.text}
        self.request("PUT", f"/campaigns/{campaign.id}/content", body)

    def update(self, campaign: Campaign, content: Content) -> Campaign:
        """The draft's subject, sender and title, then its HTML and text, replaced."""
        body = {"settings": self._settings(content)}
        data = self.request("PATCH", f"/campaigns/{campaign.id}", body, repeatable=True)
        self._put_content(campaign, content)
        return self._campaign(data)

    def status(self, campaign_id: str) -> Campaign | None:
        """The campaign's state (save, schedule, sending, sent); None once deleted (404)."""
        try:
            return self._campaign(self.request("GET", f"/campaigns/{campaign_id}"))
        except NotFound:
            return None

    def find(self, marker: str) -> Campaign | None:
        """The newest campaign of the audience whose title is ``marker``."""
        query: dict[str, str | int] = {
            "list_id": self.settings.list_id,
            "count": 1000,
            "sort_field": "create_time",
            "sort_dir": "DESC",
        }
        data = self.request("GET", "/campaigns", query=query)
        for item in (data or {}).get("campaigns") or []:
            if isinstance(item, dict) and (item.get("settings") or {}).get("title") == marker:
                return self._campaign(item)
        return None

    def test_send(self, campaign: Campaign, addresses: list[str]) -> None:
        """A test of the HTML version to ``addresses``."""
        body = {"test_emails": addresses, "send_type": "html"}
        self.request("POST", f"/campaigns/{campaign.id}/actions/test", body)

    def schedule(self, campaign: Campaign, at: datetime) -> Campaign:
        """Scheduled at ``at``, moved on to the next quarter-hour (Mailchimp's rule)."""
        at = at.astimezone(UTC)
        if at.minute % 15 or at.second or at.microsecond:
            at = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
            at += self.quarter
        body = {"schedule_time": at.isoformat().replace("+00:00", "Z")}
        self.request("POST", f"/campaigns/{campaign.id}/actions/schedule", body)
        return Campaign(campaign.id, "scheduled", campaign.url)
